"""The options layer: every setting of a fit checked in one place, before any work, and the
bandwidths resolved once.

A fit has *data* (x, the samples or Q, treatment, weights, cluster; prepared by
:mod:`r3d_teach.core.inputs`) and *options* (everything else).  Every public entry point —
:func:`r3d_teach.r3d`, :func:`r3d_teach.select_bandwidth`, the validity tools, the ``r3d``
command, the Monte Carlo runner — checks its options here, through the argument checks of
:mod:`r3d_teach.core.validate`, so they accept and refuse the same values with the same
messages.  Three steps, in this order:

1. :func:`check_options` → a frozen :class:`FitOptions` (before the data are read);
2. :func:`check_inference` → the test ranges, the Gini grid, the bootstrap budget and the
   ``multipliers`` matrix, once the number of units and the grid are known (before any fit);
3. :func:`resolve_bandwidths` → h, b and the fuzzy first stage's h_den, b_den:

   * given h, b: checked (a positive scalar, or one per quantile with ``method="simple"``; b
     also per side ``{"+": .., "-": ..}``; fuzzy: a pair ``(outcome, first stage)`` or one
     scalar for both);
   * h not given: the data-driven plug-in of :mod:`r3d_teach.core.bandwidth` (order s), with
     its derivative-rate pilot as b (per side) unless b is given;
   * h given and b not: b = h (the paper's estimator: the order-p fit at h);
   * s = p: no bias correction, so b is refused and set to h;
   * data-driven windows hold enough units on each side (or all of them): h at least
     max(``min_units``, p + 1 + :data:`MIN_RESIDUAL_DF`), b (when it is the selector's pilot)
     at least p + 1 + :data:`MIN_RESIDUAL_DF`, widened if the pilot holds fewer;
4. :func:`check_windows` → the windows can carry a variance: each side's h-window and b-window
   hold at least p + 1 + :data:`MIN_RESIDUAL_DF` units with positive kernel weight (the order-p
   fit at b leaves residual degrees of freedom), and with clusters at least
   :data:`MIN_CLUSTERS` clusters have units in each side's window.  One rule, applied after the
   bandwidths are resolved and before any fit; a given h or b that breaks it is an error naming
   it, the side and the counts.

``p = 1`` without ``s`` (a local-constant estimate: rdrobust's ``p`` is our ``s``) warns.

Example
-------
>>> import numpy as np
>>> from r3d_teach.core.options import check_options
>>> opt = check_options(p=2, n_boot=999)
>>> opt.s, opt.method, opt.tests, opt.residuals
(1, 'frechet', ('nullity', 'homogeneity'), 'hc2')
>>> check_options(band="unweighted").residuals, check_options(band="unweighted", residuals="hc2").residuals
('hc3', 'hc2')
>>> check_options(p=1, s=3)
Traceback (most recent call last):
...
ValueError: s: the bandwidth's order s = 3 cannot exceed the bias-correcting order p = 1
>>> check_options(band="wide")
Traceback (most recent call last):
...
ValueError: band: unknown band 'wide'; choose one of ('studentized', 'unweighted')
>>> check_options(coverage_correction="yes")
Traceback (most recent call last):
...
TypeError: coverage_correction: must be True or False, got 'yes'
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import warnings

import numpy as np

from . import validate
from .bandwidth import BOUND_MARGIN, DEFAULT_MIN_UNITS, BandwidthSelection, bandwidth_from_matrix
from .bootstrap import BANDS, TESTS, check_boot_budget, parse_test_ranges
from .frechet import REARRANGEMENTS
from .gini import check_gini_grid
from .inputs import DEFAULT_QUANTILES, Inputs
from .kernels import get_kernel
from .locpoly import SIDES, side_mask
from .residuals import RESIDUAL_RULES

__all__ = ["FitOptions", "check_options", "check_inference", "check_bandwidths", "check_r3d_kwargs", "resolve_use_t", "DOF_RULES",
           "Bandwidths", "resolve_bandwidths", "check_windows", "OPTION_NAMES", "DEFAULT_N_BOOT",
           "DEFAULT_RESIDUALS", "default_residuals",
           "MIN_RESIDUAL_DF", "MIN_CLUSTERS"]

#: bootstrap draws of ``r3d`` when ``n_boot`` is not given (the ``r3d`` command's default too)
DEFAULT_N_BOOT = 999
#: residual degrees of freedom a side's window must leave beyond the p + 1 coefficients of the
#: order-p fit before its variance counts: at least p + 1 + MIN_RESIDUAL_DF units with positive
#: kernel weight.  With p + 1 units the fit interpolates, its residuals are exactly 0 and so is
#: the side's variance; with ν residual degrees of freedom a t-statistic has variance ν/(ν - 2),
#: finite from ν = 3 on.
MIN_RESIDUAL_DF = 3
#: clustered inference needs at least this many clusters with units in each side's window
MIN_CLUSTERS = 2


@dataclass(frozen=True)
class FitOptions:
    """The checked options of a fit (see :func:`r3d_teach.r3d` for their meaning).

    ``as_kwargs()`` gives them back as keyword arguments of ``r3d``.
    """

    method: str = "frechet"
    kernel: str = "triangular"
    p: int = 2
    s: int = 1
    alpha: float = 0.05
    n_boot: int = DEFAULT_N_BOOT
    band: str = "studentized"
    tests: tuple = ("nullity", "homogeneity")
    rearrangement: str = "sort"
    residuals: str = "hc2"
    min_units: int = DEFAULT_MIN_UNITS
    coverage_correction: bool = False
    quantile_method: str = "linear"
    progress: bool = False
    use_t: bool | None = None

    def as_kwargs(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: the keyword arguments of ``r3d`` that are options (checked by :func:`check_options`)
OPTION_NAMES = tuple(f.name for f in fields(FitOptions))


#: the residual rule of each band when ``residuals`` is not given: HC2 for the studentized band (the
#: rule its Bell-McCaffrey degrees of freedom go with; Imbens and Kolesár 2016), HC3 for the
#: unweighted one (exactly the band before the studentized default; rdrobust's vce = "hc3")
DEFAULT_RESIDUALS = {"studentized": "hc2", "unweighted": "hc3"}


#: residual rules with a hat-matrix form, hence Bell-McCaffrey degrees of freedom
DOF_RULES = ("hc2", "hc3")


def resolve_use_t(use_t: bool | None, band: str, residuals: str) -> bool:
    """Whether per-quantile p-values and pointwise intervals use Student's t with ν degrees of
    freedom (the Bell-McCaffrey ν behind the studentized band) instead of the normal.

    ``None`` (the default): t for the studentized band with HC2 or HC3 residuals (Imbens and
    Kolesár 2016: HC2 with this ν keeps a t-test's size with few units in the window, where the
    normal rejects 13-14 % at a nominal 5 % with 10-18 units a side), normal otherwise (the
    unweighted band, R3D 0.1.0's inference; residual rules without ν).  ``False``: normal
    (rdrobust's convention).  ``True``: t (checked by :func:`check_options`).

    >>> resolve_use_t(None, "studentized", "hc2"), resolve_use_t(False, "studentized", "hc2")
    (True, False)
    >>> resolve_use_t(None, "unweighted", "hc3"), resolve_use_t(None, "studentized", "nn")
    (False, False)
    """
    if use_t is None:
        return band == "studentized" and residuals in DOF_RULES
    return bool(use_t)


def default_residuals(band: str) -> str:
    """The residual rule used when ``residuals`` is not given (:data:`DEFAULT_RESIDUALS`).

    >>> default_residuals("studentized"), default_residuals("unweighted")
    ('hc2', 'hc3')
    """
    return DEFAULT_RESIDUALS[band]


def check_options(*, method="frechet", kernel="triangular", p=2, s=None, alpha=0.05, n_boot=DEFAULT_N_BOOT,
                  band="studentized", tests=("nullity", "homogeneity"), rearrangement="sort", residuals=None,
                  min_units=DEFAULT_MIN_UNITS, coverage_correction=False, quantile_method="linear",
                  progress=False, use_t=None, fuzzy: bool = False, stacklevel: int = 3) -> FitOptions:
    """Check every option of a fit; return them normalised (``s`` defaults to max(p - 1, 0);
    ``residuals=None`` to the band's rule, :func:`default_residuals`; ``use_t``: None, True or
    False, see :func:`resolve_use_t`).

    ``fuzzy``: the design has a treatment column (the Gini test is refused then).  Raises
    ``ValueError`` / ``TypeError`` naming the argument.  ``p = 1`` with ``s`` not given (a
    local-constant estimate) warns, pointing to rdrobust's meaning of p (``stacklevel``: of
    that warning, 3 = the caller of the function that calls this one).
    """
    method = validate.check_method(method)
    kernel = validate.check_kernel(kernel)
    p = validate.check_order(p)
    s_given = s is not None
    s = max(p - 1, 0) if s is None else validate.check_order(s, "s")
    if s > p:
        raise ValueError(f"s: the bandwidth's order s = {s} cannot exceed the bias-correcting order p = {p}")
    rearrangement = validate.check_choice(rearrangement, REARRANGEMENTS, "rearrangement", "rule")
    band = validate.check_choice(band, BANDS, "band", "band")
    residuals = default_residuals(band) if residuals is None else \
        validate.check_choice(residuals, RESIDUAL_RULES, "residuals", "rule")
    if isinstance(tests, str):
        tests = (tests,)
    tests = tuple(validate.check_choice(t, TESTS, "tests", "test") for t in (tests or ()))
    if fuzzy and "gini" in tests:
        raise ValueError("tests: the Gini test is defined for sharp designs only (complier Gini "
                         "coefficients are not identified from the outcome limits)")
    opt = FitOptions(method=method, kernel=kernel, p=p, s=s, alpha=validate.check_alpha(alpha),
                     n_boot=validate.check_n_boot(n_boot), band=band,
                     tests=tests, rearrangement=rearrangement,
                     residuals=residuals, min_units=validate.check_count(min_units, "min_units", 0),
                     coverage_correction=validate.check_flag(coverage_correction, "coverage_correction"),
                     quantile_method=validate.check_quantile_method(quantile_method),
                     progress=validate.check_flag(progress, "progress"),
                     use_t=None if use_t is None else validate.check_flag(use_t, "use_t"))
    if opt.use_t and opt.band != "studentized":
        raise ValueError("use_t: Student-t per-quantile inference uses the Bell-McCaffrey degrees of freedom "
                         "of the studentized band; with band='unweighted' use use_t=None or False (normal)")
    if opt.use_t and opt.residuals not in DOF_RULES:
        raise ValueError(f"use_t: residuals={opt.residuals!r} has no Bell-McCaffrey degrees of freedom; "
                         f"use one of {DOF_RULES} or use_t=None/False (normal)")
    if p == 1 and not s_given:
        warnings.warn("p: p is the order of the bias-correcting fit (rdrobust's q); the estimate is a local "
                      "polynomial of order p - 1 = 0 (local constant), bias-corrected by a local linear fit. "
                      "For rdrobust's p = 1 (local linear) use p = 2 (the default); pass s=0 to keep the "
                      "local-constant estimate without this warning", UserWarning, stacklevel=stacklevel)
    return opt


def check_inference(opt: FitOptions, inp: Inputs, test_ranges=None, multipliers=None):
    """The checks that need the data's size and grid, run after the inputs are prepared and
    before any fit: the test ranges (:func:`~r3d_teach.core.bootstrap.parse_test_ranges`, even
    without a bootstrap), the grid of the Gini test, the bootstrap's budget and the
    ``multipliers`` (an n_units × B finite matrix, not with clusters).

    Returns ``(ranges, multipliers)``: the (lo, hi) pairs and the multipliers as a float array
    (or None).
    """
    q = inp.quantiles
    ranges = parse_test_ranges(test_ranges, q)
    if multipliers is not None:
        if inp.clusters is not None:
            raise ValueError("multipliers: cannot be combined with cluster= (multipliers are drawn per cluster)")
        multipliers = validate.check_multipliers(multipliers, inp.n)
    if "gini" in opt.tests and (opt.n_boot or multipliers is not None):
        check_gini_grid(q, stacklevel=4)
    if opt.n_boot:
        check_boot_budget(opt.n_boot, inp.n, q.size, len(ranges))
    return ranges, multipliers


# --------------------------------------------------------------------------------------------
# bandwidths
# --------------------------------------------------------------------------------------------
@dataclass
class Bandwidths:
    """The bandwidths of a fit: ``h`` (float, or (M,) for "simple"), ``b`` per side; the fuzzy
    first stage's ``h_den`` and ``b_den`` (per side); the data-driven ``selection`` (None when
    h is given)."""

    h: float | np.ndarray
    b: dict
    h_den: float | None = None
    b_den: dict | None = None
    selection: BandwidthSelection | None = None


def _split_pair(v, name, fuzzy):
    """A fuzzy design's (outcome, first stage) pair; one scalar serves both."""
    if v is None or not fuzzy:
        return v, None
    if np.ndim(v) == 0:
        return v, v
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        raise ValueError(f"{name}: in a fuzzy design give a pair ({name}_num, {name}_den) (or one scalar for both)")
    return v[0], v[1]


