r"""Simulation designs with a known true effect curve.

Every design draws aggregate units :math:`i = 1..n` with a running variable :math:`X_i`, a random
distribution :math:`Y_i` for each unit and ``n_obs`` draws from it, and knows two targets at the
cutoff:

* the **LAQTE** (the R3D estimand), :math:`\tau(q) = E[Q_{Y^1}(q) - Q_{Y^0}(q) \mid X = 0]`,
  the difference of the two average quantile functions (Wasserstein barycenters) at the cutoff;
  ``SimulatedRD.truth(q)``;
* the **pooled quantile-RD target** that classical quantile RD (Frandsen, Froelich and Melly 2012)
  estimates when it pools every draw as a scalar outcome: the difference of the quantile functions
  of the two *mixture* laws :math:`E[Y \mid X = 0^\pm]`; ``SimulatedRD.pooled_truth(q)``
  (Van Dijcke 2025, section 2.4). The two agree when treatment shifts every unit by the same
  constant and differ in general.

Designs

==========================  =======================================================================
``paper_dgp1``              the paper's DGP 1 (normal with random mean and sd; pure shift)
``paper_dgp2``              the paper's DGP 2 (random mean + normal + exponential; heterogeneous)
``location_shift``          every unit's law shifted by ``delta``
``scale_change``            every unit's sd multiplied by ``scale``
``heterogeneous_shape``     treated units draw new means and sds (two variants)
``null_design``             no effect at all
``fuzzy_design``            unit-level take-up with a first-stage jump; truth = complier LAQTE
==========================  =======================================================================

``make_design(name, n_units, n_obs, delta, seed)`` builds any of them by name (:data:`DESIGNS`);
:func:`empirical_quantiles` draws the unit quantiles of ``n_obs`` draws exactly in law without
drawing the samples (the Monte Carlo fast path).

All share one sampler: unit parameters are drawn as vectors and all draws of all units as one
``(n_units, n_obs)`` matrix (or one flat vector split by unit when ``n_obs`` varies by unit).
``seed`` may be an ``int``, ``None`` or a ``numpy.random.Generator``; the same ``int`` gives the
same numbers.

Example
-------
>>> import numpy as np
>>> from r3d_teach.simulate import paper_dgp1
>>> sim = paper_dgp1(n_units=200, n_obs=50, delta=2.0, seed=1)
>>> sim.x.shape, len(sim.y), sim.y[0].shape
((200,), 200, (50,))
>>> np.allclose(sim.truth([0.1, 0.5, 0.9]), 2.0)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy import special

__all__ = [
    "SimulatedRD",
    "paper_dgp1",
    "paper_dgp2",
    "paper_dgp2_truth",
    "paper_dgp2_truth_mc",
    "location_shift",
    "scale_change",
    "heterogeneous_shape",
    "null_design",
    "fuzzy_design",
    "DESIGNS",
    "make_design",
    "folded_normal_mean",
    "exgauss_cdf",
    "exgauss_quantile",
    "empirical_quantiles",
]

DECILES = np.round(np.arange(1, 10) / 10, 10)
_SQRT2 = np.sqrt(2.0)


# --------------------------------------------------------------------------------------------
# result container
# --------------------------------------------------------------------------------------------
@dataclass
class SimulatedRD:
    """One simulated RD data set with distribution-valued outcomes and its known targets.

    Attributes
    ----------
    x : ndarray (n,)
        Running variable.
    y : list of ndarray
        ``y[i]`` holds the ``n_obs`` draws of unit ``i`` (rows of ``y_matrix`` when sizes are equal).
    treatment : ndarray (n,) of {0, 1} or None
        Unit-level treatment for fuzzy designs; ``None`` for sharp designs (treated iff x >= cutoff).
    cutoff : float
    name : str
    params : dict
        The design's arguments (for records and for rebuilding the design).
    unit_params : dict of ndarray
        The drawn unit-level parameters (e.g. ``mu``, ``sigma``, ``lam``), for teaching and tests.
    y_matrix : ndarray (n, n_obs) or None
        All draws as one matrix when every unit has the same number of draws.

    Methods: ``truth(q)`` (LAQTE), ``pooled_truth(q)`` (pooled quantile-RD target),
    ``mean_quantile(q, x)`` (m(q | x)), ``unit_quantile(levels)`` (each unit's true quantile
    function, used by :func:`empirical_quantiles`), ``to_frame()``.
    """

    x: np.ndarray
    y: list
    treatment: np.ndarray | None
    cutoff: float
    name: str
    params: dict
    _truth: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    _pooled_truth: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    _mean_quantile: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(
        default=None, repr=False
    )
    unit_params: dict = field(default_factory=dict, repr=False)
    y_matrix: np.ndarray | None = field(default=None, repr=False)
    _unit_quantile: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    def unit_quantile(self, levels: np.ndarray) -> np.ndarray:
        """Each unit's true quantile function: ``levels`` (n, k) in (0, 1) -> Q_i(levels[i, j])."""
        if self._unit_quantile is None:
            raise NotImplementedError(f"design {self.name!r} has no unit_quantile")
        u = np.asarray(levels, dtype=float)
        if u.ndim != 2 or u.shape[0] != self.n_units:
            raise ValueError("levels must be an (n_units, k) array")
        return self._unit_quantile(u)

    @property
    def n_units(self) -> int:
        return int(self.x.shape[0])

    @property
    def sizes(self) -> np.ndarray:
        """Number of draws of each unit."""
        return np.fromiter((len(r) for r in self.y), dtype=np.int64, count=len(self.y))

    def truth(self, quantiles: Sequence[float] | np.ndarray = DECILES) -> np.ndarray:
        """True LAQTE tau(q) (fuzzy designs: the complier LAQTE) at ``quantiles``."""
        q = _check_quantiles(quantiles)
        return np.asarray(self._truth(q), dtype=float)

    def pooled_truth(self, quantiles: Sequence[float] | np.ndarray = DECILES) -> np.ndarray:
        """Quantile difference of the two pooled (mixture) laws at the cutoff: the target of
        classical quantile RD on the pooled draws."""
        if self._pooled_truth is None:
            raise NotImplementedError(f"design {self.name!r} has no pooled_truth")
        q = _check_quantiles(quantiles)
        return np.asarray(self._pooled_truth(q), dtype=float)

    def mean_quantile(self, quantiles: Sequence[float] | np.ndarray, x: float | np.ndarray,
                      treated: bool | None = None) -> np.ndarray:
        """Average quantile function m(q | x) = E[Q_Y(q) | X = x] (shape (len(x), len(q))).

        ``treated=None`` uses the sharp rule x >= cutoff; True/False gives E[Q_{Y^1}] / E[Q_{Y^0}].
        Available for the normal-family designs and the paper's DGPs.
        """
        if self._mean_quantile is None:
            raise NotImplementedError(f"design {self.name!r} has no mean_quantile")
        q = _check_quantiles(quantiles)
        xx = np.atleast_1d(np.asarray(x, dtype=float)) - self.cutoff
        t = (xx >= 0) if treated is None else np.full(xx.shape, bool(treated))
        return self._mean_quantile(q, xx, t)

    def to_frame(self) -> pd.DataFrame:
        """Long data frame with one row per draw: ``unit, x, y`` (and ``t`` for fuzzy designs)."""
        sizes = self.sizes
        unit = np.repeat(np.arange(self.n_units), sizes)
        cols = {"unit": unit, "x": np.repeat(self.x, sizes),
                "y": np.concatenate(self.y) if self.n_units else np.empty(0)}
        if self.treatment is not None:
            cols["t"] = np.repeat(self.treatment, sizes)
        return pd.DataFrame(cols)


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be an int, None or a numpy Generator, got {type(seed).__name__}")


