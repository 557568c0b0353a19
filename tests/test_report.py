"""The reporting tables (r3d_teach.report): every cell is a field of the fit or of a check (the
numbers are compared with the results they come from, never with the report's own output), the
LaTeX is well formed (balanced environments, every row as wide as its tabular, special characters
escaped) and the Markdown tables have the shape of the data."""
import copy
import inspect
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from r3d_teach import R3DResult, r3d
from r3d_teach.report import ReportTables, latex_escape, markdown_escape, report_table

Q9 = np.arange(1, 10) / 10


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 400
    x = rng.uniform(-1, 1, n)
    y = [rng.normal(1 + x_i + 0.6 * (x_i >= 0), 1, 50) for x_i in x]
    age = 40 + 4 * x + rng.normal(0, 1, n)
    share = 0.5 + 0.1 * x + rng.normal(0, 0.05, n)
    return x, y, {"age_at_entry": age, "share_%women": share}


@pytest.fixture(scope="module")
def fit(data):
    x, y, _ = data
    return r3d(x, y, quantiles=np.arange(1, 20) / 20, n_boot=199, seed=3)


# ----------------------------------------------------------------------------------------------
# structural checkers (independent of the module under test)
# ----------------------------------------------------------------------------------------------
def _strip_math(s: str) -> str:
    return re.sub(r"(?<!\\)\$[^$]*(?<!\\)\$", "", s)


def _check_latex(tex: str) -> None:
    begins = re.findall(r"\\begin\{(\w+)\}", tex)
    ends = re.findall(r"\\end\{(\w+)\}", tex)
    assert begins and sorted(begins) == sorted(ends)
    stack = []  # properly nested
    for m in re.finditer(r"\\(begin|end)\{(\w+)\}", tex):
        if m.group(1) == "begin":
            stack.append(m.group(2))
        else:
            assert stack.pop() == m.group(2)
    assert not stack
    assert tex.count("{") - tex.count(r"\{") == tex.count("}") - tex.count(r"\}")
    text = _strip_math(tex)
    assert not re.search(r"(?<!\\)[%_#]", text), "an unescaped %, _ or # outside math"
    for block in re.findall(r"\\begin\{tabular\}\{(\w+)\}(.*?)\\end\{tabular\}", tex, flags=re.S):
        spec, body = block
        ncol = len(spec)
        assert tex.count(r"\toprule") >= 1 and r"\bottomrule" in body and r"\midrule" in body
        for line in body.strip().splitlines():
            if not line.endswith(r"\\"):
                assert line in (r"\toprule", r"\midrule", r"\bottomrule"), line
                continue
            cells = re.split(r"(?<!\\)&", line[:-2])
            width = sum(int(m.group(1)) if (m := re.match(r"\s*\\multicolumn\{(\d+)\}", c)) else 1 for c in cells)
            assert width == ncol, line


def _md_rows(md: str) -> list[list[str]]:
    """The tables of a Markdown text: each a list of rows split on unescaped pipes."""
    tables, cur = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            cur.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif cur:
            tables.append(cur)
            cur = []
    return tables


