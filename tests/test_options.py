"""The options layer (r3d_teach.core.options): every public entry accepts and refuses the same
options with the same messages, before any work; h, b, h_den, b_den follow one set of rules."""
import numpy as np
import pytest

import r3d_teach.core.estimator as est
import r3d_teach.validity as val
from r3d_teach import r3d, select_bandwidth
from r3d_teach.core.inputs import prepare_inputs
from r3d_teach.core.options import FitOptions, check_options, check_r3d_kwargs, resolve_bandwidths
from r3d_teach.simulate.montecarlo import run_study

Q9 = np.arange(1, 10) / 10


def _sharp(n=200, k=30, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    return x, list((1 + x + (x >= 0))[:, None] + rng.normal(size=(n, k)))


@pytest.fixture(scope="module")
def data():
    return _sharp()


BAD_OPTIONS = [
    (dict(p=1, s=3), ValueError, r"^s: the bandwidth's order s = 3 cannot exceed the bias-correcting order p = 1"),
    (dict(coverage_correction="yes"), TypeError, r"^coverage_correction: must be True or False"),
    (dict(method="ols"), ValueError, r"^method: unknown method 'ols'"),
    (dict(kernel="gauss"), ValueError, r"^kernel: unknown kernel 'gauss'"),
    (dict(p=-1), ValueError, r"^p: must be a non-negative integer"),
    (dict(min_units="10"), TypeError, r"^min_units: must be an integer"),
    (dict(quantile_method="type9"), ValueError, r"^quantile_method: unknown quantile method 'type9'"),
]


@pytest.mark.parametrize("kwargs,exc,msg", BAD_OPTIONS)
def test_r3d_and_select_bandwidth_refuse_the_same_options(data, kwargs, exc, msg):
    x, y = data
    with pytest.raises(exc, match=msg):
        r3d(x, y, quantiles=Q9, **kwargs)
    with pytest.raises(exc, match=msg):
        select_bandwidth(x, y, quantiles=Q9, **kwargs)
    with pytest.raises(exc, match=msg):
        check_options(**kwargs)


def test_options_are_checked_before_the_data(monkeypatch):
    called = []
    monkeypatch.setattr(est, "prepare_inputs", lambda *a, **k: called.append(1))
    for kwargs, exc, _ in BAD_OPTIONS:
        with pytest.raises(exc):
            select_bandwidth(np.zeros(3), [[1.0]] * 3, **kwargs)
        with pytest.raises(exc):
            r3d(np.zeros(3), [[1.0]] * 3, **kwargs)
    assert not called


def test_check_options_defaults_and_normalisation():
    opt = check_options(method="Simple", kernel="Uniform", p=3.0, tests="nullity", progress=np.bool_(True))
    assert opt == FitOptions(method="simple", kernel="uniform", p=3, s=2, tests=("nullity",), progress=True)
    assert check_options(p=0).s == 0                                # s = max(p - 1, 0)
    assert r3d.__kwdefaults__["p"] == FitOptions().p and r3d.__kwdefaults__["alpha"] == FitOptions().alpha
    assert r3d.__kwdefaults__["n_boot"] == FitOptions().n_boot == 999
    assert r3d.__kwdefaults__["band"] == FitOptions().band == "studentized"


def test_multipliers_and_test_ranges_are_checked_before_any_fit(data, monkeypatch):
    x, y = data
    fits = []
    orig = est.resolve_bandwidths
    monkeypatch.setattr(est, "resolve_bandwidths", lambda *a, **k: fits.append(1) or orig(*a, **k))
    with pytest.raises(ValueError, match=r"^multipliers: must be an \(n_units, B\) matrix with n_units = 200"):
        r3d(x, y, quantiles=Q9, h=0.5, multipliers=np.ones((199, 5)))
    with pytest.raises(ValueError, match=r"^multipliers: contains NaN or inf"):
        r3d(x, y, quantiles=Q9, h=0.5, multipliers=np.full((200, 5), np.nan))
    with pytest.raises(ValueError, match=r"^multipliers: cannot be combined with cluster="):
        r3d(x, y, quantiles=Q9, h=0.5, multipliers=np.ones((200, 5)), cluster=np.arange(200) % 30)
    with pytest.raises(ValueError, match=r"^test_ranges: range \[0.05, 0.5\] is outside the grid"):
        r3d(x, y, quantiles=Q9, h=0.5, test_ranges=(0.05, 0.5))
    with pytest.raises(ValueError, match=r"^n_boot: 10,000,000,000 draws"):
        r3d(x, y, quantiles=Q9, h=0.5, n_boot=10**10)
    assert not fits


def test_bandwidth_rules(data):
    x, y = data
    opt = check_options()
    inp = prepare_inputs(x, y, quantiles=Q9)
    given = resolve_bandwidths(inp, 0.4, None, opt)                  # h given, b not: b = h
    assert given.h == 0.4 and given.b == {"+": 0.4, "-": 0.4} and given.selection is None
    both = resolve_bandwidths(inp, 0.4, {"+": 0.6, "-": 0.7}, opt)    # b per side
    assert both.b == {"+": 0.6, "-": 0.7}
    no_bc = resolve_bandwidths(inp, 0.4, None, check_options(p=1, s=1))  # s = p: b is h
    assert no_bc.b == {"+": 0.4, "-": 0.4}
    with pytest.raises(ValueError, match=r"^b: no bias correction when s = p = 1"):
        resolve_bandwidths(inp, 0.4, 0.5, check_options(p=1, s=1))
    driven = resolve_bandwidths(inp, None, None, opt)                # data-driven: b = the pilot
    sel = driven.selection
    assert driven.h == sel.h and driven.b == {"+": float(sel.b_pilot["+"]), "-": float(sel.b_pilot["-"])}
    # select_bandwidth returns the same selection r3d uses
    assert select_bandwidth(x, y, quantiles=Q9).h == driven.h == r3d(x, y, quantiles=Q9).h


def test_fuzzy_pairs(data):
    x, y = data
    rng = np.random.default_rng(5)
    t = (rng.uniform(size=x.size) < 0.2 + 0.6 * (x >= 0)).astype(float)
    inp = prepare_inputs(x, y, quantiles=Q9, treatment=t)
    opt = check_options()
    one = resolve_bandwidths(inp, 0.5, None, opt)                    # one scalar serves both
    assert (one.h, one.h_den, one.b, one.b_den) == (0.5, 0.5, {"+": 0.5, "-": 0.5}, {"+": 0.5, "-": 0.5})
    pair = resolve_bandwidths(inp, (0.5, 0.8), (0.6, 0.9), opt)
    assert (pair.h, pair.h_den, pair.b["+"], pair.b_den["-"]) == (0.5, 0.8, 0.6, 0.9)
    with pytest.raises(ValueError, match=r"^h: in a fuzzy design give a pair"):
        resolve_bandwidths(inp, (0.5, 0.6, 0.7), None, opt)
    sel = select_bandwidth(x, y, quantiles=Q9, treatment=t)
    res = r3d(x, y, quantiles=Q9, treatment=t)
    assert sel.h == res.h and sel.h_den == res.h_den


def test_validity_tools_check_r3d_kwargs_before_any_fit(data, monkeypatch):
    x, y = data
    fits = []
    monkeypatch.setattr(val, "r3d", lambda *a, **k: fits.append(1))
    cases = [
        (val.placebo_cutoffs, dict(method="ols"), ValueError, r"^method: unknown method"),
        (val.donut, dict(tests=("equality",)), ValueError, r"^tests: unknown test 'equality'"),
        (val.bandwidth_sensitivity, dict(alpha=2.0), ValueError, r"^alpha: must be strictly inside"),
        (val.donut, dict(quantiles=[0.5, 0.2]), ValueError, r"^quantiles: must be sorted"),
        (val.placebo_cutoffs, dict(h=-1.0), ValueError, r"^h: bandwidths must be > 0"),
        (val.placebo_cutoffs, dict(bandwith=0.5), TypeError, r"^bandwith: not an argument of r3d"),
        (val.donut, dict(treatment=np.ones(200), tests=("gini",)), ValueError, r"^tests: the Gini test is defined"),
    ]
    for fun, kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            fun(x, y, n_boot=9, **kw)
    with pytest.raises(ValueError, match=r"^p: must be a non-negative integer"):
        val.covariate_balance(x, {"age": x}, p=-1)
    with pytest.raises(ValueError, match=r"^h: bandwidths must be > 0"):
        val.covariate_balance(x, {"age": x, "size": x}, h=[0.5, 0.0])
    assert not fits


def test_check_r3d_kwargs_returns_the_options():
    opt = check_r3d_kwargs(dict(method="simple", p=3, quantiles=Q9, h=np.full(9, 0.5)))
    assert (opt.method, opt.p, opt.s) == ("simple", 3, 2)
    with pytest.raises(ValueError, match=r"^h: per-quantile bandwidths must have one value per quantile \(9\)"):
        check_r3d_kwargs(dict(method="simple", quantiles=Q9, h=np.full(3, 0.5)))


def test_monte_carlo_runner_delegates_to_the_options():
    with pytest.raises(ValueError, match=r"^alpha: must be strictly inside \(0, 1\)"):
        run_study(["paper1"], [200], reps=1, n_boot=9, alpha=1.5, progress=False)
    with pytest.raises(ValueError, match=r"^alpha: must be a number in \(0, 1\)"):
        run_study(["paper1"], [200], reps=1, n_boot=9, alpha="0.05", progress=False)


def test_cli_checks_options_before_reading_the_data(tmp_path, capsys):
    pytest.importorskip("duckdb")
    from r3d_teach.cli import main

    missing = tmp_path / "no_such_file.csv"
    rc = main(["fit", str(missing), "--x", "s", "--y", "w", "--unit", "f", "--treatment", "d",
               "--tests", "gini", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1 and "--tests: the Gini test is defined for sharp designs only" in err and "no_such" not in err
