"""The one input-preparation step shared by :func:`r3d_teach.r3d` and
:func:`r3d_teach.select_bandwidth`: validated arrays, the centred running variable and the
unit quantile matrix Q̂ (n × M), from samples, from a long DataFrame, or given directly.

>>> import numpy as np
>>> inp = prepare_inputs([-0.5, 0.2, 0.7], [[1.0, 2.0], [3.0], [4.0, 6.0]], quantiles=[0.5])
>>> inp.Q.ravel().tolist(), inp.xc.tolist()
([1.5, 3.0, 5.0], [-0.5, 0.2, 0.7])
>>> prepare_inputs([-0.5, 0.2], Q=np.array([[1.0], [2.0]]), quantiles=[0.5]).Q.shape
(2, 1)
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import validate
from .quantiles import check_quantile_matrix, row_blocks, unit_quantiles

__all__ = ["Inputs", "prepare_inputs", "split_frame", "group_units", "check_frame", "UnitGroups", "DEFAULT_QUANTILES"]

#: the default grid of quantile levels, 0.01, 0.02, ..., 0.99
DEFAULT_QUANTILES = np.round(np.arange(1, 100) / 100, 10)


@dataclass
class Inputs:
    """Validated inputs: one row per unit."""

    x: np.ndarray            # (n,) running variable
    xc: np.ndarray           # (n,) x - cutoff
    cutoff: float
    quantiles: np.ndarray    # (M,)
    Q: np.ndarray            # (n, M) unit quantiles
    treatment: np.ndarray | None
    clusters: np.ndarray | None        # (n,) codes 0..G-1
    cluster_labels: np.ndarray | None  # (G,)
    units: np.ndarray | None           # unit labels (data= only)
    weighted: bool
    quantile_method: str
    value_range: tuple[float, float] | None = None  # (min Q, max Q), computed once

    @property
    def n(self) -> int:
        return self.x.size

    def q_range(self) -> tuple[float, float]:
        """(min Q̂, max Q̂) over all units and levels (computed on first use, then kept)."""
        if self.value_range is None:
            self.value_range = (float(np.min(self.Q)), float(np.max(self.Q))) if self.Q.size else (0.0, 0.0)
        return self.value_range

    def abs_max(self) -> float:
        """max |Q̂|."""
        lo, hi = self.q_range()
        return max(-lo, hi)


@dataclass
class UnitGroups:
    """Rows of a long DataFrame grouped by unit (units in order of first appearance):
    ``order`` sorts the rows by unit, ``bounds`` splits the sorted rows into units."""

    labels: np.ndarray
    order: np.ndarray
    bounds: np.ndarray
    codes_sorted: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate([[0], self.bounds])

    @property
    def counts(self) -> np.ndarray:
        return np.diff(np.concatenate([self.starts, [self.codes_sorted.size]]))

    def column(self, data, col: str, arg: str, numeric: bool = True, allow_bool: bool = False) -> np.ndarray:
        """A column in unit order (checked numeric unless ``numeric=False``)."""
        raw = data[col].to_numpy()
        vals = validate.as_real_array(raw, f"{arg}: column {col!r}", allow_bool=allow_bool) if numeric else raw
        return vals[self.order]

    def split(self, data, col: str, arg: str) -> list:
        """Each unit's values of a numeric column (its sample)."""
        return np.split(self.column(data, col, arg), self.bounds)

    def constant(self, data, col: str, arg: str, numeric: bool = True, allow_bool: bool = False) -> np.ndarray:
        """One value per unit of a column that must be constant within units."""
        vals = self.column(data, col, arg, numeric, allow_bool)
        keys = vals if numeric else pd.factorize(vals, sort=False)[0]
        first = keys[self.starts]
        varying = np.flatnonzero(np.repeat(first, self.counts) != keys)
        if varying.size:
            bad = pd.unique(np.asarray(self.labels)[self.codes_sorted[varying]])
            raise ValueError(f"{arg}: column {col!r} must be constant within each unit; it varies in unit(s) "
                             f"{validate.show_labels(bad)}")
        return vals[self.starts]

    def means(self, data, col: str, arg: str) -> np.ndarray:
        """The unit means of a numeric column (a 0/1 or boolean column gives shares)."""
        vals = self.column(data, col, arg, allow_bool=True)
        return np.add.reduceat(vals, self.starts) / self.counts


