"""Data-driven bandwidths: MSE (per quantile) and IMSE (one for the curve) plug-ins (chapter 4).

Estimation uses order p (default 2) with a bandwidth that is optimal for order s = p - 1
(default s = 1), which is equivalent to explicit bias correction (Calonico, Cattaneo and
Titiunik 2014, Remark 7; Van Dijcke 2025, §4.1 and App. A-4.2).  For the order-s fit on
side ± (X̃ = X - c):

    bias ≈ h^{s+1} B_±(q),   B_±(q) = c_B± β_±,{s+1}(q),     β_{s+1} = m^{(s+1)}(0)/(s+1)!
    var  ≈ V_±(q) / (n h),   V_±(q) = σ²_±(q) c_V± / f_X(c),

with the exact kernel constants c_B = e_0'Γ⁻¹Λ and c_V = e_0'Γ⁻¹ΨΓ⁻¹e_0
(:mod:`r3d_teach.core.kernels`).  The MSE-optimal bandwidth per quantile (eq. A-8) and the
IMSE-optimal one for the Fréchet estimator (eq. A-9, integrals over the grid) are

    h*(q) = [ (V_+ + V_-) / (2(s+1) ((B_+ - B_-)² + R)) ]^{1/(2s+3)} n^{-1/(2s+3)},
    h*_⊕  = [ ∫(V_+ + V_-) / (2(s+1) ∫((B_+ - B_-)² + R)) ]^{1/(2s+3)} n^{-1/(2s+3)},

where R = 3 Σ_± c_B±² Var̂(β̂_±,{s+1}) is the regularisation of Calonico, Cattaneo and
Titiunik (2014) (rdrobust's ``scaleregul = 1``): when both sides share the same curvature the
unregularised optimum is infinite and the plug-in returns noise.

Steps:

1. density f̂ = (n c_n)⁻¹ Σ K(X̃_i / c_n), c_n = 1.06 σ̂_X n^{-1/5}, with the chosen kernel;
2. a rough pilot h⁰ from the same formula with global polynomials of order s + 2 on each side
   (β_{s+1}, its sandwich variance and the residual variance);
3. the derivative β_{s+1} from a local polynomial of order s + 1 at its own MSE-optimal pilot
   b_±, b^{2s+5} = (2s+3) σ̂² c_Vd / (2 (c_Bd β̂_{s+2})² n f̂), with β̂_{s+2} and σ̂² from a
   global polynomial of order s + 3 and c_Bd, c_Vd the constants of the (s+1)-th coefficient;
   b is clipped to [distance to the (s+3)-th nearest unit, max |X̃|];
4. σ̂²_±(q) = Σ K_i ê_i(q)² / Σ K_i over every unit in the window at h⁰ (order-s fit);
5. the plug-in above; "frechet" integrates numerator, bias and R over the grid (trapezoid);
6. h clipped to [h_min, h_max], h_min just above the distance to the k-th nearest unit on
   either side, k = max(p + 2, ``min_units``) (default 10, like rdrobust's ``bwcheck``: a
   window with a handful of units makes the fit explode in small samples), h_max = max |X̃|;
   a flat quantile (0/0) maps to h_max;
7. optional coverage-error correction (Calonico, Cattaneo and Farrell 2018):
   h · n^{-s/((2s+3)(s+3))}, then clipped again.

The fuzzy denominator's bandwidth h_den follows the same steps with T in place of Q(q).
With sampling weights the unit quantiles in every step are the weighted ones.

Large data (n × M in the millions): Q̂ is read in blocks of rows and never copied.  The global
polynomials of steps 2 and 3 come from one pass (the QR factorisation of the small n_± × (s+4)
design and the moments Q_X'Z, Σ Z²), steps 3 and 4's local fits from one pass over the rows of
their windows (sums of squares from moments; where cancellation would cost more than three
digits the residuals are formed explicitly), each column centred at its median first.

Example
-------
>>> import numpy as np
>>> from r3d_teach import select_bandwidth
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(-1, 1, 400)
>>> y = [rng.normal(1 + x_i + (x_i >= 0), 1, 100) for x_i in x]
>>> bw = select_bandwidth(x, y, method="frechet", quantiles=np.arange(1, 10) / 10)
>>> 0.05 < bw.h < 1.0
True
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.linalg

from .kernels import bias_variance_constants, get_kernel
from .locpoly import RSS_CANCELLATION, SIDES, local_poly_fits, side_mask
from .quantiles import row_blocks, standardised_rows, take_rows
from .summary import Summary

__all__ = ["BandwidthSelection", "density_at_cutoff", "bandwidth_from_matrix", "DEFAULT_MIN_UNITS"]

#: data-driven windows keep at least this many units per side (rdrobust's bwcheck)
DEFAULT_MIN_UNITS = 10
#: fewer distinct values of x than this on a side: warn (mass points, e.g. ages or years)
FEW_MASS_POINTS = 20
#: the window's lower bound sits this factor beyond the k-th nearest distinct value
BOUND_MARGIN = 1.01


@dataclass
class BandwidthSelection:
    """The selected bandwidth(s) and every pilot quantity behind them.

    ``h`` is a float ("frechet") or an (M,) array ("simple"); ``h_den`` the fuzzy
    denominator's bandwidth (None in sharp designs).  Per-side arrays are keyed "+" / "-".
    """

    h: float | np.ndarray
    h_den: float | None
    method: str
    s: int
    p: int
    kernel: str
    n: int
    quantiles: np.ndarray
    f_hat: float
    density_bandwidth: float
    c_B: dict
    c_V: dict
    h_pilot: float | np.ndarray
    b_pilot: dict
    beta: dict
    var_beta: dict
    sigma2: dict
    B: dict
    V: dict
    regularisation: np.ndarray
    h_unclipped: float | np.ndarray
    h_min: float
    h_max: float
    coverage_factor: float
    notes: list = field(default_factory=list)
    denominator: "BandwidthSelection | None" = field(default=None, repr=False)
    #: the order s + 1 fits at b of step 3 on each side, fitted to (Y - centre) / unit: (fits, centre, unit)
    pilot_fits: tuple | None = field(default=None, repr=False)

    def bias_fit(self, side: str, p: int, kernel: str, b, y_scale: float = 1.0):
        """Step 3's order s + 1 fit at b on ``side``, as the fit of Y / ``y_scale`` (a local
        polynomial fit is equivariant: the fit of a + c·Z has coefficients c·α + a·e_0), when it
        is the order-``p`` fit at ``b`` with ``kernel`` that the estimate needs; else None.  Saves
        the estimate a pass over the rows of the window at b."""
        if self.pilot_fits is None or p != self.s + 1 or kernel != self.kernel:
            return None
        fits, centre, unit = self.pilot_fits
        fit = fits.get(side)
        if fit is None or not fit.shared or np.ndim(b) != 0 or float(b) != float(fit.h[0]):
            return None
        coef = fit.coef * (unit / y_scale)
        coef[0] += centre / y_scale
        return replace(fit, coef=coef)

    def summary(self):
        """A :class:`r3d_teach.core.summary.Summary` of the plug-in's pieces: header lines and the
        per-quantile table (q, h, bias constants B±, variance constants V±, regularisation)."""
        h = np.broadcast_to(np.asarray(self.h, dtype=float), self.quantiles.shape)
        df = pd.DataFrame({
            "q": self.quantiles, "h": h,
            "B+": self.B["+"], "B-": self.B["-"], "V+": self.V["+"], "V-": self.V["-"],
            "regularisation": self.regularisation,
        })
        hh = np.atleast_1d(self.h)
        lines = [f"Bandwidth selection ({self.method}, order s = {self.s} for p = {self.p}, "
                 f"{self.kernel} kernel, n = {self.n})",
                 f"  density at cutoff f̂ = {self.f_hat:.4g} (KDE bandwidth {self.density_bandwidth:.4g})",
                 f"  h = {hh.min():.4g}" + (f" .. {hh.max():.4g}" if hh.size > 1 else "")
                 + f"  (bounds [{self.h_min:.4g}, {self.h_max:.4g}])",
                 "  b (bias correction) = " + ", ".join(
                     f"{np.min(self.b_pilot[side]):.4g} ({'right' if side == '+' else 'left'})" for side in SIDES)]
        if self.h_den is not None:
            lines.append(f"  h_den (first stage) = {self.h_den:.4g}")
        lines += [f"  note: {note}" for note in self.notes]
        return Summary(header=lines, table=df, tests=pd.DataFrame())


def density_at_cutoff(xc: np.ndarray, kernel: str) -> tuple[float, float]:
    """Kernel density estimate of X at the cutoff: (f̂, c_n) with c_n = 1.06 σ̂_X n^{-1/5}."""
    n = xc.size
    cn = 1.06 * np.std(xc, ddof=1) * n ** (-0.2)
    a = np.abs(xc)
    near = xc[a <= cn]  # the kernel's support: every other unit adds 0
    f = float(np.sum(get_kernel(kernel)(near / cn)) / n / cn)
    return f, float(cn)


#: a column is flat when its range is at most this fraction of the largest deviation of Q from
#: its median (the bias and variance of a flat column are exactly 0, whatever the rounding noise)
FLAT_RANGE = 1e-12


@dataclass
class GlobalFit:
    """Two global polynomial fits on one side, of orders ``orders`` = (s + 2, s + 3): for each,
    the unscaled coefficients (order + 1, M) and the residual variance s² = RSS / (n_s - order - 1)
    (M,); ``var_coef`` = Σ_i a_i² ê_i² (M,), the sandwich variance of the coefficient of x^{s+1}
    in the order s + 2 fit (a_i its OLS weights); ``sum_sq`` = Σ_i Z_i² (M,) on this side."""

    orders: tuple
    coef: dict
    s2: dict
    var_coef: np.ndarray
    sum_sq: np.ndarray


def _pinv_factors(R: np.ndarray):
    """pinv(R) and an orthonormal basis of R's range, with numpy's ``pinv`` rule (singular values
    at most 1e-15 × the largest are dropped)."""
    U, sv, Vt = np.linalg.svd(R, full_matrices=False)
    large = sv > 1e-15 * sv.max() if sv.size else sv > 0
    inv = np.divide(1.0, sv, out=np.zeros_like(sv), where=large)
    return Vt.T @ (inv[:, None] * U.T), U[:, large]


def _thin_qr(X: np.ndarray):
    """Thin QR factorisation X = Q R of a tall Fortran-ordered matrix, Q written over X (as
    ``scipy.linalg.qr(X, mode="economic")``, without a second n × k array)."""
    n, k = X.shape
    if n < k:
        return scipy.linalg.qr(X, mode="economic", overwrite_a=True, check_finite=False)
    qr, tau, _, info = scipy.linalg.lapack.dgeqrf(X, overwrite_a=1)
    R = np.triu(qr[:k])
    Q, _, info2 = scipy.linalg.lapack.dorgqr(qr, tau, overwrite_a=1)
    if info != 0 or info2 != 0:  # pragma: no cover - LAPACK argument errors
        raise np.linalg.LinAlgError("QR factorisation failed")
    return Q, R


def _global_fits(xc: np.ndarray, masks: dict, Z, s: int) -> dict:
    """OLS of every column of Z on (1, x, …, x^order) on each side, orders s + 2 and s + 3
    (:class:`GlobalFit` per side), in one pass over Z's rows.

    With the scaled design X = (x / max|x|)^j = Q_X R (thin QR; the singular values of R are
    X's) the least-squares solution is β̂ = pinv(X) Z = pinv(R) Q_X'Z, exactly numpy's
    ``pinv(X) @ Z`` (same rule for dropping small singular values), and the fitted values are
    Q_X Π W with W = Q_X'Z and Π the projector onto the range of R.  The pass accumulates W, the
    a²-weighted W and the sums Σ Z², Σ a² Z² (a the OLS weights of the coefficient of x^{s+1});
    then RSS = Σ Z² - |Π W|² and Σ a² ê² = Σ a² Z² - 2 (ΠW)'(Q_X' diag(a²) Z) + (ΠW)'(Q_X' diag(a²) Q_X)(ΠW).
    Where these differences lose more than three digits to cancellation, the residuals are
    formed explicitly in a second pass over that side's rows.
    """
    n, m = Z.shape
    lo, hi = s + 2, s + 3
    parts = {}
    for side in SIDES:
        xs = xc[masks[side]]
        scale = max(float(np.max(np.abs(xs))), 1e-300)
        u = xs / scale
        X = np.empty((xs.size, hi + 1), order="F")  # column by column (u^j = u^{j-1} u): no temporary
        X[:, 0] = 1.0
        for j in range(1, hi + 1):
            np.multiply(X[:, j - 1], u, out=X[:, j])
        # Householder QR (LAPACK geqrf/orgqr); QX: (n_s, r), r = min(n_s, hi + 1), in X's memory
        QX, RX = _thin_qr(X)
        fac = {o: _pinv_factors(RX[:, :o + 1]) for o in (lo, hi)}
        a = QX @ fac[lo][0][s + 1]  # OLS weights of the coefficient of x^{s+1} (scaled basis), order lo
        parts[side] = dict(xs=xs, scale=scale, QX=QX, fac=fac, a2=a * a)
    # one pass over Z's rows: per side Z'[Q_X, a²Q_X] and (Z∘Z)'[1, a²]; a block's rows of a side
    # are consecutive rows of that side's design
    for side in SIDES:
        P = parts[side]
        P["mom"], P["sq"] = np.zeros((m, 2 * P["QX"].shape[1])), np.zeros((m, 2))
    seen = dict.fromkeys(SIDES, 0)
    for blk in row_blocks(n, m):
        right = masks["+"][blk]
        for side, idx in (("+", np.flatnonzero(right)), ("-", np.flatnonzero(~right))):
            zs = take_rows(Z, blk.start + idx)
            P, k = parts[side], idx.size
            r = P["QX"].shape[1]
            qb, ab = P["QX"][seen[side]:seen[side] + k], P["a2"][seen[side]:seen[side] + k]
            seen[side] += k
            L = np.empty((k, 2 * r + 2))  # this block's [Q_X, a²Q_X, 1, a²]
            L[:, :r] = qb
            np.multiply(ab[:, None], qb, out=L[:, r:2 * r])
            L[:, 2 * r] = 1.0
            L[:, 2 * r + 1] = ab
            P["mom"] += zs.T @ L[:, :2 * r]
            np.multiply(zs, zs, out=zs)
            P["sq"] += zs.T @ L[:, 2 * r:]
    out = {}
    for side in SIDES:
        P = parts[side]
        QX = P["QX"]
        r = QX.shape[1]
        W, G2 = P["mom"][:, :r].T, P["mom"][:, r:].T   # Q_X'Z and Q_X' diag(a²) Z (r, M)
        zz, azz = P["sq"][:, 0], P["sq"][:, 1]         # Σ Z², Σ a² Z²
        n_s = P["xs"].size
        coef, s2, rss, fitted_q = {}, {}, {}, {}
        for o in (lo, hi):
            pinv_r, basis = P["fac"][o]
            coef[o] = pinv_r @ W                   # scaled basis
            proj = basis.T @ W
            rss[o] = zz - np.einsum("km,km->m", proj, proj)
            fitted_q[o] = basis @ proj              # Π W: the fitted values' coordinates in Q_X
        cq = fitted_q[lo]
        var_b = azz - 2.0 * np.einsum("km,km->m", cq, G2) + np.einsum(
            "km,kl,lm->m", cq, QX.T @ (P["a2"][:, None] * QX), cq)
        ok = all(np.all(rss[o] >= RSS_CANCELLATION * zz) for o in (lo, hi)) and np.all(var_b >= RSS_CANCELLATION * azz)
        if not ok:
            rss, var_b = _explicit_global_residuals(Z, np.flatnonzero(masks[side]), P["xs"] / P["scale"], coef,
                                                    P["a2"], lo, hi)
        unscale = P["scale"] ** -np.arange(hi + 1.0)
        for o in (lo, hi):
            coef[o] = coef[o] * unscale[:o + 1, None]
            s2[o] = rss[o] / max(n_s - (o + 1), 1)
        out[side] = GlobalFit(orders=(lo, hi), coef=coef, s2=s2, var_coef=var_b * unscale[s + 1] ** 2, sum_sq=zz)
    return out


def _explicit_global_residuals(Z, rows, u, coef, a2, lo, hi):
    """RSS of both orders and Σ a² ê² of order ``lo``, from residuals ê = Z - X β̂ (X the powers
    of the scaled x, ``u``) formed block by block (the pass :func:`_global_fits` falls back on
    when the moment identities lose digits)."""
    m = Z.shape[1]
    rss = {lo: np.zeros(m), hi: np.zeros(m)}
    var_b = np.zeros(m)
    for blk in row_blocks(rows.size, m):
        z = take_rows(Z, rows[blk])
        X = np.empty((z.shape[0], hi + 1))  # u^j as products, as in _global_fits
        X[:, 0] = 1.0
        for j in range(1, hi + 1):
            np.multiply(X[:, j - 1], u[blk], out=X[:, j])
        for o in (lo, hi):
            e = z - X[:, :o + 1] @ coef[o]
            e *= e
            rss[o] += e.sum(axis=0)
            if o == lo:
                var_b += a2[blk] @ e
    return rss, var_b


def _flat_columns(Y: np.ndarray, glob: dict, masks: dict, spread: float, unit: float) -> np.ndarray:
    """Columns whose range is at most ``FLAT_RANGE`` × ``spread`` (the largest deviation of Y from
    its median).  Each Z = (Y - C) / unit is centred inside its column's range, so
    Σ_side Z² / n_side > (FLAT_RANGE · spread / unit)² (with a margin for rounding) proves a
    column is not flat; the range is computed only for the other columns."""
    m = Y.shape[1]
    certain = np.zeros(m, dtype=bool)
    for side in SIDES:
        certain |= glob[side].sum_sq > (1.1 * FLAT_RANGE * spread / unit) ** 2 * max(int(masks[side].sum()), 1)
    cand = np.flatnonzero(~certain)
    flat = np.zeros(m, dtype=bool)
    if cand.size:
        lo = np.full(cand.size, np.inf)
        hi = np.full(cand.size, -np.inf)
        for blk in row_blocks(Y.shape[0], cand.size):
            b = Y[blk][:, cand]
            lo = np.minimum(lo, b.min(axis=0))
            hi = np.maximum(hi, b.max(axis=0))
        flat[cand] = (hi - lo) / spread <= FLAT_RANGE
    return flat


def _kth(values: np.ndarray, k: int) -> float:
    """The k-th smallest of sorted ``values`` (the largest when there are fewer than k)."""
    return float(values[min(k, values.size) - 1])


def _sorted_distances(xs_abs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|X̃| on one side sorted, and its distinct values (sorted): the k-th nearest unit and the
    k-th nearest distinct value (mass points count once, as rdrobust's ``masspoints="adjust"``)."""
    srt = np.sort(xs_abs)
    keep = np.empty(srt.size, dtype=bool)
    keep[:1] = True
    np.not_equal(srt[1:], srt[:-1], out=keep[1:])
    return srt, srt[keep]


