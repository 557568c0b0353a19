"""The Gini coefficient of a distribution given by its quantile curve, for the centred Gini test
of the sharp design (Van Dijcke 2025, §4.3; book chapter 5).

Example
-------
>>> import numpy as np
>>> from r3d_teach.core.gini import gini_from_quantiles
>>> q = np.linspace(0.001, 0.999, 999)
>>> round(float(gini_from_quantiles(q, q)), 3)          # uniform on (0, 1): Gini = 1/3
0.333
>>> float(gini_from_quantiles(np.full(5, 2.0), np.linspace(0.1, 0.9, 5)))   # a point mass
0.0
>>> gini_from_quantiles(np.array([2.0]), np.array([0.5]))                  # nothing to integrate
Traceback (most recent call last):
...
ValueError: quantiles: the Gini coefficient integrates the quantile curve and needs a 1-D grid of at least 2 levels; got 1 (use e.g. np.arange(1, 100) / 100)
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["gini_from_quantiles", "check_gini_grid", "GINI_MIN_LEVELS", "GINI_LOW", "GINI_HIGH"]


def gini_from_quantiles(Q: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Gini coefficient of distributions given by quantile curves (last axis), as in R3D.

    Extend the curve flat to q = 0 and q = 1, μ = ∫Q (trapezoid), Lorenz curve
    L(p) = ∫_0^p Q / μ, Gini = 1 - 2 ∫_0^1 L, clipped to [0, 1]; NaN where μ ≤ 0.  A grid of one
    level has nothing to integrate (its flat extension is a point mass, Gini 0 whatever the
    distribution): an error.
    """
    q = np.asarray(quantiles, dtype=float)
    Q = np.asarray(Q, dtype=float)
    if q.ndim != 1 or q.size < 2:
        raise ValueError(f"quantiles: the Gini coefficient integrates the quantile curve and needs a 1-D grid of at "
                         f"least 2 levels; got {q.size} (use e.g. np.arange(1, 100) / 100)")
    if Q.shape[-1] != q.size:
        raise ValueError(f"Q: its last axis ({Q.shape[-1]}) must match the grid ({q.size} levels)")
    qq = np.concatenate([[0.0] if q[0] > 0 else [], q, [1.0] if q[-1] < 1 else []])
    parts = []
    if q[0] > 0:
        parts.append(Q[..., :1])
    parts.append(Q)
    if q[-1] < 1:
        parts.append(Q[..., -1:])
    QQ = np.concatenate(parts, axis=-1)
    dq = np.diff(qq)
    seg = 0.5 * (QQ[..., 1:] + QQ[..., :-1]) * dq
    cum = np.concatenate([np.zeros(QQ.shape[:-1] + (1,)), np.cumsum(seg, axis=-1)], axis=-1)
    mu = cum[..., -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        L = cum / mu[..., None]
        area = np.sum(0.5 * (L[..., 1:] + L[..., :-1]) * dq, axis=-1)
        g = np.clip(1.0 - 2.0 * area, 0.0, 1.0)
    return np.where(mu > 0, g, np.nan)


#: the Gini test needs at least this many levels, and a grid reaching below GINI_LOW and above
#: GINI_HIGH (the flat extension to 0 and 1 dominates the coefficient otherwise)
GINI_MIN_LEVELS = 5
GINI_LOW, GINI_HIGH = 0.1, 0.9


def check_gini_grid(quantiles: np.ndarray, stacklevel: int = 3) -> None:
    """Refuse a grid that cannot carry a Gini coefficient (fewer than GINI_MIN_LEVELS levels),
    and warn when it is far from spanning (0, 1) (``stacklevel``: of the warning, the caller's caller)."""
    q = np.asarray(quantiles, dtype=float)
    if q.size < GINI_MIN_LEVELS:
        raise ValueError(f"tests: the Gini test needs a grid of at least {GINI_MIN_LEVELS} levels spanning "
                         f"(0, 1); this one has {q.size} (use e.g. quantiles=np.arange(1, 100) / 100)")
    if q[0] > GINI_LOW or q[-1] < GINI_HIGH:
        warnings.warn(f"tests: the grid [{q[0]:g}, {q[-1]:g}] is far from spanning (0, 1); the Gini "
                      "coefficients extend each curve flat beyond it and are mostly extrapolation",
                      UserWarning, stacklevel=stacklevel)
