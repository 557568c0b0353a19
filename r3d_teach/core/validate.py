"""Input validation: the one home of the checks every public function runs at its door.

Every check raises ``ValueError`` (or ``TypeError``) whose message starts with the argument's
name and says what was wrong; nothing is coerced silently (strings, complex numbers, mappings,
sets and one-shot iterators are refused, not converted).  Inner modules trust their inputs.

>>> import numpy as np
>>> check_running_variable([0.5, -1, 2]).tolist()
[0.5, -1.0, 2.0]
>>> check_running_variable(["0.5", "1"])
Traceback (most recent call last):
...
TypeError: x: must be numeric, got strings (dtype <U3); convert them explicitly first
>>> isinstance(check_seed(3), np.random.Generator)
True
"""
from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping, Set

import numpy as np
import pandas as pd

from .kernels import KERNELS

METHODS = ("frechet", "simple")
#: the unit-quantile rules of :func:`r3d_teach.unit_quantiles` (type 7 and the inverse EDF)
QUANTILE_METHODS = ("linear", "inverted_cdf")


_KIND_NAMES = {"U": "strings", "S": "bytes", "c": "complex numbers", "M": "dates", "m": "time spans",
               "V": "raw records"}


def as_real_array(v, name: str, allow_bool: bool = False) -> np.ndarray:
    """``v`` as a float array, refusing what would be coerced silently: strings, complex
    numbers, dates, booleans (unless ``allow_bool``), mappings, sets, iterators and objects
    that are not real numbers."""
    if isinstance(v, (Mapping, Set, Iterator)) or (hasattr(v, "__next__") and not hasattr(v, "__len__")):
        raise TypeError(f"{name}: must be an array or a list, got a {type(v).__name__} "
                        "(dicts, sets and generators have no reliable order)")
    try:
        a = np.asarray(v)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: must be numeric ({exc})") from None
    kind = a.dtype.kind
    if kind in _KIND_NAMES:
        raise TypeError(f"{name}: must be numeric, got {_KIND_NAMES[kind]} (dtype {a.dtype}); "
                        "convert them explicitly first")
    if kind == "b" and not allow_bool:
        raise TypeError(f"{name}: must be numeric, got booleans; convert them explicitly (e.g. .astype(float))")
    if kind == "O":
        flat = a.ravel()
        bad = [e for e in flat if isinstance(e, (str, bytes, complex)) or isinstance(e, bool)
               or not isinstance(e, numbers.Real)]
        if bad:
            raise TypeError(f"{name}: must be numeric, found {type(bad[0]).__name__} value {bad[0]!r}")
    try:
        return np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: must be numeric ({exc})") from None


def check_running_variable(x, name: str = "x") -> np.ndarray:
    arr = as_real_array(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name}: must be 1-D (one value per unit), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"{name}: contains NaN or inf at position(s) {idx} (of {bad.sum()} bad values)")
    return arr


def check_samples(y, name: str = "y"):
    """Validate unit samples: a sequence of non-empty finite 1-D arrays, or an n × k matrix
    (returned as is: every unit has k draws)."""
    if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object:
        Y = as_real_array(y, name)
        if Y.shape[1] == 0:
            raise ValueError(f"{name}: unit 0 has an empty sample")
        finite = np.isfinite(Y).all(axis=1)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise ValueError(f"{name}: unit {i} contains NaN or inf ({int((~np.isfinite(Y[i])).sum())} values); "
                             "remove or impute them first (nothing is dropped silently)")
        return Y
    if isinstance(y, (str, bytes, Mapping, Set, Iterator)) or not hasattr(y, "__len__"):
        raise TypeError(f"{name}: must be a sequence (list, tuple or array) of 1-D arrays, one sample "
                        f"per unit, got a {type(y).__name__}")
    out = []
    for i, v in enumerate(y):
        if np.ndim(v) == 0 and not isinstance(v, (Mapping, Set, Iterator)):
            v = [v]
        a = as_real_array(v, f"{name}: unit {i}").ravel()
        if a.size == 0:
            raise ValueError(f"{name}: unit {i} has an empty sample")
        out.append(a)
    if out:
        allv = np.concatenate(out)
        bad = ~np.isfinite(allv)
        if bad.any():
            sizes = np.array([a.size for a in out])
            i = int(np.searchsorted(np.cumsum(sizes), np.flatnonzero(bad)[0], side="right"))
            raise ValueError(
                f"{name}: unit {i} contains NaN or inf ({int((~np.isfinite(out[i])).sum())} values); "
                "remove or impute them first (nothing is dropped silently)"
            )
    return out


