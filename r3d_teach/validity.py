r"""Validity checks of an R3D design: what every regression-discontinuity study reports.

Each check returns a tidy :class:`pandas.DataFrame`; the figures are in :mod:`r3d_teach.core.plotting`
(:func:`~r3d_teach.core.plotting.plot_manipulation`, :func:`~r3d_teach.core.plotting.plot_balance`,
:func:`~r3d_teach.core.plotting.plot_placebo`, :func:`~r3d_teach.core.plotting.plot_sensitivity`).

* :func:`manipulation_test` -- is the density of the running variable continuous at the cutoff?
  The local-polynomial density test of Cattaneo, Jansson and Ma (2020), through the ``rddensity``
  package (optional extra ``validity``): with :math:`\hat f_\pm` the robust bias-corrected
  density estimates at the cutoff from each side, :math:`T = (\hat f_+ - \hat f_-)/\widehat{se}`
  (jackknife standard error), :math:`p = 2\{1 - \Phi(|T|)\}`.
* :func:`covariate_balance` -- the RD jump in unit-level scalar covariates, one row per covariate.
  A scalar is a unit whose quantile function is constant, so the jump is ``r3d`` with one
  quantile level: the local polynomial at the cutoff with robust bias correction (RBC),
  estimate :math:`\hat\tau`, robust standard error :math:`se`, confidence interval
  :math:`\hat\tau \pm z_{1-\alpha/2}\,se` and :math:`p = 2\{1 - \Phi(|\hat\tau|/se)\}`.
* :func:`placebo_cutoffs` -- :math:`\hat\tau(q)` with its uniform band at fake cutoffs
  :math:`c'`, using only the units on one side of the true cutoff (so no true jump lies inside
  the sample); the nullity test :math:`\max_q|\hat\tau(q)| = 0` should not reject.
* :func:`donut` -- refit without the units closest to the cutoff, :math:`|X_i - c| < \delta`.
* :func:`bandwidth_sensitivity` -- refit at multiples :math:`m h` of the chosen bandwidth (the
  bias-correction bandwidth :math:`b` is scaled with it, so their ratio is kept; :math:`m = 1`
  reproduces the plain fit).

The last three return one summary row per setting (cutoff, radius or multiple); the effect
curves behind them are in ``out.attrs["curves"]`` (one row per setting and quantile level:
``q, tau, se, band_lower, band_upper, pointwise_lower, pointwise_upper``).

Every function accepts the data forms of :func:`r3d_teach.r3d`: arrays ``x, y`` (one sample per
unit), or a long table ``data=df, unit="col"`` with column names for ``x``, ``y`` (and, through
``**r3d_kwargs``, ``weights``, ``treatment``, ``cluster``). Other keyword arguments are passed on
to ``r3d`` unchanged (``quantiles``, ``method``, ``p``, ``kernel``, ``h``, ``alpha``, ...).

Example
-------
>>> import numpy as np
>>> from r3d_teach.validity import covariate_balance, donut, placebo_cutoffs
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(-1, 1, 400)
>>> y = [rng.normal(x_i + (x_i >= 0), 1, 60) for x_i in x]
>>> age = 40 + 5 * x + rng.normal(0, 1, 400)                  # a smooth covariate
>>> bal = covariate_balance(x, {"age": age})
>>> bool(bal.loc[0, "p_value"] > 0.05)
True
>>> grid = np.arange(1, 10) / 10
>>> pl = placebo_cutoffs(x, y, cutoffs=[-0.5, 0.5], quantiles=grid, n_boot=199, seed=1)
>>> pl[["cutoff", "side"]].values.tolist()
[[-0.5, 'left'], [0.5, 'right']]
>>> d = donut(x, y, radii=[0.0, 0.05], quantiles=grid, n_boot=199, seed=1)
>>> d["n_excluded"].tolist()[0]
0
"""
from __future__ import annotations

import inspect
import numbers
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from .core import validate
from .core.estimator import r3d
from .core.inputs import group_units, split_frame
from .core.kernels import get_kernel
from .core.options import check_bandwidths, check_r3d_kwargs

