"""Discrete running variables (ages, years, scores): the data-driven bandwidth keeps at least
p + 2 distinct values of x on each side, warns about few mass points, and never fails with the
defaults; a bandwidth wider than the data is a global fit."""
import warnings

import numpy as np
import pytest

from r3d_teach import r3d, select_bandwidth

Q9 = np.arange(1, 10) / 10


def _integer_design(units_per_value=1, seed=0, values=np.arange(-10, 11)):
    rng = np.random.default_rng(seed)
    x = np.repeat(values, units_per_value).astype(float)
    mu = 1 + 0.1 * x + 0.5 * (x >= 0) + 0.2 * rng.normal(size=x.size)
    return x, list(mu[:, None] + rng.normal(size=(x.size, 40)))


@pytest.mark.parametrize("units_per_value", [1, 5])
@pytest.mark.parametrize("method", ["frechet", "simple"])
def test_integer_running_variable_with_21_values_runs_with_defaults(units_per_value, method):
    x, y = _integer_design(units_per_value)
    with pytest.warns(UserWarning, match="x: the running variable has few distinct values"):
        res = r3d(x, y, method=method, quantiles=Q9, n_boot=99, seed=1)
    h = np.atleast_1d(res.h)
    for side in (x >= 0, x < 0):
        dist = np.unique(np.abs(x[side]))
        # the window [0, h) holds at least p + 2 = 4 distinct values on each side
        assert np.all((dist[None, :] < h[:, None]).sum(axis=1) >= 4)
    for sd in ("+", "-"):
        b = np.atleast_1d(res.b[sd])
        dist = np.unique(np.abs(x[(x >= 0) if sd == "+" else (x < 0)]))
        assert np.all((dist[None, :] < b[:, None]).sum(axis=1) >= 4)
    assert np.all(np.isfinite(res.tau)) and np.all(np.isfinite(res.band_upper))
    # the effect is 0.5 at every level; a generous check on this small discrete design
    assert np.all(np.abs(res.tau - 0.5) < 5 * res.se + 0.05)


def test_warning_is_issued_once_per_fit():
    x, y = _integer_design(3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r3d(x, y, quantiles=Q9)
    few = [w for w in caught if "few distinct values" in str(w.message)]
    assert len(few) == 1


def test_too_few_distinct_values_for_the_selector_is_a_clear_error():
    x, y = _integer_design(10, values=np.array([-2, -1, 0, 1, 2]))  # 2 left, 3 right
    with pytest.raises(ValueError, match=r"x: only 3 distinct value\(s\) of x on the right"):
        select_bandwidth(x, y, quantiles=Q9)
    # a lower order and a given bandwidth still work
    with pytest.warns(UserWarning, match="p: p is the order of the bias-correcting fit"):
        res = r3d(x, y, quantiles=Q9, p=1, h=5.0)
    assert np.all(np.isfinite(res.tau))


def test_bandwidth_wider_than_the_data_is_a_global_fit():
    """h = 1e6 with the uniform kernel is ordinary least squares of order p on each side."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 300)
    y = [rng.normal(1 + x_i + 2 * x_i**2 + (x_i >= 0), 1, 30) for x_i in x]
    res = r3d(x, y, quantiles=Q9, kernel="uniform", h=1e6)
    Q = res.diagnostics.unit_quantiles
    for side, raw in ((x >= 0, res.plus_raw), (x < 0, res.minus_raw)):
        X = np.vander(x[side], 3, increasing=True)
        ols = np.linalg.lstsq(X, Q[side], rcond=None)[0][0]
        np.testing.assert_allclose(raw, ols, rtol=0, atol=1e-9)
    tri = r3d(x, y, quantiles=Q9, h=1e9)  # triangular weights are 1 - |x|/h ≈ 1
    np.testing.assert_allclose(tri.tau, res.tau, atol=1e-6)
