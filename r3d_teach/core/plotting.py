"""Figures (matplotlib): the effect with its bands, the boundary quantile functions, and the
paper's "R3D plot" (average unit quantiles within bins of the running variable).

Example
-------
>>> import numpy as np, matplotlib
>>> matplotlib.use("Agg")
>>> from r3d_teach import r3d
>>> from r3d_teach.core.plotting import plot_effect, rd_plot
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(-1, 1, 300)
>>> y = [rng.normal(x_i + (x_i >= 0), 1, 80) for x_i in x]
>>> ax = plot_effect(r3d(x, y, quantiles=np.arange(1, 10) / 10, n_boot=200, seed=1))
>>> ax = rd_plot(x, y, quantiles=(0.1, 0.5, 0.9))
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .quantiles import unit_quantiles

__all__ = ["plot_effect", "plot_boundary", "rd_plot", "binned_quantile_means", "finish_figure"]


def _axes(ax, figsize=(6, 3.8)):
    import matplotlib.pyplot as plt  # heavy: loaded on the first figure (import r3d_teach stays light)

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def finish_figure(fig, path=None, created: bool = True, **savefig_kwargs):
    """What a result's ``plot()`` returns: the ``Figure``, saved to ``path`` when given
    (``savefig_kwargs`` go to ``Figure.savefig``, default ``bbox_inches="tight"``).  A saved
    figure the call created itself (``created``) is closed in pyplot, so a script saving many
    figures keeps none open; the returned Figure stays usable.  A figure of the caller's Axes is
    never closed."""
    if path is not None:
        fig.savefig(path, **({"bbox_inches": "tight"} | savefig_kwargs))
        if created:
            import matplotlib.pyplot as plt

            plt.close(fig)
    return fig


def plot_effect(result, ax=None, pointwise: bool = True, truth=None, label: str | None = None,
                color: str = "C0", *, truth_label: str = "truth", title: str | None = None,
                legend: bool = True):
    """τ̂(q) with its uniform band (shaded) and pointwise band (dashed), if bootstrapped.

    ``truth``: optional (M,) array or callable q -> τ(q) drawn in black for comparison
    (``truth_label`` in the legend). ``title``: the panel title (default: the design and
    method). ``legend``: draw the legend.
    """
    ax = _axes(ax)
    q = result.quantiles
    ax.axhline(0.0, color="0.6", lw=0.8, ls=":")
    if result.band_lower is not None:
        kind = getattr(result, "band", None)
        ax.fill_between(q, result.band_lower, result.band_upper, color=color, alpha=0.18,
                        label=f"{100 * (1 - result.alpha):g}% uniform band" + (f" ({kind})" if kind else ""))
        if pointwise and result.pointwise_lower is not None:
            ax.plot(q, result.pointwise_lower, color=color, lw=0.9, ls="--", label="pointwise band")
            ax.plot(q, result.pointwise_upper, color=color, lw=0.9, ls="--")
    ax.plot(q, result.tau, color=color, lw=2, marker="o" if q.size <= 20 else None, ms=3,
            label=label or f"τ̂ ({result.method})")
    if truth is not None:
        tv = truth(q) if callable(truth) else np.asarray(truth)
        ax.plot(q, tv, color="k", lw=1.2, label=truth_label)
    ax.set_xlabel("quantile level q")
    ax.set_ylabel("effect τ(q)")
    design = "fuzzy" if result.fuzzy else "sharp"
    ax.set_title(f"Distributional RD effect ({design}, {result.method})" if title is None else title)
    if legend:
        ax.legend(frameon=False, fontsize=8)
    return ax


def plot_boundary(result, ax=None, raw: bool = True):
    """The boundary quantile functions m̂_+(q) (right) and m̂_-(q) (left of the cutoff).

    With ``raw`` the curves before monotonisation are drawn dotted.
    """
    ax = _axes(ax)
    q = result.quantiles
    ax.plot(q, result.minus, color="C3", lw=2, label="m̂₋ (left of cutoff)")
    ax.plot(q, result.plus, color="C2", lw=2, label="m̂₊ (right of cutoff)")
    if raw and result.plus_raw is not None:
        ax.plot(q, result.minus_raw, color="C3", lw=1, ls=":")
        ax.plot(q, result.plus_raw, color="C2", lw=1, ls=":", label="before monotonisation")
    ax.set_xlabel("quantile level q")
    ax.set_ylabel("quantile")
    ax.set_title("Boundary quantile functions")
    ax.legend(frameon=False, fontsize=8)
    return ax


def binned_quantile_means(x, Q, cutoff: float = 0.0, n_bins: int = 20):
    """Average unit quantiles within equal-width bins of x on each side of the cutoff.

    Returns (bin centres (K,), mean quantiles (K, M), unit counts (K,)); empty bins dropped.
    """
    x = np.asarray(x, dtype=float)
    Q = np.asarray(Q, dtype=float)
    centres, means, counts = [], [], []
    for lo, hi, right in ((x.min(), cutoff, False), (cutoff, x.max(), True)):
        if hi <= lo:
            continue
        edges = np.linspace(lo, hi, n_bins + 1)
        side = (x >= cutoff) if right else (x < cutoff)
        idx = np.clip(np.searchsorted(edges, x[side], side="right") - 1, 0, n_bins - 1)
        cnt = np.bincount(idx, minlength=n_bins)
        sums = np.zeros((n_bins, Q.shape[1]))
        np.add.at(sums, idx, Q[side])
        keep = cnt > 0
        centres.append(((edges[:-1] + edges[1:]) / 2)[keep])
        means.append(sums[keep] / cnt[keep, None])
        counts.append(cnt[keep])
    return np.concatenate(centres), np.vstack(means), np.concatenate(counts)


def rd_plot(x, y=None, *, Q=None, quantiles: Sequence[float] = (0.1, 0.5, 0.9), cutoff: float = 0.0,
            n_bins: int = 20, p: int = 2, weights=None, ax=None,
            title: str | None = "R3D plot: binned average quantiles"):
    """The "R3D plot" (Van Dijcke 2025, Fig. 1): for a few levels q, the average unit quantile
    within bins of the running variable, with a global polynomial of order ``p`` fitted to the
    units on each side of the cutoff.

    Give either the unit samples ``y`` (quantiles computed here, optionally weighted) or the
    unit quantile matrix ``Q`` (n × len(quantiles)).

    The number of bins here is picked by hand (``n_bins``, evenly spaced) and the curve is a
    global polynomial. :func:`r3d_teach.rdplot.r3d_plot` draws the same plot with the bins chosen
    by rdrobust's data-driven ``rdplot`` selectors (IMSE-optimal or mimicking variance, evenly or
    quantile spaced) and the estimator's own boundary values and local fits; prefer it.
    """
    x = np.asarray(x, dtype=float)
    qs = np.asarray(quantiles, dtype=float)
    if Q is None:
        if y is None:
            raise ValueError("y: give the unit samples y or the quantile matrix Q")
        Q = unit_quantiles(y, qs, weights=weights)
    Q = np.asarray(Q, dtype=float)
    if Q.shape != (x.size, qs.size):
        raise ValueError(f"Q: must have shape (len(x), len(quantiles)) = {(x.size, qs.size)}, got {Q.shape}")
    ax = _axes(ax, figsize=(6.5, 4))
    c, mq, _ = binned_quantile_means(x, Q, cutoff, n_bins)
    for j, qq in enumerate(qs):
        color = f"C{j}"
        ax.scatter(c, mq[:, j], s=14, color=color, label=f"q = {qq:g}")
        for side in (x < cutoff, x >= cutoff):
            xs = x[side]
            if xs.size > p:
                coef = np.polynomial.polynomial.polyfit(xs - cutoff, Q[side, j], p)
                grid = np.linspace(xs.min(), xs.max(), 100)
                ax.plot(grid, np.polynomial.polynomial.polyval(grid - cutoff, coef), color=color, lw=1.5)
    ax.axvline(cutoff, color="0.4", lw=1, ls="--")
    ax.set_xlabel("running variable x")
    ax.set_ylabel("average unit quantile")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return ax


# ----------------------------------------------------------------------------------------------
# validity checks (r3d_teach.validity): density test, balance, placebo cutoffs, sensitivity
# ----------------------------------------------------------------------------------------------
def _frame_attr(table, key: str, fun: str):
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table: must be the DataFrame returned by r3d_teach.validity.{fun}")
    if key not in table.attrs:
        raise ValueError(f"table: has no attrs[{key!r}]; pass the DataFrame returned by "
                         f"r3d_teach.validity.{fun} (attrs are lost by some pandas operations)")
    return table.attrs[key]


def plot_manipulation(table, ax=None, bins=None, title: str | None = None):
    """The density test's picture: a histogram of the running variable and the local-polynomial
    density estimate on each side of the cutoff with its pointwise robust confidence band.

    ``table``: the DataFrame of :func:`r3d_teach.validity.manipulation_test`. With at most 60
    distinct values of x (mass points) the histogram has one bar per value.
    """
    dens = _frame_attr(table, "density", "manipulation_test")
    x = np.asarray(_frame_attr(table, "x", "manipulation_test"), dtype=float)
    c = float(table.attrs.get("cutoff", table["cutoff"].iloc[0]))
    row = table.iloc[0]
    ax = _axes(ax, figsize=(6.5, 3.8))
    lo = dens["x"].min() if len(dens) else x.min()
    hi = dens["x"].max() if len(dens) else x.max()
    inside = x[(x >= lo) & (x <= hi)]
    vals, counts = np.unique(inside, return_counts=True)
    if bins is None and vals.size <= 60:
        width = float(np.min(np.diff(vals))) if vals.size > 1 else 1.0
        ax.bar(vals, counts / (x.size * width), width=0.9 * width, color="0.8", edgecolor="white",
               label="share of observations (per unit of x)")
    else:
        if bins is None:
            k = max(int(np.ceil(min(np.sqrt(inside.size), 10 * np.log10(max(inside.size, 10))))) // 2, 2)
            bins = np.concatenate([np.linspace(lo, c, k + 1), np.linspace(c, hi, k + 1)[1:]])
        counts, edges = np.histogram(inside, bins=bins)
        ax.bar(edges[:-1], counts / (x.size * np.diff(edges)), width=np.diff(edges), align="edge",
               color="0.8", edgecolor="white", label="histogram (share of all observations)")
    for side, color in (("left", "C3"), ("right", "C2")):
        d = dens[dens["side"] == side]
        if not len(d):
            continue
        ax.fill_between(d["x"], d["lower"], d["upper"], color=color, alpha=0.2)
        ax.plot(d["x"], d["density"], color=color, lw=2, label=f"density estimate ({side})")
    ax.axvline(c, color="0.3", ls="--", lw=1)
    ax.set_xlabel("running variable x")
    ax.set_ylabel("density")
    ax.set_title(title if title is not None else
                 f"Density test at the cutoff: T = {row['t_stat']:.2f}, p = {row['p_value']:.3g}")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_balance(table, ax=None, relative: bool = False, title: str | None = "Covariate balance at the cutoff"):
    """One row per covariate: the estimated jump with its confidence interval, and its p-value.

    ``table``: the DataFrame of :func:`r3d_teach.validity.covariate_balance`. ``relative``:
    divide each jump and interval by the covariate's left limit (|m̂₋|), to put covariates on
    different scales on one axis (as a share of the level just left of the cutoff).
    """
    if not isinstance(table, pd.DataFrame) or "estimate" not in table.columns:
        raise TypeError("table: must be the DataFrame returned by r3d_teach.validity.covariate_balance")
    ax = _axes(ax, figsize=(6.5, 0.6 * len(table) + 1.6))
    scale = np.abs(table["left_limit"].to_numpy(float)) if relative else np.ones(len(table))
    if relative and np.any(scale == 0):
        raise ValueError("relative: a covariate's left limit is 0; the relative jump is undefined")
    est = table["estimate"].to_numpy(float) / scale
    lo = table["ci_lower"].to_numpy(float) / scale
    hi = table["ci_upper"].to_numpy(float) / scale
    ypos = np.arange(len(table))[::-1]
    reject = table["p_value"].to_numpy(float) < table.attrs.get("alpha", 0.05)
    for yy, e, left, right, r in zip(ypos, est, lo, hi, reject):
        color = "C3" if r else "C0"
        ax.plot([left, right], [yy, yy], color=color, lw=2)
        ax.plot(e, yy, "o", color=color)
    ax.axvline(0, color="0.5", lw=0.8, ls=":")
    ax.set_yticks(ypos)
    ax.set_yticklabels([f"{n}\n(p = {p:.2f})" for n, p in zip(table["covariate"], table["p_value"])],
                       fontsize=8)
    level = 100 * (1 - table.attrs.get("alpha", 0.05))
    ax.set_xlabel(("jump / left limit" if relative else "jump at the cutoff") + f" ({level:g}% CI)")
    if title:
        ax.set_title(title)
    return ax


def plot_placebo(table, ax=None, true_result=None, title: str | None = None):
    """Placebo summary: at each fake cutoff, the nullity statistic (dot) against its bootstrap
    critical value (bar); a dot above its bar rejects at the band's level.  The statistic is
    max_q |τ̂(q)|/se(q) with the (default) studentized band and max_q |τ̂(q)| with the
    unweighted one.

    ``table``: the DataFrame of :func:`r3d_teach.validity.placebo_cutoffs`. ``true_result``: an
    ``R3DResult`` at the true cutoff (with a bootstrap), drawn in black for comparison.
    """
    if not isinstance(table, pd.DataFrame) or "max_abs_tau" not in table.columns:
        raise TypeError("table: must be the DataFrame returned by r3d_teach.validity.placebo_cutoffs")
    ax = _axes(ax, figsize=(6.5, 3.8))
    xs = table["cutoff"].to_numpy(float)
    span = np.ptp(np.append(xs, table.attrs.get("true_cutoff", xs[0]))) or 1.0
    wid = 0.04 * span
    has_test = "nullity_stat" in table.columns and bool(np.isfinite(table["nullity_stat"]).any())
    stats = table["nullity_stat"] if has_test else table["max_abs_tau"]
    crits = table["nullity_crit"] if has_test else table["crit_value"]
    for xx, stat, crit, pv in zip(xs, stats, crits, table["nullity_p"]):
        ax.bar(xx, crit, width=wid, color="0.85", edgecolor="0.6")
        ax.plot(xx, stat, "o", color="C3" if pv < table.attrs.get("alpha", 0.05) else "C0", ms=7)
        ax.annotate(f"p = {pv:.2f}", (xx, max(stat, crit)), textcoords="offset points", xytext=(0, 4),
                    ha="center", fontsize=8)
    if true_result is not None:
        t = true_result.tests
        if t is not None and len(t) and "nullity" in set(t["test"]):
            row = t.loc[t["test"] == "nullity"].iloc[0]
            stat, crit, pv = float(row["statistic"]), float(row["critical_value"]), float(row["p_value"])
        else:
            stat, crit, pv = float(np.max(np.abs(true_result.tau))), float(true_result.crit_value), None
        ax.bar(true_result.cutoff, crit, width=wid, color="0.85", edgecolor="k")
        ax.plot(true_result.cutoff, stat, "s", color="k", ms=7, label="true cutoff")
        if pv is not None:
            ax.annotate(f"p = {pv:.2g}", (true_result.cutoff, max(stat, crit)),
                        textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
        ax.legend(frameon=False, fontsize=8)
    if "true_cutoff" in table.attrs:
        ax.axvline(table.attrs["true_cutoff"], color="0.4", ls="--", lw=1)
    ax.set_xlabel("cutoff")
    studentized = has_test and bool(np.any(~np.isclose(table["nullity_stat"], table["max_abs_tau"])))
    ax.set_ylabel("max over q of |τ̂(q)| / se(q)" if studentized else "max over q of |τ̂(q)|")
    ax.set_title(title if title is not None else "Placebo cutoffs: statistic (dot) vs critical value (bar)")
    return ax


_SETTING_KEYS = (("multiple", "{:g} × h"), ("radius", "donut δ = {:g}"), ("cutoff", "cutoff {:g}"))


def plot_sensitivity(table, kind: str = "multiples", axes=None, truth=None, title: str | None = None):
    """Effect curves across settings of a validity check (bandwidth multiples, donut radii or
    placebo cutoffs): ``kind="multiples"`` draws one panel per setting (τ̂ with its uniform
    band, shared y-axis); ``kind="heatmap"`` one image of τ̂ over (setting, q), with a dot where
    the uniform band excludes zero.

    ``table``: the DataFrame of :func:`~r3d_teach.validity.bandwidth_sensitivity`,
    :func:`~r3d_teach.validity.donut` or :func:`~r3d_teach.validity.placebo_cutoffs`.
    ``truth``: optional (M,) array or callable drawn dashed in every panel.
    Returns the array of Axes (multiples) or the Axes (heatmap).
    """
    import matplotlib.pyplot as plt  # heavy: loaded on the first figure

    curves = _frame_attr(table, "curves", "bandwidth_sensitivity")
    if kind not in ("multiples", "heatmap"):
        raise ValueError(f"kind: must be 'multiples' or 'heatmap', got {kind!r}")
    key, fmt = next(((k, f) for k, f in _SETTING_KEYS if k in curves.columns), (None, None))
    if key is None:
        raise ValueError("table: its curves have no 'multiple', 'radius' or 'cutoff' column")
    settings = list(dict.fromkeys(curves[key].tolist()))
    if kind == "multiples":
        if axes is None:
            _, axes = plt.subplots(1, len(settings), figsize=(2.8 * len(settings) + 0.6, 3.2),
                                   sharey=True, constrained_layout=True, squeeze=False)
            axes = axes[0]
        axes = np.atleast_1d(axes)
        if axes.size != len(settings):
            raise ValueError(f"axes: need {len(settings)} axes (one per setting), got {axes.size}")
        for ax, s in zip(axes, settings):
            d = curves[curves[key] == s]
            q = d["q"].to_numpy(float)
            if d["band_lower"].notna().all():
                ax.fill_between(q, d["band_lower"], d["band_upper"], color="C0", alpha=0.2)
            ax.plot(q, d["tau"], color="C0", lw=2)
            if truth is not None:
                ax.plot(q, truth(q) if callable(truth) else np.asarray(truth), "k--", lw=1)
            ax.axhline(0, color="0.5", lw=0.8, ls=":")
            lab = fmt.format(s)
            if "h" in d.columns and key == "multiple":
                lab += f" = {d['h'].iloc[0]:.3g}"
            ax.set_title(lab, fontsize=9)
            ax.set_xlabel("q")
        axes[0].set_ylabel("τ̂(q) with uniform band")
        if title:
            axes[0].figure.suptitle(title, fontsize=10)
        return axes
    ax = axes if axes is not None else _axes(None, figsize=(7, 0.45 * len(settings) + 2))
    q = np.asarray(curves.loc[curves[key] == settings[0], "q"], dtype=float)
    Z = np.vstack([curves.loc[curves[key] == s, "tau"].to_numpy(float) for s in settings])
    lim = float(np.nanmax(np.abs(Z))) or 1.0
    edges = np.concatenate([[q[0] - (q[1] - q[0]) / 2 if q.size > 1 else q[0] - 0.5],
                            (q[1:] + q[:-1]) / 2, [q[-1] + (q[-1] - q[-2]) / 2 if q.size > 1 else q[0] + 0.5]])
    mesh = ax.pcolormesh(edges, np.arange(len(settings) + 1), Z, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.figure.colorbar(mesh, ax=ax, label="τ̂(q)")
    for i, s in enumerate(settings):
        d = curves[curves[key] == s]
        sig = ((d["band_lower"] > 0) | (d["band_upper"] < 0)).to_numpy()
        ax.plot(q[sig], np.full(sig.sum(), i + 0.5), "k.", ms=3)
    ax.set_yticks(np.arange(len(settings)) + 0.5)
    ax.set_yticklabels([fmt.format(s) for s in settings], fontsize=8)
    ax.set_xlabel("quantile level q")
    ax.set_title(title if title is not None else "τ̂(q) across settings (dots: band excludes 0)")
    return ax

__all__ += ["plot_manipulation", "plot_balance", "plot_placebo", "plot_sensitivity"]
