import numpy as np
import pytest

from r3d_teach import select_bandwidth, unit_quantiles
from r3d_teach.core.bandwidth import bandwidth_from_matrix, density_at_cutoff

Q9 = np.arange(1, 10) / 10


def _curvature_design(n, seed):
    """Scalar outcome with a curvature jump: m_+(x) = 1.5 + x + 8x², m_-(x) = 1 + x, σ = 1,
    X ~ U(-1, 1) (f = 1/2).  For s = 1 and the triangular kernel (c_B = -0.1, c_V = 4.8):
    B_+ - B_- = -0.1·8, V_± = 4.8/0.5, so h* = [19.2 / (4·0.64)]^{1/5} n^{-1/5} = 7.5^{1/5} n^{-1/5}."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    y = 1 + x + 0.5 * (x >= 0) + 8 * x**2 * (x >= 0) + rng.normal(size=n)
    return x, y[:, None]


def test_plugin_tracks_the_infeasible_optimum():
    # 10 seeds at n = 20,000: sd of h/h* measured at 0.075 over 40 seeds, so the mean of 10 has
    # s.e. 0.024; the tolerance 0.1 allows 4 s.e. plus the regularisation's small downward pull.
    n = 20000
    hstar = 7.5 ** 0.2 * n ** -0.2
    r = [bandwidth_from_matrix(*_curvature_design(n, s), np.array([0.5]), p=2).h / hstar for s in range(10)]
    assert abs(np.mean(r) - 1) < 0.1


def test_kernel_enters_through_its_constants():
    # uniform kernel, local linear boundary: c_V = 4, c_B = -1/6 (by hand), so asymptotically
    # h_uniform / h_triangular = [(4·36) / (4.8·100)]^{1/5} = 0.3^{1/5} = 0.786.
    # Over 10 seeds the ratio's sd was 0.03 (s.e. of the mean 0.01); tolerance 0.04.
    r = []
    for s in range(10):
        x, y = _curvature_design(20000, s)
        r.append(bandwidth_from_matrix(x, y, np.array([0.5]), kernel="uniform").h
                 / bandwidth_from_matrix(x, y, np.array([0.5]), kernel="triangular").h)
    assert abs(np.mean(r) - 0.3 ** 0.2) < 0.04


def _units(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    y = [rng.normal(1 + x_i + (x_i >= 0) + 3 * x_i**2, 1 + 0.5 * (x_i >= 0), 60) for x_i in x]
    return x, y, rng


def test_order_p_is_used():
    x, y, _ = _units()
    with pytest.warns(UserWarning, match=r"p: p is the order of the bias-correcting fit \(rdrobust's q\)"):
        b1 = select_bandwidth(x, y, p=1, quantiles=Q9)
    b2 = select_bandwidth(x, y, p=2, quantiles=Q9)
    assert (b1.s, b2.s) == (0, 1)
    assert b1.h != b2.h
    # the lower bound: just above the k-th nearest unit on the binding side, k = max(p + 4, min_units)
    # (p + 1 coefficients and 3 residual degrees of freedom: a window that can carry a variance)
    def kth(k):
        return 1.01 * max(np.sort(np.abs(x[x >= 0]))[k - 1], np.sort(np.abs(x[x < 0]))[k - 1])

    assert b2.h_min == pytest.approx(kth(10))
    assert select_bandwidth(x, y, p=2, quantiles=Q9, min_units=0).h_min == pytest.approx(kth(6))
    assert select_bandwidth(x, y, p=5, quantiles=Q9, min_units=3).h_min == pytest.approx(kth(9))
    assert select_bandwidth(x, y, p=2, quantiles=Q9, min_units=12).h_min == pytest.approx(kth(12))


def test_weights_are_used():
    x, y, rng = _units()
    w = [rng.uniform(0.1, 3, v.size) for v in y]
    bw = select_bandwidth(x, y, weights=w, quantiles=Q9)
    direct = bandwidth_from_matrix(x, unit_quantiles(y, Q9, weights=w), Q9)
    assert bw.h == pytest.approx(direct.h, rel=1e-12)
    # integer weights are replications: the weighted selector equals the one on replicated samples
    k = [rng.integers(1, 4, v.size) for v in y]
    rep = [np.repeat(v, kk) for v, kk in zip(y, k)]
    wq = select_bandwidth(x, y, weights=[kk.astype(float) for kk in k], quantiles=Q9, quantile_method="inverted_cdf")
    rq = select_bandwidth(x, rep, quantiles=Q9, quantile_method="inverted_cdf")
    assert wq.h == pytest.approx(rq.h, rel=1e-10)


def test_simple_gives_one_bandwidth_per_quantile_within_bounds():
    x, y, _ = _units()
    bw = select_bandwidth(x, y, method="simple", quantiles=Q9)
    assert bw.h.shape == (9,)
    assert np.all(bw.h >= bw.h_min) and np.all(bw.h <= bw.h_max)
    assert bw.h_max == pytest.approx(np.abs(x).max())


def test_coverage_correction_factor():
    x, y, _ = _units()
    a = select_bandwidth(x, y, quantiles=Q9)
    b = select_bandwidth(x, y, quantiles=Q9, coverage_correction=True)
    assert b.coverage_factor == pytest.approx(400 ** (-1 / 20))
    assert b.h == pytest.approx(np.clip(a.h_unclipped * 400 ** (-1 / 20), a.h_min, a.h_max))


def test_density_at_cutoff_uniform():
    # f = 1/2 for U(-1, 1); KDE s.e. at n = 20,000 with c_n ≈ 0.08 is about
    # sqrt(f·∫K²/(n c_n)) ≈ 0.004; bias is nil for a flat density
    x = np.random.default_rng(0).uniform(-1, 1, 20000)
    f, cn = density_at_cutoff(x, "triangular")
    assert cn == pytest.approx(1.06 * np.std(x, ddof=1) * 20000 ** -0.2)
    assert f == pytest.approx(0.5, abs=0.02)


def test_flat_quantile_maps_to_h_max():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 200)
    Y = np.ones((200, 1))
    assert bandwidth_from_matrix(x, Y, np.array([0.5])).h == pytest.approx(np.abs(x).max())


def test_fuzzy_denominator_bandwidth():
    x, y, rng = _units()
    t = (rng.uniform(size=x.size) < 0.2 + 0.6 * (x >= 0)).astype(float)
    bw = select_bandwidth(x, y, treatment=t, quantiles=Q9)
    assert bw.denominator is not None and bw.h_den == bw.denominator.h
    assert bw.h_min <= bw.h_den <= bw.h_max


def test_bandwidth_input_errors():
    x, y, _ = _units(50)
    with pytest.raises(ValueError, match="x: all 50 units are on one side"):
        select_bandwidth(np.abs(x) + 0.1, y)
    with pytest.raises(ValueError, match="y: has 49 units but x has 50"):
        select_bandwidth(x, y[:-1])
    with pytest.raises(ValueError, match=r"x: only 3 distinct value\(s\) of x on the right"):
        xx = x.copy()
        xx[xx >= 0] = -0.5
        xx[:3] = [0.1, 0.2, 0.3]
        select_bandwidth(xx, y)


def test_summary_object_holds_the_plugin_pieces(capsys):
    x, y, _ = _units()
    bw = select_bandwidth(x, y, quantiles=Q9)
    summ = bw.summary()
    assert capsys.readouterr().out == ""
    t = summ.to_frame()
    np.testing.assert_allclose(t["B+"], bw.B["+"])
    np.testing.assert_allclose(t["regularisation"], bw.regularisation)
    assert "b (bias correction)" in str(summ) and "<table" in summ._repr_html_()
