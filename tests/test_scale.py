"""The large-data routines against the straightforward formulas (written out here, not imported
from the code under test), on random and ill-conditioned inputs: the bandwidth's global
polynomials in one pass, weighted residual sums from moments, fits that share a pass, the
blocked moments, the centred view of Q, the one-pass input check, the lazy influence terms and
the bootstrap from Φ'Φ; and r3d itself with tiny blocks (many blocks) against its default."""
import numpy as np
import pytest

import r3d_teach.core.quantiles as quantiles
from r3d_teach import r3d, select_bandwidth
from r3d_teach.core.bandwidth import _explicit_global_residuals, _flat_columns, _global_fits, bandwidth_from_matrix
from r3d_teach.core.bootstrap import multiplier_bootstrap
from r3d_teach.core.frechet import isotonic_projection
from r3d_teach.core.influence import LazyTerms, side_influence, sharp_influence
from r3d_teach.core.kernels import get_kernel
from r3d_teach.core.locpoly import (bias_corrected_fit, blocked_moments, local_poly_fit, local_poly_fit_rss,
                                    local_poly_fits, union_rows)
from r3d_teach.core.quantiles import check_quantile_matrix, standardise, standardised_rows
from r3d_teach.core.residuals import leverage_divisor

Q9 = np.arange(1, 10) / 10


def _reference_global(xs, Y, order, s):
    """The OLS of each column of Y on (1, x, ..., x^order) by numpy's pinv: unscaled
    coefficients, s² = RSS / dof and Σ a² ê² for the coefficient of x^{s+1}."""
    scale = max(np.max(np.abs(xs)), 1e-300)
    X = (xs / scale)[:, None] ** np.arange(order + 1)
    pinv = np.linalg.pinv(X)
    g = pinv @ Y
    resid = Y - X @ g
    unscale = scale ** -np.arange(order + 1.0)
    s2 = (resid**2).sum(axis=0) / max(xs.size - (order + 1), 1)
    var = ((pinv[s + 1] * unscale[s + 1])[:, None] ** 2 * resid**2).sum(axis=0)
    return g * unscale[:, None], s2, var


def _check_global(x, Y, s=1, rtol=1e-9, Z=None):
    masks = {"+": x >= 0, "-": x < 0}
    got = _global_fits(x, masks, Y if Z is None else Z, s)
    for side in "+-":
        for order in (s + 2, s + 3):
            coef, s2, var = _reference_global(x[masks[side]], Y[masks[side]], order, s)
            fit = got[side]
            scale_c = np.abs(coef).max(axis=1, keepdims=True)
            np.testing.assert_allclose(fit.coef[order] / scale_c, coef / scale_c, rtol=0, atol=rtol)
            np.testing.assert_allclose(fit.s2[order], s2, rtol=rtol, atol=1e-300)
            if order == s + 2:
                np.testing.assert_allclose(fit.var_coef, var, rtol=rtol, atol=1e-300)
        np.testing.assert_allclose(got[side].sum_sq, (Y[masks[side]] ** 2).sum(axis=0), rtol=1e-12)


def test_global_fits_equal_pinv_on_random_data():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 3000)
    Y = np.sin(3 * x)[:, None] + rng.normal(size=(3000, 7)) * np.linspace(0.1, 2, 7)
    _check_global(x, Y)
    _check_global(x, Y, s=0)


def _exact_global(xs, Y, order, s):
    """The least-squares solution in exact rational arithmetic (normal equations with
    fractions): unscaled coefficients, RSS and Σ a² ê² for the coefficient of x^{s+1}."""
    from fractions import Fraction as F
    scale = F(float(max(np.max(np.abs(xs)), 1e-300)))
    u = [F(float(v)) / scale for v in xs]
    X = [[ui**j for j in range(order + 1)] for ui in u]
    k = order + 1
    A = [[sum(r[i] * r[j] for r in X) for j in range(k)] for i in range(k)]
    inv = [[F(int(i == j)) for j in range(k)] for i in range(k)]
    for c in range(k):  # Gauss-Jordan on A, applied to the identity
        piv = A[c][c]
        A[c] = [v / piv for v in A[c]]
        inv[c] = [v / piv for v in inv[c]]
        for r in range(k):
            if r != c and A[r][c] != 0:
                f = A[r][c]
                A[r] = [a - f * b for a, b in zip(A[r], A[c])]
                inv[r] = [a - f * b for a, b in zip(inv[r], inv[c])]
    a = [sum(inv[s + 1][j] * row[j] for j in range(k)) for row in X]  # OLS weights of x^{s+1}
    coefs, rss, var = [], [], []
    for col in np.asarray(Y, dtype=float).T:
        yv = [F(float(v)) for v in col]
        b = [sum(X[i][j] * yv[i] for i in range(len(u))) for j in range(k)]
        g = [sum(inv[i][j] * b[j] for j in range(k)) for i in range(k)]
        e = [yv[i] - sum(X[i][j] * g[j] for j in range(k)) for i in range(len(u))]
        coefs.append([float(g[j] / scale**j) for j in range(k)])
        rss.append(float(sum(v * v for v in e)))
        var.append(float(sum(a[i] ** 2 * e[i] ** 2 for i in range(len(u))) / scale ** (2 * (s + 1))))
    return np.array(coefs).T, np.array(rss), np.array(var)


