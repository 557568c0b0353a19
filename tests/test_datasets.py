"""Tests of r3d_teach.datasets on tiny fake files in the real formats, written inside the tests.

Never touches the network (pooch.retrieve is replaced by a function that fails the test) and
never reads the user's cache (R3D_TEACH_DATA points to a temporary folder).  Expected numbers
are worked out by hand from the fake data in the comments next to them.
"""
from __future__ import annotations

import importlib.util
import time
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

pyreadr = pytest.importorskip("pyreadr")

from r3d_teach import datasets as ds  # noqa: E402
from r3d_teach.datasets import DataNotAvailableError, SyntheticDataWarning  # noqa: E402

# The real file's object and columns (application_data.md §2.1): 20 columns, the last five are
# county-lifespan fields whose exact names we do not rely on.
RDATA_OBJECT = "gov_elections_release"
REAL_FILE_NAME = "dataverse_shareable_gubernatorial_county_returns_1865_2020.Rdata"
REAL_COLUMNS = [
    "election_id", "election_year", "fips", "county_name", "state", "sfips", "office",
    "election_type", "seat_status", "democratic_raw_votes", "dem_nominee",
    "republican_raw_votes", "rep_nominee", "gov_raw_county_vote_totals_two_party",
    "raw_county_vote_totals",
]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Empty private cache, offline switch on, and any download attempt fails the test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("R3D_TEACH_DATA", str(cache))
    monkeypatch.delenv("R3D_TEACH_DATA_DIR", raising=False)
    monkeypatch.setenv("R3D_TEACH_OFFLINE", "1")
    import pooch

    def _no_network(*args, **kwargs):  # pragma: no cover - must never run
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(pooch, "retrieve", _no_network)
    return cache


# ---------------------------------------------------------------------------------------------
# fake election file
# ---------------------------------------------------------------------------------------------
def _county_rows() -> pd.DataFrame:
    rows = [
        # state, year, D, R, total
        ("CT", 1990, 100.0, 80.0, 300.0),  # Weicker year: D 160, R 180, total 530
        ("CT", 1990, 50.0, 90.0, 200.0),
        ("CT", 1990, 10.0, 10.0, 30.0),
        ("CA", 1990, 600.0, 500.0, 1120.0),  # D 1000, R 955, total 1995
        ("CA", 1990, 400.0, 450.0, 870.0),
        ("CA", 1990, np.nan, 5.0, 5.0),  # missing D in one county counts as 0
        ("NH", 1990, 30.0, 40.0, 70.0),  # D 50, R 70
        ("NH", 1990, 20.0, 30.0, 50.0),
        ("TX", 1990, 500.0, 0.0, 510.0),  # uncontested: dropped by default
        ("LA", 1991, 70.0, 60.0, 130.0),
        ("ME", 2010, 19.0, 38.0, 100.0),  # Cutler second: other 43 > D 19
        ("CA", 1982, 10.0, 20.0, 30.0),  # outside 1984-2010
    ]
    df = pd.DataFrame(rows, columns=["state", "election_year", "democratic_raw_votes", "republican_raw_votes", "raw_county_vote_totals"])
    fips = {"CT": 9, "CA": 6, "NH": 33, "TX": 48, "LA": 22, "ME": 23}
    df["election_id"] = df["election_year"].astype(str) + " " + df["state"]
    df["fips"] = [fips[s] * 1000 + i for i, s in enumerate(df["state"])]
    df["county_name"] = [f"County {i}" for i in range(len(df))]
    df["sfips"] = df["state"].map(fips).astype(float)  # R numeric
    df["office"] = "GOV"
    df["election_type"] = "G"
    df["seat_status"] = "Open Seat"
    df["dem_nominee"] = "Dem " + df["state"]
    df["rep_nominee"] = "Rep " + df["state"]
    df["gov_raw_county_vote_totals_two_party"] = df["democratic_raw_votes"].fillna(0) + df["republican_raw_votes"]
    df["election_year"] = df["election_year"].astype(float)
    df["state"] = pd.Categorical(df["state"])  # R factors come back as categoricals
    df["county_lifespan_start"] = 1865.0
    extra = pd.DataFrame(  # a primary row: not a general election, must be ignored
        {"state": ["CA"], "election_year": [1990.0], "democratic_raw_votes": [1e6], "republican_raw_votes": [1.0],
         "raw_county_vote_totals": [1e6 + 1], "election_type": ["P"], "office": ["GOV"], "sfips": [6.0]}
    )
    df = pd.concat([df, extra], ignore_index=True)
    return df[REAL_COLUMNS + ["county_lifespan_start"]]


def _write_rdata(path) -> None:
    pyreadr.write_rdata(str(path), _county_rows(), df_name=RDATA_OBJECT)