def _check_bandwidth(v, name, method, M):
    """A given bandwidth: a positive scalar, or one per quantile for "simple"; for ``b`` also a
    dict per side {"+": .., "-": ..}, the form of ``R3DResult.b``."""
    if v is None:
        return None
    if isinstance(v, dict):
        if name != "b" or set(v) != set(SIDES):
            raise ValueError(f"{name}: a per-side bandwidth must be a dict with exactly the keys '+' and '-'")
        return {side: _check_bandwidth(v[side], name, method, M) for side in SIDES}
    arr = validate.check_positive_bandwidth(v, name)
    if arr.ndim == 0:
        return float(arr)
    if method == "frechet":
        raise ValueError(f"{name}: method 'frechet' uses one bandwidth for the whole curve; give a scalar "
                         "(per-quantile bandwidths are for method='simple')")
    if arr.shape != (M,):
        raise ValueError(f"{name}: per-quantile bandwidths must have one value per quantile ({M}), got shape {arr.shape}")
    return arr


def check_bandwidths(h, b, opt: FitOptions, n_quantiles: int, fuzzy: bool) -> tuple:
    """Given bandwidths, checked: ``(h, b, h_den, b_den)`` (None where not given; the fuzzy pair
    split into the outcome's and the first stage's)."""
    h_num, h_den = _split_pair(h, "h", fuzzy)
    b_num, b_den = _split_pair(b, "b", fuzzy)
    h_num = _check_bandwidth(h_num, "h", opt.method, n_quantiles)
    b_num = _check_bandwidth(b_num, "b", opt.method, n_quantiles)
    if fuzzy:
        h_den, b_den = _check_bandwidth(h_den, "h", "frechet", 1), _check_bandwidth(b_den, "b", "frechet", 1)
    if opt.p == opt.s and (b_num is not None or b_den is not None):
        raise ValueError(f"b: no bias correction when s = p = {opt.p}; leave b unset")
    return h_num, b_num, h_den, b_den


