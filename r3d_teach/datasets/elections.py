"""Gubernatorial election returns: Algara & Amlani (2021), aggregated to state × election.

Source
------
Algara, C. and Amlani, S. (2021). "Replication Data for: Partisanship & Nationalization in
American Elections: Evidence from Presidential, Senatorial, & Gubernatorial Elections in the
U.S. Counties, 1872–2020". Harvard Dataverse, doi:10.7910/DVN/DGUMFI.  File
``dataverse_shareable_gubernatorial_county_returns_1865_2020.Rdata`` (file id 5028535,
1,875,640 bytes), one R data frame ``gov_elections_release`` with one row per county × election
(all ``office == "GOV"``, ``election_type == "G"``).  Alaska has no counties and is absent.
Columns used here: ``election_id, election_year, state, sfips, fips, office, election_type,
seat_status, democratic_raw_votes, republican_raw_votes, raw_county_vote_totals,
dem_nominee, rep_nominee``.

What :func:`state_elections` does
---------------------------------
1. keeps general elections for governor (``office == "GOV"``, ``election_type == "G"``, when
   those columns are present) in the requested years;
2. sums the county votes within ``(state, election_year)``:
   :math:`D = \\sum_c D_c`, :math:`R = \\sum_c R_c`, :math:`V = \\sum_c V_c` (all candidates);
3. the running variable is the Democratic two-party share :math:`X = D / (D + R)` (cutoff 0.5);
   ``dem_win = D > R``;
4. drops uncontested races (``D == 0`` or ``R == 0``) unless ``contested_only=False``;
5. adds flags decided from the file's own fields, never drops them (the user decides):

   * ``other_exceeds_trailing`` — votes for all other candidates together exceed the trailing
     major-party candidate, :math:`O = V - D - R > \\min(D, R)`.
   * ``top_two_not_dr`` — the two leading candidates were not one D and one R.  The file holds
     only :math:`D`, :math:`R` and the total, so this is ``other_exceeds_trailing``: the
     data's own necessary condition (it cannot tell one strong third candidate from several
     weak ones).  In 1984–2010 it marks, among others, the third-party runners-up of CO 2010
     (Tancredo), HI 1994 (Fasi), IL 1986 (Stevenson) and UT 1992 (Cook), whose winner the
     two-party count gets right.
   * ``non_dr_winner`` — the governor elected was neither the Democrat nor the Republican, so
     the two-party share does not decide treatment.  Two conditions from the file: the others
     together out-poll the leading major-party candidate, :math:`O > \\max(D, R)` (necessary),
     and the ``seat_status`` of the state's *next* election in the file does not name that
     candidate's party as holding the seat (``"Third-Party/Independent Incumbent"`` after an
     independent won; a party switch in office, such as Chafee's in 2013, still shows another
     party).  When the file has no later election for the state, the vote condition decides
     alone.  By the public results this marks CT 1990 (Weicker), ME 1994 and 1998 (King),
     RI 2010 (Chafee) and MN 1998 (Ventura; the file has no Democratic votes there, so the
     contested filter drops it), but not ME 2010 (the others' 42 % exceed LePage's 38 %, yet
     LePage holds the seat at the 2014 election).  Alaska 1990 (Hickel) would qualify but Alaska
     is not in the file.
   * ``louisiana_system`` — Louisiana elects its governor in an all-party ("jungle") primary in
     odd years, with a runoff only if nobody gets a majority (1987: the top two were both
     Democrats and the runner-up withdrew; 1999 and 2007 were decided in the primary).  The
     returns may then include several candidates of the same party, so the two-party share is
     less meaningful.
   * ``no_majority`` — neither major-party candidate won a majority of all votes,
     :math:`\\max(D, R) \\le V / 2`.  Where state law requires a majority, someone else decided:
     the legislature in Vermont, the state House in Mississippi (1999), a runoff in Georgia and
     (1990) Arizona.  The Nov. returns then give the plurality, not necessarily the final winner.
6. ``winner_party`` is ``"D"``/``"R"`` from the two-party count, ``"I"`` for ``non_dr_winner``;
   ``next_seat_status`` is the seat status used for the rule.

With the real file, 1984–2010 gives 357 contested elections in 49 states (the paper: 356),
203 of them with :math:`|X - 0.5| < 0.083` (the paper's Table A-1 effective N).

Example
-------
>>> import pandas as pd
>>> county = pd.DataFrame({"election_year": [1990, 1990, 1990], "state": ["CT"] * 3,
...     "sfips": [9] * 3, "democratic_raw_votes": [100.0, 50.0, 10.0],
...     "republican_raw_votes": [80.0, 90.0, 10.0], "raw_county_vote_totals": [300.0, 200.0, 30.0]})
>>> st = state_elections(county, years=None)
>>> round(float(st.dem_share.iloc[0]), 4), bool(st.non_dr_winner.iloc[0])
(0.4706, True)
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ._fetch import Deadline, RemoteFile, bad_file, check_format, fetch, reading
from ._states import POSTAL_TO_FIPS

__all__ = [
    "ELECTIONS_FILE",
    "RDATA_OBJECT",
    "fetch_elections",
    "load_elections",
    "read_county_returns",
    "seat_party",
    "state_elections",
]

RDATA_OBJECT = "gov_elections_release"
ELECTIONS_FILE = RemoteFile(
    name="dataverse_shareable_gubernatorial_county_returns_1865_2020.Rdata",
    url="https://dataverse.harvard.edu/api/access/datafile/5028535",
    # sha256 of the copy in BPR-Data-Team/ElectionModel2024; not yet compared with Dataverse.
    sha256="437bb3e821b897ec8664a181a4541f93a6caa7e70f510f89756a6828e0676a49",
    verified=False,
    note="Algara & Amlani (2021), Harvard Dataverse doi:10.7910/DVN/DGUMFI, 1.9 MB.",
)
_HOW = "r3d_teach.datasets.fetch_elections(download=True)"

_REQUIRED = ("election_year", "state", "democratic_raw_votes", "republican_raw_votes")


def fetch_elections(
    download: bool = False, *, timeout: float | None = None, deadline: Deadline | None = None
) -> Path:
    """Checked path of the cached Algara-Amlani ``.Rdata`` file; fetch it once with
    ``download=True`` (within ``timeout`` seconds, or a shared ``deadline``)."""
    return fetch(ELECTIONS_FILE, download=download, how=_HOW, timeout=timeout, deadline=deadline)


def read_county_returns(path: str | os.PathLike[str], object_name: str = RDATA_OBJECT) -> pd.DataFrame:
    """Read the county returns data frame from the ``.Rdata`` file with :mod:`pyreadr`.

    Factor columns come back as pandas categoricals; they are turned into plain strings.  An
    unreadable, truncated or wrong file raises :class:`BadDataFileError` naming it.
    """
    try:
        import pyreadr
        from pyreadr import custom_errors
    except ImportError as err:  # pragma: no cover - pyreadr is in requirements
        raise ImportError('reading the election file needs pyreadr: pip install "pyreadr>=0.5" (the "data" extra of r3d-teach)') from err
    check_format(path, _HOW)
    with reading(path, _HOW):
        try:
            objects = pyreadr.read_r(str(path))
        except (custom_errors.PyreadrError, custom_errors.LibrdataError) as err:
            raise bad_file(path, f"is not a readable R data file ({type(err).__name__}: {err})", _HOW) from err
    if object_name not in objects:
        raise bad_file(
            path, f"object_name={object_name!r} not found; the file holds {list(objects)}", _HOW
        )
    df = objects[object_name]
    for col in df.columns:
        if isinstance(df[col].dtype, pd.CategoricalDtype):
            df[col] = df[col].astype(object)
    return df.reset_index(drop=True)


def _first_valid(s: pd.Series) -> object:
    s = s.dropna()
    return s.iloc[0] if len(s) else None


def state_elections(
    county: pd.DataFrame,
    years: tuple[int, int] | None = (1984, 2010),
    *,
    contested_only: bool = True,
) -> pd.DataFrame:
    """Aggregate county returns to one row per state × election (see the module docstring).

    Parameters
    ----------
    county : the ``gov_elections_release`` frame (or any frame with its column names).
    years : inclusive ``(first, last)`` election years, or ``None`` for all.
    contested_only : drop races where one major party got no votes.

    Returns
    -------
    DataFrame with columns ``state, state_fips, year, election_id, dem_votes, rep_votes,
    total_votes, other_votes, dem_share, dem_win, winner_party, n_counties, dem_nominee,
    rep_nominee, seat_status, next_seat_status, non_dr_winner, top_two_not_dr,
    other_exceeds_trailing, louisiana_system, no_majority``, sorted by state and year.
    """
    if not isinstance(county, pd.DataFrame):
        raise ValueError(f"county must be a pandas DataFrame, got {type(county).__name__}")
    missing = [c for c in _REQUIRED if c not in county.columns]
    if missing:
        raise ValueError(f"county is missing required columns {missing}")
    if years is not None and (len(years) != 2 or years[0] > years[1]):
        raise ValueError(f"years must be (first, last) with first <= last, got {years!r}")
    df = county.copy()
    if "office" in df:
        df = df[df["office"].astype(str).str.upper() == "GOV"]
    if "election_type" in df:
        df = df[df["election_type"].astype(str).str.upper() == "G"]
    df["election_year"] = pd.to_numeric(df["election_year"]).astype(int)
    df["state"] = df["state"].astype(str).str.upper().str.strip()
    for col in ("democratic_raw_votes", "republican_raw_votes", "raw_county_vote_totals"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    if "raw_county_vote_totals" not in df:
        df["raw_county_vote_totals"] = np.nan
    for col in ("dem_nominee", "rep_nominee", "seat_status", "election_id"):
        if col not in df:
            df[col] = None

    # aggregate every year first: the next election's seat status decides non_dr_winner
    g = df.groupby(["state", "election_year"], sort=True)
    out = pd.DataFrame(
        {
            "dem_votes": g["democratic_raw_votes"].sum(min_count=1).fillna(0.0),
            "rep_votes": g["republican_raw_votes"].sum(min_count=1).fillna(0.0),
            "total_votes": g["raw_county_vote_totals"].sum(min_count=1),
            "n_counties": g.size(),
            "n_election_ids": g["election_id"].nunique(),
            "election_id": g["election_id"].agg(_first_valid),
            "dem_nominee": g["dem_nominee"].agg(_first_valid),
            "rep_nominee": g["rep_nominee"].agg(_first_valid),
            "seat_status": g["seat_status"].agg(_first_valid),
        }
    ).reset_index().rename(columns={"election_year": "year"})
    if "sfips" in df:
        out["state_fips"] = pd.to_numeric(g["sfips"].agg(_first_valid).reset_index(drop=True), errors="coerce")
    else:
        out["state_fips"] = np.nan
    out["state_fips"] = out["state_fips"].fillna(out["state"].map(POSTAL_TO_FIPS)).astype("Int64")
    out["next_seat_status"] = out.groupby("state", sort=False)["seat_status"].shift(-1)
    if years is not None:
        out = out[out["year"].between(years[0], years[1])]
    if (out["n_election_ids"] > 1).any():
        bad = out.loc[out["n_election_ids"] > 1, ["state", "year"]].values.tolist()
        warnings.warn(f"several election_id values within one state-year were summed: {bad}", stacklevel=2)
    out = out.drop(columns="n_election_ids")

    d, r = out["dem_votes"], out["rep_votes"]
    two = d + r
    out["total_votes"] = out["total_votes"].fillna(two).clip(lower=two)
    out["other_votes"] = out["total_votes"] - two
    with np.errstate(invalid="ignore", divide="ignore"):
        out["dem_share"] = np.where(two > 0, d / two.where(two > 0, 1.0), np.nan)
    out["dem_win"] = d > r
    out["other_exceeds_trailing"] = out["other_votes"] > np.minimum(d, r)
    out["top_two_not_dr"] = out["other_exceeds_trailing"]
    leader = np.where(out["dem_win"], "D", "R")
    holder = out["next_seat_status"].map(seat_party)
    out["non_dr_winner"] = (out["other_votes"] > np.maximum(d, r)) & (holder.to_numpy() != leader)
    out["louisiana_system"] = out["state"] == "LA"
    out["no_majority"] = np.maximum(d, r) <= 0.5 * out["total_votes"]
    out["winner_party"] = np.where(out["non_dr_winner"], "I", leader)

    if contested_only:
        out = out[(out["dem_votes"] > 0) & (out["rep_votes"] > 0)]
    cols = [
        "state", "state_fips", "year", "election_id", "dem_votes", "rep_votes", "total_votes",
        "other_votes", "dem_share", "dem_win", "winner_party", "n_counties", "dem_nominee",
        "rep_nominee", "seat_status", "next_seat_status", "non_dr_winner", "top_two_not_dr",
        "other_exceeds_trailing", "louisiana_system", "no_majority",
    ]
    return out[cols].reset_index(drop=True)


def seat_party(status: object) -> str | None:
    """The party holding the seat according to a ``seat_status`` string of the file.

    ``"Democratic ..."`` gives ``"D"``, ``"Republican ..."`` ``"R"``, ``"Third-Party/Independent
    ..."`` (or ``"Independent ..."``, ``"Other ..."``) ``"I"``; anything else ``None``.

    >>> [seat_party(s) for s in ["Democratic Incumbent", "Republican Open Seat",
    ...                          "Third-Party/Independent Incumbent", None]]
    ['D', 'R', 'I', None]
    """
    if not isinstance(status, str):
        return None
    s = status.strip().lower()
    if s.startswith("democrat"):
        return "D"
    if s.startswith("republican"):
        return "R"
    if s.startswith(("third", "independent", "other")):
        return "I"
    return None


def load_elections(
    path: str | os.PathLike[str] | None = None,
    *,
    years: tuple[int, int] | None = (1984, 2010),
    contested_only: bool = True,
    download: bool = False,
    timeout: float | None = None,
) -> pd.DataFrame:
    """State × election table from the Algara-Amlani file (cached copy unless ``path`` is given;
    ``download=True`` fetches it once, within ``timeout`` seconds).

    The example needs the cached file, so it is skipped in the doctests.

    >>> el = load_elections()  # doctest: +SKIP
    >>> len(el)  # doctest: +SKIP
    357
    """
    file = Path(path) if path is not None else fetch_elections(download=download, timeout=timeout)
    out = state_elections(read_county_returns(file), years=years, contested_only=contested_only)
    out.attrs["source"] = "Algara & Amlani (2021), doi:10.7910/DVN/DGUMFI"
    return out