__all__ = ["manipulation_test", "covariate_balance", "placebo_cutoffs", "donut",
           "bandwidth_sensitivity", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "rddensity>=3.0" "lpdensity>=3.0" (the "validity" extra of r3d-teach)'

# keyword arguments of r3d that carry one entry per unit (subset with the units)
_PER_UNIT = ("weights", "treatment", "cluster", "Q", "multipliers")
# keyword arguments of r3d that are column names when data= is used
_COLUMN_ARGS = ("weights", "treatment", "cluster")
_CURVE_COLS = ["q", "tau", "se", "band_lower", "band_upper", "pointwise_lower", "pointwise_upper"]
#: the keyword arguments r3d accepts (anything else in ``**r3d_kwargs`` is refused up front)
_R3D_ARGS = frozenset(inspect.signature(r3d).parameters)


# ----------------------------------------------------------------------------------------------
# data handling shared by the checks
# ----------------------------------------------------------------------------------------------
def _import_rddensity():
    try:
        from lpdensity import lpdensity
        from rddensity import rddensity
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "manipulation_test needs the optional package 'rddensity' (Cattaneo, Jansson and Ma), "
            f"which is not installed; install it with: {INSTALL_HINT}") from exc
    return rddensity, lpdensity


class _Design:
    """Unit-level data of an R3D design, subsettable by units, refit with ``r3d``."""

    def __init__(self, x, y, per_unit: dict, other: dict, units=None):
        self.x, self.y, self.per_unit, self.other, self.units = x, y, per_unit, other, units

    @property
    def n(self) -> int:
        return self.x.size

    def subset(self, mask: np.ndarray) -> "_Design":
        idx = np.flatnonzero(mask)
        y = None if self.y is None else (self.y[idx] if isinstance(self.y, np.ndarray) else [self.y[i] for i in idx])
        pu = {}
        for k, v in self.per_unit.items():
            if isinstance(v, np.ndarray):
                pu[k] = v[idx]
            else:
                pu[k] = [v[i] for i in idx]
        units = None if self.units is None else self.units[idx]
        return _Design(self.x[idx], y, pu, dict(self.other), units)

    def fit(self, **overrides):
        kw = {**self.other, **self.per_unit, **overrides}
        return r3d(self.x, self.y, **kw)


def _design(x, y, data, unit, r3d_kwargs: dict, need_y: bool = True) -> _Design:
    kw = dict(r3d_kwargs)
    for bad in ("data", "unit"):
        kw.pop(bad, None)
    if data is not None:
        if need_y and y is None:
            raise ValueError("y: give the column of data that holds the outcome draws")
        xv, yv, tv, wv, cl, labels = split_frame(data, x, y if need_y else None, unit, kw.pop("treatment", None),
                                                 kw.pop("weights", None), kw.pop("cluster", None),
                                                 require_y=need_y)
        per_unit = {k: v for k, v in (("weights", wv), ("treatment", tv), ("cluster", cl)) if v is not None}
        for k in ("Q", "multipliers"):
            if kw.get(k) is not None:
                per_unit[k] = np.asarray(kw.pop(k))
        return _Design(validate.check_running_variable(xv, "x"), yv, per_unit, kw, labels)
    xv = validate.check_running_variable(x, "x")
    per_unit = {}
    for k in _PER_UNIT:
        v = kw.pop(k, None)
        if v is None:
            continue
        if k == "weights" and not (isinstance(v, np.ndarray) and v.ndim == 2):
            v = list(v)
        else:
            v = np.asarray(v)
        if len(v) != xv.size:
            raise ValueError(f"{k}: has {len(v)} entries but x has {xv.size} units (one per unit)")
        per_unit[k] = v
    yv = None
    if y is not None:
        yv = validate.check_samples(y, "y")
        if len(yv) != xv.size:
            raise ValueError(f"y: has {len(yv)} units but x has {xv.size} (lengths must match)")
    elif need_y and "Q" not in per_unit:
        raise ValueError("y: give the unit samples y (or precomputed quantiles Q= with quantiles=)")
    return _Design(xv, yv, per_unit, kw, None)


def _scalar_h(h) -> float:
    """One number for a bandwidth: itself, the mean over quantiles, or over the two sides."""
    if isinstance(h, dict):
        return float(np.mean([_scalar_h(v) for v in h.values()]))
    return float(np.mean(np.atleast_1d(np.asarray(h, dtype=float))))


def _nullity_p(res, column: str = "p_value") -> float:
    t = res.tests
    if t is None or not len(t) or "nullity" not in set(t["test"]):
        return np.nan
    return float(t.loc[t["test"] == "nullity", column].iloc[0])


