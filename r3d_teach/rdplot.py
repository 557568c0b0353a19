r"""The R3D plot with data-driven bins: binned unit quantiles per level, the number and placement
of the bins chosen by ``rdrobust.rdplot``'s selectors (Calonico, Cattaneo and Titiunik 2015).

**What the plot is for.** It shows the data and the discontinuity: for a few quantile levels q,
the average of the unit quantiles :math:`\hat Q_i(q)` within bins of the running variable, on each
side of the cutoff, with a fitted curve. It is a picture, not inference: the bin means carry no
bias correction and their scatter is not a confidence statement; the effect, its standard error
and its bands come from :func:`r3d_teach.r3d`.

**Bins.** For each level k, ``rdrobust.rdplot`` is run on the column :math:`\hat Q_{\cdot k}` (one
row per unit) and returns its selected numbers of bins :math:`J_-` (left) and :math:`J_+` (right)
(Calonico, Cattaneo and Titiunik 2015, JASA 110(512), 1753--1769; ``binselect``):

* ``"es"``/``"qs"``: IMSE-optimal, evenly or quantile spaced, :math:`J = \lceil (2B/V \cdot n)^{1/3}\rceil`
  with the bias constant B from a global polynomial's derivative and the variance constant V from
  spacings (``"espr"``/``"qspr"``: V from polynomial regression);
* ``"esmv"``/``"qsmv"`` (default ``"esmv"``): mimicking variance,
  :math:`J = \lceil \widehat{\mathrm{Var}}(Y)/V \cdot n/\log(n)^2\rceil`, so the binned means
  scatter about as much as the raw data do (``"esmvpr"``/``"qsmvpr"``: V from polynomial
  regression).

Which to use: a **mimicking-variance** plot (more, smaller bins) shows how variable the unit
quantiles are around the curve -- the default, and the honest picture of a discontinuity's size
relative to the noise; an **IMSE-optimal** plot (fewer bins) traces the regression function
:math:`x \mapsto E[\hat Q_i(q) \mid X_i = x]` itself, smoothing the noise away. Quantile-spaced
bins hold about the same number of units each (use them when x is far from uniform); evenly
spaced bins have equal widths. With mass points in x (at least 20 % repeated values on a side),
``rdplot`` (``masspoints="adjust"``) switches to the polynomial-regression variants; the selector
it used is recorded.

**One binning for all levels.** A reader compares levels on one figure, so every level shares
the same bins: then the vertical gap between two levels' dots in a bin is the average spread of
the same units' quantiles. The number of bins per side is the **median** over the levels of
``rdplot``'s own choices (``share="median"``; rounded up): each level's selector is optimal for
that level only, and the median is a typical level's choice, unmoved by one extreme level (the
noise in the tails of a distribution, e.g. the top decile of earnings, is often far larger than
at the median, and its selector's J with it). ``share="max"`` (the finest binning: every level
gets at least its own number of bins) and ``"min"`` are available, and ``nbins=`` fixes J.
rdplot's own choice for every level is kept in ``RDPlotBins.selection``.

Bins follow ``rdplot`` exactly: evenly spaced edges ``linspace(min x, c, J_- + 1)`` and
``linspace(c, max x, J_+ + 1)``, quantile-spaced edges the quantiles of x on each side; bins are
closed on the left, the last bin on the right is closed on both ends; a dot sits at its bin's
midpoint; empty bins have no dot (NaN mean).

Example
-------
>>> import numpy as np, matplotlib
>>> matplotlib.use("Agg")
>>> from r3d_teach.rdplot import rdplot_bins, r3d_plot
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(-1, 1, 400)
>>> y = [rng.normal(x_i + (x_i >= 0), 1, 50) for x_i in x]
>>> bins = rdplot_bins(x, y, quantiles=(0.1, 0.5, 0.9), binselect="esmv")
>>> bins.means["+"].shape == (bins.J["+"], 3)           # one row per bin, one column per level
True
>>> bins.J["+"] == int(np.ceil(np.median(bins.selection["J_right"])))
True
>>> fig = r3d_plot(x, y, quantiles=(0.1, 0.5, 0.9), fit="global")
>>> len(fig.axes)
1
"""
from __future__ import annotations

