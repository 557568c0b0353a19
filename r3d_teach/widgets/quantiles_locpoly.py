"""Slider update functions for chapters 1 (random quantiles) and 2 (local polynomials).

Chapter 1
---------
* :func:`empirical_quantile_curves` / :func:`draw_empirical_quantiles`: the two empirical
  quantile functions of a sample of ``n_draws`` from a skewed law (Gamma with shape 2), type 7
  ("linear") and the inverse EDF ("inverted_cdf"), against the true quantile function.
* :func:`laqte_vs_pooled` / :func:`draw_laqte_vs_pooled`: the book's firm example (untreated
  unit laws N(mu, sigma^2), mu ~ N(5, 1), sigma = |N(1, 0.5^2)|; treated mu ~ N(7, 1),
  sigma = |N(a1, 0.5^2)|) at the cutoff, which is the design
  :class:`r3d_teach.simulate.HeterogeneousShape` with ``sd_treated = a1``: the LAQTE
  tau(q) = 2 + (E|N(a1, .25)| - E|N(1, .25)|) Phi^{-1}(q) (``truth``) and the quantile difference
  of the two pooled (mixture) laws (``pooled_truth``).

Chapter 2
---------
* :func:`simple_fit` / :func:`draw_simple_fit`: the quantile-by-quantile estimator
  (``r3d(method="simple")``) at a given bandwidth ``h`` and order ``p``; the drawing shows the
  one-sided polynomial fits of one quantile and the estimated effect against the truth.

Nothing here imports ipywidgets: the notebooks wire these functions to sliders, the tests call
them directly.

>>> d = laqte_vs_pooled(a1=1.5, quantiles=[0.1, 0.5, 0.9])
>>> np.round(d["laqte"], 3).tolist(), np.round(d["pooled"], 3).tolist()
([1.37, 2.0, 2.63], [1.531, 2.0, 2.469])
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from ..core.estimator import r3d
from ..core.plotting import plot_effect
from ..core.quantiles import unit_quantiles
from ..simulate import HeterogeneousShape

__all__ = [
    "GRID",
    "empirical_quantile_curves",
    "draw_empirical_quantiles",
    "laqte_vs_pooled",
    "draw_laqte_vs_pooled",
    "simple_fit",
    "draw_simple_fit",
]

GRID = np.linspace(0.005, 0.995, 199)
_TRUE_LAW = stats.gamma(a=2.0)  # a skewed "wage" distribution for chapter 1
#: the sample sizes up to which the order statistics are drawn as dots
DOTS_UP_TO = 30
#: the levels over which the sup error of an empirical quantile function is reported
SUP_RANGE = (0.05, 0.95)


# ------------------------------------------------------------------------------------------
# chapter 1: empirical quantile functions
# ------------------------------------------------------------------------------------------
def empirical_quantile_curves(n_draws: int, seed: int = 0, quantiles=GRID) -> dict:
    """Draw ``n_draws`` values from Gamma(2) and return both empirical quantile functions.

    Returns a dict with ``q``, ``sample`` (sorted), ``truth`` (the Gamma(2) quantile function),
    ``linear`` and ``inverted_cdf`` (from :func:`r3d_teach.unit_quantiles`) and ``sup_error``
    (dict: method -> max |Q̂(q) - Q(q)| over the levels in [0.05, 0.95]).
    """
    n_draws = int(n_draws)
    if n_draws < 1:
        raise ValueError("n_draws: must be at least 1")
    q = np.asarray(quantiles, dtype=float)
    z = _TRUE_LAW.rvs(size=n_draws, random_state=np.random.default_rng(seed))
    truth = _TRUE_LAW.ppf(q)
    out = {"q": q, "sample": np.sort(z), "truth": truth}
    for m in ("linear", "inverted_cdf"):
        out[m] = unit_quantiles([z], q, method=m)[0]
    mid = (q >= SUP_RANGE[0]) & (q <= SUP_RANGE[1])
    out["sup_error"] = {m: float(np.max(np.abs(out[m] - truth)[mid])) for m in ("linear", "inverted_cdf")}
    return out


def draw_empirical_quantiles(ax, n_draws: int, seed: int = 0, legend: bool = True) -> dict:
    """Plot the true quantile function and the two empirical ones on ``ax``; return the data."""
    d = empirical_quantile_curves(n_draws, seed)
    q = d["q"]
    ax.plot(q, d["truth"], color="k", lw=1.5, label="true $Q(q)$")
    ax.plot(q, d["inverted_cdf"], color="C1", lw=1.6, drawstyle="steps-post",
            label="inverse EDF (type 1)")
    ax.plot(q, d["linear"], color="C0", lw=1.6, ls="--", label="type 7 (linear)")
    if n_draws <= DOTS_UP_TO:  # the order statistics at the type-7 positions (k - 1) q + 1
        pos = np.arange(n_draws) / max(n_draws - 1, 1)
        ax.plot(pos, d["sample"], "o", color="C0", ms=3)
    ax.set_xlabel("quantile level $q$")
    ax.set_ylabel("value")
    e = d["sup_error"]
    ax.set_title(f"$n_i = {n_draws}$ draws\nsup error on [0.05, 0.95]: {e['inverted_cdf']:.2f} (type 1), "
                 f"{e['linear']:.2f} (type 7)", fontsize=8.5)
    ax.set_ylim(-0.2, 8.5)
    if legend:
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    return d


# ------------------------------------------------------------------------------------------
# chapter 1: LAQTE versus the pooled quantile difference
# ------------------------------------------------------------------------------------------
def laqte_vs_pooled(a1: float = 1.5, quantiles=GRID, shift: float = 2.0, a0: float = 1.0) -> dict:
    """The two targets at the cutoff in the firm example, with treated spread parameter ``a1``
    (``HeterogeneousShape(delta=shift, sd_untreated=a0, sd_treated=a1)``).

    Returns a dict with ``q``, ``laqte`` (closed form), ``pooled`` (mixture quantile difference)
    and ``gap`` = max_q |laqte - pooled|.
    """
    q = np.asarray(quantiles, dtype=float)
    design = HeterogeneousShape(delta=shift, sd_untreated=a0, sd_treated=a1)
    laqte, pooled = design.truth(q), design.pooled_truth(q)
    return {"q": q, "laqte": laqte, "pooled": pooled, "gap": float(np.max(np.abs(laqte - pooled)))}


def draw_laqte_vs_pooled(ax, a1: float = 1.5, legend: bool = True) -> dict:
    """Plot the LAQTE and the pooled quantile difference for treated spread ``a1``."""
    d = laqte_vs_pooled(a1)
    ax.plot(d["q"], d["laqte"], color="C4", lw=2.2, label=r"LAQTE $\tau(q)$")
    ax.plot(d["q"], d["pooled"], color="0.4", lw=2.2, ls="--", label="pooled (mixture) difference")
    ax.axhline(2.0, color="0.7", lw=0.8, ls=":")
    ax.set_xlabel("quantile level $q$")
    ax.set_ylabel("effect")
    ax.set_title(f"treated spread $a_1 = {a1:g}$: largest gap {d['gap']:.2f}", fontsize=9)
    ax.set_ylim(0.0, 4.0)
    if legend:
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    return d


# ------------------------------------------------------------------------------------------
# chapter 2: the quantile-by-quantile estimator at a chosen bandwidth and order
# ------------------------------------------------------------------------------------------
def simple_fit(x, y, h: float, p: int, quantiles, kernel: str = "triangular"):
    """``r3d(x, y, method="simple", h=h, p=p, quantiles=quantiles, kernel=kernel)``.

    A thin wrapper so that the slider callback and its test call exactly the library.
    """
    # s = p - 1 given: with b = h the estimate is the order-p fit at h, the fit this widget draws
    return r3d(x, y, method="simple", h=float(h), p=int(p), s=max(int(p) - 1, 0), quantiles=quantiles,
               kernel=kernel, n_boot=0)


def draw_simple_fit(axes, x, y, h: float, p: int, quantiles, truth=None, q_show: float = 0.5,
                    mean_quantile=None, kernel: str = "triangular"):
    """Two panels for chapter 2's bandwidth/order sliders; returns the :class:`R3DResult`.

    ``axes[0]``: unit quantiles Q̂_i(q_show) against x, with the two one-sided order-``p``
    polynomials fitted inside the window |x| ≤ h (and, if ``mean_quantile`` is given, the true
    average quantile m(q_show | x) as a thin black line).  ``axes[1]``: τ̂(q) against ``truth``
    (an array on ``quantiles``).  ``q_show`` must be on the grid.
    """
    q = np.asarray(quantiles, dtype=float)
    res = simple_fit(x, y, h, p, q, kernel)
    j = int(np.argmin(np.abs(q - q_show)))
    if abs(q[j] - q_show) > 1e-9:
        raise ValueError("q_show: must be one of the quantile levels")
    x = np.asarray(x, dtype=float)
    Qj = res.diagnostics.unit_quantiles[:, j]
    inside = np.abs(x) <= h
    ax = axes[0]
    ax.scatter(x[~inside], Qj[~inside], s=6, color="0.8")
    ax.scatter(x[inside], Qj[inside], s=6, color="0.45")
    for side, color in (("-", "C3"), ("+", "C2")):
        fit = res.diagnostics.fits[side].bias
        u = np.linspace(0.0, 1.0, 60) * (1 if side == "+" else -1)
        curve = np.polynomial.polynomial.polyval(u, fit.coef[:, j])
        ax.plot(u * h, curve, color=color, lw=2.2)
        ax.plot(0.0, fit.coef[0, j], "o", color=color, ms=6, zorder=5)
    if mean_quantile is not None:
        for lo, hi in ((x.min(), -1e-9), (0.0, x.max())):
            g = np.linspace(lo, hi, 50)
            ax.plot(g, mean_quantile(g), color="k", lw=0.9)
    ax.axvline(0.0, color="0.3", lw=0.8, ls="--")
    for s in (-h, h):
        ax.axvline(s, color="C0", lw=0.8, ls=":")
    ax.set_xlabel("running variable $x$")
    ax.set_ylabel(rf"unit quantile $\hat Q_i({q[j]:g})$")
    ax.set_title(f"one-sided fits, $p = {p}$, $h = {h:g}$", fontsize=9)
    err = "" if truth is None else f", max error {np.max(np.abs(res.tau - truth)):.2f}"
    plot_effect(res, ax=axes[1], truth=truth, truth_label=r"true $\tau(q)$",
                label=r"$\hat\tau(q)$ (simple)", title=f"estimated effect{err}")
    axes[1].set_ylabel("effect")
    return res
