"""Residual rules of the influence terms and the bootstrap (book chapter 5).

The influence term of unit i multiplies its equivalent-kernel weight by a residual of the
order-p fit at b, ê_i(q) = Q_i(q) - (order-p fit)(X̃_i), taken for **every** unit in the window
and corrected for the unit's leverage ℓ_i = K_i r_i'S⁻¹r_i (the hat matrix's diagonal):

* ``"hc2"`` (``r3d``'s default with the studentized band): ê_i / √(1 - ℓ_i), unbiased for the
  variance under homoskedastic errors (rdrobust's ``vce="hc2"``); the rule the Bell-McCaffrey
  degrees of freedom of :mod:`r3d_teach.core.dof` go with (Imbens and Kolesár 2016);
* ``"hc3"`` (the default with the unweighted band): ê_i / (1 - ℓ_i), a jackknife-like residual
  that errs on the large side (rdrobust's ``vce="hc3"``);
* ``"raw"``: ê_i;
* ``"nn"``: nearest-neighbour residuals √(J/(J+1)) (Y_i - mean of the J units nearest in X̃ on
  the same side), J = 3 (rdrobust's ``vce="nn"``).

Where 1 - ℓ_i is below :data:`LEVERAGE_ONE` the residual is left uncorrected.

Example
-------
>>> import numpy as np
>>> from r3d_teach.core.residuals import bootstrap_residuals
>>> Y, fit, lev = np.array([[2.0], [1.0]]), np.array([[1.5], [1.5]]), np.array([[0.5], [0.75]])
>>> inside = np.array([[True], [True]])
>>> bootstrap_residuals(Y, fit, lev, inside, "hc3").ravel().tolist()    # ê / (1 - ℓ)
[1.0, -2.0]
>>> bootstrap_residuals(Y, fit, lev, inside, "raw").ravel().tolist()
[0.5, -0.5]
"""
from __future__ import annotations

import numpy as np

from .validate import check_choice

__all__ = ["RESIDUAL_RULES", "LEVERAGE_ONE", "bootstrap_residuals", "cluster_blocks", "leverage_divisor",
           "nn_residuals"]

RESIDUAL_RULES = ("hc3", "hc2", "nn", "raw")
#: 1 - ℓ below this counts as a leverage of one (no leverage correction there)
LEVERAGE_ONE = 1e-10


def nn_residuals(xc: np.ndarray, Y: np.ndarray, side_mask: np.ndarray, J: int = 3) -> np.ndarray:
    """Nearest-neighbour residuals (rdrobust's ``vce="nn"``): √(J/(J+1)) (Y_i - mean of the
    J units nearest in X̃ on the same side).  Returns (n, M), 0 off-side."""
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    out = np.zeros_like(Y)
    idx = np.flatnonzero(side_mask)
    if idx.size <= J:
        raise ValueError(f"residuals: 'nn' needs more than {J} units on each side")
    order = idx[np.argsort(xc[idx], kind="stable")]
    xs = xc[order]
    ns = xs.size
    offs = np.concatenate([np.arange(-J, 0), np.arange(1, J + 1)])
    cand = np.arange(ns)[:, None] + offs[None, :]
    valid = (cand >= 0) & (cand < ns)
    candc = np.clip(cand, 0, ns - 1)
    dist = np.where(valid, np.abs(xs[candc] - xs[:, None]), np.inf)
    pick = np.take_along_axis(candc, np.argsort(dist, axis=1, kind="stable")[:, :J], axis=1)
    Ys = Y[order]
    out[order] = np.sqrt(J / (J + 1.0)) * (Ys - Ys[pick].mean(axis=1))
    return out


def bootstrap_residuals(Y, fitted, leverage, in_window, rule: str = "hc3", nn=None):
    """Residuals ê_i(q) = Y_i(q) - fit_i(q) for every unit in the window, 0 elsewhere.

    ``rule``: "hc3" ê/(1-ℓ), "hc2" ê/√(1-ℓ), "raw", or "nn" (then ``nn`` holds the
    nearest-neighbour residuals of :func:`nn_residuals` for the same rows).  ℓ is the leverage
    of the estimation fit.  All arrays share one shape (units × quantiles).
    """
    check_choice(rule, RESIDUAL_RULES, "residuals", "rule")
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if rule == "nn":
        return np.where(in_window, nn, 0.0)
    e = np.where(in_window, Y - fitted, 0.0)
    if rule == "raw":
        return e
    return e / leverage_divisor(leverage, rule)


def leverage_divisor(leverage, rule: str = "hc3") -> np.ndarray:
    """What ê is divided by: 1 - ℓ ("hc3"), √(1 - ℓ) ("hc2"), and 1 for "raw" and "nn" and
    wherever 1 - ℓ ≤ :data:`LEVERAGE_ONE` (no correction there).

    >>> leverage_divisor(np.array([0.5, 0.75, 1.0])).tolist()
    [0.5, 0.25, 1.0]
    """
    one_minus = 1.0 - np.asarray(leverage, dtype=float)
    if rule not in ("hc3", "hc2"):
        return np.ones_like(one_minus)
    scale = np.where(one_minus > LEVERAGE_ONE, one_minus, 1.0)
    return np.sqrt(scale) if rule == "hc2" else scale


def cluster_blocks(clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The units of each cluster as a padded (G, g_max) index array, for the per-cluster blocks of
    CR3: ``idx[g, s]`` is the s-th unit (in input order) of the g-th cluster (sorted codes), -1
    past the cluster's size; ``pad = idx < 0``; ``safe`` is ``idx`` with the padding set to 0 (to
    gather with, then mask by ``pad``).

    >>> idx, pad, safe = cluster_blocks(np.array([7, 3, 7, 7]))
    >>> idx.tolist(), pad.sum().item(), safe.min().item()
    ([[1, -1, -1], [0, 2, 3]], 2, 0)
    """
    codes, g_of = np.unique(clusters, return_inverse=True)
    order = np.argsort(g_of, kind="stable")
    counts = np.bincount(g_of, minlength=codes.size)
    slot = np.arange(g_of.size) - np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.full((codes.size, int(counts.max())), -1)
    idx[g_of[order], slot] = order
    pad = idx < 0
    return idx, pad, np.where(pad, 0, idx)
