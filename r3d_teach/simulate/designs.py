r"""Simulation designs: a :class:`Design` knows its truth and draws samples.

A design is a small frozen object holding its parameters (``PaperDGP1(delta=1.14)``). It knows

* ``truth(q)``: the **LAQTE** :math:`\tau(q) = E[Q_{Y^1}(q) - Q_{Y^0}(q) \mid X = 0]` (fuzzy
  designs: the complier LAQTE), the R3D estimand;
* ``pooled_truth(q)``: the quantile difference of the two pooled (mixture) laws at the cutoff,
  the target of classical quantile RD on pooled draws (sharp designs);
* ``mean_quantile(q, x, treated=None)``: the average quantile function :math:`m(q \mid x)`;

and ``sample(n_units, n_obs, seed)`` draws one data set, a :class:`SimulatedRD` (the running
variable, every unit's draws, and the unit parameters drawn). The truth never depends on a draw.
Every design draws :math:`X_i \sim U(-1, 1)` (cutoff 0) unless ``x`` is given, the unit
parameters as vectors and all draws at once (one flat vector split by unit).

Registry (:data:`DESIGNS`, :func:`get_design`, :func:`make_design`); arguments a design does not
have are an error:

==========================  =========================================================================
``paper1``                  :class:`PaperDGP1`: the paper's DGP 1 (pure shift by ``delta``)
``paper2``                  :class:`PaperDGP2`: the paper's DGP 2 (normal + exponential, heterogeneous)
``location``                :class:`LocationShift`: every unit's law shifted by ``delta``
``scale``                   :class:`ScaleChange`: every unit's sd multiplied by ``scale``
``heterogeneous``           :class:`HeterogeneousShape`: treated units draw new means and sds
``heterogeneous_pareto``    :class:`HeterogeneousPareto`: treated means get a Pareto part
``null``                    :class:`NullDesign`: no effect at all
``fuzzy``                   :class:`FuzzyDesign`: unit-level take-up; truth = complier LAQTE
``crossing``                :class:`CrossingDesign`: skewed unit laws (book chapter 3)
``curvature``               :class:`CurvatureDesign`: a curvature jump (book chapter 4)
``band``                    :class:`BandDesign`: shift, spread and proportional effects (chapter 5)
``compliers``               :class:`ComplierDesign`: always-, never-takers and compliers (chapter 6)
==========================  =========================================================================

:func:`empirical_quantiles` draws the unit quantiles of ``n_obs`` draws exactly in law without
the samples (the Monte Carlo fast path). Seeds follow the package's one rule (an int >= 0, None,
a ``numpy.random.SeedSequence`` or ``Generator``); the same int gives the same numbers.

Example
-------
>>> import numpy as np
>>> from r3d_teach.simulate import PaperDGP1, get_design
>>> design = PaperDGP1(delta=2.0)
>>> design.truth([0.1, 0.5, 0.9]).tolist()
[2.0, 2.0, 2.0]
>>> sim = design.sample(n_units=200, n_obs=50, seed=1)
>>> sim.x.shape, len(sim.y), sim.y[0].shape
((200,), 200, (50,))
>>> get_design("null", delta=1.0)
Traceback (most recent call last):
...
ValueError: delta: design 'null' has no parameter 'delta'; its parameters: ['slope']
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd
from scipy import special

from ..core.quantiles import DECILES, inverse_edf_rank
from ..core.validate import as_real_array, check_count, check_quantile_grid, check_seed
from .laws import (
    NormalSide,
    exgauss_mean_quantile,
    exgauss_pooled_quantile,
    exgauss_quantile,
    exgauss_rate,
    mean_quantile_jump,
    pooled_quantile_jump,
    skew_exponential_mean_quantile,
    skew_exponential_pooled_quantile,
)

__all__ = [
    "Design",
    "NormalFamily",
    "SimulatedRD",
    "PaperDGP1",
    "PaperDGP2",
    "LocationShift",
    "ScaleChange",
    "HeterogeneousShape",
    "HeterogeneousPareto",
    "NullDesign",
    "FuzzyDesign",
    "CrossingDesign",
    "CurvatureDesign",
    "BandDesign",
    "ComplierDesign",
    "DESIGNS",
    "design_parameters",
    "get_design",
    "make_design",
    "paper_dgp1",
    "paper_dgp2",
    "heterogeneous_shape",
    "empirical_quantiles",
]

#: half-width of the running variable's support: X ~ U(cutoff - 1, cutoff + 1)
X_HALFWIDTH = 1.0


# --------------------------------------------------------------------------------------------
# checks of design parameters and sample sizes
# --------------------------------------------------------------------------------------------
def _real(name: str, value: Any) -> float:
    a = as_real_array(value, name)  # refuses strings, booleans, complex numbers
    if a.ndim != 0:
        raise TypeError(f"{name}: must be one number, got shape {a.shape}")
    v = float(a)
    if not np.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return v


def _positive(name: str, value: Any) -> float:
    v = _real(name, value)
    if v <= 0:
        raise ValueError(f"{name}: must be positive, got {value!r}")
    return v


def _probability(name: str, value: Any) -> float:
    v = _real(name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name}: must be in [0, 1], got {value!r}")
    return v


def _check_n_obs(n_obs: Any, n_units: int) -> np.ndarray | int:
    if isinstance(n_obs, numbers.Integral) and not isinstance(n_obs, bool):
        return check_count(n_obs, "n_obs", 1)
    arr = np.asarray(n_obs)
    if arr.ndim != 1 or arr.shape[0] != n_units or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("n_obs: must be a positive int or an integer array of length n_units")
    if np.any(arr < 1):
        raise ValueError("n_obs: must be >= 1 for every unit")
    return arr.astype(np.int64)


def _check_x(x: Any, n_units: int) -> np.ndarray:
    xx = np.asarray(x, dtype=float)
    if xx.shape != (n_units,) or not np.all(np.isfinite(xx)):
        raise ValueError(f"x: must be a finite 1-D array of length n_units = {n_units}")
    return xx.copy()


def _normal_unit_quantile(unit_params: dict, u: np.ndarray) -> np.ndarray:
    """Q_i(u) = mu_i + sigma_i Phi^{-1}(u) for units with normal laws."""
    return unit_params["mu"][:, None] + unit_params["sigma"][:, None] * special.ndtri(u)


# --------------------------------------------------------------------------------------------
# one simulated data set
# --------------------------------------------------------------------------------------------
@dataclass
class SimulatedRD:
    """One data set drawn from a :class:`Design`.

    Attributes
    ----------
    design : the :class:`Design` it was drawn from (``sim.truth(q)`` is ``sim.design.truth(q)``).
    x : ndarray (n,), the running variable.
    y : list of n arrays; ``y[i]`` holds unit i's draws (rows of ``y_matrix`` when sizes are equal).
    treatment : ndarray (n,) of {0, 1} for fuzzy designs; None for sharp ones (x >= cutoff).
    unit_params : dict of (n,) arrays: the drawn unit parameters (e.g. ``mu``, ``sigma``).
    y_matrix : ndarray (n, n_obs), or None when the numbers of draws differ.
    """

    design: "Design"
    x: np.ndarray
    y: list
    treatment: np.ndarray | None = None
    unit_params: dict = field(default_factory=dict, repr=False)
    y_matrix: np.ndarray | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.design.name

    @property
    def cutoff(self) -> float:
        return self.design.cutoff

    @property
    def n_units(self) -> int:
        return int(self.x.shape[0])

    @property
    def sizes(self) -> np.ndarray:
        """Number of draws of each unit."""
        return np.fromiter((len(r) for r in self.y), dtype=np.int64, count=len(self.y))

    @property
    def params(self) -> dict:
        """The design's parameters and the sample sizes (for records)."""
        sizes = self.sizes
        n_obs = int(sizes[0]) if self.y_matrix is not None else sizes
        return {**self.design.params(), "n_units": self.n_units, "n_obs": n_obs}

    def truth(self, quantiles=DECILES) -> np.ndarray:
        return self.design.truth(quantiles)

    def pooled_truth(self, quantiles=DECILES) -> np.ndarray:
        return self.design.pooled_truth(quantiles)

    def mean_quantile(self, quantiles, x, treated: bool | None = None) -> np.ndarray:
        return self.design.mean_quantile(quantiles, x, treated)

    def unit_quantile(self, levels) -> np.ndarray:
        """Each unit's true quantile function: ``levels`` (n, k) in (0, 1) -> Q_i(levels[i, j])."""
        u = np.asarray(levels, dtype=float)
        if u.ndim != 2 or u.shape[0] != self.n_units:
            raise ValueError("levels: must be an (n_units, k) array")
        return self.design.unit_quantile(self.unit_params, u)

    def to_frame(self) -> pd.DataFrame:
        """Long data frame, one row per draw: ``unit, x, y`` (and ``t`` for fuzzy designs)."""
        sizes = self.sizes
        cols = {"unit": np.repeat(np.arange(self.n_units), sizes), "x": np.repeat(self.x, sizes),
                "y": np.concatenate(self.y)}
        if self.treatment is not None:
            cols["t"] = np.repeat(self.treatment, sizes)
        return pd.DataFrame(cols)


