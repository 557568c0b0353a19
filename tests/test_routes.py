"""Every route to a result computes what the Python API computes: the DuckDB, Dask and pandas
engines of r3d_teach.outofcore, the `r3d` command line and the in-memory API give the same unit
quantiles (one rule for unit ids, one weighted-quantile rule, one coercion rule for text) and the
same fit; where they refuse, they refuse alike, with one line naming the argument, flag or column.

The property test at the end draws long data (string / integer / categorical ids, ties, weights
from 0 to 1e300, CSV and Parquet) and compares all routes on each draw."""
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r3d_teach import r3d, unit_quantiles
from r3d_teach.cli import main
from r3d_teach.outofcore import (read_csv_dask, read_csv_frame, relabel_csv_result, unit_quantiles_dask,
                                 unit_quantiles_duckdb, unit_quantiles_frame)

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

GRID = np.round(np.arange(1, 100) / 100, 10)
Q3 = [0.25, 0.5, 0.75]


@pytest.fixture(scope="module")
def dask_scheduler():
    """One in-process Dask cluster for the module (the engines' default client, and the address
    the command line's --scheduler connects to)."""
    pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address=None, silence_logs=50)
    client = distributed.Client(cluster)
    yield cluster.scheduler_address
    client.close()
    cluster.close()


def _weighted_long(seed=0, n=300, weights=None):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    k = rng.integers(2, 40, n)
    xx = np.repeat(x, k)
    w = rng.lognormal(0, 1, xx.size) if weights is None else rng.choice(weights, xx.size)
    first = np.concatenate([[0], np.cumsum(k)[:-1]])
    w[first] = 1.0                                           # every unit keeps a positive weight
    df = pd.DataFrame({"firm": np.repeat(np.arange(n) * 3 + 1, k), "score": xx,
                       "wage": np.round(rng.normal(2 + xx + (xx >= 0), 1), 1), "weight": w})
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


def _api_quantiles(df, weights="weight", q=GRID, unit="firm", y="wage"):
    """unit_quantiles on each unit's sample, units sorted by label (as every engine orders them)."""
    labels = np.array(sorted(df[unit].unique().tolist()), dtype=object)
    u = df[unit].to_numpy()
    ys = [df[y].to_numpy()[u == v] for v in labels]
    ws = None if weights is None else [df[weights].to_numpy()[u == v] for v in labels]
    return labels, unit_quantiles(ys, q, weights=ws)


# ----------------------------------------------------------------------------------------------
# monotone to the last bit
# ----------------------------------------------------------------------------------------------
def test_weighted_unit_quantiles_are_monotone_on_every_route(tmp_path, capsys):
    """(1 - f) a + f b with a = b (ties) used to step down by an ulp: 261 of 29 700 steps of this
    design decreased in every engine and in unit_quantiles itself, and r3d(x, Q=...) refused."""
    df = _weighted_long()
    labels, Q = _api_quantiles(df)
    assert (np.diff(Q, axis=1) >= 0).all()
    for engine in (unit_quantiles_duckdb, unit_quantiles_frame):
        res = engine(df, "wage", "firm", GRID, weights="weight", x="score")
        assert (np.diff(res.Q, axis=1) >= 0).all()
        assert res.units.tolist() == labels.tolist()
        np.testing.assert_array_equal(res.Q, Q)
        fit = r3d(res.x, Q=res.Q, quantiles=GRID)             # accepted: rows are quantile functions
        assert np.isfinite(fit.tau).all()
    # the command, with either engine
    df.to_csv(tmp_path / "wages.csv", index=False)
    for engine in ("duckdb", "pandas"):
        rc = main(["fit", str(tmp_path / "wages.csv"), "--x", "score", "--y", "wage", "--unit", "firm",
                   "--weights", "weight", "--boot", "0", "--engine", engine, "--out", str(tmp_path / engine)])
        assert rc == 0, capsys.readouterr().err


