r"""What a reader would naively do: classical RD estimators that ignore the unit structure.

* :func:`quantile_rd` -- **classical quantile RD** on the *pooled* draws (Frandsen, Froelich and
  Melly 2012, sharp design): every draw :math:`Y_{ij}` is treated as a scalar outcome with running
  variable :math:`X_i`. On each side of the cutoff the conditional CDF at the cutoff is a local
  polynomial (default local linear) regression of the indicators :math:`1\{Y_{ij} \le y\}` on
  :math:`(X_i - c)/h` with kernel weights :math:`K((X_i - c)/h)`,

  .. math:: \hat F_\pm(y) = e_0'\Big(\sum_{i\,\in\,\pm} n_i K_i r_i r_i'\Big)^{-1}
            \sum_{i\,\in\,\pm} K_i r_i \sum_{j=1}^{n_i} 1\{Y_{ij} \le y\}
            = \sum_{i\,\in\,\pm}\ell_i \sum_j 1\{Y_{ij}\le y\},

  :math:`r_i = (1, \tilde X_i/h, \dots, (\tilde X_i/h)^p)'`. It is monotonised (monotone
  rearrangement by default) and inverted, :math:`\hat Q_\pm(q) = \inf\{y: \tilde F_\pm(y)\ge q\}`,
  and the estimate is :math:`\hat Q_+(q) - \hat Q_-(q)`. It estimates the quantile difference of
  the two pooled **mixture** laws :math:`E[Y\mid X=0^\pm]`, not the LAQTE
  (``SimulatedRD.pooled_truth`` vs ``SimulatedRD.truth``; Van Dijcke 2025, section 2.4).

* :func:`unit_mean_rd` -- a standard scalar RD on unit means (local polynomial, returns the
  jump). With ``weights="unit"`` it targets the unweighted group-level ATE, which equals the LAQTE
  averaged over q; with ``weights="obs"`` (each unit weighted by its number of draws) it is the
  disaggregated RD, a group-size-weighted ATE.

Implementation: one weighted least-squares problem with many right-hand sides. Since the draws of a
unit share :math:`X_i`, the many right-hand sides collapse: :math:`\hat F(y)` is the cumulative sum
of the equivalent-kernel weights :math:`\ell_i` of the pooled draws sorted by value, so the whole
step function is exact at every data value in O(N log N) time and O(N) memory (no N x K indicator
matrix). A user ``y_grid`` evaluates it at those points only. The weights come from
:func:`r3d_teach.core.locpoly.local_poly_fit` with unit weights :math:`n_i` (the fit R3D uses, so the
two share one implementation and one singularity check): :math:`\ell_i = w_i / n_i`.

Example
-------
>>> import numpy as np
>>> from r3d_teach.simulate import HeterogeneousShape
>>> from r3d_teach.simulate.baselines import quantile_rd, unit_mean_rd
>>> design = HeterogeneousShape()
>>> sim = design.sample(20_000, 50, seed=2)
>>> res = quantile_rd(sim.x, sim.y_matrix, h=0.5, quantiles=[0.1, 0.9])
>>> np.round(res.tau, 2).tolist()                          # near the pooled target ...
[1.49, 2.46]
>>> np.round(design.pooled_truth([0.1, 0.9]), 2).tolist(), np.round(design.truth([0.1, 0.9]), 2).tolist()
([1.53, 2.47], [1.37, 2.63])
>>> round(unit_mean_rd(sim.x, sim.y_matrix, h=0.5).estimate, 1)   # ... the average effect is 2
2.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..core.locpoly import local_poly_fit
from ..core.quantiles import DECILES
from ..core.validate import (as_real_array, check_cutoff, check_kernel, check_order, check_positive_bandwidth,
                             check_quantile_grid, check_running_variable, check_samples)

__all__ = ["quantile_rd", "unit_mean_rd", "QuantileRDResult", "ScalarRDResult"]

MONOTONE_RULES = ("rearrange", "none")
WEIGHT_RULES = ("unit", "obs")
#: the two sides, as (name in results, side of local_poly_fit)
_SIDES = (("plus", "+"), ("minus", "-"))


@dataclass
class QuantileRDResult:
    """Result of :func:`quantile_rd`.

    ``tau = q_plus - q_minus`` at ``quantiles``; ``grid_plus``/``cdf_plus`` (and minus) hold the
    raw (not monotonised) local-polynomial CDF estimates at the grid points used;
    ``n_plus``/``n_minus`` count units with positive kernel weight.
    """

    quantiles: np.ndarray
    tau: np.ndarray
    q_plus: np.ndarray
    q_minus: np.ndarray
    h: float
    grid_plus: np.ndarray
    cdf_plus: np.ndarray
    grid_minus: np.ndarray
    cdf_minus: np.ndarray
    n_plus: int
    n_minus: int


@dataclass
class ScalarRDResult:
    """Result of :func:`unit_mean_rd`: ``estimate = plus - minus`` (the two intercepts)."""

    estimate: float
    plus: float
    minus: float
    h: float
    n_plus: int
    n_minus: int


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _check_common(x: Any, h: Any, cutoff: Any, kernel: Any, p: Any) -> tuple[np.ndarray, float, float, str, int]:
    xa = check_running_variable(x)
    if xa.size < 2:
        raise ValueError(f"x: needs at least 2 units, got {xa.size}")
    ha = check_positive_bandwidth(h)
    if ha.ndim != 0:
        raise ValueError(f"h: must be one number (a single bandwidth), got shape {ha.shape}")
    return xa, float(ha), check_cutoff(cutoff), check_kernel(kernel), check_order(p)


def _units(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat values, sizes) from a list of 1-D arrays, an (n, k) matrix, or n scalars."""
    if isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype != object:  # n scalar outcomes
        flat = as_real_array(y, "y")
        if not np.all(np.isfinite(flat)):
            raise ValueError(f"y: unit {int(np.flatnonzero(~np.isfinite(flat))[0])} contains NaN or inf")
        sizes = np.ones(flat.size, dtype=np.int64)
    else:
        rows = check_samples(y, "y")
        if isinstance(rows, np.ndarray):  # (n, k) matrix
            flat, sizes = rows.ravel(), np.full(rows.shape[0], rows.shape[1], dtype=np.int64)
        else:
            sizes = np.fromiter((r.size for r in rows), dtype=np.int64, count=len(rows))
            flat = np.concatenate(rows) if rows else np.empty(0)
    if sizes.size != n:
        raise ValueError(f"y: has {sizes.size} units but x has {n}")
    return flat, sizes