def check_unit_weights(weights, y, name: str = "weights") -> list[np.ndarray]:
    if isinstance(weights, np.ndarray) and weights.ndim == 2:
        weights = list(weights)
    if isinstance(weights, (str, bytes, Mapping, Set, Iterator)) or not hasattr(weights, "__len__"):
        raise TypeError(f"{name}: must be a sequence of 1-D arrays, one per unit, shaped like y")
    if isinstance(y, np.ndarray) and y.ndim == 2:
        y = list(y)
    if len(weights) != len(y):
        raise ValueError(f"{name}: has {len(weights)} units but y has {len(y)}")
    out = []
    for i, (w, v) in enumerate(zip(weights, y)):
        a = as_real_array(w, f"{name}: unit {i}").ravel()
        if a.size != v.size:
            raise ValueError(f"{name}: unit {i} has {a.size} weights but {v.size} observations")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: unit {i} contains NaN or inf")
        if (a < 0).any():
            raise ValueError(f"{name}: unit {i} has negative weights")
        if not (a > 0).any():  # non-negative: a positive sum is a positive weight (a sum can overflow)
            raise ValueError(f"{name}: the weights of unit {i} sum to zero")
        out.append(a)
    return out


def check_quantile_grid(quantiles, name: str = "quantiles") -> np.ndarray:
    q = as_real_array(quantiles, name)
    if q.ndim == 0:
        q = q.reshape(1)
    if q.ndim != 1 or q.size == 0:
        raise ValueError(f"{name}: must be a non-empty 1-D array of levels in (0, 1)")
    if not np.all(np.isfinite(q)):
        raise ValueError(f"{name}: contains NaN or inf")
    if (q <= 0).any() or (q >= 1).any():
        raise ValueError(f"{name}: every level must be strictly inside (0, 1); got min {q.min()}, max {q.max()}")
    d = np.diff(q)
    if (d == 0).any():
        raise ValueError(f"{name}: contains repeated levels (e.g. {q[1:][d == 0][0]})")
    if (d < 0).any():
        raise ValueError(
            f"{name}: must be sorted increasingly (an unsorted grid would misalign the "
            "monotone projection); pass np.sort(quantiles)"
        )
    return q


def show_labels(values, limit: int = 5) -> str:
    """Unit labels for a message, as plain Python values: ``[0, 7]`` or ``['007', 'a']`` (never
    NumPy reprs such as ``np.int64(0)``); at most ``limit`` of them, then ``...``.

    >>> show_labels(np.array([3, 4], dtype=np.int64)), show_labels(np.array(["a", "b", "c"]), limit=2)
    ('[3, 4]', "['a', 'b', ...]")
    """
    vals = list(values)
    shown = [v.item() if isinstance(v, np.generic) else v for v in vals[:limit]]
    text = str(shown)
    return text[:-1] + ", ...]" if len(vals) > limit else text


#: a decrease along a row of Q= smaller than this times the row's largest |value| is rounding
#: (see :func:`check_quantile_rows`)
MONOTONE_RTOL = 2.0 ** -40


def check_quantile_rows(Q: np.ndarray, quantiles=None, labels=None, name: str = "Q") -> np.ndarray:
    """Rows of precomputed unit quantiles must be non-decreasing in q.

    A decrease of at most ``MONOTONE_RTOL`` (2^-40, about 9e-13) times the row's largest
    magnitude is rounding, not data: every value of a quantile row is an interpolation between
    two of the unit's observations, each at most that large, and any implementation of the
    interpolation ((1 - f) a + f b, a + f (b - a), in any order) errs by a few units in the last
    place of them, about 2^-52 relative; 2^-40 leaves room for thousands of such units and is
    still far below any decrease real data can make (swapped or mislabelled columns move values
    by a sizeable fraction of their spread).  Such rows are repaired by a running maximum (which
    moves values only by that rounding); a larger decrease is an error naming the unit (its label
    from ``labels`` when given, e.g. the index of a DataFrame, else its row).

    >>> check_quantile_rows(np.array([[1.0, 1.0 - 2**-52, 2.0]])).tolist()
    [[1.0, 1.0, 2.0]]
    """
    d = np.diff(Q, axis=1)
    if not (d < 0).any():
        return Q
    scale = np.max(np.abs(Q), axis=1)
    real = (d < -MONOTONE_RTOL * scale[:, None]).any(axis=1)
    if real.any():
        i = int(np.flatnonzero(real)[0])
        j = int(np.flatnonzero(d[i] < -MONOTONE_RTOL * scale[i])[0])
        who = (f"unit {show_labels([labels[i]])[1:-1]} (row {i})" if labels is not None
               else f"row {i}")
        where = (f"q = {float(quantiles[j]):g} and q = {float(quantiles[j + 1]):g}" if quantiles is not None
                 else f"columns {j} and {j + 1}")
        raise ValueError(f"{name}: {who} decreases from {float(Q[i, j])!r} to {float(Q[i, j + 1])!r} between {where}; "
                         "each row must be a unit's quantile function (non-decreasing in q)")
    return np.maximum.accumulate(Q, axis=1)


def check_order(p, name: str = "p") -> int:
    if isinstance(p, bool) or not isinstance(p, numbers.Integral):
        if isinstance(p, numbers.Real) and not isinstance(p, bool) and float(p).is_integer() and p >= 0:
            return int(p)
        raise ValueError(f"{name}: must be a non-negative integer, got {p!r}")
    if p < 0:
        raise ValueError(f"{name}: must be a non-negative integer, got {p}")
    if p > 8:
        raise ValueError(f"{name}: orders above 8 are numerically unstable; got {p}")
    return int(p)


