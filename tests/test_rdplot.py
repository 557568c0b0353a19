"""The R3D plot's bins (r3d_teach.rdplot) against rdrobust's rdplot, the oracle: the number of
bins per side, their edges, the units and the mean of each bin, with and without mass points in
the running variable; the shared binning across levels; the figure's markers and curves against
the fit; errors that name the argument."""
import contextlib
import io
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
rdrobust = pytest.importorskip("rdrobust")

from r3d_teach import r3d, unit_quantiles  # noqa: E402
from r3d_teach.rdplot import SELECTORS, r3d_plot, rdplot_bins  # noqa: E402

LEVELS = (0.1, 0.5, 0.9)


def _oracle(y, x, c=0.0, **kw):
    buf = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
        warnings.simplefilter("ignore")
        return rdrobust.rdplot(y, x, c=c, hide=True, **kw)


def _data(masspoints: bool, seed: int = 0, n: int = 600):
    rng = np.random.default_rng(seed)
    if masspoints:  # 41 values: about 93 % of the units share their x with others
        x = rng.integers(-20, 21, n) / 20.0
    else:
        x = rng.uniform(-1, 1, n)
    eta = rng.normal(0, 0.5, n)
    y = [rng.normal(1 + x_i + 0.8 * x_i**2 + e + 0.7 * (x_i >= 0), 1 + 0.3 * (x_i >= 0), 40)
         for x_i, e in zip(x, eta)]
    return x, y


@pytest.fixture(scope="module", params=[False, True], ids=["continuous", "masspoints"])
def design(request):
    x, y = _data(request.param)
    return request.param, x, y, unit_quantiles(y, LEVELS)


def _compare_side_by_side(bins, k, out, tol=1e-10):
    """Our bins of level k equal rdplot's output ``out`` (run with the same J): rdplot lists the
    non-empty bins only, left side first (increasing x), then the right side."""
    vb = out.vars_bins
    assert [bins.J["-"], bins.J["+"]] == list(out.J)
    ours = {f: np.concatenate([getattr(bins, f)["-"], getattr(bins, f)["+"]]) for f in ("centres", "counts", "mean_x")}
    lefts = np.concatenate([bins.edges["-"][:-1], bins.edges["+"][:-1]])
    rights = np.concatenate([bins.edges["-"][1:], bins.edges["+"][1:]])
    means = np.concatenate([bins.means["-"][:, k], bins.means["+"][:, k]])
    full = ours["counts"] > 0
    assert full.sum() == len(vb)
    np.testing.assert_allclose(lefts[full], vb["rdplot_min_bin"], rtol=0, atol=tol)
    np.testing.assert_allclose(rights[full], vb["rdplot_max_bin"], rtol=0, atol=tol)
    np.testing.assert_allclose(ours["centres"][full], vb["rdplot_mean_bin"], rtol=0, atol=tol)
    np.testing.assert_array_equal(ours["counts"][full], vb["rdplot_N"].to_numpy())
    np.testing.assert_allclose(ours["mean_x"][full], vb["rdplot_mean_x"], rtol=0, atol=tol)
    np.testing.assert_allclose(means[full], vb["rdplot_mean_y"], rtol=0, atol=tol)
    assert np.isnan(means[~full]).all()


@pytest.mark.parametrize("binselect", ["es", "esmv", "qs", "qsmv", "espr", "qsmvpr"])
def test_one_level_the_bins_are_rdplots_bins(design, binselect):
    """One level shown: the plot's J is rdplot's own choice on that quantile column, and every
    bin (edges, units, mean of x and of the unit quantiles) is rdplot's."""
    mass, x, y, Q = design
    bins = rdplot_bins(x, Q=Q[:, [1]], quantiles=[0.5], binselect=binselect)
    out = _oracle(Q[:, 1], x, binselect=binselect)
    _compare_side_by_side(bins, 0, out)
    assert bins.selection.loc[0, "J_left"] == out.J[0] and bins.selection.loc[0, "J_right"] == out.J[1]
    np.testing.assert_allclose(bins.selection.loc[0, ["J_IMSE_left", "J_IMSE_right"]].to_numpy(float), out.J_IMSE)
    np.testing.assert_allclose(bins.selection.loc[0, ["J_MV_left", "J_MV_right"]].to_numpy(float), out.J_MV)
    # with mass points (>= 20 % repeated values per side) rdplot switches to the polynomial variants
    used = bins.selection.loc[0, "selector"]
    assert used == (binselect if (binselect.endswith("pr") or not mass) else binselect + "pr")