def _invert(grid: np.ndarray, F: np.ndarray, q: np.ndarray, monotone: str) -> np.ndarray:
    """Quantiles of the step function F (value F[k] on [grid[k], grid[k+1])).

    "none": inf{grid[k] : F[k] >= q}.  "rearrange": quantile of the monotone rearrangement of F
    over [grid[0], grid[-1]] (Chernozhukov, Fernandez-Val and Galichon 2010), which is
    grid[0] + |{t : F(t) < q}| = grid[0] + sum_k d_k 1{F[k] < q}, d_k = grid[k+1] - grid[k].
    Both equal the plain generalised inverse when F is already non-decreasing.
    """
    Fc = np.clip(F, 0.0, 1.0)
    if monotone == "none":
        # first index with F >= q, via the running maximum (same first crossing)
        run = np.maximum.accumulate(Fc)
        idx = np.searchsorted(run, q, side="left")
        return grid[np.minimum(idx, grid.size - 1)]
    d = np.diff(grid)
    Fk = Fc[:-1]
    order = np.argsort(Fk, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(d[order])])
    cnt = np.searchsorted(Fk[order], q, side="left")  # number of pieces with F < q
    return grid[0] + cum[cnt]


# --------------------------------------------------------------------------------------------
# public estimators
# --------------------------------------------------------------------------------------------
def quantile_rd(x: np.ndarray, y: Any, *, h: float, cutoff: float = 0.0,
                quantiles: Sequence[float] | np.ndarray = DECILES, kernel: str = "triangular", p: int = 1,
                y_grid: np.ndarray | None = None, monotone: str = "rearrange") -> QuantileRDResult:
    r"""Classical (pooled) quantile RD, sharp design: what a naive reader would do.

    Pools all draws as scalar outcomes, estimates the two conditional CDFs at the cutoff by local
    polynomial regression of :math:`1\{Y_{ij}\le y\}` on :math:`(X_i-c)/h` (kernel ``kernel``,
    bandwidth ``h``, order ``p``; every draw weighted :math:`K((X_i-c)/h)`, so units with more draws
    count more), clips them to [0, 1], monotonises them (``monotone="rearrange"``: monotone
    rearrangement; ``"none"``: first crossing) and inverts them:
    :math:`\hat\tau_{QRD}(q) = \hat Q_+(q) - \hat Q_-(q)`.

    Parameters
    ----------
    x : (n,) running variable; y : list of n 1-D arrays of draws, an (n, k) matrix, or n scalars.
    h : bandwidth (required; no selector here). cutoff : c; units with x >= c are treated.
    y_grid : optional points at which to evaluate the CDFs; by default every distinct pooled draw in
        the window on that side (exact).

    It targets the quantile difference of the pooled mixture laws (``Design.pooled_truth``),
    which equals the LAQTE only in special cases such as a common location shift.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-1, 1, 20000)
    >>> y = 1 + x + rng.standard_normal(20000) + 2.0 * (x >= 0)   # scalar outcomes, QTE = 2
    >>> res = quantile_rd(x, y, h=0.5, quantiles=[0.5])
    >>> bool(abs(res.tau[0] - 2.0) < 0.15)
    True
    """
    xa, hf, c, kernel, p = _check_common(x, h, cutoff, kernel, p)
    q = check_quantile_grid(quantiles)
    if monotone not in MONOTONE_RULES:
        raise ValueError(f"monotone: must be one of {MONOTONE_RULES}, got {monotone!r}")
    grid_user = None
    if y_grid is not None:
        grid_user = as_real_array(y_grid, "y_grid")
        if grid_user.ndim != 1 or grid_user.size < 2 or not np.all(np.diff(grid_user) > 0):
            raise ValueError("y_grid: must be a strictly increasing 1-D array with at least 2 points")
    flat, sizes = _units(y, xa.size)
    xt = xa - c
    unit_of = np.repeat(np.arange(xa.size), sizes)
    mass = sizes.astype(float)

    out = {}
    for name, side in _SIDES:
        # weights w_i = n_i K_i r_i' S^{-1} e_0 of the fit with S = sum_i n_i K_i r_i r_i'
        fit = local_poly_fit(xt, np.zeros(xa.size), hf, p, kernel=kernel, side=side, unit_weights=mass)
        in_window = fit.kernel_weights[:, 0] > 0
        ell = fit.weights[:, 0] / mass  # weight of each of unit i's draws
        obs = in_window[unit_of]
        vals = flat[obs]
        order = np.argsort(vals, kind="stable")
        vs = vals[order]
        cw = np.cumsum(ell[unit_of[obs]][order])
        if grid_user is None:
            last = np.concatenate([vs[1:] != vs[:-1], [True]])
            grid, F = vs[last], cw[last]
        else:
            pos = np.searchsorted(vs, grid_user, side="right")
            grid = grid_user
            F = np.where(pos > 0, cw[np.maximum(pos - 1, 0)], 0.0)
        Q = np.full(q.shape, grid[0]) if grid.size == 1 else _invert(grid, F, q, monotone)
        out[name] = (grid, F, Q, int(in_window.sum()))

    gp, Fp, Qp, n_p = out["plus"]
    gm, Fm, Qm, n_m = out["minus"]
    return QuantileRDResult(quantiles=q, tau=Qp - Qm, q_plus=Qp, q_minus=Qm, h=hf,
                            grid_plus=gp, cdf_plus=Fp, grid_minus=gm, cdf_minus=Fm,
                            n_plus=n_p, n_minus=n_m)


