"""One-sided local polynomial regression of every quantile at once (book chapter 2).

For side ± (right "+": X̃ ≥ 0, the cutoff itself counts as treated; left "-": X̃ < 0), bandwidth h and
order p, the fit at the cutoff solves, for every column q of the outcome matrix,

    α̂(q) = argmin_α Σ_i δ_i^± K(X̃_i/h) [Q_i(q) - α' r_p(X̃_i/h)]²,   r_p(u) = (1, u, …, u^p)',

so α̂ = S⁻¹ Σ_i K_i r_i Q_i with S = Σ_i δ_i^± K_i r_i r_i' (Van Dijcke 2025, §2.5.1, A-2).
The boundary estimate is the intercept m̂_±(q) = α̂_0(q) = Σ_i w_i Q_i(q) with the
*equivalent-kernel weights*

    w_i = δ_i^± K_i · r_i' S⁻¹ e_0,

which sum to one, are orthogonal to u, …, u^p, and are negative for part of the window when
p ≥ 1.  Coefficients are stored in the scaled basis u = X̃/h (as in R3D 0.1.0), so the
k-th derivative at the cutoff is k! α_k / h^k.  The leverage of unit i is
ℓ_i = K_i r_i' S⁻¹ r_i (the diagonal of the hat matrix).

With one bandwidth for all columns (Fréchet) S is factorised once; with one bandwidth per
column ("simple") the systems are solved as a batch.

Example
-------
>>> import numpy as np
>>> from r3d_teach.core.locpoly import local_poly_fit
>>> x = np.linspace(-1, 1, 201)
>>> Y = np.column_stack([1 + 2 * x, 3 - x**2])          # two outcome columns
>>> fit = local_poly_fit(x, Y, h=0.5, p=2, kernel="triangular", side="+")
>>> fit.intercept.round(10).tolist()                    # exact for polynomials of order ≤ p
[1.0, 3.0]
>>> float(fit.weights[:, 0].sum().round(12))            # the weights sum to one
1.0
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kernels import get_kernel
from .quantiles import CentredRows, row_blocks, take_rows

__all__ = ["OneSidedFit", "BiasCorrectedFit", "local_poly_fit", "local_poly_fit_rss", "bias_corrected_fit",
           "side_mask", "SIDES", "blocked_moments", "union_rows", "local_poly_fits"]

#: a weighted residual sum of squares taken from moments, Σ w Y² - 2 α'Σ w r Y + α'(Σ w r r')α, is
#: kept when it is at least this fraction of Σ w Y² (at most about three digits lost to
#: cancellation); below it the residuals are formed explicitly, in a second pass
RSS_CANCELLATION = 1e-3

#: the two sides of the cutoff: "+" (x >= cutoff, treated, "right") and "-" (x < cutoff, "left")
SIDES = ("+", "-")


def side_mask(xc: np.ndarray, side: str) -> np.ndarray:
    """Units on a side: right ("+") is X̃ ≥ 0 (the cutoff counts as treated), left ("-") is X̃ < 0."""
    if side == "+":
        return xc >= 0
    if side == "-":
        return xc < 0
    raise ValueError(f"side: must be '+' or '-', got {side!r}")


@dataclass
class OneSidedFit:
    """A one-sided local polynomial fit of M outcome columns at the cutoff.

    Only units with a positive kernel weight for some column (the *active* rows) carry
    information; the per-unit arrays are stored for those rows only (``rows``) and expanded
    to n × M on request.

    Attributes
    ----------
    side : "+" or "-"
    p : order of the polynomial
    h : (M,) bandwidth of each column
    coef : (p + 1, M) coefficients α in the scaled basis u = X̃/h
    xc : (n,) the centred running variable the fit used
    rows : (n_a,) indices of the active units
    sinv : S⁻¹, (p+1, p+1) for one bandwidth or (M, p+1, p+1)

    Properties ``weights`` (equivalent-kernel weights w_i(q)), ``kernel_weights`` (K(X̃_i/h) on
    this side) and ``leverage`` (ℓ_i = K_i r_i'S⁻¹r_i) are (n, M), zero outside the window.
    """

    side: str
    p: int
    h: np.ndarray
    coef: np.ndarray
    xc: np.ndarray
    rows: np.ndarray
    sinv: np.ndarray = field(repr=False)
    k_active: np.ndarray = field(repr=False)  # (n_a, M) or (n_a, 1) kernel weights
    w_active: np.ndarray = field(repr=False)  # equivalent-kernel weights on the active rows
    lev_active: np.ndarray = field(repr=False)

    @property
    def n_columns(self) -> int:
        return self.coef.shape[1]

    @property
    def shared(self) -> bool:
        """One bandwidth for every column: the per-unit arrays are one column broadcast to M."""
        return self.sinv.ndim == 2

    def _full(self, a: np.ndarray) -> np.ndarray:
        out = np.zeros((self.xc.size, self.n_columns))
        out[self.rows] = a
        return out

    @property
    def weights(self) -> np.ndarray:
        return self._full(self.w_active)

    @property
    def kernel_weights(self) -> np.ndarray:
        return self._full(self.k_active)

    @property
    def leverage(self) -> np.ndarray:
        return self._full(self.lev_active)

    @property
    def intercept(self) -> np.ndarray:
        """m̂_±(q) = α̂_0(q), the boundary value at the cutoff (M,)."""
        return self.coef[0]

    def coefficient(self, k: int) -> np.ndarray:
        """Unscaled coefficient β_k = α_k / h^k of X̃^k (so m^{(k)}(0) = k! β_k)."""
        return self.coef[k] / self.h**k

    def _u(self, rows) -> np.ndarray:
        """X̃/h at the rows: (r, 1) when every column shares h, else (r, M)."""
        if np.all(self.h == self.h[0]):
            return self.xc[rows, None] / self.h[0]
        return self.xc[rows, None] / self.h[None, :]

    def coefficient_weights_active(self, k: int) -> np.ndarray:
        """(n_a, M) weights a_i on the active rows with β̂_k = Σ_i a_i Y_i:
        a_i = K_i r_i'S⁻¹e_k / h^k (k = 0: the equivalent-kernel weights).  With one bandwidth
        this is one column broadcast to M (a read-only view)."""
        a = self.scaled_coefficient_weights_active(k)
        if self.shared:
            return np.broadcast_to(a[:, :1] / self.h[0] ** k, a.shape)
        return a / self.h[None, :] ** k

    def scaled_coefficient_weights_active(self, k: int) -> np.ndarray:
        """(n_a, M) weights K_i r_i'S⁻¹e_k of the coefficient α_k of u^k = (X̃/h)^k: free of the
        scale of x (no power of h), so they neither overflow nor underflow when |x| is extreme.
        With one bandwidth: one column broadcast to M (a read-only view)."""
        if self.shared:
            col = self.k_active[:, :1] * _horner(self._u(self.rows), self.sinv[:, k][:, None])
            return np.broadcast_to(col, (self.rows.size, self.n_columns))
        return self.k_active * _horner(self._u(self.rows), self.sinv[:, :, k].T)

    def fitted_active(self) -> np.ndarray:
        """(n_a, M) fitted values r_p(X̃_i/h)'α̂ at the active units."""
        return self.fitted_at(self.rows)

    def fitted(self) -> np.ndarray:
        """(n, M) fitted values r_p(X̃_i/h)'α̂ at every unit's own X̃ (all units)."""
        return self.fitted_at(slice(None))

    def fitted_at(self, rows) -> np.ndarray:
        """Fitted values r_p(X̃_i/h)'α̂ at the given rows (inside the window or not)."""
        return _horner(self._u(rows), self.coef)

    def active_values(self, a: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Values of an active-row array ``a`` (n_a, M) at ``rows`` (sorted unit indices), 0 off
        this fit's active rows.  A broadcast column stays one column (a read-only view)."""
        col = broadcast_column(a)
        if col is not None:
            out = np.zeros((rows.size, 1))
            out[np.searchsorted(rows, self.rows)] = col
            return np.broadcast_to(out, (rows.size, self.n_columns))
        out = np.zeros((rows.size, self.n_columns))
        pos = np.searchsorted(rows, self.rows)
        out[pos] = a
        return out

    def values_at(self, a: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Values of an active-row array ``a`` (n_a, M) at some sorted unit indices ``rows`` (a
        block of them: any subset), 0 where a row is not active.  A broadcast column stays one
        column, shape (r, 1)."""
        pos = np.minimum(np.searchsorted(self.rows, rows), max(self.rows.size - 1, 0))
        hit = (self.rows[pos] == rows) if self.rows.size else np.zeros(rows.size, dtype=bool)
        col = broadcast_column(a)
        src = a if col is None else col
        return np.where(hit[:, None], src[pos], 0.0) if self.rows.size else np.zeros((rows.size, src.shape[1]))


def union_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted union of two arrays of unit indices (``np.union1d``), through a mask over the
    units: O(n), no sort or hash table.

    >>> union_rows(np.array([0, 4, 5]), np.array([2, 4])).tolist()
    [0, 2, 4, 5]
    """
    n = int(max(np.max(a, initial=-1), np.max(b, initial=-1))) + 1
    mask = np.zeros(n, dtype=bool)
    mask[a] = True
    mask[b] = True
    return np.flatnonzero(mask)


def broadcast_column(a: np.ndarray) -> np.ndarray | None:
    """The (r, 1) column behind an (r, M) array that repeats one column with stride 0 (as
    ``np.broadcast_to`` makes), else None."""
    if a.ndim == 2 and (a.shape[1] == 1 or a.strides[1] == 0):
        return a[:, :1]
    return None


def blocked_moments(Y, rows: np.ndarray | None, L, w: np.ndarray | None = None):
    """Y_r' L (M × k) for each matrix L (or a tuple of them) and, with ``w``, (Y_r ∘ Y_r)' w ((M,)
    for a vector w, (M × k) for a matrix),
    where Y_r are the rows ``rows`` of Y (sorted indices; None: all rows) and L, w hold one row
    per row of Y_r.  Y is a matrix or a :class:`r3d_teach.core.quantiles.CentredRows`; its rows
    are read in blocks (Y_r is never copied as a whole).

    >>> import numpy as np
    >>> Y = np.arange(6.0).reshape(3, 2)
    >>> A, B = blocked_moments(Y, np.array([0, 2]), np.ones((2, 1)), np.ones(2))
    >>> A.ravel().tolist(), B.tolist()          # column sums and sums of squares of rows 0 and 2
    ([4.0, 6.0], [16.0, 26.0])
    """
    m = Y.shape[1]
    Ls = L if isinstance(L, tuple) else (L,)
    A = [np.zeros((m, a.shape[1])) for a in Ls]
    B = None if w is None else np.zeros((m,) + w.shape[1:])
    for blk in row_blocks(Y.shape[0] if rows is None else rows.size, m):
        z = take_rows(Y, blk if rows is None else rows[blk])
        if w is not None and isinstance(Y, np.ndarray) and rows is None:
            z = np.array(z)  # a block of Y itself: squared below, so copied
        for acc, a in zip(A, Ls):
            acc += z.T @ a[blk]
        if w is not None:
            np.multiply(z, z, out=z)
            B += (w[blk] @ z) if w.ndim == 1 else (z.T @ w[blk])
    return (tuple(A) if isinstance(L, tuple) else A[0]), B


def _horner(u: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Σ_k C_k u^k for u (r, M) or (r, 1) and C (p + 1, M) or (p + 1, 1), by Horner's rule."""
    out = np.broadcast_to(C[-1], np.broadcast_shapes(u.shape, C[-1].shape)).copy()
    for k in range(C.shape[0] - 2, -1, -1):
        out *= u
        out += C[k]
    return out


def _singular_message(side, count, p, col, h, labels):
    where = "right (x >= cutoff)" if side == "+" else "left (x < cutoff)"
    lab = f" at quantile {labels[col]:g}" if labels is not None else ""
    return (
        f"h: only {count} unit(s) with positive kernel weight on the {where} side{lab} "
        f"(h = {h:.4g}); a local polynomial of order p = {p} needs at least {p + 1} "
        "distinct ones. Increase h (or lower p)."
    )


def local_poly_fit(
    xc: np.ndarray,
    Y: np.ndarray,
    h: float | np.ndarray,
    p: int,
    kernel: str = "triangular",
    side: str = "+",
    labels: np.ndarray | None = None,
    unit_weights: np.ndarray | None = None,
) -> OneSidedFit:
    """Fit an order-``p`` local polynomial on one side of the cutoff, for every column of Y.

    Parameters
    ----------
    xc : (n,) running variable centred at the cutoff.
    Y : (n, M) or (n,) outcomes (e.g. the unit quantile matrix, or a treatment indicator), or a
        :class:`r3d_teach.core.quantiles.CentredRows`.  Only the rows inside the window are read,
        in blocks (never copied as a whole).
    h : scalar bandwidth, or (M,) one per column.
    p : order; kernel : kernel name; side : "+" or "-".
    labels : optional (M,) column labels (quantile levels) used in error messages.
    unit_weights : optional (n,) non-negative weights ω_i multiplying the kernel weights
        (weighted least squares with weights ω_i K_i; ``kernel_weights`` then holds ω_i K_i).

    Raises
    ------
    ValueError
        If fewer than p + 1 units have positive kernel weight on the side, or the local
        design matrix is numerically singular (e.g. ties in X̃).
    """
    return _fit(xc, Y, h, p, kernel, side, labels, unit_weights)[0]


def local_poly_fit_rss(xc, Y, h, p: int, kernel: str = "triangular", side: str = "+",
                       labels: np.ndarray | None = None, weights: str | int = "kernel"):
    """:func:`local_poly_fit` and a weighted residual sum of squares over the window,

        RSS(q) = Σ_i w_i(q) ê_i(q)²,   ê_i = Y_i - r_p(X̃_i/h)'α̂ (units with K_i > 0),

    with w_i = K_i (``weights="kernel"``) or w_i = a_i², the squared weights of the coefficient
    β̂_k = Σ_i a_i Y_i of X̃^k (``weights=k``, an int).  With one bandwidth for every column the
    sums come from the same pass over the window's rows as the fit (Σ w Y², Σ w r Y and
    Σ w r r'), unless cancellation would cost more than three digits (then the residuals are
    formed in a second pass).  Returns ``(fit, rss)``.

    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 201)
    >>> Y = np.column_stack([1 + x, (x > 0.2).astype(float)])
    >>> fit, rss = local_poly_fit_rss(x, Y, 0.5, 1, side="+")
    >>> e = np.where(fit.k_active > 0, Y[fit.rows] - fit.fitted_active(), 0.0)
    >>> bool(np.allclose(rss, (fit.k_active * e**2).sum(axis=0), rtol=1e-12, atol=1e-14))
    True
    """
    return local_poly_fits(xc, Y, [(h, p, weights)], kernel, side, labels)[0]


def local_poly_fits(xc, Y, specs, kernel: str = "triangular", side: str = "+",
                    labels: np.ndarray | None = None) -> list:
    """Several fits on one side from one pass over Y's rows: ``specs`` is a list of
    (h, p, weights) with ``weights`` None (the fit only) or as in :func:`local_poly_fit_rss`;
    returns a list of (fit, rss or None).  Fits with one bandwidth for every column share the
    pass over the union of their windows; others are computed one by one."""
    xc = np.asarray(xc, dtype=float)
    if not isinstance(Y, CentredRows):
        Y = np.asarray(Y, dtype=float)
        if Y.ndim == 1:
            Y = Y[:, None]
    m = Y.shape[1]
    plans = {}
    for j, (h, p, w) in enumerate(specs):
        hv = np.broadcast_to(np.asarray(h, dtype=float), (m,))
        if np.all(hv == hv[0]):
            plans[j] = _plan(xc, float(hv[0]), p, kernel, side, labels, None, m, w)
    out = [None] * len(specs)
    if plans:
        rows = plans[next(iter(plans))].rows
        for pl in plans.values():
            rows = union_rows(rows, pl.rows) if pl.rows is not rows else rows
        Ls, W = [], []
        for pl in plans.values():
            pos = np.searchsorted(rows, pl.rows) if pl.rows.size != rows.size else slice(None)
            same = pl.wR is pl.kR  # kernel weights: Σ K r Y is the fit's own moment
            pl.slots = (len(Ls), None if pl.w is None else (len(Ls) + (0 if same else 1), len(W)))
            Ls.append(_spread(pl.kR, pos, rows.size))
            if pl.w is not None:
                if not same:
                    Ls.append(_spread(pl.wR, pos, rows.size))
                W.append(_spread(pl.w[:, None], pos, rows.size))
        mom, sq = blocked_moments(Y, rows, tuple(Ls), np.hstack(W) if W else None)
        for j, pl in plans.items():
            i, rs = pl.slots
            out[j] = _finish(pl, Y, mom[i], None if rs is None else (mom[rs[0]], sq[:, rs[1]]))
            out[j][0].xc = xc
    for j, (h, p, w) in enumerate(specs):
        if out[j] is None:
            out[j] = _fit(xc, Y, h, p, kernel, side, labels, None, w)
    return out


def _spread(a: np.ndarray, pos, n: int) -> np.ndarray:
    """Rows of ``a`` placed at positions ``pos`` of an (n, ·) array of zeros."""
    if isinstance(pos, slice):
        return a
    out = np.zeros((n, a.shape[1]))
    out[pos] = a
    return out


@dataclass
class _Plan:
    """A fit with one bandwidth for every column, before the pass over Y: its rows, kernel
    weights, basis R = (X̃/d)^j and S⁻¹, and the weights ``w`` of the residual sum of squares."""

    rows: np.ndarray
    kw: np.ndarray
    R: np.ndarray
    kR: np.ndarray
    Sinv: np.ndarray
    d: float
    h: float
    p: int
    side: str
    m: int
    w: np.ndarray | None = None
    wR: np.ndarray | None = None
    slots: tuple = ()


def _plan(xc, h, p, kernel, side, labels, unit_weights, m, rss) -> _Plan:
    K = get_kernel(kernel)
    hv = np.full(m, h)
    # the side's units with |X̃| ≤ h: 0 ≤ X̃ ≤ h (right) or -h ≤ X̃ < 0 (left)
    inside = (xc >= 0) & (xc <= h) if side == "+" else (xc < 0) & (xc >= -h)
    if side not in SIDES:
        side_mask(xc, side)  # raises the error naming the argument
    rows = np.flatnonzero(inside)
    uw = None if unit_weights is None else _unit_weights(unit_weights, xc.size)
    xa = xc[rows]
    # the polynomial basis is built on v = X̃/d with d = min(h, max |X̃| in the window) so that
    # a bandwidth wider than the data (a global fit) stays well conditioned; the results are
    # converted to the basis u = X̃/h: coefficient k times (d/h)^k, S⁻¹ scaled accordingly
    span = max(float(np.abs(xa).max()), np.finfo(float).tiny) if xa.size else 1.0
    u = xa / h
    kw = K(u) if uw is None else K(u) * uw[rows]
    cnt = int((kw > 0).sum())
    if cnt < p + 1:
        raise ValueError(_singular_message(side, cnt, p, 0, h, None))
    d = min(h, span)
    R = _powers(xa / d, p)  # (n_a, p+1)
    kR = kw[:, None] * R
    S = R.T @ kR
    _check_condition(S[None], side, p, hv, labels, cnt)
    Sinv = np.linalg.inv(S)
    pl = _Plan(rows=rows, kw=kw, R=R, kR=kR, Sinv=Sinv, d=d, h=h, p=p, side=side, m=m)
    if rss is not None:
        pl.w = kw if rss == "kernel" else (kw * (R @ Sinv[:, rss]) / d**rss) ** 2
        pl.wR = kR if rss == "kernel" else pl.w[:, None] * R
    return pl


def _powers(v: np.ndarray, p: int) -> np.ndarray:
    """(n, p + 1) matrix of v^j, j = 0..p, as running products."""
    R = np.empty((v.size, p + 1))
    R[:, 0] = 1.0
    for j in range(1, p + 1):
        np.multiply(R[:, j - 1], v, out=R[:, j])
    return R


def _finish(pl: _Plan, Y, rhs: np.ndarray, rss_moments=None):
    """The fit (and the residual sum of squares) from Y_a'(K R) (and Y_a'(w R), Σ w Y²)."""
    p, m, R, kw = pl.p, pl.m, pl.R, pl.kw
    pw = np.arange(p + 1)
    coef = pl.Sinv @ rhs.T  # (p+1, M) in the v basis
    ss = None
    if rss_moments is not None:
        wmom, sq = rss_moments
        # Σ w ê² = Σ w Y² - 2 α'Σ w r Y + α'(Σ w r r')α, exact on the units with K > 0 (w = 0 elsewhere)
        ss = (sq - 2.0 * np.einsum("jm,mj->m", coef, wmom)
              + np.einsum("jm,jk,km->m", coef, R.T @ pl.wR, coef))
        if np.any(~(ss >= RSS_CANCELLATION * sq)):
            ss = _explicit_rss(Y, pl.rows, R, coef, kw[:, None], pl.w[:, None])
    RS = R @ pl.Sinv
    k_a = kw[:, None]
    w_a = (kw * RS[:, 0])[:, None]
    lev_a = (kw * np.sum(RS * R, axis=1))[:, None]
    k_a, w_a, lev_a = (np.broadcast_to(a, (pl.rows.size, m)) for a in (k_a, w_a, lev_a))
    g = (pl.h / pl.d) ** pw  # v^k = u^k (h/d)^k
    fit = OneSidedFit(side=pl.side, p=p, h=np.full(m, pl.h), coef=coef * g[:, None], xc=None, rows=pl.rows,
                      sinv=pl.Sinv * np.outer(g, g), k_active=k_a, w_active=w_a, lev_active=lev_a)
    return fit, ss


def _fit(xc, Y, h, p, kernel, side, labels, unit_weights, rss=None):
    xc = np.asarray(xc, dtype=float)
    if not isinstance(Y, CentredRows):
        Y = np.asarray(Y, dtype=float)
        if Y.ndim == 1:
            Y = Y[:, None]
    n, m = Y.shape
    hv = np.broadcast_to(np.asarray(h, dtype=float), (m,)).copy()
    if np.all(hv == hv[0]):
        pl = _plan(xc, float(hv[0]), p, kernel, side, labels, unit_weights, m, rss)
        if rss is None:
            rhs, _ = blocked_moments(Y, pl.rows, pl.kR)  # Y_a'(K R), one pass over the window's rows
            fit, ss = _finish(pl, Y, rhs)
        else:
            (rhs, wmom), sq = blocked_moments(Y, pl.rows, (pl.kR, pl.wR), pl.w[:, None])
            fit, ss = _finish(pl, Y, rhs, (wmom, sq[:, 0]))
        fit.xc = xc
        return fit, ss
    K = get_kernel(kernel)
    on_side = side_mask(xc, side)
    pw = np.arange(p + 1)
    # active rows: on this side and inside the widest window
    rows = np.flatnonzero(on_side & (np.abs(xc) <= hv.max()))
    uw = None if unit_weights is None else _unit_weights(unit_weights, n)
    xa = xc[rows]
    span = max(float(np.abs(xa).max()), np.finfo(float).tiny) if xa.size else 1.0
    ss = None
    Ya = take_rows(Y, rows)
    u = xa[:, None] / hv[None, :]
    k_a = K(u) if uw is None else K(u) * uw[rows][:, None]
    cnt = (k_a > 0).sum(axis=0)
    if (cnt < p + 1).any():
        j = int(np.argmin(cnt))
        raise ValueError(_singular_message(side, int(cnt[j]), p, j, hv[j], labels))
    d = np.minimum(hv, span)
    v = xa[:, None] / d[None, :]  # (n_a, M)
    # S_jk = Σ_i K_i v_i^{j+k}: a Hankel matrix of 2p + 1 kernel moments per column
    powers = [np.ones_like(v)]
    for _ in range(2 * p):
        powers.append(powers[-1] * v)
    mom = np.stack([(k_a * pw_).sum(axis=0) for pw_ in powers])  # (2p+1, M)
    S = mom[pw[:, None] + pw[None, :]].transpose(2, 0, 1)  # (M, p+1, p+1)
    _check_condition(S, side, p, hv, labels, cnt)
    Sinv = np.linalg.inv(S)
    kY = k_a * Ya
    rhs = np.stack([(kY * powers[j]).sum(axis=0) for j in range(p + 1)])  # (p+1, M)
    coef = np.einsum("mjk,km->jm", Sinv, rhs)
    w_a = k_a * _horner(v, Sinv[:, :, 0].T)
    # leverage K_i Σ_jk v^{j+k} S⁻¹_kj: antidiagonal sums of S⁻¹ as polynomial coefficients
    anti = np.zeros((2 * p + 1, m))
    for j in range(p + 1):
        for k in range(p + 1):
            anti[j + k] += Sinv[:, k, j]
    lev_a = k_a * _horner(v, anti)
    if rss is not None:
        w = k_a if rss == "kernel" else (k_a * _horner(v, Sinv[:, :, rss].T) / d[None, :] ** rss) ** 2
        e = np.where(k_a > 0, Ya - _horner(v, coef), 0.0)
        ss = (w * e**2).sum(axis=0)
    g = (hv / d)[:, None] ** pw[None, :]  # (M, p+1)
    coef = coef * g.T
    Sinv = Sinv * g[:, :, None] * g[:, None, :]
    fit = OneSidedFit(side=side, p=p, h=hv, coef=coef, xc=xc, rows=rows, sinv=Sinv,
                      k_active=k_a, w_active=w_a, lev_active=lev_a)
    return fit, ss


def _explicit_rss(Y, rows, R, coef, kw, w) -> np.ndarray:
    """Σ_i w_i (Y_i - R_i α)² over the rows with K_i > 0, residuals formed block by block."""
    out = np.zeros(Y.shape[1])
    for blk in row_blocks(rows.size, Y.shape[1]):
        e = take_rows(Y, rows[blk]) - R[blk] @ coef
        e = np.where(kw[blk] > 0, e, 0.0)
        out += (w[blk] * (e * e)).sum(axis=0)
    return out


def _unit_weights(w, n: int) -> np.ndarray:
    """Optional unit weights of :func:`local_poly_fit`: (n,), finite, non-negative."""
    w = np.asarray(w, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"unit_weights: must be {n} finite non-negative numbers, one per unit")
    return w


def _check_condition(S, side, p, hv, labels, cnt):
    if p == 0:
        return
    cond = np.linalg.cond(S)
    bad = ~np.isfinite(cond) | (cond > 1e13)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        where = "right (x >= cutoff)" if side == "+" else "left (x < cutoff)"
        lab = f" at quantile {labels[j]:g}" if labels is not None else ""
        c = int(np.atleast_1d(cnt)[j if np.ndim(cnt) else 0])
        raise ValueError(
            f"h: the local polynomial fit on the {where} side{lab} is singular "
            f"(h = {hv[j]:.4g}, {c} units in the window, too few distinct x values for "
            f"order p = {p}). Increase h (or lower p)."
        )


@dataclass
class BiasCorrectedFit:
    """Robust bias correction on one side (Calonico, Cattaneo and Titiunik 2014): the order-s
    fit at h, its leading bias estimated by the order-p fit at b (p > s).

    With c_h(q) = Σ_i w_i(h) X̃_i^{s+1} (the bias constant of the order-s fit, on the sample)
    and a_i(b) the weights of the coefficient of X̃^{s+1} in the order-p fit at b,

        m̂^bc(q) = Σ_i ω_i(q) Q_i(q),      ω_i = w_i(h) - c_h a_i(b).

    With b = h and p = s + 1 this is exactly the intercept of the order-p fit at h (the
    paper's estimator).  ``rows`` are the units inside either window; ``omega`` holds ω on
    those rows (n_r, M) (with one h and one b for every column: one column broadcast to M, a
    read-only view).
    """

    conventional: OneSidedFit  # order s at h
    bias: OneSidedFit          # order p at b
    rows: np.ndarray
    omega: np.ndarray = field(repr=False)
    bias_constant: np.ndarray = field(repr=False)
    #: c_h / b^{s+1}, computed as Σ_i w_i(h) (X̃_i/h)^{s+1} · (h/b)^{s+1} (free of the scale of x)
    bias_factor: np.ndarray | None = field(default=None, repr=False)

    @property
    def side(self) -> str:
        return self.conventional.side

    @property
    def intercept(self) -> np.ndarray:
        """m̂^bc(q), the bias-corrected boundary value (M,)."""
        if self.bias is self.conventional:  # p == s: no bias correction
            return self.conventional.intercept
        if self.bias_factor is not None:  # c_h β̂_{s+1}(b) = (c_h / b^{s+1}) α̂_{s+1}(b)
            return self.conventional.intercept - self.bias_factor * self.bias.coef[self.conventional.p + 1]
        return self.conventional.intercept - self.bias_constant * self.bias.coefficient(self.conventional.p + 1)

    @property
    def n_in_window(self) -> int:
        """Units with positive kernel weight at h (the minimum over the grid)."""
        col = broadcast_column(self.conventional.k_active)
        if col is not None:
            return int(np.count_nonzero(col > 0))
        return int((self.conventional.k_active > 0).sum(axis=0).min())


def bias_corrected_fit(xc: np.ndarray, Y: np.ndarray, h, b, s: int, p: int,
                       kernel: str = "triangular", side: str = "+",
                       labels: np.ndarray | None = None, bias: OneSidedFit | None = None) -> BiasCorrectedFit:
    """Fit order ``s`` at ``h`` and order ``p`` at ``b`` on one side and combine them into the
    robust bias-corrected boundary value (see :class:`BiasCorrectedFit`).

    ``h``, ``b``: scalars or (M,) arrays (one per column).  ``p == s`` means no bias
    correction (ω = w(h)).  ``bias``: the order-``p`` fit at ``b`` of the same Y when already
    computed (the bandwidth selector's pilot fit).

    Example
    -------
    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 401)
    >>> Y = (1 + x + 3 * x**2)[:, None]           # curvature: the local linear fit is biased
    >>> conv = local_poly_fit(x, Y, 0.5, 1, side="+").intercept[0]
    >>> bc = bias_corrected_fit(x, Y, 0.5, 0.8, s=1, p=2, side="+")
    >>> bool(abs(conv - 1) > 0.01), round(float(bc.intercept[0]), 10)   # bias removed exactly
    (True, 1.0)
    """
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if p == s:
        conv = local_poly_fit(xc, Y, h, s, kernel, side, labels=labels)
        return BiasCorrectedFit(conventional=conv, bias=conv, rows=conv.rows, omega=conv.w_active,
                                bias_constant=np.zeros(conv.n_columns))
    if bias is not None:
        conv = local_poly_fit(xc, Y, h, s, kernel, side, labels=labels)
    else:  # both fits from one pass over the rows of their windows
        (conv, _), (bias, _) = local_poly_fits(xc, Y, [(h, s, None), (b, p, None)], kernel, side, labels=labels)
    rows = union_rows(conv.rows, bias.rows)
    w_h = conv.active_values(conv.w_active, rows)
    # c_h a_i(b) computed in the scaled bases u = X̃/h and X̃/b: (Σ w u^{s+1}) (h/b)^{s+1} K r'S⁻¹e,
    # so the result is equivariant in x at any magnitude (no power of X̃ itself is formed)
    a_u = bias.active_values(bias.scaled_coefficient_weights_active(s + 1), rows)
    if conv.shared and bias.shared:  # one column of weights, broadcast to the M levels
        c_u = np.full(conv.n_columns, float(np.sum(conv.w_active[:, 0] * conv._u(conv.rows)[:, 0] ** (s + 1))))
        factor = c_u * (conv.h / bias.h) ** (s + 1)
        omega = np.broadcast_to(w_h[:, :1] - factor[0] * a_u[:, :1], w_h.shape)
    else:
        c_u = np.sum(conv.w_active * conv._u(conv.rows) ** (s + 1), axis=0)
        factor = c_u * (conv.h / bias.h) ** (s + 1)
        omega = w_h - factor[None, :] * a_u
    with np.errstate(over="ignore", under="ignore"):
        c_h = c_u * conv.h ** (s + 1)  # the bias constant itself (diagnostics)
    return BiasCorrectedFit(conventional=conv, bias=bias, rows=rows, omega=omega, bias_constant=c_h,
                            bias_factor=factor)