@pytest.mark.parametrize("binselect", ["es", "esmv", "qs", "qsmv"])
def test_several_levels_share_the_median_J_and_each_level_is_rdplot_with_that_J(design, binselect):
    mass, x, y, Q = design
    bins = rdplot_bins(x, y, quantiles=LEVELS, binselect=binselect)
    own = [_oracle(Q[:, k], x, binselect=binselect).J for k in range(3)]
    assert bins.selection["J_left"].tolist() == [j[0] for j in own]
    assert bins.selection["J_right"].tolist() == [j[1] for j in own]
    assert bins.J == {"-": int(np.median([j[0] for j in own])), "+": int(np.median([j[1] for j in own]))}
    for k in range(3):
        out = _oracle(Q[:, k], x, binselect=binselect, nbins=[bins.J["-"], bins.J["+"]])
        _compare_side_by_side(bins, k, out)
    assert bins.share == "median"


def test_share_rules_and_fixed_nbins():
    x, y = _data(False, seed=3)
    Q = unit_quantiles(y, LEVELS)
    med = rdplot_bins(x, Q=Q, quantiles=LEVELS)
    sel = med.selection
    for rule, fun in (("max", np.max), ("min", np.min)):
        b = rdplot_bins(x, Q=Q, quantiles=LEVELS, share=rule)
        assert b.J == {"-": int(fun(sel["J_left"])), "+": int(fun(sel["J_right"]))}
    # an even number of levels: the median is rounded up
    two = rdplot_bins(x, Q=Q[:, :2], quantiles=LEVELS[:2])
    jl = two.selection["J_left"].to_numpy()
    assert two.J["-"] == int(np.ceil(jl.mean()))
    fixed = rdplot_bins(x, Q=Q, quantiles=LEVELS, nbins=(7, 9), binselect="qs")
    assert fixed.J == {"-": 7, "+": 9} and fixed.share == "nbins"
    for k in range(3):
        _compare_side_by_side(fixed, k, _oracle(Q[:, k], x, binselect="qs", nbins=[7, 9]))
    assert rdplot_bins(x, Q=Q, quantiles=LEVELS, nbins=5).J == {"-": 5, "+": 5}
    # every unit is in exactly one bin; the long table has one row per bin and level
    assert fixed.counts["-"].sum() + fixed.counts["+"].sum() == x.size
    assert len(fixed.to_frame()) == 3 * (7 + 9)
    assert "7 left, 9 right" in str(fixed.summary())