def test_pyreadr_roundtrip_keeps_real_object_and_columns(tmp_path):
    path = tmp_path / REAL_FILE_NAME
    _write_rdata(path)
    back = pyreadr.read_r(str(path))
    assert list(back) == [RDATA_OBJECT]
    assert list(back[RDATA_OBJECT].columns) == REAL_COLUMNS + ["county_lifespan_start"]
    county = ds.read_county_returns(path)
    assert len(county) == 13
    assert not isinstance(county["state"].dtype, pd.CategoricalDtype)  # factor -> strings
    with pytest.raises(ValueError, match="object_name"):
        ds.read_county_returns(path, object_name="nope")


def test_state_aggregation_shares_and_flags(tmp_path):
    path = tmp_path / REAL_FILE_NAME
    _write_rdata(path)
    st = ds.state_elections(ds.read_county_returns(path)).set_index(["state", "year"])
    # TX uncontested and CA 1982 out of range; the CA primary row is not a general election.
    assert sorted(st.index) == [("CA", 1990), ("CT", 1990), ("LA", 1991), ("ME", 2010), ("NH", 1990)]
    ca, ct, nh = st.loc[("CA", 1990)], st.loc[("CT", 1990)], st.loc[("NH", 1990)]
    assert (ca.dem_votes, ca.rep_votes, ca.total_votes, ca.other_votes) == (1000, 955, 1995, 40)
    assert ca.dem_share == pytest.approx(1000 / 1955)
    assert bool(ca.dem_win) and ca.winner_party == "D" and not ca.no_majority  # 1000 > 1995 / 2
    assert ca.n_counties == 3 and ca.state_fips == 6
    assert (ct.dem_votes, ct.rep_votes, ct.total_votes) == (160, 180, 530)
    assert ct.dem_share == pytest.approx(160 / 340)
    assert ct.non_dr_winner and ct.top_two_not_dr and ct.winner_party == "I"
    assert ct.other_exceeds_trailing and ct.no_majority  # other 190 > 160; 180 <= 265
    assert nh.dem_share == pytest.approx(50 / 120) and not nh.dem_win and nh.winner_party == "R"
    me = st.loc[("ME", 2010)]
    assert me.top_two_not_dr and not me.non_dr_winner and me.other_exceeds_trailing
    assert st.loc[("LA", 1991)].louisiana_system and not ca.louisiana_system
    assert st["non_dr_winner"].sum() == 1


def test_state_elections_options_and_errors(tmp_path):
    path = tmp_path / REAL_FILE_NAME
    _write_rdata(path)
    county = ds.read_county_returns(path)
    allrows = ds.state_elections(county, years=None, contested_only=False)
    assert set(zip(allrows.state, allrows.year)) >= {("TX", 1990), ("CA", 1982)}
    assert allrows.set_index(["state", "year"]).loc[("TX", 1990)].dem_share == 1.0
    with pytest.raises(ValueError, match="years"):
        ds.state_elections(county, years=(2010, 1984))
    with pytest.raises(ValueError, match="democratic_raw_votes"):
        ds.state_elections(county.drop(columns="democratic_raw_votes"))


def test_known_non_dr_races_listed():
    assert set(ds.NON_DR_WINNERS) == {("CT", 1990), ("ME", 1994), ("ME", 1998), ("MN", 1998), ("RI", 2010)}
    assert set(ds.NON_DR_WINNERS) < set(ds.TOP_TWO_NOT_DR)


def test_missing_election_file_explains_how_to_fetch(_isolated):
    with pytest.raises(DataNotAvailableError) as err:
        ds.load_elections()
    msg = str(err.value)
    assert "fetch_elections(download=True)" in msg and str(_isolated) in msg and "R3D_TEACH_DATA" in msg
    with pytest.raises(DataNotAvailableError, match="switched off"):
        ds.fetch_elections(download=True)  # offline switch: refused before any network call


def test_load_elections_from_cache(_isolated):
    _isolated.mkdir()
    _write_rdata(_isolated / REAL_FILE_NAME)
    el = ds.load_elections()
    assert len(el) == 5 and "Algara" in el.attrs["source"]


