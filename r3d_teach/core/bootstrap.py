"""Multiplier bootstrap, uniform and pointwise bands, and tests (book chapter 5).

The estimate is linear in the unit outcomes, m̂_±(q) = Σ_i w^±_i(q) Q_i(q), so its sampling
error is approximated by the multiplier process (Van Dijcke 2025, eq. 14 and A-4.3; Chiang,
Hsu and Sasaki 2019) with the finite-sample equivalent-kernel weights in place of the
asymptotic ones (as R3D 0.1.0 does):

    ν^±_b(q) = Σ_i ξ_ib w^±_i(q) ê^±_i(q),      ξ_ib iid N(0, 1),
    sharp:  G_b(q) = ν^+_b(q) - ν^-_b(q),
    fuzzy:  G_b(q) = [Δ_T (ν^+_b - ν^-_b)(q) - Δ_Y(q) (η^+_b - η^-_b)] / Δ_T²,

with η the same process for the treatment regression (its own window and weights).
Residuals ê are taken for **every** unit in the window (R3D 0.1.0 keeps only units with a
positive weight, which drops about half the window) and are leverage-corrected by default
(HC3: ê / (1 - ℓ_i)).

All draws are one matrix product G = Ξ Φ with the stored influence matrix
Φ_i(q) = ω^+_i ê^+_i - ω^-_i ê^-_i (n × M), computed in chunks of draws so memory stays bounded.
Only the units inside some window have a term.  With clusters, Φ's rows are first summed within
clusters (one multiplier per cluster).  When there are more rows than quantile levels, the
Gaussian draws are taken in M dimensions: G_b = η_b R with R'R = Φ'Φ has exactly the law of
Σ_i ξ_ib Φ_i, for M instead of n normals per draw.  Draw b uses the b-th block of standard
normals, so results do not depend on the chunk size.  Given multipliers (and the Gini test,
which needs both boundary curves' draws) use the unit form.

Band and tests share one critical-value rule, defined for every B:
c = ``np.quantile(S, 1 - α, method="higher")``, the (k+1)-th smallest sup statistic with
k = ⌈(1-α)(B-1)⌉.  R3D 0.1.0's band rule takes the ⌈(1-α)(B+1)⌉-th: the same draw or one
rank higher (the same for B = 500 at α = .05: the 476th); R's rule has no value when
B < 19 at α = .05, this one always has.

* uniform band: τ̂(q) ± c with S_b = max_q |G_b(q)|;
* pointwise band: τ̂(q) ± z_{1-α/2} sd_b(G_b(q));
* nullity on a range R: T = max_R |τ̂|, S_b = max_R |G_b|;
* homogeneity: T = max_R |τ̂ - τ̄_R|, S_b = max_R |G_b - Ḡ_b,R| (grid-weighted means);
* p-value = (1 + #{S_b ≥ T}) / (1 + B);
* centred Gini (sharp only): D̂ = Gini(m̂_+) - Gini(m̂_-),
  D*_b = Gini(m̂_+ + ν^+_b) - Gini(m̂_- + ν^-_b) - D̂, p = (1 + #{|D*_b| ≥ |D̂|}) / (1 + B).

Example
-------
>>> import numpy as np
>>> from r3d_teach.core.bootstrap import multiplier_bootstrap
>>> q = np.array([0.25, 0.5, 0.75])
>>> phi = np.array([[0.1, 0.1, 0.1], [-0.1, -0.1, -0.1]])   # two units' influence terms
>>> xi = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]])        # n × B multipliers
>>> out = multiplier_bootstrap(phi, np.zeros(3), q, multipliers=xi, alpha=0.5)
>>> out.sup_stats.round(3).tolist(), round(out.crit_value, 3)
([0.1, 0.3, 0.05], 0.1)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from .frechet import isotonic_projection
from .locpoly import BiasCorrectedFit, side_mask
from .quantiles import grid_weights

__all__ = [
    "Influence",
    "side_influence",
    "sharp_influence",
    "fuzzy_influence",
    "cluster_sums",
    "cluster_leverage_residuals",
    "covariance_root",
    "BootstrapResult",
    "RESIDUAL_RULES",
    "TESTS",
    "bootstrap_residuals",
    "nn_residuals",
    "multiplier_bootstrap",
    "critical_value",
    "gini_from_quantiles",
    "check_gini_grid",
    "check_boot_budget",
    "parse_test_ranges",
]

RESIDUAL_RULES = ("hc3", "hc2", "nn", "raw")
TESTS = ("nullity", "homogeneity", "gini")

#: elements (draws × units) of one block of multipliers: bounds the bootstrap's memory
BOOT_CHUNK_ELEMENTS = 4_000_000
#: keep the (B, M) draws for plots when B·M is at most this
KEEP_DRAWS_ELEMENTS = 5_000_000
#: 1 - ℓ below this counts as a leverage of one (no leverage correction there)
LEVERAGE_ONE = 1e-10
#: a bootstrap request beyond these budgets fails at once: bytes of the per-draw statistics kept
#: in memory, and multiply-adds of the draws (about an hour at the rate below)
BOOT_MAX_BYTES = 2 * 2**30
BOOT_MAX_WORK = 1e13
BOOT_FLOPS_PER_SECOND = 3e9


def check_boot_budget(n_boot: int, n_units: int, n_quantiles: int, n_ranges: int = 1) -> None:
    """Refuse, before any work, a number of draws whose statistics would not fit in memory or
    whose matrix products would run for hours; the message gives the estimate."""
    nbytes = 8.0 * n_boot * (2 + 2 * n_ranges)
    work = float(n_boot) * n_units * (n_quantiles + 1)
    if nbytes > BOOT_MAX_BYTES or work > BOOT_MAX_WORK:
        raise ValueError(
            f"n_boot: {n_boot:,} draws would keep {nbytes / 2**30:.1f} GiB of statistics and take about "
            f"{work / BOOT_FLOPS_PER_SECOND / 60:,.0f} minutes ({work:.2g} multiply-adds for {n_units} units x "
            f"{n_quantiles} quantiles); the budget is {BOOT_MAX_BYTES / 2**30:.0f} GiB and "
            f"{BOOT_MAX_WORK / BOOT_FLOPS_PER_SECOND / 60:.0f} minutes. Use fewer draws (B = 2,000-10,000 "
            "is ample for 95 % bands)")


@dataclass
class Influence:
    """Linearisation of the estimate: τ̂(q) - τ(q) ≈ Σ_i terms_i(q) (Van Dijcke 2025, A-4.3).

    ``rows``: the units with a term (inside some window), ``terms`` (n_r, M); sharp designs also
    keep the two boundary curves' parts ``plus``/``minus`` (m̂_± - m_± ≈ Σ_i ±parts_i) for the
    Gini test; ``clusters``: the cluster code of each row (None: every unit its own cluster).
    """

    rows: np.ndarray
    terms: np.ndarray
    plus: np.ndarray | None = None
    minus: np.ndarray | None = None
    clusters: np.ndarray | None = None

    def se(self) -> np.ndarray:
        """Pointwise standard error √Σ_g (Σ_{i∈g} terms_i)² (g: clusters, or units)."""
        return np.sqrt(np.sum(cluster_sums(self.terms, self.clusters) ** 2, axis=0))

    def full(self, n_units: int) -> np.ndarray:
        """The (n_units, M) matrix of terms, zero for units without one."""
        out = np.zeros((n_units,) + self.terms.shape[1:])
        out[self.rows] = self.terms
        return out

    def scaled(self, scale: float) -> "Influence":
        """The terms of the outcome multiplied by ``scale``."""
        if scale == 1.0:
            return self
        mul = (lambda a: None if a is None else a * scale)
        return Influence(rows=self.rows, terms=self.terms * scale, plus=mul(self.plus), minus=mul(self.minus),
                         clusters=self.clusters)


def covariance_root(phi: np.ndarray) -> np.ndarray:
    """An M × M matrix R with R'R = Φ'Φ: the Cholesky factor (unique and continuous in Φ), or
    the symmetric eigen-root when Φ'Φ is singular.  Gaussian draws η_b R then have exactly the
    law of Σ_i ξ_ib φ_i."""
    S = phi.T @ phi
    try:
        return np.linalg.cholesky(S).T
    except np.linalg.LinAlgError:
        lam, V = np.linalg.eigh(S)
        return np.sqrt(np.clip(lam, 0.0, None))[:, None] * V.T


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
    codes, g_of = np.unique(clusters, return_inverse=True)
    order = np.argsort(g_of, kind="stable")
    counts = np.bincount(g_of, minlength=codes.size)
    gmax = int(counts.max())
    slot = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.full((codes.size, gmax), -1)
    idx[g_of[order], slot] = order
    pad = idx < 0
    safe = np.where(pad, 0, idx)
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
                   clusters: np.ndarray | None = None) -> np.ndarray:
    """Influence terms of one bias-corrected boundary value, on ``fit.rows``:

        φ_i(q) = ω_i(q) ê_i(q),   ê_i = Y_i - (order-p fit at b)(X̃_i),

    leverage-corrected with the order-p fit's leverage ("hc3": ê/(1-ℓ), "hc2": ê/√(1-ℓ),
    "raw"; "nn": nearest-neighbour residuals).  ``project``: the quantile grid, to project
    each unit's fitted curve onto non-decreasing functions first (Fréchet).  The robust
    standard error √Σφ² equals rdrobust's with ``vce="hc3"``.  With ``clusters`` (the codes
    of ``fit.rows``), "hc3" becomes its cluster version CR3
    (:func:`cluster_leverage_residuals`).  Residuals smaller than ``floor`` in absolute value
    are rounding noise and set to zero.
    """
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    rows, bias = fit.rows, fit.bias
    active = fit.omega != 0
    if rule == "nn":
        nn = nn_residuals(bias.xc, Y, side_mask(bias.xc, fit.side))[rows]
        e = bootstrap_residuals(Y[rows], None, None, active, rule, nn)
    else:
        fitted = bias.fitted_at(rows)
        if project is not None:
            fitted = isotonic_projection(fitted, project)
        lev = bias.active_values(bias.lev_active, rows)
        if rule == "hc3" and clusters is not None:
            e = cluster_leverage_residuals(bias, rows, clusters, np.where(active, Y[rows] - fitted, 0.0))
            e = np.where(active, e, 0.0)
        else:
            e = bootstrap_residuals(Y[rows], fitted, lev, active, rule)
    if floor > 0:
        e = np.where(np.abs(e) < floor, 0.0, e)
    return fit.omega * e


def sharp_influence(fit_plus: BiasCorrectedFit, fit_minus: BiasCorrectedFit, Y: np.ndarray,
                    rule: str = "hc3", project: np.ndarray | None = None,
                    clusters: np.ndarray | None = None, floor: float = 0.0) -> Influence:
    """τ̂ = m̂_+ - m̂_-: terms φ^+ - φ^- on the units of both windows (the sides are disjoint)."""
    rows = np.union1d(fit_plus.rows, fit_minus.rows)
    parts = {}
    for sd, fit in (("+", fit_plus), ("-", fit_minus)):
        full = np.zeros((rows.size, fit.omega.shape[1]))
        cl = None if clusters is None else clusters[fit.rows]
        full[np.searchsorted(rows, fit.rows)] = side_influence(fit, Y, rule, project, floor, cl)
        parts[sd] = full
    return Influence(rows=rows, terms=parts["+"] - parts["-"], plus=parts["+"], minus=parts["-"],
                     clusters=None if clusters is None else clusters[rows])


def fuzzy_influence(numerator: Influence, t_plus: BiasCorrectedFit, t_minus: BiasCorrectedFit,
                    T: np.ndarray, num_hat: np.ndarray, jump: float, rule: str = "hc3",
                    clusters: np.ndarray | None = None) -> tuple[Influence, Influence]:
    """Delta method for τ̂_F = Δ_Y / Δ_T: terms (Δ_T φ_Y - Δ_Y φ_T) / Δ_T², with φ_T the first
    stage's own terms (its windows and weights).  Returns (ratio, first stage)."""
    first = sharp_influence(t_plus, t_minus, T, rule, None, clusters)
    rows = np.union1d(numerator.rows, first.rows)
    M = numerator.terms.shape[1]
    phi_y = np.zeros((rows.size, M))
    phi_y[np.searchsorted(rows, numerator.rows)] = numerator.terms
    phi_t = np.zeros(rows.size)
    phi_t[np.searchsorted(rows, first.rows)] = first.terms[:, 0]
    terms = (jump * phi_y - num_hat[None, :] * phi_t[:, None]) / jump**2
    ratio = Influence(rows=rows, terms=terms, clusters=None if clusters is None else clusters[rows])
    return ratio, first