import contextlib
import io
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .core import validate
from .core.kernels import get_kernel
from .core.quantiles import unit_quantiles
from .core.results import R3DResult
from .core.summary import Summary

__all__ = ["rdplot_bins", "r3d_plot", "RDPlotBins", "SELECTORS", "SHARE_RULES", "INSTALL_HINT"]

#: rdplot's bin selectors (``binselect``)
SELECTORS = ("es", "espr", "esmv", "esmvpr", "qs", "qspr", "qsmv", "qsmvpr")
#: how one number of bins per side is taken from the levels' own choices
SHARE_RULES = ("median", "max", "min")
INSTALL_HINT = 'pip install "rdrobust>=2.1" (the "validity" extra of r3d-teach)'

#: rdplot's description of the selector it used -> its name
_DESCRIPTIONS = {
    "IMSE-optimal evenly-spaced method using spacings estimators": "es",
    "IMSE-optimal evenly-spaced method using polynomial regression": "espr",
    "mimicking variance evenly-spaced method using spacings estimators": "esmv",
    "mimicking variance evenly-spaced method using polynomial regression": "esmvpr",
    "IMSE-optimal quantile-spaced method using spacings estimators": "qs",
    "IMSE-optimal quantile-spaced method using polynomial regression": "qspr",
    "mimicking variance quantile-spaced method using spacings estimators": "qsmv",
    "mimicking variance quantile-spaced method using polynomial regression": "qsmvpr",
}
_SIDE_NAMES = {"-": "left", "+": "right"}


def _import_rdplot():
    try:
        from rdrobust import rdplot  # optional extra "validity" (it also brings plotnine)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("rdplot_bins needs the optional package 'rdrobust' (its rdplot selects the bins); "
                          f"install it with: {INSTALL_HINT}") from exc
    return rdplot


def _call_rdplot(rdplot, y, x, c, p, binselect, masspoints, nbins=None):
    """rdplot without its figure (``hide=True``), its prints captured, its numeric warnings muted."""
    buf = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
        warnings.simplefilter("ignore")
        out = rdplot(y, x, c=c, p=p, nbins=nbins, binselect=binselect, masspoints=masspoints, hide=True)
    return out, buf.getvalue()


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------
def _check_nbins(nbins):
    if nbins is None:
        return None
    vals = [nbins] if isinstance(nbins, numbers.Integral) and not isinstance(nbins, bool) else nbins
    if isinstance(vals, (str, bytes)) or not hasattr(vals, "__len__") or len(vals) not in (1, 2):
        raise ValueError(f"nbins: give one number of bins or a pair (left, right), got {nbins!r}")
    out = [validate.check_count(v, "nbins", 1) for v in vals]
    return {"-": out[0], "+": out[-1]}


def _data(x, y, Q, quantiles, weights, quantile_method):
    xv = validate.check_running_variable(x, "x")
    qs = validate.check_quantile_grid(quantiles)
    if Q is None:
        if y is None:
            raise ValueError("y: give the unit samples y or the quantile matrix Q= (one column per level)")
        Qm = unit_quantiles(y, qs, weights=weights, method=quantile_method)
    else:
        if y is not None:
            raise ValueError("Q: give either the unit samples y or the quantile matrix Q, not both")
        Qm = validate.as_real_array(Q, "Q")
        if Qm.ndim == 1:
            Qm = Qm[:, None]
        if not np.all(np.isfinite(Qm)):
            raise ValueError("Q: contains NaN or inf")
    if Qm.shape != (xv.size, qs.size):
        raise ValueError(f"Q: must have shape (len(x), len(quantiles)) = {(xv.size, qs.size)}, got {Qm.shape}")
    return xv, Qm, qs


