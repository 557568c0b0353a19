r"""Local randomization inference for distribution-valued outcomes: exact tests and window choice
when only a few units lie near the cutoff.

Continuity-based R3D inference (:func:`r3d_teach.r3d`) is asymptotic in the number of units in
the window. Local randomization (Cattaneo, Frandsen and Titiunik 2015; Cattaneo, Titiunik and
Vazquez-Bare 2016, 2017; the ``rdlocrand`` package) assumes instead that inside a small window
:math:`W = [w_l, w_r] \ni c` the assignment :math:`d_i = 1\{X_i \ge c\}` is as good as random,
with the number of treated units :math:`n_1` fixed (``rdlocrand``'s default "fixed margins"
mechanism). A unit's potential outcome is its whole distribution, so the **sharp null** "no
unit's distribution changes" fixes every unit's quantile function :math:`\hat Q_i` under any
re-assignment, and permuting the labels among the :math:`n_W = n_0 + n_1` units of :math:`W`
gives the exact null distribution of any statistic of the :math:`\hat Q_i`.

Statistics (``a`` a permuted assignment, :math:`\bar Q_{1}`, :math:`\bar Q_{0}` the average
quantile functions of its treated and untreated units, i.e. their Wasserstein barycentres):

* per quantile: :math:`D(q) = \bar Q_{1}(q) - \bar Q_{0}(q)`, two-sided, :math:`|D(q)|`
  (``rdlocrand``'s ``diffmeans`` on the column :math:`\hat Q(q)`);
* ``"sup_t"``: :math:`T = \max_q |D(q)| / \sigma(q)` with
  :math:`\sigma(q) = s(q)\sqrt{1/n_1 + 1/n_0}`, :math:`s(q)` the standard deviation of
  :math:`\hat Q_i(q)` over all units of :math:`W` (ddof 1). :math:`\sigma(q)` is the exact
  permutation standard deviation of :math:`D(q)` under the sharp null and does not change under
  permutations. Levels where every unit of :math:`W` has the same :math:`\hat Q_i(q)`
  (:math:`s(q) = 0`, e.g. a floor at zero) carry no information (:math:`D(q) = 0` under every
  assignment) and are left out of the maximum;
* ``"wasserstein"``: :math:`T = d_{W_2}(\bar Q_1, \bar Q_0) = \{\int D(q)^2\,dq\}^{1/2}`
  (:func:`r3d_teach.wasserstein2`, midpoint weights of the grid).

p-values: when there are at most :data:`MAX_ENUMERATE` assignments, all
:math:`C = \binom{n_W}{n_1}` are enumerated and :math:`p = \#\{a: T_a \ge T\}/C` (exact; the
observed assignment is one of them); otherwise :math:`R` assignments are drawn at random and
:math:`p = (1 + \#\{b: T_b \ge T\})/(1 + R)`, which is also a valid p-value
(:math:`P(p \le \alpha) \le \alpha` under the sharp null). Every assignment's statistics, for all
quantile levels at once, come from one matrix product :math:`P \hat Q_W` of the 0/1 assignment
matrix with the centred unit quantiles (in chunks of bounded memory).

Confidence sets for a constant shift (:math:`\hat Q_i(q) + \tau` for treated units) invert the
test of :math:`H_0: \tau` on :math:`\hat Q_i(q) - \tau d_i`, with the same assignments for every
:math:`\tau`. With :math:`m_a` the number of originally treated units that ``a`` treats and
:math:`g_a = m_a(1/n_1 + 1/n_0) - n_1/n_0`, the permuted difference is
:math:`D_a(q) - \tau g_a` and the observed one :math:`D(q) - \tau`, so for the per-quantile and
Wasserstein statistics each assignment counts (:math:`T_a(\tau) \ge T(\tau)`) on an interval of
:math:`\tau` (a quadratic inequality), and the set :math:`\{\tau : p(\tau) > \alpha\}` is computed
exactly by sweeping these intervals (no grid). For ``"sup_t"`` (studentized with the sd of the
adjusted outcomes at each :math:`\tau`) the p-value is evaluated on a grid of :math:`\tau`. A set
may be a union of intervals (reported as such) or unbounded (with few units it is the whole line).

Example
-------
>>> import numpy as np
>>> from r3d_teach.locrand import randinf
>>> rng = np.random.default_rng(0)
>>> x = np.repeat(np.arange(-6, 6), 2).astype(float)        # 12 cohorts, two units each
>>> y = [rng.normal(0.8 * (xi >= 0), 1, 200) for xi in x]   # the whole distribution shifts
>>> res = randinf(x, y, cutoff=0, window=(-3, 2), quantiles=np.arange(1, 10) / 10, seed=1)
>>> res.method, res.n_possible, (res.n_left, res.n_right)
('exact', 924, (6, 6))
>>> bool(res.p_value < 0.01)
True
>>> print(res.summary())                                  # doctest: +ELLIPSIS
Local randomization inference (sharp null: no unit's distribution changes)
...
"""
from __future__ import annotations

import contextlib
import io
import itertools
import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .core import validate
from .core.inputs import group_units, prepare_inputs, split_frame
from .core.plotting import finish_figure
from .core.quantiles import grid_weights, wasserstein2
from .core.summary import Summary
from .validity import _covariate_matrix

__all__ = ["randinf", "RandInfResult", "select_window", "WindowSelection", "STATISTICS", "MAX_ENUMERATE",
           "INSTALL_HINT"]

#: the distributional statistics (the per-quantile difference in means is always computed)
STATISTICS = ("sup_t", "wasserstein")
#: enumerate every assignment when there are at most this many (``method="auto"``)
MAX_ENUMERATE = 100_000
#: ``method="exact"`` is refused above this many assignments (use Monte Carlo)
MAX_EXACT = 20_000_000
#: cells (rows x columns) of one chunk of assignments or statistics: bounds the memory (~32 MB)
CHUNK_CELLS = 2**22
#: a permuted statistic within this relative distance of the observed one is a tie (counts as
#: "at least as large"): equal statistics computed in a different order differ by rounding
TIE_RTOL = 1e-9
#: a level whose units' quantiles in W differ by less than this (relative to max |Q̂|) is constant
CONSTANT_RTOL = 1e-12
#: points of the automatic grid of shifts for the "sup_t" confidence set
N_SHIFT_GRID = 201
#: the automatic grid is widened at most this many times when the set reaches its end
GRID_WIDENINGS = 4
#: ... and refined around the accepted shifts at most this many times
GRID_REFINEMENTS = 3

INSTALL_HINT = 'pip install "rdlocrand>=3.0" (the "validity" extra of r3d-teach)'