def test_global_fits_are_as_accurate_as_pinv_when_x_is_nearly_constant():
    # right side: x in [0.95, 1] (the powers of x/max|x| are nearly collinear, cond ~ 1e8); left
    # side skewed.  Both routes lose digits; against the exact solution ours loses no more.
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(0.95, 1.0, 150), -rng.uniform(0, 1, 150) ** 4])
    Y = np.column_stack([x**2, np.exp(x)]) + rng.normal(size=(300, 2)) * 0.3
    masks = {"+": x >= 0, "-": x < 0}
    got = _global_fits(x, masks, Y, 1)
    for side in "+-":
        xs, Ys = x[masks[side]], Y[masks[side]]
        for order in (3, 4):
            exact, rss, var = _exact_global(xs, Ys, order, 1)
            old, s2_old, var_old = _reference_global(xs, Ys, order, 1)
            dof = xs.size - order - 1
            for new, ref, e in ((got[side].coef[order], old, exact), (got[side].s2[order] * dof, s2_old * dof, rss)):
                err_new = np.max(np.abs(new - e) / np.abs(e).max(axis=0))
                err_old = np.max(np.abs(ref - e) / np.abs(e).max(axis=0))
                assert err_new <= 10 * err_old + 1e-13, (side, order, err_new, err_old)
            if order == 3:
                err_new = np.max(np.abs(got[side].var_coef - var) / var)
                assert err_new <= 10 * np.max(np.abs(var_old - var) / var) + 1e-12


def test_global_fits_drop_small_singular_values_as_pinv_does():
    # three distinct values of x on the right: the order 3 and 4 designs are rank 3
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.choice([0.2, 0.5, 0.9], 300), rng.uniform(-1, 0, 300)])
    Y = rng.normal(size=(600, 4))
    _check_global(x, Y)


def test_global_fits_fall_back_on_explicit_residuals_when_moments_cancel():
    # a large offset and a near-perfect fit: Σ Z² ≫ RSS, so the identity would lose digits
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, 2000)
    small = (1 + x + x**2)[:, None] + 1e-4 * rng.normal(size=(2000, 3))
    Y = 1e4 + small
    masks = {"+": x >= 0, "-": x < 0}
    got = _global_fits(x, masks, Y, 1)
    for side in "+-":
        _, s2, var = _reference_global(x[masks[side]], small[masks[side]], 3, 1)
        np.testing.assert_allclose(got[side].s2[3], s2, rtol=1e-6)
        np.testing.assert_allclose(got[side].var_coef, var, rtol=1e-6)


def test_explicit_global_residuals_equal_the_formula():
    rng = np.random.default_rng(5)
    u = rng.uniform(0, 1, 500)
    Y = rng.normal(size=(500, 3))
    coef = {3: rng.normal(size=(4, 3)), 4: rng.normal(size=(5, 3))}
    a2 = rng.uniform(size=500)
    rss, var = _explicit_global_residuals(Y, np.arange(500), u, coef, a2, 3, 4)
    for o in (3, 4):
        e = Y - (u[:, None] ** np.arange(o + 1)) @ coef[o]
        np.testing.assert_allclose(rss[o], (e**2).sum(axis=0), rtol=1e-12)
        if o == 3:
            np.testing.assert_allclose(var, (a2[:, None] * e**2).sum(axis=0), rtol=1e-12)


