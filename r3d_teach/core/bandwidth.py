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

Steps (the design decisions in the project's method notes):

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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .kernels import bias_variance_constants, get_kernel
from .locpoly import SIDES, local_poly_fit, side_mask
from .quantiles import standardise
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
    f = float(np.mean(get_kernel(kernel)(xc / cn)) / cn)
    return f, float(cn)


def _global_poly(xs: np.ndarray, Ys: np.ndarray, order: int):
    """OLS of each column of Ys on (1, x, …, x^order) (raw powers, scaled internally).

    Returns unscaled coefficients (order+1, M), residuals (n_s, M), the OLS row matrix
    A (order+1, n_s) with β̂ = A Y (for sandwich variances), and the residual variance (M,).
    """
    scale = max(np.max(np.abs(xs)), 1e-300)
    X = (xs / scale)[:, None] ** np.arange(order + 1)
    pinv = np.linalg.pinv(X)  # (order+1, n_s)
    g = pinv @ Ys
    resid = Ys - X @ g
    dof = max(xs.size - (order + 1), 1)
    s2 = (resid**2).sum(axis=0) / dof
    unscale = scale ** -np.arange(order + 1.0)
    return g * unscale[:, None], resid, pinv * unscale[:, None], s2


def _kth_nearest(xs_abs: np.ndarray, k: int) -> float:
    srt = np.sort(xs_abs)
    return float(srt[min(k, srt.size) - 1])


def _kth_distinct(xs_abs: np.ndarray, k: int) -> float:
    """Distance to the k-th nearest distinct value of x (mass points count once), as
    rdrobust's ``masspoints="adjust"``."""
    u = np.unique(xs_abs)
    return float(u[min(k, u.size) - 1])


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
) -> BandwidthSelection:
    """The plug-in on a prepared outcome matrix ``Y`` (n × M) and centred running variable.

    Inputs are trusted (validated by :func:`select_bandwidth` or ``r3d``).  ``integrate``
    (default: method == "frechet") returns one IMSE bandwidth instead of one per column;
    ``min_units``: the selected window holds at least this many units on each side (or all of
    a side's units if it has fewer), and at least p + 2.
    """
    xc = np.asarray(xc, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    # scale-free: every pilot below is computed on Y = centre + scale · Z and reported in Y's units
    Y, _, y_scale = standardise(Y)
    # and on x / 2^e with max|x / 2^e| in [1/2, 1): dividing by a power of two is exact, so the
    # selection is equivariant in x (x · 2^k gives exactly 2^k times the bandwidths) and the
    # pilots' powers of x (up to x^(2(s+3))) neither overflow nor underflow for |x| near 1e±50
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
    distinct = {side: np.unique(absx[masks[side]]).size for side in SIDES}
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
    h_min = max(max(_kth_nearest(absx[masks[side]], k_min), _kth_distinct(absx[masks[side]], p + 2))
                for side in SIDES) * BOUND_MARGIN
    h_min = min(h_min, h_max)
    # a side with too few distinct values for the global pilots (order s + 3) gets the whole side
    global_ok = all(distinct[side] >= s + 4 for side in SIDES)
    cB, cV, cBd, cVd = {}, {}, {}, {}
    for side in SIDES:
        cB[side], cV[side] = bias_variance_constants(kernel, s, side)
        cBd[side], cVd[side] = bias_variance_constants(kernel, s + 1, side, coefficient=s + 1)
    # columns that do not vary at all (e.g. a quantile where every unit has the same value):
    # their bias and variance are exactly 0, whatever rounding noise the fits leave
    flat = np.ptp(Y, axis=0) <= 1e-12 * max(1.0, float(np.abs(Y).max()))

    # Step 2: rough pilot h0 from global polynomials of order s + 2
    Bg, Vg, Rg = {}, {}, np.zeros(Y.shape[1])
    for side in SIDES:
        coef, resid, A, s2 = _global_poly(xc[masks[side]], Y[masks[side]], s + 2)
        var_b = (A[s + 1][:, None] ** 2 * resid**2).sum(axis=0)
        Bg[side] = cB[side] * coef[s + 1]
        Vg[side] = s2 * cV[side] / f_hat
        Rg = Rg + 3.0 * cB[side] ** 2 * var_b
    num0 = np.where(flat, 0.0, Vg["+"] + Vg["-"])
    den0 = np.where(flat, 0.0, (Bg["+"] - Bg["-"]) ** 2 + Rg)
    h0 = np.clip(_plugin(num0, den0, q, n, s, h_min, h_max, integ), h_min, h_max)

    # Step 3: derivative-rate pilot b and the (s+1)-th coefficient from an order s+1 local fit
    b, beta, var_beta = {}, {}, {}
    for side in SIDES:
        coef, _, _, s2 = _global_poly(xc[masks[side]], Y[masks[side]], s + 3)
        num_b = np.where(flat, 0.0, (2 * s + 3) * s2 * cVd[side])
        den_b = np.where(flat, 0.0, 2.0 * (cBd[side] * coef[s + 2]) ** 2 * n * f_hat)
        if integ:
            num_b, den_b = _integrate(num_b, q), _integrate(den_b, q)
        num_b, den_b = np.asarray(num_b, dtype=float), np.asarray(den_b, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            bb = (num_b / den_b) ** (1.0 / (2 * s + 5))
        b_lo = min(max(_kth_nearest(absx[masks[side]], s + 3), _kth_distinct(absx[masks[side]], max(s + 3, p + 2)))
                   * BOUND_MARGIN, h_max)
        bb = np.where((np.asarray(den_b) <= 0) | ~np.isfinite(bb), h_max, bb)
        b[side] = np.clip(bb, b_lo, h_max)
        fit = local_poly_fit(xc, Y, b[side], s + 1, kernel, side, labels=q)
        beta[side] = fit.coefficient(s + 1)
        e = np.where(fit.k_active > 0, Y[fit.rows] - fit.fitted_active(), 0.0)
        a = fit.coefficient_weights_active(s + 1)
        var_beta[side] = (a**2 * e**2).sum(axis=0)

    # Step 4: residual variance at the pilot h0 (order-s local fit, every unit in the window)
    sigma2 = {}
    for side in SIDES:
        fit = local_poly_fit(xc, Y, h0, s, kernel, side, labels=q)
        kw = fit.k_active
        e = np.where(kw > 0, Y[fit.rows] - fit.fitted_active(), 0.0)
        sigma2[side] = (kw * e**2).sum(axis=0) / kw.sum(axis=0)

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
    sc = np.float64(y_scale)
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
