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
matrix). A user ``y_grid`` evaluates it at those points only.

Example
-------
>>> import numpy as np
>>> from r3d_teach.simulate import heterogeneous_shape
>>> from r3d_teach.baselines import quantile_rd, unit_mean_rd
>>> sim = heterogeneous_shape(2000, 100, seed=1)
>>> res = quantile_rd(sim.x, sim.y, h=0.5, quantiles=[0.1, 0.9])
>>> res.tau.shape
(2,)
>>> round(unit_mean_rd(sim.x, sim.y, h=0.5).estimate, 0)
2.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .kernels import KERNELS, get_kernel

__all__ = ["quantile_rd", "unit_mean_rd", "QuantileRDResult", "ScalarRDResult"]

_KERNELS = tuple(KERNELS)


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
def _check_common(x: Any, h: Any, cutoff: Any, kernel: Any, p: Any) -> tuple[np.ndarray, float, float]:
    xa = np.asarray(x, dtype=float)
    if xa.ndim != 1 or xa.size < 2 or not np.all(np.isfinite(xa)):
        raise ValueError("x must be a finite 1-D array with at least 2 units")
    try:
        hf = float(h)
    except (TypeError, ValueError):
        raise ValueError(f"h must be a positive number, got {h!r}") from None
    if not np.isfinite(hf) or hf <= 0:
        raise ValueError(f"h must be a positive number, got {h!r}")
    try:
        c = float(cutoff)
    except (TypeError, ValueError):
        raise ValueError(f"cutoff must be a finite number, got {cutoff!r}") from None
    if not np.isfinite(c):
        raise ValueError(f"cutoff must be a finite number, got {cutoff!r}")
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {_KERNELS}, got {kernel!r}")
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0:
        raise ValueError(f"p must be a non-negative integer, got {p!r}")
    return xa, hf, c