def _check_quantiles(quantiles: Any) -> np.ndarray:
    q = np.atleast_1d(np.asarray(quantiles, dtype=float))
    if q.ndim != 1 or q.size == 0:
        raise ValueError("quantiles must be a non-empty 1-D sequence")
    if not np.all((q > 0) & (q < 1)):
        raise ValueError("quantiles must lie strictly between 0 and 1")
    return q


def _check_n_units(n_units: Any) -> int:
    if isinstance(n_units, bool) or not isinstance(n_units, (int, np.integer)) or n_units < 2:
        raise ValueError(f"n_units must be an integer >= 2, got {n_units!r}")
    return int(n_units)


def _check_n_obs(n_obs: Any, n_units: int) -> np.ndarray | int:
    if isinstance(n_obs, (int, np.integer)) and not isinstance(n_obs, bool):
        if n_obs < 1:
            raise ValueError(f"n_obs must be >= 1, got {n_obs!r}")
        return int(n_obs)
    arr = np.asarray(n_obs)
    if arr.ndim != 1 or arr.shape[0] != n_units or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("n_obs must be a positive int or an integer array of length n_units")
    if np.any(arr < 1):
        raise ValueError("n_obs must be >= 1 for every unit")
    return arr.astype(np.int64)


def _check_finite(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def _check_positive(name: str, value: Any, allow_zero: bool = False) -> float:
    v = _check_finite(name, value)
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return v


def _draw_x(rng: np.random.Generator, n_units: int, x: Any, cutoff: float) -> np.ndarray:
    """X ~ U(cutoff - 1, cutoff + 1) unless ``x`` is given."""
    if x is None:
        return cutoff + rng.uniform(-1.0, 1.0, n_units)
    xx = np.asarray(x, dtype=float)
    if xx.shape != (n_units,) or not np.all(np.isfinite(xx)):
        raise ValueError("x must be a finite 1-D array of length n_units")
    return xx.copy()


def _split(flat: np.ndarray, sizes: np.ndarray | int, n_units: int):
    """Rows of a matrix (equal sizes) or a split flat vector."""
    if isinstance(sizes, int):
        mat = flat.reshape(n_units, sizes)
        return list(mat), mat
    return np.split(flat, np.cumsum(sizes)[:-1]), None


def _unit_index(sizes: np.ndarray | int, n_units: int) -> np.ndarray:
    if isinstance(sizes, int):
        return np.repeat(np.arange(n_units), sizes)
    return np.repeat(np.arange(n_units), sizes)


def _total(sizes: np.ndarray | int, n_units: int) -> int:
    return int(sizes * n_units) if isinstance(sizes, int) else int(sizes.sum())


# --------------------------------------------------------------------------------------------
# closed forms and numerical building blocks
# --------------------------------------------------------------------------------------------
def folded_normal_mean(loc: float | np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    r"""E|N(loc, scale^2)| = loc (1 - 2 Phi(-loc/scale)) + 2 scale phi(loc/scale).

    >>> round(float(folded_normal_mean(0.0, 1.0)), 6)   # sqrt(2/pi)
    0.797885
    """
    loc = np.asarray(loc, dtype=float)
    scale = np.asarray(scale, dtype=float)
    z = loc / scale
    return loc * (1.0 - 2.0 * special.ndtr(-z)) + 2.0 * scale * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)


def exgauss_cdf(y: np.ndarray, rate: np.ndarray) -> np.ndarray:
    r"""CDF of W = Z + E, Z ~ N(0, 1), E ~ Exp(rate) independent (exponentially modified normal):

    .. math:: G(y) = \Phi(y) - \exp(-r y + r^2/2)\,\Phi(y - r),

    computed on the log scale for the second term (no overflow). Broadcasts ``y`` against ``rate``.

    >>> from scipy.stats import exponnorm
    >>> bool(abs(exgauss_cdf(0.0, 1.0) - exponnorm.cdf(0.0, K=1.0)) < 1e-14)
    True
    """
    y = np.asarray(y, dtype=float)
    r = np.asarray(rate, dtype=float)
    return special.ndtr(y) - np.exp(-r * y + 0.5 * r * r + special.log_ndtr(y - r))


def _exgauss_partial_integral(t: np.ndarray, rate: np.ndarray) -> np.ndarray:
    r"""H(t) = \int_{-\infty}^t G(s) ds = t\Phi(t) + \phi(t) - G(t)/r for W = N(0,1) + Exp(rate r)."""
    return t * special.ndtr(t) + np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi) - exgauss_cdf(t, rate) / rate