def _ratio_to_h(num, den, n, s, h_min, h_max):
    """h = [num / (2(s+1) den)]^{1/(2s+3)} n^{-1/(2s+3)} with 0/0 and x/0 mapped to h_max."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = (num / (2.0 * (s + 1) * den)) ** (1.0 / (2 * s + 3)) * n ** (-1.0 / (2 * s + 3))
    h = np.where((den <= 0) | ~np.isfinite(h), h_max, h)
    h = np.where(num <= 0, np.where(den > 0, h_min, h_max), h)
    return h


def _integrate(v: np.ndarray, q: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if q.size == 1:
        return np.float64(v[0])
    return np.float64(np.trapezoid(v, q))


def _plugin(num, den, q, n, s, h_min, h_max, integ):
    """The (I)MSE plug-in: per column, or with numerator and denominator integrated over q."""
    if integ:
        return float(_ratio_to_h(_integrate(num, q), _integrate(den, q), n, s, h_min, h_max))
    return _ratio_to_h(num, den, n, s, h_min, h_max)


def bandwidth_from_matrix(
    xc: np.ndarray,
    Y: np.ndarray,
    quantiles: np.ndarray,
    *,
    method: str = "frechet",
    p: int = 2,
    s: int = 1,
    kernel: str = "triangular",
    coverage_correction: bool = False,
    integrate: bool | None = None,
    min_units: int = DEFAULT_MIN_UNITS,
    value_range: tuple[float, float] | None = None,
) -> BandwidthSelection:
    """The plug-in on a prepared outcome matrix ``Y`` (n × M) and centred running variable.

    Inputs are trusted (validated by :func:`select_bandwidth` or ``r3d``).  ``integrate``
    (default: method == "frechet") returns one IMSE bandwidth instead of one per column;
    ``min_units``: the selected window holds at least this many units on each side (or all of
    a side's units if it has fewer), and at least p + 2.  ``value_range``: (min Y, max Y) when
    already known (saves a pass).  Memory: Y is read in blocks of rows, never copied.
    """
    xc = np.asarray(xc, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    # scale-free: every pilot below is computed on Z = (Y - centre) / Z.unit, each column centred
    # (read in blocks of rows, never copied whole), and reported in Y's units
    Z, spread = standardised_rows(Y, value_range)
    # and on x / 2^e with max|x / 2^e| in [1/2, 1): dividing by a power of two is exact, so the
    # selection is equivariant in x (x · 2^k gives exactly 2^k times the bandwidths) and the
    # pilots' powers of x (up to x^(2(s+3))) neither overflow nor underflow for |x| near 1e±50
    xc_given = xc
    xc, x_scale = _unit_scale(xc)
    q = np.asarray(quantiles, dtype=float)
    n = xc.size
    integ = (method == "frechet") if integrate is None else integrate
    notes: list[str] = []
    f_hat, cn = density_at_cutoff(xc, kernel)
    if not f_hat > 0:
        raise ValueError("x: the estimated density of x at the cutoff is zero; no units near the cutoff")
    masks = {side: side_mask(xc, side) for side in SIDES}
    absx = np.abs(xc)
    dist = {side: _sorted_distances(absx[masks[side]]) for side in SIDES}  # (all, distinct) per side
    distinct = {side: dist[side][1].size for side in SIDES}
    for side in SIDES:
        where = "right (x >= cutoff)" if side == "+" else "left (x < cutoff)"
        if distinct[side] < p + 2:
            raise ValueError(
                f"x: only {distinct[side]} distinct value(s) of x on the {where} side; a local polynomial "
                f"of order p = {p} with a data-driven bandwidth needs at least {p + 2} (lower p, or pass h=)")
    few = {side: distinct[side] for side in SIDES if distinct[side] < FEW_MASS_POINTS}
    if few:
        txt = ", ".join(f"{v} {'right' if side == '+' else 'left'}" for side, v in few.items())
        notes.append(f"few mass points in x ({txt} of the cutoff): windows keep at least p + 2 distinct values")
        warnings.warn(f"x: the running variable has few distinct values ({txt} of the cutoff); the "
                      "data-driven bandwidth keeps at least p + 2 of them on each side, and inference "
                      "with so few support points is fragile", UserWarning, stacklevel=3)
    h_max = float(absx.max())
    k_min = max(p + 2, int(min_units))
    h_min = max(max(_kth(dist[side][0], k_min), _kth(dist[side][1], p + 2)) for side in SIDES) * BOUND_MARGIN
    h_min = min(h_min, h_max)
    # a side with too few distinct values for the global pilots (order s + 3) gets the whole side
    global_ok = all(distinct[side] >= s + 4 for side in SIDES)
    cB, cV, cBd, cVd = {}, {}, {}, {}
    for side in SIDES:
        cB[side], cV[side] = bias_variance_constants(kernel, s, side)
        cBd[side], cVd[side] = bias_variance_constants(kernel, s + 1, side, coefficient=s + 1)

    # Steps 2 and 3's global polynomials (orders s + 2 and s + 3), one pass over the rows
    glob = _global_fits(xc, masks, Z, s)
    # columns that do not vary at all (e.g. a quantile where every unit has the same value):
    # their bias and variance are exactly 0, whatever rounding noise the fits leave
    flat = _flat_columns(Y, glob, masks, spread, Z.unit)

    # Step 2: rough pilot h0 from global polynomials of order s + 2
    Bg, Vg, Rg = {}, {}, np.zeros(Y.shape[1])
    for side in SIDES:
        g = glob[side]
        Bg[side] = cB[side] * g.coef[s + 2][s + 1]
        Vg[side] = g.s2[s + 2] * cV[side] / f_hat
        Rg = Rg + 3.0 * cB[side] ** 2 * g.var_coef
    num0 = np.where(flat, 0.0, Vg["+"] + Vg["-"])
    den0 = np.where(flat, 0.0, (Bg["+"] - Bg["-"]) ** 2 + Rg)
    h0 = np.clip(_plugin(num0, den0, q, n, s, h_min, h_max, integ), h_min, h_max)

    # Step 3: derivative-rate pilot b and the (s+1)-th coefficient from an order s+1 local fit
    b, beta, var_beta = {}, {}, {}
    for side in SIDES:
        g = glob[side]
        num_b = np.where(flat, 0.0, (2 * s + 3) * g.s2[s + 3] * cVd[side])
        den_b = np.where(flat, 0.0, 2.0 * (cBd[side] * g.coef[s + 3][s + 2]) ** 2 * n * f_hat)
        if integ:
            num_b, den_b = _integrate(num_b, q), _integrate(den_b, q)
        num_b, den_b = np.asarray(num_b, dtype=float), np.asarray(den_b, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            bb = (num_b / den_b) ** (1.0 / (2 * s + 5))
        b_lo = min(max(_kth(dist[side][0], s + 3), _kth(dist[side][1], max(s + 3, p + 2))) * BOUND_MARGIN, h_max)
        bb = np.where((np.asarray(den_b) <= 0) | ~np.isfinite(bb), h_max, bb)
        b[side] = np.clip(bb, b_lo, h_max)

    # Step 3's order s+1 fit at b and step 4's order s fit at the pilot h0, from one pass over the
    # rows of both windows: β̂_{s+1} and Σ_i a_i² ê_i² (a_i the weights of β̂_{s+1}, ê this fit's
    # residuals); the residual variance σ̂² = Σ K_i ê_i² / Σ K_i at h0 (every unit in the window)
    sigma2, pilot_fits = {}, {}
    for side in SIDES:
        (fit, var_beta[side]), (fit0, ss) = local_poly_fits(
            xc, Z, [(b[side], s + 1, s + 1), (h0, s, "kernel")], kernel, side, labels=q)
        beta[side] = fit.coefficient(s + 1)
        pilot_fits[side] = fit
        kw = fit0.k_active
        total = float(kw[:, 0].sum()) if fit0.shared else kw.sum(axis=0)
        sigma2[side] = ss / total

    # Step 5: plug-in with regularisation
    Bq = {side: cB[side] * beta[side] for side in SIDES}
    Vq = {side: sigma2[side] * cV[side] / f_hat for side in SIDES}
    R = 3.0 * sum(cB[side] ** 2 * var_beta[side] for side in SIDES)
    num = np.where(flat, 0.0, Vq["+"] + Vq["-"])
    den = np.where(flat, 0.0, (Bq["+"] - Bq["-"]) ** 2 + R)
    h_raw = _plugin(num, den, q, n, s, h_min, h_max, integ)
    factor = n ** (-s / ((2 * s + 3) * (s + 3))) if coverage_correction else 1.0
    h = np.clip(np.asarray(h_raw) * factor, h_min, h_max)
    hr = np.atleast_1d(np.asarray(h_raw) * factor)
    if (hr < h_min).any():
        notes.append(f"h hit its lower bound h_min = {h_min * x_scale:.4g} at {(hr < h_min).sum()} quantile(s)")
    if (hr > h_max).any():
        notes.append(f"h hit its upper bound h_max = {h_max * x_scale:.4g} at {(hr > h_max).sum()} quantile(s)")
    if not global_ok:
        # too few distinct values for the global pilots: a global fit on each side
        notes.append("too few distinct values of x for the curvature pilots: h = b = the whole side")
        h = np.full_like(np.asarray(h, dtype=float), h_max)
        b = {side: np.full_like(np.asarray(b[side], dtype=float), h_max) for side in SIDES}
    # back to x's units (exact: times a power of two): lengths times x_scale, the density divided
    # by it, the (s+1)-th coefficient (and the bias constant B) divided by x_scale^(s+1)
    xs = float(x_scale)
    h_out = float(h) * xs if integ else np.asarray(h, dtype=float) * xs
    b_out = {side: float(b[side]) * xs if np.ndim(b[side]) == 0 else np.asarray(b[side]) * xs for side in SIDES}
    # back to Y's units (diagnostics only; for |y| near 1e308 the variances overflow to inf)
    sc = np.float64(Z.unit)
    with np.errstate(over="ignore", under="ignore"):
        sc2 = sc * sc
        xb = np.float64(xs) ** -(s + 1.0)
        beta_sc, var_sc, v_sc = sc * xb, sc2 * xb * xb, sc2 * xs
    return BandwidthSelection(
        h=h_out, h_den=None, method=method, s=s, p=p, kernel=kernel, n=n, quantiles=q,
        f_hat=float(f_hat / xs), density_bandwidth=float(cn * xs), c_B=cB, c_V=cV,
        h_pilot=float(h0) * xs if integ else np.asarray(h0) * xs, b_pilot=b_out,
        beta=_times(beta, beta_sc), var_beta=_times(var_beta, var_sc), sigma2=_times(sigma2, sc2),
        B=_times(Bq, beta_sc), V=_times(Vq, v_sc), regularisation=_times({"": R}, var_sc)[""],
        h_unclipped=np.asarray(h_raw) * xs if np.ndim(h_raw) else float(h_raw) * xs,
        h_min=float(h_min * xs), h_max=float(h_max * xs), coverage_factor=factor, notes=notes,
        # step 3's fits back on x's scale (their coefficients are in u = x/b: unchanged)
        pilot_fits=None if not global_ok else (
            {side: replace(fit, xc=xc_given, h=fit.h * xs) for side, fit in pilot_fits.items()}, Z.centre, Z.unit),
    )


def _unit_scale(xc: np.ndarray) -> tuple[np.ndarray, float]:
    """xc = x_scale · u with x_scale = 2^e the power of two that puts max|u| in [1/2, 1)
    (exact in floating point; 1 for an all-zero xc).

    >>> u, s = _unit_scale(np.array([-3.0, 0.5]))
    >>> u.tolist(), s
    ([-0.75, 0.125], 4.0)
    """
    top = float(np.max(np.abs(xc))) if xc.size else 0.0
    if top == 0.0 or not np.isfinite(top):
        return xc, 1.0
    e = int(np.frexp(top)[1])
    return np.ldexp(xc, -e), float(np.ldexp(1.0, e))


def _times(d: dict, factor: np.float64) -> dict:
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return {k: np.asarray(v, dtype=float) * factor for k, v in d.items()}