def test_the_figure_draws_the_fits_limits_and_local_curves_and_saves(tmp_path):
    x, y = _data(False, seed=5, n=500)
    q = np.arange(1, 10) / 10
    res = r3d(x, y, quantiles=q, h=0.6, n_boot=0)
    path = tmp_path / "r3d_plot.png"
    fig = r3d_plot(x, y, quantiles=LEVELS, fit=res, path=path)
    assert path.exists() and path.stat().st_size > 1000
    ax = fig.axes[0]
    # the markers at the cutoff are the fit's boundary limits m̂₋(q), m̂₊(q) at the levels shown
    marks = [c.get_offsets() for c in ax.collections if len(c.get_offsets()) == 1]
    pts = np.vstack(marks)
    assert np.allclose(pts[:, 0], 0.0)
    cols = [0, 4, 8]
    np.testing.assert_allclose(np.sort(pts[:, 1]), np.sort(np.r_[res.minus[cols], res.plus[cols]]), rtol=0, atol=1e-12)
    # the local curves: the order p - 1 = 1 fit within h; at the cutoff their gap is the
    # conventional estimate (one level: nothing to monotonise)
    one = r3d(x, y, quantiles=[0.5], h=0.6, n_boot=0)
    fig1 = r3d_plot(x, y, quantiles=[0.5], fit=one)
    lines = [ln for ln in fig1.axes[0].lines if np.size(ln.get_xdata()) > 2]
    ends = {("+" if ln.get_xdata()[-1] > 0 else "-"): ln for ln in lines}
    assert ends["+"].get_xdata()[-1] == pytest.approx(0.6) and ends["-"].get_xdata()[-1] == pytest.approx(-0.6)
    gap = ends["+"].get_ydata()[0] - ends["-"].get_ydata()[0]
    assert gap == pytest.approx(float(one.tau_conventional[0]), abs=1e-10)


def test_global_curves_are_rdplots_polynomials():
    x, y = _data(False, seed=6, n=400)
    Q = unit_quantiles(y, LEVELS)
    fig = r3d_plot(x, Q=Q, quantiles=LEVELS, fit="global", p=3)
    out = _oracle(Q[:, 2], x, p=3)
    lines = [ln for ln in fig.axes[0].lines if np.size(ln.get_xdata()) == 500]
    assert len(lines) == 6  # two sides, three levels
    xs = np.concatenate([lines[4].get_xdata(), lines[5].get_xdata()])
    ys = np.concatenate([lines[4].get_ydata(), lines[5].get_ydata()])
    np.testing.assert_allclose(xs, out.vars_poly["rdplot_x"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ys, out.vars_poly["rdplot_y"], rtol=0, atol=1e-10)


def test_errors_name_the_argument():
    x, y = _data(False, seed=7, n=200)
    Q = unit_quantiles(y, LEVELS)
    cases = [
        (dict(Q=Q, binselect="imse"), "binselect"),
        (dict(Q=Q, share="mean"), "share"),
        (dict(Q=Q, nbins=0), "nbins"),
        (dict(Q=Q, nbins=(3, 4, 5)), "nbins"),
        (dict(Q=Q[:, :2]), "Q"),
        (dict(), "y"),
        (dict(Q=Q, masspoints="yes"), "masspoints"),
        (dict(Q=Q, cutoff=2.0), "x"),
        (dict(Q=Q, quantiles=(0.5, 0.1, 0.9)), "quantiles"),
    ]
    for kw, arg in cases:
        kw = {"quantiles": LEVELS, **kw}
        with pytest.raises((ValueError, TypeError), match=rf"^{arg}:"):
            rdplot_bins(x, **kw)
    with pytest.raises(ValueError, match=r"^x: rdplot needs at least 20 units"):
        rdplot_bins(x[:15], Q=Q[:15], quantiles=LEVELS)
    res = r3d(x, Q=Q, quantiles=LEVELS, h=0.8)
    with pytest.raises(ValueError, match=r"^quantiles: the level\(s\) \[0.3\]"):
        r3d_plot(x, Q=unit_quantiles(y, [0.3]), quantiles=[0.3], fit=res)
    with pytest.raises(ValueError, match=r"^fit: must be None, 'global'"):
        r3d_plot(x, Q=Q, quantiles=LEVELS, fit="local")
    shifted = r3d(x + 0.1, Q=Q, quantiles=LEVELS, h=0.8, cutoff=0.1)
    with pytest.raises(ValueError, match=r"^fit: was estimated at the cutoff 0.1"):
        r3d_plot(x, Q=Q, quantiles=LEVELS, fit=shifted)
    assert set(SELECTORS) == {"es", "espr", "esmv", "esmvpr", "qs", "qspr", "qsmv", "qsmvpr"}