def _units(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat values, sizes) from a list of 1-D arrays, an (n, k) matrix, or n scalars."""
    if isinstance(y, np.ndarray) and y.ndim == 2:
        if y.shape[0] != n:
            raise ValueError(f"y must have one row per unit ({n}), got {y.shape[0]}")
        flat = np.asarray(y, dtype=float).ravel()
        sizes = np.full(n, y.shape[1], dtype=np.int64)
    elif isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype != object:
        if y.shape[0] != n:
            raise ValueError(f"y must have one value per unit ({n}), got {y.shape[0]}")
        flat = y.astype(float)
        sizes = np.ones(n, dtype=np.int64)
    else:
        try:
            rows = [np.atleast_1d(np.asarray(r, dtype=float)) for r in y]
        except (TypeError, ValueError):
            raise ValueError("y must be a list of 1-D numeric arrays, a 2-D array or a 1-D array") from None
        if len(rows) != n:
            raise ValueError(f"y must have one entry per unit ({n}), got {len(rows)}")
        if any(r.ndim != 1 for r in rows):
            raise ValueError("y must be a list of 1-D numeric arrays")
        sizes = np.fromiter((r.size for r in rows), dtype=np.int64, count=n)
        flat = np.concatenate(rows) if n else np.empty(0)
    if np.any(sizes < 1):
        raise ValueError("y: every unit needs at least one draw")
    if not np.all(np.isfinite(flat)):
        raise ValueError("y must be finite (drop missing draws first)")
    return flat, sizes


def _side_weights(xt: np.ndarray, k: np.ndarray, mass: np.ndarray, h: float, p: int,
                  side: str) -> np.ndarray:
    """Equivalent-kernel weights l_i = K_i e0' S^{-1} r_i, S = sum_i mass_i K_i r_i r_i'."""
    r = np.vander(xt / h, p + 1, increasing=True)  # (m, p+1)
    S = (r * (mass * k)[:, None]).T @ r
    n_units = int(np.count_nonzero(k))
    if n_units <= p or np.linalg.cond(S) > 1e12:
        raise ValueError(f"local polynomial fit on the {side} side is singular: {n_units} unit(s) "
                         f"in the window for order p = {p}; increase h")
    return k * (r @ np.linalg.solve(S, np.eye(p + 1)[:, 0]))


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
                quantiles: Sequence[float] | np.ndarray = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                kernel: str = "triangular", p: int = 1, y_grid: np.ndarray | None = None,
                monotone: str = "rearrange") -> QuantileRDResult:
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

    It targets the quantile difference of the pooled mixture laws (``SimulatedRD.pooled_truth``),
    which equals the LAQTE only in special cases such as a common location shift.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-1, 1, 20000)
    >>> y = 1 + x + rng.standard_normal(20000) + 2.0 * (x >= 0)   # scalar outcomes, QTE = 2
    >>> res = quantile_rd(x, y, h=0.5, quantiles=[0.5])
    >>> bool(abs(res.tau[0] - 2.0) < 0.15)
    True
    """
    xa, hf, c = _check_common(x, h, cutoff, kernel, p)
    q = np.atleast_1d(np.asarray(quantiles, dtype=float))
    if q.ndim != 1 or q.size == 0 or not np.all((q > 0) & (q < 1)):
        raise ValueError("quantiles must be a non-empty 1-D sequence strictly inside (0, 1)")
    if monotone not in ("rearrange", "none"):
        raise ValueError(f"monotone must be 'rearrange' or 'none', got {monotone!r}")
    grid_user = None
    if y_grid is not None:
        grid_user = np.asarray(y_grid, dtype=float)
        if grid_user.ndim != 1 or grid_user.size < 2 or not np.all(np.diff(grid_user) > 0):
            raise ValueError("y_grid must be a strictly increasing 1-D array with at least 2 points")
    flat, sizes = _units(y, xa.size)
    xt = xa - c
    k_all = get_kernel(kernel)(xt / hf)
    unit_of = np.repeat(np.arange(xa.size), sizes)

    out = {}
    for side, mask in (("plus", xt >= 0), ("minus", xt < 0)):
        sel = mask & (k_all > 0)
        idx = np.flatnonzero(sel)
        if idx.size == 0:
            raise ValueError(f"no units in the window on the {side} side; increase h")
        ell = np.zeros(xa.size)
        ell[idx] = _side_weights(xt[idx], k_all[idx], sizes[idx].astype(float), hf, p, side)
        obs = sel[unit_of]
        vals = flat[obs]
        w = ell[unit_of[obs]]
        order = np.argsort(vals, kind="stable")
        vs = vals[order]
        cw = np.cumsum(w[order])
        if grid_user is None:
            last = np.concatenate([vs[1:] != vs[:-1], [True]])
            grid, F = vs[last], cw[last]
        else:
            pos = np.searchsorted(vs, grid_user, side="right")
            grid = grid_user
            F = np.where(pos > 0, cw[np.maximum(pos - 1, 0)], 0.0)
        if grid.size == 1:
            Q = np.full(q.shape, grid[0])
        else:
            Q = _invert(grid, F, q, monotone)
        out[side] = (grid, F, Q, idx.size)

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
    xa, hf, c = _check_common(x, h, cutoff, kernel, p)
    if weights not in ("unit", "obs"):
        raise ValueError(f"weights must be 'unit' or 'obs', got {weights!r}")
    flat, sizes = _units(y, xa.size)
    unit_of = np.repeat(np.arange(xa.size), sizes)
    means = np.bincount(unit_of, weights=flat, minlength=xa.size) / sizes
    xt = xa - c
    k_all = get_kernel(kernel)(xt / hf)
    mass = sizes.astype(float) if weights == "obs" else np.ones(xa.size)
    est = {}
    for side, mask in (("plus", xt >= 0), ("minus", xt < 0)):
        idx = np.flatnonzero(mask & (k_all > 0))
        if idx.size == 0:
            raise ValueError(f"no units in the window on the {side} side; increase h")
        ell = _side_weights(xt[idx], k_all[idx], mass[idx], hf, p, side)
        est[side] = (float(np.sum(ell * mass[idx] * means[idx])), idx.size)
    return ScalarRDResult(estimate=est["plus"][0] - est["minus"][0], plus=est["plus"][0],
                          minus=est["minus"][0], h=hf, n_plus=est["plus"][1], n_minus=est["minus"][1])
