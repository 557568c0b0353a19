"""The analysis data of the governors application (Van Dijcke 2025, section 4.2).

One unit per state-election: the Democratic two-party share ``x`` (cutoff 0.5), the sharp
treatment ``dem_win``, and the family incomes of the state in the governor's final year,
``y`` = income / poverty threshold (winsorised), with family weights ``w``.  The long table is
ready for ``r3d(data=df, x="x", y="y", weights="w", unit="unit", **PAPER_SPEC)``.

Timing (the paper: "the election data is lagged 3 years, except in New Hampshire and Vermont,
which hold gubernatorial elections every 2 years"): the outcome year is
:math:`t' = t + 3`, or :math:`t + 1` in NH and VT.  ``cps_year`` says what :math:`t'` indexes:
``"income"`` (default) — the calendar year of the income, i.e. the March CPS of
:math:`t' + 1`; ``"survey"`` — the March CPS of :math:`t'` (income of :math:`t' - 1`).  The
paper's UNICON extract does not say which; the default puts the income inside the term
(Rhode Island and Arkansas also had 2-year terms before 1994/1986; like the paper we only
treat NH and VT specially).

Winsorising: within each unit, at the weighted 95th percentile (type-1 quantile, see
:func:`r3d_teach.datasets.winsorize_within_units`).  Grid: :data:`PAPER_GRID`.

Example
-------
>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     df = governors_income("synthetic", seed=0)
>>> df.attrs["source"], sorted(df.columns)[:4]
('synthetic', ['dem_win', 'louisiana_system', 'non_dr_winner', 'outcome_year'])
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings

import numpy as np
import pandas as pd

from ._cache import StaleCacheWarning, read_record, read_table, write_table
from ._common import OUTPUT_COLUMNS, warn_synthetic, winsorize_within_units
from ._fetch import DataNotAvailableError, Deadline, cached_path, check_file, data_dir, default_timeout, sha256
from .cps import UNKNOWN, asec_remote_files, cached_cps_years, family_table_digest, load_cps
from .elections import ELECTIONS_FILE, fetch_elections, load_elections, read_county_returns, state_elections
from .ipums import read_ipums_extract
from .synthetic import synthetic_governors_income

__all__ = [
    "available_sources",
    "build_governors_income",
    "download_application_data",
    "governors_income",
    "outcome_years",
    "unit_table",
]

SHORT_TERM_STATES = ("NH", "VT")
_SOURCES = ("auto", "synthetic", "census", "ipums")


def outcome_years(
    elections: pd.DataFrame,
    *,
    offset: int = 3,
    nh_vt_offset: int = 1,
    cps_year: str = "income",
) -> pd.DataFrame:
    """Add ``outcome_year`` (:math:`t + 3`, NH/VT :math:`t + 1`) and the March CPS ``survey_year``.

    >>> el = pd.DataFrame({"state": ["NH", "CA"], "year": [1990, 1990]})
    >>> outcome_years(el)[["outcome_year", "survey_year"]].values.tolist()
    [[1991, 1992], [1993, 1994]]
    """
    if cps_year not in ("income", "survey"):
        raise ValueError(f'cps_year must be "income" or "survey", got {cps_year!r}')
    for name, val in (("offset", offset), ("nh_vt_offset", nh_vt_offset)):
        if not isinstance(val, (int, np.integer)) or val < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {val!r}")
    out = elections.copy()
    short = out["state"].astype(str).str.upper().isin(SHORT_TERM_STATES)
    out["outcome_year"] = out["year"].astype(int) + np.where(short, nh_vt_offset, offset)
    out["survey_year"] = out["outcome_year"] + (1 if cps_year == "income" else 0)
    return out


def build_governors_income(
    elections: pd.DataFrame,
    families: pd.DataFrame,
    *,
    offset: int = 3,
    nh_vt_offset: int = 1,
    cps_year: str = "income",
    winsor: float | None = 0.95,
    drop_non_dr_winners: bool = False,
    source: str = "real",
) -> pd.DataFrame:
    """Join state elections with CPS families into the long analysis table.

    Parameters
    ----------
    elections : output of :func:`load_elections` / ``state_elections`` (needs ``state,
        state_fips, year, dem_share, dem_win``; flags are carried when present).
    families : CPS families in the :mod:`cps` schema (needs ``state_fips, survey_year, ratio,
        weight``).
    offset, nh_vt_offset, cps_year : timing, see :func:`outcome_years`.
    winsor : within-unit weighted top-coding level, ``None`` to keep raw ratios.
    drop_non_dr_winners : drop the races won by an independent (kept by default, like the paper).
    source : label written to the ``source`` column and ``attrs``.

    Units without any family in their outcome year are dropped and listed in
    ``attrs["units_without_families"]``.
    """
    need_e = ["state", "state_fips", "year", "dem_share", "dem_win"]
    miss = [c for c in need_e if c not in elections.columns]
    if miss:
        raise ValueError(f"elections is missing columns {miss}")
    need_f = ["state_fips", "survey_year", "ratio", "weight"]
    miss = [c for c in need_f if c not in families.columns]
    if miss:
        raise ValueError(f"families is missing columns {miss}")
    el = outcome_years(elections, offset=offset, nh_vt_offset=nh_vt_offset, cps_year=cps_year)
    el = el[el["dem_share"].notna()]
    if drop_non_dr_winners and "non_dr_winner" in el:
        el = el[~el["non_dr_winner"].astype(bool)]
    for flag in ("non_dr_winner", "louisiana_system"):
        if flag not in el:
            el[flag] = el["state"].eq("LA") if flag == "louisiana_system" else False
    el = el.assign(
        unit=el["state"].astype(str) + "-" + el["year"].astype(int).astype(str),
        state_fips=el["state_fips"].astype(int),
    )
    fam = families[["state_fips", "survey_year", "ratio", "weight"]].copy()
    fam["state_fips"] = fam["state_fips"].astype(int)
    fam["survey_year"] = fam["survey_year"].astype(int)
    df = el.merge(fam, on=["state_fips", "survey_year"], how="inner", validate="one_to_many")
    missing_units = sorted(set(el["unit"]) - set(df["unit"]))
    df = df.rename(columns={"dem_share": "x", "ratio": "y", "weight": "w"})
    df["dem_win"] = df["dem_win"].astype(int)
    df["source"] = source
    if winsor is not None and len(df):
        df["y"] = winsorize_within_units(df, winsor).to_numpy()
    df = df[OUTPUT_COLUMNS].sort_values(["state", "year"], kind="stable").reset_index(drop=True)
    df.attrs.update(
        {
            "source": source,
            "offset": offset,
            "nh_vt_offset": nh_vt_offset,
            "cps_year": cps_year,
            "winsor": winsor,
            "units_without_families": missing_units,
        }
    )
    return df


def unit_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per unit: ``state, year, outcome_year, x, dem_win, n_families, total_weight``.

    >>> d = pd.DataFrame({"unit": ["a", "a", "b"], "state": ["CA", "CA", "NH"], "year": [1990] * 3,
    ...     "outcome_year": [1993, 1993, 1991], "x": [0.4, 0.4, 0.6], "dem_win": [0, 0, 1],
    ...     "w": [1.0, 2.0, 5.0]})
    >>> unit_table(d)[["n_families", "total_weight"]].values.tolist()
    [[2.0, 3.0], [1.0, 5.0]]
    """
    g = df.groupby("unit", sort=True)
    first = g[["state", "year", "outcome_year", "x", "dem_win"]].first()
    first["n_families"] = g.size()
    first["total_weight"] = g["w"].sum()
    return first.reset_index()


