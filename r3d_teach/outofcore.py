"""Unit quantiles of long microdata that need not fit in memory: DuckDB on one machine, Dask beyond.

The heavy step of R3D is turning N observations (one row each: unit, outcome y, optional weight
w) into the n × M matrix Q̂ of unit quantiles on the grid q_1 < ... < q_M.  The estimator then
works on Q̂ alone (``r3d(x, Q=Q̂, quantiles=q)``).  This module computes Q̂ with exactly the rules
of :func:`r3d_teach.unit_quantiles` (see :mod:`r3d_teach.core.quantiles`):

* ``"linear"`` (type 7): with k observations of a unit sorted, h = (k - 1) q,
  Q̂(q) = z_(⌊h⌋+1) + (h - ⌊h⌋)(z_(min(⌊h⌋+2, k)) - z_(⌊h⌋+1)) (1-based order statistics);
* ``"inverted_cdf"``: Q̂(q) = z_(j) with j = ⌈k q⌉ (at least 1; k q within 1e-10 of an integer
  counts as that integer);
* weighted (``weights=``): weights divided by the unit's largest one, then rescaled to sum to k
  within the unit, cumulative weights c_1 ≤ ... ≤ c_k of the sorted sample, v(t) = z_(j) for the
  smallest j with c_j ≥ t (the last one if none); linear: o = 1 + (k - 1) q,
  Q̂ = (1 - frac(o)) v(max(⌊o⌋, 1)) + frac(o) v(min(⌊o⌋ + 1, k)) (targets less a relative 1e-10);
  inverted_cdf: Q̂ = v(k q) (same rounding guard).  The targets and the final step are the
  functions of :mod:`r3d_teach.core.quantiles` (``weighted_targets``, ``weighted_step``,
  ``linear_step``), so every engine applies literally the same rule; each row ends in a running
  maximum, so Q̂ is non-decreasing to the last bit.

Units are read as stored and ordered by label in every engine (text by code point, numbers
numerically, a categorical by its labels); CSV text is converted by one rule (see "the one
reading rule" below).

Three engines, one result (:class:`UnitQuantiles`; units ordered by their label):

* :func:`unit_quantiles_duckdb` (the default for files): DuckDB reads CSV or Parquet files (or a
  folder of Parquet files) directly, spills to disk beyond ``memory_limit``, and numbers each
  unit's sorted rows with window functions (``row_number() OVER (PARTITION BY unit ORDER BY y)``).
  Only the order statistics the grid needs (at most 2M per unit) leave DuckDB; numpy combines
  them with the formulas above.  Weighted: running sums of the weights in the same window and an
  ``ASOF`` join find the first row reaching each target.  A unit where a cumulative weight lands
  within rounding error of a target (equal or integer weights do this) is recomputed in memory
  with :func:`r3d_teach.unit_quantiles` itself, so the result never depends on how DuckDB rounds
  its sums.
* :func:`unit_quantiles_dask`: a Dask DataFrame is shuffled so that each unit sits in one
  partition; every partition runs :func:`unit_quantiles_frame` (in memory, on its own units).
* :func:`unit_quantiles_frame`: the in-memory version on a pandas DataFrame.

DuckDB, Dask and pyarrow are optional: the ``large`` extra (``pip install ".[large]"`` in a clone
of r3d-teach), or ``pip install duckdb "dask[dataframe,distributed]" pyarrow``.

:func:`write_quantile_file` / :func:`read_quantile_file` store a result as Parquet (one row per
unit) with the grid and settings in the file's metadata, which :func:`is_quantile_file` detects.

Example
-------
>>> import numpy as np, pandas as pd
>>> from r3d_teach import unit_quantiles
>>> from r3d_teach.outofcore import unit_quantiles_duckdb
>>> df = pd.DataFrame({"firm": [2, 1, 1, 2, 1], "wage": [5.0, 3.0, 1.0, 7.0, 2.0],
...                    "size": [0.5, -0.2, -0.2, 0.5, -0.2]})
>>> res = unit_quantiles_duckdb(df, y="wage", unit="firm", quantiles=[0.25, 0.5], x="size")
>>> res.units.tolist(), res.x.tolist(), res.Q.tolist()
([1, 2], [-0.2, 0.5], [[1.5, 2.0], [5.5, 6.0]])
>>> bool(np.allclose(res.Q, unit_quantiles([np.array([3.0, 1.0, 2.0]), np.array([5.0, 7.0])], [0.25, 0.5])))
True
"""
from __future__ import annotations

import contextlib
import glob
import importlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from . import __version__
from .core.quantiles import INDEX_FUZZ, inverse_edf_rank, linear_step, unit_quantiles, weighted_step, weighted_targets
from .core.validate import check_quantile_grid, check_quantile_method, show_labels

__all__ = [
    "UnitQuantiles",
    "unit_quantiles_duckdb",
    "unit_quantiles_dask",
    "unit_quantiles_frame",
    "write_quantile_file",
    "read_quantile_file",
    "is_quantile_file",
    "QUANTILE_FILE_KEY",
]

QUANTILE_FILE_KEY = b"r3d_teach.unit_quantiles"
_EXTRA = 'pip install duckdb "dask[dataframe,distributed]" pyarrow (the "large" extra of r3d-teach)'
_U = 2.0 ** -53  # unit roundoff of float64
_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