def test_q_accepts_rounding_level_decreases_relative_to_the_row_and_names_the_unit():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 200)
    Q = np.sort(rng.normal(size=(200, 9)), axis=1) * np.where(np.arange(200) % 2, 1e200, 1e-200)[:, None]
    q = np.arange(1, 10) / 10
    bumped = Q.copy()
    for i in (3, 4):                                          # one unit of 1e-200, one of 1e200
        scale = np.abs(Q[i]).max()
        bumped[i, 5] = Q[i, 4] - scale * 2.0**-45             # below the 2^-40 tolerance of the row
    ref = r3d(x, Q=np.maximum.accumulate(bumped, axis=1), quantiles=q, h=0.8)
    got = r3d(x, Q=bumped, quantiles=q, h=0.8)                # repaired by a running maximum
    np.testing.assert_array_equal(got.tau, ref.tau)
    np.testing.assert_array_equal(got.diagnostics.unit_quantiles[3], np.maximum.accumulate(bumped[3]))
    real = Q.copy()
    real[4, 5] = Q[4, 4] - np.abs(Q[4]).max() * 2.0**-35      # beyond it: a real decrease
    with pytest.raises(ValueError, match=r"^Q: row 4 decreases .* between q = 0.5 and q = 0.6"):
        r3d(x, Q=real, quantiles=q, h=0.8)
    labelled = pd.DataFrame(real, index=[f"firm-{i:03d}" for i in range(200)])
    with pytest.raises(ValueError, match=r"^Q: unit 'firm-004' \(row 4\) decreases"):
        r3d(x, Q=labelled, quantiles=q, h=0.8)


# ----------------------------------------------------------------------------------------------
# engines that disagreed
# ----------------------------------------------------------------------------------------------
def test_duckdb_weighted_path_rescales_extreme_weights_like_the_in_memory_path():
    """DuckDB summed the raw weights: with weights 1e300 (overflow) and 1e-300 its quantiles were
    off by up to 4.8 (y has spread 1)."""
    for choices in ([1e-300, 1e300, 0.0, 1.0, 3.5], [1e300, 1e308, 1.7e308], [1e-300, 1e-320, 5e-324]):
        df = _weighted_long(seed=2, n=150, weights=choices)
        for method in ("linear", "inverted_cdf"):
            labels, _ = _api_quantiles(df)
            ys = [df["wage"].to_numpy()[df["firm"].to_numpy() == v] for v in labels]
            ws = [df["weight"].to_numpy()[df["firm"].to_numpy() == v] for v in labels]
            ref = unit_quantiles(ys, GRID, weights=ws, method=method)
            res = unit_quantiles_duckdb(df, "wage", "firm", GRID, weights="weight", method=method)
            np.testing.assert_array_equal(res.Q, ref)