# ---------------------------------------------------------------------------------------------
# cached real data
# ---------------------------------------------------------------------------------------------
_KIND = "governors_income"


def _processed_name(source: str, params: dict) -> str:
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return f"governors_income_{source}_{key}.csv.gz"


def _current_inputs(recorded: dict) -> dict:
    """The current sha256 of the inputs named in a table's record.  An input that is no longer
    in the cache cannot be checked and keeps its recorded value."""
    now: dict = {}
    for name, old in recorded.items():
        if name == ELECTIONS_FILE.name:
            path = cached_path(ELECTIONS_FILE)
            now[name] = old if path is None else check_file(path, ELECTIONS_FILE, how=_HOW_ELECTIONS)
        elif name.startswith("cps_families_") and name.rsplit("_", 1)[1].isdigit():
            digest = family_table_digest(int(name.rsplit("_", 1)[1]))
            now[name] = old if digest == UNKNOWN else digest
        else:
            now[name] = old
    return now


_HOW_ELECTIONS = "r3d_teach.datasets.fetch_elections(download=True)"


def _cached_real(params: dict) -> pd.DataFrame | None:
    """The cached real analysis table for ``params`` if it is current, else ``None`` (a stale
    table is reported with a :class:`StaleCacheWarning`)."""
    path = data_dir() / _processed_name("census", params)
    if not path.exists():
        return None
    rec = read_record(path)
    if rec is None:
        warnings.warn(f"{path} has no record of its inputs; it will be rebuilt.", StaleCacheWarning, stacklevel=3)
        return None
    inputs = _current_inputs(rec.get("inputs") or {})
    df = read_table(path, kind=_KIND, params=params, inputs=inputs, columns=OUTPUT_COLUMNS)
    if df is not None:
        df.attrs.update({"source": "census", "inputs": inputs, **{k: params[k] for k in
                         ("offset", "nh_vt_offset", "cps_year", "winsor")}})
    return df