# ---------------------------------------------------------------------------------------------
# fake CPS CSV zip (2019 on)
# ---------------------------------------------------------------------------------------------
def _write_csv_zip(path, yy: str = "19") -> None:
    hh = pd.DataFrame({"H_SEQ": [1, 2, 3], "H_YEAR": 2000 + int(yy), "GESTFIPS": [6, 33, 6], "HSUP_WGT": [100000, 200000, 300000]})
    fam = pd.DataFrame(
        {
            "FH_SEQ": [1, 1, 2, 3, 3],
            "FFPOS": [1, 2, 1, 1, 2],
            "FKIND": [1, 1, 2, 3, 1],
            "FTYPE": [1, 3, 2, 5, 4],
            "FPERSONS": [4, 2, 1, 1, 3],
            "FTOTVAL": [52000, 9000, -1000, 0, 30000],
            "FPOVCUT": [26000, 18000, 12500, 0, 20000],
            "FSUP_WGT": [123456, 99900, 50000, 70000, 0],
            "FAMLIS": [3, 1, 1, 1, 2],
        }
    )
    per = pd.DataFrame({"PH_SEQ": [1, 1, 2], "PF_SEQ": [1, 2, 1], "A_AGE": [40, 12, 70], "MARSUPWT": [1, 2, 3]})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"hhpub{yy}.csv", hh.to_csv(index=False))
        z.writestr(f"ffpub{yy}.csv", fam.to_csv(index=False))
        z.writestr(f"pppub{yy}.csv", per.to_csv(index=False))


def test_csv_zip_families(tmp_path):
    path = tmp_path / "asecpub19csv.zip"
    _write_csv_zip(path)
    fam = ds.read_asec_csv_zip(path)
    assert list(fam.columns) == ds.FAMILY_COLUMNS
    # kept: (1,1) CA 52000/26000 = 2, weight 1234.56; (2,1) NH -1000/12500 = -0.08, weight 500.
    # dropped: related subfamily (1,2), zero threshold (3,1), zero weight (3,2).
    assert fam["survey_year"].tolist() == [2019, 2019] and fam["income_year"].tolist() == [2018, 2018]
    assert fam["state"].tolist() == ["CA", "NH"] and fam["state_fips"].tolist() == [6, 33]
    assert fam["ratio"].tolist() == pytest.approx([2.0, -0.08])
    assert fam["weight"].tolist() == pytest.approx([1234.56, 500.0])
    full = ds.read_asec_csv_zip(path, drop_related_subfamilies=False)
    assert full["ratio"].tolist() == pytest.approx([2.0, 0.5, -0.08])  # 9000 / 18000
    assert full["family_id"].tolist() == ["1-1", "1-2", "2-1"]


def test_csv_zip_errors(tmp_path):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hhpub19.csv", "H_SEQ,GESTFIPS\n1,6\n")
    with pytest.raises(ValueError, match="ffpub"):
        ds.read_asec_csv_zip(path)
    path2 = tmp_path / "orphan.zip"
    with zipfile.ZipFile(path2, "w") as z:
        z.writestr("hhpub19.csv", "H_SEQ,GESTFIPS\n1,6\n")
        z.writestr("ffpub19.csv", "FH_SEQ,FTOTVAL,FPOVCUT,FSUP_WGT\n7,1,1,100\n")
    with pytest.raises(ValueError, match="no matching household"):
        ds.read_asec_csv_zip(path2)


# ---------------------------------------------------------------------------------------------
# fake hierarchical fixed-width file + dictionary (positions of the real 2010 March file)
# ---------------------------------------------------------------------------------------------
DD_TEXT = """\
HOUSEHOLD RECORD
D HRECORD     1      1
     Record type
V          1 .Household
D H-SEQ       5      2
D GESTFIPS    2     42
     State FIPS code
D HSUP-WGT    8    287
FAMILY RECORD
D FRECORD     1      1
D FH-SEQ      5      2
D FFPOS       2      7
D FKIND       1      9
D FTYPE       1     10
D FPERSONS    2     11
D FPOVCUT     5     32
D FTOTVAL     8    205
D FSUP-WGT    8    233
PERSON RECORD
D PRECORD     1      1
D PH-SEQ      5      2
"""

SAS_TEXT = """\
INPUT @1 rectype 1. @;
if rectype = 1 then do;
INPUT
@1    hrecord          1.
@2    h_seq            5.
@42   gestfips         2.
@287  hsup_wgt        8.2
;
end;
else if rectype = 2 then do;
INPUT
@1    frecord          1.
@2    fh_seq           5.
@7    ffpos            2.
@9    fkind            1.
@10   ftype            1.
@11   fpersons         2.
@32   fpovcut          5.
@205  ftotval          8.
@233  fsup_wgt        8.2
;
end;
else if rectype = 3 then do;
INPUT
@1    precord          1.
@2    ph_seq           5.
"""


def _record(width: int, fields: dict[int, tuple[int, object]]) -> str:
    """A fixed-width line: fields {begin: (width, value)}, numbers right-justified, '0' filler."""
    line = ["0"] * width
    for begin, (w, value) in fields.items():
        text = str(value).rjust(w)
        assert len(text) == w
        line[begin - 1 : begin - 1 + w] = list(text)
    return "".join(line)


def _hh(seq, fips):
    return _record(400, {1: (1, 1), 2: (5, f"{seq:05d}"), 42: (2, f"{fips:02d}"), 287: (8, 12345678)})