def _run_summary(res) -> dict:
    """The per-setting columns shared by placebo, donut and sensitivity tables."""
    return {
        "n_units": res.n_units, "n_left": res.n_left, "n_right": res.n_right,
        "h": _scalar_h(res.h), "b": _scalar_h(res.b),
        "mean_tau": float(np.mean(res.tau)), "max_abs_tau": float(np.max(np.abs(res.tau))),
        "crit_value": np.nan if res.crit_value is None else float(res.crit_value),
        "nullity_stat": _nullity_p(res, "statistic"), "nullity_crit": _nullity_p(res, "critical_value"),
        "nullity_p": _nullity_p(res),
    }


def _curve(res, **keys) -> pd.DataFrame:
    M = res.quantiles.size
    cols = {k: np.repeat(v, M) for k, v in keys.items()}
    cols["q"] = res.quantiles
    cols["tau"] = res.tau
    for c in _CURVE_COLS[2:]:
        v = getattr(res, c, None)
        cols[c] = np.full(M, np.nan) if v is None else v
    return pd.DataFrame(cols)


def _check_boot(n_boot) -> int:
    n_boot = validate.check_n_boot(n_boot)
    if n_boot < 1:
        raise ValueError("n_boot: the bands and the nullity test need bootstrap draws (n_boot >= 1)")
    return n_boot


def _wrap(arg: str, what: str, fun):
    try:
        return fun()
    except ValueError as exc:
        raise ValueError(f"{arg}: {what}: {exc}") from exc


