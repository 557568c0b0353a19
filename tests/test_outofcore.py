"""Out-of-core unit quantiles (r3d_teach.outofcore): DuckDB, Dask and the in-memory frame
version give the numbers of ``unit_quantiles`` (1e-12), which itself is checked here against
numpy's own quantile rules and hand-computed values; bad inputs raise errors naming the column."""
import os
import sys

import numpy as np
import pandas as pd
import pytest

from r3d_teach import unit_quantiles
from r3d_teach.outofcore import (UnitQuantiles, is_quantile_file, read_quantile_file, unit_quantiles_dask,
                                 unit_quantiles_duckdb, unit_quantiles_frame, write_quantile_file)

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

GRID = np.arange(1, 100) / 100
TOL = 1e-12


def _long_data(seed=0, n=120):
    """Units of very different sizes (1 to 80 observations, five single-observation units),
    ties (values rounded to 0.1), rows shuffled; four weight columns: continuous, integer
    (cumulative weights hit the targets exactly), with zeros, and constant within the unit."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 80, n)
    sizes[:5] = 1
    unit = np.repeat(np.arange(n) * 7 + 3, sizes)            # labels not 0..n-1
    y = np.round(rng.normal(0, 1, unit.size), 1)
    w_int = rng.integers(1, 4, unit.size).astype(float)
    w_zero = rng.integers(0, 3, unit.size).astype(float)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    w_zero[first] = 1.0                                        # every unit keeps a positive weight
    x_unit = rng.uniform(-1, 1, n)
    df = pd.DataFrame({"unit": unit, "y": y, "x": np.repeat(x_unit, sizes),
                       "w_cont": rng.lognormal(0, 1, unit.size), "w_int": w_int, "w_zero": w_zero,
                       "w_const": np.repeat(rng.uniform(0.5, 2, n), sizes),
                       "t": np.repeat((x_unit >= 0).astype(int), sizes),
                       "state": np.repeat(np.array(["s%d" % (i % 9) for i in range(n)]), sizes)})
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


def _reference(df, wcol, method, q=GRID):
    """unit_quantiles on the samples in file order, units sorted by label."""
    labels = np.sort(df["unit"].unique())
    ys = [df["y"].to_numpy()[df["unit"].to_numpy() == u] for u in labels]
    ws = None if wcol is None else [df[wcol].to_numpy()[df["unit"].to_numpy() == u] for u in labels]
    return labels, unit_quantiles(ys, q, weights=ws, method=method)


@pytest.fixture(scope="module")
def data():
    return _long_data()


@pytest.fixture(scope="module")
def files(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("ooc")
    data.to_csv(d / "data.csv", index=False)
    data.to_parquet(d / "data.parquet")
    folder = d / "parts"
    folder.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(data)), 4)):  # units spread over files
        data.iloc[chunk].to_parquet(folder / f"part{i}.parquet")
    return {"csv": str(d / "data.csv"), "parquet": str(d / "data.parquet"), "folder": str(folder)}


# ------------------------------------------------------------------ the reference rule itself

def test_reference_rule_matches_numpy_and_hand_values():
    """unit_quantiles, the target of every engine, against independent oracles."""
    rng = np.random.default_rng(3)
    ys = [np.round(rng.normal(size=k), 1) for k in (1, 2, 7, 50)]
    q = np.sort(rng.uniform(0.01, 0.99, 25))  # random levels: away from k q integer
    Q = unit_quantiles(ys, q)
    ref = np.array([np.quantile(v, q, method="linear") for v in ys])
    np.testing.assert_allclose(Q, ref, rtol=0, atol=1e-12)
    Qi = unit_quantiles(ys, q, method="inverted_cdf")
    refi = np.array([np.quantile(v, q, method="inverted_cdf") for v in ys])
    np.testing.assert_allclose(Qi, refi, rtol=0, atol=0)
    # weighted rule by hand: weights (1,1,1,5) -> normalised (.5,.5,.5,2.5), cumulative .5,1,1.5,4
    # q=0.1: o = 1.3, v(1) = z_2 = 1, v(2) = z_4 = 3 -> 0.7*1 + 0.3*3 = 1.6; q=0.5: o=2.5 -> 3
    Qw = unit_quantiles([np.array([0.0, 1.0, 2.0, 3.0])], [0.1, 0.5], weights=[np.array([1.0, 1, 1, 5])])
    np.testing.assert_allclose(Qw, [[1.6, 3.0]], rtol=0, atol=1e-15)


# ------------------------------------------------------------------ DuckDB

@pytest.mark.parametrize("method", ["linear", "inverted_cdf"])
@pytest.mark.parametrize("wcol", [None, "w_cont", "w_int", "w_zero", "w_const"])
def test_duckdb_equals_unit_quantiles(data, method, wcol):
    labels, ref = _reference(data, wcol, method)
    res = unit_quantiles_duckdb(data, "y", "unit", GRID, weights=wcol, method=method, x="x")
    np.testing.assert_array_equal(res.units, labels)
    np.testing.assert_allclose(res.Q, ref, rtol=0, atol=TOL)
    sizes = data.groupby("unit").size().loc[labels].to_numpy()
    np.testing.assert_array_equal(res.sizes, sizes)
    np.testing.assert_array_equal(res.x, data.groupby("unit")["x"].first().loc[labels].to_numpy())
    assert res.weighted == (wcol is not None) and res.method == method


def test_duckdb_single_observation_units_are_that_value(data):
    res = unit_quantiles_duckdb(data, "y", "unit", GRID, weights="w_cont")
    single = res.sizes == 1
    assert single.sum() >= 5
    vals = data.groupby("unit")["y"].first().loc[res.units[single]].to_numpy()
    np.testing.assert_array_equal(res.Q[single], np.repeat(vals[:, None], GRID.size, axis=1))


def test_duckdb_units_near_a_target_recomputed_in_memory_and_continuous_not(data):
    """Every engine uses the targets of quantiles.weighted_targets (less a relative 1e-10), so
    integer weights, whose cumulative sums land exactly on integers, are decided by the same
    comparison everywhere and need no recomputation. A cumulative weight within rounding of a
    target itself (here 1 - 1e-10 after normalisation) is recomputed with unit_quantiles,
    recorded in info; continuous weights never need it."""
    r_int = unit_quantiles_duckdb(data, "y", "unit", GRID, weights="w_int")
    r_cont = unit_quantiles_duckdb(data, "y", "unit", GRID, weights="w_cont")
    assert r_cont.info["units_recomputed_in_memory"] == 0
    labels, ref = _reference(data, "w_int", "linear")
    np.testing.assert_array_equal(r_int.Q, ref)
    rng = np.random.default_rng(8)
    n = 30
    near = pd.DataFrame({"unit": np.repeat(np.arange(n), 2), "y": rng.normal(size=2 * n),
                         "w": np.tile([1 - 1e-10, 1 + 1e-10], n)})
    r_near = unit_quantiles_duckdb(near, "y", "unit", GRID, weights="w")
    assert r_near.info["units_recomputed_in_memory"] > 0
    labels, ref = _reference(near, "w", "linear")
    np.testing.assert_array_equal(r_near.Q, ref)
    # small in-memory batches give the same numbers
    r_small = unit_quantiles_duckdb(near, "y", "unit", GRID, weights="w", fallback_rows=3)
    np.testing.assert_array_equal(r_small.Q, r_near.Q)


@pytest.mark.parametrize("kind", ["csv", "parquet", "folder"])
def test_duckdb_reads_files(files, data, kind):
    labels, ref = _reference(data, "w_cont", "linear")
    res = unit_quantiles_duckdb(files[kind], "y", "unit", GRID, weights="w_cont", x="x",
                                unit_columns=["t", "state"])
    np.testing.assert_array_equal(res.units, labels)
    # CSV stores floats with 17 significant digits: the weights round-trip exactly
    np.testing.assert_allclose(res.Q, ref, rtol=0, atol=TOL)
    firsts = data.groupby("unit").first().loc[labels]
    np.testing.assert_array_equal(res.columns["t"], firsts["t"].to_numpy())
    np.testing.assert_array_equal(res.columns["state"], firsts["state"].to_numpy())
    units, x, Q = res                                         # unpacks as a triple
    assert Q is res.Q and units is res.units and x is res.x


def test_duckdb_spills_under_a_small_memory_limit(tmp_path):
    """About 32 MB of rows under a 30 MB limit: DuckDB spills to the given folder and the
    numbers do not change."""
    rng = np.random.default_rng(5)
    n, k = 2000, 1000
    df = pd.DataFrame({"unit": np.repeat(np.arange(n), k), "y": rng.normal(size=n * k)})
    path = tmp_path / "big.parquet"
    df.to_parquet(path)
    ys = df["y"].to_numpy().reshape(n, k)
    ref = unit_quantiles(ys, GRID)
    spill = tmp_path / "spill"
    spill.mkdir()
    res = unit_quantiles_duckdb(str(path), "y", "unit", GRID, memory_limit="30MB", threads=1,
                                temp_directory=str(spill))
    np.testing.assert_allclose(res.Q, ref, rtol=0, atol=TOL)
    # it did need the disk: with nowhere to spill, the same limit fails (and 1GB does not)
    nowhere = str(tmp_path / "file_not_folder")
    open(nowhere, "w").close()
    with pytest.raises(ValueError, match="^data: cannot read"):
        unit_quantiles_duckdb(str(path), "y", "unit", GRID, memory_limit="30MB", threads=1,
                              temp_directory=os.path.join(nowhere, "tmp"))
    res = unit_quantiles_duckdb(str(path), "y", "unit", GRID, memory_limit="1GB", threads=1,
                                temp_directory=os.path.join(nowhere, "tmp"))
    np.testing.assert_allclose(res.Q, ref, rtol=0, atol=TOL)


def test_duckdb_progress_bars_do_not_change_numbers(data, capsys):
    a = unit_quantiles_duckdb(data, "y", "unit", GRID, weights="w_cont", progress=True)
    b = unit_quantiles_duckdb(data, "y", "unit", GRID, weights="w_cont", progress=False)
    np.testing.assert_array_equal(a.Q, b.Q)


def test_docstring_examples():
    import doctest

    import r3d_teach.cli
    import r3d_teach.outofcore

    for mod in (r3d_teach.outofcore, r3d_teach.cli):
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.attempted > 0 and res.failed == 0, mod.__name__


def test_duckdb_string_labels_sorted():
    df = pd.DataFrame({"firm": ["b", "a", "c", "a", "b"], "y": [4.0, 1.0, 9.0, 3.0, 6.0]})
    res = unit_quantiles_duckdb(df, "y", "firm", [0.5])
    assert res.units.tolist() == ["a", "b", "c"]
    assert res.Q.ravel().tolist() == [2.0, 5.0, 9.0]          # type 7 medians by hand


def test_quantile_file_round_trip(tmp_path, data):
    res = unit_quantiles_duckdb(data, "y", "unit", GRID, x="x", unit_columns=["t"], method="inverted_cdf")
    path = tmp_path / "q.parquet"
    write_quantile_file(res, path, unit="unit", x="x", settings={"y": "y"})
    assert is_quantile_file(path)
    data.to_parquet(tmp_path / "raw.parquet")
    assert not is_quantile_file(tmp_path / "raw.parquet") and not is_quantile_file(tmp_path / "nothing.parquet")
    back, meta = read_quantile_file(path)
    np.testing.assert_array_equal(back.Q, res.Q)
    np.testing.assert_array_equal(back.quantiles, GRID)        # the exact grid, from the metadata
    np.testing.assert_array_equal(back.units, res.units)
    np.testing.assert_array_equal(back.x, res.x)
    np.testing.assert_array_equal(back.columns["t"], res.columns["t"])
    assert meta["quantile_method"] == "inverted_cdf" and meta["y"] == "y" and back.method == "inverted_cdf"


# ------------------------------------------------------------------ errors

def _err(source, **kw):
    args = dict(y="y", unit="unit", quantiles=[0.5])
    args.update(kw)
    with pytest.raises((ValueError, TypeError, FileNotFoundError)) as exc:
        unit_quantiles_duckdb(source, **args)
    return str(exc.value)


def test_duckdb_errors_name_the_column(tmp_path, data):
    msg = _err(data, y="wage")
    assert msg.startswith("y:") and "'wage'" in msg
    msg = _err(data, x="y")
    assert msg.startswith("x:") and "constant within each unit" in msg
    msg = _err(data, y="state")
    assert msg.startswith("y:") and "not numeric" in msg
    bad = data.copy()
    bad.loc[3, "y"] = np.nan
    assert _err(bad).startswith("y: column 'y' has 1 missing")
    neg = data.copy()
    neg.loc[0, "w_cont"] = -1.0
    assert _err(neg, weights="w_cont").startswith("weights:") and "negative" in _err(neg, weights="w_cont")
    zero = pd.DataFrame({"unit": [1, 1, 2], "y": [1.0, 2.0, 3.0], "w": [0.0, 0.0, 1.0]})
    msg = _err(zero, weights="w")
    assert msg.startswith("weights:") and "sums to zero" in msg and "[1]" in msg
    assert _err(data, method="type8").startswith("method:")
    assert _err(data, quantiles=[0.5, 1.0]).startswith("quantiles:")


def test_duckdb_file_errors(tmp_path):
    assert _err(str(tmp_path / "missing.csv")).startswith("data: no such file")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("this is not parquet")
    msg = _err(str(garbage))
    assert msg.startswith("data: cannot read") and "garbage.parquet" in msg
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _err(str(empty)).startswith("data: the folder")
    # a text value far down a CSV (after the type sniffer's sample): named with its line
    csv = tmp_path / "late.csv"
    with open(csv, "w") as f:
        f.write("unit,y\n")
        f.writelines(f"{i % 7},{i * 0.5}\n" for i in range(30000))
        f.write("3,oops\n")
    msg = _err(str(csv))
    assert msg.startswith("y: column 'y' is not numeric (value 'oops' on line 30002")
    assert _err(str(tmp_path / "data.xlsx")).startswith("data:")


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)          # import duckdb -> ImportError
    with pytest.raises(ImportError, match=r"pip install duckdb .*the \"large\" extra"):
        unit_quantiles_duckdb(pd.DataFrame({"unit": [1], "y": [1.0]}), "y", "unit", [0.5])


# ------------------------------------------------------------------ in memory (pandas)

@pytest.mark.parametrize("method", ["linear", "inverted_cdf"])
@pytest.mark.parametrize("wcol", [None, "w_int", "w_zero"])
def test_frame_engine_equals_unit_quantiles(data, method, wcol):
    labels, ref = _reference(data, wcol, method)
    res = unit_quantiles_frame(data, "y", "unit", GRID, weights=wcol, method=method, x="x",
                               unit_columns=["state"])
    np.testing.assert_array_equal(res.units, labels)
    np.testing.assert_allclose(res.Q, ref, rtol=0, atol=TOL)
    assert isinstance(res, UnitQuantiles) and res.columns["state"].shape == labels.shape


def test_frame_engine_errors(data):
    with pytest.raises(ValueError, match=r"^y: column 'nope' is not in the data"):
        unit_quantiles_frame(data, "nope", "unit", GRID)
    with pytest.raises(ValueError, match=r"^x: column 'y' must be constant within each unit"):
        unit_quantiles_frame(data, "y", "unit", GRID, x="y")
    txt = data.assign(y=data["y"].astype(object))
    txt.loc[5, "y"] = "n/a"
    with pytest.raises(ValueError, match=r"^y: column 'y' is not numeric.*'n/a'"):
        unit_quantiles_frame(txt, "y", "unit", GRID)


# ------------------------------------------------------------------ Dask on a local cluster

@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_local_cluster_equals_unit_quantiles(dask_client, data, files):
    import dask.dataframe as dd

    assert len(dask_client.scheduler_info()["workers"]) == 2
    ddf = dd.from_pandas(data, npartitions=5)                   # every unit spread over partitions
    for method, wcol in (("linear", None), ("inverted_cdf", None), ("linear", "w_cont"),
                         ("inverted_cdf", "w_int")):
        labels, ref = _reference(data, wcol, method)
        res = unit_quantiles_dask(ddf, "y", "unit", GRID, weights=wcol, x="x", unit_columns=["t"],
                                  method=method)
        np.testing.assert_array_equal(res.units, labels)
        np.testing.assert_allclose(res.Q, ref, rtol=0, atol=TOL)
        np.testing.assert_array_equal(res.x, data.groupby("unit")["x"].first().loc[labels].to_numpy())
    # from the folder of Parquet files, as in the benchmark
    labels, ref = _reference(data, None, "linear")
    res = unit_quantiles_dask(dd.read_parquet(files["folder"]), "y", "unit", GRID)
    np.testing.assert_allclose(res.Q, ref, rtol=0, atol=TOL)
    with pytest.raises(ValueError, match=r"^x: column 'y' must be constant within each unit"):
        unit_quantiles_dask(ddf, "y", "unit", GRID, x="y")
    with pytest.raises(ValueError, match=r"^weights: column 'w' is not in the data"):
        unit_quantiles_dask(ddf, "y", "unit", GRID, weights="w")
