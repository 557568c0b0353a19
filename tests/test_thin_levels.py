"""Levels whose se is a tiny fraction of the others' (a floor, a cap, a mass point of the outcome):
when one of them sets the studentized nullity statistic above its critical value, ``r3d`` warns
and records a note that ``summary()`` prints; otherwise it stays silent."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import norm

from r3d_teach import r3d

Q_GRID = np.array([0.01, 0.1, 0.25, 0.5, 0.75, 0.9])


def _floor_design(n=300, jump_at_floor=0.5, seed=0, floor_noise=1e-5):
    """Unit quantile functions whose lowest level is a floor: 0 left of the cutoff and
    ``jump_at_floor`` right of it, with a few units off the floor by ``floor_noise``; above it,
    ordinary unit-level noise and no effect."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    right = x >= 0
    floor = jump_at_floor * right.astype(float)
    off = rng.choice(n, size=6, replace=False)
    floor[off] += floor_noise * rng.uniform(1, 2, off.size)
    body = 3.0 + rng.normal(0, 0.5, n)[:, None] + 0.4 * norm.ppf(Q_GRID[1:])[None, :]
    Q = np.column_stack([floor, body])
    assert np.all(np.diff(Q, axis=1) > 0)
    return x, Q


def _fit(x, Q, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = r3d(x, Q=Q, quantiles=Q_GRID, h=0.5, b=0.8, n_boot=299, seed=1, **kw)
    notes = [w for w in rec if "r3d: the largest" in str(w.message)]
    return res, notes


def test_a_near_degenerate_level_that_decides_the_test_is_noted():
    x, Q = _floor_design()
    res, warned = _fit(x, Q)
    se_ratio = res.se[0] / np.median(res.se)
    assert 0 < se_ratio < 0.01                          # the floor's se: a tiny fraction of the others'
    assert abs(res.tau[0] - 0.5) < 1e-3
    assert len(warned) == 1 and len(res.notes) == 1
    assert "q = 0.01" in res.notes[0] and "test_ranges" in res.notes[0]
    assert "note: the largest |t|" in str(res.summary())


def test_no_note_with_the_unweighted_band_or_without_a_floor():
    x, Q = _floor_design()
    _, warned = _fit(x, Q, band="unweighted")
    assert not warned
    rng = np.random.default_rng(3)
    Q2 = Q.copy()
    Q2[:, 0] = Q[:, 1] - 1.0 - np.abs(rng.normal(0, 0.3, Q.shape[0]))   # an ordinary noisy level
    res, warned = _fit(x, Q2)
    assert not warned and res.notes == []


def test_no_note_for_a_floor_that_does_not_move():
    """Every unit at the same floor: se = 0 and tau = 0 there (z = 0 by the se = 0 rule), so the
    level cannot set the statistic: silent."""
    x, Q = _floor_design(jump_at_floor=0.0, floor_noise=0.0)
    Q[:, 0] = 0.0
    res, warned = _fit(x, Q)
    assert not warned and res.notes == []


@pytest.mark.parametrize("n_boot", [0])
def test_no_note_without_the_bootstrap(n_boot):
    x, Q = _floor_design()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        res = r3d(x, Q=Q, quantiles=Q_GRID, h=0.5, b=0.8, n_boot=n_boot)
    assert res.notes == []
