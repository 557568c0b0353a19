import numpy as np
import pytest

from r3d_teach.core.frechet import isotonic_projection, rearrange
from r3d_teach.core.quantiles import grid_weights


def test_projection_hand_examples():
    q = np.arange(1, 5) / 5
    np.testing.assert_allclose(isotonic_projection(np.array([1.0, 3.0, 2.0, 4.0]), q), [1, 2.5, 2.5, 4])
    np.testing.assert_allclose(isotonic_projection(np.array([3.0, 2.0, 1.0, 0.0]), q), [1.5] * 4)
    mono = np.array([0.0, 1.0, 1.0, 2.0])
    np.testing.assert_array_equal(isotonic_projection(mono, q), mono)


def test_projection_is_the_l2_projection():
    """Characterisation of the projection onto a closed convex cone C: g* in C and
    <m - g*, g - g*>_w <= 0 for every g in C, plus <m - g*, g*>_w = 0."""
    rng = np.random.default_rng(0)
    q = np.sort(rng.uniform(0.01, 0.99, 30))  # unequal grid: spacing weights
    w = grid_weights(q)
    m = np.cumsum(rng.normal(0.1, 1, (20, 30)), axis=1)
    P = isotonic_projection(m, q)
    assert np.all(np.diff(P, axis=1) >= -1e-12)
    for i in range(20):
        assert abs(np.sum(w * (m[i] - P[i]) * P[i])) < 1e-9
        for _ in range(20):
            g = np.cumsum(np.abs(rng.normal(size=30))) + rng.normal()
            assert np.sum(w * (m[i] - P[i]) * (g - P[i])) <= 1e-9


def test_unequal_grid_weights_matter():
    q = np.array([0.1, 0.2, 0.9])  # the last point stands for a long stretch
    # weights (.1, .4, .7)/1.2: pooling the last two gives (.4*3 + .7*1)/1.1
    P = isotonic_projection(np.array([0.0, 3.0, 1.0]), q)
    np.testing.assert_allclose(P, [0.0, 1.9 / 1.1, 1.9 / 1.1])


def test_rearrangement_sort_and_r_interpolated():
    q = np.arange(1, 6) / 6
    m = np.array([1.0, 3.0, 2.0, 4.0, 5.0])
    np.testing.assert_array_equal(rearrange(m, q), [1, 2, 3, 4, 5])
    # R: Rearrangement::rearrangement(list(1:5), c(1,3,2,4,5)) -> 1, 2.248, 2.752, 4, 5
    np.testing.assert_allclose(rearrange(m, q, "interpolated"), [1, 2.248, 2.752, 4, 5], atol=1e-12)
    with pytest.raises(ValueError, match="rearrangement: unknown rule"):
        rearrange(m, q, "bogus")


def test_many_rows_path_equals_pava():
    from scipy.optimize import isotonic_regression

    rng = np.random.default_rng(4)
    q = np.sort(rng.uniform(0.01, 0.99, 40))
    m = np.cumsum(rng.normal(0.05, 1, (300, 40)), axis=1)  # most rows cross somewhere
    P = isotonic_projection(m, q)  # batched min–max path
    w = grid_weights(q)
    ref = np.array([isotonic_regression(row, weights=w).x for row in m])
    np.testing.assert_allclose(P, ref, atol=1e-10)