# ----------------------------------------------------------------------------------------------
# manipulation test
# ----------------------------------------------------------------------------------------------
def manipulation_test(x, cutoff: float = 0.0, *, data: pd.DataFrame | None = None, unit: str | None = None,
                      p: int = 2, kernel: str = "triangular", h=None, alpha: float = 0.05,
                      n_grid: int = 20, **rddensity_kwargs) -> pd.DataFrame:
    r"""Density (manipulation) test of the running variable at the cutoff.

    Runs ``rddensity.rddensity`` (Cattaneo, Jansson and Ma 2020; local polynomial density of order
    ``p``, robust bias correction, jackknife standard errors, mass-point adjustment): the test
    statistic is :math:`T = (\hat f_+ - \hat f_-)/\widehat{se}`, :math:`p = 2\{1-\Phi(|T|)\}`.
    If units sort themselves just across the cutoff, :math:`f_+ \ne f_-`.

    Parameters
    ----------
    x : (n,) running variable, one value per unit (or its column name with ``data=, unit=``,
        then one value per unit is taken and must be constant within the unit). Any 1-D array
        works, e.g. the running variable of every person when units are cells of it.
    cutoff : the threshold c.
    p, kernel, h : order, kernel and bandwidth(s) of the density estimator (``h`` None: the
        package's own selector; a scalar, or a pair (left, right)).
    alpha : level of the confidence intervals of the density curve (for the plot).
    n_grid : points per side at which the density curve is estimated for the plot.
    **rddensity_kwargs : passed to ``rddensity.rddensity`` (e.g. ``massPoints``, ``bwselect``).

    Returns
    -------
    DataFrame with one row: ``cutoff, n_left, n_right, n_eff_left, n_eff_right, h_left,
    h_right, density_left, density_right, difference, t_stat, p_value, binomial_p,
    binomial_window``. ``binomial_p`` is the package's exact binomial test in the smallest
    window around the cutoff.  With fewer than p + 2 distinct values of x with positive kernel
    weight on a side (mass points), the density test is not identified: ``t_stat`` and
    ``p_value`` are NaN and a warning says why. ``attrs["density"]`` holds the density curve on each side (columns
    ``side, x, density, lower, upper``; pointwise robust intervals), ``attrs["x"]`` the data.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> bunched = np.concatenate([rng.uniform(-1, 1, 1000), rng.uniform(0, 0.1, 150)])
    >>> bool(manipulation_test(bunched).loc[0, "p_value"] < 0.01)
    True
    """
    rdd_fun, lpd = _import_rddensity()
    if data is not None:
        x = split_frame(data, x, None, unit, require_y=False)[0]
    xv = validate.check_running_variable(x, "x")
    c = validate.check_cutoff(cutoff)
    validate.check_sides(xv - c)
    p = validate.check_order(p)
    if not 1 <= p <= 7:
        raise ValueError(f"p: the density test needs an order between 1 and 7, got {p}")
    kernel = validate.check_kernel(kernel)
    alpha = validate.check_alpha(alpha)
    if isinstance(n_grid, bool) or not isinstance(n_grid, numbers.Integral) or n_grid < 2:
        raise ValueError(f"n_grid: must be an integer >= 2, got {n_grid!r}")
    hh = [] if h is None else list(np.atleast_1d(validate.check_positive_bandwidth(h, "h")).astype(float))
    if len(hh) > 2:
        raise ValueError("h: give one bandwidth or a pair (left, right)")
    with warnings.catch_warnings():
        # numpy's 0/0 notices inside the package are replaced by the explanation below; the
        # package's own warnings (e.g. about its options) carry information and pass through
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            out = rdd_fun(xv, c=c, p=p, kernel=kernel, h=hh, **rddensity_kwargs)
        except TypeError:
            raise
        except Exception as exc:  # the package raises bare Exception with a message
            raise ValueError(f"x: rddensity could not run the density test: {exc}") from exc
    hl, hr = float(out.h["left"]), float(out.h["right"])
    bino_p = np.atleast_1d(np.asarray(out.bino["pval"], dtype=float))
    bino_w = np.atleast_1d(np.asarray(out.bino["leftWindow"], dtype=float))
    row = {
        "cutoff": c, "n_left": int(out.n["left"]), "n_right": int(out.n["right"]),
        "n_eff_left": int(out.n["eff_left"]), "n_eff_right": int(out.n["eff_right"]),
        "h_left": hl, "h_right": hr,
        "density_left": float(out.hat["left"]), "density_right": float(out.hat["right"]),
        "difference": float(out.hat["diff"]),
        "t_stat": float(out.test["t_jk"]), "p_value": float(out.test["p_jk"]),
        "binomial_p": float(bino_p[0]) if bino_p.size else np.nan,
        "binomial_window": float(bino_w[0]) if bino_w.size else np.nan,
    }
    support = _support_points(xv, c, hl, hr, kernel)
    if min(support) < p + 2:  # not identified: the package returns NaN or a meaningless number
        row["t_stat"] = row["p_value"] = np.nan
    table = pd.DataFrame([row])
    if not (np.isfinite(row["t_stat"]) and np.isfinite(row["p_value"])):
        _warn_density_nan(support, p, row)

    # the density curve on each side, as rdplotdensity computes it (order p, bias-corrected CI)
    lo, hi = max(xv.min(), c - 3 * hl), min(xv.max(), c + 3 * hr)
    z = norm.ppf(1 - alpha / 2)
    parts = []
    n = xv.size
    for side, sel, grid, hs in (("left", xv < c, np.linspace(lo, c, n_grid), hl),
                                ("right", xv >= c, np.linspace(c, hi, n_grid), hr)):
        scale = (sel.sum() - 1) / (n - 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                est = lpd(data=xv[sel], grid=grid, bw=[hs], p=p, q=p + 1, v=1, kernel=kernel,
                          scale=[scale], massPoints=rddensity_kwargs.get("massPoints", True)).Estimate
            except Exception:  # the curve is for the figure only; the test above stands
                continue
        parts.append(pd.DataFrame({"side": side, "x": est["grid"].to_numpy(float),
                                   "density": est["f_p"].to_numpy(float),
                                   "lower": (est["f_q"] - z * est["se_q"]).to_numpy(float),
                                   "upper": (est["f_q"] + z * est["se_q"]).to_numpy(float)}))
    table.attrs["density"] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["side", "x", "density", "lower", "upper"])
    table.attrs["x"] = xv
    table.attrs["cutoff"] = c
    table.attrs["alpha"] = alpha
    return table


def _support_points(xv: np.ndarray, c: float, hl: float, hr: float, kernel: str) -> tuple[int, int]:
    """Distinct values of x with a positive kernel weight on each side of the cutoff."""

    K = get_kernel(kernel)
    left = xv[(xv < c) & (K((xv - c) / hl) > 0)] if hl > 0 else xv[:0]
    right = xv[(xv >= c) & (K((xv - c) / hr) > 0)] if hr > 0 else xv[:0]
    return np.unique(left).size, np.unique(right).size


