r"""Special functions and the laws of the unit distributions the simulation designs draw from.

Each unit :math:`i` of a design has a random law; this module holds the closed forms and the
numerical building blocks (quadrature, bisection) that give, for a law family on one side of the
cutoff,

* its **average quantile function** :math:`m(q \mid x) = E[Q_{Y_i}(q) \mid X_i = x]` (the
  Wasserstein barycenter; its jump at the cutoff is the LAQTE), and
* the quantile function of its **pooled (mixture) law** :math:`E[F_{Y_i} \mid X_i = 0]`, the
  target of classical quantile RD on pooled draws.

Families

* :class:`NormalSide` -- :math:`Y_i = N(\mu_i, \sigma_i^2)` with
  :math:`\mu_i = \mu_0 + s + b x + c x^2 + s_\mu Z + [\text{Pareto}]`,
  :math:`\sigma_i = |a_0 + a_1 x + a_{sd} Z'|`: the normal family (paper's DGP 1, the teaching
  designs, chapters 4 and 5);
* exponentially modified normals :math:`N(0, 1) + \mathrm{Exp}(\text{rate})`
  (:func:`exgauss_cdf`, :func:`exgauss_quantile`, :func:`exgauss_mean_quantile`,
  :func:`exgauss_pooled_quantile`): the paper's DGP 2;
* skewed exponentials :math:`\mu_i + D_i(E - 1)`, :math:`D_i = \pm 1`
  (:func:`skew_exponential_mean_quantile`, :func:`skew_exponential_pooled_quantile`): chapter 3.

Example
-------
>>> import numpy as np
>>> from r3d_teach.simulate.laws import NormalSide, folded_normal_mean
>>> round(float(folded_normal_mean(0.0, 1.0)), 6)          # E|N(0, 1)| = sqrt(2/pi)
0.797885
>>> side = NormalSide(mu0=5.0, s_mu=1.0, sig0=1.0, sig_sd=0.5)
>>> np.round(side.mean_quantile([0.5], [0.0]), 6).tolist()   # the median of every unit is mu_i
[[5.0]]
>>> np.round(side.pooled_quantile([0.5]), 9).tolist()         # a symmetric mixture
[5.0]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy import special

__all__ = [
    "folded_normal_mean",
    "exgauss_cdf",
    "exgauss_partial_integral",
    "exgauss_quantile",
    "exgauss_mean_quantile",
    "exgauss_pooled_quantile",
    "skew_exponential_mean_quantile",
    "skew_exponential_pooled_quantile",
    "exgauss_rate",
    "bisect_increasing",
    "NormalSide",
    "mean_quantile_jump",
    "pooled_quantile_jump",
]

#: Newton iterations of :func:`exgauss_quantile` (it converges in < 10; the cap is a safeguard)
NEWTON_MAX_ITER = 200
#: absolute tolerance of the root finders (quantiles of the laws here are O(1) to O(100))
QUANTILE_TOL = 1e-13
BISECTION_TOL = 1e-11
#: quadrature nodes: Gauss-Hermite over a unit's sd, Gauss-Legendre over a Pareto draw and over
#: the exponential parameter of DGP 2 (convergence checked in tests/test_simulate.py)
N_HERMITE = 96
N_LEGENDRE_PARETO = 400
N_LEGENDRE_LAMBDA = 64
#: half-width (in sds of the mixture) of the bisection bracket for a pooled normal quantile
BRACKET_SDS = 60.0
#: the smallest tail mass the Pareto part of a bracket must cover
PARETO_TAIL = 1e-9
#: bracket of a pooled DGP-2 quantile: 10 sds of the normal part below, and above also this many
#: means of the exponential part 2 Exp(lambda) at its largest mean
NORMAL_TAIL_SDS = 10.0
EXP_TAIL_MEANS = 80.0
_CACHE = 256


# --------------------------------------------------------------------------------------------
# special functions
# --------------------------------------------------------------------------------------------
def folded_normal_mean(loc: float | np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    r"""E|N(loc, scale^2)| = loc (1 - 2 Phi(-loc/scale)) + 2 scale phi(loc/scale).

    >>> round(float(folded_normal_mean(1.0, 0.25)), 4)   # almost never negative: about 1
    1.0
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


