"""Update functions behind the sliders of chapters 5 (bands and tests) and 6 (fuzzy designs).

Pure functions: they take slider values and return plain data (or draw on given Axes); they never
import ipywidgets, so ``tests/test_widgets_inference_fuzzy.py`` tests them headlessly.

Chapter 5 design (:func:`band_design`): ``X ~ U(-1, 1)``, treated iff ``X >= 0``; unit i has a
location ``mu_i = 10 + X_i + u_i``, ``u_i ~ N(0, 0.3^2)``, and a spread ``s_i = |S_i|``,
``S_i ~ N(1, 0.3^2)``; its draws are ``Y_ij = r^T_i [mu_i + shift T_i + (1 + scale T_i) s_i e_ij]``
with ``e_ij ~ N(0, 1)`` (``r = ratio``: a proportional effect).  The true effect at the cutoff
(:func:`band_truth`) is

    tau(q) = 10 (r - 1) + r shift + (r (1 + scale) - 1) E|S| Phi^{-1}(q).

Chapter 6 design (:func:`fuzzy_design_data`): a share ``always`` of units are always-takers, a
share ``strength`` compliers and the rest never-takers, independently of X; T_i = 1 for
always-takers, and for compliers right of the cutoff, so ``P(T = 1 | X) = always + strength 1{X >= 0}``.
Untreated draws are ``N(mu_i, 1)`` with ``mu_i = 1 + X_i + 0.25 eta_i + 0.5 A_i`` (always-takers
sit higher); treatment adds 3 to an always-taker and, for a complier, adds 2 and multiplies the
spread by 1.5.  The complier effect (the fuzzy estimand) is ``tau_F(q) = 2 + 0.5 Phi^{-1}(q)``.

Example
-------
>>> import numpy as np
>>> from r3d_teach.widgets.inference_fuzzy import band_demo, band_design
>>> x, y = band_design(n_units=300, n_obs=50, seed=1)
>>> out = band_demo(x, y, alpha=0.1, n_boot=99, quantiles=np.arange(1, 10) / 10)
>>> bool(np.allclose(out["upper"] - out["tau"], out["crit"]))
True
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from ..estimator import r3d
from ..simulate import folded_normal_mean as _folded_normal_mean

__all__ = [
    "folded_normal_mean",
    "band_design",
    "band_truth",
    "band_demo",
    "draw_band_demo",
    "fuzzy_design_data",
    "fuzzy_truth",
    "fuzzy_demo",
    "draw_fuzzy_demo",
]

DECILES = np.round(np.arange(1, 10) / 10, 10)
GRID20 = np.round(np.arange(1, 20) / 20, 10)


# ----------------------------------------------------------------------------------- chapter 5
def folded_normal_mean(a: float, b: float) -> float:
    """E|S| for S ~ N(a, b^2) (:func:`r3d_teach.simulate.folded_normal_mean`, as a float)."""
    return float(_folded_normal_mean(a, b))


def band_design(n_units: int = 500, n_obs: int = 200, seed=0, shift: float = 1.0, scale: float = 0.5,
                ratio: float = 1.0):
    """Simulate the chapter-5 design; returns (x, y) with y a list of n_units arrays of n_obs draws.

    ``seed``: an int or a ``numpy.random.Generator`` (drawn from in the order x, u, S, e).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    x = rng.uniform(-1, 1, int(n_units))
    t = x >= 0
    mu = 10 + x + rng.normal(0, 0.3, x.size)
    s = np.abs(rng.normal(1, 0.3, x.size))
    e = rng.standard_normal((x.size, int(n_obs)))
    Y = (mu + shift * t)[:, None] + (s * (1 + scale * t))[:, None] * e
    Y = Y * np.where(t, ratio, 1.0)[:, None]
    return x, list(Y)


def band_truth(q, shift: float = 1.0, scale: float = 0.5, ratio: float = 1.0) -> np.ndarray:
    """True LAQTE of :func:`band_design` at levels ``q``."""
    z = stats.norm.ppf(np.asarray(q, dtype=float))
    return 10 * (ratio - 1) + ratio * shift + (ratio * (1 + scale) - 1) * folded_normal_mean(1, 0.3) * z


def band_demo(x, y, alpha: float = 0.05, n_boot: int = 199, seed: int = 0, quantiles=None, h=None) -> dict:
    """Run ``r3d`` with ``n_boot`` draws at level ``alpha`` and return what the slider shows.

    Returns a dict: ``q``, ``tau``, ``lower`` / ``upper`` (uniform band), ``pw_lower`` /
    ``pw_upper`` (pointwise band), ``crit`` (critical value c), ``sup`` (the B sup statistics),
    ``h``, ``alpha``, ``n_boot``.
    """
    res = r3d(x, y, quantiles=quantiles, h=h, n_boot=int(n_boot), alpha=float(alpha), seed=seed, tests=())
    return dict(q=res.quantiles, tau=res.tau, lower=res.band_lower, upper=res.band_upper,
                pw_lower=res.pointwise_lower, pw_upper=res.pointwise_upper, crit=float(res.crit_value),
                sup=res.diagnostics.bootstrap.sup_stats, h=float(np.max(res.h)), alpha=float(alpha), n_boot=int(n_boot))