def _require(module: str):
    """Import an optional dependency or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(f"{module} is needed for out-of-core unit quantiles ({exc}); "
                          f"install the extra: {_EXTRA}") from None


@dataclass
class UnitQuantiles:
    """Unit quantiles of long data: ``units`` (n,) labels in sorted order, ``x`` (n,) the
    running variable per unit (None unless asked), ``Q`` (n, M) on ``quantiles``, ``sizes`` (n,)
    observations per unit, ``columns`` other unit-level columns (name -> (n,) values).

    Unpacks as ``units, x, Q = result``.
    """

    units: np.ndarray
    x: np.ndarray | None
    Q: np.ndarray
    quantiles: np.ndarray
    sizes: np.ndarray
    method: str = "linear"
    weighted: bool = False
    columns: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def __iter__(self):
        return iter((self.units, self.x, self.Q))

    @property
    def n_units(self) -> int:
        return int(self.units.size)

    def to_frame(self, unit: str = "unit", x: str = "x") -> pd.DataFrame:
        """One row per unit: the label, x (if any), other unit-level columns, n_obs, Q columns."""
        cols: dict[str, Any] = {unit: self.units}
        if self.x is not None:
            cols[x] = self.x
        cols.update(self.columns)
        cols["n_obs"] = self.sizes
        for j, name in enumerate(_q_names(self.quantiles)):
            cols[name] = self.Q[:, j]
        return pd.DataFrame(cols)


def _q_names(q: np.ndarray) -> list[str]:
    names = [f"q{v:.12g}" for v in q]
    if len(set(names)) != len(names):
        names = [f"q{v!r}" for v in q.tolist()]
    return names


def _check_method(method: str) -> str:
    return check_quantile_method(method, "method")


def _check_names(y, unit, weights, x, unit_columns):
    for arg, col in (("y", y), ("unit", unit)):
        if not isinstance(col, str) or not col:
            raise TypeError(f"{arg}: give a column name (a non-empty string), got {col!r}")
    for arg, col in (("weights", weights), ("x", x)):
        if col is not None and (not isinstance(col, str) or not col):
            raise TypeError(f"{arg}: give a column name (a non-empty string) or None, got {col!r}")
    if isinstance(unit_columns, str):
        unit_columns = (unit_columns,)
    unit_columns = tuple(unit_columns or ())
    for c in unit_columns:
        if not isinstance(c, str) or not c:
            raise TypeError(f"unit_columns: column names must be non-empty strings, got {c!r}")
    return unit_columns


# --------------------------------------------------------------------------------------------
# the one reading rule every engine applies (unit ids, their order, text in CSV files)
# --------------------------------------------------------------------------------------------
#
# * unit ids are read as stored: integers stay integers, text stays text ("007" and "7" are two
#   units), a categorical column is its labels (its category order is not used);
# * units are ordered by label, ascending (numbers numerically, text by code point), in every
#   engine (:func:`_unit_order`); a column mixing numbers and text is refused;
# * a CSV file stores text: its unit column is read as integers when every id is written as a
#   plain integer (no sign but "-", no leading zero, fits in 64 bits), else as text exactly as
#   written; y, x and weights are numbers as DuckDB and Python read decimal text ("1.5",
#   "-2e3", "inf"); anything else ("yes", "true", "NA", "1,5") is not numeric and is refused,
#   never converted; a field is missing only when empty; other unit-level columns (treatment,
#   cluster) are numbers when all of their values are, else text.

_CANONICAL_INT = r"-?(0|[1-9][0-9]*)"


def _show_labels(values) -> str:
    """Unit labels for a message as plain values (``[0, 7]``, ``['007']``), never NumPy reprs."""
    return show_labels(values)


def _label_values(labels) -> np.ndarray:
    """Unit labels as stored: a categorical's labels, numbers as numbers, text as text."""
    if isinstance(getattr(labels, "dtype", None), pd.CategoricalDtype):
        labels = np.asarray(labels, dtype=object)
    arr = np.asarray(labels)
    if arr.dtype == object and arr.size:
        arr = pd.Index(arr, tupleize_cols=False).to_numpy()  # object ints -> int64, etc.
    return arr


def _unit_order(labels, unit: str) -> np.ndarray:
    """The permutation that sorts unit labels: the one order of units of every engine."""
    try:
        return np.argsort(labels, kind="stable")
    except TypeError:
        kinds = sorted({type(v.item() if isinstance(v, np.generic) else v).__name__ for v in labels})
        raise ValueError(f"unit: column {unit!r} mixes labels of several types ({', '.join(kinds)}); "
                         "store the ids as one type (all text or all integers)") from None


def _labels_from_text(text: np.ndarray) -> np.ndarray:
    """Unit ids read from a CSV file: int64 when every id is a plain integer, else the text."""
    s = pd.Series(np.asarray(text, dtype=object), dtype=object)
    if len(s) and s.str.fullmatch(_CANONICAL_INT).all():
        try:
            ints = s.astype(np.int64).to_numpy()
        except (OverflowError, ValueError):  # beyond 64 bits: keep the text
            return s.to_numpy(dtype=object)
        if (ints.astype(str).astype(object) == s.to_numpy()).all():
            return ints
    return s.to_numpy(dtype=object)


def _is_number(t) -> bool:
    """A text is a number when Python's float() reads it and it is ASCII (DuckDB's reader
    accepts the same decimal forms: signs, exponents, "inf", "nan", digit separators "_")."""
    if not isinstance(t, str) or not t.isascii():
        return False
    try:
        float(t)
    except ValueError:
        return False
    return True


def _text_to_float(text: np.ndarray):
    """float64 of an object array of texts, or the index of the first text that is not a number."""
    try:
        if all(t.isascii() for t in text):
            return text.astype(float), None
    except (ValueError, TypeError, AttributeError):
        pass
    bad = next(i for i, t in enumerate(text) if not _is_number(t))
    return None, bad


def _numbers_from_text(s: pd.Series, arg: str, col: str, where: str, rows: bool = True) -> np.ndarray:
    """Decimal text (a CSV column) as float64, correctly rounded as DuckDB's reader rounds it; a
    value that is not a number is an error naming the column, the value and (``rows``) its row."""
    obj = s.to_numpy(dtype=object)
    present = pd.notna(obj)
    out = np.full(obj.size, np.nan)
    vals, bad = _text_to_float(obj[present])
    if bad is not None:
        i = int(np.flatnonzero(present)[bad])
        at = f"in data row {i + 1} of {where}" if rows else f"in {where}"
        raise ValueError(f"{arg}: column {col!r} is not numeric (value {obj[i]!r} {at}); write numbers "
                         "only (nothing is converted)")
    out[present] = vals
    return out


def _unit_values_from_text(text: np.ndarray) -> np.ndarray:
    """A unit-level column (treatment, cluster) read from a CSV file, one value per unit:
    integers or floats when every value is a number, else the text."""
    text = np.asarray(text, dtype=object)
    if not text.size:
        return text
    vals, bad = _text_to_float(text)
    if bad is not None:
        return text
    ints = _labels_from_text(text)
    return ints if ints.dtype.kind == "i" else vals


def _csv_sep(path: str) -> str:
    return "\t" if ".tsv" in os.path.basename(path).lower() else ","


def read_csv_frame(path, columns: Sequence[str], roles: dict) -> pd.DataFrame:
    """Read the ``columns`` of a CSV file into memory with the reading rule above (the
    ``--engine pandas`` route of the command line): ``roles`` maps a column to its role and
    argument, ``("unit", "unit")``, ``("number", "y")`` (y, x, weights) or ``("unit_level",
    "treatment")``; the text of the file is converted by that rule only.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> _ = open(p, "w").write("firm,wage\\n007,1.5\\n7,2\\n")
    >>> df = read_csv_frame(p, ["firm", "wage"], {"firm": ("unit", "unit"), "wage": ("number", "y")})
    >>> df["firm"].tolist(), df["wage"].tolist()
    (['007', '7'], [1.5, 2.0])
    """
    path = os.fspath(path)
    try:
        # every column is read (usecols would silently drop the extra fields of a malformed line)
        raw = pd.read_csv(path, sep=_csv_sep(path), dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"data: cannot read {path!r}: {_first_line(exc)}") from None
    if raw.empty:
        raise ValueError(f"data: {path} has no rows (only a header line)")
    keep = [c for c in raw.columns if c in set(columns)] if columns else list(raw.columns)
    return _typed_from_text(raw[keep], roles, os.path.basename(path))


def _typed_from_text(raw: pd.DataFrame, roles: dict, where: str) -> pd.DataFrame:
    """Apply the CSV rule to text columns: numbers parsed; unit ids and unit-level columns
    converted once over the whole column (columns with missing values are left as text for
    the engines to report)."""
    out = {}
    for col in raw.columns:
        role, arg = roles.get(col, (None, col))
        vals = raw[col].to_numpy(dtype=object)
        if role == "number":
            vals = _numbers_from_text(raw[col], arg, col, where)
        elif role in ("unit", "unit_level") and pd.notna(vals).all():
            vals = _labels_from_text(vals) if role == "unit" else _unit_values_from_text(vals)
        out[col] = vals
    return pd.DataFrame(out, index=raw.index)