def exgauss_quantile(q: np.ndarray, rate: np.ndarray, tol: float = 1e-13) -> np.ndarray:
    r"""Quantile function of N(0, 1) + Exp(rate), by safeguarded Newton on :func:`exgauss_cdf`.

    Bracket: :math:`\Phi^{-1}(q) \le Q(q) \le \Phi^{-1}((1+q)/2) - \log((1-q)/(1+q))/r`
    (first order stochastic dominance; :math:`P(Z \le a, E \le b) = \Phi(a)(1-e^{-rb})`).
    Broadcasts ``q`` against ``rate``; absolute error below ``tol``.

    >>> from scipy.stats import exponnorm
    >>> bool(abs(exgauss_quantile(0.9, 0.5) - exponnorm.ppf(0.9, K=2.0)) < 1e-9)
    True
    """
    q, r = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(rate, dtype=float))
    lo = special.ndtri(q)
    hi = special.ndtri(0.5 * (1 + q)) - np.log((1 - q) / (1 + q)) / r
    y = 0.5 * (lo + hi)
    # safeguarded Newton: keep a bracket, fall back to bisection when a step leaves it
    for _ in range(200):
        F = exgauss_cdf(y, r)
        below = F < q
        lo = np.where(below, y, lo)
        hi = np.where(below, hi, y)
        pdf = r * np.exp(-r * y + 0.5 * r * r + special.log_ndtr(y - r))
        with np.errstate(divide="ignore", invalid="ignore"):
            y_new = y - (F - q) / pdf
        bad = ~np.isfinite(y_new) | (y_new < lo) | (y_new > hi)
        y_new = np.where(bad, 0.5 * (lo + hi), y_new)
        done = np.max(np.abs(y_new - y)) < tol if y.size else True
        y = y_new
        if done:
            break
    return y


def _bisect_increasing(fun: Callable[[np.ndarray], np.ndarray], q: np.ndarray, lo: float, hi: float,
                       tol: float = 1e-11) -> np.ndarray:
    """Solve fun(y) = q for each q by bisection; fun increasing, vectorised over q."""
    lo_a = np.full(q.shape, float(lo))
    hi_a = np.full(q.shape, float(hi))
    if np.any(fun(lo_a) > q) or np.any(fun(hi_a) < q):
        raise RuntimeError("bisection bracket does not contain the root")  # pragma: no cover
    n_iter = int(np.ceil(np.log2((hi - lo) / tol))) + 1
    for _ in range(n_iter):
        mid = 0.5 * (lo_a + hi_a)
        below = fun(mid) < q
        lo_a = np.where(below, mid, lo_a)
        hi_a = np.where(below, hi_a, mid)
    return 0.5 * (lo_a + hi_a)


@lru_cache(maxsize=16)
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