def test_extreme_weights_leave_no_overflow_warnings():
    df = _weighted_long(seed=3, n=100, weights=[1e300, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # ~100 "overflow encountered in reduce" before
        _api_quantiles(df)
        unit_quantiles_frame(df, "wage", "firm", GRID, weights="weight")
        unit_quantiles_duckdb(df, "wage", "firm", GRID, weights="weight")


def _ids_csv(tmp_path):
    rng = np.random.default_rng(4)
    ids = ["007", "7", "7.0", "a", "B", "10", "9", "-3", "x y"]
    rows = [(u, float(v)) for u in ids for v in rng.normal(size=3)]
    path = tmp_path / "ids.csv"
    pd.DataFrame(rows, columns=["u", "y"]).to_csv(path, index=False)
    return path, ids, rows


def test_csv_ids_are_read_as_written_and_ordered_alike_in_every_engine(tmp_path, dask_scheduler):
    """pandas parsed "007" and "7" (and "7.0") as the number 7 and merged three units; DuckDB kept
    the text. One rule now: text exactly as written, ordered by code point."""
    path, ids, rows = _ids_csv(tmp_path)
    want = sorted(ids)
    ref = unit_quantiles([[v for u, v in rows if u == w] for w in want], Q3)
    roles = {"u": ("unit", "unit"), "y": ("number", "y")}
    duck = unit_quantiles_duckdb(str(path), "y", "u", Q3)
    frame = unit_quantiles_frame(read_csv_frame(path, ["u", "y"], roles), "y", "u", Q3)
    dask = relabel_csv_result(unit_quantiles_dask(read_csv_dask(path, ["u", "y"], roles), "y", "u", Q3), "u")
    for res in (duck, frame, dask):
        assert res.units.tolist() == want
        np.testing.assert_array_equal(res.Q, ref)
    # ids that all look like numbers: "007", "7" and "7.0" are three units on every route
    nums = tmp_path / "nums.csv"
    pd.DataFrame({"u": ["007", "7", "7.0", "10", "007"], "y": [1.0, 2.0, 3.0, 4.0, 5.0]}).to_csv(nums, index=False)
    for engine in ("pandas", "duckdb", "dask"):
        out = tmp_path / f"nums_{engine}.parquet"
        assert main(["quantiles", str(nums), "--y", "y", "--unit", "u", "--quantiles", "0.5", "--engine", engine,
                     "--scheduler", dask_scheduler, "--out", str(out)]) == 0
        got = pd.read_parquet(out)
        assert got["u"].tolist() == ["007", "10", "7", "7.0"] and got["q0.5"].tolist() == [3.0, 4.0, 2.0, 3.0]
    # ids that are all plain integers are integers (numeric order) in every engine
    ints = tmp_path / "ints.csv"
    pd.DataFrame({"u": [10, 9, 10, 200, 9], "y": [1.0, 2.0, 3.0, 4.0, 5.0]}).to_csv(ints, index=False)
    for res in (unit_quantiles_duckdb(str(ints), "y", "u", [0.5]),
                unit_quantiles_frame(read_csv_frame(ints, ["u", "y"], roles), "y", "u", [0.5]),
                relabel_csv_result(unit_quantiles_dask(read_csv_dask(ints, ["u", "y"], roles), "y", "u", [0.5]),
                                   "u")):
        assert res.units.tolist() == [9, 10, 200] and res.units.dtype.kind == "i"
        assert res.Q.ravel().tolist() == [3.5, 2.0, 4.0]


def test_categorical_ids_are_ordered_by_label_in_every_engine(tmp_path, dask_scheduler):
    """A categorical with categories ("c", "b", "a"): DuckDB and pandas followed the category
    order, Dask the labels; every engine now orders by label."""
    import dask.dataframe as dd

    df = pd.DataFrame({"u": pd.Categorical(list("bacbca"), categories=["c", "b", "a"]),
                       "y": [4.0, 1.0, 9.0, 6.0, 7.0, 3.0]})
    df.to_parquet(tmp_path / "cat.parquet")
    routes = [unit_quantiles_duckdb(df, "y", "u", [0.5]), unit_quantiles_frame(df, "y", "u", [0.5]),
              unit_quantiles_dask(dd.from_pandas(df, npartitions=2), "y", "u", [0.5]),
              unit_quantiles_duckdb(str(tmp_path / "cat.parquet"), "y", "u", [0.5]),
              unit_quantiles_frame(pd.read_parquet(tmp_path / "cat.parquet"), "y", "u", [0.5])]
    for res in routes:
        assert list(res.units) == ["a", "b", "c"]
        assert res.Q.ravel().tolist() == [2.0, 5.0, 8.0]       # medians of (1, 3), (4, 6), (9, 7)


def test_unit_ids_mixing_numbers_and_text_are_refused_naming_the_column():
    df = pd.DataFrame({"u": pd.array([1, "a", 1, "a"], dtype=object), "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match=r"^unit: column 'u' mixes labels of several types \(int, str\)"):
        unit_quantiles_frame(df, "y", "u", [0.5])


def test_text_is_never_converted_in_any_engine(tmp_path, capsys):
    """DuckDB read "yes"/"no" (and "true"/"false") as booleans and fitted a fuzzy design that the
    API and the pandas engine refuse; numbers stored as text are refused alike."""
    rng = np.random.default_rng(5)
    n = 60
    x = np.linspace(-0.95, 0.95, n)
    base = pd.DataFrame({"u": np.repeat(np.arange(n), 4), "x": np.repeat(x, 4), "y": rng.normal(size=4 * n)})
    for word in (("yes", "no"), ("true", "false"), ("True", "False")):
        df = base.assign(t=np.where(np.repeat(x, 4) >= 0, *word))
        df.to_csv(tmp_path / "t.csv", index=False)
        for engine in ("duckdb", "pandas"):
            rc = main(["fit", str(tmp_path / "t.csv"), "--x", "x", "--y", "y", "--unit", "u", "--treatment", "t",
                       "--boot", "0", "--h", "1", "--engine", engine, "--out", str(tmp_path / "o")])
            err = capsys.readouterr().err
            assert rc == 1 and err.count("\n") == 1 and "error: --treatment: must be numeric" in err, err
    text = base.assign(y=base["y"].map(repr))                 # numbers stored as text in Parquet
    text.to_parquet(tmp_path / "text.parquet")
    for engine in ("duckdb", "pandas"):
        rc = main(["fit", str(tmp_path / "text.parquet"), "--x", "x", "--y", "y", "--unit", "u", "--boot", "0",
                   "--engine", engine, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert rc == 1 and err.startswith("r3d fit: error: --y: column 'y' is not numeric"), err
    # the in-memory API refuses the same treatment
    with pytest.raises(TypeError, match="^treatment: must be numeric"):
        r3d(x, [rng.normal(size=4) for _ in x], treatment=np.where(x >= 0, "yes", "no"), h=1.0)


def _three_engines(path, roles):
    """The median by unit of a CSV file through DuckDB, pandas and Dask (calls to run)."""
    return (lambda: unit_quantiles_duckdb(str(path), "y", "u", [0.5]),
            lambda: unit_quantiles_frame(read_csv_frame(path, ["u", "y"], roles), "y", "u", [0.5]),
            lambda: unit_quantiles_dask(read_csv_dask(path, ["u", "y"], roles), "y", "u", [0.5]))


def test_csv_numbers_follow_one_rule_in_every_engine(tmp_path, dask_scheduler):
    """Empty is missing; "NA", "n/a", "1,5" are text (pandas used to read "NA" as missing)."""
    roles = {"u": ("unit", "unit"), "y": ("number", "y")}
    for bad in ("NA", "n/a", "1,5", "yes"):
        path = tmp_path / "b.csv"
        path.write_text('u,y\n1,0.5\n1,2\n2,"' + bad + '"\n2,1e3\n')
        msgs = []
        for run in _three_engines(path, roles):
            with pytest.raises(ValueError) as exc:
                run()
            msgs.append(str(exc.value))
        assert all(m.startswith(f"y: column 'y' is not numeric (value {bad!r}") for m in msgs), msgs
    path.write_text("u,y\n1,0.5\n1,\n2,3\n")
    assert read_csv_frame(path, ["u", "y"], roles)["y"].isna().sum() == 1
    with pytest.raises(ValueError, match="^y: column 'y' has 1 missing"):
        unit_quantiles_duckdb(str(path), "y", "u", [0.5])
    with pytest.raises(ValueError, match="^y: column 'y' has 1 missing"):
        unit_quantiles_frame(read_csv_frame(path, ["u", "y"], roles), "y", "u", [0.5])
    # a line with an extra field is refused by every engine (pandas with usecols dropped it)
    path.write_text("u,y\n1,0.5\n1,2\n2,1,5\n2,1e3\n")
    for run in _three_engines(path, roles):
        with pytest.raises(ValueError):
            run()
    # decimal forms both readers accept give identical doubles
    path.write_text("u,y\n1,+.5\n1,5.e-1\n1,0.1\n2,-1E+2\n2,1_000\n2,0.30000000000000004\n")
    a = unit_quantiles_duckdb(str(path), "y", "u", Q3)
    b = unit_quantiles_frame(read_csv_frame(path, ["u", "y"], roles), "y", "u", Q3)
    np.testing.assert_array_equal(a.Q, b.Q)
    np.testing.assert_array_equal(a.Q, unit_quantiles([[0.5, 0.5, 0.1], [-100.0, 1000.0, 0.30000000000000004]], Q3))


# ----------------------------------------------------------------------------------------------
# a path that exists is that file
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["data[1].csv", "data*.csv", "d?ta.parquet", "part[2]"])
def test_an_existing_path_with_glob_characters_is_read_literally(tmp_path, capsys, name, dask_scheduler):
    """`data[1].csv` was globbed to `data1.csv` (another file) before the literal file was looked for."""
    mine = pd.DataFrame({"u": [1, 1, 2], "y": [1.0, 3.0, 10.0]})
    other = pd.DataFrame({"u": [1, 2], "y": [100.0, 200.0]})
    for decoy in ("data1.csv", "data2.csv", "data.csv"):
        other.to_csv(tmp_path / decoy, index=False)
    for decoy in ("data.parquet", "dxta.parquet"):
        other.to_parquet(tmp_path / decoy)
    target = tmp_path / name
    if name.endswith(".csv"):
        mine.to_csv(target, index=False)
    elif name.endswith(".parquet"):
        mine.to_parquet(target)
    else:
        target.mkdir()
        mine.to_parquet(target / "a.parquet")
        (tmp_path / "part2").mkdir()
        other.to_parquet(tmp_path / "part2" / "a.parquet")
    assert unit_quantiles_duckdb(str(target), "y", "u", [0.5]).Q.ravel().tolist() == [2.0, 10.0]
    for engine in ("pandas", "dask", "duckdb"):
        out = tmp_path / f"q_{engine}.parquet"
        rc = main(["quantiles", str(target), "--y", "y", "--unit", "u", "--quantiles", "0.5", "--engine", engine,
                   "--scheduler", dask_scheduler, "--out", str(out)])
        assert rc == 0, capsys.readouterr().err
        assert pd.read_parquet(out)["q0.5"].tolist() == [2.0, 10.0], engine
    # a path that does not exist is a pattern (DuckDB), and an unmatched one is named
    res = unit_quantiles_duckdb(str(tmp_path / "data[12].csv"), "y", "u", [0.5])
    assert res.Q.ravel().tolist() == [100.0, 200.0]
    with pytest.raises(FileNotFoundError, match="^data: no file matches the pattern"):
        unit_quantiles_duckdb(str(tmp_path / "nothing*.csv"), "y", "u", [0.5])


# ----------------------------------------------------------------------------------------------
# data in the wrong shape, results without a word
# ----------------------------------------------------------------------------------------------
def _long_frame(seed=6, n=150):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    k = rng.integers(5, 30, n)
    df = pd.DataFrame({"firm": np.repeat(np.arange(n), k), "score": np.repeat(x, k)})
    df["wage"] = rng.normal(df["score"] + (df["score"] >= 0), 1 + (df["score"] >= 0))
    return df


def test_long_format_columns_warn_and_name_data_and_unit():
    df = _long_frame()
    with pytest.warns(UserWarning, match=r"^y: every unit has a single observation.*"
                                         r"r3d\('score', 'wage', data=df, unit=\.\.\.\)"):
        r3d(df.score, df.wage, quantiles=Q3)
    with pytest.warns(UserWarning, match="looks like the columns of a long table"):
        r3d(df.score.to_numpy(), list(df.wage), quantiles=Q3)
    # legitimate designs stay silent: the long table itself, one scalar outcome per unit with a
    # continuous x, and precomputed quantiles (Q=, the route the message names for scalars)
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r3d("score", "wage", data=df, unit="firm", quantiles=Q3)
        r3d(x, x + (x >= 0) + rng.normal(size=300), quantiles=Q3)
        xd = np.round(x, 1)                                   # a discrete x with scalar outcomes:
        yd = xd + (xd >= 0) + rng.normal(size=300)
        r3d(xd, Q=yd[:, None], quantiles=[0.5], h=0.8)        # through Q=, no warning
        r3d(x, [rng.normal(size=2) for _ in x], quantiles=Q3)  # samples of size two


def test_fit_is_equivariant_in_x_like_in_y():
    """|x| near 1e50 or 1e-50 broke the bandwidth pilots (tau off by 3.6, se by a factor 180)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 300)
    y = [rng.normal(1 + xi + (xi >= 0), 1 + 0.5 * (xi >= 0), 40) for xi in x]
    q = np.arange(1, 10) / 10
    base = r3d(x, y, quantiles=q, n_boot=99, seed=1)
    for k in (150, -150, 1000, -1000):
        s = 2.0**k
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            got = r3d(x * s, y, quantiles=q, n_boot=99, seed=1)
        np.testing.assert_allclose(got.tau, base.tau, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(got.se, base.se, rtol=1e-12)
        np.testing.assert_allclose(got.band_upper, base.band_upper, rtol=1e-12, atol=1e-13)
        assert got.h == pytest.approx(base.h * s, rel=1e-14)
        assert got.b["+"] == pytest.approx(base.b["+"] * s, rel=1e-14)
    for s in (1e50, 1e-50):
        got = r3d(x * s, y, quantiles=q, n_boot=99, seed=1)
        np.testing.assert_allclose(got.tau, base.tau, rtol=1e-9, atol=1e-9)
        assert got.h == pytest.approx(base.h * s, rel=1e-9)
    # p = 4 forms x^5 in the bias correction: 1e50^5 overflowed
    a = r3d(x, y, quantiles=q, p=4, h=0.9)
    b = r3d(x * 1e60, y, quantiles=q, p=4, h=0.9e60)
    np.testing.assert_allclose(b.tau, a.tau, rtol=1e-9, atol=1e-9)


def test_messages_print_labels_not_numpy_reprs():
    df = pd.DataFrame({"u": np.repeat(np.arange(3, dtype=np.int64), 2), "x": [0.1, 0.2, -0.3, -0.3, 0.5, 0.5],
                       "y": np.arange(6.0)})
    for run in (lambda: r3d("x", "y", data=df, unit="u"),
                lambda: unit_quantiles_frame(df, "y", "u", [0.5], x="x"),
                lambda: unit_quantiles_duckdb(df, "y", "u", [0.5], x="x")):
        with pytest.raises(ValueError) as exc:
            run()
        assert "it varies in unit(s) [0]" in str(exc.value) and "np." not in str(exc.value)
    zero = pd.DataFrame({"u": ["a", "a", "b"], "y": [1.0, 2.0, 3.0], "w": [0.0, 0.0, 1.0]})
    for engine in (unit_quantiles_frame, unit_quantiles_duckdb):
        with pytest.raises(ValueError, match=r"sums to zero in unit\(s\) \['a'\]$"):
            engine(zero, "y", "u", [0.5], weights="w")


# ----------------------------------------------------------------------------------------------
# engines agree by construction: a property test over random long data
# ----------------------------------------------------------------------------------------------
SETTINGS = dict(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
WEIGHTS = [0.0, 1e-300, 1e-5, 1.0, 2.5, 1e300]
STR_IDS = ["007", "7", "a", "B", "b", "10", "9", "-3", "x y", "é", "Z1", "z", "00", "0", "1e3", "7.0",
           "q", "r", "s", "t", "u", "v", "w", "xx"]


@st.composite
def long_data(draw):
    n_left = draw(st.integers(7, 11))
    n_right = draw(st.integers(7, 11))
    n = n_left + n_right
    kind = draw(st.sampled_from(["str", "int", "cat"]))
    if kind == "int":
        ids = draw(st.lists(st.integers(-10**12, 10**12), min_size=n, max_size=n, unique=True))
    else:
        ids = draw(st.permutations(STR_IDS))[:n]
        if all(s.lstrip("-").isdigit() and (s == "0" or not s.lstrip("-").startswith("0")) for s in ids):
            ids[0] = "a"                                      # text ids (not all plain integers)
    x = np.concatenate([-np.linspace(0.05, 0.95, n_left), np.linspace(0.0, 0.9, n_right)])
    sizes = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    N = int(sum(sizes))
    scale = draw(st.sampled_from([1.0, 1e-300, 1e300]))
    # y from a few values: ties within and across units
    y = np.array(draw(st.lists(st.sampled_from([-1.5, 0.0, 0.5, 0.5000000000000001, 2.0, 3.25]),
                               min_size=N, max_size=N))) * scale
    weighted = draw(st.booleans())
    w = np.array(draw(st.lists(st.sampled_from(WEIGHTS), min_size=N, max_size=N)))
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    w[first] = np.where(w[first] > 0, w[first], 1.0)          # every unit keeps a positive weight
    unit = np.repeat(np.array(ids, dtype=object), sizes)
    df = pd.DataFrame({"unit": unit, "x": np.repeat(x, sizes), "y": y + np.repeat(x >= 0, sizes), "w": w})
    if kind == "int":
        df["unit"] = df["unit"].astype(np.int64)
    if kind == "cat":
        df["unit"] = pd.Categorical(df["unit"], categories=list(reversed(ids)))
    perm = draw(st.permutations(range(N)))
    method = draw(st.sampled_from(["linear", "inverted_cdf"]))
    fmt = draw(st.sampled_from(["csv", "parquet"]))
    return df.iloc[list(perm)].reset_index(drop=True), weighted, method, fmt


def _in_memory(df, weighted, method, q):
    """The Python API: samples in file order, units sorted by label."""
    vals = df["unit"].astype(object).to_numpy() if isinstance(df["unit"].dtype, pd.CategoricalDtype) \
        else df["unit"].to_numpy()
    labels = sorted(set(vals.tolist()))
    ys = [df["y"].to_numpy()[vals == u] for u in labels]
    ws = [df["w"].to_numpy()[vals == u] for u in labels] if weighted else None
    xs = np.array([df["x"].to_numpy()[vals == u][0] for u in labels])
    return labels, xs, unit_quantiles(ys, q, weights=ws, method=method)


@settings(**SETTINGS)
@given(long_data())
def test_every_engine_and_the_command_line_equal_the_api(tmp_path_factory, dask_scheduler, d):
    import dask.dataframe as dd

    df, weighted, method, fmt = d
    folder = tmp_path_factory.mktemp("routes")
    q = np.array(Q3)
    labels, xs, Q = _in_memory(df, weighted, method, q)
    scale = float(np.abs(Q).max())
    csv, pq = folder / "long.csv", folder / "long.parquet"
    df.to_csv(csv, index=False)
    df.to_parquet(pq)
    kw = dict(weights="w" if weighted else None, x="x", method=method)
    roles = {"unit": ("unit", "unit"), "y": ("number", "y"), "x": ("number", "x"), "w": ("number", "weights")}
    routes = {
        "duckdb csv": unit_quantiles_duckdb(str(csv), "y", "unit", q, **kw),
        "duckdb parquet": unit_quantiles_duckdb(str(pq), "y", "unit", q, **kw),
        "duckdb frame": unit_quantiles_duckdb(df, "y", "unit", q, **kw),
        "pandas csv": unit_quantiles_frame(read_csv_frame(csv, list(df.columns), roles), "y", "unit", q, **kw),
        "pandas parquet": unit_quantiles_frame(pd.read_parquet(pq), "y", "unit", q, **kw),
        "dask csv": relabel_csv_result(unit_quantiles_dask(read_csv_dask(csv, list(df.columns), roles),
                                                           "y", "unit", q, **kw), "unit"),
        "dask parquet": unit_quantiles_dask(dd.read_parquet(str(pq)), "y", "unit", q, **kw),
    }
    for name, res in routes.items():
        assert list(res.units) == labels, name
        np.testing.assert_allclose(res.Q, Q, rtol=1e-13, atol=1e-13 * scale, err_msg=name)
        np.testing.assert_array_equal(res.x, xs, err_msg=name)
        assert (np.diff(res.Q, axis=1) >= 0).all(), name
    # `r3d fit` on the drawn format with every engine equals r3d on the API's quantiles
    api = r3d(xs, Q=Q, quantiles=q, h=1.0, n_boot=30, seed=3)
    data = csv if fmt == "csv" else pq
    for engine in ("duckdb", "pandas", "dask"):
        out = folder / f"fit_{engine}"
        argv = ["fit", str(data), "--x", "x", "--y", "y", "--unit", "unit", "--quantiles", "0.25,0.5,0.75",
                "--quantile-method", method, "--h", "1", "--boot", "30", "--seed", "3", "--engine", engine,
                "--scheduler", dask_scheduler, "--no-progress", "--out", str(out)]
        if weighted:
            argv += ["--weights", "w"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                  # few units: bandwidth notes are not the point
            assert main(argv) == 0, engine
        eff = pd.read_csv(out / "effect.csv")
        for col in ("tau", "se", "band_lower", "band_upper"):
            np.testing.assert_allclose(eff[col].to_numpy(), getattr(api, col), rtol=1e-10,
                                       atol=1e-10 * scale, err_msg=f"{engine} {col}")
