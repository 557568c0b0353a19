"""Bell and McCaffrey's degrees of freedom of the robust variance (r3d_teach.core.dof), against a
direct dense computation written here from the estimator's formulas (n × n matrices), closed
forms, and the fit's ν (one per fit; the smallest for per-level fits and fuzzy designs)."""
import warnings

import numpy as np
import pytest

from r3d_teach import r3d
from r3d_teach.core.dof import bell_mccaffrey_dof, dof_from_w

Q9 = np.arange(1, 10) / 10


def _design(n, seed, M=9):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    Q = np.sort(1 + x[:, None] + 0.5 * (x >= 0)[:, None] + rng.normal(size=(n, M)), axis=1)
    return x, Q


def _tri(u):
    return np.clip(1 - np.abs(u), 0, None)


def _direct_w(x, h, b, rule, clusters=None, s=1, p=2):
    """Per side: (units, W) with W = the map from the side's outcomes to its influence terms,
    written from the estimator's formulas: ω = w(h) - c_h a(b) (robust bias correction, c_h =
    Σ w_i(h) x_i^{s+1}, a(b) the weights of the x^{s+1} coefficient of the order-p fit at b),
    ê = (I - H)Y with H the order-p fit's hat matrix, and the residual rule (HC2 ê/√(1 - ℓ),
    HC3 ê/(1 - ℓ), raw; with clusters HC3 is CR3: (I - H_gg)⁻¹ on each cluster's block)."""
    out = []
    for side in (x >= 0, x < 0):
        idx = np.flatnonzero(side & (np.abs(x) <= max(h, b)))
        xs = x[idx]
        kh, kb = _tri(xs / h), _tri(xs / b)
        R1 = np.vander(xs / h, s + 1, increasing=True)
        w_h = kh * (R1 @ np.linalg.inv(R1.T @ (kh[:, None] * R1))[:, 0])
        R2 = np.vander(xs / b, p + 1, increasing=True)
        S2inv = np.linalg.inv(R2.T @ (kb[:, None] * R2))
        a_b = kb * (R2 @ S2inv[:, s + 1]) / b ** (s + 1)
        omega = w_h - np.sum(w_h * xs ** (s + 1)) * a_b
        H = (R2 @ S2inv @ R2.T) * kb[None, :]
        IH = np.eye(idx.size) - H
        lev = np.diag(H)
        if rule == "hc3" and clusters is not None:
            act = omega != 0
            T = np.zeros_like(H)
            cl = clusters[idx]
            for c in np.unique(cl):
                m = cl == c
                T[np.ix_(m, m)] = np.linalg.inv(np.eye(m.sum()) - H[np.ix_(m, m)])
            W = omega[:, None] * (act[:, None] * T * act[None, :]) @ IH
        else:
            div = {"hc2": np.sqrt(1 - lev), "hc3": 1 - lev, "raw": np.ones_like(lev)}[rule]
            W = (omega / div)[:, None] * IH
        out.append((idx, W))
    return out


def _direct_dof(parts, clusters=None):
    """ν = (tr A)²/‖A‖_F², A = C'(W₊W₊' ⊕ W₋W₋')C, formed as an n × n matrix."""
    n = max(int(idx.max()) for idx, _ in parts) + 1
    Wfull = np.zeros((n, n))
    for idx, W in parts:
        Wfull[np.ix_(idx, idx)] = W
    C = np.eye(n) if clusters is None else (clusters[:n, None] == np.unique(clusters)[None, :]).astype(float)
    A = C.T @ Wfull @ Wfull.T @ C
    return np.trace(A) ** 2 / np.sum(A * A)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rule", ["hc2", "hc3", "raw"])
def test_dof_equals_a_direct_dense_computation(seed, rule):
    x, Q = _design(80, seed)
    h, b = 0.5, 0.8
    res = r3d(x, Q=Q, quantiles=Q9, method="simple", h=h, b=b, n_boot=0, residuals=rule)
    parts = _direct_w(x, h, b, rule)
    # the W written here is the estimator's: W Q gives its influence terms (right: +, left: -)
    phi = res.diagnostics.influence.full(x.size)
    for (idx, W), sign in zip(parts, (1.0, -1.0)):
        np.testing.assert_allclose(sign * W @ Q[idx], phi[idx], rtol=0, atol=1e-12)
    nu = _direct_dof(parts)
    fits = res.diagnostics.fits
    for dense in (True, False):
        assert bell_mccaffrey_dof(fits, rule, dense=dense) == pytest.approx(nu, rel=1e-9)


