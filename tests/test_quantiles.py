from fractions import Fraction

import numpy as np
import pytest

from r3d_teach import barycenter, unit_quantiles, wasserstein2
from r3d_teach.core.quantiles import grid_weights

Q9 = np.arange(1, 10) / 10


def _samples(seed=0, n=150, ties=True):
    rng = np.random.default_rng(seed)
    ys = [rng.normal(size=rng.integers(1, 40)) for _ in range(n)]
    if ties:
        ys[0] = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 5.0])
        ys[1] = np.array([3.0])
        ys[2] = np.round(rng.normal(size=30), 1)
    return ys


def test_type7_matches_numpy_linear():
    ys = _samples()
    q = np.arange(1, 100) / 100
    Q = unit_quantiles(ys, q)
    ref = np.array([np.quantile(v, q, method="linear") for v in ys])
    np.testing.assert_allclose(Q, ref, rtol=0, atol=1e-12)


def test_type7_hand_example():
    # sorted (1, 2, 3, 10): h = 3q + 1; q = .5 -> h = 2.5 -> 2.5 ; q = .9 -> h = 3.7 -> 3 + .7*7
    Q = unit_quantiles([np.array([10.0, 3.0, 1.0, 2.0])], [0.5, 0.9])
    np.testing.assert_allclose(Q, [[2.5, 7.9]], atol=1e-12)


def _inverted_cdf_exact(v, q):
    s = np.sort(v)
    k = len(s)
    out = []
    for qq in q:
        fq = Fraction(str(qq))  # the decimal level, exactly
        j = next(j for j in range(1, k + 1) if Fraction(j, k) >= fq)
        out.append(s[j - 1])
    return out


def test_inverted_cdf_is_the_left_continuous_inverse_exactly():
    ys = _samples(1)
    q = np.round(np.arange(1, 100) / 100, 2)
    Q = unit_quantiles(ys, q, method="inverted_cdf")
    ref = np.array([_inverted_cdf_exact(v, q) for v in ys])
    np.testing.assert_array_equal(Q, ref)


def _hmisc_weighted(z, w, q):
    """Independent transcription of Hmisc::wtd.quantile(normwt=TRUE, type="quantile"):
    aggregate ties, then R's approx(cumsum(w), x, xout, method="constant", f=1, rule=2)."""
    z = np.asarray(z, float)
    w = np.asarray(w, float) * len(z) / np.sum(w)
    xs = sorted(set(z.tolist()))
    ws = [w[z == v].sum() for v in xs]
    cw = np.cumsum(ws)
    N = len(z)

    def approx_const_f1(t):
        if t <= cw[0]:
            return xs[0]
        if t >= cw[-1]:
            return xs[-1]
        for j in range(len(cw)):
            if cw[j] == t:
                return xs[j]
            if cw[j] > t:  # t strictly between cw[j-1] and cw[j]; f = 1 takes the right value
                return xs[j]

    out = []
    for qq in q:
        o = 1 + (N - 1) * qq
        lo = max(np.floor(o), 1)
        hi = min(lo + 1, N)
        fr = o % 1
        out.append((1 - fr) * approx_const_f1(lo) + fr * approx_const_f1(hi))
    return out


def test_weighted_quantiles_follow_the_hmisc_rule():
    rng = np.random.default_rng(3)
    ys = _samples(3)
    ws = [rng.uniform(0.2, 2.0, v.size) for v in ys]
    ws[2] = np.ones(30)
    q = np.arange(1, 100) / 100
    Q = unit_quantiles(ys, q, weights=ws)
    ref = np.array([_hmisc_weighted(v, w, q) for v, w in zip(ys, ws)])
    np.testing.assert_allclose(Q, ref, rtol=0, atol=1e-12)


def test_weighted_hand_example_and_equal_weights_are_type7():
    # z = (0,1,2,3), w = (1,1,1,5) -> normalised (.5,.5,.5,2.5), cumsum (.5,1,1.5,4);
    # q=.5: o = 2.5 -> v(2) = v(3) = 3 ; q=.1: o = 1.3 -> .7*v(1) + .3*v(2) = .7*1 + .3*3
    Q = unit_quantiles([np.array([0.0, 1.0, 2.0, 3.0])], [0.1, 0.5], weights=[np.array([1.0, 1, 1, 5])])
    np.testing.assert_allclose(Q, [[1.6, 3.0]], atol=1e-12)
    ys = _samples(4)
    np.testing.assert_allclose(unit_quantiles(ys, Q9, weights=[np.full(v.size, 7.0) for v in ys]),
                               unit_quantiles(ys, Q9), rtol=0, atol=1e-12)


def test_weighted_inverted_cdf_equals_replication():
    # integer weights = replicating observations
    z = np.array([5.0, 1.0, 3.0])
    w = np.array([2.0, 1.0, 3.0])
    rep = np.repeat(z, w.astype(int))
    q = np.round(np.arange(1, 100) / 100, 2)
    np.testing.assert_array_equal(unit_quantiles([z], q, weights=[w], method="inverted_cdf")[0],
                                  _inverted_cdf_exact(rep, q))