def unit_mean_rd(x: np.ndarray, y: Any, *, h: float, cutoff: float = 0.0,
                 kernel: str = "triangular", p: int = 1, weights: str = "unit") -> ScalarRDResult:
    r"""Scalar RD on unit means: local polynomial fits of :math:`\bar Y_i` on :math:`(X_i-c)/h`
    on each side, weights :math:`K_i` (``weights="unit"``) or :math:`n_iK_i` (``"obs"``, the
    disaggregated RD); returns the jump of the intercepts.

    ``weights="unit"`` targets :math:`E[\bar Y^1 - \bar Y^0\mid X=0] = \int_0^1\tau(q)\,dq`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-1, 1, 4000)
    >>> ybar = 1 + x + 0.5 * rng.standard_normal(4000) + 1.5 * (x >= 0)
    >>> bool(abs(unit_mean_rd(x, ybar, h=0.5).estimate - 1.5) < 0.15)
    True
    """
    xa, hf, c, kernel, p = _check_common(x, h, cutoff, kernel, p)
    if weights not in WEIGHT_RULES:
        raise ValueError(f"weights: must be one of {WEIGHT_RULES}, got {weights!r}")
    flat, sizes = _units(y, xa.size)
    means = np.bincount(np.repeat(np.arange(xa.size), sizes), weights=flat, minlength=xa.size) / sizes
    mass = sizes.astype(float) if weights == "obs" else None
    est = {}
    for name, side in _SIDES:
        fit = local_poly_fit(xa - c, means, hf, p, kernel=kernel, side=side, unit_weights=mass)
        est[name] = (float(fit.intercept[0]), int((fit.kernel_weights[:, 0] > 0).sum()))
    return ScalarRDResult(estimate=est["plus"][0] - est["minus"][0], plus=est["plus"][0],
                          minus=est["minus"][0], h=hf, n_plus=est["plus"][1], n_minus=est["minus"][1])
