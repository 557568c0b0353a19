"""Properties that hold for every data set (hypothesis draws the data): τ̂ and its bands do not
depend on the order or labels of units, move with affine changes of y, do not change when x and the
cutoff shift together, accept lists, Series, arrays and float32 alike, and never mutate inputs."""
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r3d_teach import r3d

Q5 = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
SETTINGS = dict(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])  # the same examples on every run


@st.composite
def designs(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(60, 160))
    jump = draw(st.floats(-2, 2))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    sizes = rng.integers(1, 30, n)
    y = [rng.normal(1 + x_i + jump * (x_i >= 0), 1 + 0.5 * abs(x_i), k) for x_i, k in zip(x, sizes)]
    method = draw(st.sampled_from(["frechet", "simple"]))
    return x, y, method, seed


def _fit(x, y, method, **kw):
    return r3d(x, y, method=method, quantiles=Q5, h=0.7, n_boot=99, seed=5, **kw)


@settings(**SETTINGS)
@given(designs())
def test_reordering_units_changes_nothing_but_the_multipliers(d):
    x, y, method, seed = d
    perm = np.random.default_rng(seed).permutation(x.size)
    a = _fit(x, y, method)
    b = _fit(x[perm], [y[i] for i in perm], method)
    np.testing.assert_allclose(b.tau, a.tau, atol=1e-10)
    np.testing.assert_allclose(b.se, a.se, rtol=1e-9, atol=1e-12)
    # the same multiplier for the same unit: permute the given multipliers with the units
    xi = np.random.default_rng(seed).standard_normal((x.size, 50))
    c = r3d(x, y, method=method, quantiles=Q5, h=0.7, multipliers=xi, seed=1)       # seed: the χ²_ν draws
    e = r3d(x[perm], [y[i] for i in perm], method=method, quantiles=Q5, h=0.7, multipliers=xi[perm], seed=1)
    np.testing.assert_allclose(e.band_upper, c.band_upper, atol=1e-10)
    np.testing.assert_allclose(e.tests.p_value, c.tests.p_value)


@settings(**SETTINGS)
@given(designs(), st.floats(0.01, 100), st.floats(-50, 50))
def test_affine_changes_of_y_move_tau_and_bands_with_them(d, scale, shift):
    x, y, method, _ = d
    a = _fit(x, y, method)
    b = _fit(x, [scale * v + shift for v in y], method)
    tol = 1e-8 * scale * (1 + max(abs(shift), 1))
    np.testing.assert_allclose(b.tau, scale * a.tau, atol=tol)
    np.testing.assert_allclose(b.band_upper - b.tau, scale * (a.band_upper - a.tau), atol=tol)
    np.testing.assert_allclose(b.plus, scale * a.plus + shift, atol=tol)
    np.testing.assert_allclose(b.tests.p_value, a.tests.p_value)


@settings(**SETTINGS)
@given(designs(), st.floats(-100, 100))
def test_shifting_x_and_the_cutoff_together(d, c):
    x, y, method, _ = d
    x = np.round(x, 6)  # values that shift exactly enough not to change sides
    a = _fit(x, y, method)
    b = _fit(x + c, y, method, cutoff=c)
    np.testing.assert_allclose(b.tau, a.tau, atol=1e-6)
    np.testing.assert_allclose(b.se, a.se, rtol=1e-5, atol=1e-9)


@settings(**SETTINGS)
@given(designs())
def test_unit_labels_and_data_frame_row_order_do_not_matter(d):
    x, y, method, seed = d
    lab = np.array([f"state-{j:04d}" for j in np.random.default_rng(seed).permutation(x.size)])
    df = pd.DataFrame({"u": np.repeat(lab, [v.size for v in y]), "x": np.repeat(x, [v.size for v in y]),
                       "y": np.concatenate(y)})
    a = _fit(x, y, method)
    b = r3d("x", "y", data=df.sample(frac=1, random_state=seed % 1000), unit="u", method=method,
            quantiles=Q5, h=0.7, n_boot=0)
    np.testing.assert_allclose(b.tau, a.tau, atol=1e-10)
    np.testing.assert_allclose(b.se, a.se, rtol=1e-9, atol=1e-12)


def test_lists_series_arrays_and_float32_give_the_same_answer():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 120)
    Y = (1 + x + (x >= 0))[:, None] + rng.normal(size=(120, 25))
    ref = r3d(x, list(Y), quantiles=Q5, h=0.7, n_boot=0)
    for xv, yv in ((list(x), [list(r) for r in Y]), (pd.Series(x), list(Y)), (x, Y),
                   (tuple(x), tuple(pd.Series(r) for r in Y))):
        np.testing.assert_allclose(r3d(xv, yv, quantiles=Q5, h=0.7, n_boot=0).tau, ref.tau, atol=1e-12)
    x32, Y32 = x.astype(np.float32), Y.astype(np.float32)
    got = r3d(x32, list(Y32), quantiles=Q5, h=0.7, n_boot=0)
    same = r3d(x32.astype(float), list(Y32.astype(float)), quantiles=Q5, h=0.7, n_boot=0)
    np.testing.assert_allclose(got.tau, same.tau, atol=1e-12)
    np.testing.assert_allclose(got.tau, ref.tau, atol=1e-5)


def test_inputs_are_never_mutated():
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, 100)
    y = [rng.normal(size=rng.integers(2, 20)) for _ in x]
    w = [rng.uniform(0.5, 2, v.size) for v in y]
    t = (rng.uniform(size=100) < 0.2 + 0.6 * (x >= 0)).astype(float)
    cl = np.arange(100) % 10
    copies = [x.copy(), [v.copy() for v in y], [v.copy() for v in w], t.copy(), cl.copy()]
    df = pd.DataFrame({"u": np.repeat(np.arange(100), [v.size for v in y]), "x": np.repeat(x, [v.size for v in y]),
                       "y": np.concatenate(y)})
    df_copy = df.copy()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a weak first stage at n = 100 is not the point here
        r3d(x, y, weights=w, treatment=t, cluster=cl, quantiles=Q5, h=0.8, n_boot=20, seed=0)
    r3d("x", "y", data=df, unit="u", quantiles=Q5, h=0.8, n_boot=0)
    np.testing.assert_array_equal(x, copies[0])
    for a, b in zip(y, copies[1]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(w, copies[2]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(t, copies[3])
    np.testing.assert_array_equal(cl, copies[4])
    pd.testing.assert_frame_equal(df, df_copy)