def _fam(seq, pos, ftype, persons, povcut, totval, wgt):
    return _record(300, {1: (1, 2), 2: (5, f"{seq:05d}"), 7: (2, f"{pos:02d}"), 9: (1, 1), 10: (1, ftype),
                         11: (2, persons), 32: (5, povcut), 205: (8, totval), 233: (8, wgt)})


def _per(seq):
    return _record(800, {1: (1, 3), 2: (5, f"{seq:05d}")})


def _fixed_width_lines():
    return [
        _hh(17, 6), _fam(17, 1, 1, 3, 20000, 60000, 150000), _fam(17, 2, 3, 2, 15000, 7500, 80000),
        _per(17), _per(17),
        _hh(18, 50), _fam(18, 1, 2, 1, 11000, -550, 123400), _per(18),
        _hh(19, 50),  # household without family records
    ]


@pytest.mark.parametrize("dictionary", [DD_TEXT, SAS_TEXT], ids=["D-lines", "SAS"])
@pytest.mark.parametrize("container", ["dat", "zip"])
def test_fixed_width_families(tmp_path, dictionary, container):
    lines = "\n".join(_fixed_width_lines()) + "\n"
    if container == "zip":
        data = tmp_path / "cpsmar10.zip"
        with zipfile.ZipFile(data, "w") as z:
            z.writestr("readme.txt", "documentation, not data")
            z.writestr("cpsmar10.dat", lines)
    else:
        data = tmp_path / "asec2012_pubuse.dat"
        data.write_text(lines)
    dd = tmp_path / "dict.txt"
    dd.write_text(dictionary)
    fam = ds.read_asec_fixed_width(data, dd, 2010)
    # CA: 60000 / 20000 = 3, weight 150000 / 100 = 1500; VT: -550 / 11000 = -0.05, weight 1234.
    assert fam["state"].tolist() == ["CA", "VT"]
    assert fam["ratio"].tolist() == pytest.approx([3.0, -0.05])
    assert fam["weight"].tolist() == pytest.approx([1500.0, 1234.0])
    assert fam["persons"].tolist() == [3, 1] and fam["survey_year"].tolist() == [2010, 2010]
    full = ds.read_asec_fixed_width(data, dd, 2010, drop_related_subfamilies=False)
    assert full["ratio"].tolist() == pytest.approx([3.0, 0.5, -0.05])  # 7500 / 15000


def test_parse_dictionary_sections():
    lay = ds.parse_dictionary(DD_TEXT)
    assert list(lay) == ["household", "family", "person"]
    assert lay["household"]["GESTFIPS"] == (42, 2) and lay["family"]["FSUP_WGT"] == (233, 8)
    assert ds.parse_dictionary(SAS_TEXT)["family"] == {k: v for k, v in lay["family"].items()}
    with pytest.raises(ValueError, match="no 'D NAME"):
        ds.parse_dictionary("nothing useful here")


def test_fixed_width_sequence_mismatch(tmp_path):
    data = tmp_path / "x.dat"
    data.write_text("\n".join([_hh(1, 6), _fam(2, 1, 1, 1, 100, 100, 100)]) + "\n")
    with pytest.raises(ValueError, match="another H_SEQ"):
        ds.read_asec_fixed_width(data, ds.parse_dictionary(DD_TEXT), 2010)


# ---------------------------------------------------------------------------------------------
# IPUMS extract
# ---------------------------------------------------------------------------------------------
def test_ipums_csv_extract(tmp_path):
    path = tmp_path / "cps_00001.csv"
    pd.DataFrame(
        {
            "YEAR": [2005, 2005, 2005, 2005, 2006],
            "SERIAL": [1, 1, 2, 2, 1],
            "PERNUM": [1, 2, 1, 2, 1],
            "FAMUNIT": [1, 1, 1, 2, 1],
            "STATEFIP": [6, 6, 36, 36, 50],
            "OFFTOTVAL": [40000, 40000, 9000, 30000, 10000],
            "OFFCUTOFF": [20000, 20000, 10000, 999999, 8000],
            "ASECWTH": [1000.5, 1000.5, 800.0, 800.0, 10.0],
        }
    ).to_csv(path, index=False)
    fam = ds.read_ipums_extract(path)
    # families: (2005,1,1) CA 2.0; (2005,2,1) NY 0.9; (2005,2,2) NIU threshold -> dropped; (2006,1,1) VT 1.25
    assert fam["state"].tolist() == ["CA", "NY", "VT"]
    assert fam["ratio"].tolist() == pytest.approx([2.0, 0.9, 1.25])
    assert fam["weight"].tolist() == pytest.approx([1000.5, 800.0, 10.0])
    assert fam["survey_year"].tolist() == [2005, 2005, 2006]
    with pytest.raises(ValueError, match="OFFCUTOFF"):
        pd.DataFrame({"YEAR": [2005], "SERIAL": [1], "STATEFIP": [6]}).to_csv(path, index=False)
        ds.read_ipums_extract(path)