def _sides(v) -> dict:
    return dict(v) if isinstance(v, dict) else {side: v for side in SIDES}


def _pilot(b) -> float | np.ndarray:
    a = np.asarray(b, dtype=float)
    return float(a) if a.ndim == 0 else a


def _variance_units(opt: FitOptions) -> int:
    """The fewest units a side's window may hold for its variance to count: p + 1 + MIN_RESIDUAL_DF."""
    return opt.p + 1 + MIN_RESIDUAL_DF


def _widen(b, xc: np.ndarray, side: str, k: int):
    """A data-driven b widened, if needed, to hold the k units nearest the cutoff on ``side``
    (all of them if it has fewer) with positive kernel weight."""
    absx = np.sort(np.abs(xc[side_mask(xc, side)]))
    if absx.size == 0:
        return b
    lo = float(absx[min(k, absx.size) - 1]) * BOUND_MARGIN
    out = np.maximum(np.asarray(b, dtype=float), lo)
    return float(out) if out.ndim == 0 else out


def resolve_bandwidths(inp: Inputs, h, b, opt: FitOptions) -> Bandwidths:
    """h and b (and the first stage's h_den, b_den): given, or the data-driven plug-in with
    its derivative-rate pilot as b (per side); the rules are listed in the module docstring."""
    fuzzy = inp.treatment is not None
    q = inp.quantiles
    h_num, b_num, h_den, b_den = check_bandwidths(h, b, opt, q.size, fuzzy)
    out = Bandwidths(h=h_num, b={})
    k = _variance_units(opt)
    if h_num is None:
        sel = bandwidth_from_matrix(inp.xc, inp.Q, q, method=opt.method, p=opt.p, s=opt.s, kernel=opt.kernel,
                                    coverage_correction=opt.coverage_correction, min_units=max(opt.min_units, k),
                                    value_range=inp.q_range())
        out.h, out.selection = sel.h, sel
        out.b = _sides(b_num) if b_num is not None else {
            side: _widen(_pilot(sel.b_pilot[side]), inp.xc, side, k) for side in SIDES}
    else:
        out.b = _sides(b_num if b_num is not None else h_num)
    if fuzzy:
        if h_den is None:
            den = bandwidth_from_matrix(inp.xc, inp.treatment[:, None], np.array([0.5]), method="frechet",
                                        p=opt.p, s=opt.s, kernel=opt.kernel, integrate=True,
                                        coverage_correction=opt.coverage_correction, min_units=max(opt.min_units, k))
            out.h_den = float(den.h)
            out.b_den = _sides(b_den) if b_den is not None else {
                side: _widen(_pilot(den.b_pilot[side]), inp.xc, side, k) for side in SIDES}
            if out.selection is not None:
                out.selection.h_den, out.selection.denominator = out.h_den, den
        else:
            out.h_den = float(h_den)
            out.b_den = _sides(b_den if b_den is not None else h_den)
    if opt.p == opt.s:
        out.b = _sides(out.h)
        if fuzzy:
            out.b_den = _sides(out.h_den)
    return out