def _warn_density_nan(support: tuple[int, int], p: int, row: dict) -> None:
    """The density test is NaN: say why (mass points) and what still holds."""
    left, right = support
    if min(left, right) < p + 2:
        why = (f"x has only {left} distinct value(s) with positive kernel weight left of the cutoff and {right} "
               f"right of it (mass points); the local polynomial density test of order p = {p} needs at least "
               f"p + 2 = {p + 2} on each side (with fewer the package returns NaN, or a meaningless number)")
        fix = "lower p (e.g. p=1)" if p > 1 else "the running variable is too discrete for this test"
    else:
        why = "the package returned no standard error (a degenerate design near the cutoff)"
        fix = "try another bandwidth h or order p"
    binom = "" if not np.isfinite(row["binomial_p"]) else \
        f"; the exact binomial test near the cutoff still applies (binomial_p = {row['binomial_p']:.3g})"
    warnings.warn(f"x: the density test is not defined here, t_stat and p_value are NaN: {why}; {fix}{binom}",
                  UserWarning, stacklevel=3)


# ----------------------------------------------------------------------------------------------
# covariate balance
# ----------------------------------------------------------------------------------------------
def _covariate_matrix(covariates, n: int, data=None, groups=None):
    if data is not None and (isinstance(covariates, str) or (
            isinstance(covariates, (list, tuple)) and covariates and all(isinstance(c, str) for c in covariates))):
        names = [covariates] if isinstance(covariates, str) else list(covariates)
        for c in names:
            if c not in data.columns:
                raise ValueError(f"covariates: {c!r} is not a column of data (columns: {list(data.columns)})")
            if data[c].isna().any():
                raise ValueError(f"covariates: column {c!r} has {int(data[c].isna().sum())} missing values")
        return names, np.column_stack([groups.means(data, c, "covariates") for c in names])
    if isinstance(covariates, pd.Series):
        covariates = covariates.to_frame(covariates.name if covariates.name is not None else "covariate")
    # the API's one coercion rule (as for x and y): numbers and booleans, never text
    if isinstance(covariates, pd.DataFrame):
        names = [str(c) for c in covariates.columns]
        cols = [validate.as_real_array(covariates[c].to_numpy(), f"covariates: {str(c)!r}", allow_bool=True)
                for c in covariates.columns]
        M = np.column_stack(cols) if cols else np.zeros((len(covariates), 0))
    elif isinstance(covariates, dict):
        names = [str(k) for k in covariates]
        cols = []
        for k, v in covariates.items():
            a = validate.as_real_array(v, f"covariates: {str(k)!r}", allow_bool=True)
            if a.ndim != 1:
                raise ValueError(f"covariates: {k!r} must be 1-D (one value per unit), got shape {a.shape}")
            if a.size != n:
                raise ValueError(f"covariates: {k!r} has {a.size} values but x has {n} units")
            cols.append(a)
        if not cols:
            raise ValueError("covariates: is empty")
        M = np.column_stack(cols)
    else:
        if isinstance(covariates, (str, bytes)):
            raise TypeError("covariates: must be a DataFrame, a dict of arrays or a numeric 1-D/2-D array")
        M = validate.as_real_array(covariates, "covariates", allow_bool=True)
        if M.ndim == 1:
            M = M[:, None]
        if M.ndim != 2:
            raise ValueError(f"covariates: must be 1-D or 2-D (units × covariates), got shape {M.shape}")
        names = ["covariate"] if M.shape[1] == 1 else [f"covariate_{j}" for j in range(M.shape[1])]
    if M.shape[0] != n:
        raise ValueError(f"covariates: has {M.shape[0]} rows but x has {n} units (one row per unit)")
    if M.shape[1] == 0:
        raise ValueError("covariates: has no columns")
    bad = ~np.isfinite(M)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        raise ValueError(f"covariates: {names[j]!r} contains NaN or inf ({int(bad[:, j].sum())} values)")
    return names, M