def _build_census(params: dict, *, download: bool, deadline: Deadline | None) -> pd.DataFrame:
    """Build the real table from the cached (or downloaded) public files and cache it."""
    el_path = fetch_elections(download=download, deadline=deadline)
    inputs = {ELECTIONS_FILE.name: sha256(el_path)}
    elections = state_elections(read_county_returns(el_path), years=tuple(params["years"]))
    el = outcome_years(elections, offset=params["offset"], nh_vt_offset=params["nh_vt_offset"],
                       cps_year=params["cps_year"])
    needed = sorted(set(el["survey_year"].astype(int)))
    families = load_cps(needed, download=download, on_error="raise" if download else "warn", deadline=deadline)
    inputs.update(families.attrs.get("inputs", {}))
    df = build_governors_income(
        elections, families, offset=params["offset"], nh_vt_offset=params["nh_vt_offset"],
        cps_year=params["cps_year"], winsor=params["winsor"],
        drop_non_dr_winners=params["drop_non_dr_winners"], source="census",
    )
    path = data_dir(create=True) / _processed_name("census", params)
    write_table(df, path, kind=_KIND, params=params, inputs=inputs)
    df.attrs.update({"cache": str(path), "inputs": inputs})
    return df


def available_sources() -> pd.DataFrame:
    """What can be loaded without the network: one row per source with ``available`` and a note.

    Never downloads and hashes nothing (the checks happen when a file is used).  ``synthetic``
    is always available.
    """
    folder = data_dir()
    elections_ok = cached_path(ELECTIONS_FILE, folder) is not None
    years = cached_cps_years()
    processed = sorted(p.name for p in folder.glob("governors_income_*.csv.gz")) if folder.exists() else []
    rows = [
        {"source": "synthetic", "available": True, "note": "calibrated replica, generated on the fly"},
        {"source": "elections", "available": elections_ok,
         "note": f"{ELECTIONS_FILE.name}" + ("" if elections_ok else " (fetch_elections(download=True))")},
        {"source": "census", "available": elections_ok and bool(years),
         "note": f"CPS survey years cached: {years[0]}–{years[-1]} ({len(years)})" if years
         else "no CPS year cached (download_application_data())"},
        {"source": "processed", "available": bool(processed), "note": ", ".join(processed) or "none"},
    ]
    out = pd.DataFrame(rows)
    out.attrs["data_dir"] = str(folder)
    return out


def download_application_data(
    years: tuple[int, int] = (1984, 2010),
    *,
    offset: int = 3,
    nh_vt_offset: int = 1,
    cps_year: str = "income",
    timeout: float | None = None,
) -> pd.DataFrame:
    """Fetch (once) the election file and every public CPS year the timing needs, then build and
    cache the real analysis table.  Needs internet; about 1 GB of CPS files.

    All files share one time budget, ``timeout`` seconds (default ``$R3D_TEACH_TIMEOUT`` or
    3600); when it runs out, or the network stalls, :class:`DataNotAvailableError` lists what was
    fetched (kept in the cache, so running again resumes) and what was not.
    """
    return governors_income(
        "census", years=years, offset=offset, nh_vt_offset=nh_vt_offset, cps_year=cps_year,
        download=True, timeout=timeout,
    )