# ----------------------------------------------------------------------------------------------
# argument checks (specific to this module; the shared ones are in _validate)
# ----------------------------------------------------------------------------------------------
def _real(v, name: str) -> float:
    if isinstance(v, (bool, str, bytes, complex)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: must be a real number, got {type(v).__name__} {v!r}")
    f = float(v)
    if not np.isfinite(f):
        raise ValueError(f"{name}: must be finite, got {v!r}")
    return f


def _check_window(window, cutoff: float) -> tuple[float, float]:
    """``window``: (wl, wr) in x's units, a half-width h > 0 (the window [c - h, c + h]), or a
    :class:`WindowSelection` (its recommended window)."""
    if isinstance(window, WindowSelection):
        if window.window is None:
            raise ValueError("window: the window selection recommends no window (the smallest window "
                             "already fails the balance test); give a window explicitly")
        if not np.isclose(window.cutoff, cutoff, rtol=0, atol=1e-12 * max(1.0, abs(cutoff))):
            raise ValueError(f"window: the selection was made at cutoff {window.cutoff:g}, not {cutoff:g}")
        return window.window
    if window is None:
        raise ValueError("window: give the window [wl, wr] (a pair in x's units) or a half-width h "
                         "(select_window() chooses one from covariate balance)")
    if isinstance(window, (numbers.Real,)) and not isinstance(window, bool):
        h = _real(window, "window")
        if h <= 0:
            raise ValueError(f"window: a half-width must be > 0, got {window!r}")
        return cutoff - h, cutoff + h
    if isinstance(window, (str, bytes, dict, set)) or not hasattr(window, "__len__") or len(window) != 2:
        raise ValueError(f"window: must be a pair (wl, wr), a half-width or a WindowSelection, got {window!r}")
    wl, wr = _real(window[0], "window: wl"), _real(window[1], "window: wr")
    if wl >= wr:
        raise ValueError(f"window: wl = {wl:g} must be smaller than wr = {wr:g}")
    if wl > cutoff:
        raise ValueError(f"window: wl = {wl:g} is above the cutoff {cutoff:g}; the window must contain "
                         "units on both sides of the cutoff")
    if wr < cutoff:
        raise ValueError(f"window: wr = {wr:g} is below the cutoff {cutoff:g}; the window must contain "
                         "units on both sides of the cutoff")
    return wl, wr


def _in_window(x: np.ndarray, wl: float, wr: float) -> np.ndarray:
    """The closed window [wl, wr]; ends that equal a unit's x up to rounding (e.g. 50 - 10/12
    computed two ways) include it."""
    tol = 1e-10 * max(1.0, abs(wl), abs(wr))
    return (x >= wl - tol) & (x <= wr + tol)


def _check_method(method) -> str:
    if not isinstance(method, str) or method not in ("auto", "exact", "monte_carlo"):
        raise ValueError(f"method: must be 'auto', 'exact' or 'monte_carlo', got {method!r}")
    return method


def _check_statistic(statistic) -> str:
    if not isinstance(statistic, str) or statistic not in STATISTICS:
        raise ValueError(f"statistic: unknown statistic {statistic!r}; choose one of {STATISTICS} "
                         "(the per-quantile difference in means is always reported in by_quantile)")
    return statistic


def _check_grid(tau_grid) -> np.ndarray:
    g = validate.as_real_array(tau_grid, "tau_grid")
    if g.ndim != 1 or g.size < 2:
        raise ValueError("tau_grid: must be a 1-D array of at least two shifts")
    if not np.all(np.isfinite(g)):
        raise ValueError("tau_grid: contains NaN or inf")
    if (np.diff(g) <= 0).any():
        raise ValueError("tau_grid: must be strictly increasing")
    return g


# ----------------------------------------------------------------------------------------------
# the assignments: all of them, or a reproducible random sample (the same on every pass)
# ----------------------------------------------------------------------------------------------
@dataclass
class _Assignments:
    """The treated sets to evaluate. ``exact``: all C(n, n1) in lexicographic order; otherwise
    ``n_draws`` random permutations of the observed labels from the stream ``entropy`` (so that a
    second pass sees the same assignments: common random numbers)."""

    n: int
    n1: int
    d: np.ndarray             # (n,) observed 0/1 labels
    exact: bool
    n_draws: int              # C when exact
    entropy: int | None
    rows: int                 # assignments per chunk, the same on every pass

    def chunks(self, progress: bool = False, desc: str = "assignments"):
        """Yield 0/1 float matrices (B, n), B <= rows, covering all assignments in order."""
        total, rows = self.n_draws, self.rows
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=desc, unit="assignment", leave=False)
        try:
            if self.exact:
                combos = itertools.combinations(range(self.n), self.n1)
                done = 0
                while done < total:
                    b = min(rows, total - done)
                    flat = np.fromiter(itertools.chain.from_iterable(itertools.islice(combos, b)),
                                       dtype=np.intp, count=b * self.n1)
                    P = np.zeros((b, self.n))
                    P[np.repeat(np.arange(b), self.n1), flat] = 1.0
                    done += b
                    if bar is not None:
                        bar.update(b)
                    yield P
            else:
                rng = np.random.default_rng(self.entropy)
                done = 0
                while done < total:
                    b = min(rows, total - done)
                    P = rng.permuted(np.broadcast_to(self.d, (b, self.n)), axis=1)
                    done += b
                    if bar is not None:
                        bar.update(b)
                    yield P
        finally:
            if bar is not None:
                bar.close()


@dataclass
class _Window:
    """The units of W and what every statistic needs."""

    Qc: np.ndarray            # (n, M) unit quantiles centred by their mean over W (constant levels: 0)
    d: np.ndarray             # (n,) 0/1
    n1: int
    n0: int
    w: np.ndarray             # (M,) grid weights (sum 1)
    var: np.ndarray           # (M,) variance of Q̂(q) over W (ddof 1)
    cov_d: np.ndarray         # (M,) covariance of Q̂(q) with d over W (ddof 1)
    valid: np.ndarray         # (M,) levels that vary over W
    scale: float              # max |Q̂ - mean| over W (>= tiny)

    @property
    def n(self) -> int:
        return self.d.size

    @property
    def k(self) -> float:     # D = k * (assignment @ Qc)
        return 1.0 / self.n1 + 1.0 / self.n0

    @property
    def null_sd(self) -> np.ndarray:   # exact permutation sd of D(q) under the sharp null
        return np.sqrt(self.var * self.k)

    def g(self, m: np.ndarray) -> np.ndarray:
        return m * self.k - self.n1 / self.n0

    def always(self, m: np.ndarray) -> np.ndarray:
        """Assignments whose statistic equals the observed one for every shift: the observed
        assignment (m = n1) and, when n1 = n0, its mirror image (m = 0, D_a = -D)."""
        return (m == self.n1) | ((m == 0) & (self.n1 == self.n0))


def _window_data(Q: np.ndarray, d: np.ndarray, q: np.ndarray) -> _Window:
    n = d.size
    mean = Q.mean(axis=0)
    Qc = Q - mean
    scale = float(np.max(np.abs(Qc))) if Qc.size else 0.0
    spread = Q.max(axis=0) - Q.min(axis=0)
    valid = spread > CONSTANT_RTOL * max(float(np.max(np.abs(Q))), np.finfo(float).tiny)
    Qc[:, ~valid] = 0.0
    var = (Qc**2).sum(axis=0) / (n - 1)
    dc = d - d.mean()
    cov_d = dc @ Qc / (n - 1)
    n1 = int(d.sum())
    return _Window(Qc=Qc, d=d, n1=n1, n0=n - n1, w=grid_weights(q), var=var, cov_d=cov_d, valid=valid,
                   scale=max(scale, np.finfo(float).tiny))