# --------------------------------------------------------------------------------------------
# the base class
# --------------------------------------------------------------------------------------------
class Design:
    """A simulation design with a known truth (base class; the designs are frozen dataclasses).

    Subclasses set ``name`` and implement ``_truth(q)`` and ``_draw(rng, xc, unit_of)`` (returning
    the flat vector of all draws, the treatment or None, and the unit parameters), and where they
    can ``_pooled_truth(q)``, ``_mean_quantile(q, xc, t)`` and ``unit_quantile``.
    """

    name: ClassVar[str] = "design"
    cutoff: ClassVar[float] = 0.0
    #: sharp (treated iff x >= cutoff) or fuzzy (a unit-level treatment is drawn)
    fuzzy: ClassVar[bool] = False
    #: True when ``delta`` adds one constant to every treated unit's draws for the same random
    #: numbers (so an estimate at delta is the estimate at 0 plus delta)
    delta_shifts_treated: ClassVar[bool] = False

    def params(self) -> dict:
        """The design's parameters by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def truth(self, quantiles=DECILES) -> np.ndarray:
        """True LAQTE tau(q) at ``quantiles`` (fuzzy designs: the complier LAQTE)."""
        return np.asarray(self._truth(check_quantile_grid(quantiles)), dtype=float)

    def pooled_truth(self, quantiles=DECILES) -> np.ndarray:
        """Quantile difference of the two pooled (mixture) laws at the cutoff."""
        return np.asarray(self._pooled_truth(check_quantile_grid(quantiles)), dtype=float)

    def mean_quantile(self, quantiles, x, treated: bool | None = None) -> np.ndarray:
        """Average quantile function m(q | x) = E[Q_Y(q) | X = x], shape (len(x), len(q)).

        ``treated=None`` uses the sharp rule x >= cutoff; True/False gives E[Q_{Y^1}] / E[Q_{Y^0}].
        """
        q = check_quantile_grid(quantiles)
        xc = np.atleast_1d(np.asarray(x, dtype=float)) - self.cutoff
        t = (xc >= 0) if treated is None else np.full(xc.shape, bool(treated))
        return self._mean_quantile(q, xc, t)

    def sample(self, n_units: int, n_obs, seed=None, *, x=None) -> SimulatedRD:
        """Draw ``n_units`` units with ``n_obs`` draws each (an int, or one int per unit).

        ``seed``: int >= 0, None, SeedSequence or Generator; ``x``: optional fixed running
        variable (else X ~ U(cutoff - 1, cutoff + 1), drawn first).
        """
        n = check_count(n_units, "n_units", 2)
        sizes = _check_n_obs(n_obs, n)
        rng = check_seed(seed)
        xs = self.cutoff + rng.uniform(-X_HALFWIDTH, X_HALFWIDTH, n) if x is None else _check_x(x, n)
        unit_of = np.repeat(np.arange(n), sizes)
        flat, treatment, unit_params = self._draw(rng, xs - self.cutoff, unit_of)
        if isinstance(sizes, int):
            ymat = flat.reshape(n, sizes)
            y = list(ymat)
        else:
            ymat, y = None, np.split(flat, np.cumsum(sizes)[:-1])
        return SimulatedRD(design=self, x=xs, y=y, treatment=treatment, unit_params=unit_params,
                           y_matrix=ymat)

    def unit_quantile(self, unit_params: dict, levels: np.ndarray) -> np.ndarray:
        """Q_i(levels[i, j]) for the drawn unit parameters (used by :func:`empirical_quantiles`)."""
        raise NotImplementedError(f"design {self.name!r} has no unit quantile function")

    # hooks ---------------------------------------------------------------------------------
    def _truth(self, q: np.ndarray) -> np.ndarray:  # pragma: no cover - every design has one
        raise NotImplementedError

    def _pooled_truth(self, q: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"design {self.name!r} has no pooled quantile-RD target")

    def _mean_quantile(self, q: np.ndarray, xc: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"design {self.name!r} has no closed-form mean quantile function")

    def _draw(self, rng, xc, unit_of):  # pragma: no cover - every design has one
        raise NotImplementedError

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # normalise a field of a frozen dataclass


# --------------------------------------------------------------------------------------------
# the normal family: one NormalSide law per potential outcome
# --------------------------------------------------------------------------------------------
class NormalFamily(Design):
    r"""Designs whose unit laws are :math:`N(\mu_i, \sigma_i^2)` with :class:`NormalSide` laws of
    the parameters for the untreated and the treated outcome (``sides()``). Truth:
    :func:`~r3d_teach.simulate.laws.mean_quantile_jump` (closed form); pooled target:
    :func:`~r3d_teach.simulate.laws.pooled_quantile_jump` (quadrature and bisection).
    Sharp unless ``take_up()`` gives (P(T = 1 | x < 0), P(T = 1 | x >= 0)).
    """

    def sides(self) -> tuple[NormalSide, NormalSide]:  # pragma: no cover - abstract
        raise NotImplementedError

    def take_up(self) -> tuple[float, float] | None:
        return None

    def _truth(self, q):
        return mean_quantile_jump(*self.sides(), q)

    def _pooled_truth(self, q):
        if self.fuzzy:
            return Design._pooled_truth(self, q)
        return pooled_quantile_jump(*self.sides(), q)

    def _mean_quantile(self, q, xc, t):
        s0, s1 = self.sides()
        return np.where(t[:, None], s1.mean_quantile(q, xc), s0.mean_quantile(q, xc))

    def _draw(self, rng, xc, unit_of):
        s0, s1 = self.sides()
        p = self.take_up()
        if p is None:
            treated, tr = xc >= 0, None
        else:
            tr = (rng.random(xc.size) < np.where(xc >= 0, p[1], p[0])).astype(np.int8)
            treated = tr.astype(bool)
        mu0, sd0 = s0.draw(rng, xc)
        mu1, sd1 = s1.draw(rng, xc)
        mu, sigma = np.where(treated, mu1, mu0), np.where(treated, sd1, sd0)
        flat = mu[unit_of] + sigma[unit_of] * rng.standard_normal(unit_of.size)
        return flat, tr, {"mu": mu, "sigma": sigma}

    def unit_quantile(self, unit_params, levels):
        return _normal_unit_quantile(unit_params, levels)


@dataclass(frozen=True)
class PaperDGP1(NormalFamily):
    r"""The paper's DGP 1 (Van Dijcke 2025, section 4.1): normal laws with random means and sds.

    .. math::
        X_i \sim U(-1, 1),\quad \mu_i \sim N(5 + 5X_i + 1\{X_i \ge 0\}\Delta, 1),\quad
        \sigma_i \sim |N(1 + X_i, 1)|,\quad Y_{ij} \mid i \sim N(\mu_i, \sigma_i^2).

    :math:`m(q \mid x) = 5 + 5x + \Delta 1\{x \ge 0\} + \Phi^{-1}(q)\,E|N(1+x, 1)|`, so
    :math:`\tau(q) = \Delta` at every q; every treated law is its untreated law shifted by
    :math:`\Delta`, so the pooled target is :math:`\Delta` too.

    >>> PaperDGP1(delta=1.14).truth([0.25, 0.75]).tolist()
    [1.14, 1.14]
    """

    delta: float = 0.0
    name: ClassVar[str] = "paper1"
    delta_shifts_treated: ClassVar[bool] = True

    def __post_init__(self):
        self._set("delta", _real("delta", self.delta))

    def sides(self):
        base = NormalSide(mu0=5.0, mu_slope=5.0, s_mu=1.0, sig0=1.0, sig_slope=1.0, sig_sd=1.0)
        return base, replace(base, shift=self.delta)


@dataclass(frozen=True)
class LocationShift(NormalFamily):
    r"""Pure location shift: every unit's law moves by ``delta`` at the cutoff.

    :math:`\mu_i \sim N(5 + \mathrm{slope}\,X_i + \Delta 1\{X_i\ge0\}, 1)`,
    :math:`\sigma_i \sim |N(1, 0.25^2)|`, :math:`Y_{ij} \sim N(\mu_i, \sigma_i^2)`.
    LAQTE and pooled target both equal ``delta`` at every q.

    >>> LocationShift(delta=1.5).pooled_truth([0.1, 0.9]).tolist()
    [1.5, 1.5]
    """

    delta: float = 1.0
    slope: float = 2.0
    name: ClassVar[str] = "location"
    delta_shifts_treated: ClassVar[bool] = True

    def __post_init__(self):
        self._set("delta", _real("delta", self.delta))
        self._set("slope", _real("slope", self.slope))

    def sides(self):
        base = NormalSide(mu0=5.0, mu_slope=self.slope, s_mu=1.0, sig0=1.0, sig_sd=0.25)
        return base, replace(base, shift=self.delta)


@dataclass(frozen=True)
class ScaleChange(NormalFamily):
    r"""Scale change: every unit's sd is multiplied by ``scale`` at the cutoff; means unchanged.

    :math:`\mu_i \sim N(5 + \mathrm{slope}\,X_i, 1)`,
    :math:`\sigma_i = s_i\,\mathrm{scale}^{1\{X_i\ge0\}}`, :math:`s_i \sim |N(1, 0.25^2)|`.
    LAQTE: :math:`\tau(q) = (\mathrm{scale}-1)\,E|N(1,0.25^2)|\,\Phi^{-1}(q)`. The pooled law
    mixes in the spread of the means, so the pooled target is smaller in absolute value.

    >>> round(float(ScaleChange(scale=1.5).truth([0.9])[0]), 4)
    0.6408
    """

    scale: float = 1.5
    slope: float = 2.0
    name: ClassVar[str] = "scale"

    def __post_init__(self):
        self._set("scale", _positive("scale", self.scale))
        self._set("slope", _real("slope", self.slope))

    def sides(self):
        s0 = NormalSide(mu0=5.0, mu_slope=self.slope, s_mu=1.0, sig0=1.0, sig_sd=0.25)
        s1 = NormalSide(mu0=5.0, mu_slope=self.slope, s_mu=1.0, sig0=self.scale, sig_sd=0.25 * self.scale)
        return s0, s1


@dataclass(frozen=True)
class HeterogeneousShape(NormalFamily):
    r"""Heterogeneous changes: treated units draw new means and sds, so the pooled quantile-RD
    target differs from the LAQTE (Van Dijcke 2025, section 2.4; the book's firm example).

    Untreated :math:`\mu_i \sim N(5 + \mathrm{slope}\,X_i, 1)`, :math:`\sigma_i \sim |N(a_0, 0.5^2)|`;
    treated :math:`\mu_i \sim N(5 + \Delta + \mathrm{slope}\,X_i, 1)`,
    :math:`\sigma_i \sim |N(a_1, 0.5^2)|` (``delta`` = 2, ``sd_untreated`` a0 = 1,
    ``sd_treated`` a1 = 1.5 by default).
    LAQTE: :math:`\tau(q) = \Delta + \Phi^{-1}(q)(E|N(a_1,.25)| - E|N(a_0,.25)|)` (closed form);
    pooled target by quadrature and bisection (error < 1e-8).

    >>> d = HeterogeneousShape()
    >>> np.round(d.truth([0.1, 0.5, 0.9]), 3).tolist(), np.round(d.pooled_truth([0.1, 0.9]), 3).tolist()
    ([1.37, 2.0, 2.63], [1.531, 2.469])
    """

    delta: float = 2.0
    sd_untreated: float = 1.0
    sd_treated: float = 1.5
    slope: float = 2.0
    name: ClassVar[str] = "heterogeneous"
    delta_shifts_treated: ClassVar[bool] = True

    def __post_init__(self):
        for f in ("delta", "sd_untreated", "sd_treated", "slope"):
            self._set(f, _real(f, getattr(self, f)))

    def sides(self):
        s0 = NormalSide(mu0=5.0, mu_slope=self.slope, s_mu=1.0, sig0=self.sd_untreated, sig_sd=0.5)
        s1 = NormalSide(mu0=5.0, shift=self.delta, mu_slope=self.slope, s_mu=1.0, sig0=self.sd_treated,
                        sig_sd=0.5)
        return s0, s1


@dataclass(frozen=True)
class HeterogeneousPareto(NormalFamily):
    r"""Heterogeneous changes with a heavy tail: treated means get a Pareto part.

    Untreated as :class:`HeterogeneousShape`; treated
    :math:`\mu_i = N(5 + \mathrm{slope}\,X_i, 1) + P_i`, :math:`P_i \sim` Pareto(scale 2, shape 3)
    (mean 3), :math:`\sigma_i \sim |N(1.5, 0.5^2)|`. LAQTE closed form
    (:math:`3 + \Phi^{-1}(q)(E|N(1.5,.25)| - E|N(1,.25)|)`); pooled target by Gauss-Hermite over
    the sd, Gauss-Legendre over the Pareto draw and bisection (error < 1e-6).

    >>> round(float(HeterogeneousPareto().truth([0.5])[0]), 6)
    3.0
    """

    slope: float = 2.0
    name: ClassVar[str] = "heterogeneous_pareto"

    def __post_init__(self):
        self._set("slope", _real("slope", self.slope))

    def sides(self):
        s0 = NormalSide(mu0=5.0, mu_slope=self.slope, s_mu=1.0, sig0=1.0, sig_sd=0.5)
        s1 = NormalSide(mu0=5.0, mu_slope=self.slope, s_mu=1.0, sig0=1.5, sig_sd=0.5, pareto_scale=2.0,
                        pareto_shape=3.0)
        return s0, s1


@dataclass(frozen=True)
class NullDesign(NormalFamily):
    r"""No effect: :math:`\mu_i \sim N(5 + \mathrm{slope}\,X_i, 1)`,
    :math:`\sigma_i \sim |N(1 + 0.5X_i, 0.25^2)|` on both sides (smooth in x, no jump);
    tau(q) = 0 and the pooled target is 0.

    >>> NullDesign().pooled_truth([0.5]).tolist()
    [0.0]
    """

    slope: float = 2.0
    name: ClassVar[str] = "null"

    def __post_init__(self):
        self._set("slope", _real("slope", self.slope))

    def sides(self):
        s = NormalSide(mu0=5.0, mu_slope=self.slope, s_mu=1.0, sig0=1.0, sig_slope=0.5, sig_sd=0.25)
        return s, s


@dataclass(frozen=True)
class FuzzyDesign(NormalFamily):
    r"""Fuzzy design: unit-level take-up :math:`T_i \sim \mathrm{Bern}(p(X_i))`,
    :math:`p(x) = p_{below} + (p_{above} - p_{below})1\{x \ge 0\}`.

    Untreated law: :math:`\mu_i \sim N(5 + \mathrm{slope}X_i, 1)`, :math:`\sigma_i \sim |N(1, .25^2)|`;
    treated: :math:`\mu_i \sim N(5 + \Delta + \mathrm{slope}X_i, 1)`,
    :math:`\sigma_i \sim \mathrm{scale}\cdot|N(1, .25^2)|`. Take-up is independent of the laws, so
    the complier LAQTE is :math:`\tau_F(q) = \Delta + (\mathrm{scale}-1)E|N(1,.25^2)|\Phi^{-1}(q)`;
    the intention-to-treat jump is ``first_stage_jump`` × tau_F(q) (Wald ratio).

    >>> d = FuzzyDesign()
    >>> round(float(d.truth([0.5])[0]), 6), round(d.first_stage_jump, 6)
    (2.0, 0.6)
    """

    delta: float = 2.0
    p_below: float = 0.2
    p_above: float = 0.8
    scale: float = 1.5
    slope: float = 2.0
    name: ClassVar[str] = "fuzzy"
    fuzzy: ClassVar[bool] = True

    def __post_init__(self):
        self._set("delta", _real("delta", self.delta))
        self._set("p_below", _probability("p_below", self.p_below))
        self._set("p_above", _probability("p_above", self.p_above))
        self._set("scale", _positive("scale", self.scale))
        self._set("slope", _real("slope", self.slope))
        if self.p_above <= self.p_below:
            raise ValueError("p_above: must exceed p_below (a positive first-stage jump)")

    @property
    def first_stage_jump(self) -> float:
        return self.p_above - self.p_below

    def take_up(self):
        return self.p_below, self.p_above

    def sides(self):
        s0 = NormalSide(mu0=5.0, mu_slope=self.slope, s_mu=1.0, sig0=1.0, sig_sd=0.25)
        s1 = NormalSide(mu0=5.0, shift=self.delta, mu_slope=self.slope, s_mu=1.0, sig0=self.scale,
                        sig_sd=0.25 * self.scale)
        return s0, s1


@dataclass(frozen=True)
class CurvatureDesign(NormalFamily):
    r"""Book chapter 4: a jump in curvature at the cutoff.
    :math:`\mu_i = 1 + X_i + T_i + \kappa X_i^2 T_i + \sigma_u e_i`, :math:`Y_{ij} \sim N(\mu_i, 1)`.
    The true effect is 1 at every q (pooled target too); the second derivative of
    :math:`m(q \mid x)` jumps by :math:`2\kappa`.

    >>> CurvatureDesign(kappa=8.0).truth([0.2, 0.8]).tolist()
    [1.0, 1.0]
    """

    kappa: float = 8.0
    sigma_u: float = 0.5
    name: ClassVar[str] = "curvature"

    def __post_init__(self):
        self._set("kappa", _real("kappa", self.kappa))
        self._set("sigma_u", _real("sigma_u", self.sigma_u))
        if self.sigma_u < 0:
            raise ValueError(f"sigma_u: must be non-negative, got {self.sigma_u!r}")

    def sides(self):
        s0 = NormalSide(mu0=1.0, mu_slope=1.0, s_mu=self.sigma_u, sig0=1.0)
        return s0, replace(s0, shift=1.0, mu_curvature=self.kappa)

    def _draw(self, rng, xc, unit_of):
        t = xc >= 0
        mu = 1 + xc + t + self.kappa * xc**2 * t + self.sigma_u * rng.standard_normal(xc.size)
        flat = mu[unit_of] + rng.standard_normal(unit_of.size)
        return flat, None, {"mu": mu, "sigma": np.ones(xc.size)}


@dataclass(frozen=True)
class BandDesign(NormalFamily):
    r"""Book chapter 5: shift, spread and proportional effects.
    Unit i has a location :math:`\mu_i = 10 + X_i + u_i`, :math:`u_i \sim N(0, 0.3^2)`, and a
    spread :math:`s_i = |S_i|`, :math:`S_i \sim N(1, 0.3^2)`; its draws are
    :math:`Y_{ij} = r^{T_i}[\mu_i + \mathrm{shift}\,T_i + (1 + \mathrm{scale}\,T_i)\,s_i e_{ij}]`
    (``r = ratio``, a proportional effect). The true effect at the cutoff is

    .. math:: \tau(q) = 10(r - 1) + r\,\mathrm{shift} + (r(1 + \mathrm{scale}) - 1)\,E|S|\,\Phi^{-1}(q).

    >>> round(float(BandDesign().truth([0.5])[0]), 12)
    1.0
    """

    shift: float = 1.0
    scale: float = 0.5
    ratio: float = 1.0
    name: ClassVar[str] = "band"

    def __post_init__(self):
        self._set("shift", _real("shift", self.shift))
        self._set("scale", _real("scale", self.scale))
        self._set("ratio", _positive("ratio", self.ratio))
        if self.scale <= -1:
            raise ValueError(f"scale: must exceed -1 (a positive treated spread), got {self.scale!r}")

    def sides(self):
        r, k = self.ratio, 1.0 + self.scale
        s0 = NormalSide(mu0=10.0, mu_slope=1.0, s_mu=0.3, sig0=1.0, sig_sd=0.3)
        s1 = NormalSide(mu0=10.0 * r, shift=r * self.shift, mu_slope=r, s_mu=0.3 * r, sig0=r * k,
                        sig_sd=0.3 * r * k)
        return s0, s1

    def _draw(self, rng, xc, unit_of):
        t = xc >= 0
        mu = 10 + xc + rng.normal(0, 0.3, xc.size)
        s = np.abs(rng.normal(1, 0.3, xc.size))
        e = rng.standard_normal(unit_of.size)
        loc, spread = mu + self.shift * t, s * (1 + self.scale * t)
        factor = np.where(t, self.ratio, 1.0)
        flat = (loc[unit_of] + spread[unit_of] * e) * factor[unit_of]
        return flat, None, {"mu": loc * factor, "sigma": spread * factor}


# --------------------------------------------------------------------------------------------
# designs with other laws
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaperDGP2(Design):
    r"""The paper's DGP 2 (section 4.1): random means plus a normal-exponential law.

    .. math::
        X_i \sim U(-1,1),\quad \mu_i = U_i + 2X_i,\ U_i \sim U(-5, 5),\quad
        \lambda_i \sim U(0.5, 1.5),

        Y_{ij} \mid i = \mu_i + \Delta 1\{X_i\ge0\} + Z_{ij}
            + 2\,E_{ij},\ Z \sim N(0,1),\ E \sim \mathrm{Exp}(\lambda_i + \Delta_\lambda 1\{X_i\ge0\}).

    **Choices where the paper is silent** (both exposed as arguments):

    * ``exp_scale="rate"``: Exp(lambda) has *rate* lambda (mean 1/lambda); ``"mean"`` uses mean
      lambda instead.
    * ``delta_lambda=0.5``: the treated side's exponential parameter rises by 0.5. With the rate
      reading this thins the upper tail, so tau(q) falls from Delta - 0.234 at q = 0.1 to
      Delta - 1.745 at q = 0.9: effects are heterogeneous even at Delta = 0 (the paper's
      homogeneity test rejects at Delta = 0). With Delta = 2 this gives tau = 1.766 / 1.450 / 0.255
      and a pooled quantile-RD target of 1.625 / 1.308 / 0.761 at q = 0.1 / 0.5 / 0.9, i.e.
      population relative biases of quantile RD of 0.08 / 0.10 / 1.98 (0.34 averaged over the
      deciles); the paper's Figure 3 reads about 0.08 / 0.08 / 1.95 / 0.34 at large n, which
      supports this reading. ``exp_scale="mean"`` would give a positive, growing tau
      (2.26 ... 4.20) and relative biases of only 0.09 / 0.06 / 0.11.

    Truth: :math:`\tau(q) = \Delta + E_\lambda[G^{-1}_{\lambda + \Delta_\lambda}(q)] - E_\lambda[G^{-1}_\lambda(q)]`,
    :math:`G_\lambda` the law of :math:`N(0,1) + 2\,\mathrm{Exp}(\lambda)`
    (:func:`~r3d_teach.simulate.laws.exgauss_mean_quantile`, error < 1e-10). Pooled target by
    quadrature and bisection on the mixture CDF (error < 1e-9).

    >>> np.round(PaperDGP2(delta=2.0).truth([0.1, 0.5, 0.9]), 3).tolist()
    [1.766, 1.45, 0.255]
    """

    delta: float = 0.0
    delta_lambda: float = 0.5
    exp_scale: str = "rate"
    name: ClassVar[str] = "paper2"
    delta_shifts_treated: ClassVar[bool] = True
    LOC_HALFWIDTH: ClassVar[float] = 5.0
    LOC_SLOPE: ClassVar[float] = 2.0
    LAMBDA: ClassVar[tuple[float, float]] = (0.5, 1.5)

    def __post_init__(self):
        self._set("delta", _real("delta", self.delta))
        self._set("delta_lambda", _real("delta_lambda", self.delta_lambda))
        if self.exp_scale not in ("rate", "mean"):
            raise ValueError(f"exp_scale: must be 'rate' or 'mean', got {self.exp_scale!r}")
        if self.LAMBDA[0] + self.delta_lambda <= 0:
            raise ValueError("delta_lambda: must keep lambda + delta_lambda positive (> -0.5)")

    def _lambda_range(self, treated: bool) -> tuple[float, float]:
        d = self.delta_lambda if treated else 0.0
        return self.LAMBDA[0] + d, self.LAMBDA[1] + d

    def _truth(self, q):
        return (self.delta + exgauss_mean_quantile(q, *self._lambda_range(True), self.exp_scale)
                - exgauss_mean_quantile(q, *self._lambda_range(False), self.exp_scale))

    def _pooled_truth(self, q):
        a = self.LOC_HALFWIDTH
        return (self.delta
                + exgauss_pooled_quantile(q, *self._lambda_range(True), self.exp_scale, loc_halfwidth=a)
                - exgauss_pooled_quantile(q, *self._lambda_range(False), self.exp_scale, loc_halfwidth=a))

    def _mean_quantile(self, q, xc, t):
        base0 = exgauss_mean_quantile(q, *self._lambda_range(False), self.exp_scale)
        base1 = exgauss_mean_quantile(q, *self._lambda_range(True), self.exp_scale)
        return self.LOC_SLOPE * xc[:, None] + np.where(t[:, None], self.delta + base1[None, :],
                                                       base0[None, :])

    def _draw(self, rng, xc, unit_of):
        above = xc >= 0
        a = self.LOC_HALFWIDTH
        mu = rng.uniform(-a, a, xc.size) + self.LOC_SLOPE * xc
        lam = rng.uniform(*self.LAMBDA, xc.size) + self.delta_lambda * above
        rate = exgauss_rate(lam, self.exp_scale)  # rate of the exponential part 2 Exp(.)
        shift = mu + self.delta * above
        n = unit_of.size
        flat = shift[unit_of] + rng.standard_normal(n) + rng.standard_exponential(n) / rate[unit_of]
        return flat, None, {"mu": mu, "lam": lam, "shift": shift, "rate": rate}

    def unit_quantile(self, unit_params, levels):
        return unit_params["shift"][:, None] + exgauss_quantile(levels, unit_params["rate"][:, None])


@dataclass(frozen=True)
class CrossingDesign(Design):
    r"""Book chapter 3: skewed unit laws whose shapes differ between units.
    :math:`\mu_i \sim N(1 + X_i + 0.5 T_i, \mathrm{noise}^2)`; unit i's law is
    :math:`\mu_i + D_i(E - 1)`, :math:`E \sim \mathrm{Exp}(1)`, with a skew direction
    :math:`D_i = +1` (long right tail) with probability ``right_tail_below`` left of the cutoff and
    ``right_tail_above`` right of it, else -1. With few units in the window a local quadratic fit
    can give a boundary curve that decreases in q. True boundary quantile functions:
    :math:`m_\pm(q) = a_\pm + p_\pm(-\log(1-q) - 1) + (1 - p_\pm)(\log q + 1)`, :math:`a_- = 1`,
    :math:`a_+ = 1.5`.

    >>> np.round(CrossingDesign().mean_quantile([0.5], [0.0], treated=True), 6).tolist()
    [[1.377259]]
    """

    noise: float = 0.5
    right_tail_below: float = 0.4
    right_tail_above: float = 0.7
    name: ClassVar[str] = "crossing"
    JUMP: ClassVar[float] = 0.5

    def __post_init__(self):
        self._set("noise", _positive("noise", self.noise))
        self._set("right_tail_below", _probability("right_tail_below", self.right_tail_below))
        self._set("right_tail_above", _probability("right_tail_above", self.right_tail_above))

    def _p(self, t):
        return np.where(t, self.right_tail_above, self.right_tail_below)

    def _truth(self, q):
        return (self.JUMP + skew_exponential_mean_quantile(q, self.right_tail_above)
                - skew_exponential_mean_quantile(q, self.right_tail_below))

    def _pooled_truth(self, q):
        plus = skew_exponential_pooled_quantile(q, 1.0 + self.JUMP, self.noise, self.right_tail_above)
        minus = skew_exponential_pooled_quantile(q, 1.0, self.noise, self.right_tail_below)
        return plus - minus

    def _mean_quantile(self, q, xc, t):
        p = self._p(t)[:, None]
        return (1 + xc + self.JUMP * t)[:, None] + skew_exponential_mean_quantile(q[None, :], p)

    def _draw(self, rng, xc, unit_of):
        t = xc >= 0
        right_tail = rng.random(xc.size) < self._p(t)
        d = np.where(right_tail, 1.0, -1.0)
        mu = 1 + xc + self.JUMP * t + self.noise * rng.standard_normal(xc.size)
        flat = mu[unit_of] + d[unit_of] * (rng.exponential(1.0, unit_of.size) - 1.0)
        return flat, None, {"mu": mu, "direction": d}

    def unit_quantile(self, unit_params, levels):
        d = unit_params["direction"][:, None]
        # Q of E - 1 at u is -log(1-u) - 1; of 1 - E it is log(u) + 1
        return unit_params["mu"][:, None] + np.where(d > 0, -np.log1p(-levels) - 1.0, np.log(levels) + 1.0)


@dataclass(frozen=True)
class ComplierDesign(Design):
    r"""Book chapter 6: always-takers, never-takers and compliers (a fuzzy design).
    A share ``always`` of units are always-takers, a share ``strength`` compliers and the rest
    never-takers, independently of X; :math:`T_i = 1` for always-takers and for compliers right of
    the cutoff, so :math:`P(T = 1 \mid X) = \mathrm{always} + \mathrm{strength}\,1\{X \ge 0\}`.
    Untreated draws are :math:`N(\mu_i, 1)`, :math:`\mu_i = 1 + X_i + 0.25\eta_i + 0.5 A_i`
    (always-takers sit higher); treatment adds 3 to an always-taker and, for a complier, adds 2
    and multiplies the spread by 1.5. Complier effect (the fuzzy estimand):
    :math:`\tau_F(q) = 2 + 0.5\,\Phi^{-1}(q)`. ``unit_params["complier"]`` marks the compliers.
    The same seed gives the same x, type draws and noise for every ``strength``.

    >>> ComplierDesign(strength=0.6).truth([0.5]).tolist()
    [2.0]
    """

    strength: float = 0.6
    always: float = 0.2
    name: ClassVar[str] = "compliers"
    fuzzy: ClassVar[bool] = True
    COMPLIER_SHIFT: ClassVar[float] = 2.0
    COMPLIER_SPREAD: ClassVar[float] = 1.5
    ALWAYS_SHIFT: ClassVar[float] = 3.0
    ALWAYS_LEVEL: ClassVar[float] = 0.5
    MU_SD: ClassVar[float] = 0.25

    def __post_init__(self):
        self._set("strength", _real("strength", self.strength))
        self._set("always", _real("always", self.always))
        if self.always < 0 or self.strength < 0 or self.always + self.strength > 1:
            raise ValueError("strength: need always + strength <= 1 and both non-negative")

    @property
    def first_stage_jump(self) -> float:
        return self.strength

    def _truth(self, q):
        return self.COMPLIER_SHIFT + (self.COMPLIER_SPREAD - 1.0) * special.ndtri(q)

    def _draw(self, rng, xc, unit_of):
        u = rng.uniform(size=xc.size)
        at = u < self.always                                       # always-takers
        co = (u >= self.always) & (u < self.always + self.strength)  # compliers
        t = (at | (co & (xc >= 0))).astype(float)
        mu = 1 + xc + self.MU_SD * rng.standard_normal(xc.size) + self.ALWAYS_LEVEL * at
        loc = mu + self.ALWAYS_SHIFT * t * at + self.COMPLIER_SHIFT * t * co
        spread = 1 + (self.COMPLIER_SPREAD - 1.0) * t * co
        flat = loc[unit_of] + spread[unit_of] * rng.standard_normal(unit_of.size)
        return flat, t.astype(np.int8), {"mu": loc, "sigma": spread, "complier": co, "always_taker": at}

    def unit_quantile(self, unit_params, levels):
        return _normal_unit_quantile(unit_params, levels)


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------
#: name -> design class (its fields are the design's parameters)
DESIGNS: dict[str, type[Design]] = {
    cls.name: cls
    for cls in (PaperDGP1, PaperDGP2, LocationShift, ScaleChange, HeterogeneousShape, HeterogeneousPareto,
                NullDesign, FuzzyDesign, CrossingDesign, CurvatureDesign, BandDesign, ComplierDesign)
}


def _lookup(name: Any) -> type[Design]:
    if not isinstance(name, str) or name not in DESIGNS:
        raise ValueError(f"design: unknown design {name!r}; choose from {sorted(DESIGNS)}")
    return DESIGNS[name]


def design_parameters(name: str) -> tuple[str, ...]:
    """The parameters of the design ``name``.

    >>> design_parameters("paper2")
    ('delta', 'delta_lambda', 'exp_scale')
    """
    return tuple(f.name for f in fields(_lookup(name)))


def get_design(name: str, **params) -> Design:
    """The design ``name`` of :data:`DESIGNS` with the given parameters (the others at their
    defaults); a parameter the design does not have is a ValueError naming it.

    >>> get_design("paper1", delta=2.27)
    PaperDGP1(delta=2.27)
    """
    cls = _lookup(name)
    allowed = design_parameters(name)
    for key in params:
        if key not in allowed:
            raise ValueError(f"{key}: design {name!r} has no parameter {key!r}; its parameters: {list(allowed)}")
    return cls(**params)


def make_design(name: str, n_units: int, n_obs, delta: float | None = None, seed=None,
                **params) -> SimulatedRD:
    """Draw one data set from the design ``name``: ``get_design(name, delta=delta, **params)
    .sample(n_units, n_obs, seed)`` (``delta=None``: the design's default, or none).

    >>> make_design("paper1", 50, 10, 2.0, seed=0).truth([0.5]).tolist()
    [2.0]
    """
    if delta is not None:
        params["delta"] = delta
    return get_design(name, **params).sample(n_units, n_obs, seed)


# shortcuts for one data set of the designs the book draws most
def paper_dgp1(n_units: int, n_obs, delta: float = 0.0, seed=None, *, x=None) -> SimulatedRD:
    """One data set of the paper's DGP 1: ``PaperDGP1(delta).sample(n_units, n_obs, seed, x=x)``.

    >>> paper_dgp1(500, 100, delta=1.14, seed=0).truth([0.25, 0.75]).tolist()
    [1.14, 1.14]
    """
    return PaperDGP1(delta=delta).sample(n_units, n_obs, seed, x=x)


def paper_dgp2(n_units: int, n_obs, delta: float = 0.0, seed=None, *, delta_lambda: float = 0.5,
               exp_scale: str = "rate", x=None) -> SimulatedRD:
    """One data set of the paper's DGP 2: ``PaperDGP2(delta, delta_lambda, exp_scale).sample(...)``.

    >>> np.round(paper_dgp2(300, 50, delta=1.86, seed=3).truth([0.1, 0.9]), 3).tolist()
    [1.626, 0.115]
    """
    return PaperDGP2(delta=delta, delta_lambda=delta_lambda, exp_scale=exp_scale).sample(
        n_units, n_obs, seed, x=x)


def heterogeneous_shape(n_units: int, n_obs, variant: str = "normal", seed=None, *, slope: float = 2.0,
                        x=None) -> SimulatedRD:
    """One data set of :class:`HeterogeneousShape` (``variant="normal"``) or
    :class:`HeterogeneousPareto` (``"pareto"``) at their default parameters.

    >>> sim = heterogeneous_shape(100, 20, "normal", seed=0)
    >>> np.round(sim.truth([0.1, 0.5, 0.9]), 3).tolist()
    [1.37, 2.0, 2.63]
    """
    if variant == "normal":
        design: Design = HeterogeneousShape(slope=slope)
    elif variant == "pareto":
        design = HeterogeneousPareto(slope=slope)
    else:
        raise ValueError(f"variant: must be 'normal' or 'pareto', got {variant!r}")
    return design.sample(n_units, n_obs, seed, x=x)


# --------------------------------------------------------------------------------------------
# empirical unit quantiles drawn exactly in law, without the samples
# --------------------------------------------------------------------------------------------
def empirical_quantiles(sim: SimulatedRD, n_obs: int, quantiles: Sequence[float] | np.ndarray,
                        seed=None, method: str = "linear") -> np.ndarray:
    r"""Draw each unit's empirical quantiles from ``n_obs`` iid draws of its law, exactly in law,
    without drawing the samples (fast path of the Monte Carlo runner).

    The empirical quantiles depend on the sample only through a few order statistics
    :math:`Y_{(r)} = Q_i(U_{(r)})`. For ``method="linear"`` (type 7) with k = ``n_obs``:
    :math:`\hat Q(q) = Y_{(l)} + g\,(Y_{(l+1)} - Y_{(l)})`, :math:`l = 1 + \lfloor (k-1)q \rfloor`,
    :math:`g = (k-1)q - \lfloor (k-1)q \rfloor`; for ``"inverted_cdf"`` (type 1)
    :math:`\hat Q(q) = Y_{(\lceil kq \rceil)}` (:func:`r3d_teach.core.quantiles.inverse_edf_rank`).
    The needed uniform order statistics :math:`r_1 < \dots < r_J` are drawn jointly by the
    gamma-spacings representation :math:`U_{(r_j)} = S_j / S_{J+1}`,
    :math:`S_j = \sum_{l\le j} G_l`, independent :math:`G_l \sim \Gamma(r_l - r_{l-1})`,
    :math:`G_{J+1} \sim \Gamma(k + 1 - r_J)` -- at most 2M + 1 gamma draws per unit instead of k
    normal draws. Needs the design's ``unit_quantile``.

    >>> sim = PaperDGP1().sample(5, 1, seed=0)
    >>> empirical_quantiles(sim, 1000, [0.25, 0.5, 0.75], seed=1).shape
    (5, 3)
    """
    k = check_count(n_obs, "n_obs", 1)
    if method not in ("linear", "inverted_cdf"):
        raise ValueError(f"method: must be 'linear' or 'inverted_cdf', got {method!r}")
    q = check_quantile_grid(quantiles)
    rng = check_seed(seed)
    if method == "linear":
        pos = (k - 1) * q
        lo = np.floor(pos).astype(np.int64)
        frac = pos - lo
        lo = np.minimum(lo, k - 1)
        hi = np.minimum(lo + 1, k - 1)
    else:
        lo = inverse_edf_rank(k, q) - 1
        hi, frac = lo, np.zeros(q.shape)
    ranks = np.unique(np.r_[lo, hi]) + 1  # 1-based
    shapes = np.diff(np.r_[0, ranks, k + 1]).astype(float)
    g = rng.standard_gamma(shapes, size=(sim.n_units, shapes.size))
    cs = np.cumsum(g, axis=1)
    u = np.clip(cs[:, :-1] / cs[:, -1:], np.nextafter(0.0, 1.0), np.nextafter(1.0, 0.0))
    yos = sim.unit_quantile(u)  # (n, J), order statistics at `ranks`
    col = np.searchsorted(ranks - 1, lo), np.searchsorted(ranks - 1, hi)
    ylo, yhi = yos[:, col[0]], yos[:, col[1]]
    return ylo + frac[None, :] * (yhi - ylo)
