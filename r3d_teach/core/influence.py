"""Influence terms: the linearisation of the estimate that the standard errors, bands and tests
use (Van Dijcke 2025, eq. 14 and App. A-4.3; book chapter 5).

Each boundary value is linear in the unit outcomes, m̂_±(q) = Σ_i ω^±_i(q) Q_i(q), with the
bias-corrected equivalent-kernel weights ω of :class:`r3d_teach.core.locpoly.BiasCorrectedFit`.
Its sampling error is Σ_i φ^±_i(q) with

    φ^±_i(q) = ω^±_i(q) ê^±_i(q),

ê the residuals of the order-p fit at b (:mod:`r3d_teach.core.residuals`; "frechet" projects
each unit's fitted curve onto non-decreasing functions first).  Then

* sharp:  φ_i = φ^+_i - φ^-_i (the sides' windows are disjoint);
* fuzzy (delta method for τ̂_F = Δ_Y / Δ_T):  φ_i = (Δ_T φ^Y_i - Δ_Y φ^T_i) / Δ_T², with φ^T the
  first stage's own terms (its windows and weights);
* clustered: the terms are summed within clusters, and the "hc3" rule becomes CR3 (each
  cluster's residuals times (I - H_gg)⁻¹, Bell and McCaffrey 2002).

The pointwise robust standard error is se(q) = √Σ_g (Σ_{i∈g} φ_i(q))² (g: clusters, or units).

Example
-------
>>> import numpy as np
>>> from r3d_teach.core.influence import Influence, cluster_sums
>>> terms = np.array([[0.3, 0.1], [0.4, -0.1], [0.0, 0.2]])
>>> Influence(rows=np.arange(3), terms=terms).se().round(6).tolist()          # √Σ_i φ_i²
[0.5, 0.244949]
>>> cluster_sums(terms, np.array([0, 0, 1])).tolist()                           # units 0 and 1 together
[[0.7, 0.0], [0.0, 0.2]]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frechet import isotonic_projection
from .locpoly import BiasCorrectedFit, broadcast_column, side_mask, union_rows
from .quantiles import row_blocks
from .residuals import bootstrap_residuals, cluster_blocks, leverage_divisor, nn_residuals

#: rows of φ per product when Φ'Φ is accumulated (a 99-level grid: about 16 MB)
GRAM_ROWS = 20_000

__all__ = ["Influence", "LazyTerms", "side_influence", "sharp_influence", "fuzzy_influence", "cluster_sums",
           "cluster_leverage_residuals"]


class LazyTerms(np.lib.mixins.NDArrayOperatorsMixin):
    """An (n_r, M) matrix of influence terms that is computed when first read (then kept).

    The pass that produced the standard errors also accumulated what the default bootstrap
    needs: ``sum_sq`` = Σ_i φ_i² (M,) and, when asked for, ``gram`` = Φ'Φ (M × M); so a fit
    without a use for the terms themselves never stores the n_r × M matrix.  Anything else
    (``np.asarray``, indexing, arithmetic, any ndarray attribute) computes and returns the array.

    >>> import numpy as np
    >>> T = LazyTerms((2, 2), lambda: np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> T.shape, (T * 2)[1].tolist(), np.asarray(T).sum()
    ((2, 2), [6.0, 8.0], np.float64(10.0))
    """

    dtype = np.dtype(float)
    ndim = 2

    def __init__(self, shape: tuple, compute, sum_sq: np.ndarray | None = None, gram: np.ndarray | None = None):
        self.shape = tuple(shape)
        self._compute = compute
        self._array = None
        self.sum_sq = sum_sq
        self.gram = gram

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def materialise(self) -> np.ndarray:
        """The (n_r, M) array (computed on the first call)."""
        if self._array is None:
            self._array = self._compute()
        return self._array

    def __array__(self, dtype=None, copy=None):
        a = self.materialise()
        return a if dtype is None else a.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        def real(v):
            return v.materialise() if isinstance(v, LazyTerms) else v
        if "out" in kwargs:
            kwargs["out"] = tuple(real(v) for v in kwargs["out"])
        return getattr(ufunc, method)(*(real(v) for v in inputs), **kwargs)

    def __getitem__(self, key):
        return self.materialise()[key]

    def __len__(self) -> int:
        return self.shape[0]

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.materialise(), name)

    def __repr__(self) -> str:
        state = "computed" if self._array is not None else "not computed yet"
        return f"LazyTerms(shape={self.shape}, {state})"

    def __reduce__(self):
        # pickled (and deep-copied) as the array itself
        return np.asarray, (self.materialise(),)


@dataclass
class Influence:
    """Linearisation of the estimate: τ̂(q) - τ(q) ≈ Σ_i terms_i(q) (Van Dijcke 2025, A-4.3).

    ``rows``: the units with a term (inside some window), ``terms`` (n_r, M); ``clusters``: the
    cluster code of each row (None: every unit its own cluster).  Sharp designs also mark the
    rows on the right side (``right``), which gives the two boundary curves' parts ``plus`` and
    ``minus`` (m̂_± - m_± ≈ Σ_i ±parts_i, for the Gini test): the sides' windows are disjoint,
    so terms = plus on the right and -minus on the left.
    """

    rows: np.ndarray
    terms: np.ndarray | LazyTerms
    clusters: np.ndarray | None = None
    right: np.ndarray | None = None

    @property
    def plus(self) -> np.ndarray | None:
        """The right boundary curve's part φ^+ (n_r, M): the terms on the right, 0 on the left."""
        if self.right is None:
            return None
        return np.where(self.right[:, None], np.asarray(self.terms), 0.0)

    @property
    def minus(self) -> np.ndarray | None:
        """The left boundary curve's part φ^- (n_r, M): minus the terms on the left, 0 on the right."""
        if self.right is None:
            return None
        return np.where(self.right[:, None], 0.0, np.subtract(0.0, np.asarray(self.terms)))

    def se(self) -> np.ndarray:
        """Pointwise standard error √Σ_g (Σ_{i∈g} terms_i)² (g: clusters, or units)."""
        if self.clusters is not None:
            return np.sqrt(np.sum(cluster_sums(np.asarray(self.terms), self.clusters) ** 2, axis=0))
        if isinstance(self.terms, LazyTerms) and self.terms.sum_sq is not None:
            return np.sqrt(self.terms.sum_sq)
        terms = np.asarray(self.terms)
        ss = np.zeros(terms.shape[1:])
        for blk in row_blocks(terms.shape[0], int(np.prod(terms.shape[1:]))):
            t = terms[blk]
            ss += (t * t).sum(axis=0)
        return np.sqrt(ss)

    def full(self, n_units: int) -> np.ndarray:
        """The (n_units, M) matrix of terms, zero for units without one."""
        out = np.zeros((n_units,) + self.terms.shape[1:])
        out[self.rows] = np.asarray(self.terms)
        return out

    def scaled(self, scale: float) -> "Influence":
        """The terms of the outcome multiplied by ``scale``."""
        if scale == 1.0:
            return self
        return Influence(rows=self.rows, terms=np.asarray(self.terms) * scale, clusters=self.clusters,
                         right=self.right)


def cluster_sums(terms: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """Rows of ``terms`` summed within clusters (codes 0..G-1, not necessarily all present);
    ``clusters=None`` returns ``terms``."""
    if clusters is None:
        return terms
    codes, inv = np.unique(clusters, return_inverse=True)
    out = np.zeros((codes.size,) + terms.shape[1:])
    np.add.at(out, inv, terms)
    return out


def cluster_leverage_residuals(bias, rows: np.ndarray, clusters: np.ndarray, e: np.ndarray) -> np.ndarray:
    """CR3 residuals: each cluster's raw residuals multiplied by (I - H_gg)⁻¹, with H_gg the
    block of the hat matrix H_ij = K_j r_i'S⁻¹r_j of the order-p fit ``bias`` that belongs to
    cluster g's units (Bell and McCaffrey 2002; rdrobust's ``vce="cr3"``).  Units of one
    cluster close in x pull the fit together, so their in-sample residuals sum to too little;
    unit by unit this is the HC3 factor 1/(1 - ℓ_i).  ``rows``: the units of ``e`` (n_r, M),
    ``clusters``: their cluster codes."""
    idx, pad, safe = cluster_blocks(clusters)
    gmax = idx.shape[1]
    u = bias.xc[rows, None] / bias.h[None, :]                      # (n_r, M)
    K = bias.active_values(bias.k_active, rows)                     # (n_r, M)
    P = u[..., None] ** np.arange(bias.p + 1)                       # (n_r, M, p+1)
    Sinv = bias.sinv if bias.sinv.ndim == 3 else np.broadcast_to(bias.sinv, (u.shape[1],) + bias.sinv.shape)
    A = np.einsum("nmj,mjk->nmk", P, Sinv)                          # r_i'S⁻¹
    Ag, Pg, Kg = A[safe], P[safe], np.where(pad[..., None], 0.0, K[safe])    # (G, g, M, ...)
    H = np.einsum("gimk,gjmk->gmij", Ag, Pg) * Kg.transpose(0, 2, 1)[:, :, None, :]  # (G, M, g, g)
    H = np.where((pad[:, None, :, None] | pad[:, None, None, :]), 0.0, H)
    eye = np.eye(gmax)
    rhs = np.where(pad[..., None], 0.0, e[safe]).transpose(0, 2, 1)[..., None]      # (G, M, g, 1)
    try:
        sol = np.linalg.solve(eye - H, rhs)[..., 0]
    except np.linalg.LinAlgError:  # a cluster with leverage one: no correction there
        sol = (np.linalg.pinv(eye - H) @ rhs)[..., 0]
    out = np.zeros_like(e)
    out[idx[~pad]] = sol.transpose(0, 2, 1)[~pad]
    return out


def side_influence(fit: BiasCorrectedFit, Y: np.ndarray, rule: str = "hc3",
                   project: np.ndarray | None = None, floor: float = 0.0,
                   clusters: np.ndarray | None = None, out: np.ndarray | None = None,
                   dest: np.ndarray | None = None, negate: bool = False) -> np.ndarray:
    """Influence terms of one bias-corrected boundary value, on ``fit.rows``:

        φ_i(q) = ω_i(q) ê_i(q),   ê_i = Y_i - (order-p fit at b)(X̃_i),

    leverage-corrected with the order-p fit's leverage ("hc3": ê/(1-ℓ), "hc2": ê/√(1-ℓ),
    "raw"; "nn": nearest-neighbour residuals).  ``project``: the quantile grid, to project
    each unit's fitted curve onto non-decreasing functions first (Fréchet).  The robust
    standard error √Σφ² equals rdrobust's with ``vce="hc3"`` (rule "hc3") and ``vce="hc2"``
    (rule "hc2").  With ``clusters`` (the codes
    of ``fit.rows``), "hc3" becomes its cluster version CR3
    (:func:`cluster_leverage_residuals`).  Residuals smaller than ``floor`` in absolute value
    are rounding noise and set to zero.

    The terms are computed in blocks of units (memory: one block beyond the result).  ``out``,
    ``dest``: write them into the rows ``dest`` of ``out`` (with the sign flipped when
    ``negate``: 0 - φ) instead of a new (n_r, M) array; returns the array written.
    """
    if not isinstance(Y, np.ndarray) or Y.dtype != float:
        Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    rows, bias = fit.rows, fit.bias
    M = fit.omega.shape[1]
    if out is None:
        out, dest = np.empty((rows.size, M)), np.arange(rows.size)
    if rule == "nn" or (rule == "hc3" and clusters is not None):
        active = fit.omega != 0
        if rule == "nn":
            nn = nn_residuals(bias.xc, Y, side_mask(bias.xc, fit.side))[rows]
            e = bootstrap_residuals(Y[rows], None, None, active, rule, nn)
        else:
            fitted = bias.fitted_at(rows)
            if project is not None:
                fitted = isotonic_projection(fitted, project)
            e = cluster_leverage_residuals(bias, rows, clusters, np.where(active, Y[rows] - fitted, 0.0))
            e = np.where(active, e, 0.0)
        if floor > 0:
            e = np.where(np.abs(e) < floor, 0.0, e)
        phi = fit.omega * e
        out[dest] = np.subtract(0.0, phi) if negate else phi
        return out
    for blk, phi in _side_blocks(fit, Y, rule, project, floor):
        out[dest[blk]] = np.subtract(0.0, phi) if negate else phi
    return out


def _side_blocks(fit: BiasCorrectedFit, Y: np.ndarray, rule: str, project, floor: float):
    """(block of ``fit.rows`` positions, its terms φ) in blocks of units (rules "hc3" without
    clusters, "hc2", "raw")."""
    rows, bias = fit.rows, fit.bias
    M = fit.omega.shape[1]
    col = broadcast_column(fit.omega)
    for blk in row_blocks(rows.size, M):
        r = rows[blk]
        om = fit.omega[blk] if col is None else col[blk]
        fitted = bias.fitted_at(r)
        if project is not None:
            fitted = isotonic_projection(fitted, project, copy=False)
        lev = bias.values_at(bias.lev_active, r)
        if col is None or lev.shape[1] != 1:
            e = bootstrap_residuals(Y[r], fitted, lev, om != 0, rule)
        else:  # one weight and one leverage per unit: the same residuals, formed in place
            e = Y[r]
            e -= fitted
            if rule != "raw":
                e /= leverage_divisor(lev, rule)
            e[~(om[:, 0] != 0)] = 0.0
        if floor > 0:
            small = np.abs(e) < floor
            if small.any():
                e[small] = 0.0
        e *= om
        yield blk, e


def sharp_influence(fit_plus: BiasCorrectedFit, fit_minus: BiasCorrectedFit, Y: np.ndarray,
                    rule: str = "hc3", project: np.ndarray | None = None,
                    clusters: np.ndarray | None = None, floor: float = 0.0, gram: bool = False) -> Influence:
    """τ̂ = m̂_+ - m̂_-: terms φ^+ - φ^- on the units of both windows (the sides are disjoint, so
    each row holds φ^+ (right) or -φ^- (left); one (n_r, M) matrix).

    Without clusters and with the rules "hc3", "hc2" or "raw", the terms are computed in blocks
    of units and only Σ_i φ_i² (and Φ'Φ when ``gram``, for the bootstrap) are kept: the matrix
    is a :class:`LazyTerms`, computed again (same numbers) if it is read.
    """
    rows = union_rows(fit_plus.rows, fit_minus.rows)
    M = fit_plus.omega.shape[1]
    right = side_mask(fit_plus.conventional.xc[rows], "+")
    dest = {side: np.searchsorted(rows, fit.rows) for side, fit in (("+", fit_plus), ("-", fit_minus))}

    def compute() -> np.ndarray:
        terms = np.empty((rows.size, M))  # every row lies in one side's window
        for side, fit in (("+", fit_plus), ("-", fit_minus)):
            cl = None if clusters is None else clusters[fit.rows]
            side_influence(fit, Y, rule, project, floor, cl, out=terms, dest=dest[side], negate=side == "-")
        return terms

    if clusters is not None or rule == "nn":
        return Influence(rows=rows, terms=compute(), clusters=None if clusters is None else clusters[rows],
                         right=right)
    if not isinstance(Y, np.ndarray) or Y.dtype != float:
        Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    sum_sq = np.zeros(M)
    g = np.zeros((M, M)) if gram else None
    # Φ'Φ from few large products (each BLAS call may start threads): blocks of φ gathered first
    buf = np.empty((max(GRAM_ROWS, 1), M)) if gram else None
    filled = 0
    for fit in (fit_plus, fit_minus):
        for _, phi in _side_blocks(fit, Y, rule, project, floor):
            if not gram:
                sum_sq += (phi * phi).sum(axis=0)
                continue
            if filled + phi.shape[0] > buf.shape[0]:
                g += buf[:filled].T @ buf[:filled]
                filled = 0
            if phi.shape[0] > buf.shape[0]:
                g += phi.T @ phi
            else:
                buf[filled:filled + phi.shape[0]] = phi
                filled += phi.shape[0]
    if gram:
        if filled:
            g += buf[:filled].T @ buf[:filled]
        sum_sq = np.diag(g).copy()  # Σ_i φ_i(q)², the diagonal of Φ'Φ
    return Influence(rows=rows, terms=LazyTerms((rows.size, M), compute, sum_sq=sum_sq, gram=g), right=right)


def fuzzy_influence(numerator: Influence, t_plus: BiasCorrectedFit, t_minus: BiasCorrectedFit,
                    T: np.ndarray, num_hat: np.ndarray, jump: float, rule: str = "hc3",
                    clusters: np.ndarray | None = None) -> tuple[Influence, Influence]:
    """Delta method for τ̂_F = Δ_Y / Δ_T: terms (Δ_T φ_Y - Δ_Y φ_T) / Δ_T², with φ_T the first
    stage's own terms (its windows and weights).  Returns (ratio, first stage)."""
    first = sharp_influence(t_plus, t_minus, T, rule, None, clusters)
    rows = union_rows(numerator.rows, first.rows)
    M = numerator.terms.shape[1]
    phi_y = np.zeros((rows.size, M))
    phi_y[np.searchsorted(rows, numerator.rows)] = numerator.terms
    phi_t = np.zeros(rows.size)
    phi_t[np.searchsorted(rows, first.rows)] = first.terms[:, 0]
    terms = (jump * phi_y - num_hat[None, :] * phi_t[:, None]) / jump**2
    ratio = Influence(rows=rows, terms=terms, clusters=None if clusters is None else clusters[rows])
    return ratio, first