def exgauss_partial_integral(t: np.ndarray, rate: np.ndarray) -> np.ndarray:
    r""":math:`H(t) = \int_{-\infty}^t G(s)\,ds = t\Phi(t) + \phi(t) - G(t)/r` for
    W = N(0, 1) + Exp(rate r) (integrate :math:`G = \Phi - r^{-1} g` by parts).

    >>> from scipy import integrate
    >>> ref = integrate.quad(lambda s: float(exgauss_cdf(s, 2.0)), -40, 0.3)[0]
    >>> bool(abs(float(exgauss_partial_integral(0.3, 2.0)) - ref) < 1e-10)
    True
    """
    t = np.asarray(t, dtype=float)
    return t * special.ndtr(t) + np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi) - exgauss_cdf(t, rate) / rate


def exgauss_quantile(q: np.ndarray, rate: np.ndarray, tol: float = QUANTILE_TOL) -> np.ndarray:
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
    for _ in range(NEWTON_MAX_ITER):
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


def bisect_increasing(fun: Callable[[np.ndarray], np.ndarray], q: np.ndarray, lo: float, hi: float,
                      tol: float = BISECTION_TOL) -> np.ndarray:
    """Solve fun(y) = q for each q by bisection on [lo, hi]; fun increasing, vectorised over q.

    >>> np.round(bisect_increasing(lambda y: y ** 3, np.array([8.0, 27.0]), 0.0, 10.0), 9).tolist()
    [2.0, 3.0]
    """
    q = np.asarray(q, dtype=float)
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
    """Nodes/weights for E[f(U)], U ~ U(0, 1)."""
    t, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (t + 1.0), 0.5 * w