def critical_value(stats: np.ndarray, alpha: float) -> float:
    """(1 - α) critical value of bootstrap sup statistics: ``np.quantile(S, 1-α, "higher")``,
    the (⌈(1-α)(B-1)⌉ + 1)-th smallest; defined for every B ≥ 1."""
    return float(np.quantile(np.asarray(stats), 1.0 - alpha, method="higher"))


def nn_residuals(xc: np.ndarray, Y: np.ndarray, side_mask: np.ndarray, J: int = 3) -> np.ndarray:
    """Nearest-neighbour residuals (rdrobust's ``vce="nn"``): √(J/(J+1)) (Y_i - mean of the
    J units nearest in X̃ on the same side).  Returns (n, M), 0 off-side."""
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    out = np.zeros_like(Y)
    idx = np.flatnonzero(side_mask)
    if idx.size <= J:
        raise ValueError(f"residuals: 'nn' needs more than {J} units on each side")
    order = idx[np.argsort(xc[idx], kind="stable")]
    xs = xc[order]
    ns = xs.size
    offs = np.concatenate([np.arange(-J, 0), np.arange(1, J + 1)])
    cand = np.arange(ns)[:, None] + offs[None, :]
    valid = (cand >= 0) & (cand < ns)
    candc = np.clip(cand, 0, ns - 1)
    dist = np.where(valid, np.abs(xs[candc] - xs[:, None]), np.inf)
    pick = np.take_along_axis(candc, np.argsort(dist, axis=1, kind="stable")[:, :J], axis=1)
    Ys = Y[order]
    out[order] = np.sqrt(J / (J + 1.0)) * (Ys - Ys[pick].mean(axis=1))
    return out