def _where(side: str) -> str:
    return "right (x >= cutoff)" if side == "+" else "left (x < cutoff)"


def check_windows(inp: Inputs, bw: Bandwidths, opt: FitOptions) -> int:
    """The rule that a fit's windows can carry a variance (see the module docstring), applied
    after the bandwidths are resolved and before any fit.

    Each side's h-window and b-window (and the fuzzy first stage's) must hold at least
    p + 1 + :data:`MIN_RESIDUAL_DF` units with positive kernel weight (per-quantile bandwidths:
    the narrowest); with clusters, at least :data:`MIN_CLUSTERS` clusters must have units in
    the widest window of each side.  Raises ``ValueError`` naming h or b (or x, when the side
    holds too few units in all, or cluster), the side and the counts.

    Returns the residual degrees of freedom of the smallest window: min over the windows of
    (units - (p + 1)), and with clusters at most (clusters - 1).
    """
    need = opt.p + 1 + MIN_RESIDUAL_DF
    K = get_kernel(opt.kernel)
    xc = inp.xc
    windows = [("h", {side: bw.h for side in SIDES}, ""), ("b", bw.b, "")]
    if inp.treatment is not None:
        windows += [("h", {side: bw.h_den for side in SIDES}, " of the first stage"),
                    ("b", bw.b_den, " of the first stage")]
    dof = []
    widest = {side: 0.0 for side in SIDES}
    for side in SIDES:
        absx = np.abs(xc[side_mask(xc, side)])
        for name, per_side, what in windows:
            widths = np.atleast_1d(np.asarray(per_side[side], dtype=float))
            j = int(np.argmin(widths))
            width = float(widths[j])
            at = f" at quantile {inp.quantiles[j]:g}" if widths.size > 1 else ""
            widest[side] = max(widest[side], float(widths.max()))
            count = int(np.count_nonzero(K(absx / width) > 0))
            if count < need:
                rule = (f"a variance from the order-{opt.p} fit needs at least {need} (p + 1 = {opt.p + 1} "
                        f"coefficients and {MIN_RESIDUAL_DF} residual degrees of freedom)")
                if absx.size < need:
                    raise ValueError(f"x: only {absx.size} unit(s) on the {_where(side)} side in all; {rule}. "
                                     "Use more units or a lower p")
                chosen = bw.selection is not None and name == "h" and not what
                hint = "Use more units or a lower p" if chosen else f"Increase {name}"
                raise ValueError(f"{name}: only {count} unit(s) with positive kernel weight on the {_where(side)} "
                                 f"side{what}{at} ({name} = {width:.4g}; {absx.size} units on that side); {rule}. "
                                 f"{hint}")
            dof.append(count - (opt.p + 1))
    if inp.clusters is not None:
        for side in SIDES:
            inside = side_mask(xc, side) & (K(np.abs(xc) / widest[side]) > 0)
            g = np.unique(inp.clusters[inside]).size
            if g < MIN_CLUSTERS:
                raise ValueError(f"cluster: only {g} cluster(s) have units in the window on the {_where(side)} side; "
                                 f"clustered standard errors, bands and tests need at least {MIN_CLUSTERS} "
                                 "per side (widen h, or drop cluster=)")
            dof.append(g - 1)
    return int(min(dof))