@lru_cache(maxsize=16)
def _gauss_hermite_normal(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes/weights for E[f(Z)], Z ~ N(0, 1)."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / np.sqrt(2 * np.pi)


# --------------------------------------------------------------------------------------------
# the normal family
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NormalSide:
    r"""Law of the unit distributions on one side of the cutoff (or of one potential outcome):

    .. math::
        \mu_i = \mu_0 + s + b x + c x^2 + s_\mu Z_i\ [+\ P_i],\qquad
        \sigma_i = |a_0 + a_1 x + a_{sd} Z_i'|,\qquad Y_{ij} \mid i \sim N(\mu_i, \sigma_i^2),

    with :math:`Z, Z'` standard normal and :math:`P_i` Pareto(scale, shape) when
    ``pareto_shape > 0``. Fields: ``mu0`` (:math:`\mu_0`), ``shift`` (:math:`s`, kept apart from
    ``mu0`` so that a jump of exactly :math:`\Delta` is exactly :math:`\Delta` in the truth),
    ``mu_slope`` (b), ``mu_curvature`` (c), ``s_mu``, ``sig0`` (:math:`a_0`), ``sig_slope``
    (:math:`a_1`), ``sig_sd`` (:math:`a_{sd}`), ``pareto_scale``, ``pareto_shape``.

    Average quantile function (closed form):
    :math:`m(q\mid x) = \mu_0 + s + bx + cx^2 + E P + \Phi^{-1}(q)\,E|N(a_0 + a_1x, a_{sd}^2)|`.
    Pooled law at x = 0: :math:`F(y) = E[\Phi((y - \mu_0 - s - P)/\sqrt{\sigma^2 + s_\mu^2})]`,
    by Gauss-Hermite quadrature over :math:`Z'` and Gauss-Legendre over the Pareto draw;
    its quantiles by bisection (error < 1e-8; < 1e-6 with a Pareto part).
    """

    mu0: float
    mu_slope: float = 0.0
    s_mu: float = 0.0
    sig0: float = 1.0
    sig_slope: float = 0.0
    sig_sd: float = 0.0
    pareto_scale: float = 0.0
    pareto_shape: float = 0.0
    shift: float = 0.0
    mu_curvature: float = 0.0

    def mean_quantile(self, q, x) -> np.ndarray:
        """m(q | x), shape (len(x), len(q))."""
        q = np.atleast_1d(np.asarray(q, dtype=float))
        x = np.atleast_1d(np.asarray(x, dtype=float))
        mean_mu = (self.mu0 + self.shift) + self.mu_slope * x + self.mu_curvature * x**2
        if self.pareto_shape > 0:
            mean_mu = mean_mu + self.pareto_shape * self.pareto_scale / (self.pareto_shape - 1.0)
        a = self.sig0 + self.sig_slope * x
        esig = folded_normal_mean(a, self.sig_sd) if self.sig_sd > 0 else np.abs(a)
        return mean_mu[:, None] + np.asarray(esig)[:, None] * special.ndtri(q)[None, :]

    def draw(self, rng: np.random.Generator, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Draw (mu_i, sigma_i) at the running variable values ``x`` (normal, [Pareto], normal)."""
        n = x.shape[0]
        mu = (self.mu0 + self.shift) + self.mu_slope * x + self.s_mu * rng.standard_normal(n)
        if self.mu_curvature:
            mu = mu + self.mu_curvature * x**2
        if self.pareto_shape > 0:
            mu = mu + self.pareto_scale * (1.0 - rng.random(n)) ** (-1.0 / self.pareto_shape)
        sigma = np.abs(self.sig0 + self.sig_slope * x + self.sig_sd * rng.standard_normal(n))
        return mu, sigma

    def at_cutoff(self) -> "NormalSide":
        """The law at x = 0 without the shift (slopes and curvature play no role there)."""
        return replace(self, mu_slope=0.0, sig_slope=0.0, mu_curvature=0.0, shift=0.0)

    def pooled_cdf(self, y, n_gh: int = N_HERMITE, n_gl: int = N_LEGENDRE_PARETO) -> np.ndarray:
        """CDF of the pooled (mixture) law at x = 0, evaluated at ``y`` (any shape)."""
        z, wz = _gauss_hermite_normal(n_gh)
        sd = np.sqrt((self.sig0 + self.sig_sd * z) ** 2 + self.s_mu ** 2)  # (n_gh,)
        yy = np.asarray(y, dtype=float)[..., None] - (self.mu0 + self.shift)
        if self.pareto_shape > 0:
            u, wu = _gauss_legendre(n_gl)
            p = self.pareto_scale * u ** (-1.0 / self.pareto_shape)  # (n_gl,)
            arg = (yy[..., None] - p[None, :]) / sd[:, None]  # (..., n_gh, n_gl)
            return np.einsum("...ij,i,j->...", special.ndtr(arg), wz, wu)
        return special.ndtr(yy / sd) @ wz

    def pooled_quantile(self, q) -> np.ndarray:
        """Quantiles of the pooled law at x = 0 (cached by law and levels)."""
        q = np.atleast_1d(np.asarray(q, dtype=float))
        return self.shift + _pooled_normal_quantile(self.at_cutoff(), tuple(q.tolist()))


@lru_cache(maxsize=_CACHE)
def _pooled_normal_quantile(side: NormalSide, q: tuple) -> np.ndarray:
    half = BRACKET_SDS * (abs(side.sig0) + side.sig_sd + side.s_mu + 1.0)
    lo, hi = side.mu0 - half, side.mu0 + half
    if side.pareto_shape > 0:
        hi = hi + side.pareto_scale * PARETO_TAIL ** (-1.0 / side.pareto_shape)
    return bisect_increasing(side.pooled_cdf, np.asarray(q), lo, hi)


def mean_quantile_jump(untreated: NormalSide, treated: NormalSide, q) -> np.ndarray:
    r"""LAQTE of two normal-family laws at the cutoff:
    :math:`\tau(q) = (s_1 - s_0) + [m_1(q \mid 0) - m_0(q \mid 0)]` with the shifts ``s`` apart
    (so a pure shift gives exactly :math:`s_1 - s_0`).

    >>> a, b = NormalSide(mu0=5.0, s_mu=1.0), NormalSide(mu0=5.0, s_mu=1.0, shift=1.14)
    >>> mean_quantile_jump(a, b, [0.1, 0.9]).tolist()
    [1.14, 1.14]
    """
    base1 = treated.at_cutoff().mean_quantile(q, 0.0)[0]
    base0 = untreated.at_cutoff().mean_quantile(q, 0.0)[0]
    return (treated.shift - untreated.shift) + (base1 - base0)


def pooled_quantile_jump(untreated: NormalSide, treated: NormalSide, q) -> np.ndarray:
    """Quantile difference of the two pooled laws at the cutoff (shifts apart, as in
    :func:`mean_quantile_jump`; equal laws up to the shift need no quadrature)."""
    q = np.atleast_1d(np.asarray(q, dtype=float))
    c0, c1 = untreated.at_cutoff(), treated.at_cutoff()
    base = np.zeros(q.shape)
    if c0 != c1:
        key = tuple(q.tolist())
        base = _pooled_normal_quantile(c1, key) - _pooled_normal_quantile(c0, key)
    return (treated.shift - untreated.shift) + base


# --------------------------------------------------------------------------------------------
# exponentially modified normals with a uniform exponential parameter (the paper's DGP 2)
# --------------------------------------------------------------------------------------------
def exgauss_rate(lam: np.ndarray, exp_scale: str) -> np.ndarray:
    """Rate of the exponential part 2 Exp(lambda): ``exp_scale="rate"``: Exp has rate lambda
    (2 Exp = Exp(rate lambda / 2)); ``"mean"``: Exp has mean lambda (rate 1 / (2 lambda))."""
    lam = np.asarray(lam, dtype=float)
    return lam / 2.0 if exp_scale == "rate" else 1.0 / (2.0 * lam)


@lru_cache(maxsize=_CACHE)
def _exgauss_mean_quantile(q: tuple, lam_low: float, lam_high: float, exp_scale: str,
                           n_nodes: int) -> np.ndarray:
    u, w = _gauss_legendre(n_nodes)
    lam = lam_low + (lam_high - lam_low) * u
    Q = exgauss_quantile(np.asarray(q)[None, :], exgauss_rate(lam, exp_scale)[:, None])
    return w @ Q


def exgauss_mean_quantile(q, lam_low: float, lam_high: float, exp_scale: str = "rate",
                          n_nodes: int = N_LEGENDRE_LAMBDA) -> np.ndarray:
    r""":math:`E_\lambda[G^{-1}_\lambda(q)]` for :math:`G_\lambda` the law of
    :math:`N(0, 1) + 2\,\mathrm{Exp}(\lambda)`, :math:`\lambda \sim U(\text{lam\_low},
    \text{lam\_high})`, by ``n_nodes``-point Gauss-Legendre (the integrand is analytic in
    lambda; 64 vs 128 nodes agree to < 1e-12). Cached.

    >>> from scipy.stats import exponnorm
    >>> bool(abs(exgauss_mean_quantile([0.5], 1.0, 1.0)[0] - exponnorm.ppf(0.5, K=2.0)) < 1e-9)
    True
    """
    q = np.atleast_1d(np.asarray(q, dtype=float))
    return _exgauss_mean_quantile(tuple(q.tolist()), float(lam_low), float(lam_high), exp_scale,
                                  int(n_nodes))


@lru_cache(maxsize=_CACHE)
def _exgauss_pooled_quantile(q: tuple, lam_low: float, lam_high: float, exp_scale: str,
                             loc_halfwidth: float, n_nodes: int) -> np.ndarray:
    u, w = _gauss_legendre(n_nodes)
    r = exgauss_rate(lam_low + (lam_high - lam_low) * u, exp_scale)
    a = loc_halfwidth

    def cdf(yv: np.ndarray) -> np.ndarray:
        yy = yv[..., None]
        return ((exgauss_partial_integral(yy + a, r) - exgauss_partial_integral(yy - a, r)) / (2 * a)) @ w

    hi = a + NORMAL_TAIL_SDS + EXP_TAIL_MEANS / float(r.min())
    return bisect_increasing(cdf, np.asarray(q), -a - NORMAL_TAIL_SDS, hi)


def exgauss_pooled_quantile(q, lam_low: float, lam_high: float, exp_scale: str = "rate",
                            loc_halfwidth: float = 5.0, n_nodes: int = N_LEGENDRE_LAMBDA) -> np.ndarray:
    r"""Quantiles of the mixture law of :math:`U + N(0, 1) + 2\,\mathrm{Exp}(\lambda)`,
    :math:`U \sim U(-a, a)` (a = ``loc_halfwidth``), :math:`\lambda \sim U(\text{lam\_low},
    \text{lam\_high})`: the U average of the CDF is closed form,
    :math:`(H(y + a) - H(y - a)) / (2a)` with H = :func:`exgauss_partial_integral`, the lambda
    average Gauss-Legendre, the quantile by bisection (error < 1e-9). Cached.

    >>> bool(abs(exgauss_pooled_quantile([0.5], 1.0, 1.0, loc_halfwidth=1e-3)[0]
    ...          - exgauss_quantile(0.5, 0.5)) < 1e-6)
    True
    """
    q = np.atleast_1d(np.asarray(q, dtype=float))
    return _exgauss_pooled_quantile(tuple(q.tolist()), float(lam_low), float(lam_high), exp_scale,
                                    float(loc_halfwidth), int(n_nodes))


# --------------------------------------------------------------------------------------------
# skewed exponentials (chapter 3): mu_i + D_i (E - 1), D_i = +1 w.p. p, else -1
# --------------------------------------------------------------------------------------------
def skew_exponential_mean_quantile(q, p_right: float) -> np.ndarray:
    r"""Average quantile function of :math:`D(E - 1)`, :math:`E \sim \mathrm{Exp}(1)`,
    :math:`D = +1` with probability ``p_right`` (long right tail) else -1:
    :math:`p(-\log(1-q) - 1) + (1 - p)(\log q + 1)`.

    >>> np.round(skew_exponential_mean_quantile([0.5], 1.0), 6).tolist()   # median of E - 1
    [-0.306853]
    """
    q = np.asarray(q, dtype=float)
    return p_right * (-np.log1p(-q) - 1.0) + (1.0 - p_right) * (np.log(q) + 1.0)


def _skew_exponential_pooled_cdf(y, loc: float, sd: float, p_right: float) -> np.ndarray:
    # P(N(loc, sd^2) + E - 1 <= y) = G_sd(y + 1 - loc), P(N - E + 1 <= y) = 1 - G_sd(1 + loc - y),
    # G_sd(v) = P(sd Z + E <= v) = exgauss_cdf(v / sd, rate = sd)
    y = np.asarray(y, dtype=float)
    right = exgauss_cdf((y + 1.0 - loc) / sd, sd)
    left = 1.0 - exgauss_cdf((1.0 + loc - y) / sd, sd)
    return p_right * right + (1.0 - p_right) * left


@lru_cache(maxsize=_CACHE)
def _skew_exponential_pooled_quantile(q: tuple, loc: float, sd: float, p_right: float) -> np.ndarray:
    half = BRACKET_SDS * (sd + 1.0)
    return bisect_increasing(lambda v: _skew_exponential_pooled_cdf(v, loc, sd, p_right), np.asarray(q),
                             loc - half, loc + half)


def skew_exponential_pooled_quantile(q, loc: float, sd: float, p_right: float) -> np.ndarray:
    r"""Quantiles of the pooled law of :math:`\mu + D(E - 1)`, :math:`\mu \sim N(\text{loc},
    \text{sd}^2)` independent of :math:`D` and E (closed-form CDF through
    :func:`exgauss_cdf`; bisection, error < 1e-10). Cached.

    >>> from scipy import stats
    >>> v = skew_exponential_pooled_quantile([0.3], 0.0, 1e-4, 1.0)[0]   # almost E - 1
    >>> bool(abs(v - (stats.expon.ppf(0.3) - 1)) < 1e-3)
    True
    """
    q = np.atleast_1d(np.asarray(q, dtype=float))
    return _skew_exponential_pooled_quantile(tuple(q.tolist()), float(loc), float(sd), float(p_right))
