"""The ``r3d`` command (r3d_teach.cli): outputs equal the Python API's numbers (1e-10) on CSV,
Parquet and folders of Parquet files, via unit-quantile files too; bad input exits non-zero
with a message naming the flag, column or file, and no traceback."""
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

import numpy as np
import pandas as pd
import pytest

from r3d_teach import __version__, r3d
from r3d_teach.cli import main

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

Q5 = "0.1,0.25,0.5,0.75,0.9"
QV = [0.1, 0.25, 0.5, 0.75, 0.9]
TOL = 1e-10


def _simulate(seed=3, n=240):
    """Sharp design with a known effect: y ~ N(2 + x + D, 1 + 0.5 D), so
    tau(q) = 1 + 0.5 Phi^-1(q); units of 20-59 observations; rows shuffled."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    k = rng.integers(20, 60, n)
    xx = np.repeat(x, k)
    d = (xx >= 0).astype(float)
    df = pd.DataFrame({"firm": np.repeat(np.arange(n) * 3 + 1, k), "score": xx,
                       "wage": rng.normal(2 + xx + d, 1 + 0.5 * d),
                       "w": rng.uniform(0.5, 2.0, xx.size),
                       "state": np.repeat(np.arange(n) % 24, k),
                       "treated": np.repeat((rng.uniform(size=n) < 0.05 + 0.9 * (x >= 0)).astype(int), k)})
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


@pytest.fixture(scope="module")
def sim():
    return _simulate()


@pytest.fixture(scope="module")
def files(tmp_path_factory, sim):
    d = tmp_path_factory.mktemp("cli")
    sim.to_csv(d / "sim.csv", index=False)
    sim.to_parquet(d / "sim.parquet")
    (d / "parts").mkdir()
    for i, idx in enumerate(np.array_split(np.arange(len(sim)), 3)):
        sim.iloc[idx].to_parquet(d / "parts" / f"p{i}.parquet")
    return d


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _api(sim, **kw):
    """The Python API on the same data, units in label order (as the command takes them)."""
    df = sim.sort_values("firm", kind="stable")
    return r3d("score", "wage", data=df, unit="firm", **kw)


def _assert_same(effect: pd.DataFrame, res, boot=True):
    np.testing.assert_allclose(effect["q"], res.quantiles, rtol=0, atol=0)
    cols = ["tau", "se"] + (["band_lower", "band_upper", "pointwise_lower", "pointwise_upper"] if boot else [])
    for c in cols:
        np.testing.assert_allclose(effect[c].to_numpy(), getattr(res, c), rtol=0, atol=TOL, err_msg=c)


# ------------------------------------------------------------------ the entry point

def test_console_script_is_declared_and_runs():
    eps = [ep for ep in entry_points(group="console_scripts") if ep.name == "r3d"]
    assert eps and eps[0].value == "r3d_teach.cli:main"
    out = subprocess.run([sys.executable, "-m", "r3d_teach.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"r3d (r3d-teach) {__version__}"


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--x", "--y", "--unit", "--cutoff", "--weights", "--treatment", "--cluster", "--method",
                 "--p", "--h", "--b", "--quantiles", "--boot", "--alpha", "--seed", "--out"):
        assert flag in text
    assert "examples:" in text and "r3d fit wages.csv" in text


# ------------------------------------------------------------------ agreement with the API

@pytest.mark.parametrize("kind", ["sim.csv", "sim.parquet", "parts"])
def test_fit_equals_api(capsys, files, sim, tmp_path, kind):
    out = tmp_path / "res"
    rc, stdout, err = _run(capsys, "fit", files / kind, "--x", "score", "--y", "wage", "--unit", "firm",
                           "--quantiles", Q5, "--boot", 300, "--seed", 7, "--out", out)
    assert rc == 0, err
    res = _api(sim, quantiles=QV, n_boot=300, seed=7)
    effect = pd.read_csv(out / "effect.csv")
    assert list(effect.columns[:7]) == ["q", "tau", "se", "band_lower", "band_upper",
                                        "pointwise_lower", "pointwise_upper"]
    _assert_same(effect, res)
    info = json.loads((out / "result.json").read_text())
    assert info["r3d_teach_version"] == __version__
    assert info["n_units"] == 240 and info["n_obs"] == len(sim)
    assert info["h"] == pytest.approx(res.h, rel=1e-12)
    assert info["b"]["+"] == pytest.approx(res.b["+"], rel=1e-12)
    assert info["settings"]["seed"] == 7 and info["settings"]["n_boot"] == 300
    assert info["settings"]["quantiles"] == QV and info["columns"]["unit"] == "firm"
    assert [t["test"] for t in info["tests"]] == ["nullity", "homogeneity"]
    np.testing.assert_allclose([t["p_value"] for t in info["tests"]], res.tests["p_value"], rtol=0, atol=TOL)
    png = (out / "effect.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "R3D (sharp" in stdout and "Tests:" in stdout
    # the simulation's truth tau(q) = 1 + 0.5 Phi^-1(q) lies inside the uniform band
    from scipy.stats import norm
    truth = 1 + 0.5 * norm.ppf(QV)
    assert np.all(effect["band_lower"] < truth) and np.all(truth < effect["band_upper"])


def test_fit_weighted_clustered_fuzzy_equals_api(capsys, files, sim, tmp_path):
    out = tmp_path / "fz"
    rc, _, err = _run(capsys, "fit", files / "sim.parquet", "--x", "score", "--y", "wage", "--unit", "firm",
                      "--weights", "w", "--cluster", "state", "--treatment", "treated", "--cutoff", 0.0,
                      "--quantiles", Q5, "--boot", 200, "--seed", 3, "--h", 0.5, "--p", 2,
                      "--quantile-method", "inverted_cdf", "--out", out)
    assert rc == 0, err
    res = _api(sim, quantiles=QV, n_boot=200, seed=3, weights="w", cluster="state", treatment="treated",
               h=0.5, quantile_method="inverted_cdf")
    _assert_same(pd.read_csv(out / "effect.csv"), res)
    info = json.loads((out / "result.json").read_text())
    assert info["first_stage"]["jump"] == pytest.approx(res.first_stage.jump, rel=1e-10)
    assert info["n_clusters"] == 24 and info["h"] == 0.5


def test_fit_simple_method_no_bootstrap(capsys, files, sim, tmp_path):
    out = tmp_path / "simple"
    rc, _, err = _run(capsys, "fit", files / "sim.csv", "--x", "score", "--y", "wage", "--unit", "firm",
                      "--method", "simple", "--h", 0.6, "--b", 0.8, "--boot", 0, "--quantiles", Q5,
                      "--kernel", "epanechnikov", "--out", out)
    assert rc == 0, err
    res = _api(sim, quantiles=QV, method="simple", h=0.6, b=0.8, kernel="epanechnikov")
    effect = pd.read_csv(out / "effect.csv")
    _assert_same(effect, res, boot=False)
    assert effect["band_lower"].isna().all()                    # no bootstrap: empty band columns
    assert json.loads((out / "result.json").read_text())["tests"] == []



def test_normal_flag_equals_use_t_false(capsys, files, sim, tmp_path):
    """--normal: the pointwise intervals of the API with use_t=False (rdrobust's normal reference);
    without it, Student's t with the fit's nu (wider)."""
    out_t, out_n = tmp_path / "t", tmp_path / "n"
    common = ("fit", files / "sim.csv", "--x", "score", "--y", "wage", "--unit", "firm", "--quantiles", Q5,
              "--boot", 99, "--seed", 3)
    assert _run(capsys, *common, "--out", out_t)[0] == 0
    assert _run(capsys, *common, "--normal", "--out", out_n)[0] == 0
    res_n = _api(sim, quantiles=QV, n_boot=99, seed=3, use_t=False)
    eff_t, eff_n = pd.read_csv(out_t / "effect.csv"), pd.read_csv(out_n / "effect.csv")
    _assert_same(eff_n, res_n)
    assert np.all(eff_t["pointwise_upper"] - eff_t["tau"] > eff_n["pointwise_upper"] - eff_n["tau"])
    assert json.loads((out_n / "result.json").read_text())["settings"]["use_t"] is False
    assert json.loads((out_t / "result.json").read_text())["settings"]["use_t"] is True


def test_quantiles_file_then_fit(capsys, files, sim, tmp_path):
    qfile = tmp_path / "firm_q.parquet"
    rc, stdout, err = _run(capsys, "quantiles", files / "parts", "--y", "wage", "--unit", "firm", "--x", "score",
                           "--weights", "w", "--cluster", "state", "--quantiles", Q5, "--out", qfile)
    assert rc == 0, err
    assert "240 units x 5 levels" in stdout
    tab = pd.read_parquet(qfile)
    assert len(tab) == 240 and tab["firm"].is_monotonic_increasing
    assert list(tab.columns[:4]) == ["firm", "score", "state", "n_obs"]
    out = tmp_path / "from_q"
    rc, _, err = _run(capsys, "fit", qfile, "--cluster", "state", "--boot", 200, "--seed", 5, "--out", out)
    assert rc == 0, err
    res = _api(sim, quantiles=QV, n_boot=200, seed=5, weights="w", cluster="state")
    _assert_same(pd.read_csv(out / "effect.csv"), res)
    assert json.loads((out / "result.json").read_text())["settings"]["engine"] == "unit-quantile file"
    # flags that contradict what the file records
    rc, _, err = _run(capsys, "fit", qfile, "--quantiles", "0.2,0.5", "--out", tmp_path / "x")
    assert rc == 1 and "--quantiles:" in err
    rc, _, err = _run(capsys, "fit", qfile, "--weights", "other", "--out", tmp_path / "x")
    assert rc == 1 and "--weights:" in err
    rc, _, err = _run(capsys, "fit", qfile, "--treatment", "treated", "--out", tmp_path / "x")
    assert rc == 1 and "--treatment: column 'treated' is not in" in err


def test_pandas_engine_same_numbers(capsys, files, sim, tmp_path):
    outs = []
    for engine in ("pandas", "duckdb"):
        out = tmp_path / engine
        rc, _, err = _run(capsys, "fit", files / "sim.csv", "--x", "score", "--y", "wage", "--unit", "firm",
                          "--quantiles", Q5, "--boot", 100, "--seed", 1, "--engine", engine, "--out", out)
        assert rc == 0, err
        outs.append(pd.read_csv(out / "effect.csv"))
    pd.testing.assert_frame_equal(outs[0], outs[1], check_exact=False, rtol=0, atol=TOL)


def test_dask_engine_same_numbers(capsys, files, sim, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    rc, _, err = _run(capsys, "fit", files / "parts", *BASE, "--quantiles", Q5, "--boot", 100, "--seed", 4,
                      "--engine", "dask", "--workers", 2, "--out", out)
    assert rc == 0, err
    _assert_same(pd.read_csv(out / "effect.csv"), _api(sim, quantiles=QV, n_boot=100, seed=4))


def test_console_script_subprocess(files, tmp_path):
    """The installed command itself, as a user runs it (progress bars forced on)."""
    out = tmp_path / "sub"
    proc = subprocess.run([sys.executable, "-m", "r3d_teach.cli", "fit", str(files / "sim.parquet"), "--x", "score",
                           "--y", "wage", "--unit", "firm", "--quantiles", Q5, "--boot", "100", "--seed", "2",
                           "--progress", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "R3D (sharp" in proc.stdout and "wrote" in proc.stderr
    assert {"effect.csv", "result.json", "effect.png"} <= set(os.listdir(out))


# ------------------------------------------------------------------ errors

def _fails(capsys, *argv, code=1):
    with pytest.raises(SystemExit) if code == 2 else _nullcontext() as exc:
        rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    got = exc.value.code if code == 2 else rc
    assert got == code, err
    assert "Traceback" not in err
    return err


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


BASE = ["--x", "score", "--y", "wage", "--unit", "firm"]


def test_missing_column_named(capsys, files, tmp_path):
    err = _fails(capsys, "fit", files / "sim.csv", "--x", "score", "--y", "salary", "--unit", "firm",
                 "--out", tmp_path / "o")
    assert "--y: column 'salary' is not in" in err
    err = _fails(capsys, "fit", files / "sim.csv", *BASE, "--cluster", "county", "--out", tmp_path / "o")
    assert "--cluster: column 'county' is not in" in err
    err = _fails(capsys, "fit", files / "sim.csv", "--x", "wage", "--y", "wage", "--unit", "firm",
                 "--out", tmp_path / "o")
    assert "--x: column 'wage' must be constant within each unit" in err
    err = _fails(capsys, "fit", files / "sim.csv", "--x", "score", "--unit", "firm", "--out", tmp_path / "o")
    assert "--y: required" in err


def test_bad_values_named(capsys, sim, tmp_path):
    bad = sim.head(400).astype({"wage": object})
    bad.loc[10, "wage"] = "n/a?"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    err = _fails(capsys, "fit", path, *BASE, "--out", tmp_path / "o")
    assert "--y: column 'wage' is not numeric" in err and "n/a?" in err
    miss = sim.head(400).copy()
    miss.loc[5, "wage"] = np.nan
    miss.to_csv(tmp_path / "miss.csv", index=False)
    err = _fails(capsys, "fit", tmp_path / "miss.csv", *BASE, "--out", tmp_path / "o")
    assert "--y: column 'wage' has 1 missing" in err
    neg = sim.copy()
    neg.loc[0, "w"] = -2.0
    neg.to_parquet(tmp_path / "neg.parquet")
    err = _fails(capsys, "fit", tmp_path / "neg.parquet", *BASE, "--weights", "w", "--out", tmp_path / "o")
    assert "--weights: column 'w' has 1 negative values" in err
    tr = sim.copy()
    tr["treated"] = tr["treated"] * 2
    tr.to_parquet(tmp_path / "tr.parquet")
    err = _fails(capsys, "fit", tmp_path / "tr.parquet", *BASE, "--treatment", "treated", "--boot", 0,
                 "--out", tmp_path / "o")
    assert err.count("--treatment") >= 1 and "0/1" in err


def test_unreadable_file_named(capsys, tmp_path):
    err = _fails(capsys, "fit", tmp_path / "nope.csv", *BASE, "--out", tmp_path / "o")
    assert "DATA: no such file or folder" in err and "nope.csv" in err
    g = tmp_path / "garbage.parquet"
    g.write_bytes(b"\x00" * 64)
    err = _fails(capsys, "fit", g, *BASE, "--out", tmp_path / "o")
    assert "DATA: cannot read" in err and "garbage.parquet" in err
    err = _fails(capsys, "quantiles", tmp_path / "nope.csv", "--y", "wage", "--unit", "firm",
                 "--out", tmp_path / "q.parquet")
    assert "DATA: no such file" in err


@pytest.mark.parametrize("flag,value,needle", [
    ("--alpha", "2", "argument --alpha: must be strictly inside (0, 1)"),
    ("--p", "two", "argument --p: invalid int value: 'two'"),
    ("--boot", "-5", "argument --boot: must be a non-negative integer"),
    ("--h", "0", "argument --h: must be > 0"),
    ("--quantiles", "0.5,0.2", "argument --quantiles: levels must be strictly increasing"),
    ("--quantiles", "0.5,1.5", "argument --quantiles: every level must be strictly inside (0, 1)"),
    ("--method", "loess", "argument --method: invalid choice: 'loess'"),
    ("--cutoff", "nan", "argument --cutoff: must be finite"),
    ("--tests", "normality", "argument --tests: unknown test 'normality'"),
])
def test_bad_flag_values(capsys, files, tmp_path, flag, value, needle):
    err = _fails(capsys, "fit", files / "sim.csv", *BASE, flag, value, "--out", tmp_path / "o", code=2)
    assert needle in err
    assert not (tmp_path / "o").exists()                      # nothing written


def test_library_errors_are_mapped_to_flags(capsys, files, tmp_path):
    # every unit on one side of the cutoff: r3d's "x: ..." message names the --x flag
    err = _fails(capsys, "fit", files / "sim.csv", *BASE, "--cutoff", 5, "--boot", 0, "--out", tmp_path / "o")
    assert "--x: all 240 units are on one side of the cutoff" in err
    err = _fails(capsys, "quantiles", files / "sim.csv", "--y", "wage", "--unit", "firm", "--out", tmp_path / "q.csv")
    assert "--out: the unit-quantile file must end in .parquet" in err


# ------------------------------------------------------------------ checked before any work, one line

def _garbage(tmp_path):
    g = tmp_path / "garbage.parquet"                          # reading it would fail with a DATA error
    g.write_bytes(b"\x00" * 64)
    return g


def test_output_folder_is_checked_first_and_named(capsys, tmp_path):
    """An output folder that cannot be made was reported as a DATA error, after the computation."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    err = _fails(capsys, "fit", _garbage(tmp_path), *BASE, "--out", blocker / "res")
    assert err.count("\n") == 1 and "--out: " in err and "is a file" in err and "DATA" not in err
    err = _fails(capsys, "fit", _garbage(tmp_path), *BASE, "--out", blocker)
    assert "--out: " in err and "exists and is not a folder" in err
    err = _fails(capsys, "quantiles", _garbage(tmp_path), "--y", "wage", "--unit", "firm",
                 "--out", blocker / "q.parquet")
    assert "--out: " in err and "is not a folder" in err
    (tmp_path / "dir.parquet").mkdir()
    err = _fails(capsys, "quantiles", _garbage(tmp_path), "--y", "wage", "--unit", "firm",
                 "--out", tmp_path / "dir.parquet")
    assert "--out: " in err and "is a folder" in err
    assert not (blocker.parent / "res").exists()


def test_fit_flags_are_checked_before_the_data_is_read(capsys, tmp_path):
    g = _garbage(tmp_path)
    err = _fails(capsys, "fit", g, *BASE, "--p", 9, "--out", tmp_path / "o")
    assert "--p: orders above 8" in err
    err = _fails(capsys, "fit", g, *BASE, "--treatment", "treated", "--tests", "gini", "--out", tmp_path / "o")
    assert "--tests: the Gini test is defined for sharp designs only" in err
    err = _fails(capsys, "fit", g, *BASE, "--p", 0, "--b", 0.5, "--out", tmp_path / "o")
    assert "--b: with --p 0 there is no bias correction" in err
    err = _fails(capsys, "fit", g, *BASE, "--memory-limit", "lots", "--out", tmp_path / "o")
    assert "--memory-limit: 'lots' is not a memory size" in err
    err = _fails(capsys, "fit", g, *BASE, "--temp-dir", g / "spill", "--out", tmp_path / "o")
    assert "--temp-dir: " in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag,value", [("--quantiles", "0.1,,0.5"), ("--quantiles", "0.1,0.5,"),
                                        ("--quantiles", ",0.5"), ("--tests", "nullity,,gini")])
