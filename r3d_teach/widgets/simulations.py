r"""Chapter 7 (simulations): one simulated data set with both targets, and the relative-bias plot.

* :func:`targets_and_estimates` -- one draw of :class:`r3d_teach.simulate.HeterogeneousShape` (or
  any sharp design of :data:`r3d_teach.simulate.DESIGNS`): the LAQTE, the pooled quantile-RD
  target, the R3D estimate (:func:`r3d_teach.r3d`, Fréchet, data-driven h, uniform band) and the
  classical pooled quantile RD (:func:`r3d_teach.simulate.baselines.quantile_rd`) at the same bandwidth.
* :func:`draw_targets` -- draws that result on a matplotlib Axes (the slider's update), the
  estimate, band and LAQTE through :func:`r3d_teach.core.plotting.plot_effect`.
* :func:`relative_bias_table` and :func:`draw_relative_bias` -- the paper's Figure 3 layout
  (relative bias |mean estimate - truth| / |truth| against n, per method) from the rows of
  :func:`r3d_teach.simulate.montecarlo.summarize_quantiles`.

No ipywidgets here: the notebook wires these to sliders; ``tests/test_widgets_simulations.py``
checks them headlessly.

>>> res = targets_and_estimates(n_units=300, n_obs=50, seed=1, n_boot=99, quantiles=[0.1, 0.5, 0.9])
>>> np.round(res["laqte"], 3).tolist(), np.round(res["pooled"], 3).tolist()
([1.37, 2.0, 2.63], [1.531, 2.0, 2.469])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..core.estimator import r3d
from ..core.plotting import plot_effect
from ..simulate import design_parameters, get_design
from ..simulate.baselines import quantile_rd

__all__ = ["targets_and_estimates", "draw_targets", "relative_bias_table", "draw_relative_bias",
           "auto_ymax", "METHOD_STYLE"]

#: the effect size of the chapter's one-data-set figure, for designs that have one
DEFAULT_DELTA = 2.0
#: grid of that figure
GRID19 = np.linspace(0.05, 0.95, 19)
#: the relative-bias axis starts at this cap at least, and extends to this factor of the largest value
MIN_YMAX, YMAX_FACTOR = 0.05, 1.25

#: colour, marker and label of each method in the chapter's figures
METHOD_STYLE = {
    "qrd": ("C3", "s", "quantile RD (pooled)"),
    "simple": ("C1", "^", "R3D local polynomial"),
    "frechet": ("C0", "o", "R3D Fréchet"),
}


def targets_and_estimates(n_units: int = 500, n_obs: int = 100, design: str = "heterogeneous",
                          delta: float | None = None, seed: int = 0, quantiles: Sequence[float] | None = None,
                          n_boot: int = 199, band: str = "studentized") -> dict:
    """Simulate one data set and return both targets and both estimates on ``quantiles``.

    ``design``: a sharp design of :data:`r3d_teach.simulate.DESIGNS`; ``delta``: its effect size
    (default ``DEFAULT_DELTA`` = 2 for designs with one; giving one to a design without is an
    error). Returns a dict with ``quantiles``, ``laqte`` (``truth``), ``pooled``
    (``pooled_truth``), ``tau_r3d``, ``band_lower``, ``band_upper`` (R3D Fréchet, uniform 95 %
    band of ``band`` from ``n_boot`` draws, seed ``seed``), ``tau_qrd`` (pooled quantile RD, local linear, at
    the R3D bandwidth), ``h``, ``n_units``, ``n_obs`` and ``result`` (the R3DResult).
    """
    q = GRID19 if quantiles is None else np.asarray(quantiles, dtype=float)
    if delta is None and "delta" in design_parameters(design):
        delta = DEFAULT_DELTA
    dgp = get_design(design) if delta is None else get_design(design, delta=float(delta))
    sim = dgp.sample(int(n_units), int(n_obs), np.random.default_rng(seed))
    res = r3d(sim.x, sim.y, quantiles=q, n_boot=int(n_boot), seed=int(seed), tests=(), band=band)
    qrd = quantile_rd(sim.x, sim.y_matrix if sim.y_matrix is not None else sim.y, h=float(res.h),
                      quantiles=q, cutoff=sim.cutoff)
    return {"quantiles": q, "laqte": dgp.truth(q), "pooled": dgp.pooled_truth(q),
            "tau_r3d": np.asarray(res.tau), "band_lower": np.asarray(res.band_lower),
            "band_upper": np.asarray(res.band_upper), "tau_qrd": np.asarray(qrd.tau),
            "h": float(res.h), "n_units": int(n_units), "n_obs": int(n_obs), "result": res}


def draw_targets(ax, res: dict, legend: bool = True, title: str | None = None):
    """Draw the R3D estimate with its band and the LAQTE (:func:`r3d_teach.core.plotting.plot_effect`),
    the pooled target (dashed) and the quantile-RD estimate."""
    q = res["quantiles"]
    title = title if title is not None else \
        f"n = {res['n_units']} units, {res['n_obs']} draws each, h = {res['h']:.2f}"
    plot_effect(res["result"], ax=ax, pointwise=False, truth=res["laqte"], truth_label="LAQTE (R3D target)",
                label="R3D Fréchet estimate", title=title, legend=False)
    ax.plot(q, res["pooled"], color="k", lw=2, ls="--", label="pooled target")
    colour, marker, _ = METHOD_STYLE["qrd"]
    ax.plot(q, res["tau_qrd"], color=colour, marker=marker, ms=3, lw=1, label="quantile RD estimate")
    if legend:
        ax.legend(fontsize=8, loc="upper left")
    return ax


def relative_bias_table(sq: pd.DataFrame, design: str, facet: str | float) -> pd.DataFrame:
    """Relative bias by n (rows) and method (columns) for one design and one facet: a quantile
    level (0.1, 0.5, 0.9) or ``"average"`` (the mean of the per-quantile relative biases, as in the
    paper's fourth panel). ``sq`` holds rows of :func:`r3d_teach.simulate.montecarlo.summarize_quantiles`."""
    d = sq[sq["design"] == design]
    if facet == "average":
        g = d.groupby(["n", "method"])["rel_bias"].mean()
    else:
        g = d[np.isclose(d["quantile"], float(facet))].set_index(["n", "method"])["rel_bias"]
    return g.unstack("method").sort_index()


def draw_relative_bias(ax, sq: pd.DataFrame, design: str, facet: str | float,
                       methods: Sequence[str] = ("qrd", "simple", "frechet"), legend: bool = False,
                       ymax: float | None = None):
    """One panel of the paper's Figure 3: relative bias against n (log axis) per method.

    ``ymax`` caps the vertical axis; values above it are drawn at the cap as an upward triangle and
    labelled with their value (so a blow-up at the smallest n does not flatten the rest)."""
    t = relative_bias_table(sq, design, facet)
    for k, m in enumerate(methods):
        if m not in t.columns:
            continue
        colour, marker, label = METHOD_STYLE[m]
        y = t[m].to_numpy(dtype=float)
        if ymax is not None:
            over = y > ymax
            y = np.where(over, 0.97 * ymax, y)
            for xv, v in zip(t.index[over], t[m][over]):
                ax.plot([xv], [0.97 * ymax], marker="^", color=colour, ms=8, ls="none")
                ax.annotate(f"{v:.2g}", (xv, 0.97 * ymax), xytext=(10, -14 - 10 * k), textcoords="offset points",
                            color=colour, fontsize=7)
        ax.plot(t.index, y, color=colour, marker=marker, label=label)
    ax.set_xscale("log")
    ax.set_xticks(list(t.index))
    ax.set_xticklabels([str(int(v)) for v in t.index])
    ax.minorticks_off()
    ax.set_xlabel("n (units = draws per unit)")
    ax.set_ylabel("relative bias")
    ax.set_title(f"Q{int(round(100 * float(facet)))}" if facet != "average" else "average over q")
    ax.set_ylim(0, ymax)
    if legend:
        ax.legend(fontsize=8)
    return ax


def auto_ymax(sq: pd.DataFrame, design: str, facet: str | float, skip_smallest: bool = True) -> float:
    """A vertical cap for :func:`draw_relative_bias`: 1.25 x the largest value, ignoring the
    smallest n (where local quadratic fits with a handful of units can blow up), at least 0.05."""
    t = relative_bias_table(sq, design, facet)
    if skip_smallest and len(t) > 1:
        t = t.iloc[1:]
    return float(max(MIN_YMAX, YMAX_FACTOR * np.nanmax(t.to_numpy(dtype=float))))
