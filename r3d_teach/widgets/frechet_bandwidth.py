"""Update functions behind the sliders of chapters 3 (Fréchet regression) and 4 (bandwidths).

Pure functions: they take slider values and return plain data (or draw on a given Axes); they
never import ipywidgets, so ``tests/test_widgets_frechet_bandwidth.py`` tests them headlessly.
The data come from the simulation designs :class:`r3d_teach.simulate.CrossingDesign`
(chapter 3: skewed unit laws whose boundary curves can cross) and
:class:`r3d_teach.simulate.CurvatureDesign` (chapter 4: a curvature jump of ``kappa``; true
effect 1 at every q).

For the chapter-4 design the conditional variance of a unit quantile is ``sigma_u^2 + v_m(q)``
with ``v_m(q)`` the variance of the type-7 q-quantile of ``m`` standard normal draws
(:func:`quantile_noise_var`). With s = 1 and the density f = 1/2 of X ~ U(-1, 1) at the cutoff,
the infeasible MSE-optimal bandwidth is (:func:`h_star`)

    h* = [ (V_+ + V_-) / (2 (s+1) (B_+ - B_-)^2) ]^{1/5} n^{-1/5},
    B_+ - B_- = c_B kappa,   V_± = sigma^2 c_V / f.

>>> d = boundary_curves(n_units=100, n_draws=100, h=0.4, seed=0)
>>> d["raw"].shape, d["n_decreasing"] > 0     # few units: the raw boundary curve decreases
((99,), True)
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..core.estimator import r3d, select_bandwidth
from ..core.frechet import rearrange
from ..core.kernels import bias_variance_constants
from ..simulate import CrossingDesign, CurvatureDesign

__all__ = [
    "GRID3",
    "GRID4",
    "boundary_curves",
    "draw_boundary_curves",
    "quantile_noise_var",
    "h_star",
    "bandwidth_vs_optimal",
    "draw_bandwidth_panel",
]

GRID3 = np.arange(1, 100) / 100
GRID4 = np.round(np.arange(1, 20) / 20, 10)
#: density of X ~ U(-1, 1) at the cutoff
DENSITY_AT_CUTOFF = 0.5
#: Monte Carlo size and seed of :func:`quantile_noise_var`
NOISE_REPS, NOISE_SEED = 20_000, 12345
#: bandwidth range of the MSE panel
H_RANGE = (0.05, 1.0)


# ----------------------------------------------------------------------------------- chapter 3
def boundary_curves(n_units: int = 100, n_draws: int = 100, h: float = 0.4, seed: int = 0,
                    side: str = "+", noise: float = 0.5) -> dict:
    """Raw, projected (Fréchet) and rearranged boundary curves on one side at bandwidth ``h``,
    on one sample of ``CrossingDesign(noise)`` (``n_units`` units, ``n_draws`` draws each).

    Returns a dict with ``q``, ``raw`` (the pointwise local quadratic intercepts), ``projected``
    (``r3d(method="frechet")``'s curve), ``rearranged`` (sorted raw curve, as
    ``r3d(method="simple")``), ``truth`` and the L2 distances of each curve to the raw one and
    to the truth (``dist_raw``, ``dist_truth``: dicts keyed by curve name).
    """
    design = CrossingDesign(noise=noise)
    sim = design.sample(n_units, n_draws, seed)
    res = r3d(sim.x, sim.y, quantiles=GRID3, h=h, method="frechet", n_boot=0)
    raw = res.plus_raw if side == "+" else res.minus_raw
    proj = res.plus if side == "+" else res.minus
    rear = rearrange(raw, GRID3)
    truth = design.mean_quantile(GRID3, [0.0], treated=(side == "+"))[0]
    curves = {"raw": raw, "projected": proj, "rearranged": rear}
    l2 = lambda a, b: float(np.sqrt(np.mean((a - b) ** 2)))  # noqa: E731  (equal grid weights)
    return {
        "q": GRID3, "truth": truth, **curves,
        "dist_raw": {k: l2(v, raw) for k, v in curves.items()},
        "dist_truth": {k: l2(v, truth) for k, v in curves.items()},
        "n_decreasing": int((np.diff(raw) < 0).sum()),
    }


def draw_boundary_curves(ax, n_units: int = 100, n_draws: int = 100, h: float = 0.4,
                         seed: int = 0, side: str = "+", noise: float = 0.5):
    """Draw :func:`boundary_curves` on ``ax``; returns the dict."""
    d = boundary_curves(n_units, n_draws, h, seed, side, noise)
    q = d["q"]
    ax.plot(q, d["truth"], color="k", lw=1, ls="--", label="truth")
    ax.plot(q, d["raw"], color="0.55", lw=2.2, label="pointwise fit (raw)")
    ax.plot(q, d["rearranged"], color="C1", lw=1.4, label="rearranged (sorted)")
    ax.plot(q, d["projected"], color="C0", lw=1.4, label="projected (Fréchet)")
    ax.set_xlabel("quantile level $q$")
    ax.set_ylabel("boundary quantile function")
    ax.set_title(f"{n_units} units × {n_draws} draws: {d['n_decreasing']} decreasing steps", fontsize=10)
    return d


# ----------------------------------------------------------------------------------- chapter 4
@lru_cache(maxsize=32)
def _noise_var(n_draws: int, q: tuple) -> np.ndarray:
    rng = np.random.default_rng(NOISE_SEED)
    draws = rng.standard_normal((NOISE_REPS, n_draws))
    return np.quantile(draws, np.asarray(q), axis=1).var(axis=1)


def quantile_noise_var(n_draws: int, quantiles) -> np.ndarray:
    """Variance of the type-7 empirical q-quantile of ``n_draws`` N(0, 1) draws (Monte Carlo
    with ``NOISE_REPS`` samples, seeded, cached)."""
    return _noise_var(int(n_draws), tuple(np.round(np.asarray(quantiles, dtype=float), 12)))


def h_star(n: int, kappa: float, sigma2, f: float = DENSITY_AT_CUTOFF, s: int = 1, kernel: str = "triangular"):
    """Infeasible MSE-optimal bandwidth of the order-s fit (s = 1) for a curvature jump kappa.

    h* = [(V_+ + V_-) / (2(s+1)(B_+ - B_-)^2)]^{1/(2s+3)} n^{-1/(2s+3)} with
    B_± = c_B± beta_±, beta_+ - beta_- = kappa (the x^2 coefficients), V_± = sigma2 c_V± / f.
    ``sigma2`` may be an array (one value per quantile): the result is then one h per quantile.
    """
    if s != 1:
        raise ValueError("s: the design's curvature is quadratic; h_star is for s = 1")
    cbp, cvp = bias_variance_constants(kernel, s, "+")
    cbm, cvm = bias_variance_constants(kernel, s, "-")
    bias_gap = cbp * kappa  # B_+ - B_- with beta_+ = kappa, beta_- = 0
    var = np.asarray(sigma2, dtype=float) * (cvp + cvm) / f
    with np.errstate(divide="ignore"):
        return (var / (2 * (s + 1) * bias_gap**2)) ** (1 / (2 * s + 3)) * n ** (-1 / (2 * s + 3))


def bandwidth_vs_optimal(n_units: int = 300, kappa: float = 8.0, seeds=(0, 1, 2, 3, 4),
                         n_draws: int = 50, sigma_u: float = 0.5) -> dict:
    """Fréchet (IMSE) bandwidths selected by ``select_bandwidth`` on a few samples of
    ``CurvatureDesign(kappa, sigma_u)``, and the infeasible IMSE-optimal h* of the design.

    Returns ``h_selected`` (one per seed), ``h_star`` (inf when kappa = 0), ``sigma2`` (the
    design's conditional variance per quantile, averaged over the grid) and ``q``.
    """
    design = CurvatureDesign(kappa=kappa, sigma_u=sigma_u)
    hs = []
    for seed in seeds:
        sim = design.sample(n_units, n_draws, seed)
        hs.append(select_bandwidth(sim.x, sim.y, method="frechet", quantiles=GRID4).h)
    s2 = sigma_u**2 + quantile_noise_var(n_draws, GRID4)
    s2_bar = float(np.trapezoid(s2, GRID4) / (GRID4[-1] - GRID4[0]))  # IMSE: integrate V
    return {"q": GRID4, "h_selected": np.array(hs), "h_star": float(h_star(n_units, kappa, s2_bar)),
            "sigma2": s2_bar}


def draw_bandwidth_panel(ax, n_units: int = 300, kappa: float = 8.0, seeds=(0, 1, 2, 3, 4),
                         n_draws: int = 50, sigma_u: float = 0.5) -> dict:
    """Plot the design's asymptotic MSE(h) = h^4 (B_+ - B_-)^2 + (V_+ + V_-)/(n h), with h* and
    the selected bandwidths marked; returns :func:`bandwidth_vs_optimal`'s dict."""
    d = bandwidth_vs_optimal(n_units, kappa, seeds, n_draws, sigma_u)
    cb, cv = bias_variance_constants("triangular", 1, "+")
    hh = np.linspace(*H_RANGE, 200)
    mse = hh**4 * (cb * kappa) ** 2 + 2 * d["sigma2"] * cv / DENSITY_AT_CUTOFF / (n_units * hh)
    ax.plot(hh, mse, color="k", lw=1.5, label="asymptotic MSE")
    if np.isfinite(d["h_star"]) and d["h_star"] <= H_RANGE[1]:
        ax.axvline(d["h_star"], color="C3", lw=2, label=f"infeasible h* = {d['h_star']:.2f}")
    for j, h in enumerate(d["h_selected"]):
        ax.axvline(h, color="C0", lw=1, alpha=0.7, label="selected h (5 samples)" if j == 0 else None)
    ax.set_ylim(0, 3 * mse.min() + 1e-12)
    ax.set_xlabel("bandwidth $h$")
    ax.set_ylabel("MSE of $\\hat\\tau(q)$")
    ax.set_title(f"n = {n_units}, curvature jump κ = {kappa:g}")
    return d
