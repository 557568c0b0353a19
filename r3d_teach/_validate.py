"""Input validation at the public doors (``r3d``, ``unit_quantiles``, ``select_bandwidth``).

Every check raises ``ValueError`` (or ``TypeError``) naming the argument and what was wrong.
Inner modules trust their inputs.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from .kernels import KERNELS

METHODS = ("frechet", "simple")


def check_running_variable(x, name: str = "x") -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: must be a 1-D numeric array ({exc})") from None
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
        Y = np.asarray(y, dtype=float)
        if Y.shape[1] == 0:
            raise ValueError(f"{name}: unit 0 has an empty sample")
        finite = np.isfinite(Y).all(axis=1)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise ValueError(f"{name}: unit {i} contains NaN or inf ({int((~np.isfinite(Y[i])).sum())} values); "
                             "remove or impute them first (nothing is dropped silently)")
        return Y
    if isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
        raise TypeError(f"{name}: must be a sequence of 1-D arrays (one sample per unit)")
    out = []
    for i, v in enumerate(y):
        try:
            a = np.asarray(v, dtype=float).ravel()
        except (TypeError, ValueError):
            raise TypeError(f"{name}: unit {i} is not numeric") from None
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
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
        raise TypeError(f"{name}: must be a sequence of 1-D arrays, one per unit, shaped like y")
    if isinstance(y, np.ndarray) and y.ndim == 2:
        y = list(y)
    if len(weights) != len(y):
        raise ValueError(f"{name}: has {len(weights)} units but y has {len(y)}")
    out = []
    for i, (w, v) in enumerate(zip(weights, y)):
        a = np.asarray(w, dtype=float).ravel()
        if a.size != v.size:
            raise ValueError(f"{name}: unit {i} has {a.size} weights but {v.size} observations")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: unit {i} contains NaN or inf")
        if (a < 0).any():
            raise ValueError(f"{name}: unit {i} has negative weights")
        if a.sum() <= 0:
            raise ValueError(f"{name}: the weights of unit {i} sum to zero")
        out.append(a)
    return out


def check_quantile_grid(quantiles, name: str = "quantiles") -> np.ndarray:
    q = np.asarray(quantiles, dtype=float)
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


def check_order(p, name: str = "p") -> int:
    if isinstance(p, bool) or not isinstance(p, numbers.Integral):
        if isinstance(p, numbers.Real) and float(p).is_integer() and p >= 0:
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


def check_alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise TypeError(f"alpha: must be a number in (0, 1), got {alpha!r}") from None
    if not (0.0 < a < 1.0):
        raise ValueError(f"alpha: must be strictly inside (0, 1), got {alpha!r}")
    return a


def check_n_boot(n_boot) -> int:
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral):
        raise TypeError(f"n_boot: must be a non-negative integer, got {n_boot!r}")
    if n_boot < 0:
        raise ValueError(f"n_boot: must be non-negative, got {n_boot}")
    return int(n_boot)


def check_positive_bandwidth(h, name: str = "h") -> np.ndarray:
    arr = np.asarray(h, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite")
    if (arr <= 0).any():
        raise ValueError(f"{name}: bandwidths must be > 0, got {arr.min()}")
    return arr


def check_treatment(t, n: int) -> np.ndarray:
    try:
        arr = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise TypeError("treatment: must be a 1-D array of 0/1 values") from None
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


def as_sequence_of_arrays(y: Sequence) -> bool:
    return isinstance(y, (list, tuple)) or (isinstance(y, np.ndarray) and y.dtype == object)