# ----------------------------------------------------------------------------------------------
def test_main_table_cells_are_the_fits_fields(fit):
    tab = report_table(fit)
    assert isinstance(tab, ReportTables)
    band = getattr(fit, "band", None) or "unweighted"  # the fit's band type (a field of newer fits)
    assert tab.bands == [band]
    q = fit.quantiles
    idx = [1, 3, 5, 7, 9, 11, 13, 15, 17]  # the deciles on a grid of twentieths
    np.testing.assert_array_equal(tab.main["q"], q[idx])
    np.testing.assert_array_equal(tab.main["tau"], fit.tau[idx])
    np.testing.assert_array_equal(tab.main["se"], fit.se[idx])
    pw, un = fit.conf_int(kind="pointwise"), fit.conf_int(kind="uniform")
    np.testing.assert_array_equal(tab.main["ci_lower"], pw["lower"].to_numpy()[idx])
    np.testing.assert_array_equal(tab.main["ci_upper"], pw["upper"].to_numpy()[idx])
    np.testing.assert_array_equal(tab.main[f"band_{band}_lower"], fit.band_lower[idx])
    np.testing.assert_array_equal(tab.main[f"band_{band}_upper"], un["upper"].to_numpy()[idx])
    d = tab.design.set_index("item")["value"]
    assert d["Bandwidth h"] == fit.h and d["Bias-correction bandwidth b (left)"] == fit.b["-"]
    assert d["Bias-correction bandwidth b (right)"] == fit.b["+"]
    assert d["Units in the window, left"] == fit.n_left and d["Units in the window, right"] == fit.n_right
    assert d["Units, total"] == fit.n_units == 400
    t = fit.tests.set_index("test")["p_value"]
    assert d["Nullity test, p-value"] == t["nullity"] and d["Homogeneity test, p-value"] == t["homogeneity"]
    # the texts: the same numbers, rounded to `digits`
    md = tab.to_markdown("main")
    for k in idx:
        v = f"{fit.tau[k]:.3f}"
        assert f"| {fit.quantiles[k]:g} | {v} | {fit.se[k]:.3f} |" in md
    assert f"| Units in the window, left | {fit.n_left} |" in md
    tex = tab.to_latex("main")
    assert f"{fit.h:.3f}" in tex and "B = 199 draws" in tex and "HC2 residuals" in tex
    assert f"{tab.main[f'band_{band}_lower'].iloc[0]:.3f}".lstrip("-") in tex
    assert f"95\\% uniform band ({band})" in tex
    four = report_table(fit, at=[0.25, 0.5], digits=5)
    np.testing.assert_array_equal(four.main["tau"], fit.tau[[4, 9]])
    assert f"{fit.tau[9]:.5f}" in four.to_markdown()


def test_band_types_second_fit_and_fits_that_know_several_bands(fit):
    # the fit's own band is named by its `band` field; a second fit brings the other type
    stud = copy.copy(fit)
    stud.band = "studentized"
    unw = copy.copy(fit)
    unw.band = "unweighted"
    flat = pd.DataFrame({"lower": fit.tau - 0.2, "upper": fit.tau + 0.2}, index=pd.Index(fit.quantiles, name="q"))
    unw.conf_int = lambda alpha=None, kind="uniform": flat if kind == "uniform" else fit.conf_int(kind=kind)
    known = pd.DataFrame({"lower": fit.tau - 0.125, "upper": fit.tau + 0.5 * fit.quantiles},
                         index=pd.Index(fit.quantiles, name="q"))  # a half-width that varies with q
    stud.conf_int = lambda alpha=None, kind="uniform": known if kind == "uniform" else fit.conf_int(kind=kind)
    tab = report_table(stud, other_band=unw, at=[0.5])
    assert tab.bands == ["studentized", "unweighted"]
    assert tab.main["band_studentized_lower"].iloc[0] == fit.tau[9] - 0.125
    assert tab.main["band_studentized_upper"].iloc[0] == fit.tau[9] + 0.5 * fit.quantiles[9]
    assert tab.main["band_unweighted_lower"].iloc[0] == fit.tau[9] - 0.2
    md = _md_rows(tab.to_markdown("main"))[0]
    assert md[0][-2:] == ["95% uniform band (studentized)", "95% uniform band (unweighted)"]
    assert "a half-width that varies with q" in tab.to_markdown() and "the same half-width at every q" in tab.to_markdown()

    class TwoBands(R3DResult):  # a fit whose conf_int computes either band from its draws
        def conf_int(self, alpha=None, kind="uniform", band=None):
            if kind == "uniform" and band == "studentized":
                return known
            return R3DResult.conf_int(self, alpha, kind)

    both = TwoBands(**{f: getattr(fit, f) for f in fit.__dataclass_fields__})
    both.band = "unweighted"
    tab2 = report_table(both, at=[0.5])
    assert set(tab2.bands) == {"unweighted", "studentized"}
    assert tab2.main["band_studentized_upper"].iloc[0] == fit.tau[9] + 0.5 * fit.quantiles[9]
    # a second fit must be the same estimate with the other band type
    with pytest.raises(ValueError, match=r"^other_band: its band type 'unweighted'"):
        report_table(unw, other_band=unw)
    other = r3d(np.linspace(-1, 1, 300), Q=np.abs(np.random.default_rng(0).normal(size=(300, 19))).cumsum(axis=1),
                quantiles=fit.quantiles, n_boot=99, seed=1)
    other.band = "studentized"
    with pytest.raises(ValueError, match=r"^other_band: must be a fit of the same data"):
        report_table(unw, other_band=other)
    with pytest.raises(TypeError, match=r"^other_band: must be an R3DResult"):
        report_table(fit, other_band="unweighted")