@lru_cache(maxsize=16)
def _gauss_hermite_prob(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes/weights for E[f(Z)], Z ~ N(0, 1)."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / np.sqrt(2 * np.pi)


# --------------------------------------------------------------------------------------------
# the normal family: Y_i = N(mu_i, sigma_i^2), mu_i = N(m(x), s_mu^2) [+ Pareto], sigma_i = |N(a(x), b^2)|
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _NormalSide:
    """Law of the unit distributions on one side (or one potential outcome).

    mu_i = mu0 + mu_slope*x + s_mu*N(0,1) [+ Pareto(pareto_scale, pareto_shape)],
    sigma_i = |sig0 + sig_slope*x + sig_sd*N(0,1)|,  Y_ij | unit = N(mu_i, sigma_i^2).
    """

    mu0: float
    mu_slope: float
    s_mu: float
    sig0: float
    sig_slope: float
    sig_sd: float
    pareto_scale: float = 0.0
    pareto_shape: float = 0.0

    def mean_quantile(self, q: np.ndarray, x: np.ndarray) -> np.ndarray:
        """E[Q_Y(q) | X = x] = E[mu | x] + Phi^{-1}(q) E|N(a(x), b^2)|  (shape (len(x), len(q)))."""
        mean_mu = self.mu0 + self.mu_slope * x
        if self.pareto_shape > 0:
            mean_mu = mean_mu + self.pareto_shape * self.pareto_scale / (self.pareto_shape - 1.0)
        esig = folded_normal_mean(self.sig0 + self.sig_slope * x, self.sig_sd) if self.sig_sd > 0 \
            else np.abs(self.sig0 + self.sig_slope * x)
        return mean_mu[:, None] + np.asarray(esig)[:, None] * special.ndtri(q)[None, :]

    def draw(self, rng: np.random.Generator, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = x.shape[0]
        mu = self.mu0 + self.mu_slope * x + self.s_mu * rng.standard_normal(n)
        if self.pareto_shape > 0:
            mu = mu + self.pareto_scale * (1.0 - rng.random(n)) ** (-1.0 / self.pareto_shape)
        sigma = np.abs(self.sig0 + self.sig_slope * x + self.sig_sd * rng.standard_normal(n))
        return mu, sigma

    def pooled_cdf(self, y: np.ndarray, n_gh: int, n_gl: int) -> np.ndarray:
        r"""CDF of the mixture law at x = 0: E[Phi((y - mu0 - P)/sqrt(sigma^2 + s_mu^2))],
        sigma = |sig0 + sig_sd Z| (Gauss-Hermite in Z: sigma^2 is smooth in Z), P Pareto
        (Gauss-Legendre in u, P = scale * u^(-1/shape))."""
        z, wz = _gauss_hermite_prob(n_gh)
        sd = np.sqrt((self.sig0 + self.sig_sd * z) ** 2 + self.s_mu ** 2)  # (n_gh,)
        yy = np.asarray(y, dtype=float)[..., None]
        if self.pareto_shape > 0:
            u, wu = _gauss_legendre(n_gl)
            u = 0.5 * (u + 1.0)
            wu = 0.5 * wu
            p = self.pareto_scale * u ** (-1.0 / self.pareto_shape)  # (n_gl,)
            arg = (yy[..., None] - self.mu0 - p[None, :]) / sd[:, None]  # (..., n_gh, n_gl)
            return np.einsum("...ij,i,j->...", special.ndtr(arg), wz, wu)
        return special.ndtr((yy - self.mu0) / sd) @ wz

    def pooled_quantile(self, q: np.ndarray, n_gh: int = 96, n_gl: int = 400) -> np.ndarray:
        lo, hi = self.mu0 - 60.0, self.mu0 + 60.0
        if self.pareto_shape > 0:
            hi = self.mu0 + 60.0 + self.pareto_scale * 1e-9 ** (-1.0 / self.pareto_shape)
        return _bisect_increasing(lambda yv: self.pooled_cdf(yv, n_gh, n_gl), q, lo, hi)


def _normal_family_design(name: str, side0: _NormalSide, side1: _NormalSide, n_units: Any,
                          n_obs: Any, seed: Any, x: Any, params: dict, cutoff: float = 0.0,
                          treatment_prob: Callable[[np.ndarray], np.ndarray] | None = None,
                          first_stage_jump: float | None = None) -> SimulatedRD:
    n_units = _check_n_units(n_units)
    sizes = _check_n_obs(n_obs, n_units)
    rng = _rng(seed)
    xs = _draw_x(rng, n_units, x, cutoff)
    xt = xs - cutoff
    if treatment_prob is None:
        treated = xt >= 0
        tr = None
    else:
        tr = (rng.random(n_units) < treatment_prob(xt)).astype(np.int8)
        treated = tr.astype(bool)
    mu0, s0 = side0.draw(rng, xt)
    mu1, s1 = side1.draw(rng, xt)
    mu = np.where(treated, mu1, mu0)
    sigma = np.where(treated, s1, s0)
    idx = _unit_index(sizes, n_units)
    flat = mu[idx] + sigma[idx] * rng.standard_normal(_total(sizes, n_units))
    y, ymat = _split(flat, sizes, n_units)

    zero = np.zeros(1)

    def truth(q: np.ndarray) -> np.ndarray:
        return (side1.mean_quantile(q, zero) - side0.mean_quantile(q, zero))[0]

    def pooled(q: np.ndarray) -> np.ndarray:
        return _cached_pooled(side0, side1, tuple(q.tolist()))

    def mean_q(q: np.ndarray, xx: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.where(t[:, None], side1.mean_quantile(q, xx), side0.mean_quantile(q, xx))

    if first_stage_jump is not None:
        params = {**params, "first_stage_jump": first_stage_jump}
    return SimulatedRD(x=xs, y=y, treatment=tr, cutoff=cutoff, name=name, params=params,
                       _truth=truth, _pooled_truth=None if tr is not None else pooled,
                       _mean_quantile=mean_q,
                       unit_params={"mu": mu, "sigma": sigma}, y_matrix=ymat,
                       _unit_quantile=lambda u: mu[:, None] + sigma[:, None] * special.ndtri(u))


@lru_cache(maxsize=256)
def _cached_pooled(side0: _NormalSide, side1: _NormalSide, q: tuple) -> np.ndarray:
    qa = np.asarray(q)
    return side1.pooled_quantile(qa) - side0.pooled_quantile(qa)


# --------------------------------------------------------------------------------------------
# the paper's designs
# --------------------------------------------------------------------------------------------
def paper_dgp1(n_units: int, n_obs: int | np.ndarray, delta: float, seed: int | np.random.Generator | None = None,
               *, x: np.ndarray | None = None) -> SimulatedRD:
    r"""The paper's DGP 1 (Van Dijcke 2025, section 4.1): normal laws with random means and sds.

    .. math::
        X_i \sim U(-1, 1),\quad \mu_i \sim N(5 + 5X_i + 1\{X_i \ge 0\}\Delta, 1),\quad
        \sigma_i \sim |N(1 + X_i, 1)|,\quad Y_{ij} \mid i \sim N(\mu_i, \sigma_i^2).

    Truth: :math:`E[Q_Y(q) \mid X=x] = 5 + 5x + \Delta 1\{x \ge 0\} + \Phi^{-1}(q)\,E|N(1+x, 1)|`,
    continuous at 0 apart from the jump, so :math:`\tau(q) = \Delta` for every q. The treated law of
    every unit is its untreated law shifted by Delta, so the pooled quantile-RD target is also Delta.

    Parameters
    ----------
    n_units : number of units n; n_obs : draws per unit (int, or an int array of length n);
    delta : the jump Delta; seed : int, None or Generator; x : optional fixed running variable.

    >>> sim = paper_dgp1(500, 100, delta=1.14, seed=0)
    >>> sim.truth([0.25, 0.75]).tolist()
    [1.14, 1.14]
    """
    delta = _check_finite("delta", delta)
    side0 = _NormalSide(mu0=5.0, mu_slope=5.0, s_mu=1.0, sig0=1.0, sig_slope=1.0, sig_sd=1.0)
    side1 = _NormalSide(mu0=5.0 + delta, mu_slope=5.0, s_mu=1.0, sig0=1.0, sig_slope=1.0, sig_sd=1.0)
    sim = _normal_family_design("paper1", side0, side1, n_units, n_obs, seed, x,
                                {"n_units": n_units, "n_obs": n_obs, "delta": delta})
    sim._truth = lambda q: np.full(q.shape, delta)
    sim._pooled_truth = lambda q: np.full(q.shape, delta)
    return sim


def _dgp2_rates(lam: np.ndarray, exp_scale: str) -> np.ndarray:
    """Rate of the exponential part 2*Exp(.) given the unit parameter lambda."""
    # 2 * Exp(rate lam) = Exp(rate lam / 2);  2 * Exp(mean lam) = Exp(rate 1 / (2 lam))
    return lam / 2.0 if exp_scale == "rate" else 1.0 / (2.0 * lam)


def _check_exp_scale(exp_scale: Any) -> str:
    if exp_scale not in ("rate", "mean"):
        raise ValueError(f"exp_scale must be 'rate' or 'mean', got {exp_scale!r}")
    return exp_scale


@lru_cache(maxsize=256)
def _dgp2_mean_exgauss_quantile(q: tuple, shift_lambda: float, exp_scale: str, n_nodes: int) -> np.ndarray:
    """E_lambda[Q_{N(0,1) + 2 Exp(lambda + shift_lambda)}(q)], lambda ~ U(0.5, 1.5), Gauss-Legendre."""
    t, w = _gauss_legendre(n_nodes)
    lam = 1.0 + 0.5 * t + shift_lambda  # U(0.5, 1.5) nodes
    rate = _dgp2_rates(lam, exp_scale)
    qa = np.asarray(q)
    Q = exgauss_quantile(qa[None, :], rate[:, None])  # (n_nodes, m)
    return (0.5 * w) @ Q


def paper_dgp2_truth(quantiles: Sequence[float] | np.ndarray = DECILES, delta: float = 0.0, *,
                     delta_lambda: float = 0.5, exp_scale: str = "rate", n_nodes: int = 64) -> np.ndarray:
    r"""True LAQTE of :func:`paper_dgp2` by quadrature (near exact).

    Units at the cutoff have quantile functions :math:`\mu_i + \Delta 1\{X\ge0\} + G_{\lambda}^{-1}(q)`
    with :math:`G_\lambda` the law of :math:`N(0,1) + 2\,\mathrm{Exp}(\lambda)`, so

    .. math:: \tau(q) = \Delta + E_\lambda[G^{-1}_{\lambda + \Delta_\lambda}(q)] - E_\lambda[G^{-1}_\lambda(q)],
              \quad \lambda \sim U(0.5, 1.5).

    :math:`G_\lambda` is an exponentially modified normal with closed-form CDF; each quantile is found
    by bisection to 1e-13 and the lambda-average by ``n_nodes``-point Gauss-Legendre (the integrand
    is analytic in lambda). Numerical error: below 1e-10 at the deciles for both parameterisations
    (64 vs 128 nodes agree to < 1e-12; checked against ``scipy.integrate.quad`` of
    ``scipy.stats.exponnorm.ppf`` in the tests). Cached.

    >>> np.round(paper_dgp2_truth([0.1, 0.5, 0.9], delta=2.0), 3).tolist()
    [1.766, 1.45, 0.255]
    """
    q = _check_quantiles(quantiles)
    delta = _check_finite("delta", delta)
    dl = _check_finite("delta_lambda", delta_lambda)
    exp_scale = _check_exp_scale(exp_scale)
    if 0.5 + dl <= 0:
        raise ValueError("delta_lambda must keep lambda + delta_lambda positive (> -0.5)")
    key = tuple(q.tolist())
    return delta + _dgp2_mean_exgauss_quantile(key, dl, exp_scale, int(n_nodes)) \
        - _dgp2_mean_exgauss_quantile(key, 0.0, exp_scale, int(n_nodes))


def paper_dgp2_truth_mc(quantiles: Sequence[float] | np.ndarray = DECILES, delta: float = 0.0, *,
                        delta_lambda: float = 0.5, exp_scale: str = "rate", n_sim: int = 100_000,
                        seed: int | np.random.Generator | None = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Monte Carlo version of :func:`paper_dgp2_truth`: the average of ``n_sim`` simulated unit
    quantile-function differences (common lambda draw on both sides), and its standard error.

    Returns ``(tau_hat, se)``; ``se`` is the sd of the simulated differences over sqrt(n_sim).

    >>> est, se = paper_dgp2_truth_mc([0.5], delta=2.0, n_sim=20_000, seed=1)
    >>> bool(abs(est[0] - paper_dgp2_truth([0.5], delta=2.0)[0]) < 4 * se[0])
    True
    """
    q = _check_quantiles(quantiles)
    delta = _check_finite("delta", delta)
    dl = _check_finite("delta_lambda", delta_lambda)
    exp_scale = _check_exp_scale(exp_scale)
    if not isinstance(n_sim, (int, np.integer)) or n_sim < 2:
        raise ValueError(f"n_sim must be an integer >= 2, got {n_sim!r}")
    rng = _rng(seed)
    lam = rng.uniform(0.5, 1.5, n_sim)
    d = delta + exgauss_quantile(q[None, :], _dgp2_rates(lam + dl, exp_scale)[:, None]) \
        - exgauss_quantile(q[None, :], _dgp2_rates(lam, exp_scale)[:, None])
    return d.mean(axis=0), d.std(axis=0, ddof=1) / np.sqrt(n_sim)


@lru_cache(maxsize=256)
def _dgp2_pooled(q: tuple, delta: float, dl: float, exp_scale: str, n_nodes: int) -> np.ndarray:
    r"""Pooled-mixture quantile difference at the cutoff for DGP 2.

    Mixture CDF on one side: F(y) = E_lambda E_U[G_lambda(y - U - shift)], U ~ U(-5, 5); the U
    average is closed form, (H(y+5) - H(y-5))/10 with H the integrated exGaussian CDF.
    """
    t, w = _gauss_legendre(n_nodes)
    lam = 1.0 + 0.5 * t
    w = 0.5 * w
    qa = np.asarray(q)

    def cdf(yv: np.ndarray, r: np.ndarray) -> np.ndarray:
        yy = yv[..., None]
        return ((_exgauss_partial_integral(yy + 5.0, r) - _exgauss_partial_integral(yy - 5.0, r)) / 10.0) @ w

    r0 = _dgp2_rates(lam, exp_scale)
    r1 = _dgp2_rates(lam + dl, exp_scale)
    hi = 5.0 + 10.0 + 2.0 * 40.0 / float(min(r0.min(), r1.min()))
    q0 = _bisect_increasing(lambda yv: cdf(yv, r0), qa, -15.0, hi)
    q1 = _bisect_increasing(lambda yv: cdf(yv, r1), qa, -15.0, hi)
    return delta + q1 - q0


def paper_dgp2(n_units: int, n_obs: int | np.ndarray, delta: float,
               seed: int | np.random.Generator | None = None, *, delta_lambda: float = 0.5,
               exp_scale: str = "rate", x: np.ndarray | None = None) -> SimulatedRD:
    r"""The paper's DGP 2 (section 4.1): random means plus a normal-exponential law.

    .. math::
        X_i \sim U(-1,1),\quad \mu_i = U_i + 2X_i,\ U_i \sim U(-5, 5),\quad
        \lambda_i \sim U(0.5, 1.5),

        Y_{ij} \mid i = \mu_i + \Delta 1\{X_i\ge0\} + Z_{ij}
            + 2\,E_{ij},\ Z \sim N(0,1),\ E \sim \mathrm{Exp}(\lambda_i + \Delta_\lambda 1\{X_i\ge0\}).

    **Choices where the paper is silent** (both exposed as arguments):

    * ``exp_scale="rate"``: Exp(lambda) has *rate* lambda (mean 1/lambda), numpy's
      ``exponential(1/lambda)``; ``"mean"`` uses mean lambda instead.
    * ``delta_lambda=0.5``: the treated side's exponential parameter rises by 0.5. With the rate
      reading this thins the upper tail, so tau(q) falls from Delta - 0.234 at q = 0.1 to
      Delta - 1.745 at q = 0.9: effects are heterogeneous even at Delta = 0 (the paper's
      homogeneity test rejects at Delta = 0). With Delta = 2 this gives tau = 1.766 / 1.450 / 0.255
      and a pooled quantile-RD target of 1.625 / 1.308 / 0.761 at q = 0.1 / 0.5 / 0.9, i.e.
      population relative biases of quantile RD of 0.08 / 0.10 / 1.98 (0.34 averaged over the
      deciles); the paper's Figure 3 reads about 0.08 / 0.08 / 1.95 / 0.34 at large n, which
      supports this reading. ``exp_scale="mean"`` would give a positive, growing tau
      (2.26 ... 4.20) and relative biases of only 0.09 / 0.06 / 0.11.

    Truth: :func:`paper_dgp2_truth` (quadrature, error < 1e-10; a Monte Carlo version with its
    standard error is :func:`paper_dgp2_truth_mc`). Pooled quantile-RD target by quadrature and
    bisection on the mixture CDF (error < 1e-9).

    >>> sim = paper_dgp2(300, 50, delta=1.86, seed=3)
    >>> np.round(sim.truth([0.1, 0.9]), 3).tolist()
    [1.626, 0.115]
    """
    delta = _check_finite("delta", delta)
    dl = _check_finite("delta_lambda", delta_lambda)
    exp_scale = _check_exp_scale(exp_scale)
    if 0.5 + dl <= 0:
        raise ValueError("delta_lambda must keep lambda + delta_lambda positive (> -0.5)")
    n_units = _check_n_units(n_units)
    sizes = _check_n_obs(n_obs, n_units)
    rng = _rng(seed)
    xs = _draw_x(rng, n_units, x, 0.0)
    above = xs >= 0
    mu = rng.uniform(-5.0, 5.0, n_units) + 2.0 * xs
    lam = rng.uniform(0.5, 1.5, n_units)
    lam_eff = lam + dl * above
    rate = _dgp2_rates(lam_eff, exp_scale)  # rate of the exponential part 2*Exp(.)
    shift = mu + delta * above
    idx = _unit_index(sizes, n_units)
    total = _total(sizes, n_units)
    flat = shift[idx] + rng.standard_normal(total) + rng.standard_exponential(total) / rate[idx]
    y, ymat = _split(flat, sizes, n_units)
    kw = dict(delta_lambda=dl, exp_scale=exp_scale)

    def mean_q(q: np.ndarray, xx: np.ndarray, t: np.ndarray) -> np.ndarray:
        key = tuple(q.tolist())
        base0 = _dgp2_mean_exgauss_quantile(key, 0.0, exp_scale, 64)
        base1 = _dgp2_mean_exgauss_quantile(key, dl, exp_scale, 64)
        return 2.0 * xx[:, None] + np.where(t[:, None], delta + base1[None, :], base0[None, :])

    return SimulatedRD(
        x=xs, y=y, treatment=None, cutoff=0.0, name="paper2",
        params={"n_units": n_units, "n_obs": n_obs, "delta": delta, **kw},
        _truth=lambda q: paper_dgp2_truth(q, delta, **kw),
        _pooled_truth=lambda q: _dgp2_pooled(tuple(q.tolist()), delta, dl, exp_scale, 64),
        _mean_quantile=mean_q,
        unit_params={"mu": mu, "lam": lam_eff}, y_matrix=ymat,
        _unit_quantile=lambda u: shift[:, None] + exgauss_quantile(u, rate[:, None]))


# --------------------------------------------------------------------------------------------
# teaching designs
# --------------------------------------------------------------------------------------------
def location_shift(n_units: int, n_obs: int | np.ndarray, delta: float = 1.0,
                   seed: int | np.random.Generator | None = None, *, slope: float = 2.0,
                   x: np.ndarray | None = None) -> SimulatedRD:
    r"""Pure location shift: every unit's law moves by ``delta`` at the cutoff.

    :math:`\mu_i \sim N(5 + \mathrm{slope}\,X_i + \Delta 1\{X_i\ge0\}, 1)`,
    :math:`\sigma_i \sim |N(1, 0.25^2)|`, :math:`Y_{ij} \sim N(\mu_i, \sigma_i^2)`.
    LAQTE and pooled target both equal ``delta`` at every q.

    >>> location_shift(100, 20, delta=1.5, seed=0).truth([0.1, 0.9]).tolist()
    [1.5, 1.5]
    """
    delta = _check_finite("delta", delta)
    slope = _check_finite("slope", slope)
    s0 = _NormalSide(5.0, slope, 1.0, 1.0, 0.0, 0.25)
    s1 = _NormalSide(5.0 + delta, slope, 1.0, 1.0, 0.0, 0.25)
    sim = _normal_family_design("location", s0, s1, n_units, n_obs, seed, x,
                                {"n_units": n_units, "n_obs": n_obs, "delta": delta, "slope": slope})
    sim._truth = lambda q: np.full(q.shape, delta)
    sim._pooled_truth = lambda q: np.full(q.shape, delta)
    return sim


def scale_change(n_units: int, n_obs: int | np.ndarray, scale: float = 1.5,
                 seed: int | np.random.Generator | None = None, *, slope: float = 2.0,
                 x: np.ndarray | None = None) -> SimulatedRD:
    r"""Scale change: every unit's sd is multiplied by ``scale`` at the cutoff; means are unchanged.

    :math:`\mu_i \sim N(5 + \mathrm{slope}\,X_i, 1)`, :math:`\sigma_i = s_i\,\mathrm{scale}^{1\{X_i\ge0\}}`,
    :math:`s_i \sim |N(1, 0.25^2)|`. LAQTE (closed form):
    :math:`\tau(q) = (\mathrm{scale}-1)\,E|N(1,0.25^2)|\,\Phi^{-1}(q)`.
    The pooled law mixes in the spread of the means, so the pooled quantile-RD target is smaller in
    absolute value (it is computed by quadrature and bisection, error < 1e-9).

    >>> round(float(scale_change(100, 20, scale=1.5, seed=0).truth([0.9])[0]), 4)
    0.6408
    """
    scale = _check_positive("scale", scale)
    slope = _check_finite("slope", slope)
    s0 = _NormalSide(5.0, slope, 1.0, 1.0, 0.0, 0.25)
    s1 = _NormalSide(5.0, slope, 1.0, scale, 0.0, 0.25 * scale)
    return _normal_family_design("scale", s0, s1, n_units, n_obs, seed, x,
                                 {"n_units": n_units, "n_obs": n_obs, "scale": scale, "slope": slope})


def heterogeneous_shape(n_units: int, n_obs: int | np.ndarray, variant: str = "normal",
                        seed: int | np.random.Generator | None = None, *, slope: float = 2.0,
                        x: np.ndarray | None = None) -> SimulatedRD:
    r"""Heterogeneous changes: treated units draw new means and sds, so the pooled quantile-RD target
    differs from the LAQTE (Van Dijcke 2025, section 2.4).

    Below the cutoff :math:`\mu_i \sim N(5 + \mathrm{slope}\,X_i, 1)`, :math:`\sigma_i \sim |N(1, 0.5^2)|`.
    Above:

    * ``variant="normal"`` (case a): :math:`\mu_i \sim N(7 + \mathrm{slope}\,X_i, 1)`,
      :math:`\sigma_i \sim |N(1.5, 0.5^2)|`;
    * ``variant="pareto"`` (case b): :math:`\mu_i = N(5 + \mathrm{slope}\,X_i, 1) + P_i`,
      :math:`P_i \sim` Pareto(scale 2, shape 3) (mean 3), :math:`\sigma_i \sim |N(1.5, 0.5^2)|`.

    LAQTE (closed form): :math:`\tau(q) = E\mu^+ - E\mu^- + \Phi^{-1}(q)(E|N(1.5,.25)| - E|N(1,.25)|)`;
    pooled target by quadrature (Gauss-Hermite over the sd, Gauss-Legendre over the Pareto draw)
    and bisection, error < 1e-8 ("normal") and < 1e-6 ("pareto").

    >>> sim = heterogeneous_shape(100, 20, "normal", seed=0)
    >>> np.round(sim.truth([0.1, 0.5, 0.9]), 3).tolist(), np.round(sim.pooled_truth([0.1, 0.9]), 3).tolist()
    ([1.37, 2.0, 2.63], [1.531, 2.469])
    """
    if variant not in ("normal", "pareto"):
        raise ValueError(f"variant must be 'normal' or 'pareto', got {variant!r}")
    slope = _check_finite("slope", slope)
    s0 = _NormalSide(5.0, slope, 1.0, 1.0, 0.0, 0.5)
    if variant == "normal":
        s1 = _NormalSide(7.0, slope, 1.0, 1.5, 0.0, 0.5)
    else:
        s1 = _NormalSide(5.0, slope, 1.0, 1.5, 0.0, 0.5, pareto_scale=2.0, pareto_shape=3.0)
    return _normal_family_design(f"heterogeneous_{variant}", s0, s1, n_units, n_obs, seed, x,
                                 {"n_units": n_units, "n_obs": n_obs, "variant": variant, "slope": slope})


def null_design(n_units: int, n_obs: int | np.ndarray, seed: int | np.random.Generator | None = None, *,
                slope: float = 2.0, x: np.ndarray | None = None) -> SimulatedRD:
    r"""No effect: :math:`\mu_i \sim N(5 + \mathrm{slope}\,X_i, 1)`, :math:`\sigma_i \sim |N(1 + 0.5X_i, 0.25^2)|`
    on both sides (smooth in x, no jump). tau(q) = 0 and the pooled target is 0.

    >>> null_design(50, 10, seed=0).truth([0.5]).tolist()
    [0.0]
    """
    slope = _check_finite("slope", slope)
    s = _NormalSide(5.0, slope, 1.0, 1.0, 0.5, 0.25)
    sim = _normal_family_design("null", s, s, n_units, n_obs, seed, x,
                                {"n_units": n_units, "n_obs": n_obs, "slope": slope})
    sim._pooled_truth = lambda q: np.zeros(q.shape)
    return sim


def fuzzy_design(n_units: int, n_obs: int | np.ndarray, delta: float = 2.0,
                 seed: int | np.random.Generator | None = None, *, p_below: float = 0.2,
                 p_above: float = 0.8, scale: float = 1.5, slope: float = 2.0,
                 x: np.ndarray | None = None) -> SimulatedRD:
    r"""Fuzzy design: unit-level take-up :math:`T_i \sim \mathrm{Bern}(p(X_i))`,
    :math:`p(x) = p_{below} + (p_{above} - p_{below})1\{x \ge 0\}`.

    Untreated law: :math:`\mu_i \sim N(5 + \mathrm{slope}X_i, 1)`, :math:`\sigma_i \sim |N(1, .25^2)|`;
    treated law: :math:`\mu_i \sim N(5 + \Delta + \mathrm{slope}X_i, 1)`,
    :math:`\sigma_i \sim \mathrm{scale}\cdot|N(1, .25^2)|`. Take-up is independent of the potential
    laws, so compliers look like everyone and the complier LAQTE is
    :math:`\tau_F(q) = \Delta + (\mathrm{scale}-1)E|N(1,.25^2)|\Phi^{-1}(q)` (closed form); the
    intention-to-treat jump m+(q) - m-(q) equals (p_above - p_below) tau_F(q) (Wald ratio).
    ``treatment`` holds T; ``params['first_stage_jump']`` the jump in P(T = 1 | x).

    >>> sim = fuzzy_design(100, 20, seed=0)
    >>> sim.treatment.shape, round(float(sim.truth([0.5])[0]), 6)
    ((100,), 2.0)
    """
    delta = _check_finite("delta", delta)
    scale = _check_positive("scale", scale)
    slope = _check_finite("slope", slope)
    pb = _check_finite("p_below", p_below)
    pa = _check_finite("p_above", p_above)
    if not 0 <= pb <= 1:
        raise ValueError(f"p_below must be in [0, 1], got {p_below!r}")
    if not 0 <= pa <= 1:
        raise ValueError(f"p_above must be in [0, 1], got {p_above!r}")
    if pa <= pb:
        raise ValueError("p_above must exceed p_below (a positive first-stage jump)")
    s0 = _NormalSide(5.0, slope, 1.0, 1.0, 0.0, 0.25)
    s1 = _NormalSide(5.0 + delta, slope, 1.0, scale, 0.0, 0.25 * scale)
    return _normal_family_design(
        "fuzzy", s0, s1, n_units, n_obs, seed, x,
        {"n_units": n_units, "n_obs": n_obs, "delta": delta, "p_below": pb, "p_above": pa,
         "scale": scale, "slope": slope},
        treatment_prob=lambda xt: np.where(xt >= 0, pa, pb), first_stage_jump=pa - pb)


# --------------------------------------------------------------------------------------------
# empirical unit quantiles drawn exactly in law, without the samples
# --------------------------------------------------------------------------------------------
def empirical_quantiles(sim: SimulatedRD, n_obs: int, quantiles: Sequence[float] | np.ndarray,
                        seed: int | np.random.Generator | None = None,
                        method: str = "linear") -> np.ndarray:
    r"""Draw each unit's empirical quantiles from ``n_obs`` iid draws of its law, exactly in law,
    without drawing the samples (fast path of the Monte Carlo runner).

    The empirical quantiles depend on the sample only through a few order statistics
    :math:`Y_{(r)} = Q_i(U_{(r)})`. For ``method="linear"`` (type 7) with k = ``n_obs``:
    :math:`\hat Q(q) = Y_{(l)} + g\,(Y_{(l+1)} - Y_{(l)})`, :math:`l = 1 + \lfloor (k-1)q \rfloor`,
    :math:`g = (k-1)q - \lfloor (k-1)q \rfloor`; for ``"inverted_cdf"`` (type 1)
    :math:`\hat Q(q) = Y_{(\lceil kq \rceil)}`. The needed uniform order statistics
    :math:`r_1 < \dots < r_J` are drawn jointly by the gamma-spacings representation
    :math:`U_{(r_j)} = S_j / S_{J+1}`, :math:`S_j = \sum_{l\le j} G_l`, independent
    :math:`G_l \sim \Gamma(r_l - r_{l-1})`, :math:`G_{J+1} \sim \Gamma(k + 1 - r_J)` -- at most
    2M + 1 gamma draws per unit instead of k normal draws. Needs ``sim.unit_quantile``.

    >>> sim = paper_dgp1(5, 1, 0.0, seed=0)
    >>> empirical_quantiles(sim, 1000, [0.25, 0.5, 0.75], seed=1).shape
    (5, 3)
    """
    if isinstance(n_obs, bool) or not isinstance(n_obs, (int, np.integer)) or n_obs < 1:
        raise ValueError(f"n_obs must be a positive integer, got {n_obs!r}")
    if method not in ("linear", "inverted_cdf"):
        raise ValueError(f"method must be 'linear' or 'inverted_cdf', got {method!r}")
    q = _check_quantiles(quantiles)
    rng = _rng(seed)
    k = int(n_obs)
    if method == "linear":
        pos = (k - 1) * q
        lo = np.floor(pos).astype(np.int64)
        frac = pos - lo
        lo = np.minimum(lo, k - 1)
        hi = np.minimum(lo + 1, k - 1)
        ranks = np.unique(np.r_[lo, hi]) + 1  # 1-based
    else:
        lo = np.clip(np.ceil(k * q - 1e-12).astype(np.int64), 1, k) - 1
        hi, frac = lo, np.zeros(q.shape)
        ranks = np.unique(lo) + 1
    shapes = np.diff(np.r_[0, ranks, k + 1]).astype(float)
    g = rng.standard_gamma(shapes, size=(sim.n_units, shapes.size))
    cs = np.cumsum(g, axis=1)
    u = cs[:, :-1] / cs[:, -1:]
    u = np.clip(u, np.nextafter(0.0, 1.0), np.nextafter(1.0, 0.0))
    yos = sim.unit_quantile(u)  # (n, J), order statistics at `ranks`
    col = {r: j for j, r in enumerate(ranks - 1)}
    ylo = yos[:, [col[v] for v in lo]]
    yhi = yos[:, [col[v] for v in hi]]
    return ylo + frac[None, :] * (yhi - ylo)


# --------------------------------------------------------------------------------------------
# registry (used by the Monte Carlo runner)
# --------------------------------------------------------------------------------------------
def _paper1(n_units, n_obs, delta, seed):
    return paper_dgp1(n_units, n_obs, delta, seed)


def _paper2(n_units, n_obs, delta, seed):
    return paper_dgp2(n_units, n_obs, delta, seed)


def _location(n_units, n_obs, delta, seed):
    return location_shift(n_units, n_obs, delta, seed)


def _scale(n_units, n_obs, delta, seed):
    return scale_change(n_units, n_obs, 1.0 + delta, seed)


def _hetero(n_units, n_obs, delta, seed):
    return heterogeneous_shape(n_units, n_obs, "normal", seed)


def _hetero_pareto(n_units, n_obs, delta, seed):
    return heterogeneous_shape(n_units, n_obs, "pareto", seed)


def _null(n_units, n_obs, delta, seed):
    return null_design(n_units, n_obs, seed)


def _fuzzy(n_units, n_obs, delta, seed):
    return fuzzy_design(n_units, n_obs, delta, seed)


#: name -> f(n_units, n_obs, delta, seed) -> SimulatedRD. For "scale" delta is scale - 1; the
#: heterogeneous and null designs ignore delta.
DESIGNS: dict[str, Callable[..., SimulatedRD]] = {
    "paper1": _paper1, "paper2": _paper2, "location": _location, "scale": _scale,
    "heterogeneous": _hetero, "heterogeneous_pareto": _hetero_pareto, "null": _null, "fuzzy": _fuzzy,
}


def make_design(name: str, n_units: int, n_obs: int | np.ndarray, delta: float = 0.0,
                seed: int | np.random.Generator | None = None) -> SimulatedRD:
    """Build a design from :data:`DESIGNS` by name.

    >>> make_design("paper1", 50, 10, 2.0, seed=0).name
    'paper1'
    """
    if name not in DESIGNS:
        raise ValueError(f"design must be one of {sorted(DESIGNS)}, got {name!r}")
    return DESIGNS[name](n_units, n_obs, delta, seed)