# ----------------------------------------------------------------------------------------------
# the bins
# ----------------------------------------------------------------------------------------------
def _edges(xv: np.ndarray, c: float, J: dict, spacing: str) -> dict:
    """rdplot's bin edges: evenly spaced on [min x, c] and [c, max x], or quantiles of x per side."""
    if spacing == "es":
        return {"-": np.linspace(xv.min(), c, J["-"] + 1), "+": np.linspace(c, xv.max(), J["+"] + 1)}
    return {"-": np.quantile(xv[xv < c], np.linspace(0, 1, J["-"] + 1)),
            "+": np.quantile(xv[xv >= c], np.linspace(0, 1, J["+"] + 1))}


def _bin_index(xs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each x: [e_j, e_{j+1}), the last bin closed on the right (R's findInterval with
    rightmost.closed, as rdplot)."""
    J = edges.size - 1
    return np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, J - 1)


@dataclass
class RDPlotBins:
    """Result of :func:`rdplot_bins`: one binning of x per side shared by every level.

    ``quantiles`` (M,) the levels; ``cutoff``; ``binselect`` the selector asked for, ``share`` the
    rule that made one J per side from the levels' choices (or ``"nbins"`` when fixed); ``J``
    (dict "-"/"+": bins left/right); per side ("-" left, "+" right): ``edges`` (J + 1,),
    ``centres`` (J,) the midpoints (where the dots are drawn, as rdplot), ``means`` (J, M) the mean
    of the unit quantiles in each bin (NaN when empty), ``counts`` (J,) units per bin,
    ``mean_x`` (J,) the mean running variable in each bin; ``selection``: rdplot's own choice for
    every level (``q, selector`` the one it used -- the polynomial-regression variant under mass
    points --, ``J_left, J_right, J_IMSE_left, J_IMSE_right, J_MV_left, J_MV_right``);
    ``global_fit``: rdplot's global polynomial of order ``p`` on each side (``q, side, x,
    fitted``); ``log``: what rdplot printed.
    """

    quantiles: np.ndarray
    cutoff: float
    binselect: str
    share: str
    p: int
    J: dict
    edges: dict
    centres: dict
    means: dict
    counts: dict
    mean_x: dict
    selection: pd.DataFrame
    global_fit: pd.DataFrame = field(repr=False)
    x: np.ndarray = field(repr=False)
    Q: np.ndarray = field(repr=False)
    log: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return (f"RDPlotBins(binselect={self.binselect!r}, share={self.share!r}, J={{left: {self.J['-']}, "
                f"right: {self.J['+']}}}, quantiles={self.quantiles.tolist()}, cutoff={self.cutoff:g})")

    @property
    def spacing(self) -> str:
        """"es" (evenly spaced) or "qs" (quantile spaced)."""
        return self.binselect[:2]

    def to_frame(self) -> pd.DataFrame:
        """One row per bin and level: ``side, bin, left, right, centre, mean_x, n_units, q, mean``
        (empty bins included, with NaN means)."""
        parts = []
        for side in ("-", "+"):
            e, J = self.edges[side], self.J[side]
            for k, qq in enumerate(self.quantiles):
                parts.append(pd.DataFrame({
                    "side": _SIDE_NAMES[side], "bin": np.arange(1, J + 1), "left": e[:-1], "right": e[1:],
                    "centre": self.centres[side], "mean_x": self.mean_x[side], "n_units": self.counts[side],
                    "q": qq, "mean": self.means[side][:, k]}))
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> Summary:
        """The binning and rdplot's choice per level."""
        names = {v: k for k, v in _DESCRIPTIONS.items()}
        rule = "fixed by nbins" if self.share == "nbins" else f"the {self.share} over the levels of rdplot's choices"
        lines = [f"R3D plot bins: rdplot selector {self.binselect!r} ({names[self.binselect]})",
                 f"  bins: {self.J['-']} left, {self.J['+']} right of the cutoff {self.cutoff:g} ({rule})",
                 f"  units per bin: left {int(self.counts['-'].min())}..{int(self.counts['-'].max())}, "
                 f"right {int(self.counts['+'].min())}..{int(self.counts['+'].max())}"]
        used = set(self.selection["selector"])
        if used != {self.binselect}:
            lines.append(f"  rdplot switched to {sorted(used)} (mass points in x)")
        return Summary(header=lines, table=self.selection.copy(), tests=pd.DataFrame())

    def plot(self, fit=None, ax=None, path=None, title: str | None = None, legend: bool = True):
        """Draw the bins (see :func:`r3d_plot`, which calls this); returns the Figure."""
        return _draw(self, fit, ax, path, title, legend)