def draw_band_demo(out: dict, ax_sup, ax_band, truth=None, sup_max: float | None = None):
    """Left: histogram of the sup statistics with the critical value; right: the two bands."""
    sup = out["sup"]
    top = sup_max if sup_max is not None else float(sup.max()) * 1.05
    ax_sup.hist(sup, bins=np.linspace(0, top, 31), color="0.7", edgecolor="white")
    ax_sup.axvline(out["crit"], color="C3", lw=2, label=f"c = {out['crit']:.3f}")
    ax_sup.set(xlabel=r"sup statistic $S_b=\max_q |G_b(q)|$", ylabel="draws",
               title=f"B = {out['n_boot']} draws, α = {out['alpha']:g}")
    ax_sup.legend(frameon=False, fontsize=8)
    q = out["q"]
    ax_band.fill_between(q, out["lower"], out["upper"], color="C0", alpha=0.2, label="uniform band")
    ax_band.plot(q, out["pw_lower"], "C0--", lw=1, label="pointwise band")
    ax_band.plot(q, out["pw_upper"], "C0--", lw=1)
    ax_band.plot(q, out["tau"], "C0", lw=2, label=r"$\hat\tau(q)$")
    if truth is not None:
        ax_band.plot(q, truth, "k", lw=1.2, label="truth")
    ax_band.axhline(0, color="0.6", lw=0.8, ls=":")
    ax_band.set(xlabel="quantile level q", ylabel="effect", title=f"{100 * (1 - out['alpha']):g}% bands")
    ax_band.legend(frameon=False, fontsize=8)
    return ax_sup, ax_band


# ----------------------------------------------------------------------------------- chapter 6
def fuzzy_design_data(n_units: int = 2000, n_obs: int = 50, strength: float = 0.6, seed=0,
                      always: float = 0.2):
    """Simulate the chapter-6 fuzzy design; returns (x, t, y, complier).

    The same ``seed`` gives the same x, unit types' uniform draws and noise for every
    ``strength``, so moving the slider changes only who complies.
    """
    if always < 0 or strength < 0 or always + strength > 1:
        raise ValueError("strength: need always + strength <= 1 and both non-negative")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    x = rng.uniform(-1, 1, int(n_units))
    u = rng.uniform(size=x.size)
    at = u < always                                   # always-takers
    co = (u >= always) & (u < always + strength)      # compliers
    t = (at | (co & (x >= 0))).astype(float)
    mu = 1 + x + 0.25 * rng.standard_normal(x.size) + 0.5 * at
    e = rng.standard_normal((x.size, int(n_obs)))
    Y = (mu + 3 * t * at + 2 * t * co)[:, None] + (1 + 0.5 * t * co)[:, None] * e
    return x, t, list(Y), co


def fuzzy_truth(q) -> np.ndarray:
    """The complier effect of :func:`fuzzy_design_data`: 2 + 0.5 Phi^{-1}(q)."""
    return 2 + 0.5 * stats.norm.ppf(np.asarray(q, dtype=float))


def fuzzy_demo(strength: float, seed: int = 0, n_units: int = 1000, n_obs: int = 50, n_boot: int = 199,
               quantiles=GRID20, boot_seed: int = 1) -> dict:
    """Simulate the fuzzy design at first-stage ``strength``, run ``r3d(treatment=...)``.

    Returns a dict: ``q``, ``tau``, ``lower`` / ``upper`` (uniform band), ``crit``, ``jump``
    (estimated first stage), ``strength``, ``truth`` and ``warning`` (r3d's weak-first-stage
    message, or None).  A first stage estimated at essentially zero (r3d raises) gives NaN curves
    and the error message in ``warning``.
    """
    x, t, y, _ = fuzzy_design_data(n_units, n_obs, strength, seed)
    q = np.asarray(quantiles, dtype=float)
    out = dict(q=q, strength=float(strength), truth=fuzzy_truth(q), warning=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = r3d(x, y, treatment=t, quantiles=q, n_boot=int(n_boot), seed=boot_seed, tests=())
        except ValueError as err:
            nan = np.full(q.size, np.nan)
            out.update(tau=nan, lower=nan, upper=nan, crit=np.nan, jump=np.nan, warning=str(err))
            return out
    weak = [str(w.message) for w in caught if "first stage" in str(w.message)]
    out.update(tau=res.tau, lower=res.band_lower, upper=res.band_upper, crit=float(res.crit_value),
               jump=float(res.first_stage.jump), warning=weak[0] if weak else None)
    return out


def draw_fuzzy_demo(out: dict, ax, ylim=(-6, 10)):
    """The fuzzy estimate with its uniform band and the true complier effect."""
    q = out["q"]
    ax.axhline(0, color="0.6", lw=0.8, ls=":")
    if np.all(np.isfinite(out["tau"])):
        ax.fill_between(q, out["lower"], out["upper"], color="C1", alpha=0.25, label="95% uniform band")
        ax.plot(q, out["tau"], "C1", lw=2, marker="o", ms=3, label=r"$\hat\tau_F(q)$")
    ax.plot(q, out["truth"], "k", lw=1.2, label=r"truth $\tau_F(q)$")
    title = f"first stage {out['strength']:g} (estimated {out['jump']:.2f})"
    if out["warning"]:
        title += "\nr3d warns: weak first stage"
    ax.set(xlabel="quantile level q", ylabel="complier effect", title=title, ylim=ylim)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return ax
