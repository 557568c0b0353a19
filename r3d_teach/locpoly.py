"""One-sided local polynomial regression of every quantile at once (book chapter 2).

For side ± (plus: X̃ ≥ 0, the cutoff itself counts as treated; minus: X̃ < 0), bandwidth h and
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
>>> from r3d_teach.locpoly import local_poly_fit
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

__all__ = ["OneSidedFit", "local_poly_fit", "side_mask"]


def side_mask(xc: np.ndarray, side: str) -> np.ndarray:
    """Units on a side: plus is X̃ ≥ 0 (the cutoff counts as treated), minus is X̃ < 0."""
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

    @property
    def in_window(self) -> np.ndarray:
        """(n, M) boolean: units with positive kernel weight on this side."""
        return self.kernel_weights > 0

    def coefficient(self, k: int) -> np.ndarray:
        """Unscaled coefficient β_k = α_k / h^k of X̃^k (so m^{(k)}(0) = k! β_k)."""
        return self.coef[k] / self.h**k

    def _powers(self, rows) -> np.ndarray:
        u = self.xc[rows, None] / self.h[None, :]
        return u[..., None] ** np.arange(self.p + 1)  # (r, M, p+1)

    def coefficient_weights_active(self, k: int) -> np.ndarray:
        """(n_a, M) weights a_i on the active rows with β̂_k = Σ_i a_i Y_i:
        a_i = K_i r_i'S⁻¹e_k / h^k (k = 0: the equivalent-kernel weights)."""
        P = self._powers(self.rows)
        if self.sinv.ndim == 2:
            col = P @ self.sinv[:, k]
        else:
            col = np.einsum("nmj,mj->nm", P, self.sinv[:, :, k])
        return self.k_active * col / self.h[None, :] ** k

    def coefficient_weights(self, k: int) -> np.ndarray:
        """(n, M) version of :meth:`coefficient_weights_active` (zero off the window).
        Used for sandwich variances, Var(β̂_k) ≈ Σ_i a_i² ê_i²."""
        return self._full(self.coefficient_weights_active(k))

    def fitted_active(self) -> np.ndarray:
        """(n_a, M) fitted values r_p(X̃_i/h)'α̂ at the active units."""
        return np.einsum("nmk,km->nm", self._powers(self.rows), self.coef)

    def fitted(self) -> np.ndarray:
        """(n, M) fitted values r_p(X̃_i/h)'α̂ at every unit's own X̃ (all units)."""
        return np.einsum("nmk,km->nm", self._powers(slice(None)), self.coef)


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
) -> OneSidedFit:
    """Fit an order-``p`` local polynomial on one side of the cutoff, for every column of Y.

    Parameters
    ----------
    xc : (n,) running variable centred at the cutoff.
    Y : (n, M) or (n,) outcomes (e.g. the unit quantile matrix, or a treatment indicator).
    h : scalar bandwidth, or (M,) one per column.
    p : order; kernel : kernel name; side : "+" or "-".
    labels : optional (M,) column labels (quantile levels) used in error messages.

    Raises
    ------
    ValueError
        If fewer than p + 1 units have positive kernel weight on the side, or the local
        design matrix is numerically singular (e.g. ties in X̃).
    """
    xc = np.asarray(xc, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    n, m = Y.shape
    K = get_kernel(kernel)
    hv = np.broadcast_to(np.asarray(h, dtype=float), (m,)).copy()
    on_side = side_mask(xc, side)
    pw = np.arange(p + 1)
    # active rows: on this side and inside the widest window
    rows = np.flatnonzero(on_side & (np.abs(xc) <= hv.max()))
    xa = xc[rows]
    Ya = Y[rows]
    if np.all(hv == hv[0]):
        u = xa / hv[0]
        kw = K(u)
        cnt = int((kw > 0).sum())
        if cnt < p + 1:
            raise ValueError(_singular_message(side, cnt, p, 0, hv[0], None))
        R = u[:, None] ** pw  # (n_a, p+1)
        S = R.T @ (kw[:, None] * R)
        _check_condition(S[None], side, p, hv, labels, cnt)
        Sinv = np.linalg.inv(S)
        coef = Sinv @ ((kw[:, None] * R).T @ Ya)  # (p+1, M)
        RS = R @ Sinv
        k_a = kw[:, None]
        w_a = (kw * RS[:, 0])[:, None]
        lev_a = (kw * np.sum(RS * R, axis=1))[:, None]
        k_a, w_a, lev_a = (np.broadcast_to(a, (rows.size, m)) for a in (k_a, w_a, lev_a))
    else:
        u = xa[:, None] / hv[None, :]
        k_a = K(u)
        cnt = (k_a > 0).sum(axis=0)
        if (cnt < p + 1).any():
            j = int(np.argmin(cnt))
            raise ValueError(_singular_message(side, int(cnt[j]), p, j, hv[j], labels))
        R = u[..., None] ** pw  # (n_a, M, p+1)
        KR = k_a[..., None] * R
        S = np.einsum("nmj,nmk->mjk", KR, R)
        _check_condition(S, side, p, hv, labels, cnt)
        Sinv = np.linalg.inv(S)
        coef = np.einsum("mjk,nmk->jm", Sinv, KR * Ya[..., None])
        RS = np.einsum("nmj,mjk->nmk", R, Sinv)
        w_a = k_a * RS[..., 0]
        lev_a = k_a * np.sum(RS * R, axis=2)
    return OneSidedFit(side=side, p=p, h=hv, coef=coef, xc=xc, rows=rows, sinv=Sinv,
                       k_active=k_a, w_active=w_a, lev_active=lev_a)


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