def _reference_wls(x, Y, h, p, side, kernel="triangular"):
    """Weighted least squares at the cutoff by lstsq: coefficients (u = x/h basis), residuals,
    kernel weights and the rows of the window."""
    on = (x >= 0) if side == "+" else (x < 0)
    rows = np.flatnonzero(on & (np.abs(x) <= h))
    u = x[rows] / h
    k = get_kernel(kernel)(u)
    R = u[:, None] ** np.arange(p + 1)
    sw = np.sqrt(k)[:, None]
    coef = np.linalg.lstsq(sw * R, sw * Y[rows], rcond=None)[0]
    e = np.where(k[:, None] > 0, Y[rows] - R @ coef, 0.0)
    # weights of the coefficient of x^j: a = K r' (R'KR)^{-1} e_j / h^j
    A = (k[:, None] * R) @ np.linalg.inv(R.T @ (k[:, None] * R))
    return coef, e, k, A, rows


@pytest.mark.parametrize("offset", [0.0, 1e5])
def test_weighted_rss_from_moments_equals_explicit_residuals(offset):
    # with the offset the moments cancel (Σ w Y² ≫ RSS): the residuals are then formed explicitly.
    # The reference is computed on Y - offset (exact: Sterbenz), where no digits are lost; on Y
    # itself any route loses about |offset| · 1e-16 / noise of the residuals (here ~1e-7)
    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, 4000)
    Y = offset + np.column_stack([np.cos(2 * x), x**3]) + rng.normal(size=(4000, 2)) * [0.5, 1e-3]
    tol = 1e-10 if offset == 0 else 1e-6
    for side, h in (("+", 0.4), ("-", 0.7)):
        coef, e, k, A, rows = _reference_wls(x, Y - offset, h, 2, side)
        coef[0] += offset
        fit, rss_k = local_poly_fit_rss(x, Y, h, 2, side=side, weights="kernel")
        np.testing.assert_array_equal(fit.rows, rows)
        np.testing.assert_allclose(fit.coef, coef, rtol=tol, atol=tol * np.abs(coef[1:]).max())
        np.testing.assert_allclose(rss_k, (k[:, None] * e**2).sum(axis=0), rtol=tol)
        _, rss_a = local_poly_fit_rss(x, Y, h, 2, side=side, weights=2)
        a = A[:, 2] / h**2
        np.testing.assert_allclose(rss_a, (a[:, None] ** 2 * e**2).sum(axis=0), rtol=tol)


def test_weighted_rss_with_one_bandwidth_per_column():
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, 1500)
    Y = rng.normal(size=(1500, 3)) + x[:, None]
    hs = np.array([0.3, 0.5, 0.8])
    fit, rss = local_poly_fit_rss(x, Y, hs, 1, side="+", weights="kernel")
    for j, h in enumerate(hs):
        _, e, k, _, _ = _reference_wls(x, Y[:, [j]], h, 1, "+")
        np.testing.assert_allclose(rss[j], (k * e[:, 0] ** 2).sum(), rtol=1e-10)


