"""Study design (r3d_teach.power): the closed form's constants against known answers, the closed-form
power of the median t-test against a Monte Carlo of that statistic (within Monte Carlo error, at
many units where the approximation is accurate), the size of the simulated nullity test, and the
monotonicity of simulated power in the effect and the number of units (common random numbers)."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from r3d_teach.core.kernels import bias_variance_constants  # noqa: E402
from r3d_teach.power import (  # noqa: E402
    PowerStudy,
    break_even_draws,
    normal_approximation,
    simulate_power,
    variance_constant,
    within_variance,
)


@pytest.mark.parametrize("kernel", ["triangular", "epanechnikov", "uniform"])
def test_variance_constant_limits_are_the_plain_fits_constants(kernel):
    """b = h: robust bias correction is the order-p fit at h (its c_V); b -> infinity: the bias
    estimate's weight vanishes and the constant is the order-s fit's."""
    for p in (1, 2, 3):
        assert variance_constant(kernel, p, 1.0) == pytest.approx(bias_variance_constants(kernel, p, "+")[1], rel=1e-10)
        assert variance_constant(kernel, p, 1e-7) == pytest.approx(bias_variance_constants(kernel, p - 1, "+")[1],
                                                                   rel=1e-6)
    # a smaller b (rho > 1) costs variance
    assert variance_constant(kernel, 2, 0.5) < variance_constant(kernel, 2, 1.0) < variance_constant(kernel, 2, 1.5)
    assert variance_constant("triangular", 2, 1.0) == pytest.approx(72 / 7, rel=1e-12)


def test_closed_form_pieces():
    assert within_variance(0.5, 10) == pytest.approx(np.pi / 20, rel=1e-12)
    assert within_variance(0.5, 10, within_sd=2.0) == pytest.approx(4 * np.pi / 20, rel=1e-12)
    assert break_even_draws(0.25) == pytest.approx(np.pi / 2 / 0.0625, rel=1e-12)
    tab = normal_approximation(n=400, m=50, spread=0.25, effect=0.0, h=0.3)
    assert tab.loc[0, "power"] == pytest.approx(0.05, abs=1e-15)  # no effect: the size
    s2 = 0.0625 + np.pi / 100
    assert tab.loc[0, "se"] == pytest.approx(np.sqrt(72 / 7 * 2 * s2 / (400 * 0.3 * 0.5)), rel=1e-12)
    # a scale change leaves the median alone and adds to the treated side's within variance
    sc = normal_approximation(n=400, m=50, spread=0.25, effect=1.0, h=0.3, effect_type="scale", q=0.5)
    assert sc.loc[0, "tau"] == 0 and sc.loc[0, "power"] == pytest.approx(0.05)
    assert sc.loc[0, "sigma2_right"] == pytest.approx(0.0625 + 4 * np.pi / 100, rel=1e-12)
    sc9 = normal_approximation(n=400, m=50, spread=0.25, effect=0.5, h=0.3, effect_type="scale", q=0.9)
    assert sc9.loc[0, "tau"] == pytest.approx(0.5 * 1.2815515655446004, rel=1e-12)
    # broadcasting, and power rising in n and in m
    g = normal_approximation(n=[[100], [400]], m=[10, 100], spread=0.25, effect=0.25, h=0.3)
    assert len(g) == 4 and g["power"].is_monotonic_increasing


def test_closed_form_matches_a_monte_carlo_of_the_median_t_test():
    """Fixed h = 0.5 (so b = h, rho = 1), many units: the simulated rejection rate of
    |tau/se| > 1.96 at the median, and the Monte Carlo sd of tau, agree with the closed form
    within 3 Monte Carlo standard errors."""
    reps = 300
    study = simulate_power(n=[1500, 3000], m=[15, 75], spread=0.25, effect=0.12, reps=reps, n_boot=0,
                           quantiles=[0.5], h=0.5, seed=20250, progress=False)
    ap = study.approximation()
    assert (study.table["rho"] == 1.0).all() and (study.table["h"] == 0.5).all()
    assert (study.table["reps"] == reps).all()
    for _, r in ap.iterrows():
        mc_se = np.sqrt(r["power_t_approx"] * (1 - r["power_t_approx"]) / reps)
        assert abs(r["power_t"] - r["power_t_approx"]) <= 3 * mc_se, r.to_dict()
        # sd of a normal sample's sd: sigma / sqrt(2 (R - 1))
        assert abs(r["sd_tau"] - r["se_approx"]) <= 3 * r["se_approx"] / np.sqrt(2 * (reps - 1)), r.to_dict()
    # the closed form's se is what the estimator's own se estimates
    np.testing.assert_allclose(study.table["mean_se"], ap["se_approx"], rtol=0.03)
    # and the power spans an informative range on this grid
    assert ap["power_t_approx"].min() < 0.5 < ap["power_t_approx"].max()


def test_size_of_the_simulated_nullity_test():
    reps = 200
    study = simulate_power(n=[300], m=[20], spread=0.25, effect=0.0, reps=reps, n_boot=199, seed=7, progress=False)
    row = study.table.iloc[0]
    assert row["reps"] == reps and row["failed"] == 0
    alpha = 0.05
    assert row["power"] <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)
    assert row["power_t"] <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)
    assert row["half_width"] > 0 and row["half_width_mean"] >= row["half_width"] * 0.5


def test_power_rises_with_the_effect_and_the_units_and_the_study_is_deterministic():
    kw = dict(n=[100, 400], m=[20], spread=0.25, effect=[0.0, 0.3, 0.6], reps=60, n_boot=99, seed=3, progress=False)
    study = simulate_power(**kw)
    t = study.table.set_index(["n", "effect"])
    for n in (100, 400):
        pw = t.loc[n, "power"].to_numpy()
        assert np.all(np.diff(pw) >= 0) and pw[-1] > pw[0], pw
        hw = t.loc[n, "half_width"].to_numpy()
        np.testing.assert_allclose(hw, hw[0], rtol=1e-12)  # a shift moves tau, not the band's width
    for eff in (0.3, 0.6):
        assert t.loc[(400, eff), "power"] > t.loc[(100, eff), "power"]
    assert t.loc[(400, 0.0), "half_width"] < t.loc[(100, 0.0), "half_width"]
    # common random numbers: a shift moves every tau by the same amount (h does not depend on it)
    raw = study.raw[study.raw["n"] == 400].pivot(index="rep", columns="effect", values="tau_median")
    np.testing.assert_allclose(raw[0.6] - raw[0.0], 0.6, atol=1e-9)
    again = simulate_power(**{**kw, "n_jobs": 2})
    np.testing.assert_array_equal(again.table.to_numpy(float), study.table.to_numpy(float))


def test_plot_and_summary(tmp_path):
    study = simulate_power(n=[100, 200], m=[10, 40], spread=0.25, effect=0.5, reps=10, n_boot=49, seed=1,
                           progress=False)
    assert isinstance(study, PowerStudy) and "10 repetitions" in str(study.summary())
    fig = study.plot(path=tmp_path / "power.png")
    assert (tmp_path / "power.png").stat().st_size > 1000
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["m = 10 draws per unit", "m = 40 draws per unit"]
    fig2 = study.plot(kind="power_t", approx=True)
    assert "normal approximation" in [t.get_text() for t in fig2.axes[0].get_legend().get_texts()]
    study.plot(kind="half_width")
    with pytest.raises(ValueError, match=r"^kind:"):
        study.plot(kind="size")
    with pytest.raises(ValueError, match=r"^approx:"):
        study.plot(approx=True)


def test_errors_name_the_argument():
    cases = [
        (dict(n=10), ValueError, "n"),
        (dict(n=[100.5]), ValueError, "n"),
        (dict(m=0), ValueError, "m"),
        (dict(spread=-0.1), ValueError, "spread"),
        (dict(effect_type="location"), ValueError, "effect_type"),
        (dict(effect=-1.0, effect_type="scale"), ValueError, "effect"),
        (dict(reps=1), ValueError, "reps"),
        (dict(n_boot=-1), ValueError, "n_boot"),
        (dict(alpha=1.5), ValueError, "alpha"),
        (dict(quantiles=[0.5, 0.2]), ValueError, "quantiles"),
        (dict(within_sd=0), ValueError, "within_sd"),
        (dict(seed=np.random.default_rng(1)), TypeError, "seed"),
        (dict(seed=-3), ValueError, "seed"),
        (dict(n_jobs=0), ValueError, "n_jobs"),
        (dict(x=np.zeros(3)), ValueError, "x"),
        (dict(bandwidth=0.3), TypeError, "bandwidth"),
        (dict(kernel="gauss"), ValueError, "kernel"),
        (dict(slope=np.nan), ValueError, "slope"),
    ]
    for kw, exc, arg in cases:
        with pytest.raises(exc, match=rf"^{arg}:"):
            simulate_power(**{"reps": 2, "progress": False, **kw})
    for kw, arg in ((dict(h=0), "h"), (dict(h=0.3, q=1.0), "q"), (dict(h=0.3, n=0), "n"),
                    (dict(h=0.3, rho=-1), "rho"), (dict(h=0.3, effect_type="x"), "effect_type")):
        with pytest.raises(ValueError, match=rf"^{arg}:"):
            normal_approximation(**{"n": 100, "m": 10, "spread": 0.2, "effect": 0.1, **kw})