def rdplot_bins(x, y=None, *, Q=None, quantiles: Sequence[float] = (0.1, 0.5, 0.9), cutoff: float = 0.0,
                binselect: str = "esmv", share: str = "median", nbins=None, p: int = 4,
                masspoints: str = "adjust", weights=None, quantile_method: str = "linear") -> RDPlotBins:
    r"""Bins of the running variable for an R3D plot, chosen by ``rdrobust.rdplot``, and the mean
    unit quantile of every level in every bin.

    For each level :math:`q_k`, ``rdplot`` runs on the column :math:`\hat Q_{\cdot k}` (selector
    ``binselect``, global polynomial of order ``p`` for its bias constants) and returns its
    numbers of bins :math:`J_{-,k}, J_{+,k}`; the plot uses one
    :math:`J_\pm = \lceil\mathrm{median}_k J_{\pm,k}\rceil` per side (``share``; see the module
    notes for why), the edges ``rdplot`` would use with that J, and in bin j of side ±

    .. math:: \bar Q_{\pm j}(q_k) = \frac{1}{N_{\pm j}} \sum_{i:\,X_i \in B_{\pm j}} \hat Q_i(q_k).

    Parameters
    ----------
    x : (n,) running variable, one value per unit.
    y : the unit samples (one 1-D array per unit); or give ``Q``.
    Q : (n, M) unit quantiles on ``quantiles`` (instead of ``y``).
    quantiles : the levels to show (default 0.1, 0.5, 0.9).
    cutoff : the threshold c (inside the range of x).
    binselect : one of :data:`SELECTORS` (default ``"esmv"``, rdplot's default).
    share : ``"median"`` (default), ``"max"`` or ``"min"``: the one J per side.
    nbins : fix J instead: an integer or a pair (left, right) (rdplot's choices are still reported).
    p : order of rdplot's global polynomial (default 4, rdplot's).
    masspoints : rdplot's mass-point rule ("adjust", "check" or "off").
    weights, quantile_method : for ``y``: per-observation weights and the quantile rule.

    Returns
    -------
    :class:`RDPlotBins`
    """
    if not isinstance(binselect, str) or binselect not in SELECTORS:
        raise ValueError(f"binselect: unknown selector {binselect!r}; choose one of {SELECTORS}")
    if not isinstance(share, str) or share not in SHARE_RULES:
        raise ValueError(f"share: must be one of {SHARE_RULES}, got {share!r}")
    if not isinstance(masspoints, str) or masspoints not in ("adjust", "check", "off"):
        raise ValueError(f"masspoints: must be 'adjust', 'check' or 'off', got {masspoints!r}")
    p = validate.check_order(p)
    c = validate.check_cutoff(cutoff)
    fixed = _check_nbins(nbins)
    xv, Qm, qs = _data(x, y, Q, quantiles, weights, quantile_method)
    validate.check_sides(xv - c)
    if xv.max() <= c:
        raise ValueError(f"cutoff: must lie inside the range of x (rdplot's bins need c < max x = {xv.max():g})")
    n_l, n_r = int((xv < c).sum()), int((xv >= c).sum())
    if xv.size < 20:
        raise ValueError(f"x: rdplot needs at least 20 units to select bins, got {xv.size}")
    if min(n_l, n_r) < p + 2:
        raise ValueError(f"x: {n_l} units left and {n_r} right of the cutoff; rdplot's global polynomial of "
                         f"order p = {p} needs at least {p + 2} per side")
    rdplot = _import_rdplot()

    rows, polys, logs = [], [], []
    for k, qq in enumerate(qs):
        try:
            out, log = _call_rdplot(rdplot, Qm[:, k], xv, c, p, binselect, masspoints)
        except Exception as exc:  # rdplot raises bare Exception (and numpy errors on degenerate data)
            raise ValueError(f"Q: rdplot could not select bins for the level q = {qq:g}: {exc}") from exc
        J_l, J_r = out.J
        if not all(isinstance(v, numbers.Integral) for v in (J_l, J_r)):
            raise ValueError(f"Q: rdplot's selector {binselect!r} gave no number of bins for the level q = {qq:g} "
                             f"(J = {out.J}); choose another selector or fix nbins=")
        rows.append({"q": float(qq), "selector": _DESCRIPTIONS.get(out.binselect, out.binselect),
                     "J_left": int(J_l), "J_right": int(J_r),
                     "J_IMSE_left": float(out.J_IMSE[0]), "J_IMSE_right": float(out.J_IMSE[1]),
                     "J_MV_left": float(out.J_MV[0]), "J_MV_right": float(out.J_MV[1])})
        vp = out.vars_poly
        half = len(vp) // 2  # rdplot stacks the left grid, then the right one
        polys.append(pd.DataFrame({"q": float(qq), "side": ["left"] * half + ["right"] * (len(vp) - half),
                                   "x": vp["rdplot_x"].to_numpy(float), "fitted": vp["rdplot_y"].to_numpy(float)}))
        if log:
            logs.append(f"q = {qq:g}: {log.strip()}")
    selection = pd.DataFrame(rows)
    if fixed is not None:
        J, rule = fixed, "nbins"
    else:
        agg = {"median": np.median, "max": np.max, "min": np.min}[share]
        J = {"-": int(np.ceil(agg(selection["J_left"]))), "+": int(np.ceil(agg(selection["J_right"])))}
        rule = share
    edges = _edges(xv, c, J, binselect[:2])
    centres, means, counts, mean_x = {}, {}, {}, {}
    for side, sel in (("-", xv < c), ("+", xv >= c)):
        xs, Qs = xv[sel], Qm[sel]
        idx = _bin_index(xs, edges[side])
        cnt = np.bincount(idx, minlength=J[side])
        sums = np.zeros((J[side], qs.size))
        np.add.at(sums, idx, Qs)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[side] = np.where(cnt[:, None] > 0, sums / np.maximum(cnt, 1)[:, None], np.nan)
            mean_x[side] = np.where(cnt > 0, np.bincount(idx, weights=xs, minlength=J[side]) / np.maximum(cnt, 1),
                                    np.nan)
        centres[side] = (edges[side][:-1] + edges[side][1:]) / 2
        counts[side] = cnt
    return RDPlotBins(quantiles=qs, cutoff=c, binselect=binselect, share=rule, p=p, J=J, edges=edges,
                      centres=centres, means=means, counts=counts, mean_x=mean_x, selection=selection,
                      global_fit=pd.concat(polys, ignore_index=True), x=xv, Q=Qm, log="\n".join(logs))