# --------------------------------------------------------------------------------------------
# keyword arguments passed on to r3d (the validity tools)
# --------------------------------------------------------------------------------------------
def check_r3d_kwargs(kwargs: dict, known=None) -> FitOptions:
    """Check, before any loop or data work, the keyword arguments a tool passes on to ``r3d``:
    names (``known``: the names ``r3d`` accepts; an unknown one is a ``TypeError`` naming it),
    options (:func:`check_options`), the grid ``quantiles``, given ``h`` and ``b``,
    ``test_ranges`` and ``seed``.  Returns the options."""
    if known is not None:
        for k in kwargs:
            if k not in known:
                raise TypeError(f"{k}: not an argument of r3d (arguments: {', '.join(sorted(known))})")
    fuzzy = kwargs.get("treatment") is not None
    opt = check_options(**{k: kwargs[k] for k in OPTION_NAMES + ("s",) if k in kwargs}, fuzzy=fuzzy, stacklevel=4)
    q = kwargs.get("quantiles")
    q = DEFAULT_QUANTILES if q is None else validate.check_quantile_grid(q)
    check_bandwidths(kwargs.get("h"), kwargs.get("b"), opt, q.size, fuzzy)
    if kwargs.get("test_ranges") is not None:
        parse_test_ranges(kwargs["test_ranges"], q)
    if "seed" in kwargs:
        validate.check_seed(kwargs["seed"])
    return opt