def covariate_balance(x, covariates, *, cutoff: float = 0.0, h=None, data: pd.DataFrame | None = None,
                      unit: str | None = None, alpha: float = 0.05, **r3d_kwargs) -> pd.DataFrame:
    r"""RD jump at the cutoff in unit-level scalar covariates (a balance table).

    For each covariate :math:`W_i` this is ``r3d`` with one quantile level: a unit whose quantile
    function is the constant :math:`W_i`, so :math:`\hat\tau = \hat m_+ - \hat m_-` is the
    local-polynomial jump of :math:`W` at the cutoff with robust bias correction, and ``se`` the
    robust standard error. Reported: :math:`\hat\tau`, ``se``, the interval
    :math:`\hat\tau \pm t_{\nu,1-\alpha/2}\,se` and :math:`p = 2\{1 - F_\nu(|\hat\tau|/se)\}`
    with Student's t and the fit's Bell-McCaffrey ν (``use_t=False``: :math:`z_{1-\alpha/2}` and
    the normal :math:`\Phi`). A covariate fixed before treatment should not jump.

    Parameters
    ----------
    x : (n,) running variable (or its column name with ``data=, unit=``).
    covariates : a DataFrame (one row per unit, one column per covariate), a dict name -> (n,)
        array, or a 1-D / 2-D array (units × covariates). With ``data=``: a column name or a
        list of them; a unit's value is the column's mean within the unit (its value when
        constant, the share of ones for a 0/1 column).
    cutoff : the threshold c.
    h : bandwidth: None (data-driven, selected for each covariate), a scalar for all, or one
        per covariate (a sequence).
    alpha : level of the intervals.
    **r3d_kwargs : passed to ``r3d`` (``p``, ``kernel``, ``b``, ``cluster``, ...).

    Returns
    -------
    DataFrame, one row per covariate: ``covariate, estimate, se, ci_lower, ci_upper, p_value,
    left_limit, right_limit, h, b, n_left, n_right``.  The p-value and interval are the fit's
    per-quantile inference (``r3d``'s ``p_value`` and pointwise interval: Student's t with the
    Bell-McCaffrey ν by default, the normal with ``use_t=False``).

    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> x = rng.uniform(-1, 1, 600)
    >>> W = {"smooth": x + rng.normal(0, 0.5, 600), "jumps": x + 1.0 * (x >= 0) + rng.normal(0, 0.5, 600)}
    >>> tab = covariate_balance(x, W, h=0.5)
    >>> tab["covariate"].tolist(), bool(tab.loc[1, "p_value"] < 0.001)
    (['smooth', 'jumps'], True)
    """
    for bad in ("y", "Q", "quantiles", "method", "n_boot", "weights", "treatment", "multipliers"):
        if bad in r3d_kwargs:
            raise ValueError(f"{bad}: not used by covariate_balance (each covariate is a scalar "
                             "outcome fitted at one level with method='simple')")
    c = validate.check_cutoff(cutoff)
    alpha = validate.check_alpha(alpha)
    kw = dict(r3d_kwargs)
    opt = check_r3d_kwargs({**kw, "method": "simple", "quantiles": [0.5], "alpha": alpha}, known=_R3D_ARGS)
    if data is not None:
        xv, _, _, _, cl, _ = split_frame(data, x, None, unit, cluster=kw.get("cluster"), require_y=False)
        xv = validate.check_running_variable(xv, "x")
        if cl is not None:
            kw["cluster"] = cl
        names, M = _covariate_matrix(covariates, xv.size, data, group_units(data, unit))
    else:
        xv = validate.check_running_variable(x, "x")
        names, M = _covariate_matrix(covariates, xv.size)
    K = len(names)
    if h is None or np.ndim(h) == 0:
        hs = [h] * K
    else:
        hs = list(h)
        if len(hs) != K:
            raise ValueError(f"h: give one bandwidth for all covariates or one per covariate ({K}), got {len(hs)}")
    for hj in hs:
        check_bandwidths(hj, kw.get("b"), opt, 1, kw.get("treatment") is not None)
    rows = []
    for j, name in enumerate(names):
        col = M[:, j]

        res = _wrap("covariates", f"{name!r}", lambda: r3d(
            xv, Q=col[:, None], quantiles=[0.5], method="simple", cutoff=c, h=hs[j], n_boot=0, **kw))
        est, se = float(res.tau[0]), float(res.se[0])
        # the fit's own per-quantile inference (Student t with ν by default, as r3d reports it)
        pval = float(res.p_value[0]) if np.isfinite(se) else np.nan
        zq = res.pointwise_quantile(alpha)
        rows.append({"covariate": name, "estimate": est, "se": se, "ci_lower": est - zq * se,
                     "ci_upper": est + zq * se, "p_value": pval, "left_limit": float(res.minus[0]),
                     "right_limit": float(res.plus[0]), "h": _scalar_h(res.h),
                     "b": _scalar_h(res.b), "n_left": res.n_left, "n_right": res.n_right})
    out = pd.DataFrame(rows)
    out.attrs["alpha"] = alpha
    out.attrs["cutoff"] = c
    return out


