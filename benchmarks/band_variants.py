"""Uniform bands and sup tests for τ(q) from the influence matrix: the constructions compared by
``benchmarks/coverage_bands.py`` (issue 16, items 1-2).  Prototype for the library's bootstrap
module: numpy/scipy only, vectorised over draws and levels, draws in chunks (bounded memory).

Notation (as in ``r3d_teach.core.influence`` and ``r3d_teach.core.bootstrap``): Φ (n × M) the influence terms on τ̂'s scale, summed
within clusters first when there are clusters; se(q) = √Σ_g φ_g(q)²; the Gaussian multiplier
draws G_b = η_b R with R'R = Φ'Φ (M normals per draw, the law of Σ_g ξ_gb φ_g); draw b uses the
b-th block of M standard normals of ``rng``, so the result does not depend on the chunk size and
two constructions given generators with the same seed use the same draws (common random numbers).
Critical values: ĉ = ``np.quantile(S, 1 - α, method="higher")``; p-values (1 + #{S_b ≥ T})/(1 + B);
so "the band excludes 0 at some level" ⇔ "nullity p ≤ α" for every construction here.

Constructions (each ``f(tau, phi, clusters, quantiles, alpha, rng, n_boot, ...) -> Band``):

* :func:`unweighted_band` -- R3D 0.1.0's band (today's library): S_b = max_q |G_b(q)|, τ̂ ± ĉ.
* :func:`studentized_band` -- the t-statistic process: S_b = max_{q ∈ P} |G_b(q)| / se(q), band
  τ̂(q) ± ĉ_q se(q); nullity T = max_q |τ̂(q)| / se(q); homogeneity on the centred process
  (τ̂ − τ̄ and G_b − Ḡ_b, τ̄ the grid-weighted mean), each level studentized by the exact sd of the
  centred Gaussian process, sd_c(q) = √Σ_g (φ_g(q) − Σ_r w_r φ_g(r))².  With ``dof`` (a number,
  or one per level) the Gaussian critical value is moved to Student's t by matching the
  per-level two-sided tail probability: ĉ_q = F_ν(q)⁻¹(Φ(ĉ)) (and each observed |t_q| is mapped
  to the normal scale by Φ⁻¹(F_ν(q)(|t_q|)) for the p-value, so the band and the test stay dual).
  ``dof=None`` is the naive (Gaussian) studentization.
* :func:`studentized_mvt_band` -- the same statistic with a multivariate-t critical value: each
  draw's sup divided by √(W_b/ν), W_b ~ χ²_ν (one variance estimate shared by all levels; Hothorn,
  Bretz and Westfall 2008).
* :func:`bootstrap_t_band` -- multiplier bootstrap-t: unit (cluster) multipliers, each draw
  studentized by its own variance Σ_g ξ_gb² φ_g(q)².

Effective degrees of freedom: :func:`bm_dof` (Bell and McCaffrey 2002; Imbens and Kolesár 2016)
from the one-sided fits, :func:`kish_dof` from Φ alone.

Recommended default (measured in ``coverage_bands.py``; the function to port is
:func:`studentized_mvt_band`): HC2 residuals (``r3d(..., residuals="hc2")``: ê/√(1 - ℓ)), the
studentized sup statistic, and a multivariate-t critical value with the Bell-McCaffrey ν of the
HC2 variance (``dof=bm_dof(res.diagnostics.fits, "hc2", clusters=...)``):

    T_b = max_{q: se(q) > 0} |G_b(q)| / se(q) / √(W_b/ν),  W_b ~ χ²_ν,  ĉ = (1 - α) quantile of T_b,
    band τ̂(q) ± ĉ se(q);  nullity p = (1 + #{T_b ≥ max_q |τ̂(q)|/se(q)}) / (1 + B);
    homogeneity: the same with τ̂ - τ̄, G_b - Ḡ_b, sd_c(q) and the same W_b.

Levels where se(q) = 0 (every unit of both windows on the fitted polynomial at q: identical units,
a rounding floor) carry no sampling variation: they are left out of every max (so 0/0 never
appears), their band has zero width (τ̂ ± 0, as the unweighted band's draws are 0 there too), and
a non-zero τ̂ at such a level is an infinite t-statistic (the test rejects, p = 1/(B + 1), and the
zero-width band excludes 0 there: duality kept).  When every level has se = 0 the critical value
is 0 and p = 1 if τ̂ ≡ 0.  "Zero" is se(q) ≤ ``floor`` (and |τ̂| ≤ ``floor``), the estimator's
rounding floor.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> phi = rng.standard_normal((200, 5)) * np.array([1.0, 1.0, 2.0, 4.0, 8.0]) / np.sqrt(200)
>>> tau = np.zeros(5)
>>> u = unweighted_band(tau, phi, None, np.linspace(0.1, 0.9, 5), 0.05, np.random.default_rng(1), 999)
>>> s = studentized_band(tau, phi, None, np.linspace(0.1, 0.9, 5), 0.05, np.random.default_rng(1), 999)
>>> bool(np.ptp(u.upper - u.lower) == 0), bool((s.upper - s.lower)[0] < (u.upper - u.lower)[0])
(True, True)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

from r3d_teach.core.quantiles import grid_weights  # midpoint weights summing to one

__all__ = [
    "Band",
    "bm_dof",
    "bm_moments",
    "bootstrap_t_band",
    "cluster_sums",
    "covariance_root",
    "critical_value",
    "grid_weights",
    "kish_dof",
    "p_value",
    "studentized_band",
    "studentized_mvt_band",
    "unweighted_band",
]

#: elements (draws × dimensions) of one block of normals (as ``r3d_teach.core.bootstrap``)
CHUNK_ELEMENTS = 4_000_000


class Band(NamedTuple):
    """A uniform band and the two sup tests (all on τ̂'s scale)."""

    lower: np.ndarray
    upper: np.ndarray
    crit: float          # the critical value on the statistic's scale (ĉ; per level: see the band)
    p_nullity: float
    p_homogeneity: float


# ------------------------------------------------------------------------------------ helpers
def cluster_sums(phi: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """Rows of ``phi`` summed within clusters (``None``: unchanged)."""
    if clusters is None:
        return phi
    _, inv = np.unique(clusters, return_inverse=True)
    out = np.zeros((inv.max() + 1,) + phi.shape[1:])
    np.add.at(out, inv, phi)
    return out


def covariance_root(phi: np.ndarray) -> np.ndarray:
    """R (M × M) with R'R = Φ'Φ: Cholesky factor, or the symmetric eigen-root when singular
    (as ``r3d_teach.core.bootstrap.covariance_root``)."""
    S = phi.T @ phi
    try:
        return np.linalg.cholesky(S).T
    except np.linalg.LinAlgError:
        lam, V = np.linalg.eigh(S)
        return np.sqrt(np.clip(lam, 0.0, None))[:, None] * V.T


def critical_value(S: np.ndarray, alpha: float) -> float:
    """(1 - α) quantile of the draws' statistics, ``method="higher"`` (defined for every B)."""
    return float(np.quantile(np.asarray(S), 1.0 - alpha, method="higher"))


def p_value(S: np.ndarray, T: float) -> float:
    """(1 + #{S_b ≥ T}) / (1 + B)."""
    S = np.asarray(S)
    return float((1 + np.sum(S >= T)) / (1 + S.size))


def _draws(phi_g: np.ndarray, B: int, rng: np.random.Generator, chunk_elements: int = CHUNK_ELEMENTS):
    """Yield (a, b, G[a:b]) with G_b = η_b R (R'R = Φ'Φ) when Φ has more rows than columns,
    else G_b = ξ_b Φ (unit form), exactly as ``r3d_teach.core.bootstrap.multiplier_bootstrap``."""
    n, m = phi_g.shape
    R = covariance_root(phi_g) if n > m else phi_g
    k = R.shape[0]
    size = max(1, min(B, chunk_elements // max(k, 1)))
    for a in range(0, B, size):
        b = min(B, a + size)
        yield a, b, rng.standard_normal((b - a, k)) @ R


def _centre(phi_g: np.ndarray, tau: np.ndarray, w: np.ndarray):
    """Centred terms φ_g(q) - Σ_r w_r φ_g(r) and centred estimate τ̂ - τ̄."""
    return phi_g - (phi_g @ w)[:, None], tau - tau @ w


def _sup_t(x: np.ndarray, scale: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """max over the levels ``pos`` of |x| / scale along the last axis (0 when none)."""
    if not pos.any():
        return np.zeros(x.shape[:-1])
    return np.max(np.abs(x[..., pos]) / scale[pos], axis=-1)


def _observed(t_abs_pos: np.ndarray, value_zero: np.ndarray, floor: float) -> float:
    """The observed sup statistic: max over se > 0 levels (already transformed), and +inf when a
    level with se = 0 has |value| > floor."""
    T = float(t_abs_pos.max()) if t_abs_pos.size else 0.0
    if value_zero.size and np.any(np.abs(value_zero) > floor):
        return np.inf
    return T


def _to_normal(t_abs: np.ndarray, dof) -> np.ndarray:
    """|t| with ν degrees of freedom on the normal scale: Φ⁻¹(1 - P(|T_ν| > |t|)/2)."""
    if dof is None:
        return t_abs
    return stats.norm.isf(stats.t.sf(t_abs, dof))


def _from_normal(c: float, dof) -> np.ndarray | float:
    """The t_ν critical value with the same two-sided tail probability as the normal's c."""
    if dof is None:
        return c
    return stats.t.isf(stats.norm.sf(c), dof)


def _dof_at(dof, pos: np.ndarray):
    if dof is None or np.ndim(dof) == 0:
        return dof
    return np.asarray(dof, dtype=float)[pos]


# ------------------------------------------------------------------------------- constructions
class _Parts(NamedTuple):
    tau: np.ndarray
    phi_g: np.ndarray
    w: np.ndarray
    rng: np.random.Generator
    se: np.ndarray
    pos: np.ndarray
    phi_c: np.ndarray
    tau_c: np.ndarray
    sd_c: np.ndarray
    pos_c: np.ndarray


def _studentized_parts(tau, phi, clusters, quantiles, rng, floor) -> _Parts:
    """What every studentized construction starts from: τ̂, the (cluster-summed) terms, the grid
    weights, se and its live levels, and the centred terms with their sd and live levels."""
    tau = np.asarray(tau, dtype=float)
    phi_g = cluster_sums(np.asarray(phi, dtype=float), clusters)
    w = grid_weights(np.asarray(quantiles, dtype=float))
    rng = np.random.default_rng() if rng is None else rng
    se = np.sqrt(np.sum(phi_g**2, axis=0))
    phi_c, tau_c = _centre(phi_g, tau, w)
    sd_c = np.sqrt(np.sum(phi_c**2, axis=0))
    return _Parts(tau, phi_g, w, rng, se, se > floor, phi_c, tau_c, sd_c, sd_c > floor)


def unweighted_band(tau, phi, clusters=None, quantiles=None, alpha: float = 0.05, rng=None,
                    n_boot: int = 999, floor: float = 0.0) -> Band:
    """R3D 0.1.0's band: τ̂ ± ĉ with ĉ the (1 - α) quantile of S_b = max_q |G_b(q)|.

    Nullity: T = max|τ̂|, S_b; homogeneity: T = max|τ̂ - τ̄|, S_b = max|G_b - Ḡ_b| (grid-weighted
    means).  Reproduces ``r3d(..., n_boot=B, seed=s)``'s band and tests given
    ``rng = np.random.default_rng(s)`` (no clusters: the library draws its clustered
    multipliers the same way)."""
    tau = np.asarray(tau, dtype=float)
    phi_g = cluster_sums(np.asarray(phi, dtype=float), clusters)
    q = np.asarray(quantiles, dtype=float)
    w = grid_weights(q)
    rng = np.random.default_rng() if rng is None else rng
    S = np.empty(n_boot)
    H = np.empty(n_boot)
    for a, b, G in _draws(phi_g, n_boot, rng):
        S[a:b] = np.abs(G).max(axis=1)
        H[a:b] = np.abs(G - (G @ w)[:, None]).max(axis=1)
    c = critical_value(S, alpha)
    return Band(tau - c, tau + c, c, p_value(S, float(np.abs(tau).max())),
                p_value(H, float(np.abs(tau - tau @ w).max())))


def studentized_band(tau, phi, clusters=None, quantiles=None, alpha: float = 0.05, rng=None,
                     n_boot: int = 999, dof=None, dof_centred=None, floor: float = 0.0,
                     scale=None) -> Band:
    """The studentized (t-statistic process) band and tests, optionally with Student-t tails.

        S_b = max_{q: se(q) > 0} |G_b(q)| / se(q),   ĉ = (1 - α) quantile of S_b,
        band:  τ̂(q) ± ĉ_q se(q),   ĉ_q = F_ν(q)⁻¹(Φ(ĉ))   (ĉ_q = ĉ without ``dof``),
        nullity:  T = max_q Φ⁻¹(F_ν(q)(|τ̂(q)| / se(q))),  p = (1 + #{S_b ≥ T}) / (1 + B),
        homogeneity: the same with τ̂ - τ̄, G_b - Ḡ_b and sd_c(q) (exact sd of the centred
        process), with ``dof_centred`` (default: ``dof``).

    ``dof``: None (Gaussian), one number, or one per level (e.g. :func:`bm_dof`,
    :func:`kish_dof`).  ``scale``: an alternative positive weight s(q) in place of se(q) for the
    band statistic (e.g. a floored or smoothed se); the test then uses the same s.
    Levels with se(q) ≤ ``floor``: see the module docstring (out of every max, zero width)."""
    tau, phi_g, w, rng, se, pos, phi_c, tau_c, sd_c, pos_c = _studentized_parts(tau, phi, clusters, quantiles,
                                                                               rng, floor)
    s = se if scale is None else np.asarray(scale, dtype=float)
    S = np.empty(n_boot)
    H = np.empty(n_boot)
    for a, b, G in _draws(phi_g, n_boot, rng):
        S[a:b] = _sup_t(G, s, pos)
        H[a:b] = _sup_t(G - (G @ w)[:, None], sd_c, pos_c)
    c = critical_value(S, alpha)
    half = np.zeros_like(tau)
    half[pos] = _from_normal(c, _dof_at(dof, pos)) * s[pos]
    T = _observed(_to_normal(np.abs(tau[pos]) / s[pos], _dof_at(dof, pos)), tau[~pos], floor)
    dc = dof if dof_centred is None else dof_centred
    Tc = _observed(_to_normal(np.abs(tau_c[pos_c]) / sd_c[pos_c], _dof_at(dc, pos_c)), tau_c[~pos_c], floor)
    return Band(tau - half, tau + half, c, p_value(S, T), p_value(H, Tc))


def studentized_mvt_band(tau, phi, clusters=None, quantiles=None, alpha: float = 0.05, rng=None,
                         n_boot: int = 999, dof: float = np.inf, floor: float = 0.0) -> Band:
    """Studentized band with a multivariate-t critical value: S_b = max_q |G_b(q)|/se(q) divided
    by √(W_b/ν), W_b ~ χ²_ν drawn after the B normal blocks (one shared variance estimate with
    ν degrees of freedom; ν = ∞ is :func:`studentized_band`).  Band τ̂ ± ĉ se; tests as there,
    with the same divisor for the centred process."""
    tau, phi_g, w, rng, se, pos, phi_c, tau_c, sd_c, pos_c = _studentized_parts(tau, phi, clusters, quantiles,
                                                                               rng, floor)
    S = np.empty(n_boot)
    H = np.empty(n_boot)
    for a, b, G in _draws(phi_g, n_boot, rng):
        S[a:b] = _sup_t(G, se, pos)
        H[a:b] = _sup_t(G - (G @ w)[:, None], sd_c, pos_c)
    if np.isfinite(dof):
        div = np.sqrt(rng.chisquare(dof, n_boot) / dof)
        S, H = S / div, H / div
    c = critical_value(S, alpha)
    half = np.where(pos, c * se, 0.0)
    T = _observed(np.abs(tau[pos]) / se[pos], tau[~pos], floor)
    Tc = _observed(np.abs(tau_c[pos_c]) / sd_c[pos_c], tau_c[~pos_c], floor)
    return Band(tau - half, tau + half, c, p_value(S, T), p_value(H, Tc))


def bootstrap_t_band(tau, phi, clusters=None, quantiles=None, alpha: float = 0.05, rng=None,
                     n_boot: int = 999, floor: float = 0.0, multiplier: str = "gaussian") -> Band:
    """Multiplier bootstrap-t: one multiplier ξ_gb per unit (cluster), G_b = Σ_g ξ_gb φ_g and each
    draw studentized by its own variance estimate V*_b(q) = Σ_g ξ_gb² φ_g(q)² (the variance
    formula applied to the perturbed terms ξ_gb φ_g):  S_b = max_q |G_b(q)| / √V*_b(q), band
    τ̂ ± ĉ se; homogeneity with the centred terms.  ``multiplier``: "gaussian" or "mammen"."""
    tau, phi_g, w, rng, se, pos, phi_c, tau_c, sd_c, pos_c = _studentized_parts(tau, phi, clusters, quantiles,
                                                                               rng, floor)
    n = phi_g.shape[0]
    size = max(1, min(n_boot, CHUNK_ELEMENTS // max(n, 1)))
    S = np.empty(n_boot)
    H = np.empty(n_boot)
    sq, sqc = phi_g**2, phi_c**2
    for a in range(0, n_boot, size):
        b = min(n_boot, a + size)
        if multiplier == "gaussian":
            xi = rng.standard_normal((b - a, n))
        elif multiplier == "mammen":
            r5 = np.sqrt(5.0)
            lo, hi, p_lo = (1 - r5) / 2, (1 + r5) / 2, (r5 + 1) / (2 * r5)
            xi = np.where(rng.random((b - a, n)) < p_lo, lo, hi)
        else:
            raise ValueError(f"multiplier: 'gaussian' or 'mammen', got {multiplier!r}")
        G, V = xi @ phi_g, (xi**2) @ sq
        Gc, Vc = xi @ phi_c, (xi**2) @ sqc
        with np.errstate(divide="ignore", invalid="ignore"):
            S[a:b] = np.max(np.where(pos, np.abs(G) / np.sqrt(V), 0.0), axis=1) if pos.any() else 0.0
            H[a:b] = np.max(np.where(pos_c, np.abs(Gc) / np.sqrt(Vc), 0.0), axis=1) if pos_c.any() else 0.0
    S, H = np.nan_to_num(S), np.nan_to_num(H)
    c = critical_value(S, alpha)
    half = np.where(pos, c * se, 0.0)
    T = _observed(np.abs(tau[pos]) / se[pos], tau[~pos], floor)
    Tc = _observed(np.abs(tau_c[pos_c]) / sd_c[pos_c], tau_c[~pos_c], floor)
    return Band(tau - half, tau + half, c, p_value(S, T), p_value(H, Tc))


# ---------------------------------------------------------------------- degrees of freedom
def kish_dof(phi, clusters=None) -> np.ndarray:
    """Per level, the effective number of variance contributions ν(q) = (Σ_g φ_g²)² / Σ_g φ_g⁴
    (Kish's effective sample size of the squared terms; Satterthwaite's ν for V̂ = Σ_g φ_g² with
    Var(φ_g²) estimated by φ_g⁴, i.e. an error kurtosis of 3 counted twice: conservative).
    NaN where se(q) = 0."""
    phi_g = cluster_sums(np.asarray(phi, dtype=float), clusters)
    s2 = np.sum(phi_g**2, axis=0)
    s4 = np.sum(phi_g**4, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s4 > 0, s2**2 / s4, np.nan)


def _side_w(fit, power: float, column: int = 0) -> np.ndarray:
    """Dense W = diag(ω_i / (1 - ℓ_i)^power) (I - H) on the side's rows (n_s × n_s; a check of
    :func:`bm_moments`): V̂ = ‖W e‖² for the errors e (H the order-p fit at b, ℓ its leverage;
    rows outside the b-window get the fit's extrapolation)."""
    rows, bias = fit.rows, fit.bias
    om = fit.omega[:, column]
    bh = float(np.atleast_1d(bias.h)[column])
    u = bias.xc[rows] / bh
    R = u[:, None] ** np.arange(bias.p + 1)
    K = bias.active_values(bias.k_active, rows)[:, column]
    Sinv = bias.sinv if bias.sinv.ndim == 2 else bias.sinv[column]
    Hm = (R @ Sinv) @ (R * K[:, None]).T
    lev = bias.active_values(bias.lev_active, rows)[:, column]
    one = 1.0 - lev
    d = om / np.where(one > 1e-10, one, 1.0) ** power
    return d[:, None] * (np.eye(rows.size) - Hm)


def _low_rank_parts(d: np.ndarray, R: np.ndarray, K: np.ndarray, Sinv: np.ndarray):
    """Per unit of one side: s_i = d_i², X_i = d_i U_i, Y_i = d_i V_i with W W' = diag(s) - X Y'
    for W = diag(d)(I - H), H = R S⁻¹R' diag(K) (rank k = p + 1):

        (I - H)(I - H)' = I - L,  L = RC + C'R' - RPR' = U V',  C = S⁻¹R'K,  P = CC',
        U = [R, C', R],  V = [C', R, -RP]."""
    C = Sinv @ (R * K[:, None]).T                  # (k, n)
    RP = R @ (C @ C.T)
    U = np.hstack([R, C.T, R])
    V = np.hstack([C.T, R, -RP])
    return d**2, d[:, None] * U, d[:, None] * V


def bm_moments(s: np.ndarray, X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """tr(A) and ‖A‖_F² for A = diag(s) - X Y' (G × G, X and Y: G × r) in O(G r²):
    tr A = Σ s_g - Σ_g X_g·Y_g,  ‖A‖² = Σ s_g² - 2 Σ_g s_g X_g·Y_g + tr((X'X)(Y'Y))."""
    xy = np.sum(X * Y, axis=1)
    tr = float(np.sum(s) - np.sum(xy))
    fro = float(np.sum(s**2) - 2.0 * np.sum(s * xy) + np.trace((X.T @ X) @ (Y.T @ Y)))
    return tr, fro


RESIDUAL_POWER = {"hc3": 1.0, "hc2": 0.5, "raw": 0.0}


#: windows with at most this many rows per side use the dense computation (exact and stable when
#: some leverage is close to one); larger ones the O(n) low-rank moments
BM_DENSE_ROWS = 3000


def bm_dof(fits: dict, residuals: str = "hc3", column: int = 0, clusters: np.ndarray | None = None) -> float:
    """Bell-McCaffrey effective degrees of freedom of the sharp robust variance V̂ = Σ_g φ_g(q)²
    (Bell and McCaffrey 2002, Survey Methodology 28(2); Imbens and Kolesár 2016, REStat 98(4)).

    On each side φ_i = ω_i ê_i / (1 - ℓ_i)^k (k = 1 HC3, 1/2 HC2, 0 raw) with ê = (I - H)e the
    residuals of the order-p fit at b, so φ = W e with W = diag(ω/(1 - ℓ)^k)(I - H) per side and
    V̂ = e'W'CC'We (C: units → clusters; the identity without clusters).  Under homoskedastic
    normal errors V̂/σ² = Σ_j λ_j χ²_1, λ the eigenvalues of A = C'(W_+W_+' ⊕ W_-W_-')C, and
    Satterthwaite's two-moment approximation gives

        ν = (Σ_j λ_j)² / Σ_j λ_j² = (tr A)² / ‖A‖_F²,

    with tr A = ‖X‖_F² and ‖A‖_F = ‖X'X‖_F for X = C'[W_+, W_-] (sums of squares: stable
    when a leverage is close to one) when each side has at most ``BM_DENSE_ROWS`` rows, else
    by the O(n) low-rank moments (:func:`bm_moments`).  ``fits``: ``res.diagnostics.fits``
    (sides "+", "-"); ``column``: the quantile level (Fréchet: one h and one b, the same ν for
    every level); ``clusters``: the cluster code of every unit (n,) or None (with CR3 residuals
    the per-cluster (I - H_gg)⁻¹ is approximated by the units' 1/(1 - ℓ_i): not measured)."""
    power = RESIDUAL_POWER[residuals]
    parts = []
    for sd in ("+", "-"):
        fit = fits[sd]
        rows, bias = fit.rows, fit.bias
        bh = float(np.atleast_1d(bias.h)[column])
        R = (bias.xc[rows] / bh)[:, None] ** np.arange(bias.p + 1)
        K = bias.active_values(bias.k_active, rows)[:, column]
        Sinv = bias.sinv if bias.sinv.ndim == 2 else bias.sinv[column]
        one = 1.0 - bias.active_values(bias.lev_active, rows)[:, column]
        d = fit.omega[:, column] / np.where(one > 1e-10, one, 1.0) ** power
        parts.append((rows, d, R, K, Sinv))
    inv = None
    if clusters is not None:
        _, inv = np.unique(np.asarray(clusters), return_inverse=True)
    if max(p[0].size for p in parts) <= BM_DENSE_ROWS:
        tr, fr = 0.0, 0.0
        blocks = []
        for rows, d, R, K, Sinv in parts:
            W = d[:, None] * (np.eye(rows.size) - (R @ Sinv) @ (R * K[:, None]).T)
            if inv is None:      # units are their own clusters; the sides share none
                A = W @ W.T
                tr, fr = tr + float(np.sum(W * W)), fr + float(np.sum(A * A))
            else:
                Xg = np.zeros((inv.max() + 1, rows.size))
                np.add.at(Xg, inv[rows], W)
                blocks.append(Xg)
        if inv is not None:
            X = np.hstack(blocks)
            A = X @ X.T if X.shape[0] <= X.shape[1] else X.T @ X
            tr, fr = float(np.sum(X * X)), float(np.sum(A * A))
        return float(tr**2 / fr) if fr > 0 else float("nan")
    low = [(rows,) + _low_rank_parts(d, R, K, Sinv) for rows, d, R, K, Sinv in parts]
    if inv is None:
        s = np.concatenate([p[1] for p in low])
        r = low[0][2].shape[1]
        X = np.zeros((s.size, 2 * r))
        Y = np.zeros((s.size, 2 * r))
        n0 = low[0][1].size
        X[:n0, :r], Y[:n0, :r] = low[0][2], low[0][3]
        X[n0:, r:], Y[n0:, r:] = low[1][2], low[1][3]
    else:
        G = inv.max() + 1
        s = np.zeros(G)
        Xs, Ys = [], []
        for rows, si, Xi, Yi in low:
            g = inv[rows]
            s += np.bincount(g, weights=si, minlength=G)
            Xg = np.zeros((G, Xi.shape[1]))
            Yg = np.zeros((G, Yi.shape[1]))
            np.add.at(Xg, g, Xi)
            np.add.at(Yg, g, Yi)
            Xs.append(Xg)
            Ys.append(Yg)
        X, Y = np.hstack(Xs), np.hstack(Ys)
    tr, fr = bm_moments(s, X, Y)
    return float(tr**2 / fr) if fr > 0 and tr > 0 else float("nan")