def _parse_number_columns(part: pd.DataFrame, numbers: dict, where: str) -> pd.DataFrame:
    """Dask: the y, x, weights columns of a partition of CSV text as numbers (``numbers``: column
    -> argument)."""
    part = part.copy()
    for col, arg in numbers.items():
        part[col] = _numbers_from_text(part[col], arg, col, where, rows=False)
    return part


def read_csv_dask(path, columns: Sequence[str], roles: dict, blocksize="64MB"):
    """A Dask DataFrame of the ``columns`` of a CSV file (or pattern) under the reading rule:
    numbers parsed in each partition; unit ids and unit-level columns kept as text, for
    :func:`relabel_csv_result` to convert once, over all units (``roles`` as in
    :func:`read_csv_frame`)."""
    dd = _require("dask.dataframe")
    path = os.fspath(path)
    ddf = dd.read_csv(path, sep=_csv_sep(path), dtype=str, keep_default_na=False, na_values=[""],
                      blocksize=None if path.lower().endswith(".gz") else blocksize)
    missing = [c for c in columns if c not in ddf.columns]
    if missing:
        role, arg = roles.get(missing[0], (None, missing[0]))
        raise ValueError(f"{arg}: column {missing[0]!r} is not in {path} (columns: {list(ddf.columns)})")
    ddf = ddf[list(dict.fromkeys(columns))]
    numbers = {c: arg for c, (role, arg) in roles.items() if role == "number" and c in ddf.columns}
    meta = ddf._meta.copy()
    for c in numbers:
        meta[c] = meta[c].astype(float)
    return ddf.map_partitions(_parse_number_columns, numbers, os.path.basename(path), meta=meta)


def relabel_csv_result(res: UnitQuantiles, unit: str) -> UnitQuantiles:
    """Unit ids and unit-level columns computed from CSV text (:func:`read_csv_dask`) converted
    by the reading rule, units put in the one order."""
    labels = _labels_from_text(np.asarray(res.units, dtype=object))
    order = _unit_order(labels, unit)
    cols = {c: _unit_values_from_text(np.asarray(v, dtype=object))[order] for c, v in res.columns.items()}
    return UnitQuantiles(units=labels[order], x=None if res.x is None else res.x[order], Q=res.Q[order],
                         quantiles=res.quantiles, sizes=res.sizes[order], method=res.method,
                         weighted=res.weighted, columns=cols, info=res.info)


# --------------------------------------------------------------------------------------------
# shared numpy pieces: which order statistics / targets a unit of size k needs
# --------------------------------------------------------------------------------------------

def _rank_slots(k: np.ndarray, q: np.ndarray, method: str) -> np.ndarray:
    """Unweighted: 1-based ranks of the order statistics each grid point uses, (len(k), S).

    linear: slots 2j (lower, rank ⌊h⌋+1) and 2j+1 (upper, rank min(⌊h⌋+2, k)); inverted_cdf:
    slot j (rank ⌈kq⌉ with the rounding guard: :func:`r3d_teach.core.quantiles.inverse_edf_rank`).
    Same arithmetic as the in-memory rule.
    """
    kk = k[:, None].astype(float)
    if method == "linear":
        h = (kk - 1.0) * q[None, :]
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, k[:, None] - 1)
        out = np.empty((k.size, 2 * q.size), dtype=np.int64)
        out[:, 0::2], out[:, 1::2] = lo + 1, hi + 1
        return out
    return inverse_edf_rank(k[:, None], q[None, :])


def _combine_ranks(Z: np.ndarray, k: np.ndarray, q: np.ndarray, method: str) -> np.ndarray:
    """Q̂ from the fetched order statistics Z (n, S) laid out as in :func:`_rank_slots`."""
    if method == "inverted_cdf":
        return Z

    kk = k[:, None].astype(float)
    h = (kk - 1.0) * q[None, :]
    frac = h - np.floor(h)
    return linear_step(Z[:, 0::2], Z[:, 1::2], frac)


def _weight_targets(k: np.ndarray, q: np.ndarray, method: str) -> np.ndarray:
    """Weighted: cumulative-weight targets t per slot, (len(k), S) (S = 2M linear, M inverted),
    the targets of :func:`r3d_teach.core.quantiles.weighted_targets` (one weighted rule)."""
    targets, _ = weighted_targets(k, q, method)
    if method == "linear":
        out = np.empty((k.size, 2 * q.size))
        out[:, 0::2], out[:, 1::2] = targets
        return out
    return targets[0]


def _combine_weighted(V: np.ndarray, k: np.ndarray, q: np.ndarray, method: str) -> np.ndarray:
    if method == "inverted_cdf":
        return V

    kk = k[:, None].astype(float)
    o = 1.0 + (kk - 1.0) * q[None, :]
    frac = o - np.floor(o)
    return weighted_step(V[:, 0::2], V[:, 1::2], frac)


# --------------------------------------------------------------------------------------------
# in memory (pandas), also the per-partition work of the Dask engine
# --------------------------------------------------------------------------------------------

def _numeric(series: pd.Series, arg: str, col: str) -> np.ndarray:
    if not (pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)):
        bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
        example = f"; e.g. value {bad.iloc[0]!r}" if len(bad) else ""
        raise ValueError(f"{arg}: column {col!r} is not numeric (dtype {series.dtype}{example})")
    vals = series.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(vals)
    if bad.any():
        raise ValueError(f"{arg}: column {col!r} has {int(bad.sum())} missing or infinite values; "
                         "drop or impute them first (nothing is dropped silently)")
    return vals