def test_empty_list_items_are_refused(capsys, files, tmp_path, flag, value):
    err = _fails(capsys, "fit", files / "sim.csv", *BASE, flag, value, "--out", tmp_path / "o", code=2)
    assert f"argument {flag}: empty" in err


@pytest.mark.parametrize("engine", ["duckdb", "pandas", "dask"])
def test_header_only_file_has_no_rows(capsys, tmp_path, engine):
    """A CSV file with a header line only was called "not numeric"."""
    if engine == "dask":
        pytest.importorskip("distributed")
    path = tmp_path / "header.csv"
    path.write_text("firm,score,wage\n")
    err = _fails(capsys, "fit", path, *BASE, "--engine", engine, "--workers", 1, "--out", tmp_path / "o")
    assert "DATA: " in err and "has no rows" in err and "numeric" not in err


def test_dask_failures_are_one_line_without_worker_tracebacks(capfd, files, tmp_path):
    """A failing task on a Dask worker printed the worker's traceback (and shuffle notices) before
    the clean message."""
    pytest.importorskip("distributed")
    rc = main(["fit", str(files / "sim.csv"), "--x", "wage", "--y", "wage", "--unit", "firm", "--engine", "dask",
               "--workers", "1", "--out", str(tmp_path / "o")])
    err = capfd.readouterr().err
    assert rc == 1
    assert err.strip().splitlines() == [err.strip()], err
    assert err.startswith("r3d fit: error: --x: column 'wage' must be constant within each unit")


def test_engine_errors_that_span_lines_are_one_line(capsys, tmp_path):
    bad = tmp_path / "ragged.csv"
    bad.write_text("firm,score,wage\n1,0.5,2\n1,0.5\n2,-0.5,3,4\n")
    for engine in ("duckdb", "pandas"):
        err = _fails(capsys, "fit", bad, *BASE, "--engine", engine, "--out", tmp_path / "o")
        assert err.count("\n") == 1 and "DATA: cannot read" in err and "ragged.csv" in err