@pytest.mark.skipif(importlib.util.find_spec("ipumspy") is not None, reason="ipumspy installed")
def test_ipums_fixed_width_needs_ipumspy(tmp_path):
    with pytest.raises(ImportError, match="pip install ipumspy"):
        ds.read_ipums_extract(tmp_path / "cps_00001.dat.gz", ddi=tmp_path / "cps_00001.xml")


# ---------------------------------------------------------------------------------------------
# timing, winsorising, weights and the builder
# ---------------------------------------------------------------------------------------------
def test_outcome_years_offsets():
    el = pd.DataFrame({"state": ["NH", "VT", "CA", "nh"], "year": [1990, 2004, 1990, 1986]})
    out = ds.outcome_years(el)
    assert out["outcome_year"].tolist() == [1991, 2005, 1993, 1987]
    assert out["survey_year"].tolist() == [1992, 2006, 1994, 1988]
    survey = ds.outcome_years(el, cps_year="survey", offset=0, nh_vt_offset=0)
    assert survey["survey_year"].tolist() == [1990, 2004, 1990, 1986]
    with pytest.raises(ValueError, match="cps_year"):
        ds.outcome_years(el, cps_year="calendar")
    with pytest.raises(ValueError, match="offset"):
        ds.outcome_years(el, offset=-1)


def test_weighted_quantiles_by_hand():
    d = pd.DataFrame({"unit": ["b", "b", "b", "a", "a"], "y": [3.0, 1.0, 2.0, 5.0, 7.0], "w": [0.5, 0.25, 0.25, 1.0, 3.0]})
    # unit b sorted: 1 (F=.25), 2 (.5), 3 (1); unit a: 5 (.25), 7 (1)
    q = ds.weighted_unit_quantiles(d, [0.0, 0.25, 0.3, 0.5, 0.51, 1.0])
    assert q.loc["b"].tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    assert q.loc["a"].tolist() == [5.0, 5.0, 7.0, 7.0, 7.0, 7.0]
    rng = np.random.default_rng(3)
    e = pd.DataFrame({"unit": "u", "y": rng.normal(size=101), "w": 1.0})
    qs = np.linspace(0.001, 0.999, 37)
    ours = ds.weighted_unit_quantiles(e, qs).loc["u"].to_numpy()
    assert ours == pytest.approx(np.quantile(e["y"], qs, method="inverted_cdf"))
    with pytest.raises(ValueError, match="weights"):
        ds.weighted_unit_quantiles(e.assign(w=-1.0), qs)


def test_paper_grid():
    g = ds.paper_grid()
    assert len(g) == 95 and g[0] == 1e-6 and g[-1] == pytest.approx(0.950001, abs=1e-12)
    assert np.diff(g) == pytest.approx(np.full(94, 0.95 / 94))
    assert not ds.PAPER_GRID.flags.writeable
    assert ds.PAPER_SPEC["p"] == 2 and ds.PAPER_SPEC["alpha"] == 0.10 and ds.PAPER_SPEC["n_boot"] == 5000


def _hand_elections():
    return pd.DataFrame(
        {
            "state": ["CA", "NH", "VT"],
            "state_fips": [6, 33, 50],
            "year": [1990, 1990, 1990],
            "dem_share": [0.6, 0.45, 0.55],
            "dem_win": [True, False, True],
            "non_dr_winner": [False, False, True],
        }
    )


def _hand_families():
    ca94 = pd.DataFrame({"state_fips": 6, "survey_year": 1994, "ratio": np.arange(1.0, 21.0), "weight": 2.0})
    ca93 = pd.DataFrame({"state_fips": 6, "survey_year": 1993, "ratio": [100.0, 200.0], "weight": 1.0})
    nh92 = pd.DataFrame({"state_fips": 33, "survey_year": 1992, "ratio": [1.0, 2.0, 3.0, 10.0], "weight": [1.0, 1.0, 1.0, 0.1]})
    return pd.concat([ca94, ca93, nh92], ignore_index=True)


