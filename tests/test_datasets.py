"""Tests of r3d_teach.datasets on tiny fake files in the real formats, written inside the tests.

Never touches the network (pooch.retrieve is replaced by a function that fails the test, and
the download tests replace ``requests.get`` by local fakes) and never reads the user's cache
(R3D_TEACH_DATA points to a temporary folder per test, so ``pytest -n 2`` is safe).  Expected
numbers are worked out by hand from the fake data in the comments next to them.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import itertools
import json
import time
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

pyreadr = pytest.importorskip("pyreadr")
pooch = pytest.importorskip("pooch")
requests = pytest.importorskip("requests")

from r3d_teach import datasets as ds  # noqa: E402
from r3d_teach.datasets import (  # noqa: E402
    BadDataFileError,
    DataChangedWarning,
    DataNotAvailableError,
    StaleCacheWarning,
    SyntheticDataWarning,
)
from r3d_teach.datasets import _cache, _fetch  # noqa: E402

_REAL_RETRIEVE = pooch.retrieve  # saved before the autouse fixture replaces it

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
    monkeypatch.delenv("R3D_TEACH_TIMEOUT", raising=False)
    monkeypatch.setenv("R3D_TEACH_OFFLINE", "1")

    def _no_network(*args, **kwargs):  # pragma: no cover - must never run
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(pooch, "retrieve", _no_network)
    monkeypatch.setattr(requests, "get", _no_network)
    return cache


def _manifest(cache) -> dict:
    return json.loads((cache / "hashes.json").read_text())["files"]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# fake election file
# ---------------------------------------------------------------------------------------------
def _county_rows() -> pd.DataFrame:
    rows = [
        # state, year, D, R, total, seat status
        ("CT", 1990, 100.0, 80.0, 300.0, "Republican Open Seat"),  # Weicker year: D 160, R 180, total 530
        ("CT", 1990, 50.0, 90.0, 200.0, "Republican Open Seat"),
        ("CT", 1990, 10.0, 10.0, 30.0, "Republican Open Seat"),
        ("CA", 1990, 600.0, 500.0, 1120.0, "Republican Open Seat"),  # D 1000, R 955, total 1995
        ("CA", 1990, 400.0, 450.0, 870.0, "Republican Open Seat"),
        ("CA", 1990, np.nan, 5.0, 5.0, "Republican Open Seat"),  # missing D in one county counts as 0
        ("NH", 1990, 30.0, 40.0, 70.0, "Republican Incumbent"),  # D 50, R 70
        ("NH", 1990, 20.0, 30.0, 50.0, "Republican Incumbent"),
        ("TX", 1990, 500.0, 0.0, 510.0, "Democratic Open Seat"),  # uncontested: dropped by default
        ("LA", 1991, 70.0, 60.0, 130.0, "Republican Incumbent"),
        ("ME", 2010, 19.0, 38.0, 100.0, "Democratic Open Seat"),  # Cutler second: other 43 > D 19, > R 38
        ("ME", 2014, 40.0, 48.0, 100.0, "Republican Incumbent"),  # ... but LePage (R) held the seat
        ("CA", 1982, 10.0, 20.0, 30.0, "Democratic Open Seat"),  # outside 1984-2010
    ]
    df = pd.DataFrame(rows, columns=["state", "election_year", "democratic_raw_votes", "republican_raw_votes",
                                     "raw_county_vote_totals", "seat_status"])
    fips = {"CT": 9, "CA": 6, "NH": 33, "TX": 48, "LA": 22, "ME": 23}
    df["election_id"] = df["election_year"].astype(str) + " " + df["state"]
    df["fips"] = [fips[s] * 1000 + i for i, s in enumerate(df["state"])]
    df["county_name"] = [f"County {i}" for i in range(len(df))]
    df["sfips"] = df["state"].map(fips).astype(float)  # R numeric
    df["office"] = "GOV"
    df["election_type"] = "G"
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


def _write_rdata(path, rows: pd.DataFrame | None = None) -> None:
    pyreadr.write_rdata(str(path), _county_rows() if rows is None else rows, df_name=RDATA_OBJECT)


def test_pyreadr_roundtrip_keeps_real_object_and_columns(tmp_path):
    path = tmp_path / REAL_FILE_NAME
    _write_rdata(path)
    back = pyreadr.read_r(str(path))
    assert list(back) == [RDATA_OBJECT]
    assert list(back[RDATA_OBJECT].columns) == REAL_COLUMNS + ["county_lifespan_start"]
    county = ds.read_county_returns(path)
    assert len(county) == 14
    assert not isinstance(county["state"].dtype, pd.CategoricalDtype)  # factor -> strings
    with pytest.raises(BadDataFileError, match="object_name"):
        ds.read_county_returns(path, object_name="nope")


def test_state_aggregation_shares_and_flags(tmp_path):
    path = tmp_path / REAL_FILE_NAME
    _write_rdata(path)
    st = ds.state_elections(ds.read_county_returns(path)).set_index(["state", "year"])
    # TX uncontested, CA 1982 and ME 2014 out of range; the CA primary row is not a general election.
    assert sorted(st.index) == [("CA", 1990), ("CT", 1990), ("LA", 1991), ("ME", 2010), ("NH", 1990)]
    ca, ct, nh = st.loc[("CA", 1990)], st.loc[("CT", 1990)], st.loc[("NH", 1990)]
    assert (ca.dem_votes, ca.rep_votes, ca.total_votes, ca.other_votes) == (1000, 955, 1995, 40)
    assert ca.dem_share == pytest.approx(1000 / 1955)
    assert bool(ca.dem_win) and ca.winner_party == "D" and not ca.no_majority  # 1000 > 1995 / 2
    assert ca.n_counties == 3 and ca.state_fips == 6
    assert not ca.top_two_not_dr and not ca.non_dr_winner  # other 40 < 955
    assert (ct.dem_votes, ct.rep_votes, ct.total_votes) == (160, 180, 530)
    assert ct.dem_share == pytest.approx(160 / 340)
    # CT: other 190 > R 180 (the leader) and no later CT election to say otherwise
    assert ct.non_dr_winner and ct.top_two_not_dr and ct.winner_party == "I"
    assert ct.other_exceeds_trailing and ct.no_majority  # other 190 > 160; 180 <= 265
    assert nh.dem_share == pytest.approx(50 / 120) and not nh.dem_win and nh.winner_party == "R"
    me = st.loc[("ME", 2010)]
    # other 43 > R 38, but the 2014 seat status names the Republicans: R won, a third party was second
    assert me.top_two_not_dr and me.other_exceeds_trailing and not me.non_dr_winner
    assert me.winner_party == "R" and me.next_seat_status == "Republican Incumbent"
    assert st.loc[("LA", 1991)].louisiana_system and not ca.louisiana_system
    assert st["non_dr_winner"].sum() == 1


def test_state_elections_options_and_errors(tmp_path):
    path = tmp_path / REAL_FILE_NAME
    _write_rdata(path)
    county = ds.read_county_returns(path)
    allrows = ds.state_elections(county, years=None, contested_only=False)
    assert set(zip(allrows.state, allrows.year)) >= {("TX", 1990), ("CA", 1982), ("ME", 2014)}
    assert allrows.set_index(["state", "year"]).loc[("TX", 1990)].dem_share == 1.0
    # CA 1982's "next election" is CA 1990, outside the default years but inside the file
    assert allrows.set_index(["state", "year"]).loc[("CA", 1982)].next_seat_status == "Republican Open Seat"
    with pytest.raises(ValueError, match="years"):
        ds.state_elections(county, years=(2010, 1984))
    with pytest.raises(ValueError, match="democratic_raw_votes"):
        ds.state_elections(county.drop(columns="democratic_raw_votes"))


def _race(state, year, d, r, total, seat):
    """One county = the whole state: vote shares in percent from the public results."""
    return {"state": state, "election_year": float(year), "sfips": 1.0, "office": "GOV", "election_type": "G",
            "democratic_raw_votes": d, "republican_raw_votes": r, "raw_county_vote_totals": total,
            "seat_status": seat}


def _named_cases() -> pd.DataFrame:
    return pd.DataFrame([
        # third-party runner-up, two-party winner right (real_data_sets.md): D/R winner kept
        _race("CO", 2010, 51.0, 11.1, 100.0, "Democratic Open Seat"),  # Tancredo 36.4
        _race("CO", 2014, 49.3, 45.9, 100.0, "Democratic Incumbent"),
        _race("HI", 1994, 36.6, 29.2, 100.0, "Democratic Open Seat"),  # Fasi 30.7
        _race("HI", 1998, 50.1, 48.8, 100.0, "Democratic Incumbent"),
        _race("IL", 1986, 4.0, 52.7, 100.0, "Republican Incumbent"),  # Stevenson (Solidarity) 40.0
        _race("IL", 1990, 46.9, 50.7, 100.0, "Republican Open Seat"),
        _race("UT", 1992, 23.1, 42.2, 100.0, "Republican Open Seat"),  # Cook 34.0
        _race("UT", 1996, 23.3, 75.0, 100.0, "Republican Incumbent"),
        # independent winners: others out-poll the leading major and the next seat status agrees
        _race("CT", 1990, 20.7, 37.5, 100.0, "Republican Open Seat"),  # Weicker 40.4
        _race("CT", 1994, 32.7, 36.2, 100.0, "Third-Party/Independent Open Seat"),
        _race("ME", 1994, 33.8, 23.1, 100.0, "Democratic Open Seat"),  # King 35.4
        _race("ME", 1998, 12.0, 18.9, 100.0, "Third-Party/Independent Incumbent"),  # King 58.6
        _race("ME", 2002, 47.2, 41.5, 100.0, "Third-Party/Independent Open Seat"),
        _race("RI", 2010, 23.0, 33.6, 100.0, "Republican Open Seat"),  # Chafee 36.1
        _race("RI", 2014, 40.7, 36.2, 100.0, "Democratic Open Seat"),  # Chafee had joined the Democrats
        _race("MN", 1998, 0.0, 34.3, 100.0, "Democratic Open Seat"),  # Ventura; no Democratic votes in the file
        _race("MN", 2002, 36.5, 44.4, 100.0, "Third-Party/Independent Open Seat"),
        # others 42.4 exceed LePage's 37.6, but the Republicans hold the seat in 2014
        _race("ME", 2010, 19.1, 37.6, 100.0, "Democratic Open Seat"),
        _race("ME", 2014, 43.4, 48.2, 100.0, "Republican Incumbent"),
        _race("CA", 1990, 45.8, 49.2, 100.0, "Republican Open Seat"),  # an ordinary race
    ])


def test_election_rules_from_the_files_own_fields():
    st = ds.state_elections(_named_cases(), years=(1984, 2010)).set_index(["state", "year"])
    # MN 1998 has D = 0 in the file: the contested filter drops it
    assert ("MN", 1998) not in st.index
    runners_up = [("CO", 2010), ("HI", 1994), ("IL", 1986), ("UT", 1992)]
    for key in runners_up:
        row = st.loc[key]
        assert row.top_two_not_dr and row.other_exceeds_trailing and not row.non_dr_winner, key
    assert [st.loc[k].winner_party for k in runners_up] == ["D", "D", "R", "R"]
    independents = [("CT", 1990), ("ME", 1994), ("ME", 1998), ("RI", 2010)]
    for key in independents:
        assert st.loc[key].non_dr_winner and st.loc[key].winner_party == "I", key
    assert st.loc[("ME", 2010)].top_two_not_dr and not st.loc[("ME", 2010)].non_dr_winner
    assert not st.loc[("CA", 1990)].top_two_not_dr and not st.loc[("CA", 1990)].non_dr_winner
    assert set(st.index[st.non_dr_winner]) == set(independents)
    assert set(st.index[st.top_two_not_dr]) == set(runners_up) | set(independents) | {("ME", 2010)}
    every = ds.state_elections(_named_cases(), years=(1984, 2010), contested_only=False).set_index(["state", "year"])
    mn = every.loc[("MN", 1998)]
    assert mn.non_dr_winner and mn.winner_party == "I" and mn.dem_share == 0.0


def test_vote_rule_alone_when_the_file_has_no_later_election():
    st = ds.state_elections(_named_cases().query("not (state == 'ME' and election_year == 2014)"),
                            years=(2010, 2010)).set_index(["state", "year"])
    # without ME 2014 nothing refutes the vote condition (others 42.4 > 37.6): flagged for the user
    assert st.loc[("ME", 2010)].non_dr_winner and pd.isna(st.loc[("ME", 2010)].next_seat_status)


def test_seat_party_vocabulary():
    assert [ds.seat_party(s) for s in ("Democratic Incumbent", "Republican Open Seat",
                                       "Third-Party/Independent Open Seat", "Independent Incumbent",
                                       "  republican incumbent", "", None, 3.0)] == ["D", "R", "I", "I", "R", None, None, None]


def test_missing_election_file_explains_how_to_fetch(_isolated):
    with pytest.raises(DataNotAvailableError) as err:
        ds.load_elections()
    msg = str(err.value)
    assert "fetch_elections(download=True)" in msg and str(_isolated) in msg and "R3D_TEACH_DATA" in msg
    with pytest.raises(DataNotAvailableError, match="switched off"):
        ds.fetch_elections(download=True)  # offline switch: refused before any network call


def test_load_elections_from_cache_records_the_hash(_isolated):
    _isolated.mkdir()
    path = _isolated / REAL_FILE_NAME
    _write_rdata(path)
    # the pin is unverified (a third-party copy): a different file warns once, at first use
    with pytest.warns(DataChangedWarning, match="unverified pin"):
        el = ds.load_elections()
    assert len(el) == 5 and "Algara" in el.attrs["source"]
    assert _manifest(_isolated)[REAL_FILE_NAME]["sha256"] == _sha(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # second use: hash matches the record, no warning
        ds.load_elections()


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
    with pytest.raises(BadDataFileError, match="ffpub") as err:
        ds.read_asec_csv_zip(path)
    assert str(path) in str(err.value) and "Delete this file" in str(err.value)
    path2 = tmp_path / "orphan.zip"
    with zipfile.ZipFile(path2, "w") as z:
        z.writestr("hhpub19.csv", "H_SEQ,GESTFIPS\n1,6\n")
        z.writestr("ffpub19.csv", "FH_SEQ,FTOTVAL,FPOVCUT,FSUP_WGT\n7,1,1,100\n")
    with pytest.raises(BadDataFileError, match="no matching household"):
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
    with pytest.raises(BadDataFileError, match="another H_SEQ"):
        ds.read_asec_fixed_width(data, ds.parse_dictionary(DD_TEXT), 2010)


# ---------------------------------------------------------------------------------------------
# the Census names of recent fixed-width years: dictionaries and .dat.gz data files
# ---------------------------------------------------------------------------------------------
def _fw_bytes(lines=None) -> bytes:
    return ("\n".join(_fixed_width_lines() if lines is None else lines) + "\n").encode()


@pytest.mark.parametrize(
    "year, data_name, dict_name",
    [
        (2012, "asec2012_pubuse.dat.gz", "asec2012early_pubuse.dd.txt"),
        (2014, "asec2014_pubuse_tax_fix_5x8_2017.dat.gz", "asec2014early_pubuse.dd.txt"),
        (2016, "asec2016_pubuse_v3.zip", "Asec2016_Data_Dict_Full.txt"),
        (2017, "asec2017_pubuse.dat.gz", "08ASEC2017_Data_Dict_Full.txt"),
        (2018, "asec2018_pubuse.dat.gz", "08ASEC2018_Data_Dict_Full.txt"),
    ],
)
def test_census_file_names_are_found_in_the_cache(_isolated, year, data_name, dict_name):
    _isolated.mkdir()
    if data_name.endswith(".zip"):
        with zipfile.ZipFile(_isolated / data_name, "w") as z:
            z.writestr(data_name.replace(".zip", ".dat"), _fw_bytes())
    else:
        (_isolated / data_name).write_bytes(gzip.compress(_fw_bytes()))
    (_isolated / dict_name).write_text(DD_TEXT)
    assert ds.cached_cps_years() == [year]
    fam = ds.load_cps([year])
    # the same two families as in test_fixed_width_families: CA 60000 / 20000, VT -550 / 11000
    assert fam["state"].tolist() == ["CA", "VT"] and fam["survey_year"].tolist() == [year, year]
    assert fam["ratio"].tolist() == pytest.approx([3.0, -0.05])
    files = _manifest(_isolated)
    assert files[data_name]["sha256"] == _sha(_isolated / data_name)
    assert files[dict_name]["sha256"] == _sha(_isolated / dict_name)
    rec = json.loads((_isolated / f"cps_families_{year}.csv.gz.json").read_text())
    assert rec["inputs"] == {data_name: _sha(_isolated / data_name), dict_name: _sha(_isolated / dict_name)}


def test_remote_file_schedule():
    assert ds.asec_remote_files(2019)["data"].url.endswith("/2019/march/asecpub19csv.zip")
    assert ds.asec_remote_files(2014)["data"].name == "asec2014_pubuse_tax_fix_5x8_2017.zip"
    assert ds.asec_remote_files(2014)["dictionary"].name == "asec2014early_pubuse.dd.txt"
    assert ds.asec_remote_files(2016)["data"].name == "asec2016_pubuse_v3.zip"
    assert ds.asec_remote_files(2016)["dictionary"].name == "Asec2016_Data_Dict_Full.txt"
    assert ds.asec_remote_files(2013)["dictionary"].name == "asec2013early_pubuse.dd.txt"
    assert ds.asec_remote_files(2011)["dictionary"].name == "asec2011_pubuse.dd.txt"
    for y in (2017, 2018):
        rf = ds.asec_remote_files(y)
        assert rf["dictionary"].name == f"08ASEC{y}_Data_Dict_Full.txt"
        assert rf["dictionary"].url == f"https://www2.census.gov/programs-surveys/cps/datasets/{y}/march/08ASEC{y}_Data_Dict_Full.txt"
        assert f"asec{y}_pubuse.dat.gz" in rf["data"].aliases
    assert ds.asec_remote_files(1995)["data"].url == "https://data.nber.org/cps/cpsmar95.zip"
    with pytest.raises(ValueError, match="year"):
        ds.asec_remote_files(19)
    with pytest.raises(DataNotAvailableError, match=r"fetch_asec\(2019, download=True\)"):
        ds.fetch_asec(2019)


# ---------------------------------------------------------------------------------------------
# damaged and wrong files: an error naming the path and saying to delete / re-download it
# ---------------------------------------------------------------------------------------------
def _assert_names(err, path):
    msg = str(err.value)
    assert str(path) in msg and "Delete this file and download it again" in msg, msg


def test_truncated_zip_in_the_cache(_isolated):
    _isolated.mkdir()
    path = _isolated / "asecpub20csv.zip"
    _write_csv_zip(path, yy="20")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadDataFileError, match="not a complete zip") as err:
        ds.load_cps([2020])
    _assert_names(err, path)
    assert "fetch_asec(2020, download=True)" in str(err.value)


def test_truncated_gzip_in_the_cache(_isolated):
    _isolated.mkdir()
    path = _isolated / "asec2017_pubuse.dat.gz"
    blob = gzip.compress(_fw_bytes() * 50)
    path.write_bytes(blob[: len(blob) // 2])
    (_isolated / "08ASEC2017_Data_Dict_Full.txt").write_text(DD_TEXT)
    with pytest.raises(BadDataFileError, match="cannot be read") as err:
        ds.load_cps([2017])
    _assert_names(err, path)
    assert not (_isolated / "cps_families_2017.csv.gz").exists()  # nothing cached from a bad file


def test_truncated_plain_record_file(_isolated):
    _isolated.mkdir()
    path = _isolated / "asec2017_pubuse.dat"  # the uncompressed name is accepted too
    lines = _fixed_width_lines()
    lines[6] = lines[6][:120]  # the VT family record stops before FTOTVAL (205) and FSUP_WGT (233)
    path.write_text("\n".join(lines[:7]) + "\n")
    (_isolated / "08ASEC2017_Data_Dict_Full.txt").write_text(DD_TEXT)
    with pytest.raises(BadDataFileError, match="1 family records are shorter than 240") as err:
        ds.load_cps([2017])
    _assert_names(err, path)


@pytest.mark.parametrize(
    "content, match",
    [("<!DOCTYPE html><html><body>404 Not Found</body></html>", "web page"),
     ("", "is empty"),
     ("just some words\n", "not a CPS dictionary")],
    ids=["html", "empty", "not-a-dictionary"],
)
def test_wrong_dictionary_file(_isolated, content, match):
    _isolated.mkdir()
    (_isolated / "asec2017_pubuse.dat.gz").write_bytes(gzip.compress(_fw_bytes()))
    path = _isolated / "08ASEC2017_Data_Dict_Full.txt"
    path.write_text(content)
    with pytest.raises(BadDataFileError, match=match) as err:
        ds.load_cps([2017])
    _assert_names(err, path)


def test_truncated_and_wrong_election_files(_isolated):
    _isolated.mkdir()
    path = _isolated / REAL_FILE_NAME
    _write_rdata(path)
    path.write_bytes(path.read_bytes()[:400])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataChangedWarning)
        with pytest.raises(BadDataFileError, match="not a readable R data file") as err:
            ds.load_elections()
    _assert_names(err, path)
    assert "fetch_elections(download=True)" in str(err.value)
    path.write_text("state,year\nCA,1990\n")  # a CSV saved under the .Rdata name
    with pytest.raises(BadDataFileError, match="not an R data file") as err:
        ds.load_elections()
    _assert_names(err, path)


# ---------------------------------------------------------------------------------------------
# hashes: pinned, recorded at first use, changed
# ---------------------------------------------------------------------------------------------
def test_verified_pin_is_enforced(tmp_path):
    path = tmp_path / "demo.txt"
    path.write_text("hello\n")
    good = _fetch.RemoteFile("demo.txt", "https://example.org/demo.txt", sha256=_sha(path), verified=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _fetch.check_file(path, good) == _sha(path)
    assert _manifest(tmp_path)["demo.txt"]["source"] == "pinned"
    bad = _fetch.RemoteFile("demo.txt", "https://example.org/demo.txt", sha256="0" * 64, verified=True)
    with pytest.raises(BadDataFileError, match="differs from the verified pin 0000") as err:
        _fetch.check_file(path, bad, how="fetch it again")
    _assert_names(err, path)


def test_hash_recorded_then_change_warned_once(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("first version\n")
    first = _fetch.check_file(path)
    assert first == _sha(path) and _manifest(tmp_path)["notes.txt"]["sha256"] == first
    path.write_text("second version, longer\n")
    with pytest.warns(DataChangedWarning, match="notes.txt changed since it was recorded"):
        second = _fetch.check_file(path)
    assert second == _sha(path) != first and _manifest(tmp_path)["notes.txt"]["sha256"] == second
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fetch.check_file(path)  # the new content is now the record


def test_changed_raw_file_rebuilds_the_family_table(_isolated):
    _isolated.mkdir()
    raw = _isolated / "asecpub22csv.zip"
    _write_csv_zip(raw, yy="22")
    assert ds.load_cps([2022])["ratio"].tolist() == pytest.approx([2.0, -0.08])
    table = _isolated / "cps_families_2022.csv.gz"
    assert table.exists() and (_isolated / "cps_families_2022.csv.gz.json").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing changed: reused without a word
        assert ds.load_cps([2022])["ratio"].tolist() == pytest.approx([2.0, -0.08])
    # a new release of the file: the CA family's income becomes 78000 (78000 / 26000 = 3)
    with zipfile.ZipFile(raw) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["ffpub22.csv"] = members["ffpub22.csv"].replace(b"52000", b"78000")
    with zipfile.ZipFile(raw, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.warns(DataChangedWarning, match="asecpub22csv.zip changed"), \
            pytest.warns(StaleCacheWarning, match="input asecpub22csv.zip changed"):
        fam = ds.load_cps([2022])
    assert fam["ratio"].tolist() == pytest.approx([3.0, -0.08])
    rec = json.loads((_isolated / "cps_families_2022.csv.gz.json").read_text())
    assert rec["inputs"] == {"asecpub22csv.zip": _sha(raw)} and rec["sha256"] == _sha(table)


def test_code_version_edits_and_options_rebuild_tables(_isolated, monkeypatch):
    _isolated.mkdir()
    _write_csv_zip(_isolated / "asecpub22csv.zip", yy="22")
    ds.load_cps([2022])
    table = _isolated / "cps_families_2022.csv.gz"
    monkeypatch.setattr(_cache, "PROCESSING_VERSION", 99)
    with pytest.warns(StaleCacheWarning, match=r"built by r3d_teach .*\+processing2, this is .*\+processing99"):
        ds.load_cps([2022])
    assert json.loads((_isolated / "cps_families_2022.csv.gz.json").read_text())["code"].endswith("+processing99")
    # an edited table (here: one family's ratio) no longer matches its record
    edited = pd.read_csv(table).assign(ratio=[9.0, -0.08])
    edited.to_csv(table, index=False, compression="gzip")
    with pytest.warns(StaleCacheWarning, match="differs from its record"):
        assert ds.load_cps([2022])["ratio"].tolist() == pytest.approx([2.0, -0.08])
    # other options get their own table; the default one is left alone
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = ds.load_cps([2022], drop_related_subfamilies=False)
    assert full["ratio"].tolist() == pytest.approx([2.0, 0.5, -0.08])
    assert (_isolated / "cps_families_2022_with_subfamilies.csv.gz").exists()


def test_own_family_table_without_record_is_used_with_a_warning(_isolated):
    _isolated.mkdir()
    own = pd.DataFrame({c: [0] for c in ds.FAMILY_COLUMNS}).assign(
        survey_year=2021, state_fips=6, state="CA", ratio=4.5, weight=10.0)
    own.to_csv(_isolated / "cps_families_2021.csv.gz", index=False)
    with pytest.warns(UserWarning, match="no record of how it was built"):
        fam = ds.load_cps([2021])
    assert fam["ratio"].tolist() == [4.5] and ds.cached_cps_years() == [2021]


def test_cached_family_table_without_its_columns_is_rebuilt_or_refused(_isolated):
    """A cached table with the wrong columns used to be returned as it was."""
    _isolated.mkdir()
    _write_csv_zip(_isolated / "asecpub22csv.zip", yy="22")
    good = ds.load_cps([2022])
    table = _isolated / "cps_families_2022.csv.gz"
    # a table whose record matches (same kind, options, inputs, code) but lacks columns
    rec = json.loads((_isolated / "cps_families_2022.csv.gz.json").read_text())
    _cache.write_table(good.drop(columns=["ratio", "weight"]), table, kind="cps_families", params=rec["params"],
                       inputs=rec["inputs"])
    with pytest.warns(StaleCacheWarning, match=r"lacks the column\(s\) \['ratio', 'weight'\]"):
        fam = ds.load_cps([2022])
    assert list(fam.columns) == ds.FAMILY_COLUMNS and fam["ratio"].tolist() == pytest.approx([2.0, -0.08])
    # a table of your own (no record) with the wrong columns is refused, naming the file
    table.unlink()
    (_isolated / "cps_families_2022.csv.gz.json").unlink()
    pd.DataFrame({"state": ["CA"], "income": [1.0]}).to_csv(table, index=False)
    with pytest.warns(UserWarning, match="no record"), \
            pytest.raises(BadDataFileError, match=r"cps_families_2022.csv.gz: is not a family table: it lacks"):
        ds.load_cps([2022])


def test_load_cps_cache_and_skipping(_isolated):
    _isolated.mkdir()
    _write_csv_zip(_isolated / "asecpub22csv.zip", yy="22")
    fam = ds.load_cps([2022])
    assert (_isolated / "cps_families_2022.csv.gz").exists()
    assert fam["ratio"].tolist() == pytest.approx([2.0, -0.08])
    assert fam.attrs["inputs"] == {"cps_families_2022": _sha(_isolated / "cps_families_2022.csv.gz")}
    with pytest.raises(DataNotAvailableError, match=r"fetch_asec\(2021, download=True\)"):
        ds.load_cps([2022, 2021])
    with pytest.warns(UserWarning, match="2021: DataNotAvailableError"):
        both = ds.load_cps([2022, 2021], on_error="warn")
    assert len(both) == 2 and both.attrs["inputs"]["cps_families_2021"] is None
    with pytest.raises(ValueError, match="on_error"):
        ds.load_cps([2022], on_error="ignore")


# ---------------------------------------------------------------------------------------------
# configuration: R3D_TEACH_DATA must be a folder
# ---------------------------------------------------------------------------------------------
def test_cache_dir_alias(monkeypatch, tmp_path):
    monkeypatch.delenv("R3D_TEACH_DATA")
    monkeypatch.setenv("R3D_TEACH_DATA_DIR", str(tmp_path / "alias"))
    assert ds.data_dir() == tmp_path / "alias"


def test_data_variable_pointing_at_a_file_is_a_configuration_error(monkeypatch, tmp_path):
    afile = tmp_path / "not_a_folder.txt"
    afile.write_text("x")
    monkeypatch.setenv("R3D_TEACH_DATA", str(afile))
    for call in (ds.data_dir, lambda: ds.fetch_elections(download=True), lambda: ds.governors_income("auto"),
                 lambda: ds.load_cps([2020], download=True), ds.available_sources):
        with pytest.raises(ValueError, match=r"^R3D_TEACH_DATA='.*not_a_folder.txt' is a file, not a folder"):
            call()
    monkeypatch.setenv("R3D_TEACH_DATA", str(afile / "sub"))  # below a file: cannot be created
    with pytest.raises(ValueError, match="^R3D_TEACH_DATA="):
        ds.data_dir(create=True)


# ---------------------------------------------------------------------------------------------
# downloads under one deadline (requests.get replaced by local fakes; no network)
# ---------------------------------------------------------------------------------------------
class _FakeResponse:
    def __init__(self, chunks, status=200, delay=0.0):
        self.chunks, self.status, self.delay = chunks, status, delay

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def raise_for_status(self):
        if self.status >= 400:
            raise requests.exceptions.HTTPError(f"{self.status} Client Error")

    def iter_content(self, chunk_size=1):
        for c in self.chunks:
            time.sleep(self.delay)
            yield c


@pytest.fixture
def online(monkeypatch):
    """Downloads allowed, the real pooch.retrieve, and a list recording every GET."""
    monkeypatch.delenv("R3D_TEACH_OFFLINE")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(pooch, "retrieve", _REAL_RETRIEVE)
    return []


def test_one_deadline_for_many_files_when_the_transfer_trickles(_isolated, online, monkeypatch):
    def trickle(url, stream, timeout):
        online.append((url, timeout))
        return _FakeResponse(itertools.repeat(b"PK" * 8, 250), delay=0.02)  # 5 s unless stopped

    monkeypatch.setattr(requests, "get", trickle)
    years = range(1988, 2015)  # survey years 1988-2014: 27 years, 54 files
    t0 = time.perf_counter()
    with pytest.raises(DataNotAvailableError) as err:
        ds.load_cps(years, download=True, timeout=0.5)
    elapsed = time.perf_counter() - t0
    assert elapsed < 3.0  # one budget of 0.5 s, not 30 s per year
    msg = str(err.value)
    assert "could not fetch 54 of 54 files (time budget 0.5 s)" in msg
    assert "failed: cpsmar88.zip from https://data.nber.org/cps/cpsmar88.zip: DownloadTimeout" in msg
    assert "not tried (the network stalled or refused the connection)" in msg
    assert "cpsmar89.zip" in msg and "asec2014_pubuse_tax_fix_5x8_2017.zip" in msg and "asec2014early_pubuse.dd.txt" in msg
    assert len(online) == 1 and online[0][1][1] <= 0.5
    assert sorted(p.name for p in _isolated.iterdir()) == []  # no partial download left behind


def test_stalled_network_uses_what_is_left_of_the_budget(_isolated, online, monkeypatch):
    def stalled(url, stream, timeout):
        online.append((url, timeout))
        time.sleep(timeout[0])
        raise requests.exceptions.ConnectTimeout("connect timed out")

    monkeypatch.setattr(requests, "get", stalled)
    t0 = time.perf_counter()
    with pytest.raises(DataNotAvailableError) as err:
        ds.download_application_data(timeout=0.3)
    assert time.perf_counter() - t0 < 2.0
    assert len(online) == 1 and 0 < online[0][1][0] <= 0.3  # waited the budget, not 30 s
    assert f"failed: {REAL_FILE_NAME}" in str(err.value) and "DownloadTimeout" in str(err.value)


def test_http_error_does_not_stop_the_other_files(_isolated, online, monkeypatch):
    def server(url, stream, timeout):
        online.append(url)
        if url.endswith("a.txt"):
            return _FakeResponse([], status=404)
        return _FakeResponse([b"line one\n", b"line two\n"])

    monkeypatch.setattr(requests, "get", server)
    a = _fetch.RemoteFile("a.txt", "https://example.org/a.txt")
    b = _fetch.RemoteFile("b.txt", "https://example.org/b.txt")
    with pytest.raises(DataNotAvailableError) as err:
        _fetch.fetch_all([a, b], download=True, timeout=10)
    msg = str(err.value)
    assert "failed: a.txt from https://example.org/a.txt: HTTPError: 404" in msg
    assert "fetched and kept in" in msg and msg.rstrip().count("b.txt") == 1
    assert (_isolated / "b.txt").read_bytes() == b"line one\nline two\n"
    assert _manifest(_isolated)["b.txt"]["sha256"] == hashlib.sha256(b"line one\nline two\n").hexdigest()
    assert not (_isolated / "a.txt").exists()
    assert _fetch.fetch(b) == _isolated / "b.txt" and online.count("https://example.org/b.txt") == 1  # cached
    pinned = _fetch.RemoteFile("c.txt", "https://example.org/c.txt", sha256="0" * 64, verified=True)
    with pytest.raises(DataNotAvailableError, match="differs from the verified pin"):
        _fetch.fetch(pinned, download=True, timeout=10)
    assert not (_isolated / "c.txt").exists()  # a download failing its pin is not kept


def test_offline_switches_and_budget_validation(_isolated, online, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(DataNotAvailableError, match="switched off"):
        _fetch.fetch(_fetch.RemoteFile("o.bin", "https://example.org/o"), download=True)
    monkeypatch.delenv("CI")
    monkeypatch.setenv("R3D_TEACH_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="^R3D_TEACH_TIMEOUT='soon' must be a positive number"):
        _fetch.fetch(_fetch.RemoteFile("o.bin", "https://example.org/o"), download=True)
    for bad in (0, -1.0, float("nan"), "10", True):
        with pytest.raises(ValueError, match="^timeout must be a positive number"):
            _fetch.Deadline(bad)
    assert online == []  # nothing was requested


# ---------------------------------------------------------------------------------------------
# IPUMS extract
# ---------------------------------------------------------------------------------------------
def _ipums_rows() -> pd.DataFrame:
    cols = ["YEAR", "SERIAL", "PERNUM", "ASECFLAG", "HFLAG", "FAMUNIT", "FTYPE", "STATEFIP",
            "OFFTOTVAL", "OFFCUTOFF", "ASECFWT"]
    rows = [
        # 2005, household 1: a primary family with a related subfamily (one official family)
        (2005, 1, 1, 1, None, 1, 1, 6, 40000, 20000, 1000.5),
        (2005, 1, 2, 1, None, 1, 1, 6, 40000, 20000, 1000.5),
        (2005, 1, 3, 1, None, 1, 3, 6, 40000, 20000, 1000.5),
        # household 2: nonfamily householder + unmarried partner (FAMUNIT 1 for both, two Census families)
        (2005, 2, 1, 1, None, 1, 2, 36, 9000, 10000, 800.0),
        (2005, 2, 2, 1, None, 1, 5, 36, 30000, 12000, 700.0),
        # household 3: two secondary individuals with the same income and threshold, an unrelated
        # subfamily of two, and a person outside the poverty universe (NIU codes)
        (2005, 3, 1, 1, None, 1, 2, 50, 150_000_000, 20000, 10.0),  # very high income: kept
        (2005, 3, 2, 1, None, 2, 5, 50, 0, 12000, 20.0),
        (2005, 3, 3, 1, None, 3, 5, 50, 0, 12000, 30.0),
        (2005, 3, 4, 1, None, 4, 4, 50, 24000, 16000, 40.0),
        (2005, 3, 5, 1, None, 4, 4, 50, 24000, 16000, 40.0),
        (2005, 3, 6, 1, None, 5, 5, 50, 9_999_999_999, 999999, 50.0),
        # a March basic-survey row (ASECFLAG 2): not an ASEC respondent
        (2005, 4, 1, 2, None, 1, 2, 6, 5000, 10000, 60.0),
        # 2014: the 5/8 (HFLAG 0) and 3/8 (HFLAG 1) samples, each weighted to the population
        (2014, 1, 1, 1, 0, 1, 2, 6, 30000, 12000, 900.0),
        (2014, 2, 1, 1, 1, 1, 2, 6, 36000, 12000, 950.0),
    ]
    return pd.DataFrame(rows, columns=cols)


def test_ipums_census_families_and_flags(tmp_path):
    path = tmp_path / "cps_00001.csv"
    _ipums_rows().to_csv(path, index=False)
    fam = ds.read_ipums_extract(path)
    by_id = fam.set_index(["survey_year", "family_id"])
    # 2005: CA 40000/20000 = 2 (one family of 3 persons); NY 0.9 and 2.5 (two Census families);
    # VT 7500, 0, 0 (two secondary individuals stay apart), 1.5 (the unrelated subfamily);
    # the NIU person and the March basic row are dropped
    assert by_id.loc[2005]["ratio"].to_dict() == pytest.approx({
        "1-1": 2.0, "2-2": 0.9, "2-5-2": 2.5, "3-2": 7500.0, "3-5-2": 0.0, "3-5-3": 0.0,
        "3-4-24000-16000": 1.5,
    })
    assert by_id.loc[(2005, "1-1"), "weight"] == 1000.5 and by_id.loc[(2005, "1-1"), "family_type"] == 1
    assert by_id.loc[(2005, "3-5-3"), "weight"] == 30.0
    # 2014: only the 5/8 sample by default (30000 / 12000), the 3/8 sample on request
    assert by_id.loc[2014]["ratio"].tolist() == [2.5]
    red = ds.read_ipums_extract(path, asec2014="redesigned")
    assert red[red.survey_year == 2014]["ratio"].tolist() == [3.0]


def test_ipums_errors(tmp_path):
    path = tmp_path / "cps_00002.csv"
    rows = _ipums_rows()
    rows.drop(columns="HFLAG").to_csv(path, index=False)
    with pytest.raises(ValueError, match="^HFLAG: the extract holds survey year 2014"):
        ds.read_ipums_extract(path)
    rows.drop(columns="FTYPE").to_csv(path, index=False)
    with pytest.raises(ValueError, match="^FTYPE: .*FAMUNIT does not follow the Census families"):
        ds.read_ipums_extract(path)
    pd.DataFrame({"YEAR": [2005], "SERIAL": [1], "PERNUM": [1], "STATEFIP": [6]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="^OFFCUTOFF"):
        ds.read_ipums_extract(path)
    rows.to_csv(path, index=False)
    with pytest.raises(ValueError, match="^asec2014"):
        ds.read_ipums_extract(path, asec2014="both")
    with pytest.raises(ValueError, match="^drop_related_subfamilies=False"):
        ds.read_ipums_extract(path, drop_related_subfamilies=False)
    (tmp_path / "page.csv").write_text("<html>login required</html>")
    with pytest.raises(BadDataFileError, match="web page"):
        ds.read_ipums_extract(tmp_path / "page.csv")


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
    with pytest.raises(ValueError, match="^ipums_path"):
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


def _small_application(cache, ca_dem=(30.0, 40.0)) -> None:
    """Elections 2016-2018 (CA, NH) and one CPS CSV zip (survey 2020) in the cache."""
    cache.mkdir(exist_ok=True)
    county = pd.DataFrame(
        {"election_id": ["2016 CA", "2016 CA", "2018 NH"], "election_year": [2016.0, 2016.0, 2018.0],
         "state": ["CA", "CA", "NH"], "sfips": [6.0, 6.0, 33.0], "office": "GOV", "election_type": "G",
         "democratic_raw_votes": [*ca_dem, 45.0], "republican_raw_votes": [20.0, 10.0, 55.0],
         "raw_county_vote_totals": [50.0, 50.0, 100.0]}
    )
    pyreadr.write_rdata(str(cache / REAL_FILE_NAME), county, df_name=RDATA_OBJECT)
    if not (cache / "asecpub20csv.zip").exists():
        _write_csv_zip(cache / "asecpub20csv.zip", yy="20")


def _census(**kw):
    """governors_income("census"), ignoring the first-use notes on the two unverified pins."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*unverified pin", DataChangedWarning)
        return ds.governors_income("census", years=(2016, 2018), **kw)