def test_two_real_fits_with_both_band_types(data):
    """With an r3d that offers both band types (``band=``), two fits of the same data give both
    bands, each the fit's own."""
    if "band" not in inspect.signature(r3d).parameters:
        pytest.skip("this version of r3d has one band type")
    x, y, _ = data
    stud = r3d(x, y, quantiles=Q9, n_boot=199, seed=3, band="studentized")
    unw = r3d(x, y, quantiles=Q9, n_boot=199, seed=3, band="unweighted")
    tab = report_table(stud, other_band=unw)
    assert tab.bands == ["studentized", "unweighted"]
    np.testing.assert_array_equal(tab.main["band_studentized_lower"], stud.band_lower)
    np.testing.assert_array_equal(tab.main["band_unweighted_upper"], unw.band_upper)
    notes = " ".join(tab.notes)
    assert "band (studentized): multiplier bootstrap, B = 199 draws, over all 9 levels of the grid, a half-width " \
           "that varies with q" in notes
    assert "band (unweighted): multiplier bootstrap, B = 199 draws, over all 9 levels of the grid, the same " \
           "half-width at every q" in notes
    _check_latex(tab.to_latex())


def test_without_bootstrap_no_band_no_tests(data):
    x, y, _ = data
    res = r3d(x, y, quantiles=Q9, n_boot=0)
    tab = report_table(res)
    assert list(tab.main.columns) == ["q", "tau", "se", "ci_lower", "ci_upper"]
    assert tab.bands == [] and not tab.design["item"].str.contains("test").any()
    # without the bootstrap the pointwise interval is tau ± t_ν se (Student t, the fit's nu)
    t975 = student_t.ppf(0.975, res.dof)
    np.testing.assert_allclose(tab.main["ci_upper"] - tab.main["tau"], t975 * res.se, rtol=1e-12)
    assert f"estimate ± t(ν = {res.dof:.3g}) quantile × its standard error" in tab.to_markdown()
    nrm = report_table(r3d(x, y, quantiles=Q9, n_boot=0, use_t=False))
    np.testing.assert_allclose(nrm.main["ci_upper"] - nrm.main["tau"], 1.959963984540054 * res.se, rtol=1e-12)
    assert "estimate ± z × its standard error" in nrm.to_markdown()
    assert "no tests and no uniform band" in tab.to_markdown()
    _check_latex(tab.to_latex())
    assert _md_rows(tab.to_markdown())[0][0] == ["q", "τ̂(q)", "s.e.", "95% CI (pointwise)"]


def test_per_quantile_bandwidths_go_into_the_rows(data):
    x, y, _ = data
    res = r3d(x, y, quantiles=Q9, method="simple", n_boot=99, seed=1)
    tab = report_table(res)
    np.testing.assert_array_equal(tab.main["h"], res.h)
    np.testing.assert_array_equal(tab.main["b_left"], res.b["-"])
    assert "Bandwidth h" not in set(tab.design["item"])
    _check_latex(tab.to_latex())
    head = _md_rows(tab.to_markdown("main"))[0][0]
    assert head[-3:] == ["$h$", "$b$ (left)", "$b$ (right)"]