def test_build_timing_weights_and_winsorising():
    df = ds.build_governors_income(_hand_elections(), _hand_families())
    assert list(df.columns) == ds.OUTPUT_COLUMNS
    ca, nh = df[df.unit == "CA-1990"], df[df.unit == "NH-1990"]
    # CA: income year 1993 -> March 1994 CPS; 20 equal weights, cap = 19 (F(19) = 19/20 = 0.95)
    assert ca["outcome_year"].unique().tolist() == [1993]
    assert ca["y"].tolist() == list(np.arange(1.0, 20.0)) + [19.0]
    assert ca["w"].tolist() == [2.0] * 20 and ca["x"].unique().tolist() == [0.6]
    assert ca["dem_win"].unique().tolist() == [1]
    # NH: income year 1991 -> March 1992; weights 1,1,1,.1: F(3) = 3/3.1 = .968 >= .95 -> cap 3
    assert nh["outcome_year"].unique().tolist() == [1991]
    assert nh["y"].tolist() == [1.0, 2.0, 3.0, 3.0]
    assert df.attrs["units_without_families"] == ["VT-1990"]
    # equal weights would give cap 10 for NH (F(3) = .75 < .95): weights matter
    eq = ds.build_governors_income(_hand_elections(), _hand_families().assign(weight=1.0))
    assert eq[eq.unit == "NH-1990"]["y"].tolist() == [1.0, 2.0, 3.0, 10.0]
    raw = ds.build_governors_income(_hand_elections(), _hand_families(), winsor=None)
    assert raw[raw.unit == "CA-1990"]["y"].max() == 20.0


def test_build_survey_year_convention_and_filters():
    df = ds.build_governors_income(_hand_elections(), _hand_families(), cps_year="survey")
    # survey convention: CA 1990 + 3 = March 1993 CPS; NH 1990 + 1 = March 1991 (absent)
    assert df.unit.unique().tolist() == ["CA-1990"]
    assert sorted(df["y"]) == [100.0, 200.0]  # 2 equal weights: cap = 200 (F(100) = .5)
    el = _hand_elections()
    el.loc[0, "non_dr_winner"] = True
    kept = ds.build_governors_income(el, _hand_families(), drop_non_dr_winners=True)
    assert kept.unit.unique().tolist() == ["NH-1990"]
    with pytest.raises(ValueError, match="dem_share"):
        ds.build_governors_income(el.drop(columns="dem_share"), _hand_families())
    with pytest.raises(ValueError, match="ratio"):
        ds.build_governors_income(el, _hand_families().drop(columns="ratio"))


# ---------------------------------------------------------------------------------------------
# the synthetic replica
# ---------------------------------------------------------------------------------------------
_SYNTHETIC_CACHE: dict = {}


def _synthetic(seed=0, effect=True):
    """Build (once per seed and variant) the replica; tests only read it."""
    key = (seed, effect)
    if key not in _SYNTHETIC_CACHE:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntheticDataWarning)
            _SYNTHETIC_CACHE[key] = ds.synthetic_governors_income(seed, effect=effect)
    return _SYNTHETIC_CACHE[key]


def test_synthetic_is_labelled_everywhere():
    with pytest.warns(SyntheticDataWarning, match="SYNTHETIC DATA"):
        df = ds.governors_income("synthetic", seed=0)
    assert (df["source"] == "synthetic").all()
    assert df.attrs["source"] == "synthetic" and "not evidence" in df.attrs["banner"]
    assert list(df.columns) == ds.OUTPUT_COLUMNS


def test_synthetic_reproducible_fast_and_sized():
    t0 = time.perf_counter()
    a = ds.synthetic_governors_income(7, warn=False)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0
    pd.testing.assert_frame_equal(a, ds.synthetic_governors_income(7, warn=False))
    assert not a["y"].equals(_synthetic(0)["y"])
    units = ds.unit_table(a)
    assert len(units) == 357 and len(a) < 300_000
    assert units["n_families"].between(200, 2000).all()
    assert units["state"].nunique() == 49 and "AK" not in set(units["state"])
    assert (units["state"].isin(["NH", "VT"])).sum() == 28
    short = units[units.state.isin(["NH", "VT"])]
    assert (short.outcome_year - short.year == 1).all()
    assert (units[~units.state.isin(["NH", "VT"])].eval("outcome_year - year") == 3).all()


def test_synthetic_running_variable_calibration():
    units = ds.unit_table(_synthetic(0))
    d = units["x"] - 0.5
    # Algara-Amlani 1984-2010: 61 / 143 / 203 / 235 / 331 of 357 within 0.02 / .05 / .083 / .10 / .22
    counts = [int((d.abs() < h).sum()) for h in (0.02, 0.05, 0.083, 0.10, 0.22)]
    for got, want in zip(counts, [61, 143, 203, 235, 331]):
        assert abs(got - want) <= 6
    assert units["x"].mean() == pytest.approx(0.4955, abs=0.01)
    assert units["x"].std() == pytest.approx(0.1155, abs=0.01)
    assert 150 <= units["dem_win"].sum() <= 185  # real: 168
    assert ((units["x"] > 0.5) == (units["dem_win"] == 1)).all()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("effect", [True, False])