@pytest.mark.parametrize("rule", ["hc2", "hc3"])
def test_clustered_dof_equals_a_direct_dense_computation(rule):
    """Clusters straddle the cutoff; HC2 residuals are summed within clusters, HC3 becomes CR3."""
    for seed in (3, 4):
        x, Q = _design(90, seed)
        g = np.random.default_rng(seed).integers(0, 15, x.size)
        with pytest.warns(UserWarning, match="cluster: only .* clusters have units in the windows"):
            res = r3d(x, Q=Q, quantiles=Q9, method="simple", h=0.5, b=0.8, n_boot=0, residuals=rule, cluster=g)
        parts = _direct_w(x, 0.5, 0.8, rule, clusters=g)
        phi = res.diagnostics.influence.full(x.size)
        for (idx, W), sign in zip(parts, (1.0, -1.0)):
            np.testing.assert_allclose(sign * W @ Q[idx], phi[idx], rtol=0, atol=1e-12)
        nu = _direct_dof(parts, g)
        for dense in (True, False):
            assert bell_mccaffrey_dof(res.diagnostics.fits, rule, g, dense=dense) == pytest.approx(nu, rel=1e-9)
        assert nu < _direct_dof(parts)                     # 15 clusters: fewer independent pieces


def test_dof_of_a_mean_and_of_a_difference_of_means():
    """Local constant with a uniform kernel (p = s = 0): each side's terms are the residuals of its
    mean, W = ω(I - 11'/n)/√(1 - 1/n); one side alone has ν = n - 1, and the jump the
    Welch-Satterthwaite ν = (1/n₊ + 1/n₋)² / (1/(n₊²(n₊ - 1)) + 1/(n₋²(n₋ - 1)))."""
    for n in (5, 12, 40):
        W = (np.eye(n) - np.ones((n, n)) / n) / n / np.sqrt(1 - 1 / n)
        assert dof_from_w([W]) == pytest.approx(n - 1, rel=1e-12)
    rng = np.random.default_rng(5)
    x = np.r_[rng.uniform(0.01, 0.99, 13), -rng.uniform(0.01, 0.99, 29)]
    Q = np.sort(rng.normal(size=(x.size, 3)), axis=1)
    res = r3d(x, Q=Q, quantiles=[0.25, 0.5, 0.75], p=0, s=0, kernel="uniform", h=1.0, n_boot=9, seed=0)
    assert res.residuals == "hc2"
    n1, n0 = 13, 29
    welch = (1 / n1 + 1 / n0) ** 2 / (1 / (n1**2 * (n1 - 1)) + 1 / (n0**2 * (n0 - 1)))
    assert res.dof == pytest.approx(welch, rel=1e-10)
    for dense in (True, False):
        assert bell_mccaffrey_dof(res.diagnostics.fits, "hc2", dense=dense) == pytest.approx(welch, rel=1e-10)


def test_more_units_more_degrees_of_freedom():
    nus = []
    for n in (100, 400, 1600):
        x, Q = _design(n, 6)
        nus.append(r3d(x, Q=Q, quantiles=Q9, h=0.4, b=0.6, n_boot=9, seed=0).dof)
    assert nus[0] < nus[1] < nus[2]
    # roughly proportional to the units in the windows (a kernel-weighted effective number)
    assert 2 < nus[1] / nus[0] < 6 and 2 < nus[2] / nus[1] < 6