def bootstrap_residuals(Y, fitted, leverage, in_window, rule: str = "hc3", nn=None):
    """Residuals ê_i(q) = Y_i(q) - fit_i(q) for every unit in the window, 0 elsewhere.

    ``rule``: "hc3" ê/(1-ℓ) (default), "hc2" ê/√(1-ℓ), "raw", or "nn" (then ``nn`` holds the
    nearest-neighbour residuals of :func:`nn_residuals` for the same rows).  ℓ is the leverage
    of the estimation fit.  All arrays share one shape (units × quantiles).
    """
    if rule not in RESIDUAL_RULES:
        raise ValueError(f"residuals: unknown rule {rule!r}; choose one of {RESIDUAL_RULES}")
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if rule == "nn":
        return np.where(in_window, nn, 0.0)
    e = np.where(in_window, Y - fitted, 0.0)
    if rule == "raw":
        return e
    one_minus = 1.0 - leverage
    ok = one_minus > LEVERAGE_ONE
    scale = np.where(ok, one_minus, 1.0)
    if rule == "hc2":
        scale = np.sqrt(scale)
    return np.where(ok, e / scale, e)


def gini_from_quantiles(Q: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Gini coefficient of distributions given by quantile curves (last axis), as in R3D.

    Extend the curve flat to q = 0 and q = 1, μ = ∫Q (trapezoid), Lorenz curve
    L(p) = ∫_0^p Q / μ, Gini = 1 - 2 ∫_0^1 L, clipped to [0, 1]; NaN where μ ≤ 0.
    """
    q = np.asarray(quantiles, dtype=float)
    Q = np.asarray(Q, dtype=float)
    if q.ndim != 1 or q.size == 0:
        raise ValueError("quantiles: the Gini coefficient needs a non-empty 1-D grid of levels")
    if Q.shape[-1] != q.size:
        raise ValueError(f"Q: its last axis ({Q.shape[-1]}) must match the grid ({q.size} levels)")
    qq = np.concatenate([[0.0] if q[0] > 0 else [], q, [1.0] if q[-1] < 1 else []])
    parts = []
    if q[0] > 0:
        parts.append(Q[..., :1])
    parts.append(Q)
    if q[-1] < 1:
        parts.append(Q[..., -1:])
    QQ = np.concatenate(parts, axis=-1)
    dq = np.diff(qq)
    seg = 0.5 * (QQ[..., 1:] + QQ[..., :-1]) * dq
    cum = np.concatenate([np.zeros(QQ.shape[:-1] + (1,)), np.cumsum(seg, axis=-1)], axis=-1)
    mu = cum[..., -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        L = cum / mu[..., None]
        area = np.sum(0.5 * (L[..., 1:] + L[..., :-1]) * dq, axis=-1)
        g = np.clip(1.0 - 2.0 * area, 0.0, 1.0)
    return np.where(mu > 0, g, np.nan)


#: the Gini test needs at least this many levels, and a grid reaching below GINI_LOW and above
#: GINI_HIGH (the flat extension to 0 and 1 dominates the coefficient otherwise)
GINI_MIN_LEVELS = 5
GINI_LOW, GINI_HIGH = 0.1, 0.9


def check_gini_grid(quantiles: np.ndarray) -> None:
    """Refuse a grid that cannot carry a Gini coefficient (fewer than GINI_MIN_LEVELS levels),
    and warn when it is far from spanning (0, 1)."""
    import warnings

    q = np.asarray(quantiles, dtype=float)
    if q.size < GINI_MIN_LEVELS:
        raise ValueError(f"tests: the Gini test needs a grid of at least {GINI_MIN_LEVELS} levels spanning "
                         f"(0, 1); this one has {q.size} (use e.g. quantiles=np.arange(1, 100) / 100)")
    if q[0] > GINI_LOW or q[-1] < GINI_HIGH:
        warnings.warn(f"tests: the grid [{q[0]:g}, {q[-1]:g}] is far from spanning (0, 1); the Gini "
                      "coefficients extend each curve flat beyond it and are mostly extrapolation",
                      UserWarning, stacklevel=3)


def parse_test_ranges(test_ranges, quantiles: np.ndarray) -> list[tuple[float, float]]:
    """Normalise ``test_ranges`` to a list of (lo, hi) pairs of the grid.

    None → the whole grid.  A pair (lo, hi) → one range; a longer increasing vector
    (a, b, c) → consecutive ranges [a, b], [b, c] (R3D's convention); a list of pairs → those.
    Each range must lie within the grid and contain at least two grid points.
    """
    from .validate import as_real_array

    q = np.asarray(quantiles, dtype=float)
    if test_ranges is None:
        return [(float(q[0]), float(q[-1]))]
    if isinstance(test_ranges, (str, bytes, dict, set)) or not hasattr(test_ranges, "__len__"):
        raise TypeError(f"test_ranges: must be a pair (lo, hi), a vector of levels or a list of pairs, "
                        f"got {type(test_ranges).__name__} {test_ranges!r}")
    items = list(test_ranges)
    if not items:
        raise ValueError("test_ranges: is empty; give None for the whole grid")
    if np.ndim(items[0]) == 0:
        items = [items]
    out = []
    for r in items:
        v = as_real_array(r, "test_ranges").ravel()
        if v.size < 2 or not np.all(np.isfinite(v)) or np.any(np.diff(v) <= 0):
            raise ValueError(f"test_ranges: each range must be an increasing sequence of >= 2 levels, got {list(np.atleast_1d(r))}")
        for lo, hi in zip(v[:-1], v[1:]):
            tol = 1e-9
            if lo < q[0] - tol or hi > q[-1] + tol:
                raise ValueError(f"test_ranges: range [{lo:g}, {hi:g}] is outside the grid [{q[0]:g}, {q[-1]:g}]")
            inside = (q >= lo - tol) & (q <= hi + tol)
            if inside.sum() < 2:
                raise ValueError(f"test_ranges: range [{lo:g}, {hi:g}] contains fewer than 2 grid points")
            out.append((float(lo), float(hi)))
    return out


@dataclass
class BootstrapResult:
    """What the multiplier bootstrap returns (all on the scale of τ̂)."""

    n_boot: int
    alpha: float
    crit_value: float
    band_lower: np.ndarray
    band_upper: np.ndarray
    pointwise_lower: np.ndarray
    pointwise_upper: np.ndarray
    sd: np.ndarray
    sup_stats: np.ndarray
    tests: pd.DataFrame
    draws: np.ndarray | None = field(default=None, repr=False)
    influence: np.ndarray | None = field(default=None, repr=False)  # (n_r, M) terms the draws use
    rows: np.ndarray | None = field(default=None, repr=False)       # their unit indices
    clusters: np.ndarray | None = field(default=None, repr=False)   # their cluster codes

    def scaled(self, scale: float) -> "BootstrapResult":
        """The same bootstrap for the outcome multiplied by ``scale`` > 0 (every quantity on
        τ̂'s scale is multiplied; p-values and the scale-free Gini statistic are unchanged)."""
        if scale == 1.0:
            return self
        tests = self.tests.copy()
        on_tau = tests["test"] != "gini"
        for col in ("statistic", "critical_value"):
            tests[col] = tests[col].astype(float)
            tests.loc[on_tau, col] = tests.loc[on_tau, col] * scale
        mul = (lambda a: None if a is None else a * scale)
        return BootstrapResult(
            n_boot=self.n_boot, alpha=self.alpha, crit_value=self.crit_value * scale,
            band_lower=self.band_lower * scale, band_upper=self.band_upper * scale,
            pointwise_lower=self.pointwise_lower * scale, pointwise_upper=self.pointwise_upper * scale,
            sd=self.sd * scale, sup_stats=self.sup_stats * scale, tests=tests, draws=mul(self.draws),
            influence=mul(self.influence), rows=self.rows, clusters=self.clusters)


def _chunks(B: int, n: int, max_elems: int = BOOT_CHUNK_ELEMENTS):
    size = max(1, min(B, max_elems // max(n, 1)))
    for start in range(0, B, size):
        yield start, min(B, start + size)


def multiplier_bootstrap(
    phi: np.ndarray,
    tau: np.ndarray,
    quantiles: np.ndarray,
    *,
    n_boot: int | None = None,
    alpha: float = 0.05,
    rng: np.random.Generator | None = None,
    multipliers: np.ndarray | None = None,
    tests: Sequence[str] = (),
    test_ranges=None,
    gini_parts: tuple | None = None,
    keep_draws: int = KEEP_DRAWS_ELEMENTS,
    progress: bool = False,
    rows: np.ndarray | None = None,
    n_units: int | None = None,
    clusters: np.ndarray | None = None,
) -> BootstrapResult:
    """Run the multiplier bootstrap from the influence matrix ``phi`` (n × M).

    Parameters
    ----------
    phi : (n, M) influence terms, G_b = Σ_i ξ_ib phi_i; or, with ``rows``, only the rows of
        the units that can have a non-zero term (those inside some window).
    tau : (M,) the estimate the band is centred on.
    rows : optional indices of the units ``phi``'s rows belong to (with ``n_units``); the
        multipliers are then drawn for those units only (the others contribute nothing).
    n_boot : number of draws B (ignored when ``multipliers`` is given).
    multipliers : optional (n, B) matrix of multipliers ξ (column b = draw b), for exact tests
        or to reuse another program's draws.
    tests : any of "nullity", "homogeneity", "gini".
    gini_parts : (m_plus, m_minus, phi_plus, phi_minus), needed for the Gini test.
    keep_draws : keep the (B, M) draws when B·M is at most this (for plots).
    clusters : optional cluster code of each row of ``phi``: one multiplier per cluster,
        G_b = Σ_g ξ_gb Σ_{i∈g} phi_i (clustered bands and tests).
    """
    phi = np.asarray(phi, dtype=float)
    phi_rows = phi
    tau = np.asarray(tau, dtype=float)
    q = np.asarray(quantiles, dtype=float)
    n_all = phi.shape[0] if rows is None else int(n_units)
    if clusters is not None:
        if multipliers is not None:
            raise ValueError("multipliers: cannot be combined with cluster= (multipliers are drawn per cluster)")
        phi = cluster_sums(phi, clusters)
        if gini_parts is not None:
            gini_parts = (gini_parts[0], gini_parts[1], cluster_sums(gini_parts[2], clusters),
                          cluster_sums(gini_parts[3], clusters))
    n, m = phi.shape
    if multipliers is None and gini_parts is None and n > m:
        # Gaussian multipliers in M dimensions: η_b R with R'R = Φ'Φ has the law of Σ_i ξ_ib φ_i
        # and needs M instead of n normals (and an M × M instead of an n × M product) per draw
        phi = covariance_root(phi)
        n = m
    if multipliers is not None:
        xi_all = np.asarray(multipliers, dtype=float)
        if xi_all.ndim != 2 or xi_all.shape[0] != n_all:
            raise ValueError(f"multipliers: must be an (n_units, B) matrix with n_units = {n_all}, got shape {xi_all.shape}")
        if not np.all(np.isfinite(xi_all)):
            raise ValueError("multipliers: contains NaN or inf")
        if rows is not None:
            xi_all = xi_all[rows]
        B = xi_all.shape[1]
    else:
        B = int(n_boot or 0)
        rng = rng if rng is not None else np.random.default_rng()
    if B < 1:
        raise ValueError("n_boot: the bootstrap needs at least one draw")
    ranges = parse_test_ranges(test_ranges, q)
    tests = tuple(tests)
    gw = grid_weights(q)
    masks = []
    for lo, hi in ranges:
        mk = (q >= lo - 1e-9) & (q <= hi + 1e-9)
        masks.append((mk, gw[mk] / gw[mk].sum()))
    sup = np.empty(B)
    null_s = np.empty((len(ranges), B))
    homo_s = np.empty((len(ranges), B))
    gini_d = np.empty(B) if "gini" in tests else None
    s1 = np.zeros(m)
    s2 = np.zeros(m)
    keep = B * m <= keep_draws
    draws = np.empty((B, m)) if keep else None
    if gini_d is not None:
        m_plus, m_minus, phi_plus, phi_minus = gini_parts
        d_hat = float(gini_from_quantiles(m_plus, q) - gini_from_quantiles(m_minus, q))
    it = list(_chunks(B, n))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="bootstrap", unit="chunk")
    for a, b in it:
        xi = xi_all[:, a:b].T if multipliers is not None else rng.standard_normal((b - a, n))
        G = xi @ phi  # (chunk, M)
        s1 += G.sum(axis=0)
        s2 += (G**2).sum(axis=0)
        sup[a:b] = np.abs(G).max(axis=1)
        for r, (mk, wr) in enumerate(masks):
            Gr = G[:, mk]
            null_s[r, a:b] = np.abs(Gr).max(axis=1)
            homo_s[r, a:b] = np.abs(Gr - (Gr @ wr)[:, None]).max(axis=1)
        if gini_d is not None:
            gp = gini_from_quantiles(m_plus[None, :] + xi @ phi_plus, q)
            gm = gini_from_quantiles(m_minus[None, :] + xi @ phi_minus, q)
            gini_d[a:b] = gp - gm - d_hat
        if keep:
            draws[a:b] = G
    crit = critical_value(sup, alpha)
    mean = s1 / B
    var = (s2 - B * mean**2) / max(B - 1, 1)
    sd = np.sqrt(np.maximum(var, 0.0))
    z = norm.ppf(1.0 - alpha / 2.0)
    table_rows = []
    for r, ((lo, hi), (mk, wr)) in enumerate(zip(ranges, masks)):
        label = f"[{lo:g}, {hi:g}]"
        if "nullity" in tests:
            T = float(np.abs(tau[mk]).max())
            S = null_s[r]
            table_rows.append(("nullity", label, T, critical_value(S, alpha), (1 + np.sum(S >= T)) / (1 + B)))
        if "homogeneity" in tests:
            tr = tau[mk]
            T = float(np.abs(tr - tr @ wr).max())
            S = homo_s[r]
            table_rows.append(("homogeneity", label, T, critical_value(S, alpha), (1 + np.sum(S >= T)) / (1 + B)))
    if gini_d is not None:
        T = abs(d_hat)
        S = np.abs(gini_d[np.isfinite(gini_d)])
        p = (1 + np.sum(S >= T)) / (1 + S.size) if S.size else np.nan
        table_rows.append(("gini", f"[{q[0]:g}, {q[-1]:g}]", T, critical_value(S, alpha) if S.size else np.nan, p))
    table = pd.DataFrame(table_rows, columns=["test", "range", "statistic", "critical_value", "p_value"])
    return BootstrapResult(
        n_boot=B, alpha=alpha, crit_value=crit,
        band_lower=tau - crit, band_upper=tau + crit,
        pointwise_lower=tau - z * sd, pointwise_upper=tau + z * sd,
        sd=sd, sup_stats=sup, tests=table, draws=draws, influence=phi_rows, rows=rows, clusters=clusters,
    )