def test_synthetic_income_quantiles_calibration(effect, seed):
    df = _synthetic(seed, effect)
    q = ds.weighted_unit_quantiles(df, [0.25, 0.5, 0.9, 0.95]).mean()
    # targets: mean within-state quantiles p25 1.25, p50 2.64, p90 6.61, p95 8.55 poverty lines
    assert q.iloc[0] == pytest.approx(1.25, abs=0.1)
    assert q.iloc[1] == pytest.approx(2.64, abs=0.15)
    assert q.iloc[2] == pytest.approx(6.61, abs=0.3)
    assert q.iloc[3] == pytest.approx(8.55, abs=0.4)
    # winsorised at each unit's weighted 95th percentile
    caps = ds.weighted_unit_quantiles(df, [0.95])[0.95]
    assert (df.groupby("unit")["y"].max() <= caps + 1e-12).all()


def test_true_effect_shape():
    tau = ds.true_effect()
    g = ds.PAPER_GRID
    assert tau.shape == (95,)
    assert np.all(tau[g <= 0.05] == 0.5)
    assert np.all(tau[(g >= 0.85)] == -1.5)
    assert -0.70 < tau.mean() < -0.60  # paper: average -0.647
    assert np.all(np.diff(tau) <= 0)
    assert np.all(ds.true_effect(effect=False) == 0)
    df = _synthetic(0)
    assert df.attrs["true_effect"] == pytest.approx(tuple(tau))
    # every treated unit's quantile function stays non-decreasing: Q0 + tau has no dips
    fine = np.linspace(0, 1, 2001)
    for s in (0.6, 1.0, 1.6):
        assert np.all(np.diff(s * ds.baseline_quantile(fine) + ds.true_effect(fine)) >= -1e-9)


def _local_linear_jump(df, h=0.15):
    """Triangular-kernel local linear fit of unit quantiles on each side of 0.5 (test oracle)."""
    q = ds.weighted_unit_quantiles(df, ds.PAPER_GRID)
    x = ds.unit_table(df).set_index("unit").loc[q.index, "x"].to_numpy() - 0.5
    fits = []
    for side in (x >= 0, x < 0):
        m = side & (np.abs(x) < h)
        sw = np.sqrt(1 - np.abs(x[m]) / h)[:, None]
        design = np.c_[np.ones(m.sum()), x[m]]
        fits.append(np.linalg.lstsq(design * sw, q.to_numpy()[m] * sw, rcond=None)[0][0])
    return fits[0] - fits[1]


def test_synthetic_effect_recovered_in_shape():
    jump = _local_linear_jump(_synthetic(0, True))
    assert jump[:5].mean() > 0.3  # truth +0.5
    assert jump[85:].mean() < -0.8  # truth -1.5
    assert -1.0 < jump.mean() < -0.3  # truth -0.643
    null = _local_linear_jump(_synthetic(0, False))
    assert abs(null[85:].mean()) < 0.7 and abs(null.mean()) < 0.35


# ---------------------------------------------------------------------------------------------
# the front door
# ---------------------------------------------------------------------------------------------
def test_governors_income_argument_errors():
    with pytest.raises(ValueError, match="source"):
        ds.governors_income("cq")
    with pytest.raises(ValueError, match="winsor"):
        ds.governors_income("synthetic", winsor=1.5)
    with pytest.raises(ValueError, match="ipums_path"):
        ds.governors_income("ipums")
    with pytest.raises(ValueError, match="effect"):
        ds.governors_income("synthetic", effect="paper")
    with pytest.raises(ValueError, match="noise"):
        ds.synthetic_governors_income(0, noise=-1.0, warn=False)
    with pytest.raises(DataNotAvailableError, match="fetch_elections"):
        ds.governors_income("census")


def test_auto_falls_back_to_synthetic_with_warning(_isolated):
    with pytest.warns(SyntheticDataWarning, match="No real analysis table"):
        df = ds.governors_income()
    assert df.attrs["source"] == "synthetic"
    assert not _isolated.exists()  # nothing written, nothing downloaded
    table = ds.available_sources().set_index("source")
    assert bool(table.loc["synthetic", "available"]) and not table.loc["census", "available"]
    assert not _isolated.exists()