# ----------------------------------------------------------------------------------------------
# placebo cutoffs, donut, bandwidth sensitivity
# ----------------------------------------------------------------------------------------------
def placebo_cutoffs(x, y=None, *, cutoff: float = 0.0, cutoffs=None, data: pd.DataFrame | None = None,
                    unit: str | None = None, n_boot: int = 999, seed=None, **r3d_kwargs) -> pd.DataFrame:
    r"""τ̂(q), its uniform band and the nullity test at fake cutoffs, one side at a time.

    A fake cutoff :math:`c' < c` is analysed on the units with :math:`X_i < c` only, and
    :math:`c' \ge c` on the units with :math:`X_i \ge c` only, so the true discontinuity never
    enters the fit. Where no effect exists, the nullity test (:math:`H_0: \tau(q) = 0` for all
    q, statistic :math:`\max_q|\hat\tau(q)|`) should reject at about its nominal rate.

    Parameters
    ----------
    x, y : as in ``r3d`` (arrays, or column names with ``data=, unit=``).
    cutoff : the true cutoff c.
    cutoffs : fake cutoffs (default: the median of the units' x on each side). Each must leave
        units on both of its sides within its half of the data.
    n_boot, seed : bootstrap draws and seed for every fit (each fit uses ``seed``).
    **r3d_kwargs : passed to ``r3d`` (``quantiles``, ``method``, ``h``, ``alpha``, ...).

    Returns
    -------
    DataFrame, one row per fake cutoff: ``cutoff, side, n_units, n_left, n_right, h, b,
    mean_tau, max_abs_tau, crit_value, nullity_stat, nullity_crit, nullity_p`` (``crit_value``: the
    uniform band's; ``nullity_stat`` and ``nullity_crit``: the nullity test's statistic and critical
    value, max |τ̂|/se against ĉ with the default studentized band); ``attrs["curves"]``: the
    effect curves (``cutoff, side`` and the curve columns).
    """
    c = validate.check_cutoff(cutoff)
    n_boot = _check_boot(n_boot)
    opt = check_r3d_kwargs({**r3d_kwargs, "n_boot": n_boot, "seed": seed}, known=_R3D_ARGS)
    des = _design(x, y, data, unit, r3d_kwargs)
    validate.check_sides(des.x - c)
    if cutoffs is None:
        left, right = des.x[des.x < c], des.x[des.x >= c]
        cutoffs = [float(np.quantile(left, 0.5, method="nearest")),
                   float(np.quantile(right, 0.5, method="nearest"))]
    cl = np.atleast_1d(np.asarray(cutoffs, dtype=float))
    if cl.ndim != 1 or cl.size == 0 or not np.all(np.isfinite(cl)):
        raise ValueError("cutoffs: must be a non-empty 1-D sequence of finite numbers")
    rows, curves = [], []
    for cp in cl:
        side = "left" if cp < c else "right"
        half = des.x < c if side == "left" else des.x >= c
        sub = des.subset(half)
        nl, nr = int((sub.x < cp).sum()), int((sub.x >= cp).sum())
        if nl == 0 or nr == 0:
            raise ValueError(f"cutoffs: the fake cutoff {cp:g} leaves no unit on one of its sides among "
                             f"the {sub.n} units {side} of the true cutoff {c:g} ({nl} below, {nr} at or above)")
        res = _wrap("cutoffs", f"fit at the fake cutoff {cp:g}",
                    lambda: sub.fit(cutoff=cp, n_boot=n_boot, seed=seed))
        rows.append({"cutoff": float(cp), "side": side, **_run_summary(res)})
        curves.append(_curve(res, cutoff=float(cp), side=side))
    out = pd.DataFrame(rows)
    out.attrs["curves"] = pd.concat(curves, ignore_index=True)
    out.attrs["true_cutoff"] = c
    out.attrs["alpha"] = opt.alpha
    return out