def test_low_rank_formula_with_a_leverage_close_to_one():
    """One unit alone near the cutoff and the others far: its leverage is close to one and its
    HC2/HC3 weight large.  The O(n) computation handles such units explicitly and agrees with
    the dense one; with 3,000 units the default path is the low-rank one."""
    rng = np.random.default_rng(7)
    x = np.r_[0.0005, rng.uniform(0.9, 1.0, 24), -rng.uniform(0.05, 1.0, 40)]
    Q = np.sort(rng.normal(size=(x.size, 3)), axis=1)
    res = r3d(x, Q=Q, quantiles=[0.25, 0.5, 0.75], h=1.0, kernel="uniform", n_boot=0)
    lev = res.diagnostics.fits["+"].bias.leverage[:, 0]
    assert 1 - lev.max() < 1e-4
    for rule in ("hc2", "hc3"):
        nu = _direct_dof(_direct_w_uniform(x, 1.0, rule))
        for dense in (True, False):
            assert bell_mccaffrey_dof(res.diagnostics.fits, rule, dense=dense) == pytest.approx(nu, rel=1e-8)
    x, Q = _design(3000, 8)
    res = r3d(x, Q=Q, quantiles=Q9, h=0.5, b=0.7, n_boot=0)
    fits = res.diagnostics.fits
    g = np.random.default_rng(8).integers(0, 400, x.size)
    for cl in (None, g):
        a = bell_mccaffrey_dof(fits, "hc2", cl)                   # low rank (about 1,000 rows a side)
        assert a == pytest.approx(bell_mccaffrey_dof(fits, "hc2", cl, dense=True), rel=1e-9)


def _direct_w_uniform(x, h, rule):
    """b = h, uniform kernel, order 2 (the paper's estimator): ω = the intercept weights."""
    out = []
    for side in (x >= 0, x < 0):
        idx = np.flatnonzero(side & (np.abs(x) <= h))
        u = x[idx] / h
        k = np.full(idx.size, 0.5)
        R = np.vander(u, 3, increasing=True)
        Sinv = np.linalg.inv(R.T @ (k[:, None] * R))
        H = (R @ Sinv @ R.T) * k[None, :]
        omega = k * (R @ Sinv[:, 0])
        div = np.sqrt(1 - np.diag(H)) if rule == "hc2" else 1 - np.diag(H)
        out.append((idx, (omega / div)[:, None] * (np.eye(idx.size) - H)))
    return out


def test_per_level_fits_take_the_smallest_dof():
    x, Q = _design(300, 9)
    h = np.linspace(0.3, 0.7, 9)
    b = np.linspace(0.5, 0.9, 9)
    res = r3d(x, Q=Q, quantiles=Q9, method="simple", h=h, b=b, n_boot=9, seed=0)
    each = [r3d(x, Q=Q[:, [j]], quantiles=[Q9[j]], h=h[j], b=b[j], n_boot=9, seed=0).dof for j in range(9)]
    assert res.dof == pytest.approx(min(each), rel=1e-12)
    assert max(each) > 1.5 * min(each)                      # the narrowest windows set it


def test_fuzzy_dof_is_the_smaller_of_the_two_stages():
    rng = np.random.default_rng(10)
    x = rng.uniform(-1, 1, 400)
    t = (rng.uniform(size=400) < 0.2 + 0.6 * (x >= 0)).astype(float)
    y = [rng.normal(1 + x_i + t_i, 1, 30) for x_i, t_i in zip(x, t)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = r3d(x, y, treatment=t, quantiles=Q9, h=(0.3, 0.8), n_boot=9, seed=0)
    d = res.diagnostics
    nu_y = bell_mccaffrey_dof(d.fits, "hc2")
    nu_t = bell_mccaffrey_dof(d.first_stage_fits, "hc2")
    assert nu_y < nu_t                                       # the outcome's narrower window
    assert res.dof == pytest.approx(min(nu_y, nu_t), rel=1e-12)


def test_rules_without_a_hat_matrix_use_the_gaussian_critical_value():
    x, Q = _design(300, 11)
    res = r3d(x, Q=Q, quantiles=Q9, residuals="nn", n_boot=199, seed=1)
    assert res.dof == np.inf and res.diagnostics.bootstrap.t_divisor is None
    assert "NN standard errors, Gaussian critical value" in str(res.summary())
    with pytest.raises(ValueError, match="residuals: the Bell-McCaffrey degrees of freedom need a hat-matrix rule"):
        bell_mccaffrey_dof(res.diagnostics.fits, "nn")
