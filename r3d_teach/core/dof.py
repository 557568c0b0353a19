"""Degrees of freedom of the robust variance: Bell and McCaffrey's ν (book chapter 5).

The standard error se(q) = √Σ_g φ_g(q)² is itself an estimate; with few units in the windows it
is noisy, and a critical value that ignores this is too small.  Each side's influence terms are
linear in the unit outcomes e (n_s units of the side's windows):

    φ_i = a_i ê_i,   ê = (I - H) e,   so  φ = W e,   W = diag(a)(I - H),

with H the hat matrix of the order-p fit at b (H_ij = K_j r_i'S⁻¹r_j, S = Σ_j K_j r_j r_j'; rows
outside the b-window get the fit's extrapolation, columns outside it are 0) and a_i the unit's
weight after the residual rule: ω_i/√(1 - ℓ_i) (HC2), ω_i/(1 - ℓ_i) (HC3), ω_i (raw), where ω
are the bias-corrected equivalent-kernel weights and ℓ_i = H_ii; with clusters and HC3 (CR3,
ẽ_g = (I - H_gg)⁻¹ê_g) a_g = (I - H_gg)⁻ᵀω_g.  The variance is V̂ = e'W'CC'We (C: units →
clusters, the identity without clusters), and under the working model of homoskedastic
normal errors V̂/σ² = Σ_j λ_j χ²_1 with λ the eigenvalues of

    A = C'(W₊W₊' ⊕ W₋W₋')C.

Satterthwaite's two-moment approximation of that law by a scaled χ²_ν gives Bell and
McCaffrey's (2002, Survey Methodology 28(2)) degrees of freedom

    ν = (Σ_j λ_j)² / Σ_j λ_j² = (tr A)² / ‖A‖_F²,

which Imbens and Kolesár (2016, REStat 98(4)) recommend with HC2 standard errors.  One ν per
fit: the Fréchet method has one h and one b per side, so one H and one set of weights for every
quantile level; the "simple" method fits each level with its own bandwidths and the smallest ν
over the levels is used (conservative: the band's critical value must serve every level); a
fuzzy design takes the smaller of the outcome's and the first stage's ν (the two estimates come
from the same units; when both stages share their windows the combined terms are one quadratic
form in the same W and its ν is that common value, which a Welch-Satterthwaite sum of the two
would overstate up to two-fold).  The isotonic projection of the Fréchet fit is not linear and
is left out (it only moves fitted curves that cross).

Clusters.  ``r3d``'s studentized band uses, with ``cluster=``, HC2 residuals summed within
clusters and the clustered ν above (measured in ``benchmarks/results/coverage_bands.md``: 93.0-96.4 %
coverage of a 95 % band with 60 to 150 clusters); ``residuals="hc3"`` gives CR3 with its exact
clustered ν (a_g = (I - H_gg)⁻ᵀω_g), which is conservative there (96.4-99.9 %).  CR2, the
clustered HC2 of Bell and McCaffrey, is not implemented.

Computation.  Small windows (:data:`DENSE_WORK`): W is formed (n_s × n_s) and
tr A = ‖C'W‖_F², ‖A‖_F² = ‖(C'W)(C'W)'‖_F² (sums of squares: exact and stable).  Large windows:
O(n) in time and memory.  With F = R T⁻¹ (T from the QR factor of K^{1/2}R, so F'KF = I and
H = F F'K) and G = K F, P = G'G,

    W W' = diag(a²) − X Y',   X = diag(a)[F, G, F],   Y = diag(a)[G, F, −F P]   (rank 3(p + 1)),

summed into clusters (C'diag(a²)C is diagonal: each unit lies in one cluster), and for
A = diag(s) − X Y' (G × G, X and Y: G × r)

    tr A = Σ s_g − Σ_g X_g·Y_g,   ‖A‖_F² = Σ s_g² − 2 Σ_g s_g X_g·Y_g + tr((X'X)(Y'Y)),

accumulated over blocks of rows.  A unit with leverage near one (or a strongly amplified
weight) has a large a_i and a small row of I - H: its terms cancel in these sums, so such units
(leverage above :data:`HIGH_LEVERAGE`, or |a_i| > :data:`AMPLIFIED` |ω_i|) are taken out of the
low-rank part and their rows of W W' are formed explicitly (O(n) each); the two computations
agree to rounding.

Example
-------
>>> import numpy as np
>>> from r3d_teach.core.dof import dof_from_w
>>> n = 30
>>> W = np.eye(n) - np.ones((n, n)) / n          # the residuals of a mean: ν = n - 1
>>> round(dof_from_w([W]), 10)
29.0
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import qr, solve_triangular

from .locpoly import SIDES
from .residuals import cluster_blocks, leverage_divisor

__all__ = ["bell_mccaffrey_dof", "fit_dof", "dof_from_w", "side_weights", "side_basis", "moments_low_rank",
           "DENSE_WORK", "HIGH_LEVERAGE", "AMPLIFIED"]

#: the rules whose terms have the form W e with a hat matrix (ν is defined for these)
DOF_RULES = ("hc3", "hc2", "raw")
#: windows whose dense computation costs at most this many multiply-adds (Σ over the columns and
#: sides of n_s³; about 0.1 s) use it; larger ones the O(n) low-rank moments
DENSE_WORK = 1e8
#: units with a leverage above this are handled explicitly in the low-rank computation
HIGH_LEVERAGE = 0.5
#: ... and units whose residual rule multiplies their weight by more than this (CR3 blocks near
#: singular)
AMPLIFIED = 4.0
#: rows per block of the low-rank accumulation
BLOCK_ROWS = 65_536


# ------------------------------------------------------------------------------ one side, one column
def side_basis(fit, column: int = 0):
    """The side's rows and an orthonormal basis of its order-p fit at b: ``(F, G, P, lev)`` on
    ``fit.rows`` with H = F G' (H_ij = K_j r_i'S⁻¹r_j), G = K F, P = G'G, lev = diag(H).

    F = R T⁻¹ with T the triangular factor of K^{1/2}R (R built on x/d, d = min(b, the widest
    |x| in the window), so the basis is well scaled); F'KF = I."""
    bias = fit.bias
    rows = fit.rows
    bh = float(np.atleast_1d(bias.h)[column])
    xc = np.asarray(bias.xc, dtype=float)[rows]
    K = np.ascontiguousarray(bias.active_values(bias.k_active, rows)[:, column], dtype=float)
    inside = K > 0
    span = float(np.abs(xc[inside]).max()) if inside.any() else bh
    d = min(bh, max(span, np.finfo(float).tiny))
    v = xc / d
    R = np.empty((rows.size, bias.p + 1))
    R[:, 0] = 1.0
    for j in range(1, bias.p + 1):
        np.multiply(R[:, j - 1], v, out=R[:, j])
    T = qr(np.sqrt(K[inside])[:, None] * R[inside], mode="r")[0][: bias.p + 1]
    F = solve_triangular(T, R.T, trans="T", lower=False).T
    G = K[:, None] * F
    return F, G, G.T @ G, np.einsum("ij,ij->i", F, G)