def governors_income(
    source: str = "auto",
    *,
    seed: int | None = 0,
    effect: bool = True,
    years: tuple[int, int] = (1984, 2010),
    offset: int = 3,
    nh_vt_offset: int = 1,
    cps_year: str = "income",
    winsor: float | None = 0.95,
    drop_non_dr_winners: bool = False,
    ipums_path: str | os.PathLike[str] | None = None,
    ipums_ddi: str | os.PathLike[str] | None = None,
    elections_path: str | os.PathLike[str] | None = None,
    download: bool = False,
    timeout: float | None = None,
    warn: bool = True,
) -> pd.DataFrame:
    """The governors analysis table (long: one row per family, one unit per state-election).

    Parameters
    ----------
    source :
        ``"synthetic"`` — the calibrated replica (:func:`synthetic_governors_income`; uses
        ``seed``, ``effect``);
        ``"census"`` — Algara-Amlani elections + public Census/NBER CPS files from the cache
        (``download=True`` fetches what is missing, all files within ``timeout`` seconds);
        ``"ipums"`` — elections + the user's IPUMS extract at ``ipums_path`` (``ipums_ddi`` for a
        fixed-width extract);
        ``"auto"`` (default) — the cached real table for these timing parameters if it is current
        (a stale one is rebuilt from the cached files), else the synthetic replica with a
        :class:`SyntheticDataWarning`.
    years : inclusive range of election years (the paper: 1984–2010).
    offset, nh_vt_offset, cps_year : timing, see :func:`outcome_years`.
    winsor : within-unit weighted top-coding level (paper: 0.95); ``None`` keeps raw ratios.

    The cached real table is keyed on the hashes of the election file and of every CPS year's
    family table (themselves keyed on the raw files) and on the code version; it is never
    reused once any of them changed.

    Returns
    -------
    DataFrame with columns ``unit, state, state_fips, year, outcome_year, x, dem_win, y, w,
    non_dr_winner, louisiana_system, source``; ``df.attrs["source"]`` says where it came from.
    """
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {_SOURCES}, got {source!r}")
    if winsor is not None and not 0 < winsor <= 1:
        raise ValueError(f"winsor must be in (0, 1] or None, got {winsor!r}")
    if source == "synthetic":
        return synthetic_governors_income(seed, effect=effect, winsor=winsor, offset=offset,
                                          nh_vt_offset=nh_vt_offset, warn=warn)
    deadline = Deadline(default_timeout() if timeout is None else timeout) if download else None
    params = {"years": list(years), "offset": offset, "nh_vt_offset": nh_vt_offset,
              "cps_year": cps_year, "winsor": winsor, "drop_non_dr_winners": drop_non_dr_winners}
    if source == "auto":
        cached = _cached_real(params)
        if cached is not None:
            return cached
        reason = "No real analysis table is cached"
        if (data_dir() / _processed_name("census", params)).exists():  # stale: rebuild offline
            try:
                return _build_census(params, download=False, deadline=None)
            except DataNotAvailableError as err:
                reason = f"The cached real table is stale and cannot be rebuilt ({str(err).splitlines()[0]})"
        if warn:
            warn_synthetic(
                f"{reason}; using the synthetic replica. "
                "See r3d_teach.datasets.download_application_data().",
                stacklevel=3,
            )
        return synthetic_governors_income(seed, effect=effect, winsor=winsor, offset=offset,
                                          nh_vt_offset=nh_vt_offset, warn=False)

    if source == "ipums" and ipums_path is None:
        raise ValueError('ipums_path: source="ipums" needs ipums_path= (a CSV export, or the .dat with ipums_ddi=)')
    if source == "census" and elections_path is None:
        cached = _cached_real(params)
        if cached is not None:
            return cached
        return _build_census(params, download=download, deadline=deadline)
    elections = load_elections(elections_path, years=years, download=download, timeout=timeout)
    el = outcome_years(elections, offset=offset, nh_vt_offset=nh_vt_offset, cps_year=cps_year)
    if source == "ipums":
        families = read_ipums_extract(ipums_path, ipums_ddi)
    else:
        needed = sorted(set(el["survey_year"].astype(int)))
        families = load_cps(needed, download=download, on_error="raise" if download else "warn",
                            deadline=deadline)
    return build_governors_income(
        elections, families, offset=offset, nh_vt_offset=nh_vt_offset, cps_year=cps_year,
        winsor=winsor, drop_non_dr_winners=drop_non_dr_winners, source=source,
    )


__all__ += ["DataNotAvailableError", "asec_remote_files"]
