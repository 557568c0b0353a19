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

from .gini import gini_from_quantiles
from .influence import cluster_sums
from .quantiles import grid_weights
from .validate import as_real_array, check_multipliers

__all__ = [
    "covariance_root",
    "BootstrapResult",
    "TESTS",
    "multiplier_bootstrap",
    "critical_value",
    "check_boot_budget",
    "parse_test_ranges",
]

TESTS = ("nullity", "homogeneity", "gini")

#: elements (draws × units) of one block of multipliers: bounds the bootstrap's memory
BOOT_CHUNK_ELEMENTS = 4_000_000
#: keep the (B, M) draws for plots when B·M is at most this
KEEP_DRAWS_ELEMENTS = 5_000_000
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


def covariance_root(phi: np.ndarray, gram: np.ndarray | None = None) -> np.ndarray:
    """An M × M matrix R with R'R = Φ'Φ: the Cholesky factor (unique and continuous in Φ), or
    the symmetric eigen-root when Φ'Φ is singular.  Gaussian draws η_b R then have exactly the
    law of Σ_i ξ_ib φ_i.  ``gram``: Φ'Φ when already computed (Φ is then not read)."""
    S = phi.T @ phi if gram is None else gram
    try:
        return np.linalg.cholesky(S).T
    except np.linalg.LinAlgError:
        lam, V = np.linalg.eigh(S)
        return np.sqrt(np.clip(lam, 0.0, None))[:, None] * V.T


def critical_value(stats: np.ndarray, alpha: float) -> float:
    """(1 - α) critical value of bootstrap sup statistics: ``np.quantile(S, 1-α, "higher")``,
    the (⌈(1-α)(B-1)⌉ + 1)-th smallest; defined for every B ≥ 1."""
    return float(np.quantile(np.asarray(stats), 1.0 - alpha, method="higher"))


def parse_test_ranges(test_ranges, quantiles: np.ndarray) -> list[tuple[float, float]]:
    """Normalise ``test_ranges`` to a list of (lo, hi) pairs of the grid.

    None → the whole grid.  A pair (lo, hi) → one range; a longer increasing vector
    (a, b, c) → consecutive ranges [a, b], [b, c] (R3D's convention); a list of pairs → those.
    Each range must lie within the grid and contain at least two grid points.
    """
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
    # lazily computed terms (r3d_teach.core.influence.LazyTerms) may carry Φ'Φ: then Φ is not read
    gram = getattr(phi, "gram", None)
    if gram is None or multipliers is not None or gini_parts is not None or clusters is not None:
        phi, gram = np.asarray(phi, dtype=float), None
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
        phi = covariance_root(phi, gram)
        n = m
    if multipliers is not None:
        xi_all = check_multipliers(multipliers, n_all)
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
        from tqdm.auto import tqdm  # loaded only when a progress bar is asked for

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