def donut(x, y=None, *, cutoff: float = 0.0, radii=None, data: pd.DataFrame | None = None,
          unit: str | None = None, n_boot: int = 999, seed=None, **r3d_kwargs) -> pd.DataFrame:
    r"""Donut RD: refit without the units closest to the cutoff, :math:`|X_i - c| < \delta`.

    If units just at the cutoff are special (sorting, heaping, a different population), the
    estimate changes when they are left out. The bandwidth is re-selected for each radius unless
    ``h`` is given. ``radii`` default: 0 and the distances that drop about 5 %, 10 % and 20 % of
    the units (quantiles of :math:`|X_i - c|`).

    Returns
    -------
    DataFrame, one row per radius: ``radius, n_excluded`` and the columns of
    :func:`placebo_cutoffs` (``n_units, n_left, n_right, h, b, mean_tau, max_abs_tau,
    crit_value, nullity_stat, nullity_crit, nullity_p``); ``attrs["curves"]``: the effect curves by radius.
    """
    c = validate.check_cutoff(cutoff)
    n_boot = _check_boot(n_boot)
    opt = check_r3d_kwargs({**r3d_kwargs, "n_boot": n_boot, "seed": seed}, known=_R3D_ARGS)
    des = _design(x, y, data, unit, r3d_kwargs)
    dist = np.abs(des.x - c)
    if radii is None:
        radii = [0.0] + [float(v) for v in np.quantile(dist, [0.05, 0.10, 0.20], method="higher")]
    rr = np.atleast_1d(np.asarray(radii, dtype=float))
    if rr.ndim != 1 or rr.size == 0 or not np.all(np.isfinite(rr)) or (rr < 0).any():
        raise ValueError("radii: must be a non-empty 1-D sequence of non-negative numbers")
    rows, curves = [], []
    for d in rr:
        keep = dist >= d
        sub = des.subset(keep)
        res = _wrap("radii", f"fit without |x - c| < {d:g} ({int((~keep).sum())} units dropped)",
                    lambda: sub.fit(cutoff=c, n_boot=n_boot, seed=seed))
        rows.append({"radius": float(d), "n_excluded": int((~keep).sum()), **_run_summary(res)})
        curves.append(_curve(res, radius=float(d)))
    out = pd.DataFrame(rows)
    out.attrs["curves"] = pd.concat(curves, ignore_index=True)
    out.attrs["alpha"] = opt.alpha
    return out


def _scale(v, m):
    if v is None:
        return None
    if isinstance(v, tuple):
        return tuple(_scale(e, m) for e in v)
    if isinstance(v, dict):
        return {k: _scale(e, m) for k, e in v.items()}
    return m * np.asarray(v, dtype=float) if np.ndim(v) else m * float(v)


def bandwidth_sensitivity(x, y=None, *, multiples: Sequence[float] = (0.5, 0.75, 1.0, 1.5, 2.0),
                          cutoff: float = 0.0, h=None, b=None, data: pd.DataFrame | None = None,
                          unit: str | None = None, n_boot: int = 999, seed=None, **r3d_kwargs) -> pd.DataFrame:
    r"""τ̂(q) with bands at multiples :math:`m h` of the chosen bandwidth.

    The base bandwidth is ``h`` if given, else the data-driven one of the plain fit. The
    bias-correction bandwidth is scaled with it (:math:`m b`), so the ratio :math:`h/b` is kept
    and :math:`m = 1` reproduces the plain fit exactly. Small :math:`m` uses few units near the
    cutoff (wide bands); large :math:`m` uses units far away (more bias if the average quantile
    function bends).

    Returns
    -------
    DataFrame, one row per multiple: ``multiple`` and the columns of :func:`placebo_cutoffs`;
    ``attrs["curves"]``: the effect curves by multiple (with its ``h``).
    """
    c = validate.check_cutoff(cutoff)
    n_boot = _check_boot(n_boot)
    mm = np.atleast_1d(np.asarray(multiples, dtype=float))
    if mm.ndim != 1 or mm.size == 0 or not np.all(np.isfinite(mm)) or (mm <= 0).any():
        raise ValueError("multiples: must be a non-empty 1-D sequence of positive numbers")
    opt = check_r3d_kwargs({**r3d_kwargs, "h": h, "b": b, "n_boot": n_boot, "seed": seed}, known=_R3D_ARGS)
    des = _design(x, y, data, unit, r3d_kwargs)
    extra = {} if b is None else {"b": b}
    base = _wrap("h", "the base fit", lambda: des.fit(cutoff=c, h=h, n_boot=0, **extra))
    h0 = base.h if not base.fuzzy else (base.h, base.h_den)
    b0 = base.b if not base.fuzzy else (base.b, base.first_stage.b_den)
    rows, curves = [], []
    for m in mm:
        kw = dict(cutoff=c, h=_scale(h0, m), b=_scale(b0, m), n_boot=n_boot, seed=seed)
        res = _wrap("multiples", f"fit at {m:g} × h", lambda: des.fit(**kw))
        rows.append({"multiple": float(m), **_run_summary(res)})
        curves.append(_curve(res, multiple=float(m), h=_scalar_h(res.h)))
    out = pd.DataFrame(rows)
    out.attrs["curves"] = pd.concat(curves, ignore_index=True)
    out.attrs["alpha"] = opt.alpha
    out.attrs["base_h"] = _scalar_h(base.h)
    return out