def _factorize_units(values, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..n-1 of each row's unit and the labels, in the one order of units."""
    codes, uniq = pd.factorize(_label_values(values), sort=False)
    labels = _label_values(uniq)
    order = _unit_order(labels, unit)
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return rank[codes], labels[order]


def unit_quantiles_frame(df: pd.DataFrame, y: str, unit: str, quantiles, *, weights: str | None = None,
                         x: str | None = None, unit_columns: Sequence[str] = (),
                         method: str = "linear") -> UnitQuantiles:
    """Unit quantiles of a long pandas DataFrame (in memory), units ordered by label.

    Same numbers as ``unit_quantiles([y of unit 1, ...], quantiles, weights=..., method=...)``.
    ``x`` and ``unit_columns`` must be constant within each unit.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"u": ["b", "a", "a"], "y": [4.0, 1.0, 3.0]})
    >>> r = unit_quantiles_frame(df, "y", "u", [0.5])
    >>> r.units.tolist(), r.Q.tolist(), r.sizes.tolist()
    (['a', 'b'], [[2.0], [4.0]], [2, 1])
    """
    unit_columns = _check_names(y, unit, weights, x, unit_columns)
    method = _check_method(method)
    q = check_quantile_grid(quantiles)
    if not isinstance(df, pd.DataFrame):
        raise TypeError("data: must be a pandas DataFrame (one row per observation)")
    if len(df) == 0:
        raise ValueError("data: has no rows (no observations)")
    for arg, col in [("y", y), ("unit", unit), ("weights", weights), ("x", x)] + \
            [("unit_columns", c) for c in unit_columns]:
        if col is not None and col not in df.columns:
            raise ValueError(f"{arg}: column {col!r} is not in the data (columns: {list(df.columns)})")
    if df[unit].isna().any():
        raise ValueError(f"unit: column {unit!r} has {int(df[unit].isna().sum())} missing values")
    yv = _numeric(df[y], "y", y)
    wv = _numeric(df[weights], "weights", weights) if weights is not None else None
    if wv is not None and (wv < 0).any():
        raise ValueError(f"weights: column {weights!r} has {int((wv < 0).sum())} negative values")
    codes, labels = _factorize_units(df[unit], unit)
    n = len(labels)
    order = np.argsort(codes, kind="stable")
    cs = codes[order]
    sizes = np.bincount(codes, minlength=n).astype(np.int64)
    bounds = np.cumsum(sizes)[:-1]
    firsts = np.concatenate([[0], bounds]).astype(np.int64)

    def unit_level(values: np.ndarray, arg: str, col: str):
        v = values[order]
        first = v[firsts]
        vary = np.flatnonzero(np.repeat(first, sizes) != v)
        if vary.size:
            bad = pd.unique(np.asarray(labels, dtype=object)[cs[vary]])
            raise ValueError(f"{arg}: column {col!r} must be constant within each unit; "
                             f"it varies in unit(s) {_show_labels(bad)}")
        return first

    xs = unit_level(_numeric(df[x], "x", x), "x", x) if x is not None else None
    extra = {}
    for c in unit_columns:
        if df[c].isna().any():
            raise ValueError(f"{c}: column {c!r} has {int(df[c].isna().sum())} missing values")
        extra[c] = unit_level(df[c].to_numpy(), c, c)
    ys = np.split(yv[order], bounds)
    ws = np.split(wv[order], bounds) if wv is not None else None
    if ws is not None:
        tot = np.bincount(codes, weights=(wv > 0).astype(float), minlength=n)  # positive weights per unit
        if (tot <= 0).any():
            raise ValueError(f"weights: column {weights!r} sums to zero in unit(s) "
                             f"{_show_labels(np.asarray(labels)[tot <= 0])}")
    Q = unit_quantiles(ys, q, weights=ws, method=method) if n else np.zeros((0, q.size))
    return UnitQuantiles(units=np.asarray(labels), x=xs, Q=Q, quantiles=q, sizes=sizes, method=method,
                         weighted=weights is not None, columns=extra, info={"engine": "pandas"})


# --------------------------------------------------------------------------------------------
# DuckDB
# --------------------------------------------------------------------------------------------

def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def source_sql(source, types: dict | None = None) -> tuple[str, str]:
    """A DuckDB table expression for ``source`` and a readable name of it.

    ``source``: a CSV file (.csv, .csv.gz, .tsv, .txt), a Parquet file, a folder of Parquet files,
    a glob pattern, or (registered by the caller) a pandas DataFrame / pyarrow Table.  A path that
    exists is read as that file or folder, even when its name holds ``*``, ``?`` or ``[`` (they are
    escaped); only a path that does not exist is a glob pattern.  CSV files are read with a
    header line, "," ("\\t" for .tsv) between fields and every column as text, except the
    columns named in ``types`` (e.g. ``{"wage": "DOUBLE"}``): the reading rule above.
    """
    return _source(source, types)[:2]


def _csv_sql(pattern: str, path: str, types: dict | None) -> str:
    # skip = 0: DuckDB's sniffer otherwise skips leading lines it finds inconsistent (ragged rows)
    opts = f"header = true, skip = 0, delim = {_lit(_csv_sep(path))}, all_varchar = true"
    if types:
        opts += ", types = {" + ", ".join(f"{_lit(c)}: {_lit(t)}" for c, t in types.items()) + "}"
    return f"read_csv({_lit(pattern)}, {opts})"


def _source(source, types: dict | None = None) -> tuple[str, str, bool]:
    """(table expression, name, whether it is CSV text) of a path or pattern."""

    path = os.fspath(source)
    name = path
    p = Path(path)
    low = p.name.lower()
    if not p.exists() and any(ch in path for ch in "*?["):
        if not glob.glob(path, recursive=True):
            raise FileNotFoundError(f"data: no file matches the pattern {path!r}")
        if low.endswith(_PARQUET_SUFFIXES):
            return f"read_parquet({_lit(path)})", name, False
        if low.endswith(_CSV_SUFFIXES):
            return _csv_sql(path, path, types), name, True
        raise ValueError(f"data: cannot tell the format of {path!r} (use a .csv or .parquet pattern)")
    if p.is_dir():
        files = [f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(_PARQUET_SUFFIXES)]
        if not files:
            raise ValueError(f"data: the folder {path!r} holds no Parquet files (*.parquet)")
        if all(f.name.lower().endswith(".parquet") for f in files):
            return f"read_parquet({_lit(glob.escape(str(p)) + '/**/*.parquet')})", name, False
        return "read_parquet([" + ", ".join(_lit(glob.escape(str(f))) for f in sorted(files)) + "])", name, False
    if not p.exists():
        raise FileNotFoundError(f"data: no such file or folder: {path!r}")
    if low.endswith(_PARQUET_SUFFIXES):
        return f"read_parquet({_lit(glob.escape(path))})", name, False
    if low.endswith(_CSV_SUFFIXES):
        return _csv_sql(glob.escape(path), path, types), name, True
    raise ValueError(f"data: unknown file type {p.name!r}; give a .csv or .parquet file or a folder of .parquet files")


_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL")


def _is_numeric_type(t: str) -> bool:
    t = t.upper()
    return t in _NUMERIC_TYPES or t.startswith("DECIMAL")


class _DuckSession:
    """A DuckDB connection with a memory limit and a private spill folder (removed afterwards)."""

    def __init__(self, memory_limit, threads, temp_directory):
        duckdb = _require("duckdb")
        self.duckdb = duckdb
        self._tmp = None
        if temp_directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="r3d_duckdb_")
            temp_directory = self._tmp.name
        self.con = duckdb.connect(":memory:")
        try:
            self.con.execute(f"SET temp_directory = {_lit(str(temp_directory))}")
            if memory_limit is not None:
                self.con.execute(f"SET memory_limit = {_lit(str(memory_limit))}")
            if threads is not None:
                self.con.execute(f"SET threads = {int(threads)}")
            self.con.execute("SET preserve_insertion_order = false")
            self.con.execute("SET enable_progress_bar = false")
        except duckdb.Error as exc:
            self.close()
            raise ValueError(f"memory_limit: DuckDB rejected the settings ({_first_line(exc)})") from None

    def close(self):
        try:
            self.con.close()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()