def check_frame(data, unit, columns: dict) -> None:
    """``data`` is a non-empty DataFrame, ``unit`` and every given column (arg name -> column
    name or None) exist and have no missing values."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data: must be a pandas DataFrame (one row per observation), got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("data: the DataFrame is empty (no observations)")
    if unit is None:
        raise ValueError("unit: give the name of the column that identifies units when data= is used")
    for arg, col in {**columns, "unit": unit}.items():
        if col is None:
            continue
        if not isinstance(col, str) or col not in data.columns:
            raise ValueError(f"{arg}: {col!r} is not a column of data (columns: {list(data.columns)})")
        if data[col].isna().any():
            raise ValueError(f"{arg}: column {col!r} has {int(data[col].isna().sum())} missing values; "
                             "drop or impute them first (nothing is dropped silently)")


def group_units(data, unit: str) -> UnitGroups:
    """Group the rows of a long DataFrame by its unit column."""
    codes, labels = pd.factorize(data[unit], sort=False)
    order = np.argsort(codes, kind="stable")
    codes_s = codes[order]
    bounds = np.flatnonzero(np.diff(codes_s)) + 1
    return UnitGroups(labels=np.asarray(labels), order=order, bounds=bounds, codes_sorted=codes_s)


def split_frame(data, x, y, unit, treatment=None, weights=None, cluster=None, require_y: bool = True):
    """Split a long DataFrame (one row per observation) into unit-level arrays and samples:
    (x, y samples or None, treatment, weights, cluster labels, unit labels)."""
    for arg, col in (("x", x), ("y", y)):
        if col is None and (arg == "x" or require_y):
            raise ValueError(f"{arg}: give a column name of data")
    check_frame(data, unit, {"x": x, "y": y, "treatment": treatment, "weights": weights, "cluster": cluster})
    g = group_units(data, unit)
    xs = g.constant(data, x, "x")
    ys = g.split(data, y, "y") if y is not None else None
    ts = g.constant(data, treatment, "treatment", allow_bool=True) if treatment is not None else None
    ws = g.split(data, weights, "weights") if weights is not None else None
    cl = g.constant(data, cluster, "cluster", numeric=False) if cluster is not None else None
    return xs, ys, ts, ws, cl, g.labels


#: y given as one number per unit while x repeats this much (distinct values <= units / this): warn
LONG_FORMAT_TIES = 2


def _warn_if_long_columns(x, y, xv: np.ndarray, ys) -> None:
    """Columns of a long table passed as ``r3d(df.score, df.wage)`` make every row a unit with a
    one-observation sample, and τ̂(q) comes out flat.  The signature: y is a flat sequence of
    numbers and x repeats (in long data it is constant within each unit's rows).  A design with
    one scalar outcome per unit and a continuous x never matches; with a discrete x it can, and
    the message names the way to say so (``Q=``, which never warns)."""
    n = len(ys)
    if n < 2 * LONG_FORMAT_TIES or isinstance(y, np.ndarray) and y.ndim != 1:
        return
    if any(v.size != 1 for v in ys) or not all(np.ndim(v) == 0 for v in y):
        return
    distinct = np.unique(xv).size
    if distinct * LONG_FORMAT_TIES > n:
        return
    xn = getattr(x, "name", None) if isinstance(x, pd.Series) else None
    yn = getattr(y, "name", None) if isinstance(y, pd.Series) else None
    call = f"r3d({xn!r}, {yn!r}, data=df, unit=...)" if isinstance(xn, str) and isinstance(yn, str) \
        else "r3d('x_column', 'y_column', data=df, unit='unit_column')"
    warnings.warn(
        f"y: every unit has a single observation and x takes only {distinct} distinct values over {n} units: "
        f"this looks like the columns of a long table (one row per observation), which makes every row a "
        f"unit. Pass the table and its unit column instead: {call}. If each row really is a unit with one "
        "scalar outcome, pass Q=np.asarray(y)[:, None] with quantiles=[0.5] (the same estimate at one level, no warning).",
        UserWarning, stacklevel=4)


def prepare_inputs(x, y=None, *, Q=None, cutoff: float = 0.0, quantiles=None, treatment=None,
                   weights=None, cluster=None, data: pd.DataFrame | None = None, unit: str | None = None,
                   quantile_method: str = "linear") -> Inputs:
    """Validate everything that describes the data and compute the unit quantiles.

    Exactly one of ``y`` (unit samples, or a column name with ``data=``) and ``Q`` (an n × M
    matrix of unit quantiles on the grid ``quantiles``, which is then required) is given.
    """
    cutoff = validate.check_cutoff(cutoff)
    quantile_method = validate.check_quantile_method(quantile_method)
    units = None
    if data is not None:
        if Q is not None:
            raise ValueError("Q: give either data= (samples in a long DataFrame) or Q= (unit quantiles), not both")
        x, y, treatment, weights, cluster, units = split_frame(data, x, y, unit, treatment, weights, cluster)
    elif unit is not None:
        raise ValueError("unit: is a column name of data=; without data= give one sample per unit in y")
    xv = validate.check_running_variable(x, "x")
    if Q is not None:
        if y is not None:
            raise ValueError("Q: give either y (unit samples) or Q (unit quantiles), not both")
        if quantiles is None:
            raise ValueError("quantiles: required with Q= (the grid Q's columns are evaluated on)")
        if weights is not None:
            raise ValueError("weights: apply to samples; with Q= the quantiles are already computed")
        q = validate.check_quantile_grid(quantiles)
        q_labels = np.asarray(Q.index) if isinstance(Q, pd.DataFrame) else None  # unit labels, if any
        Qm = validate.as_real_array(Q, "Q")
        if Qm.ndim != 2 or Qm.shape != (xv.size, q.size):
            raise ValueError(f"Q: must be an (n_units, n_quantiles) = ({xv.size}, {q.size}) matrix, got shape {Qm.shape}")
        # one pass in blocks of rows: min and max (they propagate NaN and show ±inf) and the first
        # row that decreases; no n × M temporary
        value_range, i = check_quantile_matrix(Qm)
        if not all(np.isfinite(value_range)):
            i = next(blk.start + int(np.flatnonzero(~np.isfinite(Qm[blk]).all(axis=1))[0])
                     for blk in row_blocks(*Qm.shape) if not np.isfinite(Qm[blk]).all())
            who = f"unit {validate.show_labels([q_labels[i]])[1:-1]} (row {i})" if q_labels is not None else f"row {i}"
            raise ValueError(f"Q: {who} contains NaN or inf")
        if i is not None:  # rounding-level decreases are repaired, real ones name the unit
            Qm = validate.check_quantile_rows(Qm, q, q_labels)
    else:
        if y is None:
            raise ValueError("y: give the units' samples (or Q= with precomputed unit quantiles)")
        q = validate.check_quantile_grid(DEFAULT_QUANTILES if quantiles is None else quantiles)
        ys = validate.check_samples(y, "y")
        if len(ys) != xv.size:
            raise ValueError(f"y: has {len(ys)} units but x has {xv.size} (lengths must match)")
        if data is None:
            _warn_if_long_columns(x, y, xv, ys)
        if weights is not None:
            weights = validate.check_unit_weights(weights, ys)
        Qm = unit_quantiles(ys, q, weights=weights, method=quantile_method)
        value_range = None
    xc = xv - cutoff
    validate.check_sides(xc)
    tv = validate.check_treatment(treatment, xv.size) if treatment is not None else None
    codes = labels = None
    if cluster is not None:
        codes, labels = validate.check_labels(cluster, xv.size, "cluster")
    return Inputs(x=xv, xc=xc, cutoff=cutoff, quantiles=q, Q=Qm, treatment=tv, clusters=codes,
                  cluster_labels=labels, units=units, weighted=weights is not None,
                  quantile_method=quantile_method, value_range=value_range)