# ----------------------------------------------------------------------------------------------
# the figure
# ----------------------------------------------------------------------------------------------
def _local_curve(xs, ys, c, h, s, kernel, side, n_grid=60):
    """The order-s local polynomial fit of ys on xs within the bandwidth h on one side, on a grid
    from the cutoff to c ± h (clipped to the data): weighted least squares with K((x - c)/h)."""
    sel = (xs >= c) if side == "+" else (xs < c)
    u = (xs[sel] - c) / h
    w = get_kernel(kernel)(u)
    keep = w > 0
    if keep.sum() <= s:
        return None
    R = np.vander(u[keep], s + 1, increasing=True)
    sw = np.sqrt(w[keep])
    coef, *_ = np.linalg.lstsq(R * sw[:, None], ys[sel][keep] * sw, rcond=None)
    far = min(c + h, xs.max()) if side == "+" else max(c - h, xs.min())
    grid = np.linspace(c, far, n_grid)
    return grid, np.vander((grid - c) / h, s + 1, increasing=True) @ coef


def _fit_levels(fit: R3DResult, qs: np.ndarray) -> np.ndarray:
    hit = np.isclose(fit.quantiles[None, :], qs[:, None], rtol=0, atol=1e-9)
    missing = qs[~hit.any(axis=1)]
    if missing.size:
        raise ValueError(f"quantiles: the level(s) {missing.tolist()} are not on the grid of fit "
                         f"({fit.quantiles.size} levels); plot levels the fit estimated")
    return hit.argmax(axis=1)