def _read_error(exc, name: str, roles: dict) -> ValueError:
    """A ValueError naming the column (and argument) a DuckDB read error is about, if it says."""
    text = str(exc)
    m = re.search(r'converting column "(.+?)"\. Could not convert string "(.*?)"', text)
    if m:
        col, val = m.group(1), m.group(2)
        line = re.search(r"CSV Error on Line: (\d+)", text)
        where = f" on line {line.group(1)}" if line else ""
        arg = roles.get(col, col)
        return ValueError(f"{arg}: column {col!r} is not numeric (value {val!r}{where} of {name}); write "
                          "numbers only (nothing is converted)")
    return ValueError(f"data: cannot read {name!r}: {_first_line(exc)}")


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fetch_batches(con, sql: str, batch_rows: int = 1 << 20):
    """Yield the result of ``sql`` as dicts of numpy arrays, ``batch_rows`` rows at a time."""
    reader = con.sql(sql).to_arrow_reader(batch_rows)
    for batch in reader:
        yield {name: batch.column(i).to_numpy(zero_copy_only=False)
               for i, name in enumerate(batch.schema.names)}


def unit_quantiles_duckdb(source, y: str, unit: str, quantiles, *, weights: str | None = None,
                          x: str | None = None, unit_columns: Sequence[str] = (),
                          method: str = "linear", memory_limit: str | None = "1GB",
                          threads: int | None = None, temp_directory: str | None = None,
                          progress: bool = False, fallback_rows: int = 2_000_000) -> UnitQuantiles:
    """Unit quantiles of long data with DuckDB (out of core), units ordered by label.

    Parameters
    ----------
    source : path of a CSV file, a Parquet file, a folder of Parquet files or a glob pattern; or a
        pandas DataFrame / pyarrow Table (scanned in place).
    y, unit : column names of the outcome and of the unit identifier.
    quantiles : the grid (levels strictly inside (0, 1), increasing).
    weights : optional column of non-negative observation weights (each unit's sum > 0).
    x : optional running-variable column (constant within a unit); returned per unit.
    unit_columns : other unit-level columns to return (e.g. treatment, cluster), constant within a unit.
    method : "linear" (type 7, default) or "inverted_cdf".
    memory_limit : DuckDB's memory limit (e.g. "1GB"); beyond it DuckDB spills to
        ``temp_directory`` (default: a private temporary folder, removed afterwards).
    threads : DuckDB threads (default: all cores).
    progress : show a progress bar over the steps.
    fallback_rows : weighted only: rows per in-memory batch when units whose cumulative weights
        land within rounding error of a target are recomputed with :func:`unit_quantiles`.

    Returns
    -------
    UnitQuantiles (``units, x, Q = result``); ``info`` records the engine, rows read and the
    number of units recomputed in memory.

    Equal to :func:`r3d_teach.unit_quantiles` on the same samples (see the module docstring).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"u": [1, 1, 1, 1, 2], "y": [0.0, 1.0, 2.0, 3.0, 9.0], "w": [1, 1, 1, 5, 2]})
    >>> unit_quantiles_duckdb(df, "y", "u", [0.1, 0.5], weights="w").Q.round(12).tolist()
    [[1.6, 3.0], [9.0, 9.0]]
    """
    unit_columns = _check_names(y, unit, weights, x, unit_columns)
    method = _check_method(method)
    q = check_quantile_grid(quantiles)
    if fallback_rows < 1:
        raise ValueError(f"fallback_rows: must be a positive integer, got {fallback_rows!r}")
    sess = _DuckSession(memory_limit, threads, temp_directory)
    try:
        return _duckdb_run(sess, source, y, unit, weights, x, unit_columns, q, method, progress,
                           int(fallback_rows))
    finally:
        sess.close()