def side_weights(fit, rule: str, column: int = 0, clusters: np.ndarray | None = None,
                 F: np.ndarray | None = None, G: np.ndarray | None = None) -> np.ndarray:
    """a (on ``fit.rows``): each unit's weight after the residual rule, φ_i = a_i ê_i (unit rules)
    or φ_g = a_g'ê_g (CR3: ``rule="hc3"`` with ``clusters``, the codes of ``fit.rows``;
    a_g = M_g (I - H_gg)⁻ᵀ ω_g with M the units with ω ≠ 0, as
    :func:`r3d_teach.core.influence.cluster_leverage_residuals` applies the correction)."""
    rows, bias = fit.rows, fit.bias
    om = np.asarray(fit.omega[:, column], dtype=float)
    if rule == "hc3" and clusters is not None:
        return _cr3_weights(om, clusters, F, G)
    lev = bias.active_values(bias.lev_active, rows)[:, column]
    return om / leverage_divisor(lev, rule) if rule in ("hc3", "hc2") else om.copy()


def _cr3_weights(om, clusters, F, G) -> np.ndarray:
    idx, pad, safe = cluster_blocks(clusters)
    gmax = idx.shape[1]
    Fg, Gg = F[safe], G[safe]                                   # (G, g, k)
    H = np.einsum("gik,gjk->gij", Fg, Gg)                       # H_ij = F_i·G_j within the cluster
    H = np.where(pad[:, :, None] | pad[:, None, :], 0.0, H)
    rhs = np.where(pad, 0.0, om[safe])[..., None]               # (G, g, 1)
    lhs = np.eye(gmax) - H.transpose(0, 2, 1)                   # (I - H_gg)'
    try:
        a = np.linalg.solve(lhs, rhs)[..., 0]
    except np.linalg.LinAlgError:  # a cluster with leverage one: as the residuals, a pseudo-inverse
        a = (np.linalg.pinv(lhs) @ rhs)[..., 0]
    out = np.zeros_like(om)
    out[idx[~pad]] = a[~pad]
    return np.where(om != 0, out, 0.0)


def _w_dense(a, F, G) -> np.ndarray:
    """W = diag(a)(I - F G') (n_s × n_s)."""
    W = -(F @ G.T)
    W[np.diag_indices_from(W)] += 1.0
    W *= a[:, None]
    return W