def test_census_route_end_to_end_from_cache(_isolated):
    _small_application(_isolated)
    df = _census()
    # CA 2016 -> income 2019 -> March 2020; NH 2018 -> income 2019 -> March 2020
    assert sorted(df.unit.unique()) == ["CA-2016", "NH-2018"]
    assert df.set_index("unit").loc["CA-2016", "x"] == pytest.approx(70 / 100)
    assert df.set_index("unit").loc["NH-2018", "x"] == pytest.approx(45 / 100)
    assert df.set_index("unit").loc["NH-2018", "y"] == pytest.approx(-0.08)
    assert (df["source"] == "census").all() and df.attrs["source"] == "census"
    assert df.attrs["inputs"] == {REAL_FILE_NAME: _sha(_isolated / REAL_FILE_NAME),
                                  "cps_families_2020": _sha(_isolated / "cps_families_2020.csv.gz")}
    table = ds.available_sources().set_index("source")
    assert table.loc["census", "available"] and table.loc["processed", "available"]
    assert ds.cached_cps_years() == [2020]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto must now find the current real table, silently
        again = ds.governors_income("auto", years=(2016, 2018))
    assert again.attrs["source"] == "census" and len(again) == len(df)
    assert again["x"].tolist() == pytest.approx(df["x"].tolist())