class _Progress:
    """Progress bars for the long DuckDB queries: ``with progress("order statistics"): ...``
    shows the running query's progress (DuckDB's ``query_progress()``, polled from a thread)."""

    def __init__(self, con, enabled: bool):
        self.con, self.enabled = con, enabled

    def __call__(self, desc: str):
        if not self.enabled:
            return contextlib.nullcontext()
        from tqdm.auto import tqdm  # optional display: loaded only when progress bars are shown

        @contextlib.contextmanager
        def bar():
            pbar = tqdm(total=100, desc=f"unit quantiles: {desc}", unit="%", leave=False,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")
            stop = threading.Event()

            def poll():
                seen = 0.0
                while not stop.wait(0.25):
                    try:
                        p = float(self.con.query_progress())
                    except Exception:  # no query running, or closed
                        continue
                    if p > seen:
                        pbar.update(p - seen)
                        seen = p

            th = threading.Thread(target=poll, daemon=True)
            th.start()
            try:
                yield
            finally:
                stop.set()
                th.join()
                pbar.close()

        return bar()


def _duckdb_run(sess, source, y, unit, weights, x, unit_columns, q, method, progress, fallback_rows):
    duckdb, con = sess.duckdb, sess.con
    csv = False
    if isinstance(source, pd.DataFrame) or type(source).__module__.startswith("pyarrow"):
        con.register("r3d_source_frame", source)
        src, name = "r3d_source_frame", "the data frame"
    else:
        src, name, csv = _source(source)
    steps = _Progress(con, progress)
    if progress:
        con.execute("SET enable_progress_bar = true")
        con.execute("SET enable_progress_bar_print = false")
    roles = {col: arg for arg, col in [("unit", unit), ("x", x), ("weights", weights), ("y", y)]
             + [(c, c) for c in unit_columns] if col is not None}
    try:
        desc = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except duckdb.Error as exc:
        raise _read_error(exc, name, roles) from None
    types = {row[0]: row[1] for row in desc}
    cols = [("y", y), ("unit", unit), ("weights", weights), ("x", x)] + [(c, c) for c in unit_columns]
    for arg, col in cols:
        if col is not None and col not in types:
            raise ValueError(f"{arg}: column {col!r} is not in {name} (columns: {list(types)})")
    try:
        if csv:  # y, x, weights read as numbers, the rest as the text of the file
            src = _source(source, {col: "DOUBLE" for col in (y, x, weights) if col is not None})[0]
            types = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        empty = not con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {src} LIMIT 1)").fetchall()[0][0]
    except duckdb.Error as exc:
        raise _read_error(exc, name, roles) from None
    if empty:
        raise ValueError(f"data: {name} has no rows" + (" (only a header line)" if csv else ""))
    for arg, col in (("y", y), ("weights", weights), ("x", x)):
        if col is not None and not _is_numeric_type(types[col]):
            example = _first_non_numeric(con, src, col)
            raise ValueError(f"{arg}: column {col!r} is not numeric (type {types[col]}{example})")
    yq, uq = _ident(y), _ident(unit)
    wq = _ident(weights) if weights is not None else None

    # pass 1: one row per unit (size, unit-level columns, checks)
    def bad(col):
        e = f"CAST({_ident(col)} AS DOUBLE)"
        return f"count(*) FILTER (WHERE {e} IS NULL OR isnan({e}) OR isinf({e}))"

    agg = [f"{uq} AS u", "count(*) AS k", f"{bad(y)} AS bad_y"]
    if x is not None:
        xe = f"CAST({_ident(x)} AS DOUBLE)"
        agg += [f"min({xe}) AS x_min", f"max({xe}) AS x_max", f"{bad(x)} AS bad_x"]
    for j, c in enumerate(unit_columns):
        agg += [f"count(DISTINCT {_ident(c)}) AS c{j}_nd", f"min({_ident(c)}) AS c{j}",
                f"count(*) FILTER (WHERE {_ident(c)} IS NULL) AS c{j}_na"]
    if weights is not None:
        we = f"CAST({wq} AS DOUBLE)"
        # positive weights counted, not summed: a sum of weights near 1e308 overflows
        agg += [f"{bad(weights)} AS bad_w", f"count(*) FILTER (WHERE {we} < 0) AS neg_w",
                f"count(*) FILTER (WHERE {we} > 0) AS n_pos", f"max({we}) AS wmax",
                f"max(CAST({yq} AS DOUBLE)) AS ymax",
                f"max(CAST({yq} AS DOUBLE)) FILTER (WHERE {we} > 0) AS ymax_pos"]
    try:
        with steps("scan and check"):
            con.execute(f"CREATE TEMP TABLE r3d_units0 AS SELECT row_number() OVER () - 1 AS pos, * "
                        f"FROM (SELECT {', '.join(agg)} FROM {src} GROUP BY {uq})")
        U = con.execute("SELECT * FROM r3d_units0 ORDER BY pos").fetchnumpy()
    except duckdb.Error as exc:
        raise _read_error(exc, name, roles) from None
    if _has_null(U["u"]):
        nnull = int(np.asarray(U["k"])[_null_mask(U["u"])].sum())
        raise ValueError(f"unit: column {unit!r} has {nnull} missing values")
    n = int(np.asarray(U["k"]).size)
    if n == 0:
        raise ValueError(f"data: {name} has no rows")
    # the one order of units (by label as stored; CSV ids by the reading rule), not DuckDB's
    labels = _labels_from_text(_unmask(U["u"])) if csv else _label_values(_unmask(U["u"]))
    order = _unit_order(labels, unit)
    code = np.empty(n, dtype=np.int64)
    code[order] = np.arange(n)
    con.register("r3d_codes", pd.DataFrame({"pos": np.arange(n, dtype=np.int64), "code": code}))
    u_sql = "r3d_units0.u"
    if csv and labels.dtype.kind == "i":  # plain-integer ids in a CSV: the later passes key on BIGINT
        src = f"(SELECT * REPLACE (CAST({uq} AS BIGINT) AS {uq}) FROM {src})"
        u_sql = "CAST(r3d_units0.u AS BIGINT)"
    con.execute(f"CREATE TEMP TABLE r3d_units AS SELECT r3d_codes.code, {u_sql} AS u, "
                "r3d_units0.* EXCLUDE (pos, u) FROM r3d_units0 JOIN r3d_codes ON r3d_units0.pos = r3d_codes.pos")
    U = {key: val[order] for key, val in U.items()}
    labels = labels[order]
    k = np.asarray(U["k"], dtype=np.int64)
    _raise_count(U["bad_y"], "y", y, "missing or infinite values; drop or impute them first "
                 "(nothing is dropped silently)")
    xs = None
    if x is not None:
        _raise_count(U["bad_x"], "x", x, "missing or infinite values")
        xmin, xmax = np.asarray(U["x_min"], float), np.asarray(U["x_max"], float)
        vary = np.flatnonzero(xmin != xmax)
        if vary.size:
            raise ValueError(f"x: column {x!r} must be constant within each unit; it varies in "
                             f"unit(s) {_show_labels(labels[vary])}")
        xs = xmin
    extra = {}
    for j, c in enumerate(unit_columns):
        _raise_count(U[f"c{j}_na"], c, c, "missing values")
        vary = np.flatnonzero(np.asarray(U[f"c{j}_nd"]) > 1)
        if vary.size:
            raise ValueError(f"{c}: column {c!r} must be constant within each unit; it varies in "
                             f"unit(s) {_show_labels(labels[vary])}")
        vals = _unmask(U[f"c{j}"])
        extra[c] = _unit_values_from_text(vals) if csv else _label_values(vals)
    if weights is not None:
        _raise_count(U["bad_w"], "weights", weights, "missing or infinite values")
        _raise_count(U["neg_w"], "weights", weights, "negative values")
        zero = np.asarray(U["n_pos"]) == 0
        if zero.any():
            raise ValueError(f"weights: column {weights!r} sums to zero in unit(s) {_show_labels(labels[zero])}")

    info = {"engine": "duckdb", "rows": int(k.sum()), "units_recomputed_in_memory": 0}
    try:
        if weights is None:
            Q = _duck_unweighted(con, src, yq, uq, k, q, method, steps)
        else:
            Q, n_re = _duck_weighted(con, src, yq, uq, wq, k, U, q, method, steps, fallback_rows)
            info["units_recomputed_in_memory"] = n_re
    except duckdb.Error as exc:
        raise _read_error(exc, name, roles) from None
    return UnitQuantiles(units=labels, x=xs, Q=Q, quantiles=q, sizes=k, method=method,
                         weighted=weights is not None, columns=extra, info=info)


def _first_non_numeric(con, src, col) -> str:
    try:
        c = _ident(col)
        row = con.execute(f"SELECT {c} FROM {src} WHERE {c} IS NOT NULL AND TRY_CAST({c} AS DOUBLE) IS NULL "
                          "LIMIT 1").fetchone()
    except Exception:  # the type alone says enough
        return ""
    return f"; e.g. value {row[0]!r}" if row else ""


def _null_mask(a) -> np.ndarray:
    if isinstance(a, np.ma.MaskedArray):
        return np.ma.getmaskarray(a)
    arr = np.asarray(a)
    if arr.dtype == object:
        return np.array([v is None for v in arr], dtype=bool)
    if arr.dtype.kind == "f":
        return np.isnan(arr)
    return np.zeros(arr.shape, dtype=bool)


def _has_null(a) -> bool:
    return bool(_null_mask(a).any())


def _unmask(a) -> np.ndarray:
    if isinstance(a, np.ma.MaskedArray):
        return np.asarray(a.data)
    return np.asarray(a)


def _raise_count(counts, arg, col, what):
    c = np.asarray(counts, dtype=np.int64)
    if c.sum() > 0:
        raise ValueError(f"{arg}: column {col!r} has {int(c.sum())} {what}")


def _register_by_size(con, table: str, k: np.ndarray, values: np.ndarray):
    """Register a (size k, rank/target, slot) table for the distinct unit sizes."""
    ks = np.unique(k)
    S = values.shape[1]
    frame = pd.DataFrame({"k": np.repeat(ks, S), "slot": np.tile(np.arange(S, dtype=np.int64), ks.size),
                          "v": values.ravel()})
    con.register(table, frame)
    return ks