def _rows(width: int) -> int:
    return max(1, CHUNK_CELLS // max(1, width))


def _ties(Tb: np.ndarray, T, scale) -> np.ndarray:
    """Tb >= T up to rounding (relative TIE_RTOL of the statistic's scale)."""
    return Tb >= T - TIE_RTOL * (np.abs(T) + scale)


# ----------------------------------------------------------------------------------------------
# the test at tau = 0: one pass over the assignments
# ----------------------------------------------------------------------------------------------
@dataclass
class _Pass:
    D: np.ndarray             # (M,) observed differences
    count_q: np.ndarray       # (M,) assignments with |D_a(q)| >= |D(q)|
    sup_t: np.ndarray         # (R,) null distribution of the sup-t statistic
    w2sq: np.ndarray          # (R,) null distribution of sum_q w D_a(q)^2
    s1: np.ndarray            # (R,) sum_q w D_a(q)
    m: np.ndarray             # (R,) originally treated units among the assignment's treated


def _sup_t(Dm: np.ndarray, sd: np.ndarray, valid: np.ndarray) -> np.ndarray:
    if not valid.any():
        return np.zeros(Dm.shape[:-1])
    return np.max(np.abs(Dm[..., valid]) / sd[valid], axis=-1)


def _first_pass(win: _Window, asg: _Assignments, progress: bool) -> _Pass:
    D = win.k * (win.d @ win.Qc)
    M = D.size
    sd = win.null_sd
    tol_q = TIE_RTOL * (np.abs(D) + np.max(np.abs(win.Qc), axis=0) + np.finfo(float).tiny)
    count = np.zeros(M, dtype=np.int64)
    sup_t, w2sq, s1, mm = [], [], [], []
    for P in asg.chunks(progress, "permutations"):
        Db = win.k * (P @ win.Qc)
        count += (np.abs(Db) >= np.abs(D) - tol_q).sum(axis=0)
        sup_t.append(_sup_t(Db, sd, win.valid))
        w2sq.append((Db**2) @ win.w)
        s1.append(Db @ win.w)
        mm.append(np.rint(P @ win.d).astype(np.int64))
    return _Pass(D=D, count_q=count, sup_t=np.concatenate(sup_t), w2sq=np.concatenate(w2sq),
                 s1=np.concatenate(s1), m=np.concatenate(mm))


def _p_value(count, asg: _Assignments):
    """(1 + #)/(1 + R) for random draws, #/C for the complete enumeration."""
    count = np.asarray(count)
    return count / asg.n_draws if asg.exact else (1 + count) / (1 + asg.n_draws)


# ----------------------------------------------------------------------------------------------
# confidence sets
# ----------------------------------------------------------------------------------------------
def _intervals_from_runs(points: np.ndarray, accept: np.ndarray) -> np.ndarray:
    """Maximal runs of accepted segments. ``points`` (L+1,) segment bounds (may start/end with
    ±inf), ``accept`` (L,) per segment. Zero-length runs (single points) are dropped."""
    if not accept.any():
        return np.zeros((0, 2))
    a = np.concatenate([[False], accept, [False]]).astype(np.int8)
    starts = np.flatnonzero(np.diff(a) == 1)
    ends = np.flatnonzero(np.diff(a) == -1)
    out = np.column_stack([points[starts], points[ends]])
    return out[out[:, 1] > out[:, 0]]


def _sweep(lo: np.ndarray, hi: np.ndarray, n_always: int, asg: _Assignments, alpha: float) -> np.ndarray:
    """{tau : p(tau) > alpha} where assignment a counts iff lo_a <= tau <= hi_a (NaN: never) or
    always (``n_always`` of them). Returns the accepted intervals (k, 2), ±inf allowed."""
    ok = np.isfinite(lo)
    lo, hi = lo[ok], hi[ok]
    p_inf = float(_p_value(n_always, asg))
    if not lo.size:                           # p(tau) = p_inf everywhere
        return np.array([[-np.inf, np.inf]]) if p_inf > alpha else np.zeros((0, 2))
    ev = np.concatenate([lo, hi])
    delta = np.concatenate([np.ones(lo.size, np.int64), -np.ones(hi.size, np.int64)])
    order = np.lexsort((-delta, ev))          # equal values: openings before closings (closed sets)
    ev, delta = ev[order], delta[order]
    counts = n_always + np.cumsum(delta)      # on (ev[i], ev[i+1])
    p_seg = _p_value(counts[:-1], asg)
    points = np.concatenate([[-np.inf], ev, [np.inf]])
    accept = np.concatenate([[p_inf > alpha], p_seg > alpha, [p_inf > alpha]])
    return _intervals_from_runs(points, accept)


def _quantile_sets(win: _Window, asg: _Assignments, fp: _Pass, alpha: float, progress: bool) -> list:
    """Per level q: {tau : p_q(tau) > alpha}, exactly. Assignment a counts at tau iff
    |D_a - tau g_a| >= |D - tau|, i.e. ((D_a - D) - tau (g_a - 1)) ((D_a + D) - tau (g_a + 1)) >= 0,
    the interval between tau1 = (D - D_a)/(1 - g_a) and tau2 = (D + D_a)/(1 + g_a)."""
    M = fp.D.size
    g = win.g(fp.m.astype(float))
    always = win.always(fp.m)
    n_always = int(always.sum())
    R = asg.n_draws
    block = max(1, CHUNK_CELLS // (8 * R))        # ~8 arrays of R x block cells below
    sets: list = [None] * M
    for c0 in range(0, M, block):
        cols = np.arange(c0, min(M, c0 + block))
        parts, mm = [], []
        for P in asg.chunks(progress, "confidence sets"):
            parts.append(win.k * (P @ win.Qc[:, cols]))
            mm.append(np.rint(P @ win.d).astype(np.int64))
        Db = np.concatenate(parts)
        if not np.array_equal(np.concatenate(mm), fp.m):     # the passes must see the same assignments
            raise RuntimeError("internal error: the assignments differ between passes")
        Dc = fp.D[cols]
        gg = g[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (Dc - Db) / (1 - gg)
            t2 = (Dc + Db) / (1 + gg)
        lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
        lo[always], hi[always] = np.nan, np.nan
        for j, k in enumerate(cols):
            if not win.valid[k]:
                # every unit of W has the same quantile: D = 0 exactly, and any shift tau != 0 makes
                # the observed |D - tau| = |tau| the largest possible (|tau g_a| < |tau|): p = p_inf
                p_inf = float(_p_value(n_always, asg))
                sets[k] = np.array([[-np.inf, np.inf]]) if p_inf > alpha else np.array([[0.0, 0.0]])
                continue
            sets[k] = _sweep(lo[:, j], hi[:, j], n_always, asg, alpha)
    return sets


def _wasserstein_set(win: _Window, fp: _Pass, asg: _Assignments, alpha: float) -> np.ndarray:
    """{tau : p_W2(tau) > alpha} exactly: a counts iff
    sum_q w (D_a - tau g_a)^2 >= sum_q w (D - tau)^2, a quadratic a2 tau^2 - 2 u tau + c >= 0 with
    a2 = g_a^2 - 1 <= 0 (the grid weights sum to one)."""
    g = win.g(fp.m.astype(float))
    always = win.always(fp.m)
    S1, S2 = float(fp.D @ win.w), float((fp.D**2) @ win.w)
    a2 = g**2 - 1
    u = g * fp.s1 - S1
    c = fp.w2sq - S2
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = u**2 - a2 * c
        r = np.sqrt(np.where(disc >= 0, disc, np.nan))
        t1, t2 = (u - r) / a2, (u + r) / a2
    lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
    lo[always], hi[always] = np.nan, np.nan
    return _sweep(lo, hi, int(always.sum()), asg, alpha)


def _sup_t_p_curve(win: _Window, asg: _Assignments, fp: _Pass, grid: np.ndarray, progress: bool) -> np.ndarray:
    """p-value of the sup-t test of H0: tau at every grid point (same assignments for all)."""
    D = fp.D
    M, G = D.size, grid.size
    # sd of the adjusted outcomes Q̂(q) - tau d over W, for every tau: var - 2 tau cov + tau^2 var(d)
    var_d = win.n1 * win.n0 / (win.n * (win.n - 1))
    v = win.var[:, None] - 2 * grid[None, :] * win.cov_d[:, None] + grid[None, :] ** 2 * var_d
    floor = (CONSTANT_RTOL * (win.scale + np.abs(grid))) ** 2
    valid = (v > floor[None, :]) & win.valid[:, None]
    sd = np.sqrt(np.where(valid, v, 1.0) * win.k)                         # (M, G)
    inv = np.where(valid, 1.0 / sd, 0.0)
    T = np.max(np.abs(D[:, None] - grid[None, :]) * inv, axis=0)          # (G,)
    count = np.zeros(G, dtype=np.int64)
    rows = max(1, CHUNK_CELLS // (4 * M * G))     # a few (rows, M, G) temporaries
    for P in asg.chunks(progress, "sup-t confidence set"):
        Db = win.k * (P @ win.Qc)
        gb = win.g(np.rint(P @ win.d))
        for r0 in range(0, Db.shape[0], rows):
            Dr, gr = Db[r0:r0 + rows], gb[r0:r0 + rows]
            Tb = np.max(np.abs(Dr[:, :, None] - gr[:, None, None] * grid[None, None, :]) * inv[None], axis=1)
            count += _ties(Tb, T[None, :], 1.0).sum(axis=0)
    return _p_value(count, asg)


def _grid_set(grid: np.ndarray, p: np.ndarray, alpha: float, p_inf: float) -> tuple[np.ndarray, bool]:
    """Accepted runs of grid points as intervals; a run that reaches an end of the grid is
    unbounded there if p -> p_inf > alpha, else it is truncated (returned flag)."""
    acc = p > alpha
    if not acc.any():
        return np.zeros((0, 2)), False
    a = np.concatenate([[False], acc, [False]]).astype(np.int8)
    starts = np.flatnonzero(np.diff(a) == 1)
    ends = np.flatnonzero(np.diff(a) == -1) - 1
    out = np.column_stack([grid[starts], grid[ends]]).astype(float)
    truncated = False
    if acc[0]:
        if p_inf > alpha:
            out[0, 0] = -np.inf
        else:
            truncated = True
    if acc[-1]:
        if p_inf > alpha:
            out[-1, 1] = np.inf
        else:
            truncated = True
    return out, truncated


def _sup_t_set(win: _Window, asg: _Assignments, fp: _Pass, alpha: float, p_inf: float, shift: float,
               ends: np.ndarray, grid_user, progress: bool) -> tuple[np.ndarray, pd.DataFrame]:
    """The sup-t set for a constant shift on a grid: the user's, or an automatic one (a wide
    grid around the exact sets' finite ends, widened while the set reaches its end, plus a fine
    grid over the range of the per-level differences), refined around the accepted region until
    it spans at least half of :data:`N_SHIFT_GRID` points (at most :data:`GRID_REFINEMENTS` times)."""
    if grid_user is not None:
        p = _sup_t_p_curve(win, asg, fp, grid_user, progress)
        out, truncated = _grid_set(grid_user, p, alpha, p_inf)
        if truncated:
            warnings.warn("tau_grid: the sup_t confidence set reaches an end of the grid; widen it",
                          UserWarning, stacklevel=3)
        return out, pd.DataFrame({"tau": grid_user, "p_value": p})
    half = 1.25 * max([float(np.max(np.abs(ends - shift))) if ends.size else 0.0,
                       4 * float(np.max(win.null_sd)), 1e-12 * max(1.0, abs(shift))])
    D = fp.D[win.valid] if win.valid.any() else fp.D
    inner = np.linspace(D.min(), D.max(), N_SHIFT_GRID) if D.max() > D.min() else np.zeros(0)
    p_inner = _sup_t_p_curve(win, asg, fp, inner, progress) if inner.size else np.zeros(0)
    for _ in range(GRID_WIDENINGS + 1):
        grid, order = np.unique(np.concatenate([shift + np.linspace(-half, half, N_SHIFT_GRID), inner]),
                                return_index=True)
        outer = _sup_t_p_curve(win, asg, fp, grid[order < N_SHIFT_GRID], progress)
        p = np.empty(grid.size)
        p[order < N_SHIFT_GRID] = outer
        p[order >= N_SHIFT_GRID] = p_inner[order[order >= N_SHIFT_GRID] - N_SHIFT_GRID]
        out, truncated = _grid_set(grid, p, alpha, p_inf)
        if not truncated:
            break
        half *= 4
    else:
        warnings.warn("tau_grid: the sup_t confidence set still reaches the end of the automatic grid "
                      f"(±{half / 4:.3g} around {shift:.3g}); give a wider tau_grid", UserWarning, stacklevel=3)
    for _ in range(GRID_REFINEMENTS):
        acc = np.flatnonzero(p > alpha)
        if not acc.size or truncated or not np.isfinite(out).all():
            break
        lo, hi = grid[max(acc[0] - 1, 0)], grid[min(acc[-1] + 1, grid.size - 1)]
        if ((grid >= lo) & (grid <= hi)).sum() >= N_SHIFT_GRID // 2:
            break
        fine = np.linspace(lo, hi, N_SHIFT_GRID)
        pf = _sup_t_p_curve(win, asg, fp, fine, progress)
        grid, order = np.unique(np.concatenate([grid, fine]), return_index=True)
        p = np.concatenate([p, pf])[order]
        out, _ = _grid_set(grid, p, alpha, p_inf)
    return out, pd.DataFrame({"tau": grid, "p_value": p})

def _sets_frame(sets: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"lower": sets[:, 0], "upper": sets[:, 1]}) if len(sets) else pd.DataFrame(
        {"lower": pd.Series(dtype=float), "upper": pd.Series(dtype=float)})


def _fmt_set(df: pd.DataFrame) -> str:
    if df is None:
        return "not computed"
    if not len(df):
        return "empty (no constant shift is compatible with the data)"
    parts = [f"[{lo:.4g}, {hi:.4g}]" for lo, hi in zip(df["lower"], df["upper"])]
    txt = " ∪ ".join(parts)
    return txt if len(df) == 1 else txt + f" (not connected: {len(df)} intervals)"


# ----------------------------------------------------------------------------------------------
# the result
# ----------------------------------------------------------------------------------------------
@dataclass
class RandInfResult:
    """Result of :func:`randinf`.

    ``statistic_name`` ("sup_t" or "wasserstein"), ``statistic`` its value and ``p_value`` the
    randomization p-value of the sharp null; ``tests``: both distributional statistics (columns
    ``test, statistic, p_value, mc_se``); ``window`` (wl, wr) closed, in x's units; ``n_left``,
    ``n_right`` units in the window on each side (x < c, x >= c); ``by_quantile``: one row per
    level with ``q, mean_left, mean_right, diff`` (= mean right - mean left), ``null_sd`` (exact
    permutation sd of ``diff``), ``p_value`` (difference in means) and, with confidence sets,
    ``ci_lower, ci_upper, ci_pieces`` (hull of the level's set for a constant shift and its
    number of intervals; ±inf when unbounded); ``method`` "exact" (all ``n_possible``
    assignments) or "monte_carlo" (``n_assignments`` random ones); ``shift`` the average
    difference over the grid (Σ w_q D(q)); ``conf_set`` the set for a constant shift
    τ(q) ≡ τ from the headline statistic (rows ``lower, upper``; several rows: not connected),
    ``conf_sets`` both; ``quantile_sets`` the per-level sets (arrays of intervals);
    ``null_distribution`` the headline statistic under every evaluated assignment; ``units``
    the labels (``data=``) or positions of the units in the window.
    """

    statistic_name: str
    statistic: float
    p_value: float
    window: tuple
    cutoff: float
    n_left: int
    n_right: int
    n_units: int
    quantiles: np.ndarray
    by_quantile: pd.DataFrame
    tests: pd.DataFrame
    method: str
    n_assignments: int
    n_possible: int
    alpha: float
    shift: float
    conf_set: pd.DataFrame | None = None
    conf_sets: dict = field(default_factory=dict)
    quantile_sets: list | None = field(default=None, repr=False)
    shift_grid: pd.DataFrame | None = field(default=None, repr=False)
    n_constant_levels: int = 0
    min_p_value: float = 0.0
    null_distribution: np.ndarray | None = field(default=None, repr=False)
    units: np.ndarray | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (f"RandInfResult({self.statistic_name}={self.statistic:.4g}, p={self.p_value:.4g}, "
                f"window=[{self.window[0]:g}, {self.window[1]:g}], n_left={self.n_left}, "
                f"n_right={self.n_right}, method={self.method!r}, assignments={self.n_assignments})")

    @property
    def mc_se(self) -> float:
        """Monte Carlo standard error of ``p_value`` (0 for the exact enumeration)."""
        return _mc_se(self.p_value, self.n_assignments, self.method)

    def conf_int(self) -> pd.DataFrame:
        """Per-level confidence sets for a constant shift at the fitted level (hulls; a level
        whose set is not connected has ``pieces`` > 1), indexed by q."""
        if "ci_lower" not in self.by_quantile:
            raise ValueError("conf_int: the confidence sets were not computed; refit with conf_sets=True")
        df = self.by_quantile.set_index("q")[["ci_lower", "ci_upper", "ci_pieces"]]
        return df.rename(columns={"ci_lower": "lower", "ci_upper": "upper", "ci_pieces": "pieces"})

    def summary(self, at: Sequence[float] | None = None) -> Summary:
        """A :class:`~r3d_teach.Summary` (prints as text, renders once as HTML in a
        notebook). ``at``: levels to show (default: the deciles on the grid, or the whole grid
        if it has at most 15 points)."""
        q = self.quantiles
        if at is None:
            if q.size <= 15:
                sel = np.ones(q.size, bool)
            else:
                sel = np.isclose(q[:, None], np.arange(1, 10)[None, :] / 10, atol=1e-9).any(axis=1)
                if sel.sum() < 3:
                    sel = np.zeros(q.size, bool)
                    sel[np.linspace(0, q.size - 1, 9).round().astype(int)] = True
        else:
            at = np.atleast_1d(np.asarray(at, dtype=float))
            sel = np.isclose(q[:, None], at[None, :], atol=1e-9).any(axis=1)
            if sel.sum() != at.size:
                raise ValueError("at: every level must be on the quantile grid")
        cols = ["q", "mean_left", "mean_right", "diff", "p_value"]
        if "ci_lower" in self.by_quantile:
            cols += ["ci_lower", "ci_upper"]
        table = self.by_quantile.loc[sel, cols].reset_index(drop=True)
        wl, wr = self.window
        if self.method == "exact":
            how = f"all {self.n_possible:,} assignments enumerated (exact)"
        else:
            how = (f"{self.n_assignments:,} random assignments of {self.n_possible:,} "
                   f"(Monte Carlo, p = (1 + #)/(1 + R))")
        lines = [
            "Local randomization inference (sharp null: no unit's distribution changes)",
            (f"  window [{wl:g}, {wr:g}] around cutoff {self.cutoff:g}: {self.n_left} units left, "
             f"{self.n_right} right (of {self.n_units}); labels permuted with {self.n_right} treated fixed"),
            f"  {how}; smallest attainable p-value {self.min_p_value:.4g}",
        ]
        for _, r in self.tests.iterrows():
            mark = "  <- headline" if r["test"] == self.statistic_name else ""
            se = f" (MC s.e. {r['mc_se']:.4f})" if self.method == "monte_carlo" else ""
            pv = f"{r['p_value']:.4f}" if r["p_value"] >= 0.001 else f"{r['p_value']:.2g}"
            lines.append(f"  {r['test']:>11}: statistic {r['statistic']:.4g}, p = {pv}{se}{mark}")
        if self.n_constant_levels:
            lines.append(f"  {self.n_constant_levels} level(s) constant over the window's units: left out of sup_t")
        lines.append(f"  average difference over the grid: {self.shift:.4g}")
        if self.conf_sets:
            for name, df in self.conf_sets.items():
                lines.append(f"  {100 * (1 - self.alpha):g}% set for a constant shift ({name}): {_fmt_set(df)}")
        tests = self.tests.drop(columns=["mc_se"]) if self.method == "exact" else self.tests
        return Summary(header=lines, table=table, tests=tests.copy())

    def plot(self, ax=None, kind: str = "quantiles", title: str | None = None, path=None, **savefig_kwargs):
        """``kind="quantiles"``: per level, the difference in mean quantiles with its confidence
        set for a constant shift (bars; dashed where the set is not connected), filled markers
        where the per-level p-value is at most alpha, and the p-values in a second panel.
        ``kind="null"``: the headline statistic's permutation distribution with the observed
        value. Returns the matplotlib ``Figure`` (panels in ``fig.axes``; with ``ax``, the
        figure of that Axes); ``path``: also save it there
        (:func:`r3d_teach.core.plotting.finish_figure`)."""
        import matplotlib.pyplot as plt

        created = ax is None

        if kind == "null":
            if ax is None:
                _, ax = plt.subplots(figsize=(6, 3.8))
            nd = self.null_distribution
            ax.hist(nd, bins=min(60, max(10, int(np.sqrt(nd.size)))), color="0.7", edgecolor="0.5")
            ax.axvline(self.statistic, color="C3", lw=2, label=f"observed (p = {self.p_value:.3g})")
            names = {"sup_t": "studentized sup over q (sup-t)",
                     "wasserstein": "2-Wasserstein distance of the average quantile functions"}
            ax.set_xlabel(names[self.statistic_name])
            ax.set_ylabel("assignments")
            ax.set_title(title or f"Permutation distribution ({self.method}, {nd.size:,} assignments)")
            ax.legend(frameon=False, fontsize=8)
            return finish_figure(ax.figure, path, created, **savefig_kwargs)
        if kind != "quantiles":
            raise ValueError(f"kind: must be 'quantiles' or 'null', got {kind!r}")
        bq = self.by_quantile
        q = bq["q"].to_numpy()
        two = ax is None
        if two:
            _, axes = plt.subplots(2, 1, figsize=(6.5, 5.2), sharex=True, gridspec_kw={"height_ratios": [2.2, 1]},
                                   constrained_layout=True)
            top, bottom = axes
        else:
            top, bottom, axes = ax, None, ax
        top.axhline(0, color="0.6", lw=0.8, ls=":")
        if self.quantile_sets is not None:
            finite = np.concatenate([s[np.isfinite(s)] for s in self.quantile_sets if len(s)] + [bq["diff"].to_numpy()])
            lo_lim, hi_lim = finite.min(), finite.max()
            pad = 0.1 * (hi_lim - lo_lim + 1e-12)
            for qq, s in zip(q, self.quantile_sets):
                for lo, hi in s:
                    top.plot([qq, qq], [max(lo, lo_lim - pad), min(hi, hi_lim + pad)], color="C0", alpha=0.35,
                             lw=3 if q.size <= 30 else 1.5, ls="-" if len(s) == 1 else "--", solid_capstyle="butt")
            top.plot([], [], color="C0", alpha=0.35, lw=3, label=f"{100 * (1 - self.alpha):g}% set for a shift")
        sig = bq["p_value"].to_numpy() <= self.alpha
        top.plot(q, bq["diff"], color="C0", lw=1.2)
        top.scatter(q[sig], bq["diff"][sig], color="C0", s=18, zorder=3, label=f"p ≤ {self.alpha:g}")
        top.scatter(q[~sig], bq["diff"][~sig], facecolor="white", edgecolor="C0", s=18, zorder=3,
                    label=f"p > {self.alpha:g}")
        top.set_ylabel("mean quantile: right − left")
        default = (f"Local randomization, window [{self.window[0]:g}, {self.window[1]:g}] "
                   f"({self.n_left} + {self.n_right} units); {self.statistic_name} p = {self.p_value:.3g}")
        top.set_title(title or default, fontsize=10)
        top.legend(frameon=False, fontsize=8)
        if bottom is not None:
            bottom.plot(q, bq["p_value"], color="C1", marker="o" if q.size <= 30 else None, ms=3)
            bottom.axhline(self.alpha, color="k", lw=0.8, ls="--")
            bottom.set_ylim(0, 1.02)
            bottom.set_xlabel("quantile level q")
            bottom.set_ylabel("p-value")
        else:
            top.set_xlabel("quantile level q")
        return finish_figure(top.figure, path, created, **savefig_kwargs)


def _mc_se(p: float, R: int, method: str) -> float:
    return 0.0 if method == "exact" else float(np.sqrt(p * (1 - p) / R))


# ----------------------------------------------------------------------------------------------
# randinf
# ----------------------------------------------------------------------------------------------
def randinf(x, y=None, *, cutoff: float, window, statistic: str = "sup_t", n_perm: int = 9999, seed=None,
            quantiles=None, Q=None, data: pd.DataFrame | None = None, unit: str | None = None, weights=None,
            method: str = "auto", alpha: float = 0.05, conf_sets: bool = True, tau_grid=None,
            quantile_method: str = "linear", progress: bool = False) -> RandInfResult:
    r"""Randomization test of the sharp null "no unit's distribution changes" in a window.

    Parameters
    ----------
    x, y : running variable (one value per unit) and the units' samples, as in
        :func:`r3d_teach.r3d`: arrays, or column names with ``data=`` (one row per observation)
        and ``unit=``; or ``Q=`` (n × M unit quantiles) with ``quantiles=``. ``weights``:
        observation weights (per unit, or a column name with ``data=``).
    cutoff : the threshold c; units with x >= c are treated.
    window : the closed window [wl, wr] in x's units (a pair), a half-width h (the window
        [c - h, c + h]) or a :class:`WindowSelection` (its recommended window).
    statistic : the headline distributional statistic, ``"sup_t"`` (max over q of the
        studentized difference) or ``"wasserstein"`` (the 2-Wasserstein distance between the two
        average quantile functions); both are computed and reported in ``tests``.
    n_perm : number of random assignments R when they are drawn (Monte Carlo).
    seed : None, int, ``numpy.random.SeedSequence`` or ``Generator`` (the draws).
    method : ``"auto"`` (enumerate all assignments when there are at most
        :data:`MAX_ENUMERATE`, else draw ``n_perm``), ``"exact"`` or ``"monte_carlo"``.
    alpha : level of the confidence sets (1 - alpha).
    conf_sets : compute the confidence sets for a constant shift (per level: exact; distributional:
        exact for "wasserstein", on a grid for "sup_t").
    tau_grid : the shifts at which the "sup_t" test is inverted (default: an automatic grid of
        :data:`N_SHIFT_GRID` points around the exact sets, widened while the set reaches its end).
    quantiles, quantile_method : the grid of levels (default 0.01, ..., 0.99) and the sample
        quantile rule, as in ``r3d``.
    progress : show tqdm progress bars.

    Returns
    -------
    :class:`RandInfResult`

    Examples
    --------
    Units whose samples do not depend on x: the sharp null holds.

    >>> import numpy as np
    >>> rng = np.random.default_rng(4)
    >>> x = np.arange(-10, 10) + 0.5
    >>> y = [rng.lognormal(3, 0.5, 100) for _ in x]
    >>> res = randinf(x, y, cutoff=0, window=(-4, 4), statistic="wasserstein", seed=2)
    >>> res.method, res.n_possible, bool(res.p_value > 0.05)
    ('exact', 70, True)
    >>> bool(res.by_quantile["p_value"].between(0, 1).all())
    True
    """
    c = validate.check_cutoff(cutoff)
    wl, wr = _check_window(window, c)
    statistic = _check_statistic(statistic)
    n_perm = validate.check_count(n_perm, "n_perm", 1)
    method = _check_method(method)
    alpha = validate.check_alpha(alpha)
    rng = validate.check_seed(seed)
    grid_user = None if tau_grid is None else _check_grid(tau_grid)
    if not isinstance(conf_sets, bool):
        raise TypeError(f"conf_sets: must be True or False, got {conf_sets!r}")
    inp = prepare_inputs(x, y, Q=Q, cutoff=c, quantiles=quantiles, weights=weights, data=data, unit=unit,
                         quantile_method=quantile_method)
    inw = _in_window(inp.x, wl, wr)
    left, right = inw & (inp.xc < 0), inw & (inp.xc >= 0)
    n_left, n_right = int(left.sum()), int(right.sum())
    for n_side, side, rel in ((n_left, "left of the cutoff (x < c)", inp.xc < 0),
                              (n_right, "at or right of the cutoff (x >= c)", inp.xc >= 0)):
        if n_side == 0:
            near = inp.x[rel][np.argmin(np.abs(inp.xc[rel]))]
            raise ValueError(f"window: [{wl:g}, {wr:g}] contains no unit {side}; the unit nearest the cutoff "
                             f"on that side is at x = {near:g}")
    idx = np.flatnonzero(inw)
    idx = idx[np.argsort(inp.x[idx], kind="stable")]   # by x: the draws do not depend on the data's row order
    d = (inp.xc[idx] >= 0).astype(float)
    q = inp.quantiles
    win = _window_data(inp.Q[idx], d, q)
    n_w, n1 = win.n, win.n1
    n_possible = math.comb(n_w, n1)
    exact = method == "exact" or (method == "auto" and n_possible <= MAX_ENUMERATE)
    if exact and n_possible > MAX_EXACT:
        raise ValueError(f"method: 'exact' would enumerate {n_possible:,} assignments (more than {MAX_EXACT:,}); "
                         "use method='monte_carlo'")
    entropy = None if exact else int(rng.integers(2**63))
    asg = _Assignments(n=n_w, n1=n1, d=d, exact=exact, n_draws=n_possible if exact else n_perm, entropy=entropy,
                       rows=_rows(max(n_w, q.size)))
    n_always_min = 2 if n1 == win.n0 else 1
    min_p = n_always_min / n_possible if exact else 1 / (1 + n_perm)
    if exact and min_p > alpha:
        warnings.warn(f"window: with {n_left} + {n_right} units there are only {n_possible} assignments; the "
                      f"smallest attainable p-value is {min_p:.3g} > alpha = {alpha:g}, so the test cannot reject "
                      "at this level (and the confidence sets are unbounded)", UserWarning, stacklevel=2)

    fp = _first_pass(win, asg, progress)
    D = fp.D
    p_q = _p_value(fp.count_q, asg)
    T_sup = float(_sup_t(D, win.null_sd, win.valid))
    T_w2sq = float((D**2) @ win.w)
    c_sup = int(_ties(fp.sup_t, T_sup, 1.0).sum())
    c_w2 = int(_ties(fp.w2sq, T_w2sq, float(np.max(win.Qc**2, axis=0) @ win.w)).sum())
    p_sup, p_w2 = float(_p_value(c_sup, asg)), float(_p_value(c_w2, asg))
    mean_left = inp.Q[idx][d == 0].mean(axis=0)
    mean_right = inp.Q[idx][d == 1].mean(axis=0)
    w2 = float(wasserstein2(mean_right, mean_left, q))
    R = asg.n_draws
    meth = "exact" if exact else "monte_carlo"
    tests = pd.DataFrame({"test": list(STATISTICS), "statistic": [T_sup, w2], "p_value": [p_sup, p_w2],
                          "mc_se": [_mc_se(p_sup, R, meth), _mc_se(p_w2, R, meth)]})
    by_q = pd.DataFrame({"q": q, "mean_left": mean_left, "mean_right": mean_right, "diff": D,
                         "null_sd": win.null_sd, "p_value": p_q})
    shift = float(D @ win.w)

    conf: dict = {}
    qsets = None
    shift_grid = None
    if conf_sets:
        qsets = _quantile_sets(win, asg, fp, alpha, progress)
        by_q["ci_lower"] = [s[0, 0] if len(s) else np.nan for s in qsets]
        by_q["ci_upper"] = [s[-1, 1] if len(s) else np.nan for s in qsets]
        by_q["ci_pieces"] = [len(s) for s in qsets]
        w2set = _wasserstein_set(win, fp, asg, alpha)
        p_inf = float(_p_value(int(win.always(fp.m).sum()), asg))
        ends = np.array([e for st in qsets + [w2set] for e in np.ravel(st) if np.isfinite(e)])
        supset, shift_grid = _sup_t_set(win, asg, fp, alpha, p_inf, shift, ends, grid_user, progress)
        conf = {"sup_t": _sets_frame(supset), "wasserstein": _sets_frame(w2set)}

    units = np.asarray(inp.units)[idx] if inp.units is not None else idx
    return RandInfResult(
        statistic_name=statistic, statistic=T_sup if statistic == "sup_t" else w2,
        p_value=p_sup if statistic == "sup_t" else p_w2, window=(wl, wr), cutoff=c, n_left=n_left,
        n_right=n_right, n_units=inp.n, quantiles=q, by_quantile=by_q, tests=tests, method=meth,
        n_assignments=R, n_possible=n_possible, alpha=alpha, shift=shift,
        conf_set=conf.get(statistic), conf_sets=conf, quantile_sets=qsets, shift_grid=shift_grid,
        n_constant_levels=int((~win.valid).sum()), min_p_value=float(min_p),
        null_distribution=fp.sup_t if statistic == "sup_t" else np.sqrt(np.maximum(fp.w2sq, 0.0)),
        units=units)


# ----------------------------------------------------------------------------------------------
# window selection: rdlocrand's rdwinselect on unit-level covariates
# ----------------------------------------------------------------------------------------------
def _import_rdwinselect():
    try:
        from rdlocrand import rdwinselect
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("select_window needs the optional package 'rdlocrand' (Cattaneo, Titiunik and "
                          f"Vazquez-Bare), which is not installed; install it with: {INSTALL_HINT}") from exc
    return rdwinselect


def _is_discrete(x: np.ndarray) -> bool:
    """Mass points (units sharing x) or values on an evenly spaced lattice (years, months)."""
    u = np.unique(x)
    if u.size < x.size:
        return True
    if u.size < 3:
        return False
    gaps = np.diff(u)
    ratio = gaps / gaps.min()
    return bool(np.all(np.abs(ratio - np.round(ratio)) < 1e-6))


@dataclass
class WindowSelection:
    """Result of :func:`select_window`.

    ``window`` the recommended window (wl, wr) in x's units (None when the smallest window already
    fails); ``table`` one row per nested window: ``window_left, window_right, n_left, n_right,
    p_value`` (the smallest balance p-value over the covariates), ``covariate`` (the one that
    attains it) and ``binomial_p`` (rdwinselect's binomial test of the number of units per side);
    ``level``, ``cutoff``, ``covariates`` (names), ``masspoints``, ``n_perm``, ``rdwinselect_seed``
    (the integer seed handed to rdwinselect), ``log`` (what rdwinselect printed).
    """

    window: tuple | None
    table: pd.DataFrame
    level: float
    cutoff: float
    covariates: list
    masspoints: bool
    n_perm: int
    rdwinselect_seed: int
    statistic: str = "diffmeans"
    approx: bool = False
    notes: list = field(default_factory=list)
    log: str = field(default="", repr=False)

    @property
    def n_left(self) -> int | None:
        row = self._chosen()
        return None if row is None else int(row["n_left"])

    @property
    def n_right(self) -> int | None:
        row = self._chosen()
        return None if row is None else int(row["n_right"])

    def _chosen(self):
        if self.window is None:
            return None
        hit = np.isclose(self.table["window_left"], self.window[0]) & np.isclose(self.table["window_right"],
                                                                                  self.window[1])
        return self.table[hit].iloc[0] if hit.any() else None

    def summary(self) -> Summary:
        how = "approximate (large-sample)" if self.approx else f"randomization, {self.n_perm} draws"
        lines = [
            "Window selection for local randomization (rdlocrand.rdwinselect on unit-level covariates)",
            (f"  cutoff {self.cutoff:g}; covariates: {', '.join(self.covariates)}; balance test: {self.statistic} "
             f"({how}); level {self.level:g}"),
            f"  nested windows: {'one per mass point of x' if self.masspoints else 'rdwinselect defaults'}",
        ]
        if self.window is None:
            lines.append("  recommended window: none (the smallest window already fails the balance test)")
        else:
            lines.append(f"  recommended window: [{self.window[0]:g}, {self.window[1]:g}] with {self.n_left} units "
                         f"left and {self.n_right} right (the largest whose nested windows all have p >= level)")
        lines += [f"  note: {n}" for n in self.notes]
        return Summary(header=lines, table=self.table.copy(), tests=pd.DataFrame())

    def plot(self, ax=None, title: str | None = None, path=None, **savefig_kwargs):
        """Smallest balance p-value against the window's width (wr - wl), the level as a dashed
        line, the recommended window marked. Returns the matplotlib ``Figure`` (``fig.axes[0]``
        the panel); ``path``: also save it there (:func:`r3d_teach.core.plotting.finish_figure`)."""
        import matplotlib.pyplot as plt

        created = ax is None
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.8))
        t = self.table
        width = t["window_right"] - t["window_left"]
        ax.plot(width, t["p_value"], color="C0", marker="o", ms=4, lw=1, label="balance p-value (min over covariates)")
        ax.axhline(self.level, color="k", ls="--", lw=0.8, label=f"level {self.level:g}")
        if self.window is not None:
            wsel = self.window[1] - self.window[0]
            ax.axvline(wsel, color="C2", lw=1.2, label=f"selected [{self.window[0]:g}, {self.window[1]:g}]")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("window width wr − wl (units of x)")
        ax.set_ylabel("p-value")
        ax.set_title(title or "Covariate balance in nested windows")
        ax.legend(frameon=False, fontsize=8)
        return finish_figure(ax.figure, path, created, **savefig_kwargs)


def select_window(x, covariates, *, cutoff: float, data: pd.DataFrame | None = None, unit: str | None = None,
                  level: float = 0.15, n_perm: int = 1000, seed=None, masspoints: bool | None = None,
                  nwindows: int = 10, statistic: str = "diffmeans", approx: bool = False,
                  **rdwinselect_kwargs) -> WindowSelection:
    r"""The largest window in which pre-determined unit covariates are balanced (rdwinselect).

    Calls ``rdlocrand.rdwinselect`` (Cattaneo, Titiunik and Vazquez-Bare 2016) on one row per unit:
    for nested windows :math:`W_1 \subset W_2 \subset \dots` around the cutoff it tests, for each
    covariate, equal means of the units left and right of the cutoff (randomization test,
    ``statistic="diffmeans"``, ``n_perm`` draws) and keeps the smallest p-value over the covariates;
    the recommended window is the largest one such that it and every smaller window have
    p >= ``level`` (0.15 by default: a balance test should err towards rejecting).

    Parameters
    ----------
    x : running variable, one value per unit (or its column name with ``data=, unit=``; it must
        be constant within units).
    covariates : pre-determined unit covariates: a DataFrame (one row per unit), a dict
        name -> (n,) array, a 1-D / 2-D array; with ``data=`` a column name or a list of them (a
        unit's value is the column's mean within the unit, e.g. the share of women for a 0/1
        column), as in :func:`r3d_teach.validity.covariate_balance`.
    cutoff : the threshold c.
    level : the balance level.
    n_perm, seed : draws of rdwinselect's randomization tests and their seed (rdwinselect uses
        NumPy's legacy global generator; it is seeded with an integer drawn from ``seed``, stored in
        ``rdwinselect_seed``, and rdlocrand restores the global state afterwards).
    masspoints : one window per mass point of x, growing one value at a time on each side
        (rdwinselect's ``wmasspoints``). Default: when x is discrete (units share values, or the
        values lie on an evenly spaced lattice such as years or months); otherwise rdwinselect's
        own steps (at least 10 units per side first, 5 more per step).
    nwindows : number of nested windows.
    statistic, approx : rdwinselect's balance statistic and its large-sample option.
    **rdwinselect_kwargs : passed to ``rdwinselect`` (``obsmin, wmin, wobs, wstep, wasymmetric,
        kernel, p, ...``).

    Returns
    -------
    :class:`WindowSelection`

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.arange(-12, 12) + 0.5                             # 24 cohorts
    >>> z = rng.normal(0, 0.3, 24) + 2.0 * (np.abs(x) > 5) * np.sign(x)  # imbalanced beyond |x| = 5
    >>> sel = select_window(x, {"z": z}, cutoff=0, n_perm=500, seed=1)
    >>> sel.window, sel.n_left, sel.n_right
    ((-5.5, 5.5), 6, 6)
    """
    rdwinselect = _import_rdwinselect()

    c = validate.check_cutoff(cutoff)
    level = validate.check_alpha(level, "level")
    n_perm = validate.check_count(n_perm, "n_perm", 1)
    nwindows = validate.check_count(nwindows, "nwindows", 1)
    rng = validate.check_seed(seed)
    for bad in ("R", "X", "cutoff", "reps", "seed", "quietly", "plot", "level", "wmasspoints"):
        if bad in rdwinselect_kwargs:
            raise ValueError(f"{bad}: set by select_window (use its own arguments: x, covariates, cutoff, "
                             "n_perm, seed, level, masspoints)")
    if data is not None:
        xv = split_frame(data, x, None, unit, require_y=False)[0]
        xv = validate.check_running_variable(xv, "x")
        names, M = _covariate_matrix(covariates, xv.size, data, group_units(data, unit))
    else:
        xv = validate.check_running_variable(x, "x")
        names, M = _covariate_matrix(covariates, xv.size)
    validate.check_sides(xv - c)
    if masspoints is None:
        masspoints = _is_discrete(xv)
    elif not isinstance(masspoints, bool):
        raise TypeError(f"masspoints: must be None, True or False, got {masspoints!r}")
    if masspoints:
        for bad in ("obsmin", "wmin", "wobs", "wstep"):
            if rdwinselect_kwargs.get(bad) is not None:
                raise ValueError(f"{bad}: not allowed with masspoints=True (one window per mass point)")
    rd_seed = int(rng.integers(1, 2**31 - 1))
    buf = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(buf):
        warnings.simplefilter("always")
        out = rdwinselect(xv, pd.DataFrame(M, columns=names), cutoff=c, wmasspoints=masspoints,
                          nwindows=nwindows, statistic=statistic, approx=approx, level=level, reps=n_perm,
                          seed=rd_seed, quietly=True, **rdwinselect_kwargs)
    notes = []
    for w in caught:
        msg = str(w.message)
        # a side with a single unit: rdlocrand computes (and then discards, unless approx=True) the
        # large-sample p-value, whose variance divides by n - 1 = 0
        if issubclass(w.category, RuntimeWarning) and ("divide" in msg or "invalid value" in msg):
            continue
        # fewer windows than nwindows: the table shows it; reported as a note instead of a warning
        if msg.startswith("Not enough observations to calculate all windows"):
            notes.append(f"only {len(out['results'])} windows fit in the data (nwindows = {nwindows})")
            continue
        warnings.warn(f"rdwinselect: {msg}", w.category, stacklevel=2)
    res = out["results"]
    var_idx = res["Variable"].to_numpy()
    cov_name = [names[int(v)] if np.isfinite(v) else None for v in var_idx]
    table = pd.DataFrame({
        "window_left": c + res["w_left"].to_numpy(float), "window_right": c + res["w_right"].to_numpy(float),
        "n_left": res["Obs<c"].to_numpy().astype(int), "n_right": res["Obs>=c"].to_numpy().astype(int),
        "p_value": res["p-value"].to_numpy(float), "covariate": cov_name,
        "binomial_p": res["Bi.test"].to_numpy(float)})
    wl, wr = out["w_left"], out["w_right"]
    window = None if not (np.isfinite(wl) and np.isfinite(wr)) else (float(wl), float(wr))
    if window is None:
        warnings.warn(f"level: the smallest window [{table.loc[0, 'window_left']:g}, {table.loc[0, 'window_right']:g}] "
                      f"already fails the balance test (p = {table.loc[0, 'p_value']:.3g} < {level:g}); no window is "
                      "recommended", UserWarning, stacklevel=2)
    return WindowSelection(window=window, table=table, level=level, cutoff=c, covariates=names,
                           masspoints=bool(masspoints), n_perm=n_perm, rdwinselect_seed=rd_seed,
                           statistic=statistic, approx=bool(approx), notes=notes, log=buf.getvalue())