def test_stale_analysis_table_is_rebuilt_when_an_input_changes(_isolated):
    _small_application(_isolated)
    first = _census()
    assert first.set_index("unit").loc["CA-2016", "x"] == pytest.approx(0.7)
    # a corrected election file: CA's Democratic votes 30 + 40 -> 10 + 20 (share 30 / 60)
    _small_application(_isolated, ca_dem=(10.0, 20.0))
    with pytest.warns(DataChangedWarning, match="changed since it was recorded"), \
            pytest.warns(StaleCacheWarning, match=f"input {REAL_FILE_NAME} changed"):
        again = ds.governors_income("auto", years=(2016, 2018))
    assert again.attrs["source"] == "census"
    assert again.set_index("unit").loc["CA-2016", "x"] == pytest.approx(0.5)
    # a new CPS release (CA family 52000 -> 78000): the family table and then the analysis table
    raw = _isolated / "asecpub20csv.zip"
    with zipfile.ZipFile(raw) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["ffpub20.csv"] = members["ffpub20.csv"].replace(b"52000", b"78000")
    with zipfile.ZipFile(raw, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        third = ds.governors_income("auto", years=(2016, 2018))
    kinds = {type(w.message) for w in caught}
    assert DataChangedWarning in kinds and StaleCacheWarning in kinds and SyntheticDataWarning not in kinds
    # CA now has the family 78000 / 26000 = 3 (winsorised within its unit of one family)
    assert third.set_index("unit").loc["CA-2016", "y"] == pytest.approx(3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ds.governors_income("auto", years=(2016, 2018))["y"].tolist() == pytest.approx(third["y"].tolist())


def test_table_is_used_when_its_raw_inputs_were_deleted(_isolated):
    _small_application(_isolated)
    built = _census()
    (_isolated / "asecpub20csv.zip").unlink()  # the 140 MB zip removed to save space
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = ds.governors_income("auto", years=(2016, 2018))
    assert df.attrs["source"] == "census" and len(df) == len(built)


def test_stale_table_without_its_inputs_falls_back_to_synthetic(_isolated, monkeypatch):
    _small_application(_isolated)
    _census()
    (_isolated / REAL_FILE_NAME).unlink()
    monkeypatch.setattr(_cache, "PROCESSING_VERSION", 99)  # new code: every table is stale
    with pytest.warns(StaleCacheWarning, match="built by r3d_teach"), \
            pytest.warns(SyntheticDataWarning, match="stale and cannot be rebuilt"):
        df = ds.governors_income("auto", years=(2016, 2018))
    assert df.attrs["source"] == "synthetic"