def _duck_unweighted(con, src, yq, uq, k, q, method, steps):
    ks = np.unique(k)
    ranks = _rank_slots(ks, q, method)
    _register_by_size(con, "r3d_need", k, ranks)
    S = ranks.shape[1]
    n = k.size
    Z = np.full((n, S), np.nan)
    sql = f"""
        WITH w AS (
            SELECT {uq} AS u, CAST({yq} AS DOUBLE) AS y,
                   row_number() OVER (PARTITION BY {uq} ORDER BY {yq}) AS rn,
                   count(*) OVER (PARTITION BY {uq}) AS k
            FROM {src})
        SELECT r3d_units.code, r3d_need.slot, w.y
        FROM w JOIN r3d_need ON w.k = r3d_need.k AND w.rn = r3d_need.v
               JOIN r3d_units ON w.u = r3d_units.u"""
    with steps("sort each unit"):
        for b in _fetch_batches(con, sql):
            Z[b["code"], b["slot"]] = b["y"]
    if np.isnan(Z).any():  # cannot happen: every needed rank exists
        raise RuntimeError("unit quantiles: an order statistic was not found (please report)")
    return _combine_ranks(Z, k, q, method)


def _duck_weighted(con, src, yq, uq, wq, k, U, q, method, steps, fallback_rows):
    ks = np.unique(k)
    targets = _weight_targets(ks, q, method)
    _register_by_size(con, "r3d_targets", k, targets)
    S = targets.shape[1]
    n = k.size
    # as in memory, each unit's weights are first divided by the unit's largest one (exactly the
    # same division), so sums of tiny or huge weights neither underflow nor overflow; then
    # running normalised weights c_j = (Σ_{i≤j} r_i) k / tot, previous c_{j-1} = c_j - r_j k / tot
    with steps("sort each unit, cumulate weights"):
        con.execute(f"""
        CREATE TEMP TABLE r3d_cum AS
        WITH d AS (SELECT {uq} AS u, CAST({yq} AS DOUBLE) AS y, CAST({wq} AS DOUBLE) AS w FROM {src}),
             r AS (SELECT d.u, d.y, d.w / r3d_units.wmax AS wr, CAST(r3d_units.k AS DOUBLE) AS k
                   FROM d JOIN r3d_units ON d.u = r3d_units.u),
             s AS (SELECT u, y, wr, k,
                          sum(wr) OVER (PARTITION BY u ORDER BY y
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cw,
                          sum(wr) OVER (PARTITION BY u) AS tot
                   FROM r)
        SELECT u, y, cw * (k / tot) AS c, cw * (k / tot) - wr * (k / tot) AS cprev FROM s WHERE wr > 0""")
    sql = """
        WITH tg AS (SELECT r3d_units.u, r3d_units.code, r3d_targets.slot, r3d_targets.v AS t
                    FROM r3d_units JOIN r3d_targets ON r3d_units.k = r3d_targets.k)
        SELECT tg.code, tg.slot, tg.t, r3d_cum.y, r3d_cum.c, r3d_cum.cprev
        FROM tg ASOF LEFT JOIN r3d_cum ON tg.u = r3d_cum.u AND tg.t <= r3d_cum.c"""
    V = np.full((n, S), np.nan)
    flagged = np.zeros(n, dtype=bool)
    ymax = np.asarray(U["ymax"], float)
    ymax_pos = np.asarray(U["ymax_pos"], float)
    kf = k.astype(float)
    eps_unit = 4.0 * (kf + 2.0) * kf * _U + 1e-300  # rounding bound of a cumulative weight, both sides
    # linear targets are integers, which the in-memory rule reaches within a relative INDEX_FUZZ:
    # a previous cumulative weight in that window makes the unit risky too
    fuzz = INDEX_FUZZ if method == "linear" else 0.0
    for b in _batches_with_progress(con, sql, steps, "first rows reaching the targets"):
        code, slot, t = b["code"], b["slot"], np.asarray(b["t"], float)
        yv, c, cprev = (np.asarray(_fill_nan(b[name]), float) for name in ("y", "c", "cprev"))
        eps = eps_unit[code]
        top_safe = ymax_pos[code] == ymax[code]
        nomatch = np.isnan(yv)
        # no row reaches t: only possible when t is within rounding of k (the total); the answer
        # is then the unit's largest value, unless zero-weight rows sit above the last positive one
        val = np.where(nomatch, ymax[code], yv)
        near_hi = ~nomatch & ((c - t) <= eps)
        near_lo = ~nomatch & ((t - cprev) <= eps + fuzz * t)
        safe_top = (nomatch | near_hi) & (val == ymax_pos[code]) & top_safe & ~near_lo
        risky = (nomatch & ~top_safe) | ((near_hi | near_lo) & ~safe_top)
        V[code, slot] = val
        flagged[code[risky]] = True
    Q = _combine_weighted(V, k, q, method)
    n_re = int(flagged.sum())
    if n_re:
        _recompute_in_memory(con, src, yq, uq, wq, k, flagged, q, method, Q, fallback_rows)
    return Q, n_re


def _batches_with_progress(con, sql, steps, desc):
    with steps(desc):
        yield from _fetch_batches(con, sql)


def _fill_nan(a):
    if isinstance(a, np.ma.MaskedArray):
        return a.astype(float).filled(np.nan)
    arr = np.asarray(a)
    if arr.dtype == object:
        return np.array([np.nan if v is None else v for v in arr], dtype=float)
    return arr


def _recompute_in_memory(con, src, yq, uq, wq, k, flagged, q, method, Q, batch_rows):
    """Recompute the flagged units with unit_quantiles itself, a batch of whole units at a time."""
    codes = np.flatnonzero(flagged)
    # batches of consecutive flagged units of about batch_rows rows (a unit is never split)
    sizes = k[codes]
    batch_id = (np.cumsum(sizes) - sizes) // batch_rows
    con.register("r3d_flagged", pd.DataFrame({"code": codes, "batch": batch_id}))
    con.execute(f"""
        CREATE TEMP TABLE r3d_redo AS
        SELECT f.batch, f.code, CAST({yq} AS DOUBLE) AS y, CAST({wq} AS DOUBLE) AS w
        FROM {src} d JOIN r3d_units ON d.{uq} = r3d_units.u JOIN r3d_flagged f ON r3d_units.code = f.code""")
    for bb in np.unique(batch_id).tolist():
        d = con.execute(f"SELECT code, y, w FROM r3d_redo WHERE batch = {bb} ORDER BY code, y").fetchnumpy()
        cc = np.asarray(d["code"])
        yv, wv = np.asarray(d["y"], float), np.asarray(d["w"], float)
        bounds = np.flatnonzero(np.diff(cc)) + 1
        units = cc[np.concatenate([[0], bounds])]
        Q[units] = unit_quantiles(np.split(yv, bounds), q, weights=np.split(wv, bounds), method=method)


# --------------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------------

def _dask_partition(part: pd.DataFrame, y, unit, q, weights, x, unit_columns, method, meta_cols):
    if len(part) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "unit" or c.startswith("col") else float)
                             for c in meta_cols})
    r = unit_quantiles_frame(part, y, unit, q, weights=weights, x=x, unit_columns=unit_columns, method=method)
    out = {"unit": pd.Series(r.units, dtype=object), "n_obs": r.sizes}
    if x is not None:
        out["x"] = r.x
    for j, c in enumerate(unit_columns):
        out[f"col{j}"] = pd.Series(r.columns[c], dtype=object)
    for j in range(q.size):
        out[f"q{j}"] = r.Q[:, j]
    return pd.DataFrame(out)


