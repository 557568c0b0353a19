"""What a user of rdrobust or statsmodels expects to read: the summary (per-quantile z, p and
intervals, the variance estimator, the band, what plus and minus are), its LaTeX and Markdown
exports, the fitted orders in words, the warning for p = 1, and figures returned and saved."""
import re
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy.stats import t as student_t

from r3d_teach import r3d, select_bandwidth

Q9 = np.arange(1, 10) / 10
SUMMARY_COLUMNS = ["q", "tau", "se", "z", "P>|z|", "ci_lower", "ci_upper", "band_lower", "band_upper", "plus",
                   "minus"]


def _sharp(n=300, k=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    return x, [rng.normal(1 + x_i + (x_i >= 0), 1 + 0.5 * (x_i >= 0), k) for x_i in x]


@pytest.fixture(scope="module")
def fit():
    x, y = _sharp()
    return x, y, r3d(x, y, quantiles=Q9, seed=1)          # defaults: 999 draws, studentized band


# --------------------------------------------------------------------------- defaults
def test_inference_by_default(fit):
    x, y, res = fit
    assert res.n_boot == 999 and res.band == "studentized" and res.band_lower is not None
    assert list(res.tests.test) == ["nullity", "homogeneity"]
    plain = r3d(x, y, quantiles=Q9, n_boot=0)
    assert plain.n_boot == 0 and plain.band is None and plain.band_lower is None and len(plain.tests) == 0
    np.testing.assert_array_equal(plain.tau, res.tau)
    np.testing.assert_allclose(plain.pointwise_upper, res.pointwise_upper, rtol=1e-12)   # from se, always


# --------------------------------------------------------------------------- summary
def test_summary_table_columns_and_values(fit):
    _, _, res = fit
    s = res.summary()
    t = s.to_frame()
    assert list(t.columns) == SUMMARY_COLUMNS and len(t) == 9
    np.testing.assert_allclose(t["z"], res.tau / res.se, rtol=1e-12)
    np.testing.assert_allclose(t["P>|z|"], 2 * student_t.sf(np.abs(res.tau / res.se), res.dof), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(t["ci_lower"], res.tau - student_t.ppf(0.975, res.dof) * res.se, rtol=1e-12)
    np.testing.assert_allclose(t["band_upper"], res.band_upper)
    np.testing.assert_allclose(t["plus"] - t["minus"], res.tau, rtol=1e-12)


def test_summary_header_says_what_was_fitted_and_how_inference_is_done(fit):
    _, _, res = fit
    text = str(res.summary())
    lines = text.splitlines()
    assert lines[0] == "R3D (sharp, method = frechet, p = 2, kernel = triangular)"
    assert lines[1] == "  fit: local linear at h, bias-corrected by a local quadratic at b"
    assert (f"  standard errors: HC2; z = tau/se, P>|z| two-sided Student t with ν = {res.dof:.3g}, ci: 95% "
            f"pointwise interval tau ± {student_t.ppf(0.975, res.dof):.3g} se") in lines
    band = (f"  95% studentized uniform band (B = 999): tau ± {res.crit_value:.4g} se; HC2 standard errors, "
            f"multivariate-t critical value with ν = {res.dof:.3g} (Bell–McCaffrey)")
    assert band in lines and res.residuals == "hc2" and 1 < res.dof < 300
    assert any(ln.startswith("  plus, minus: the right and left limits at the cutoff of the average quantile "
                             "function, m+(q) = lim x↓c, m-(q) = lim x↑c; tau = plus - minus") for ln in lines)
    header = next(ln for ln in lines if ln.lstrip().startswith("q "))
    assert header.split() == SUMMARY_COLUMNS
    tests = text[text.index("Tests:"):].splitlines()[1].split()
    assert tests == ["test", "range", "kind", "statistic", "critical_value", "p_value"]


def test_summary_names_other_variance_estimators_and_bands():
    x, y = _sharp(seed=2)
    g = np.arange(300) % 40
    cl = r3d(x, y, quantiles=Q9, cluster=g, h=0.6, n_boot=199, seed=1)
    text = str(cl.summary())
    assert "  standard errors: HC2 residuals, clustered by 40 clusters;" in text
    assert "se; HC2 standard errors, multivariate-t critical value with ν = " in text
    cr3 = r3d(x, y, quantiles=Q9, cluster=g, h=0.6, n_boot=199, seed=1, residuals="hc3")
    assert "  standard errors: CR3 clustered by 40 clusters;" in str(cr3.summary())
    assert "se; CR3 standard errors, multivariate-t critical value" in str(cr3.summary())
    hc2 = r3d(x, y, quantiles=Q9, residuals="hc2", h=0.6, n_boot=0)
    txt = str(hc2.summary())
    assert "  standard errors: HC2;" in txt and "  no uniform band and no tests (n_boot = 0)" in txt
    assert list(hc2.summary().to_frame().columns) == [c for c in SUMMARY_COLUMNS if not c.startswith("band")]
    unw = r3d(x, y, quantiles=Q9, h=0.6, n_boot=199, seed=1, band="unweighted")
    assert f"  95% unweighted uniform band (B = 199; R3D 0.1.0's): tau ± {unw.crit_value:.4g}" in str(unw.summary())
    assert list(unw.tests.kind) == ["max |tau|", "max |tau - mean|"]


def test_summary_markdown_and_latex(fit):
    _, _, res = fit
    s = res.summary()
    md = s.to_markdown().splitlines()
    assert md[0] == "**R3D (sharp, method = frechet, p = 2, kernel = triangular)**"
    start = md.index("| q | tau | se | z | P>\\|z\\| | ci_lower | ci_upper | band_lower | band_upper | plus | minus |")
    assert md[start + 1] == "|" + "|".join(["---:"] * 11) + "|"
    first = md[start + 2].strip("| ").split(" | ")
    assert first[0] == "0.1000" and float(first[1]) == pytest.approx(res.tau[0], abs=5e-5)
    tests = md[md.index("**Tests**") + 2:]
    assert tests[0] == "| test | range | kind | statistic | critical_value | p_value |"
    assert tests[2].startswith("| nullity | [0.1, 0.9] | max \\|tau\\|/se | ")
    tex = s.to_latex().splitlines()
    assert tex[0] == "% R3D (sharp, method = frechet, p = 2, kernel = triangular)"
    i = tex.index("\\begin{tabular}{rrrrrrrrrrr}")
    assert tex[i + 2] == (r"$q$ & $\hat\tau$ & se & $z$ & $P>|z|$ & ci\_lower & ci\_upper & band\_lower & "
                          r"band\_upper & $\hat m_+$ & $\hat m_-$ \\")
    rows = [ln for ln in tex[i:tex.index("\\end{tabular}")] if ln.endswith("\\\\")]
    assert len(rows) == 1 + 9
    assert re.fullmatch(r"0\.1000 & -?\d+\.\d{4}( & -?\d+\.\d{4}){9} \\\\", rows[1])
    tests = tex[tex.index("% tests"):]
    assert tests[1] == "\\begin{tabular}{lllrrr}" and tests[3].startswith(r"test & range & kind")
    assert r"max \textbar{}tau\textbar{}/se" in "\n".join(tests)


def test_summary_renders_once_in_a_notebook(fit, capsys):
    _, _, res = fit
    s = res.summary()
    assert capsys.readouterr().out == ""
    html = s._repr_html_()
    assert html.count("<table") == 2 and "studentized uniform band" in html
    # one rich representation: the notebook shows the HTML and nothing else
    assert not any(hasattr(s, m) for m in ("_repr_markdown_", "_repr_latex_", "_ipython_display_"))


def test_repr_says_what_was_fitted():
    x, y = _sharp(seed=3)
    res = r3d(x, y, quantiles=Q9, n_boot=0)
    assert repr(res).startswith("R3DResult(sharp: local linear at h, bias-corrected by a local quadratic at b; ")
    paper = r3d(x, y, quantiles=Q9, h=0.5, n_boot=0)
    assert "local quadratic at h (the paper's estimator, b = h)" in repr(paper)
    assert "  fit: local quadratic at h (the paper's estimator, b = h)" in str(paper.summary())
    none = r3d(x, y, quantiles=Q9, h=0.5, p=2, s=2, n_boot=0)
    assert "local quadratic at h (no bias correction, s = p)" in repr(none)
    cubic = r3d(x, y, quantiles=Q9, h=0.5, b=0.8, p=4, n_boot=0)
    assert cubic.fitted == "local cubic at h, bias-corrected by a local polynomial of order 4 at b"
    assert len(repr(res)) < 260 and "array" not in repr(res)


# --------------------------------------------------------------------------- p = 1
def test_p_equal_one_warns_and_points_to_rdrobust():
    x, y = _sharp(seed=4)
    msg = (r"p: p is the order of the bias-correcting fit \(rdrobust's q\); the estimate is a local polynomial "
           r"of order p - 1 = 0 \(local constant\).*For rdrobust's p = 1 \(local linear\) use p = 2 \(the default\)")
    with pytest.warns(UserWarning, match=msg) as caught:
        r3d(x, y, quantiles=Q9, p=1, n_boot=0)
    assert caught[0].filename == __file__                    # points at the caller's line
    with pytest.warns(UserWarning, match=msg):
        select_bandwidth(x, y, quantiles=Q9, p=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r3d(x, y, quantiles=Q9, p=1, s=0, n_boot=0)         # asked for explicitly: no warning
        r3d(x, y, quantiles=Q9, n_boot=0)
        select_bandwidth(x, y, quantiles=Q9)


# --------------------------------------------------------------------------- figures
def test_plot_returns_the_figure_and_saves_it(fit, tmp_path):
    _, _, res = fit
    plt.close("all")
    fig = res.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    np.testing.assert_allclose(fig.axes[0].lines[-1].get_ydata(), res.tau)
    assert plt.fignum_exists(fig.number)                     # shown by the notebook, not closed
    two = res.plot(boundary=True)
    assert len(two.axes) == 2
    path = tmp_path / "effect.png"
    saved = res.plot(path=path, dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(saved.number)               # created here, saved, closed in pyplot
    saved.savefig(tmp_path / "again.pdf")                    # the returned Figure stays usable
    assert (tmp_path / "again.pdf").stat().st_size > 0
    mine, ax = plt.subplots()
    out = res.plot(ax=ax, path=tmp_path / "mine.svg")
    assert out is mine and plt.fignum_exists(mine.number)    # the user's figure is never closed
    assert (tmp_path / "mine.svg").read_text().lstrip().startswith("<?xml")
    plt.close("all")
