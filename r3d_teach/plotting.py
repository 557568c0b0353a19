"""Figures (matplotlib): the effect with its bands, the boundary quantile functions, and the
paper's "R3D plot" (average unit quantiles within bins of the running variable).

Example
-------
>>> import numpy as np, matplotlib
>>> matplotlib.use("Agg")
>>> from r3d_teach import r3d
>>> from r3d_teach.plotting import plot_effect, rd_plot
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(-1, 1, 300)
>>> y = [rng.normal(x_i + (x_i >= 0), 1, 80) for x_i in x]
>>> ax = plot_effect(r3d(x, y, quantiles=np.arange(1, 10) / 10, n_boot=200, seed=1))
>>> ax = rd_plot(x, y, quantiles=(0.1, 0.5, 0.9))
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["plot_effect", "plot_boundary", "rd_plot", "binned_quantile_means"]


def _axes(ax, figsize=(6, 3.8)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_effect(result, ax=None, pointwise: bool = True, truth=None, label: str | None = None,
                color: str = "C0"):
    """τ̂(q) with its uniform band (shaded) and pointwise band (dashed), if bootstrapped.

    ``truth``: optional (M,) array or callable q -> τ(q) drawn in black for comparison.
    """
    ax = _axes(ax)
    q = result.quantiles
    ax.axhline(0.0, color="0.6", lw=0.8, ls=":")
    if result.band_lower is not None:
        ax.fill_between(q, result.band_lower, result.band_upper, color=color, alpha=0.18,
                        label=f"{100 * (1 - result.alpha):g}% uniform band")
        if pointwise and result.pointwise_lower is not None:
            ax.plot(q, result.pointwise_lower, color=color, lw=0.9, ls="--", label="pointwise band")
            ax.plot(q, result.pointwise_upper, color=color, lw=0.9, ls="--")
    ax.plot(q, result.tau, color=color, lw=2, marker="o" if q.size <= 20 else None, ms=3,
            label=label or f"τ̂ ({result.method})")
    if truth is not None:
        tv = truth(q) if callable(truth) else np.asarray(truth)
        ax.plot(q, tv, color="k", lw=1.2, label="truth")
    ax.set_xlabel("quantile level q")
    ax.set_ylabel("effect τ(q)")
    design = "fuzzy" if result.fuzzy else "sharp"
    ax.set_title(f"Distributional RD effect ({design}, {result.method})")
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
    """
    from .quantiles import unit_quantiles

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