def unit_quantiles_dask(ddf, y: str, unit: str, quantiles, *, weights: str | None = None,
                        x: str | None = None, unit_columns: Sequence[str] = (),
                        method: str = "linear") -> UnitQuantiles:
    """Unit quantiles of a long Dask DataFrame (``dask.dataframe``), units ordered by label.

    The frame is shuffled on ``unit`` so each unit lies in one partition; each partition then
    runs :func:`unit_quantiles_frame` on its units (on the workers of the active
    ``dask.distributed`` client, if any).  Only the n × M result is gathered.  Same numbers as
    :func:`r3d_teach.unit_quantiles`.

    >>> import pandas as pd, dask.dataframe as dd
    >>> df = pd.DataFrame({"u": [1, 2, 1, 2, 1], "y": [3.0, 5.0, 1.0, 7.0, 2.0]})
    >>> r = unit_quantiles_dask(dd.from_pandas(df, npartitions=2), "y", "u", [0.25, 0.5])
    >>> r.units.tolist(), r.Q.tolist()
    ([1, 2], [[1.5, 2.0], [5.5, 6.0]])
    """
    unit_columns = _check_names(y, unit, weights, x, unit_columns)
    method = _check_method(method)
    q = check_quantile_grid(quantiles)
    _require("dask.dataframe")
    if not hasattr(ddf, "map_partitions") or not hasattr(ddf, "columns"):
        raise TypeError("ddf: must be a dask DataFrame (dask.dataframe.read_parquet, from_pandas, ...)")
    cols = [("y", y), ("unit", unit), ("weights", weights), ("x", x)] + [(c, c) for c in unit_columns]
    for arg, col in cols:
        if col is not None and col not in ddf.columns:
            raise ValueError(f"{arg}: column {col!r} is not in the data (columns: {list(ddf.columns)})")
    for arg, col in (("y", y), ("weights", weights), ("x", x)):
        if col is not None and not pd.api.types.is_numeric_dtype(ddf.dtypes[col]):
            raise ValueError(f"{arg}: column {col!r} is not numeric (dtype {ddf.dtypes[col]})")
    keep = list(dict.fromkeys(c for _, c in cols if c is not None))
    part = ddf[keep].shuffle(on=unit)
    meta_cols = ["unit", "n_obs"] + (["x"] if x is not None else []) + \
        [f"col{j}" for j in range(len(unit_columns))] + [f"q{j}" for j in range(q.size)]
    meta = {"unit": object, "n_obs": np.int64}
    if x is not None:
        meta["x"] = float
    for j in range(len(unit_columns)):
        meta[f"col{j}"] = object
    meta.update({f"q{j}": float for j in range(q.size)})
    meta_frame = pd.DataFrame({c: pd.Series(dtype=t) for c, t in meta.items()})
    out = part.map_partitions(_dask_partition, y, unit, q, weights, x, unit_columns, method, meta_cols,
                              meta=meta_frame).compute()
    if len(out) == 0:
        raise ValueError("data: has no rows (no observations)")
    labels = _label_values(out["unit"].to_numpy(dtype=object))
    order = _unit_order(labels, unit)
    out = out.iloc[order].reset_index(drop=True)
    labels = labels[order]
    if pd.Series(labels).duplicated().any():  # cannot happen after the shuffle
        raise RuntimeError("unit quantiles: a unit was split across partitions (please report)")
    Q = out[[f"q{j}" for j in range(q.size)]].to_numpy(dtype=float)
    return UnitQuantiles(units=labels, x=out["x"].to_numpy(float) if x is not None else None,
                         Q=Q, quantiles=q, sizes=out["n_obs"].to_numpy(np.int64), method=method,
                         weighted=weights is not None,
                         columns={c: _label_values(out[f"col{j}"].to_numpy(dtype=object))
                                  for j, c in enumerate(unit_columns)},
                         info={"engine": "dask", "rows": int(out["n_obs"].sum())})


# --------------------------------------------------------------------------------------------
# the quantile file (Parquet, one row per unit, grid and settings in the metadata)
# --------------------------------------------------------------------------------------------

def write_quantile_file(result: UnitQuantiles, path, *, unit: str = "unit", x: str | None = "x",
                        settings: dict | None = None) -> None:
    """Write ``result`` to a Parquet file: columns ``unit``, ``x`` (if any), the other unit-level
    columns, ``n_obs`` and one column per level; the exact grid, column roles and ``settings``
    are stored under the metadata key ``r3d_teach.unit_quantiles``."""
    pa = _require("pyarrow")
    pq = _require("pyarrow.parquet")
    frame = result.to_frame(unit=unit, x=x or "x")
    qcols = _q_names(result.quantiles)
    meta = {"format": 1, "quantiles": result.quantiles.tolist(), "quantile_columns": qcols,
            "unit": unit, "x": (x or "x") if result.x is not None else None,
            "columns": list(result.columns), "quantile_method": result.method,
            "weighted": result.weighted, "n_units": result.n_units, "n_obs": int(result.sizes.sum()),
            "r3d_teach_version": __version__, **(settings or {})}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           QUANTILE_FILE_KEY: json.dumps(meta).encode()})
    pq.write_table(table, os.fspath(path))


def is_quantile_file(path) -> bool:
    """True when ``path`` is a Parquet file written by :func:`write_quantile_file`."""
    p = Path(os.fspath(path))
    if not p.is_file() or not p.name.lower().endswith(_PARQUET_SUFFIXES):
        return False
    pq = _require("pyarrow.parquet")
    try:
        md = pq.read_schema(p).metadata or {}
    except Exception:
        return False
    return QUANTILE_FILE_KEY in md


def read_quantile_file(path) -> tuple[UnitQuantiles, dict]:
    """Read a file written by :func:`write_quantile_file`: (UnitQuantiles, its metadata dict)."""
    pq = _require("pyarrow.parquet")
    table = pq.read_table(os.fspath(path))
    md = table.schema.metadata or {}
    if QUANTILE_FILE_KEY not in md:
        raise ValueError(f"data: {os.fspath(path)!r} is not a unit-quantile file (no r3d_teach metadata)")
    meta = json.loads(md[QUANTILE_FILE_KEY].decode())
    df = table.to_pandas()
    q = np.asarray(meta["quantiles"], dtype=float)
    res = UnitQuantiles(units=df[meta["unit"]].to_numpy(),
                        x=df[meta["x"]].to_numpy(float) if meta.get("x") else None,
                        Q=df[meta["quantile_columns"]].to_numpy(dtype=float), quantiles=q,
                        sizes=df["n_obs"].to_numpy(np.int64), method=meta["quantile_method"],
                        weighted=bool(meta["weighted"]),
                        columns={c: df[c].to_numpy() for c in meta.get("columns", [])},
                        info={"engine": "file"})
    return res, meta
