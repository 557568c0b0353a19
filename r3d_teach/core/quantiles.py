"""Unit quantile functions, the 2-Wasserstein distance and the barycenter (book chapter 1).

Each unit i contributes a sample Z_i1..Z_ik (k = k_i); R3D replaces it by its empirical
quantile function evaluated on a grid q_1 < ... < q_M, giving the n × M matrix Q̂.

Definitions (Van Dijcke 2025, §3.3.2; Hyndman and Fan 1996):

* ``"linear"`` (type 7, the default, as in R's ``quantile`` and R3D 0.1.0): with the sorted
  sample z_(1) ≤ ... ≤ z_(k) and h = (k - 1) q + 1,
  Q̂(q) = z_(⌊h⌋) + (h - ⌊h⌋)(z_(⌊h⌋+1) - z_(⌊h⌋)).
* ``"inverted_cdf"`` (type 1, the paper's definition): Q̂(q) = inf{z : F̂(z) ≥ q}, the
  left-continuous inverse of the empirical cdf.  Computed exactly: when k·q is an integer
  up to rounding (e.g. 25 × 0.28) the level is treated as that integer, as R's type 1 does
  with its fuzz; ``numpy.quantile(method="inverted_cdf")`` can step one order statistic too
  far there.
* Weighted (type 7 analogue, the rule of ``Hmisc::wtd.quantile(normwt=TRUE)`` used by R3D):
  weights rescaled to sum to k; with cumulative weights c_1 ≤ ... ≤ c_k of the sorted sample,
  o = 1 + (k - 1) q, lo = max(⌊o⌋, 1), hi = min(lo + 1, k) and v(t) = z_(j) for the smallest j
  with c_j ≥ t (clamped to the ends), Q̂(q) = (1 - frac(o)) v(lo) + frac(o) v(hi).
  With equal weights this is exactly type 7.  Weighted ``"inverted_cdf"``:
  Q̂(q) = z_(j) for the smallest j with c_j / k ≥ q.
* Monotone to the last bit: the interpolations above are non-decreasing in q in exact
  arithmetic, but in floating point (1 - f) a + f b can step down by a unit in the last place
  (tied values, or the end of one interval and the start of the next).  Every row is therefore
  passed through a running maximum (:func:`monotone_rows`), which moves a value only by that
  rounding, so Q̂ is exactly non-decreasing on every route (:func:`linear_step` and
  :func:`weighted_step` are the final steps shared with :mod:`r3d_teach.outofcore`).

Everything is vectorised over units: the samples are concatenated and sorted once.

Example
-------
>>> import numpy as np
>>> from r3d_teach import unit_quantiles
>>> unit_quantiles([np.array([3.0, 1.0, 2.0]), np.array([10.0, 0.0])], [0.25, 0.5])
array([[1.5, 2. ],
       [2.5, 5. ]])
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .validate import QUANTILE_METHODS, check_quantile_grid, check_quantile_method, check_samples, check_unit_weights

__all__ = [
    "unit_quantiles",
    "grid_weights",
    "wasserstein2",
    "barycenter",
    "standardise",
    "safe_scale",
    "inverse_edf_rank",
    "linear_step",
    "weighted_step",
    "weighted_targets",
    "monotone_rows",
    "row_blocks",
    "take_rows",
    "CentredRows",
    "standardised_rows",
    "max_abs",
    "check_quantile_matrix",
    "DECILES",
    "INDEX_FUZZ",
    "QUANTILE_METHODS",
]

def _concat(y: Sequence[np.ndarray]):
    sizes = np.array([len(v) for v in y], dtype=np.int64)
    vals = np.concatenate([np.asarray(v, dtype=float).ravel() for v in y]) if len(y) else np.zeros(0)
    unit = np.repeat(np.arange(len(y)), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return vals, unit, sizes, starts


def _sorted_by_unit(y: Sequence[np.ndarray], w: Sequence[np.ndarray] | None):
    """Concatenate the samples and sort each unit's block (weights follow their values).

    Sorting is done on a padded n × k_max matrix (fast, row-wise) unless the sizes are so
    unequal that padding would waste memory; then one lexicographic sort is used.
    """
    vals, unit, sizes, starts = _concat(y)
    ws = np.concatenate([np.asarray(v, dtype=float).ravel() for v in w]) if w is not None else None
    n = sizes.size
    kmax = int(sizes.max()) if n else 0
    if n and n * kmax <= 4 * vals.size + 1_000_000:
        mask = np.arange(kmax)[None, :] < sizes[:, None]
        P = np.full((n, kmax), np.inf)
        P[mask] = vals
        if ws is None:
            P.sort(axis=1)
            return P[mask], None, unit, sizes, starts
        order = np.argsort(P, axis=1, kind="stable")
        Wp = np.zeros((n, kmax))
        Wp[mask] = ws
        return (np.take_along_axis(P, order, axis=1)[mask],
                np.take_along_axis(Wp, order, axis=1)[mask], unit, sizes, starts)
    order = np.lexsort((vals, unit))  # by unit, then by value
    return vals[order], (ws[order] if ws is not None else None), unit, sizes, starts


def _quantiles_unweighted(vals, sizes, starts, q, method):
    k = sizes[:, None].astype(float)
    if method == "linear":
        h = (k - 1.0) * q[None, :]
        lo = np.floor(h)
        frac = h - lo
        lo = lo.astype(np.int64)
        hi = np.minimum(lo + 1, sizes[:, None] - 1)
        zlo = vals[starts[:, None] + lo]
        zhi = vals[starts[:, None] + hi]
        return linear_step(zlo, zhi, frac)
    # inverted_cdf: smallest j (1-based) with j / k >= q, i.e. j = ceil(k q), rounding-guarded
    j = inverse_edf_rank(sizes[:, None], q[None, :])
    return vals[starts[:, None] + j - 1]


def _first_reaching(cum, unit, targets):
    """For each (unit i, target t): the smallest index j in unit i's block with cum_j >= t.

    Exact (no floating offsets): one lexicographic sort of the cumulative weights and the
    targets, where a target sorts before an equal cumulative weight.  Returns positions
    relative to the start of each unit block (clamped to the block's last element).
    """
    n, m = targets.shape
    t_unit = np.repeat(np.arange(n), m)
    keys_unit = np.concatenate([unit, t_unit])
    keys_val = np.concatenate([cum, targets.ravel()])
    is_cum = np.concatenate([np.ones(cum.size, dtype=np.int8), np.zeros(targets.size, dtype=np.int8)])
    order = np.lexsort((is_cum, keys_val, keys_unit))
    s_cum = is_cum[order].astype(np.int64)
    count_total = np.cumsum(s_cum)  # number of cum entries at or before each sorted position
    # count of cum entries of earlier units
    sizes = np.bincount(unit, minlength=n)
    before_unit = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos_sorted = np.empty(order.size, dtype=np.int64)
    pos_sorted[order] = np.arange(order.size)
    tgt_pos = pos_sorted[cum.size:]
    # cum entries of this unit strictly below the target
    below = count_total[tgt_pos] - before_unit[t_unit]
    return np.minimum(below, sizes[t_unit] - 1).reshape(n, m)


# relative fuzz of the order-statistic comparisons: a level k·q (or a cumulative weight) within
# this relative distance of an integer is that integer (R's type-1 fuzz; rounding of sums of
# weights is ~k·1e-16, far below it)
INDEX_FUZZ = 1e-10

# cells of the padded (units × largest sample) blocks used for per-unit cumulative sums
_PAD_CELLS = 4_000_000


def _per_unit_cumsum(ws: np.ndarray, sizes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sums within each unit's block, each computed from that unit's values alone.

    A global ``cumsum`` minus the previous units' total carries their rounding into the next
    unit (a unit's quantiles would then depend on the units before it).  Units are processed
    in blocks of similar size as padded rows; a row-wise cumsum is the same sequential sum as
    ``np.cumsum`` of that unit's weights alone.
    """
    out = np.empty_like(ws)
    order = np.argsort(sizes, kind="stable")
    i = 0
    n = sizes.size
    while i < n:
        # take units (by increasing size) while the padded block stays bounded
        j = i + 1
        while j < n and (j + 1 - i) * int(sizes[order[j]]) <= max(_PAD_CELLS, int(sizes[order[j]])):
            j += 1
        block = order[i:j]
        kmax = int(sizes[block].max())
        idx = starts[block, None] + np.arange(kmax)[None, :]
        mask = np.arange(kmax)[None, :] < sizes[block, None]
        P = np.zeros((block.size, kmax))
        P[mask] = ws[idx[mask]]
        out[idx[mask]] = np.cumsum(P, axis=1)[mask]
        i = j
    return out


def _quantiles_weighted(vals, ws, unit, sizes, starts, q, method):
    # each unit's weights relative to its largest one: scale-free, so tiny or huge weights
    # neither underflow nor overflow in the sums below
    ws = ws / np.maximum.reduceat(ws, starts)[unit]
    tot = np.bincount(unit, weights=ws, minlength=sizes.size)
    k = sizes.astype(float)
    # normalised to sum to k (Hmisc normwt=TRUE), per unit and from that unit's weights only
    cum = _per_unit_cumsum(ws, sizes, starts) * (k / tot)[unit]
    targets, frac = weighted_targets(sizes, q, method)
    picked = [vals[starts[:, None] + _first_reaching(cum, unit, t)] for t in targets]
    if method == "linear":
        return weighted_step(picked[0], picked[1], frac)
    return picked[0]


def weighted_targets(k, q, method: str) -> tuple[list, np.ndarray | None]:
    """The cumulative-weight targets of the weighted rule for units of sizes ``k`` (n,) on the
    grid ``q`` (M,): the value at a target t is z_(j) for the smallest j with c_j ≥ t.

    linear: o = 1 + (k - 1) q, targets lo = max(⌊o⌋, 1) and hi = min(lo + 1, k), each times
    (1 - INDEX_FUZZ), and frac(o); inverted_cdf: the target k q less INDEX_FUZZ · max(k q, 1).
    A cumulative weight within that relative fuzz below a target reaches it, so sums that differ
    by rounding pick the same observation.  Shared by every engine (one weighted rule).
    Returns ``([lo, hi], frac)`` or ``([t], None)``, arrays (n, M).

    >>> [t.tolist() for t in weighted_targets([4], [0.5], "inverted_cdf")[0]]
    [[[1.9999999998]]]
    """
    k = np.asarray(k, dtype=float)[:, None]
    q = np.asarray(q, dtype=float)[None, :]
    if method == "linear":
        o = 1.0 + (k - 1.0) * q
        lo = np.maximum(np.floor(o), 1.0)
        hi = np.minimum(lo + 1.0, k)
        return [lo * (1.0 - INDEX_FUZZ), hi * (1.0 - INDEX_FUZZ)], o - np.floor(o)
    kq = k * q  # same rounding guard as the unweighted inverse EDF
    return [kq - INDEX_FUZZ * np.maximum(kq, 1.0)], None


def monotone_rows(Q: np.ndarray) -> np.ndarray:
    """Each row of ``Q`` made non-decreasing by a running maximum along the last axis.

    Applied to quantile rows whose exact values are non-decreasing, it changes a value only
    where rounding made it step below an earlier one, and then by that rounding (a few units in
    the last place); rows that are already monotone are returned unchanged, bit for bit.

    >>> monotone_rows(np.array([[1.0, 1.0000000000000002, 1.0, 2.0]])).tolist()
    [[1.0, 1.0000000000000002, 1.0000000000000002, 2.0]]
    """
    Q = np.asarray(Q, dtype=float)
    return np.maximum.accumulate(Q, axis=-1) if Q.size else Q


def linear_step(zlo: np.ndarray, zhi: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """The final step of the type-7 rule: Q̂ = z_lo + f (z_hi - z_lo) (written as in R, so
    results agree with R's ``quantile`` to the last bit), rows made monotone by
    :func:`monotone_rows`.  Shared by every engine that computes unit quantiles.

    >>> linear_step(np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]]), np.array([[0.5, 0.25]])).tolist()
    [[1.5, 2.5]]
    """
    return monotone_rows(zlo + frac * (zhi - zlo))


def weighted_step(vlo: np.ndarray, vhi: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """The final step of the weighted rule (Hmisc ``wtd.quantile``): Q̂ = (1 - f) v_lo + f v_hi,
    exactly v when v_lo = v_hi = v (the convex form alone can miss v by a unit in the last
    place), rows made monotone by :func:`monotone_rows`.  The convex form never overflows for
    finite ends.  Shared by every engine that computes weighted unit quantiles.

    >>> weighted_step(np.array([[0.1, 1.0]]), np.array([[0.1, 3.0]]), np.array([[0.7, 0.25]])).tolist()
    [[0.1, 1.5]]
    """
    out = np.where(vlo == vhi, vlo, (1.0 - frac) * vlo + frac * vhi)
    return monotone_rows(out)


def unit_quantiles(
    y: Sequence[np.ndarray],
    quantiles: Sequence[float] | np.ndarray,
    weights: Sequence[np.ndarray] | None = None,
    method: str = "linear",
) -> np.ndarray:
    """Empirical quantile functions of every unit on a grid: the n × M matrix Q̂.

    Parameters
    ----------
    y : sequence of n 1-D arrays
        Unit i's sample Z_i1..Z_ik. Must be finite and non-empty.
    quantiles : 1-D array of M levels, strictly inside (0, 1), strictly increasing.
    weights : optional sequence of n 1-D arrays, same shapes as ``y``
        Non-negative observation weights (sampling weights); each unit's must sum to > 0.
    method : "linear" (type 7, default) or "inverted_cdf" (type 1, the paper's definition).

    Returns
    -------
    ndarray (n, M)

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([0.1, 0.5, 0.9])
    >>> Q = unit_quantiles([np.arange(11.0)], q)
    >>> Q.tolist()
    [[1.0, 5.0, 9.0]]
    >>> z, w = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0, 5.0])
    >>> unit_quantiles([z], [0.1, 0.5], weights=[w]).round(12).tolist()  # heavy weight on 3
    [[1.6, 3.0]]
    """
    check_quantile_method(method)
    q = check_quantile_grid(quantiles)
    if weights is None and isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object:
        return _quantiles_matrix(y, q, method)
    y = check_samples(y, "y")
    if weights is not None:
        weights = check_unit_weights(weights, y)
    if len(y) == 0:
        return np.zeros((0, q.size))
    vals, ws, unit, sizes, starts = _sorted_by_unit(y, weights)
    if ws is None:
        return _quantiles_unweighted(vals, sizes, starts, q, method)
    return _quantiles_weighted(vals, ws, unit, sizes, starts, q, method)


def grid_weights(quantiles: np.ndarray) -> np.ndarray:
    """Quadrature weights of a quantile grid for L2[a, b] integrals (midpoint cells).

    Interior point j gets (q_{j+1} - q_{j-1}) / 2, the ends get the spacing to their
    neighbour; on an equally spaced grid all weights are equal (so equal-weight formulas,
    as in R3D 0.1.0, are exact there). Normalised to sum to 1.
    """
    q = np.asarray(quantiles, dtype=float)
    if q.size == 1:
        return np.ones(1)
    d = np.diff(q)
    w = np.empty_like(q)
    w[1:-1] = (d[:-1] + d[1:]) / 2.0
    w[0] = d[0]
    w[-1] = d[-1]
    return w / w.sum()


def wasserstein2(Q1: np.ndarray, Q2: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """2-Wasserstein distance between distributions given by quantile curves on a grid.

    d_W2(F, G)² = ∫_0^1 (Q_F(q) - Q_G(q))² dq, approximated with :func:`grid_weights`
    on [q_1, q_M] (so it is the L2 distance between quantile functions on the grid's range).
    Broadcasts over leading axes.

    >>> import numpy as np
    >>> q = np.linspace(0.01, 0.99, 99)
    >>> float(wasserstein2(q, q + 2.0, q))   # a pure shift by 2
    2.0
    """
    q = np.asarray(quantiles, dtype=float)
    d = np.asarray(Q1, dtype=float) - np.asarray(Q2, dtype=float)
    return np.sqrt(np.sum(d**2 * grid_weights(q), axis=-1))


def barycenter(Q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Wasserstein-2 barycenter of distributions given as rows of quantile curves.

    In one dimension the barycenter's quantile function is the (weighted) average of the
    quantile functions: Q̄(q) = Σ_i ω_i Q_i(q) / Σ_i ω_i (Van Dijcke 2025, §2.3.1).
    """
    Q = np.asarray(Q, dtype=float)
    if weights is None:
        return Q.mean(axis=0)
    w = np.asarray(weights, dtype=float)
    return (w[:, None] * Q).sum(axis=0) / w.sum()


def _quantiles_matrix(Y: np.ndarray, q: np.ndarray, method: str) -> np.ndarray:
    """Fast path: every unit has the same number of draws (an n × k matrix)."""
    Y = np.asarray(Y, dtype=float)
    n, k = Y.shape
    if k == 0:
        raise ValueError("y: unit 0 has an empty sample")
    finite = np.isfinite(Y).all(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"y: unit {i} contains NaN or inf ({int((~np.isfinite(Y[i])).sum())} values); "
                         "remove or impute them first (nothing is dropped silently)")
    vals = np.sort(Y, axis=1).ravel()
    sizes = np.full(n, k, dtype=np.int64)
    return _quantiles_unweighted(vals, sizes, np.arange(n, dtype=np.int64) * k, q, method)


def standardise(Q: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Q = centre + scale · Z with Z of order one (|Z| ≤ 1): first divided by max|Q| (so values
    near ±1e308 do not overflow and values near 1e-300 do not underflow), then centred at the
    median and divided by the largest deviation.  A constant matrix gives Z = 0.  Used where
    only scale-free quantities are needed (the bandwidth's plug-in).

    >>> import numpy as np
    >>> Z, c, s = standardise(np.array([[1e300, 3e300], [2e300, 5e300]]))
    >>> Z.round(12).tolist(), float(c), float(s)
    ([[-0.6, 0.2], [-0.2, 1.0]], 2.5e+300, 2.5e+300)
    """
    Q = np.asarray(Q, dtype=float)
    s1 = float(np.max(np.abs(Q))) if Q.size else 0.0
    if s1 == 0.0:
        return np.zeros_like(Q), 0.0, 1.0
    Z = Q / s1
    c = float(np.median(Z))
    Z = Z - c
    s2 = float(np.max(np.abs(Z)))
    if s2 == 0.0:
        return Z, c * s1, s1
    return Z / s2, c * s1, s1 * s2


#: magnitudes of y between 2^-SAFE_EXPONENT and 2^SAFE_EXPONENT are used as they are
SAFE_EXPONENT = 300


def safe_scale(Q: np.ndarray, top: float | None = None) -> tuple[np.ndarray, float]:
    """Q = scale · Z with scale a power of two: 1 when max|Q| lies in [2^-300, 2^300] (the
    usual case: nothing changes, Q itself is returned), else the power of two that brings max|Z|
    near one.  Scaling by a power of two is exact in floating point, so every linear step of R3D
    gives bit for bit the scaled result, and squares of tiny or huge values neither underflow nor
    overflow.  ``top``: max|Q| when already known (saves a pass over Q).

    >>> import numpy as np
    >>> Z, s = safe_scale(np.array([3e305, -1e306]))
    >>> float(s) == 2.0**1017, bool(np.allclose(Z * s, [3e305, -1e306], rtol=0))
    (True, True)
    >>> safe_scale(np.array([1.0, 2.0]))[1]
    1.0
    """
    Q = np.asarray(Q, dtype=float)
    if top is None:
        top = max_abs(Q)
    if top == 0.0 or 2.0**-SAFE_EXPONENT <= top <= 2.0**SAFE_EXPONENT:
        return Q, 1.0
    e = int(np.frexp(top)[1])
    return np.ldexp(Q, -e), float(np.ldexp(1.0, e))


def max_abs(Q: np.ndarray) -> float:
    """max |Q| from two reductions (min and max), without an |Q| temporary; NaN if Q has one."""
    Q = np.asarray(Q, dtype=float)
    if Q.size == 0:
        return 0.0
    return float(max(-np.min(Q), np.max(Q)))


# --------------------------------------------------------------------------------------------
# passes over a large (n × M) matrix in blocks of rows: memory stays bounded by one block
# --------------------------------------------------------------------------------------------
#: elements of one block of rows (512 kB: stays in cache while a block is worked on, and the
#: products of a block with a few columns stay below OpenBLAS's threshold for starting threads)
BLOCK_ELEMENTS = 2**16


def row_blocks(n_rows: int, n_columns: int, elements: int | None = None):
    """Slices that cut ``range(n_rows)`` into blocks of about ``elements / n_columns`` rows
    (default ``BLOCK_ELEMENTS``).

    >>> [(s.start, s.stop) for s in row_blocks(5, 1, elements=2)]
    [(0, 2), (2, 4), (4, 5)]
    """
    step = max(1, int(BLOCK_ELEMENTS if elements is None else elements) // max(int(n_columns), 1))
    for a in range(0, int(n_rows), step):
        yield slice(a, min(a + step, int(n_rows)))


def take_rows(Y, rows) -> np.ndarray:
    """Rows of a matrix or of a :class:`CentredRows` (a new array, or a view for a slice)."""
    if isinstance(Y, CentredRows):
        return Y.take(rows)
    return Y[rows]


class CentredRows:
    """The matrix Z = (Q - C) / U of an (n × M) matrix Q, read row block by row block, never
    stored whole: ``C`` (M,) a centre per column, ``U`` > 0 a unit.  ``take(rows)`` returns
    those rows of Z (a new array).

    Z is computed as Q - C (one operation; exact centring, so large offsets lose no digits)
    when U = 1 and 2^-1000 < max|Q| ≤ 2^1022 (then Q - C cannot overflow), as (Q - C) / U
    for other units in that range, and as Q / U - C / U beyond it.

    >>> import numpy as np
    >>> Z = CentredRows(np.array([[1.0, 4.0], [3.0, 8.0]]), np.array([2.0, 6.0]), 2.0)
    >>> Z.take(slice(None)).tolist(), Z.shape
    ([[-0.5, -1.0], [0.5, 1.0]], (2, 2))
    """

    def __init__(self, Q: np.ndarray, centre: np.ndarray, unit: float, top: float | None = None):
        self.Q = Q
        self.centre = np.asarray(centre, dtype=float)
        self.unit = float(unit)
        top = max_abs(Q) if top is None else top
        self._exact = 2.0**-1000 < top <= 2.0**1022

    @property
    def shape(self) -> tuple:
        return self.Q.shape

    @property
    def ndim(self) -> int:
        return 2

    def take(self, rows) -> np.ndarray:
        if self._exact:
            if isinstance(rows, slice):
                z = np.subtract(self.Q[rows], self.centre)  # one pass over a block of consecutive rows
            else:
                z = self.Q[rows]  # a gather copies: centred in place
                z -= self.centre
            if self.unit != 1.0:
                z /= self.unit
            return z
        z = np.divide(self.Q[rows], self.unit)
        z -= self.centre / self.unit
        return z


#: rows of Q whose medians centre the bandwidth's standardisation (a regular subsample beyond)
CENTRE_ROWS = 5_000


def standardised_rows(Q: np.ndarray, value_range: tuple[float, float] | None = None) -> tuple[CentredRows, float]:
    """Q centred column by column, as :class:`CentredRows` (no copy of Q), and its spread
    s = s1 · s2 (s1 = max|Q|, c the median of Q / s1, s2 = max|Q / s1 - c|: the largest
    deviation from the median, the scale of :func:`standardise`).  Each column is centred at
    its own median (a per-column constant: every quantity of the bandwidth's plug-in is
    invariant to it, and the sums of squares lose fewer digits); the unit is 1 when the spread
    lies in [2^-300, 2^300] (else the power of two just below the spread, so that squares neither
    overflow nor underflow).  When Q has more than ``CENTRE_ROWS`` rows the medians are those
    of a regular subsample of rows (any centre inside the data serves; the results differ from
    the full medians' only by rounding).  ``value_range``: (min Q, max Q) when already known.

    >>> import numpy as np
    >>> Z, spread = standardised_rows(np.array([[1e300, 3e300], [2e300, 5e300]]))
    >>> (Z.take(slice(None)) * Z.unit / spread).round(12).tolist(), float(spread), Z.unit == 2.0**997
    ([[-0.2, -0.4], [0.2, 0.4]], 2.5e+300, True)
    """
    Q = np.asarray(Q, dtype=float)
    n, m = Q.shape
    lo, hi = (float(np.min(Q)), float(np.max(Q))) if value_range is None else map(float, value_range)
    s1 = max(-lo, hi) if Q.size else 0.0
    if s1 == 0.0:
        return CentredRows(Q, np.zeros(m), 1.0, top=0.0), 1.0
    sub = Q[::-(-n // CENTRE_ROWS)]
    c = float(np.median(sub / s1))
    s2 = max(abs(hi / s1 - c), abs(lo / s1 - c))
    spread = s1 * s2 if s2 > 0.0 else s1
    # else the power of two just below the spread (2^1023 at most: no overflow)
    unit = 1.0 if 2.0**-SAFE_EXPONENT <= spread <= 2.0**SAFE_EXPONENT else float(np.ldexp(1.0, int(np.frexp(spread)[1]) - 1))
    return CentredRows(Q, np.median(sub, axis=0), unit, top=s1), spread


def check_quantile_matrix(Q: np.ndarray) -> tuple[tuple[float, float], int | None]:
    """One pass over an (n × M) matrix in blocks of rows: ((min Q, max Q), the index of the
    first row that decreases somewhere, or None).  min and max are NaN when Q has a NaN.

    >>> import numpy as np
    >>> check_quantile_matrix(np.array([[1.0, 2.0], [3.0, 2.5], [0.0, 4.0]]))
    ((0.0, 4.0), 1)
    """
    n, m = Q.shape
    lo, hi, first = np.inf, -np.inf, None
    if Q.size == 0:
        return (0.0, 0.0), None
    for blk in row_blocks(n, m):
        b = Q[blk]
        bmin, bmax = float(b.min()), float(b.max())
        if np.isnan(bmin) or np.isnan(bmax) or np.isnan(lo):
            lo = hi = np.nan
        else:
            lo, hi = min(lo, bmin), max(hi, bmax)
        if first is not None or m < 2:
            continue
        if b.flags.c_contiguous:
            # one comparison over the flattened block: pairs across row ends (j = M - 1) excluded
            flat = b.reshape(-1)
            dec = np.less(flat[1:], flat[:-1])
            bad = np.count_nonzero(dec) - np.count_nonzero(dec[m - 1::m])
        else:
            bad = np.count_nonzero(np.less(b[:, 1:], b[:, :-1]))
        if bad:
            first = int(blk.start + np.flatnonzero(np.less(b[:, 1:], b[:, :-1]).any(axis=1))[0])
    return (lo, hi), first


# --------------------------------------------------------------------------------------------
# shared by simulate and montecarlo: the decile grid and the inverse-EDF order-statistic index
# --------------------------------------------------------------------------------------------
#: the nine deciles 0.1, ..., 0.9 (exactly rounded), the grid of the paper's simulations
DECILES = np.round(np.arange(1, 10) / 10, 10)
DECILES.setflags(write=False)


def inverse_edf_rank(k, q) -> np.ndarray:
    """1-based rank j = ⌈k q⌉ of the order statistic the inverse EDF (type 1) returns at level q
    for a sample of size k, treating k·q within ``INDEX_FUZZ`` (relative) of an integer as that
    integer, clipped to [1, k]. Broadcasts ``k`` against ``q``.

    >>> inverse_edf_rank(25, [0.28, 0.5, 0.01]).tolist()   # 25 × 0.28 = 7.000000000000001
    [7, 13, 1]
    """
    k = np.asarray(k)
    kq = k * np.asarray(q, dtype=float)
    j = np.ceil(kq - INDEX_FUZZ * np.maximum(kq, 1.0)).astype(np.int64)
    return np.clip(j, 1, k)