def test_wasserstein_and_barycenter_closed_forms():
    from scipy.stats import norm

    q = np.arange(1, 1000) / 1000
    a = 1.0 + 2.0 * norm.ppf(q)
    b = -1.0 + 0.5 * norm.ppf(q)
    # W2 between N(1, 2^2) and N(-1, .5^2): sqrt((1 - -1)^2 + (2 - .5)^2) = 2.5 (on the full line)
    assert wasserstein2(a, b, q) == pytest.approx(2.5, abs=0.02)
    np.testing.assert_allclose(barycenter(np.vstack([a, b])), 0.0 + 1.25 * norm.ppf(q), atol=1e-12)
    np.testing.assert_allclose(barycenter(np.vstack([a, b]), weights=[3, 1]), 0.5 + 1.625 * norm.ppf(q), atol=1e-12)


def test_grid_weights_equal_on_equal_grids():
    np.testing.assert_allclose(grid_weights(Q9), np.full(9, 1 / 9))
    w = grid_weights(np.array([0.1, 0.2, 0.5, 0.9]))
    np.testing.assert_allclose(w, np.array([0.1, 0.2, 0.35, 0.4]) / 1.05)


@pytest.mark.parametrize("q,msg", [([0.0, 0.5], "strictly inside"), ([0.5, 1.0], "strictly inside"),
                                   ([0.5, 0.2], "sorted"), ([0.2, 0.2], "repeated"), ([np.nan], "NaN")])
def test_bad_grids(q, msg):
    with pytest.raises(ValueError, match=f"quantiles.*{msg}"):
        unit_quantiles([np.arange(3.0)], q)


def test_bad_samples_and_weights():
    with pytest.raises(ValueError, match="y: unit 1 has an empty sample"):
        unit_quantiles([np.arange(3.0), np.array([])], Q9)
    with pytest.raises(ValueError, match="y: unit 0 contains NaN"):
        unit_quantiles([np.array([1.0, np.nan])], Q9)
    with pytest.raises(ValueError, match="weights: unit 0 has negative"):
        unit_quantiles([np.arange(3.0)], Q9, weights=[np.array([1.0, -1, 1])])
    with pytest.raises(ValueError, match="weights: the weights of unit 0 sum to zero"):
        unit_quantiles([np.arange(3.0)], Q9, weights=[np.zeros(3)])
    with pytest.raises(ValueError, match="weights: unit 0 has 2 weights but 3"):
        unit_quantiles([np.arange(3.0)], Q9, weights=[np.ones(2)])
    with pytest.raises(ValueError, match="weights: unit 0 contains NaN"):
        unit_quantiles([np.arange(3.0)], Q9, weights=[np.array([1, np.inf, 1.0])])
    with pytest.raises(ValueError, match="quantile_method"):
        unit_quantiles([np.arange(3.0)], Q9, method="type9")


def _weighted_units(seed):
    rng = np.random.default_rng(seed)
    ys, ws = [], []
    for k in (1, 2, 7, 10, 25, 60):
        z = np.round(rng.normal(size=k), 1)  # ties
        ys.append(z)
        ws.append(rng.choice([0.5, 1.0, 3.0], size=k))
    ys.append(np.arange(10.0))
    ws.append(np.array([1.0, 3.0] * 5))
    return ys, ws


@pytest.mark.parametrize("method", ["linear", "inverted_cdf"])
def test_weighted_unit_quantiles_depend_on_the_unit_alone(method):
    """A unit's weighted quantiles do not change with the other units, their order, or the
    scale of its own weights (a global cumulative sum used to leak rounding across units)."""
    ys, ws = _weighted_units(3)
    q = np.round(np.arange(1, 100) / 100, 2)
    alone = np.vstack([unit_quantiles([y], q, weights=[w], method=method) for y, w in zip(ys, ws)])
    together = unit_quantiles(ys, q, weights=ws, method=method)
    np.testing.assert_array_equal(together, alone)
    perm = np.random.default_rng(0).permutation(len(ys))
    shuffled = unit_quantiles([ys[i] for i in perm], q, weights=[ws[i] for i in perm], method=method)
    np.testing.assert_array_equal(shuffled, alone[perm])
    before = unit_quantiles([np.array([1.0, 2.0])] + ys, q, weights=[np.array([0.1, 5.0])] + ws, method=method)
    np.testing.assert_array_equal(before[1:], alone)
    for scale in (1e-200, 1e-3, 7.3, 1e250):
        scaled = unit_quantiles(ys, q, weights=[w * scale for w in ws], method=method)
        np.testing.assert_array_equal(scaled, alone)


def test_weighted_median_of_alternating_weights_is_the_hmisc_value():
    # weights (1, 3, 1, 3, ...) on 0..9, normalised to sum to 10: cumulative 0.5, 2, 2.5, 4, 4.5, 6, ...
    # o = 1 + 9 * 0.5 = 5.5: v(5) = v(6) = 5 (first cumulative weight >= 5 and >= 6 is at 5)
    z, w = np.arange(10.0), np.array([1.0, 3.0] * 5)
    assert unit_quantiles([z], [0.5], weights=[w])[0, 0] == 5.0
    assert unit_quantiles([np.array([1.0, 2.0]), z], [0.5], weights=[np.array([0.1, 5.0]), w])[1, 0] == 5.0