def test_census_route_end_to_end_from_cache(_isolated):
    """Elections 2016-2018 in the cache, plus one CPS CSV zip (survey 2020) -> real table."""
    _isolated.mkdir()
    county = pd.DataFrame(
        {"election_id": ["2016 CA", "2016 CA", "2018 NH"], "election_year": [2016.0, 2016.0, 2018.0],
         "state": ["CA", "CA", "NH"], "sfips": [6.0, 6.0, 33.0], "office": "GOV", "election_type": "G",
         "democratic_raw_votes": [30.0, 40.0, 45.0], "republican_raw_votes": [20.0, 10.0, 55.0],
         "raw_county_vote_totals": [50.0, 50.0, 100.0]}
    )
    pyreadr.write_rdata(str(_isolated / REAL_FILE_NAME), county, df_name=RDATA_OBJECT)
    _write_csv_zip(_isolated / "asecpub20csv.zip", yy="20")
    df = ds.governors_income("census", years=(2016, 2018))
    # CA 2016 -> income 2019 -> March 2020; NH 2018 -> income 2019 -> March 2020
    assert sorted(df.unit.unique()) == ["CA-2016", "NH-2018"]
    assert df.set_index("unit").loc["CA-2016", "x"] == pytest.approx(70 / 100)
    assert df.set_index("unit").loc["NH-2018", "x"] == pytest.approx(45 / 100)
    assert df.set_index("unit").loc["NH-2018", "y"] == pytest.approx(-0.08)
    assert (df["source"] == "census").all() and df.attrs["source"] == "census"
    table = ds.available_sources().set_index("source")
    assert table.loc["census", "available"] and table.loc["processed", "available"]
    assert ds.cached_cps_years() == [2020]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntheticDataWarning)  # auto must now find the real table
        again = ds.governors_income("auto", years=(2016, 2018))
    assert again.attrs["source"] == "census" and len(again) == len(df)


def test_remote_file_schedule():
    assert ds.asec_remote_files(2019)["data"].url.endswith("/2019/march/asecpub19csv.zip")
    assert ds.asec_remote_files(2014)["data"].name == "asec2014_pubuse_tax_fix_5x8_2017.zip"
    assert ds.asec_remote_files(2016)["data"].name == "asec2016_pubuse_v3.zip"
    assert ds.asec_remote_files(2013)["dictionary"].name == "asec2013early_pubuse.dd.txt"
    assert ds.asec_remote_files(2017)["dictionary"].name == "Asec2017_Data_Dict_Full.txt"
    assert ds.asec_remote_files(1995)["data"].url == "https://data.nber.org/cps/cpsmar95.zip"
    with pytest.raises(ValueError, match="year"):
        ds.asec_remote_files(19)
    with pytest.raises(DataNotAvailableError, match=r"fetch_asec\(2019, download=True\)"):
        ds.fetch_asec(2019)


# ---------------------------------------------------------------------------------------------
# the download helper, with pooch replaced by a local fake (still no network)
# ---------------------------------------------------------------------------------------------
def test_fetch_records_hash_and_warns_on_unverified_pin(_isolated, monkeypatch):
    import hashlib
    import json

    import pooch

    from r3d_teach.datasets import _fetch

    payload = b"not really an Rdata file"
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append((url, known_hash))
        out = path / fname
        out.write_bytes(payload)
        return str(out)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    monkeypatch.delenv("R3D_TEACH_OFFLINE")
    monkeypatch.delenv("CI", raising=False)
    remote = _fetch.RemoteFile("demo.bin", "https://example.org/demo.bin", sha256="0" * 64, verified=False)
    with pytest.warns(UserWarning, match="unverified pin"):
        path = _fetch.fetch(remote, download=True)
    digest = hashlib.sha256(payload).hexdigest()
    assert calls == [("https://example.org/demo.bin", None)]  # unverified pin: pooch not strict
    assert json.loads((_isolated / "hashes.json").read_text()) == {"demo.bin": digest}
    assert _fetch.fetch(remote) == path and len(calls) == 1  # cached: no second retrieve
    strict = _fetch.RemoteFile("strict.bin", "https://example.org/s", sha256=digest, verified=True)
    _fetch.fetch(strict, download=True)
    assert calls[-1] == ("https://example.org/s", f"sha256:{digest}")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(DataNotAvailableError, match="switched off"):
        _fetch.fetch(_fetch.RemoteFile("other.bin", "https://example.org/o"), download=True)


def test_cache_dir_alias(monkeypatch, tmp_path):
    monkeypatch.delenv("R3D_TEACH_DATA")
    monkeypatch.setenv("R3D_TEACH_DATA_DIR", str(tmp_path / "alias"))
    assert ds.data_dir() == tmp_path / "alias"


def test_load_cps_cache_and_skipping(_isolated):
    _isolated.mkdir()
    _write_csv_zip(_isolated / "asecpub20csv.zip", yy="20")
    fam = ds.load_cps([2020])
    assert (_isolated / "cps_families_2020.csv.gz").exists()
    assert fam["ratio"].tolist() == pytest.approx([2.0, -0.08])
    with pytest.raises(DataNotAvailableError, match=r"fetch_asec\(2021, download=True\)"):
        ds.load_cps([2020, 2021])
    with pytest.warns(UserWarning, match="2021: DataNotAvailableError"):
        both = ds.load_cps([2020, 2021], on_error="warn")
    assert len(both) == 2
    with pytest.raises(ValueError, match="on_error"):
        ds.load_cps([2020], on_error="ignore")
