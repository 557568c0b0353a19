"""Multiplier bootstrap, uniform and pointwise bands, and tests (book chapter 5).

The estimate is linear in the unit outcomes, m̂_±(q) = Σ_i w^±_i(q) Q_i(q), so its sampling
error is approximated by the multiplier process (Van Dijcke 2025, eq. 14 and A-4.3; Chiang,
Hsu and Sasaki 2019) with the finite-sample equivalent-kernel weights in place of the
asymptotic ones (as R3D 0.1.0 does):

    U^±_b(q) = Σ_i ξ_ib w^±_i(q) ê^±_i(q),      ξ_ib iid N(0, 1),
    sharp:  G_b(q) = U^+_b(q) - U^-_b(q),
    fuzzy:  G_b(q) = [Δ_T (U^+_b - U^-_b)(q) - Δ_Y(q) (η^+_b - η^-_b)] / Δ_T²,

with η the same process for the treatment regression (its own window and weights).
Residuals ê are taken for **every** unit in the window (R3D 0.1.0 keeps only units with a
positive weight, which drops about half the window) and are leverage-corrected
(:mod:`r3d_teach.core.residuals`; ``r3d`` uses HC2, ê / √(1 - ℓ_i), with the studentized band and
HC3, ê / (1 - ℓ_i), with the unweighted one).

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

Two uniform bands (``band=``), each with its tests:

* ``"studentized"`` (default; the t-statistic process of Chernozhukov, Fernández-Val and Melly
  2013, and Qu and Yoon 2019 for RD quantile effects, with a multivariate-t critical value):
  with se(q) = √Σ_g φ_g(q)² the exact standard deviation of the Gaussian multiplier process
  (clustered: sums within clusters; ``r3d`` uses HC2 residuals for this band by default), the
  live levels L = {q: se(q) > 0}, ν the Bell-McCaffrey degrees of freedom of the variance
  (:mod:`r3d_teach.core.dof`) and, drawn after all B normal blocks (so nothing depends on the
  chunk size), W_b ~ χ²_ν,

      T_b = max_{q ∈ L} |G_b(q)| / se(q) / √(W_b/ν),     ĉ = (1 - α) quantile of the T_b,
      band  τ̂(q) ± ĉ · se(q)   (zero width where se(q) = 0):

  the draws of a multivariate t with ν degrees of freedom (one variance estimate shared by every
  level; Hothorn, Bretz and Westfall 2008), narrow where the estimate is precise, wide in noisy
  tails, and wider than the Gaussian band when the windows hold few units (small ν).  ν = ∞
  (``dof=None``) is the Gaussian critical value;
* ``"unweighted"`` (the paper's and R3D 0.1.0's): τ̂(q) ± c with S_b = max_q |G_b(q)|, one width
  for every q, set by the noisiest level (no ν: exactly the band of R3D 0.1.0's rule);
* pointwise band: τ̂(q) ± z_{1-α/2} sd_b(G_b(q)) (the draws' sd; ``r3d`` reports the analytic
  ``se`` instead, see :class:`~r3d_teach.core.results.R3DResult`);
* nullity on a range R: studentized T = max_{R ∩ L} |τ̂|/se against the T_b of that range (the
  same W_b), and T = ∞ when τ̂(q) ≠ 0 at a level of R with se(q) = 0 (a deterministic non-zero
  effect): on the whole grid the band excludes 0 somewhere exactly when p ≤ α (T > ĉ ⇔
  p ≤ α holds whenever α(B + 1) is an integer, e.g. B = 999 or 199 at α = 0.05).  Unweighted:
  T = max_R |τ̂|, S_b = max_R |G_b|;
* homogeneity: the centred process τ̂ - τ̄_R and G_b - Ḡ_b,R (grid-weighted means over R),
  studentized level by level by the exact sd of the centred process,
  sd_c(q) = ‖Φ(q) - Φ_R w_R‖ (norm over rows), the max over R divided by the same √(W_b/ν);
  levels with sd_c(q) ≤ :data:`CENTRED_SD_ZERO` · max_R se leave the maximum (and count as
  T = ∞ when their centred τ̂ is not zero: :data:`CENTRED_TAU_ZERO`).  Unweighted:
  T = max_R |τ̂ - τ̄_R|, S_b = max_R |G_b - Ḡ_b,R|;
* p-value = (1 + #{S_b ≥ T}) / (1 + B) (S_b: T_b for the studentized statistics);
* centred Gini (sharp only): D̂ = Gini(m̂_+) - Gini(m̂_-),
  D*_b = Gini(m̂_+ + U^+_b) - Gini(m̂_- + U^-_b) - D̂, p = (1 + #{|D*_b| ≥ |D̂|}) / (1 + B);
  a |D̂| below :data:`GINI_NOISE` is rounding (identical units: p = 1).

Levels where se(q) = 0 (identical units there, or the rounding floor) carry no randomness: the
studentized band has zero width there (at τ̂, which is then 0 or a deterministic value) and they
are left out of the studentized maxima; a non-zero τ̂ there is an infinite t-statistic
(p = 1/(B + 1)).  When no level carries randomness the draws are all 0: ĉ = 0, and the tests
give p = 1 when τ̂ ≡ 0 (identical units) and p = 1/(B + 1) otherwise.

Example
-------
>>> import numpy as np
>>> from r3d_teach.core.bootstrap import multiplier_bootstrap
>>> q = np.array([0.25, 0.5, 0.75])
>>> phi = np.array([[0.1, 0.1, 0.1], [-0.1, -0.1, -0.1]])   # two units' influence terms
>>> xi = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]])        # n × B multipliers
>>> out = multiplier_bootstrap(phi, np.zeros(3), q, multipliers=xi, alpha=0.5, band="unweighted")
>>> out.sup_stats.round(3).tolist(), round(out.crit_value, 3)
([0.1, 0.3, 0.05], 0.1)
>>> phi = np.array([[0.1, 0.2, 0.4], [0.0, 0.0, -0.3]])           # se(q) = 0.1, 0.2, 0.5
>>> out = multiplier_bootstrap(phi, np.zeros(3), q, multipliers=xi, alpha=0.5)   # studentized
>>> out.se.round(3).tolist(), out.t_stats.round(3).tolist(), round(out.crit_value, 3)
([0.1, 0.2, 0.5], [1.0, 2.2, 0.5], 1.0)
>>> (out.band_upper - out.band_lower).round(3).tolist()          # 2 ĉ se(q)
[0.2, 0.4, 1.0]
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
    "BANDS",
    "multiplier_bootstrap",
    "critical_value",
    "studentized_critical_value",
    "t_divisor",
    "exact_sd",
    "centred_sd_from_gram",
    "check_boot_budget",
    "parse_test_ranges",
]

TESTS = ("nullity", "homogeneity", "gini")
#: the uniform bands: the t-statistic process (default) and R3D 0.1.0's one-width band
BANDS = ("studentized", "unweighted")
#: the ``kind`` column of the tests table: which statistic a row's ``statistic`` is
STATISTIC_KINDS = {
    ("nullity", "studentized"): "max |tau|/se",
    ("homogeneity", "studentized"): "max |tau - mean|/sd",
    ("nullity", "unweighted"): "max |tau|",
    ("homogeneity", "unweighted"): "max |tau - mean|",
    ("gini", "unweighted"): "|Gini(+) - Gini(-)|",
}
#: kinds whose statistic and critical value are on τ̂'s scale (the others are scale-free)
_ON_TAU_SCALE = ("max |tau|", "max |tau - mean|")
#: a centred level whose exact sd is at most this times the largest se of its range is rounding
#: noise of the centring (e.g. every level's influence terms identical): left out of the maximum
CENTRED_SD_ZERO = 1e-10
#: the same threshold when the centred sd comes from Φ'Φ (:func:`centred_sd_from_gram`): its
#: variance carries an absolute rounding error of about 1e-16 · max_k Φ'Φ_kk, so sds below about
#: 1e-8 · max se are noise there
GRAM_CENTRED_SD_ZERO = 1e-6
#: a centred τ̂ - τ̄ smaller than this times max |τ̂| of its range is rounding of the mean (at a
#: level whose centred sd is zero it then does not count as a deterministic departure)
CENTRED_TAU_ZERO = 1e-9
#: Gini differences smaller than this are rounding (Gini coefficients lie in [0, 1]): D̂ = 0
GINI_NOISE = 1e-12

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
    nbytes = 8.0 * n_boot * (3 + 2 * n_ranges)
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


def studentized_critical_value(t_stats: np.ndarray, alpha: float) -> float:
    """ĉ of the studentized band: the (1 - α) quantile (:func:`critical_value`'s rule) of the
    per-draw statistics T_b = max_q |G_b(q)|/se(q) / √(W_b/ν), already divided by
    :func:`t_divisor` (the multivariate-t step); the band, the tests' critical values and
    ``conf_int`` at any α all call it.  The tests' p-values are the ranks
    (1 + #{T_b ≥ T})/(1 + B), so p ≤ α exactly when T > ĉ."""
    return critical_value(t_stats, alpha)


def t_divisor(dof: float | None, n_boot: int, rng: np.random.Generator | None) -> np.ndarray | None:
    """√(W_b/ν), W_b ~ χ²_ν iid (b = 1..B): dividing a Gaussian draw's studentized sup by it gives
    the draw of a multivariate t with ν degrees of freedom (Hothorn, Bretz and Westfall 2008).
    None when ν is None or infinite (the Gaussian critical value).  Drawn from ``rng`` after all
    the normal blocks (so the result does not depend on the chunk size).

    >>> d = t_divisor(4.0, 100_000, np.random.default_rng(0))
    >>> bool(abs(np.mean(d**2) - 1) < 0.02), t_divisor(None, 5, None)
    (True, None)
    """
    if dof is None or not np.isfinite(dof):
        return None
    if not dof > 0:
        raise ValueError(f"dof: the degrees of freedom must be positive, got {dof!r}")
    rng = rng if rng is not None else np.random.default_rng()
    return np.sqrt(rng.chisquare(float(dof), int(n_boot)) / float(dof))


def exact_sd(phi: np.ndarray) -> np.ndarray:
    """se(q) = √Σ_i φ_i(q)²: the exact standard deviation of the Gaussian multiplier process
    G(q) = Σ_i ξ_i φ_i(q) (rows of ``phi`` already summed within clusters when clustered; a
    covariance root R with R'R = Φ'Φ gives the same)."""
    return np.sqrt(np.sum(np.asarray(phi, dtype=float) ** 2, axis=0))


def centred_sd_from_gram(gram: np.ndarray, live: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sd_c(q_k) = ‖Φ(q_k) − Φ_L w‖ for the levels k of ``live`` (L), from G = Φ'Φ alone:
    sd_c² = G_kk − 2 (G_{k,L} w) + w'G_{L,L} w (clipped at 0 against rounding).

    >>> phi = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    >>> live, w = np.array([True, True, True]), np.full(3, 1 / 3)
    >>> direct = np.sqrt(((phi - (phi @ w)[:, None]) ** 2).sum(axis=0))
    >>> bool(np.allclose(centred_sd_from_gram(phi.T @ phi, live, w), direct))
    True
    """
    G = np.asarray(gram, dtype=float)[np.ix_(live, live)]
    Gw = G @ w
    return np.sqrt(np.clip(np.diag(G) - 2.0 * Gw + w @ Gw, 0.0, None))


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
    """What the multiplier bootstrap returns (all on the scale of τ̂ unless said otherwise).

    ``band``: "studentized" or "unweighted"; ``crit_value``: the band's critical value, a
    multiple of ``se`` for the studentized band (ĉ, scale-free) and the half-width itself for
    the unweighted one; ``sup_stats``: the per-draw unweighted sups max_q |G_b(q)|;
    ``t_stats``: the per-draw studentized statistics T_b = max_q |G_b(q)|/se(q) / √(W_b/ν) over
    the levels with se > 0 (0 when there are none), whose (1 - α) quantile is ĉ;
    ``t_divisor``: the √(W_b/ν) they were divided by (None for ν = ∞: Gaussian);
    ``se``: the exact sd of the multiplier process per level; ``dof``: ν (None: Gaussian).
    :meth:`half_width` gives the band's half-width for any α from the stored statistics.
    """

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
    band: str = "unweighted"
    se: np.ndarray | None = field(default=None, repr=False)
    t_stats: np.ndarray | None = field(default=None, repr=False)
    dof: float | None = None
    t_divisor: np.ndarray | None = field(default=None, repr=False)

    @property
    def studentized(self) -> bool:
        """The band is the studentized one (τ̂ ± ĉ·se; zero width where se = 0)."""
        return self.band == "studentized" and self.se is not None

    @property
    def all_se_zero(self) -> bool:
        """No level carries randomness (every se is 0): the band has zero width."""
        return self.se is not None and not bool(np.any(self.se > 0))

    def critical(self, alpha: float | None = None) -> float:
        """The band's critical value at level ``alpha`` (default: the fit's), from the stored
        per-draw statistics: ĉ (studentized) or c (unweighted)."""
        a = self.alpha if alpha is None else alpha
        if self.studentized:
            return studentized_critical_value(self.t_stats, a)
        return critical_value(self.sup_stats, a)

    def half_width(self, alpha: float | None = None) -> np.ndarray:
        """The uniform band's half-width per level: ĉ · se(q) (studentized) or c (unweighted)."""
        c = self.critical(alpha)
        if self.studentized:
            return c * self.se
        return np.full(self.band_lower.shape, c)

    def scaled(self, scale: float) -> "BootstrapResult":
        """The same bootstrap for the outcome multiplied by ``scale`` > 0 (every quantity on
        τ̂'s scale is multiplied; p-values and the scale-free statistics are unchanged)."""
        if scale == 1.0:
            return self
        tests = self.tests.copy()
        on_tau = tests["kind"].isin(_ON_TAU_SCALE) if "kind" in tests else tests["test"] != "gini"
        for col in ("statistic", "critical_value"):
            tests[col] = tests[col].astype(float)
            tests.loc[on_tau, col] = tests.loc[on_tau, col] * scale
        mul = (lambda a: None if a is None else a * scale)
        return BootstrapResult(
            n_boot=self.n_boot, alpha=self.alpha,
            crit_value=self.crit_value if self.studentized else self.crit_value * scale,
            band_lower=self.band_lower * scale, band_upper=self.band_upper * scale,
            pointwise_lower=self.pointwise_lower * scale, pointwise_upper=self.pointwise_upper * scale,
            sd=self.sd * scale, sup_stats=self.sup_stats * scale, tests=tests, draws=mul(self.draws),
            influence=mul(self.influence), rows=self.rows, clusters=self.clusters, band=self.band,
            se=mul(self.se), t_stats=self.t_stats, dof=self.dof, t_divisor=self.t_divisor)


def _chunks(B: int, n: int, max_elems: int = BOOT_CHUNK_ELEMENTS):
    size = max(1, min(B, max_elems // max(n, 1)))
    for start in range(0, B, size):
        yield start, min(B, start + size)


def _studentized_specs(ranges, q, gw, tau, se, phi, gram):
    """Per range: what the studentized nullity and homogeneity statistics need (see the module
    docstring): the live levels, the centring weights, the centred sds, and whether a level
    without randomness makes the observed statistic infinite."""
    pos = se > 0
    specs = []
    for lo, hi in ranges:
        mk = (q >= lo - 1e-9) & (q <= hi + 1e-9)
        live = mk & pos
        inf_null = bool(np.any(tau[mk & ~pos] != 0))
        w = gw[mk] / gw[mk].sum()
        if gram is None:
            centred = phi[:, mk] - (phi[:, mk] @ w)[:, None]
            sd_c, zero = exact_sd(centred), CENTRED_SD_ZERO
        else:
            sd_c, zero = centred_sd_from_gram(gram, mk, w), GRAM_CENTRED_SD_ZERO
        top = float(se[mk].max())
        ok = sd_c > zero * top if top > 0 else np.zeros(sd_c.shape, bool)
        tc = tau[mk] - tau[mk] @ w
        scale = float(np.abs(tau[mk]).max())
        inf_homo = bool(np.any(np.abs(tc[~ok]) > CENTRED_TAU_ZERO * scale))
        inv_sd = np.zeros(sd_c.shape)
        inv_sd[ok] = 1.0 / sd_c[ok]
        specs.append({"mask": mk, "w": w, "live": live, "inf_null": inf_null, "ok": ok, "inv_sd": inv_sd,
                      "tau_c": tc, "inf_homo": inf_homo})
    return specs


def _observed(values: np.ndarray, inv: np.ndarray, keep: np.ndarray, infinite: bool) -> float:
    """max over ``keep`` of |values| · inv (0 when none), or ∞ when ``infinite``."""
    if infinite:
        return float("inf")
    return float((np.abs(values[keep]) * inv[keep]).max()) if keep.any() else 0.0


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
    band: str = "studentized",
    dof: float | None = None,
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
    rng : the generator of the normal draws and, after them, of the χ²_ν draws of the
        studentized band (also with given ``multipliers``: pass one for reproducible results).
    multipliers : optional (n, B) matrix of multipliers ξ (column b = draw b), for exact tests
        or to reuse another program's draws.
    tests : any of "nullity", "homogeneity", "gini".
    gini_parts : (m_plus, m_minus, phi_plus, phi_minus), needed for the Gini test.
    keep_draws : keep the (B, M) draws when B·M is at most this (for plots).
    clusters : optional cluster code of each row of ``phi``: one multiplier per cluster,
        G_b = Σ_g ξ_gb Σ_{i∈g} phi_i (clustered bands and tests).
    band : "studentized" (default: τ̂ ± ĉ·se(q), tests on the studentized process) or
        "unweighted" (τ̂ ± c, R3D 0.1.0's band and tests); see the module docstring.
    dof : ν, the degrees of freedom of the variance (:func:`r3d_teach.core.dof.fit_dof`) for
        the studentized band's multivariate-t critical value; None or ∞: Gaussian.
    """
    if band not in BANDS:
        raise ValueError(f"band: must be one of {', '.join(map(repr, BANDS))}, got {band!r}")
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
    # the exact sd of the multiplier process, and what the studentized statistics need per range:
    # from Φ's rows, or from Φ'Φ when the lazily computed terms carry it (then Φ is not read)
    se = exact_sd(phi) if gram is None else np.sqrt(np.clip(np.diag(gram), 0.0, None))
    pos = se > 0
    inv_se = np.zeros(m)
    inv_se[pos] = 1.0 / se[pos]
    stud = band == "studentized"
    specs = _studentized_specs(ranges, q, gw, tau, se, phi, gram) if stud else [
        {"mask": (q >= lo - 1e-9) & (q <= hi + 1e-9)} for lo, hi in ranges]
    for spec in specs:
        spec.setdefault("w", gw[spec["mask"]] / gw[spec["mask"]].sum())
    if multipliers is None and gini_parts is None and n > m:
        # Gaussian multipliers in M dimensions: η_b R with R'R = Φ'Φ has the law of Σ_i ξ_ib φ_i
        # and needs M instead of n normals (and an M × M instead of an n × M product) per draw
        phi = covariance_root(phi, gram)
        n = m
    sup = np.empty(B)
    t_sup = np.zeros(B)
    null_s = np.zeros((len(ranges), B))
    homo_s = np.zeros((len(ranges), B))
    gini_d = np.empty(B) if "gini" in tests else None
    s1 = np.zeros(m)
    s2 = np.zeros(m)
    keep = B * m <= keep_draws
    draws = np.empty((B, m)) if keep else None
    if gini_d is not None:
        m_plus, m_minus, phi_plus, phi_minus = gini_parts
        d_hat = float(gini_from_quantiles(m_plus, q) - gini_from_quantiles(m_minus, q))
        if abs(d_hat) < GINI_NOISE:  # rounding of two equal coefficients (identical units)
            d_hat = 0.0
    it = list(_chunks(B, n))
    if progress:
        from tqdm.auto import tqdm  # loaded only when a progress bar is asked for

        it = tqdm(it, desc="bootstrap", unit="chunk")
    for a, b in it:
        xi = xi_all[:, a:b].T if multipliers is not None else rng.standard_normal((b - a, n))
        G = xi @ phi  # (chunk, M)
        s1 += G.sum(axis=0)
        s2 += (G**2).sum(axis=0)
        absG = np.abs(G)
        sup[a:b] = absG.max(axis=1)
        if stud and pos.any():
            t_sup[a:b] = (absG[:, pos] * inv_se[pos]).max(axis=1)
        for r, spec in enumerate(specs):
            mk, wr = spec["mask"], spec["w"]
            if not stud:
                null_s[r, a:b] = absG[:, mk].max(axis=1)
                Gr = G[:, mk]
                homo_s[r, a:b] = np.abs(Gr - (Gr @ wr)[:, None]).max(axis=1)
                continue
            live, ok = spec["live"], spec["ok"]
            if live.any():
                null_s[r, a:b] = (absG[:, live] * inv_se[live]).max(axis=1)
            if ok.any():
                Gr = G[:, mk]
                homo_s[r, a:b] = (np.abs(Gr - (Gr @ wr)[:, None])[:, ok] * spec["inv_sd"][ok]).max(axis=1)
        if gini_d is not None:
            gp = gini_from_quantiles(m_plus[None, :] + xi @ phi_plus, q)
            gm = gini_from_quantiles(m_minus[None, :] + xi @ phi_minus, q)
            gini_d[a:b] = gp - gm - d_hat
        if keep:
            draws[a:b] = G
    # the multivariate t: every studentized statistic of draw b divided by the same √(W_b/ν),
    # W_b drawn after all the normal blocks
    div = t_divisor(dof, B, rng) if stud else None
    if div is not None:
        t_sup /= div
        null_s /= div[None, :]
        homo_s /= div[None, :]
    mean = s1 / B
    var = (s2 - B * mean**2) / max(B - 1, 1)
    sd = np.sqrt(np.maximum(var, 0.0))
    z = norm.ppf(1.0 - alpha / 2.0)
    table_rows = []
    for r, ((lo, hi), spec) in enumerate(zip(ranges, specs)):
        label = f"[{lo:g}, {hi:g}]"
        mk, wr = spec["mask"], spec["w"]
        if "nullity" in tests:
            S = null_s[r]
            if stud:
                T = _observed(tau, inv_se, spec["live"], spec["inf_null"])
                crit, kind = studentized_critical_value(S, alpha), STATISTIC_KINDS["nullity", "studentized"]
            else:
                T, crit, kind = float(np.abs(tau[mk]).max()), critical_value(S, alpha), \
                    STATISTIC_KINDS["nullity", "unweighted"]
            table_rows.append(("nullity", label, kind, T, crit, (1 + np.sum(S >= T)) / (1 + B)))
        if "homogeneity" in tests:
            S = homo_s[r]
            if stud:
                T = _observed(spec["tau_c"], spec["inv_sd"], spec["ok"], spec["inf_homo"])
                crit, kind = studentized_critical_value(S, alpha), STATISTIC_KINDS["homogeneity", "studentized"]
            else:
                tr = tau[mk]
                T = float(np.abs(tr - tr @ wr).max())
                crit, kind = critical_value(S, alpha), STATISTIC_KINDS["homogeneity", "unweighted"]
            table_rows.append(("homogeneity", label, kind, T, crit, (1 + np.sum(S >= T)) / (1 + B)))
    if gini_d is not None:
        T = abs(d_hat)
        S = np.abs(gini_d[np.isfinite(gini_d)])
        p = (1 + np.sum(S >= T)) / (1 + S.size) if S.size else np.nan
        table_rows.append(("gini", f"[{q[0]:g}, {q[-1]:g}]", STATISTIC_KINDS["gini", "unweighted"], T,
                           critical_value(S, alpha) if S.size else np.nan, p))
    table = pd.DataFrame(table_rows, columns=["test", "range", "kind", "statistic", "critical_value", "p_value"])
    nu = None if (not stud or dof is None or not np.isfinite(dof)) else float(dof)
    out = BootstrapResult(
        n_boot=B, alpha=alpha, crit_value=np.nan, band_lower=tau, band_upper=tau,
        pointwise_lower=tau - z * sd, pointwise_upper=tau + z * sd,
        sd=sd, sup_stats=sup, tests=table, draws=draws, influence=phi_rows, rows=rows, clusters=clusters,
        band=band, se=se, t_stats=t_sup if stud else None, dof=nu, t_divisor=div,
    )
    out.crit_value = out.critical()
    half = out.half_width()
    out.band_lower, out.band_upper = tau - half, tau + half
    return out
