"""Update functions behind the sliders of chapters 5 (bands and tests) and 6 (fuzzy designs).

Pure functions: they take slider values and return plain data (or draw on given Axes); they never
import ipywidgets, so ``tests/test_widgets_inference_fuzzy.py`` tests them headlessly. The data
come from the simulation designs :class:`r3d_teach.simulate.BandDesign` (chapter 5: shift,
spread and proportional effects) and :class:`r3d_teach.simulate.ComplierDesign` (chapter 6:
always-takers, never-takers and compliers; the complier effect is 2 + 0.5 Phi^{-1}(q)).

Example
-------
>>> import numpy as np
>>> from r3d_teach.simulate import BandDesign
>>> sim = BandDesign().sample(n_units=300, n_obs=50, seed=1)
>>> out = band_demo(sim.x, sim.y, alpha=0.1, n_boot=99, quantiles=np.arange(1, 10) / 10)
>>> bool(np.allclose(out["upper"] - out["tau"], out["crit"] * out["result"].se))   # studentized
True
>>> out = band_demo(sim.x, sim.y, alpha=0.1, n_boot=99, quantiles=np.arange(1, 10) / 10, band="unweighted")
>>> bool(np.allclose(out["upper"] - out["tau"], out["crit"]))                      # one width
True
"""
from __future__ import annotations

import warnings

import numpy as np

from ..core.estimator import r3d
from ..core.plotting import plot_effect
from ..simulate import ComplierDesign

__all__ = [
    "GRID20",
    "band_demo",
    "draw_band_demo",
    "fuzzy_demo",
    "draw_fuzzy_demo",
]

GRID20 = np.round(np.arange(1, 20) / 20, 10)
#: bins of the histogram of the sup statistics
SUP_BINS = 30


# ----------------------------------------------------------------------------------- chapter 5
def band_demo(x, y, alpha: float = 0.05, n_boot: int = 199, seed: int = 0, quantiles=None, h=None,
              band: str = "studentized") -> dict:
    """Run ``r3d`` with ``n_boot`` draws at level ``alpha`` and return what the slider shows.

    Returns a dict: ``q``, ``tau``, ``lower`` / ``upper`` (uniform band), ``pw_lower`` /
    ``pw_upper`` (pointwise band), ``crit`` (critical value: ĉ, a multiple of se, for the
    studentized band; c for the unweighted one), ``sup`` (the B sup statistics the critical
    value is the quantile of: max_q |G_b(q)|/se(q) divided by √(W_b/ν) (the multivariate t of the
    studentized band), or max_q |G_b(q)| unweighted), ``band``,
    ``h``, ``alpha``, ``n_boot`` and ``result`` (the :class:`~r3d_teach.R3DResult`).
    """
    res = r3d(x, y, quantiles=quantiles, h=h, n_boot=int(n_boot), alpha=float(alpha), seed=seed, tests=(),
              band=band)
    boot = res.diagnostics.bootstrap
    return dict(q=res.quantiles, tau=res.tau, lower=res.band_lower, upper=res.band_upper,
                pw_lower=res.pointwise_lower, pw_upper=res.pointwise_upper, crit=float(res.crit_value),
                sup=boot.t_stats if boot.studentized else boot.sup_stats, band=res.band,
                h=float(np.max(res.h)), alpha=float(alpha), n_boot=int(n_boot), result=res)


def draw_band_demo(out: dict, ax_sup, ax_band, truth=None, sup_max: float | None = None):
    """Left: histogram of the sup statistics with the critical value; right: the two bands
    (:func:`r3d_teach.core.plotting.plot_effect`)."""
    sup = out["sup"]
    top = sup_max if sup_max is not None else float(sup.max()) * 1.05
    ax_sup.hist(sup, bins=np.linspace(0, top, SUP_BINS + 1), color="0.7", edgecolor="white")
    stud = out.get("band") == "studentized"
    ax_sup.axvline(out["crit"], color="C3", lw=2, label=f"{'ĉ' if stud else 'c'} = {out['crit']:.3f}")
    xlabel = (r"sup statistic $T_b=\max_q |G_b(q)|/\mathrm{se}(q)\,/\sqrt{W_b/\nu}$" if stud
              else r"sup statistic $S_b=\max_q |G_b(q)|$")
    ax_sup.set(xlabel=xlabel, ylabel="draws",
               title=f"B = {out['n_boot']} draws, α = {out['alpha']:g}")
    ax_sup.legend(frameon=False, fontsize=8)
    plot_effect(out["result"], ax=ax_band, truth=truth, label=r"$\hat\tau(q)$",
                title=f"{100 * (1 - out['alpha']):g}% bands")
    ax_band.set_ylabel("effect")
    return ax_sup, ax_band


# ----------------------------------------------------------------------------------- chapter 6
def fuzzy_demo(strength: float, seed: int = 0, n_units: int = 1000, n_obs: int = 50, n_boot: int = 199,
               quantiles=GRID20, boot_seed: int = 1, band: str = "studentized") -> dict:
    """Simulate ``ComplierDesign(strength)`` (first stage ``strength``), run ``r3d(treatment=...)``.

    Returns a dict: ``q``, ``tau``, ``lower`` / ``upper`` (uniform band of ``band``), ``crit``
    (its critical value: a multiple of se when studentized), ``half_width`` (the band's median
    half-width over q), ``jump``
    (estimated first stage), ``strength``, ``truth`` (the complier effect), ``warning`` (r3d's
    weak-first-stage message, or None) and ``result`` (the R3DResult, or None).  A first stage
    estimated at essentially zero (r3d raises) gives NaN curves and the error message in
    ``warning``.
    """
    design = ComplierDesign(strength=strength)
    sim = design.sample(n_units, n_obs, seed)
    q = np.asarray(quantiles, dtype=float)
    out = dict(q=q, strength=float(strength), truth=design.truth(q), warning=None, result=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = r3d(sim.x, sim.y, treatment=sim.treatment, quantiles=q, n_boot=int(n_boot), seed=boot_seed,
                      tests=(), band=band)
        except ValueError as err:
            nan = np.full(q.size, np.nan)
            out.update(tau=nan, lower=nan, upper=nan, crit=np.nan, half_width=np.nan, jump=np.nan,
                       warning=str(err))
            return out
    weak = [str(w.message) for w in caught if "first stage" in str(w.message)]
    out.update(tau=res.tau, lower=res.band_lower, upper=res.band_upper, crit=float(res.crit_value),
               half_width=float(np.median(res.band_upper - res.tau)), jump=float(res.first_stage.jump),
               warning=weak[0] if weak else None, result=res)
    return out


def draw_fuzzy_demo(out: dict, ax, ylim=(-6, 10)):
    """The fuzzy estimate with its uniform band and the true complier effect
    (:func:`r3d_teach.core.plotting.plot_effect`; only the truth when the fit was refused)."""
    title = f"first stage {out['strength']:g} (estimated {out['jump']:.2f})"
    if out["warning"]:
        title += "\nr3d warns: weak first stage"
    if out["result"] is not None:
        plot_effect(out["result"], ax=ax, pointwise=False, truth=out["truth"], truth_label=r"truth $\tau_F(q)$",
                    label=r"$\hat\tau_F(q)$", color="C1", title=title)
    else:
        ax.plot(out["q"], out["truth"], "k", lw=1.2, label=r"truth $\tau_F(q)$")
        ax.set_title(title)
        ax.legend(frameon=False, fontsize=8)
    ax.set(ylabel="complier effect", ylim=ylim)
    return ax