def test_appendix_rows_are_the_checks_fields_and_latex_is_well_formed(data, fit, tmp_path):
    from r3d_teach import validity
    from r3d_teach.locrand import randinf, select_window

    x, y, cov = data
    dens = validity.manipulation_test(x)
    bal = validity.covariate_balance(x, cov)
    plac = validity.placebo_cutoffs(x, y, quantiles=Q9, n_boot=99, seed=1)
    don = validity.donut(x, y, radii=[0.0, 0.05], quantiles=Q9, n_boot=99, seed=1)
    sens = validity.bandwidth_sensitivity(x, y, multiples=(0.5, 1.0), quantiles=Q9, n_boot=99, seed=1)
    win = select_window(x, cov, cutoff=0, n_perm=200, seed=1, nwindows=4)
    ri = randinf(x, y, cutoff=0, window=(-0.05, 0.05), quantiles=Q9, n_perm=499, seed=2, conf_sets=False)
    tab = report_table(fit, density=dens, balance=bal, placebo=plac, donut=don, sensitivity=sens, window=win,
                       randinf=ri)
    app = tab.appendix
    assert app["check"].tolist() == (["Density of x (manipulation test)"] + ["Covariate balance"] * 2
                                     + ["Placebo cutoff"] * 2 + ["Donut"] * 2 + ["Bandwidth sensitivity"] * 2
                                     + ["Local-randomization window"])
    assert app.loc[0, "value"] == dens.loc[0, "t_stat"] and app.loc[0, "p_value"] == dens.loc[0, "p_value"]
    np.testing.assert_array_equal(app.loc[1:2, "value"], bal["estimate"])
    np.testing.assert_array_equal(app.loc[1:2, "se"], bal["se"])
    np.testing.assert_array_equal(app.loc[1:2, "p_value"], bal["p_value"])
    np.testing.assert_array_equal(app.loc[3:4, "value"], plac["mean_tau"])
    np.testing.assert_array_equal(app.loc[3:4, "p_value"], plac["nullity_p"])
    np.testing.assert_array_equal(app.loc[5:6, "p_value"], don["nullity_p"])
    np.testing.assert_array_equal(app.loc[7:8, "value"], sens["mean_tau"])
    np.testing.assert_array_equal(app.loc[7:8, "n_left"], sens["n_left"])
    if win.window is not None:
        assert app.loc[9, "n_left"] == win.n_left and app.loc[9, "n_right"] == win.n_right
    d = tab.design.set_index("item")["value"]
    key = [k for k in d.index if k.startswith("Local randomization, p-value")]
    assert len(key) == 1 and d[key[0]] == ri.p_value
    # text from the data is escaped in both formats
    tex = tab.to_latex()
    assert r"age\_at\_entry" in tex and r"share\_\%women" in tex
    _check_latex(tex)
    md = tab.to_markdown()
    assert r"age\_at\_entry" in md and r"share\_%women" in md
    tables = _md_rows(md)
    assert len(tables) == 3  # main, panel B, appendix
    main, panel, appendix = tables
    assert len(main) == 2 + 9 and len({len(r) for r in main}) == 1 and set(main[1]) <= {"---:", ":---:"}
    assert len(panel) == 2 + len(tab.design) and len(appendix) == 2 + len(app)
    assert {len(r) for r in appendix} == {8}
    # saved files
    paths = tab.save(tmp_path / "tables", stem="study")
    assert sorted(p.name for p in paths.values()) == sorted(
        ["study_main.tex", "study_appendix.tex", "study.md", "study_main.csv", "study_design.csv",
         "study_appendix.csv"])
    back = pd.read_csv(paths["main_csv"])
    np.testing.assert_allclose(back["tau"], tab.main["tau"], rtol=1e-15)
    assert paths["appendix_tex"].read_text() == tab.to_latex("appendix")


def test_escaping_helpers():
    assert latex_escape(r"a_b%c&d$e#f{g}h~i^j\k") == (
        r"a\_b\%c\&d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k")
    assert markdown_escape("a|b*c_d") == r"a\|b\*c\_d"


def test_errors_name_the_argument(fit):
    cases = [
        (dict(at=[0.33]), ValueError, "at"),
        (dict(digits=-1), ValueError, "digits"),
        (dict(density=pd.DataFrame({"a": [1]})), TypeError, "density"),
        (dict(balance=[1, 2]), TypeError, "balance"),
        (dict(placebo=pd.DataFrame()), TypeError, "placebo"),
        (dict(donut="x"), TypeError, "donut"),
        (dict(sensitivity=pd.DataFrame()), TypeError, "sensitivity"),
        (dict(window=pd.DataFrame()), TypeError, "window"),
        (dict(randinf=0.05), TypeError, "randinf"),
        (dict(caption=3), TypeError, "caption"),
    ]
    for kw, exc, arg in cases:
        with pytest.raises(exc, match=rf"^{arg}:"):
            report_table(fit, **kw)
    with pytest.raises(TypeError, match=r"^result:"):
        report_table(fit.to_frame())
    tab = report_table(fit)
    with pytest.raises(ValueError, match=r"^which:"):
        tab.to_latex("all")
    with pytest.raises(ValueError, match=r"^stem:"):
        tab.save("/tmp", stem="a/b")