def check_kernel(kernel) -> str:
    if not isinstance(kernel, str) or kernel.lower() not in KERNELS:
        raise ValueError(f"kernel: unknown kernel {kernel!r}; choose one of {sorted(KERNELS)}")
    return kernel.lower()


def check_method(method) -> str:
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method: unknown method {method!r}; choose one of {METHODS}")
    return method.lower()


def check_quantile_method(method, name: str = "quantile_method") -> str:
    if not isinstance(method, str) or method not in QUANTILE_METHODS:
        raise ValueError(f"{name}: unknown quantile method {method!r}; choose one of {QUANTILE_METHODS}")
    return method


def check_choice(value, choices, name: str, what: str = "value") -> str:
    """One of a fixed set of names (case-sensitive), e.g. a residual rule or a test."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: unknown {what} {value!r}; choose one of {tuple(choices)}")
    return value


def check_flag(v, name: str) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name}: must be True or False, got {v!r}")
    return bool(v)


def check_alpha(alpha, name: str = "alpha") -> float:
    if isinstance(alpha, (bool, str, bytes, complex)) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"{name}: must be a number in (0, 1), got {type(alpha).__name__} {alpha!r}")
    a = float(alpha)
    if not (0.0 < a < 1.0):
        raise ValueError(f"{name}: must be strictly inside (0, 1), got {alpha!r}")
    return a


def check_n_boot(n_boot) -> int:
    return check_count(n_boot, "n_boot", 0)


def check_multipliers(multipliers, n_units: int, name: str = "multipliers") -> np.ndarray:
    """Bootstrap multipliers: a finite (n_units, B) matrix, column b the draws of draw b."""
    xi = as_real_array(multipliers, name)
    if xi.ndim != 2 or xi.shape[0] != n_units:
        raise ValueError(f"{name}: must be an (n_units, B) matrix with n_units = {n_units}, got shape {xi.shape}")
    if not np.all(np.isfinite(xi)):
        raise ValueError(f"{name}: contains NaN or inf")
    return xi


def check_positive_bandwidth(h, name: str = "h") -> np.ndarray:
    arr = as_real_array(h, name)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite")
    if (arr <= 0).any():
        raise ValueError(f"{name}: bandwidths must be > 0, got {arr.min()}")
    return arr


def check_treatment(t, n: int) -> np.ndarray:
    arr = as_real_array(t, "treatment", allow_bool=True)
    if arr.ndim != 1 or arr.size != n:
        raise ValueError(f"treatment: must have one value per unit ({n}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("treatment: contains NaN or inf")
    if not np.all((arr == 0) | (arr == 1)):
        bad = np.unique(arr[(arr != 0) & (arr != 1)])[:5]
        raise ValueError(f"treatment: must be 0/1 (unit-level), found values {bad.tolist()}")
    return arr


def check_sides(xc: np.ndarray) -> None:
    n_plus = int((xc >= 0).sum())
    n_minus = xc.size - n_plus
    if n_plus == 0 or n_minus == 0:
        side = "right (x >= cutoff)" if n_plus == 0 else "left (x < cutoff)"
        raise ValueError(
            f"x: all {xc.size} units are on one side of the cutoff; no unit on the {side} side"
        )


def check_seed(seed, name: str = "seed") -> np.random.Generator:
    """The one seed rule: None (fresh entropy), an int >= 0, a ``numpy.random.SeedSequence`` or
    a ``numpy.random.Generator`` (used as it is).  Checked before any work is done."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name}: must be None, an integer >= 0, a numpy SeedSequence or Generator; "
                        f"got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"{name}: must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def check_cutoff(cutoff) -> float:
    if isinstance(cutoff, (bool, str, bytes, complex)) or not isinstance(cutoff, numbers.Real):
        raise TypeError(f"cutoff: must be a real number, got {type(cutoff).__name__} {cutoff!r}")
    c = float(cutoff)
    if not np.isfinite(c):
        raise ValueError(f"cutoff: must be finite, got {cutoff!r}")
    return c


def check_count(v, name: str, minimum: int = 0) -> int:
    """An integer argument (no bools, no strings, no floats) that is at least ``minimum``."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name}: must be an integer >= {minimum}, got {type(v).__name__} {v!r}")
    if v < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {v}")
    return int(v)


def check_labels(labels, n: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit-level labels (e.g. clusters): one per unit, no missing values.  Returns the codes
    0..G-1 (in order of first appearance) and the labels."""
    if isinstance(labels, (str, bytes, Mapping, Set, Iterator)):
        raise TypeError(f"{name}: must be an array or a list with one label per unit, got a {type(labels).__name__}")
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size != n:
        raise ValueError(f"{name}: must have one label per unit ({n}), got shape {arr.shape}")
    s = pd.Series(arr)
    if s.isna().any():
        raise ValueError(f"{name}: has {int(s.isna().sum())} missing labels")
    codes, uniq = pd.factorize(s, sort=False)
    return codes.astype(np.int64), np.asarray(uniq)