def _draw(bins: RDPlotBins, fit, ax, path, title, legend):
    import matplotlib.pyplot as plt  # heavy: loaded on the first figure

    local = isinstance(fit, R3DResult)
    is_global = isinstance(fit, str) and fit == "global"
    if not (fit is None or local or is_global):
        raise ValueError(f"fit: must be None, 'global' or an R3DResult from r3d_teach.r3d, got {fit!r}")
    c, qs = bins.cutoff, bins.quantiles
    if local:
        if not np.isclose(fit.cutoff, c, rtol=0, atol=1e-12 * max(1.0, abs(c))):
            raise ValueError(f"fit: was estimated at the cutoff {fit.cutoff:g}, the plot's cutoff is {c:g}")
        cols = _fit_levels(fit, qs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    fig = ax.figure
    if local:
        hh = np.broadcast_to(np.asarray(fit.h, dtype=float), fit.quantiles.shape)
        h_shown = hh[cols]
        if np.allclose(h_shown, h_shown[0]):
            ax.axvspan(c - h_shown[0], c + h_shown[0], color="0.93", zorder=0, label=f"window c ± h (h = {h_shown[0]:.3g})")
        s = (getattr(fit.diagnostics, "options", None) or {}).get("s", fit.p - 1)
    for k, qq in enumerate(qs):
        color = f"C{k}"
        cx = np.concatenate([bins.centres["-"], bins.centres["+"]])
        my = np.concatenate([bins.means["-"][:, k], bins.means["+"][:, k]])
        ok = np.isfinite(my)
        ax.scatter(cx[ok], my[ok], s=12, color=color, alpha=0.85, label=f"q = {qq:g}")
        if is_global:
            g = bins.global_fit[np.isclose(bins.global_fit["q"], qq)]
            for side in ("left", "right"):
                gs = g[g["side"] == side]
                ax.plot(gs["x"], gs["fitted"], color=color, lw=1.6)
        elif local:
            j = cols[k]
            for side in ("-", "+"):
                curve = _local_curve(bins.x, bins.Q[:, k], c, float(hh[j]), s, fit.kernel, side)
                if curve is not None:
                    ax.plot(*curve, color=color, lw=1.6)
            ax.scatter([c], [fit.minus[j]], s=60, marker="o", facecolor="white", edgecolor=color, lw=1.8, zorder=4)
            ax.scatter([c], [fit.plus[j]], s=60, marker="o", color=color, edgecolor="k", lw=0.8, zorder=4)
    if local:  # legend entries for the markers
        ax.scatter([], [], s=60, marker="o", facecolor="white", edgecolor="0.3", label="m̂₋(q) (left limit)")
        ax.scatter([], [], s=60, marker="o", color="0.3", edgecolor="k", label="m̂₊(q) (right limit)")
    ax.axvline(c, color="0.4", lw=1, ls="--")
    ax.set_xlabel("running variable x")
    ax.set_ylabel("mean unit quantile in the bin")
    if title is None:
        kind = {"es": "evenly spaced", "qs": "quantile spaced"}[bins.spacing]
        goal = "mimicking variance" if "mv" in bins.binselect else "IMSE-optimal"
        title = f"R3D plot: {bins.J['-']} + {bins.J['+']} bins ({kind}, {goal})"
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(frameon=False, fontsize=8)
    if path is not None:
        fig.savefig(path, bbox_inches="tight")
    return fig


def r3d_plot(x, y=None, *, Q=None, quantiles: Sequence[float] = (0.1, 0.5, 0.9), cutoff: float = 0.0,
             binselect: str = "esmv", share: str = "median", nbins=None, fit=None, p: int = 4,
             masspoints: str = "adjust", weights=None, quantile_method: str = "linear", ax=None, path=None,
             title: str | None = None, legend: bool = True):
    r"""The R3D plot (Van Dijcke 2025, Fig. 1) with data-driven bins: for each level q, the mean
    unit quantile :math:`\bar Q_{\pm j}(q)` in bins of x chosen by ``rdrobust.rdplot``
    (:func:`rdplot_bins`), with a fitted curve on each side.

    It shows the data and the discontinuity -- it is not inference (use the fit's
    ``conf_int()``, ``tests`` and ``plot()`` for that). Choose the bins by the goal
    (Calonico, Cattaneo and Titiunik 2015): ``binselect="esmv"`` (default; mimicking variance)
    to show how variable the unit quantiles are around the curve, ``"es"`` (IMSE-optimal) to
    trace the average quantile function :math:`m(q \mid x)` with few, smooth points;
    ``"qs"``/``"qsmv"`` for bins with about equal numbers of units.

    Parameters
    ----------
    x, y, Q, quantiles, cutoff, binselect, share, nbins, p, masspoints, weights, quantile_method :
        as in :func:`rdplot_bins`.
    fit : None (the bins only); ``"global"``: rdplot's global polynomial of order ``p`` on each
        side (as rdplot draws it, over the whole support); or an :class:`~r3d_teach.R3DResult`
        on the same data: its boundary limits :math:`\hat m_-(q)` (open marker) and
        :math:`\hat m_+(q)` (filled) at the cutoff -- the robust bias-corrected, monotone values
        whose difference is :math:`\hat\tau(q)` (fuzzy: the outcome's limits, before the division
        by the first stage) -- and the local polynomial of the estimate's order s = p - 1 with
        the fit's kernel within the bandwidth h (shaded); the curve ends at the conventional
        estimate, the marker differs from it by the bias correction. The levels must be on the
        fit's grid.
    ax : a matplotlib Axes to draw on (default: a new figure).
    path : save the figure there (any format matplotlib knows, by the suffix).
    title, legend : the title (default: the bins' description; "" for none) and the legend.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from r3d_teach import r3d
    >>> rng = np.random.default_rng(1)
    >>> x = rng.uniform(-1, 1, 500)
    >>> y = [rng.normal(x_i + (x_i >= 0), 1, 40) for x_i in x]
    >>> res = r3d(x, y, quantiles=np.arange(1, 10) / 10, n_boot=199, seed=1)
    >>> fig = r3d_plot(x, y, quantiles=(0.1, 0.5, 0.9), fit=res, binselect="es")
    >>> fig.axes[0].get_title().startswith("R3D plot")
    True
    """
    bins = rdplot_bins(x, y, Q=Q, quantiles=quantiles, cutoff=cutoff, binselect=binselect, share=share,
                       nbins=nbins, p=p, masspoints=masspoints, weights=weights, quantile_method=quantile_method)
    return bins.plot(fit=fit, ax=ax, path=path, title=title, legend=legend)