def dof_from_w(Ws, codes=None) -> float:
    """ν = (tr A)²/‖A‖_F² from dense side matrices W_s (n_s × n_s) with A = C'(⊕ W_s W_s')C;
    ``codes``: per side the cluster code of each row (global codes 0..G-1), or None."""
    if codes is None:
        tr = fr = 0.0
        for W in Ws:
            tr += float(np.sum(W * W))
            fr += float(np.sum((W @ W.T) ** 2))
    else:
        G = int(max(int(c.max()) for c in codes if c.size) + 1)
        blocks = []
        for W, c in zip(Ws, codes):
            X = np.zeros((G, W.shape[1]))
            np.add.at(X, c, W)
            blocks.append(X)
        X = np.hstack(blocks)
        A = X @ X.T if X.shape[0] <= X.shape[1] else X.T @ X
        tr, fr = float(np.sum(X * X)), float(np.sum(A * A))
    return float(tr * tr / fr) if fr > 0 else float("inf")


def moments_low_rank(s: np.ndarray, X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """tr A and ‖A‖_F² of A = diag(s) - X Y' (X, Y: G × r) in O(G r²):
    tr A = Σ s - Σ_g X_g·Y_g, ‖A‖² = Σ s² - 2 Σ_g s_g X_g·Y_g + tr((X'X)(Y'Y)).

    >>> rng = np.random.default_rng(0)
    >>> s, X, Y = rng.random(6), rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    >>> A = np.diag(s) - X @ Y.T
    >>> np.allclose(moments_low_rank(s, X, Y), (np.trace(A), np.sum(A * A)))
    True
    """
    xy = np.einsum("ij,ij->i", X, Y)
    tr = float(np.sum(s) - np.sum(xy))
    fr = float(np.sum(s * s) - 2.0 * np.sum(s * xy) + np.sum((X.T @ X) * (Y.T @ Y)))
    return tr, fr


def _uv(F, G, P, a, blk):
    Fb, Gb, ab = F[blk], G[blk], a[blk, None]
    return ab * np.hstack([Fb, Gb, Fb]), ab * np.hstack([Gb, Fb, -(Fb @ P)])


def _explicit_row(i, F, G, P, a) -> np.ndarray:
    """Row i of W W' = diag(a)(I - H)(I - H)'diag(a): a_i a_j (δ_ij - F_i·G_j - G_i·F_j + F_i'P F_j)."""
    r = F @ (P @ F[i]) - G @ F[i] - F @ G[i]
    r[i] += 1.0
    return a[i] * a * r


# ------------------------------------------------------------------------------------ the ν
def _parts(fit, rule, column, clusters):
    F, G, P, lev = side_basis(fit, column)
    cl = None if clusters is None else clusters[fit.rows]
    a = side_weights(fit, rule, column, cl, F, G)
    om = np.abs(np.asarray(fit.omega[:, column], dtype=float))
    bad = (a != 0) & ((lev > HIGH_LEVERAGE) | (np.abs(a) > AMPLIFIED * om))
    return F, G, P, a, bad


def _dof_column(fits: dict, rule: str, column: int, clusters, dense: bool) -> float:
    parts = {side: _parts(fits[side], rule, column, clusters) for side in SIDES}
    if clusters is not None:
        _, inv = np.unique(np.asarray(clusters), return_inverse=True)
        codes = {side: inv[fits[side].rows] for side in SIDES}
    if dense:
        Ws = [_w_dense(parts[s][3], parts[s][0], parts[s][1]) for s in SIDES]
        return dof_from_w(Ws, None if clusters is None else [codes[s] for s in SIDES])
    if clusters is None:
        tr = fr = 0.0
        for side in SIDES:
            F, G, P, a, bad = parts[side]
            good = np.where(bad, 0.0, a)
            XX = YY = 0.0
            for a0 in range(0, a.size, BLOCK_ROWS):
                blk = slice(a0, min(a0 + BLOCK_ROWS, a.size))
                X, Y = _uv(F, G, P, good, blk)
                s = good[blk] ** 2
                xy = np.einsum("ij,ij->i", X, Y)
                tr += float(np.sum(s) - np.sum(xy))
                fr += float(np.sum(s * s) - 2.0 * np.sum(s * xy))
                XX, YY = XX + X.T @ X, YY + Y.T @ Y
            fr += float(np.sum(XX * YY))
            for i in np.flatnonzero(bad):     # the explicit rows: ‖A‖² gains 2‖A_BG‖² + ‖A_BB‖²
                r = _explicit_row(i, F, G, P, a)
                tr += float(r[i])
                fr += float(2.0 * np.sum(r[~bad] ** 2) + np.sum(r[bad] ** 2))
        return float(tr * tr / fr) if fr > 0 else float("inf")
    # clusters: A = diag(s) - X̃Ỹ' in cluster space, X̃ = [X₊, X₋, -E_B, -N], Ỹ = [Y₊, Y₋, N, E_B]
    # with the rows of W W' of the explicit units in B = C'(W W')_{·,B}, N = B - E_B M / 2
    Gn = int(max(int(c.max()) for c in codes.values() if c.size) + 1)
    r = 3 * (fits["+"].bias.p + 1)
    s = np.zeros(Gn)
    X = np.zeros((Gn, 2 * r))
    Y = np.zeros((Gn, 2 * r))
    extra_B, extra_E, bad_units = [], [], []
    for k, side in enumerate(SIDES):
        F, G, P, a, bad = parts[side]
        c = codes[side]
        good = np.where(bad, 0.0, a)
        s += np.bincount(c, weights=good**2, minlength=Gn)
        for a0 in range(0, a.size, BLOCK_ROWS):
            blk = slice(a0, min(a0 + BLOCK_ROWS, a.size))
            Xb, Yb = _uv(F, G, P, good, blk)
            for j in range(r):
                X[:, k * r + j] += np.bincount(c[blk], weights=Xb[:, j], minlength=Gn)
                Y[:, k * r + j] += np.bincount(c[blk], weights=Yb[:, j], minlength=Gn)
        for i in np.flatnonzero(bad):
            row = _explicit_row(i, F, G, P, a)
            extra_B.append(np.bincount(c, weights=row, minlength=Gn))
            e = np.zeros(Gn)
            e[c[i]] = 1.0
            extra_E.append(e)
            bad_units.append((k, i, row[bad], np.flatnonzero(bad)))
    if extra_B:
        m = len(extra_B)
        B = np.column_stack(extra_B)
        E = np.column_stack(extra_E)
        M = np.zeros((m, m))
        pos = {(k, i): j for j, (k, i, _, _) in enumerate(bad_units)}
        for j, (k, _, vals, idx) in enumerate(bad_units):
            for v, i2 in zip(vals, idx):
                M[j, pos[(k, int(i2))]] = v
        N = B - 0.5 * E @ M
        X = np.hstack([X, -E, -N])
        Y = np.hstack([Y, N, E])
    tr, fr = moments_low_rank(s, X, Y)
    return float(tr * tr / fr) if fr > 0 else float("inf")


def _columns(fits: dict) -> list[int]:
    """Columns with distinct fits: one for a shared bandwidth (Fréchet), else one per distinct
    (h, b) combination of both sides."""
    keys = {}
    M = fits["+"].omega.shape[1]
    for j in range(M):
        key = tuple(float(np.atleast_1d(getattr(fits[s], part).h)[j if np.size(getattr(fits[s], part).h) > 1 else 0])
                    for s in SIDES for part in ("conventional", "bias"))
        keys.setdefault(key, j)
    return sorted(keys.values())


def bell_mccaffrey_dof(fits: dict, rule: str = "hc2", clusters: np.ndarray | None = None,
                       dense: bool | None = None) -> float:
    """Bell-McCaffrey ν of the variance of one boundary jump (see the module docstring).

    ``fits``: the two sides' :class:`~r3d_teach.core.locpoly.BiasCorrectedFit` ("+", "-");
    ``rule``: "hc2", "hc3" (CR3 with clusters) or "raw"; ``clusters``: the cluster code of every
    unit (n,) or None; ``dense``: force the dense (True) or the low-rank (False) computation
    (default: by :data:`DENSE_WORK`).  Per-level fits ("simple"): the smallest ν over the levels.
    Returns ``inf`` when the variance is identically zero (no unit carries a weight)."""
    if rule not in DOF_RULES:
        raise ValueError(f"residuals: the Bell-McCaffrey degrees of freedom need a hat-matrix rule "
                         f"({', '.join(DOF_RULES)}), got {rule!r}")
    cols = _columns(fits)
    if dense is None:
        work = len(cols) * sum(float(fits[s].rows.size) ** 3 for s in SIDES)
        dense = work <= DENSE_WORK
    return float(min(_dof_column(fits, rule, j, clusters, dense) for j in cols))


def fit_dof(fits: dict, rule: str, clusters: np.ndarray | None = None, first_stage_fits: dict | None = None) -> float:
    """The ν of a fit: :func:`bell_mccaffrey_dof` of the outcome's fits, and for a fuzzy design
    the smaller of that and the first stage's.  ``inf`` for rules without a hat-matrix form
    ("nn"): the critical value is then the Gaussian one."""
    if rule not in DOF_RULES:
        return float("inf")
    nu = bell_mccaffrey_dof(fits, rule, clusters)
    if first_stage_fits is not None:
        nu = min(nu, bell_mccaffrey_dof(first_stage_fits, rule, clusters))
    return nu