def test_fits_sharing_a_pass_equal_separate_fits():
    rng = np.random.default_rng(8)
    x = rng.uniform(-1, 1, 3000)
    Y = rng.normal(size=(3000, 5)) + np.sin(x)[:, None]
    pair = local_poly_fits(x, Y, [(0.3, 1, None), (0.6, 2, 2), (0.45, 1, "kernel")], side="-")
    for (h, p, w), (fit, rss) in zip([(0.3, 1, None), (0.6, 2, 2), (0.45, 1, "kernel")], pair):
        one = local_poly_fit(x, Y, h, p, side="-")
        np.testing.assert_allclose(fit.coef, one.coef, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(fit.rows, one.rows)
        if w is not None:
            np.testing.assert_allclose(rss, local_poly_fit_rss(x, Y, h, p, side="-", weights=w)[1], rtol=1e-12)


def test_bias_corrected_fit_with_a_given_bias_fit():
    rng = np.random.default_rng(9)
    x = rng.uniform(-1, 1, 2000)
    Y = rng.normal(size=(2000, 4)) + x[:, None] ** 2
    direct = bias_corrected_fit(x, Y, 0.3, 0.5, 1, 2, side="+")
    given = bias_corrected_fit(x, Y, 0.3, 0.5, 1, 2, side="+", bias=local_poly_fit(x, Y, 0.5, 2, side="+"))
    np.testing.assert_allclose(given.intercept, direct.intercept, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(given.omega), np.asarray(direct.omega), rtol=1e-13, atol=1e-16)
    # the broadcast ω equals the textbook ω_i = w_i(h) - c_h a_i(b) on every column
    conv, bias = direct.conventional, direct.bias
    w_h = conv.active_values(np.asarray(conv.w_active), direct.rows)
    c_h = (np.asarray(conv.w_active) * x[conv.rows, None] ** 2).sum(axis=0)
    a_b = bias.active_values(np.asarray(bias.coefficient_weights_active(2)), direct.rows)
    np.testing.assert_allclose(np.asarray(direct.omega), w_h - c_h * a_b, rtol=1e-12, atol=1e-16)


def test_blocked_moments_equal_the_products(monkeypatch):
    monkeypatch.setattr(quantiles, "BLOCK_ELEMENTS", 64)  # many blocks
    rng = np.random.default_rng(10)
    Y = rng.normal(size=(500, 7))
    rows = np.sort(rng.choice(500, 230, replace=False))
    L1, L2, w = rng.normal(size=(230, 3)), rng.normal(size=(230, 2)), rng.uniform(size=(230, 2))
    (A1, A2), B = blocked_moments(Y, rows, (L1, L2), w)
    np.testing.assert_allclose(A1, Y[rows].T @ L1, rtol=1e-12)
    np.testing.assert_allclose(A2, Y[rows].T @ L2, rtol=1e-12)
    np.testing.assert_allclose(B, (Y[rows] ** 2).T @ w, rtol=1e-12)
    A, B = blocked_moments(Y, None, rng.normal(size=(500, 2)), np.ones(500))
    np.testing.assert_allclose(B, (Y**2).sum(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(Y, rng.__class__(np.random.PCG64(10)).normal(size=(500, 7)))  # Y untouched


def test_centred_rows_equal_the_formula_including_extreme_magnitudes():
    rng = np.random.default_rng(11)
    base = np.sort(rng.normal(size=(50, 4)), axis=1)
    for mag in (1.0, 1e300, 1.7e308, 1e-305):
        Q = base / np.abs(base).max() * mag
        Z, spread = standardised_rows(Q)
        assert 0.25 <= spread / Z.unit <= 4 or Z.unit == 1.0
        rows = np.array([0, 7, 49])
        got = Z.take(rows)
        # the formula, in exact rational arithmetic (no overflow or underflow on the way)
        from fractions import Fraction as F
        ref = np.array([[float((F(float(Q[i, j])) - F(float(Z.centre[j]))) / F(Z.unit)) for j in range(4)]
                        for i in rows])
        assert np.all(np.isfinite(got)) and np.abs(got).max() < 8
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(Z.take(slice(3, 9)), Z.take(np.arange(3, 9)))


def test_standardised_rows_matches_standardise_and_centres_inside_each_column():
    rng = np.random.default_rng(12)
    Q = np.sort(rng.normal(3.0, 2.0, size=(300, 6)), axis=1)
    Z, spread = standardised_rows(Q)
    _, _, scale = standardise(Q)  # the scale of the full standardisation: the same spread
    assert spread == pytest.approx(scale, rel=1e-15)
    assert np.all((Z.centre >= Q.min(axis=0)) & (Z.centre <= Q.max(axis=0)))
    np.testing.assert_allclose(Z.take(slice(None)) * Z.unit, Q - np.median(Q, axis=0), rtol=1e-12, atol=1e-12)


def test_one_pass_input_check_equals_the_direct_checks(monkeypatch):
    monkeypatch.setattr(quantiles, "BLOCK_ELEMENTS", 40)
    rng = np.random.default_rng(13)
    Q = np.sort(rng.normal(size=(200, 9)), axis=1)
    assert check_quantile_matrix(Q) == ((Q.min(), Q.max()), None)
    for row in (0, 57, 199):
        bad = Q.copy()
        bad[row, 4], bad[row, 5] = bad[row, 5], bad[row, 4] - 1.0
        first = int(np.flatnonzero((np.diff(bad, axis=1) < 0).any(axis=1))[0])
        assert check_quantile_matrix(bad)[1] == first == row
        assert check_quantile_matrix(np.asfortranarray(bad))[1] == row
    # a decrease across row ends (last of one row, first of the next) is not one
    Q2 = np.array([[0.0, 5.0], [1.0, 2.0]])
    assert check_quantile_matrix(Q2) == ((0.0, 5.0), None)
    nan = Q.copy()
    nan[120, 3] = np.nan
    assert np.isnan(check_quantile_matrix(nan)[0][0])
    with pytest.raises(ValueError, match="row 120 contains NaN"):
        r3d(rng.uniform(-1, 1, 200), Q=nan, quantiles=Q9)


def test_union_rows_equals_union1d():
    rng = np.random.default_rng(14)
    for _ in range(5):
        a = np.sort(rng.choice(1000, rng.integers(0, 50), replace=False))
        b = np.sort(rng.choice(1000, rng.integers(0, 50), replace=False))
        np.testing.assert_array_equal(union_rows(a, b), np.union1d(a, b))


def test_leverage_divisor_and_isotonic_copy_flag():
    lev = np.array([0.2, 1.0 - 1e-12, 0.9])
    np.testing.assert_allclose(leverage_divisor(lev, "hc3"), [0.8, 1.0, 0.1])
    np.testing.assert_allclose(leverage_divisor(lev, "hc2"), np.sqrt([0.8, 1.0, 0.1]))
    np.testing.assert_array_equal(leverage_divisor(lev, "raw"), np.ones(3))
    q = np.linspace(0.1, 0.9, 5)
    mono = np.array([[0.0, 1, 2, 3, 4], [1, 1, 1, 2, 2]])
    assert isotonic_projection(mono, q, copy=False) is mono
    assert isotonic_projection(mono, q) is not mono
    cross = np.array([[0.0, 2, 1, 3, 4]])
    np.testing.assert_allclose(isotonic_projection(cross, q, copy=False), [[0, 1.5, 1.5, 3, 4]])


def _sharp_fits(n=3000, M=6, seed=15):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    Y = np.sort(rng.normal(size=(n, M)), axis=1) + (x >= 0)[:, None] + x[:, None]
    fits = {side: bias_corrected_fit(x, Y, 0.35, 0.6, 1, 2, side=side) for side in "+-"}
    return x, Y, fits


@pytest.mark.parametrize("rule", ["hc3", "hc2", "raw"])
def test_lazy_influence_terms_equal_the_side_terms(rule):
    x, Y, fits = _sharp_fits()
    q = np.linspace(0.1, 0.9, Y.shape[1])
    inf = sharp_influence(fits["+"], fits["-"], Y, rule, q, floor=1e-13, gram=True)
    assert isinstance(inf.terms, LazyTerms)
    sums, gram = inf.terms.sum_sq, inf.terms.gram
    # the straightforward formula: φ = ω ê on each side (ê leverage-corrected), right minus left
    parts = {}
    for side, fit in fits.items():
        bias = fit.bias
        fitted = isotonic_projection(bias.fitted_at(fit.rows), q)
        lev = bias.active_values(np.asarray(bias.lev_active), fit.rows)
        e = np.where(np.asarray(fit.omega) != 0, Y[fit.rows] - fitted, 0.0)
        if rule != "raw":
            one = 1 - lev
            e = np.where(one > 1e-10, e / (one if rule == "hc3" else np.sqrt(one)), e)
        e = np.where(np.abs(e) < 1e-13, 0.0, e)
        parts[side] = (fit.rows, np.asarray(fit.omega) * e)
    full = np.zeros((x.size, Y.shape[1]))
    full[parts["+"][0]] += parts["+"][1]
    full[parts["-"][0]] -= parts["-"][1]
    np.testing.assert_allclose(inf.full(x.size), full, rtol=1e-12, atol=1e-15)
    T = np.asarray(inf.terms)
    np.testing.assert_allclose(sums, (T**2).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(gram, T.T @ T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(inf.se(), np.sqrt((T**2).sum(axis=0)), rtol=1e-12)
    np.testing.assert_allclose(inf.plus - inf.minus, T, rtol=0, atol=0)
    np.testing.assert_array_equal(inf.plus[~inf.right], 0.0)
    # the array computed again is the one the pass summed: side_influence gives the same rows
    right = side_influence(fits["+"], Y, rule, q, 1e-13)
    np.testing.assert_array_equal(T[np.searchsorted(inf.rows, fits["+"].rows)], right)


def test_lazy_terms_behave_as_an_array():
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6.0).reshape(3, 2)
    T = LazyTerms((3, 2), compute)
    assert T.shape == (3, 2) and not calls
    np.testing.assert_array_equal(T * 2, np.arange(6.0).reshape(3, 2) * 2)
    np.testing.assert_array_equal(T[1], [2.0, 3.0])
    assert T.T.shape == (2, 3) and T.sum() == 15.0 and len(T) == 3
    np.testing.assert_array_equal(np.asarray(T), np.arange(6.0).reshape(3, 2))
    assert len(calls) == 1  # computed once, then kept
    import pickle
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(T)), np.arange(6.0).reshape(3, 2))


def test_a_fit_with_lazy_terms_pickles_and_its_terms_are_the_bootstraps():
    import pickle
    rng = np.random.default_rng(20)
    x = rng.uniform(-1, 1, 600)
    Q = np.sort(rng.normal(size=(600, 9)), axis=1) + (x >= 0)[:, None]
    res = r3d(x, Q=Q, quantiles=Q9, n_boot=100, seed=1)
    back = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(np.asarray(back.diagnostics.influence.terms), np.asarray(res.diagnostics.influence.terms))
    np.testing.assert_array_equal(np.asarray(res.diagnostics.bootstrap.influence), np.asarray(res.diagnostics.influence.terms))
    np.testing.assert_allclose(res.se, np.sqrt((np.asarray(res.diagnostics.influence.terms) ** 2).sum(axis=0)), rtol=1e-12)


def test_bootstrap_from_the_gram_matrix_equals_the_bootstrap_from_the_terms():
    x, Y, fits = _sharp_fits(seed=16)
    q = np.linspace(0.1, 0.9, Y.shape[1])
    inf = sharp_influence(fits["+"], fits["-"], Y, "hc3", q, gram=True)
    T = np.asarray(inf.terms).copy()
    kw = dict(n_boot=300, tests=("nullity", "homogeneity"), rows=inf.rows, n_units=x.size)
    a = multiplier_bootstrap(inf.terms, np.zeros(q.size), q, rng=np.random.default_rng(3), **kw)
    b = multiplier_bootstrap(T, np.zeros(q.size), q, rng=np.random.default_rng(3), **kw)
    np.testing.assert_allclose(a.sup_stats, b.sup_stats, rtol=1e-9)
    np.testing.assert_array_equal(a.tests["p_value"], b.tests["p_value"])


def test_flat_columns_are_the_columns_with_no_range():
    rng = np.random.default_rng(17)
    n = 800
    x = rng.uniform(-1, 1, n)
    Y = np.column_stack([rng.normal(size=n), np.full(n, 2.0), 2.0 + 1e-15 * rng.normal(size=n),
                         2.0 + 1e-6 * rng.normal(size=n)])
    Y[:, 0] *= 50
    Z, spread = standardised_rows(Y)
    masks = {"+": x >= 0, "-": x < 0}
    flat = _flat_columns(Y, _global_fits(x, masks, Z, 1), masks, spread, Z.unit)
    np.testing.assert_array_equal(flat, np.ptp(Y, axis=0) <= 1e-12 * spread)
    np.testing.assert_array_equal(flat, [False, True, True, False])


def test_bandwidth_and_r3d_do_not_depend_on_the_block_size(monkeypatch):
    rng = np.random.default_rng(18)
    n = 3000
    x = rng.uniform(-1, 1, n)
    z = np.sort(rng.normal(size=(n, 19)), axis=1)
    Q = 1 + x[:, None] + (x >= 0)[:, None] * (1 + 0.3 * z) + z
    q = np.arange(1, 20) / 20
    big = r3d(x, Q=Q, quantiles=q, n_boot=200, seed=2)
    sel = select_bandwidth(x, Q=Q, quantiles=q)
    monkeypatch.setattr(quantiles, "BLOCK_ELEMENTS", 200)  # ten rows per block
    small = r3d(x, Q=Q, quantiles=q, n_boot=200, seed=2)
    assert small.h == pytest.approx(big.h, rel=1e-12)
    np.testing.assert_allclose(small.tau, big.tau, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(small.se, big.se, rtol=1e-10)
    np.testing.assert_allclose(small.crit_value, big.crit_value, rtol=1e-6)
    assert sel.h == pytest.approx(big.h, rel=1e-12)


def test_bandwidth_from_matrix_is_location_and_scale_free_at_extreme_offsets():
    rng = np.random.default_rng(19)
    x = rng.uniform(-1, 1, 2000)
    Y = np.sort(rng.normal(size=(2000, 5)), axis=1) + x[:, None] ** 2 + (x >= 0)[:, None]
    base = bandwidth_from_matrix(x, Y, np.linspace(0.1, 0.9, 5))
    for a, c in ((1e6, 1.0), (-3e3, 1e-200), (0.0, 1e250)):
        other = bandwidth_from_matrix(x, a * c + c * Y, np.linspace(0.1, 0.9, 5))
        assert other.h == pytest.approx(base.h, rel=1e-8)
        for side in "+-":
            assert other.b_pilot[side] == pytest.approx(base.b_pilot[side], rel=1e-8)
