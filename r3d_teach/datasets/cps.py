"""March CPS / ASEC family incomes relative to the poverty threshold, one tidy table per year.

Output schema (every reader returns it)
---------------------------------------
``survey_year`` (March of this year), ``income_year`` (= survey_year − 1, the calendar year the
income refers to), ``state_fips``, ``state`` (postal code), ``family_id``, ``family_type``,
``persons``, ``income`` (total family money income, dollars), ``poverty_threshold`` (the
family's official poverty threshold, dollars), ``ratio`` = income / poverty_threshold, and
``weight`` (family weight, in persons/families, 2 implied decimals removed).

The ratio is the paper's outcome: "family income in multiples of the federal poverty threshold"
(pre-tax money income incl. cash transfers; the threshold depends on family size and the number
of children).  Only relative weights matter for within-state quantiles.

Which families are kept (``tidy`` step, documented choices)
-----------------------------------------------------------
* ``poverty_threshold > 0`` and ``weight > 0`` (drops records outside the poverty universe);
* related subfamilies (``FTYPE == 3``) are dropped by default: their members and income are
  already counted in the primary family, as in the official poverty measure.  Primary families
  (1), nonfamily householders (2), unrelated subfamilies (4) and secondary individuals (5) stay.
* negative incomes (business losses) are kept.

Three routes
------------
1. Census public-use CSV zips (survey years 2019 on): ``asecpubYYcsv.zip`` holding
   ``hhpubYY.csv`` (``H_SEQ``, ``GESTFIPS``) and ``ffpubYY.csv`` (``FH_SEQ``, ``FFPOS``,
   ``FTYPE``, ``FPERSONS``, ``FTOTVAL``, ``FPOVCUT``, ``FSUP_WGT``), joined on
   ``FH_SEQ == H_SEQ`` — :func:`read_asec_csv_zip`.
2. Hierarchical fixed-width files (Census 2011–2018, NBER ``cpsmarYY.zip`` 1988–2010): the first
   character of each line is the record type (1 household, 2 family, 3 person) and a family
   belongs to the household record above it.  Field positions come from the year's dictionary
   (``D NAME SIZE BEGIN`` lines of the Census ``.dd.txt`` / NBER ``.ddf`` files, or the
   ``@BEGIN NAME WIDTH.`` lines of NBER's SAS programs) — :func:`parse_dictionary`,
   :func:`read_asec_fixed_width`.
3. An IPUMS-CPS extract made by the user (free account): :func:`read_ipums_extract` in
   :mod:`r3d_teach.datasets.ipums`.

Cached files and tables
-----------------------
:func:`load_cps` checks every raw file it uses (format and sha256, see :mod:`._fetch`) and
keeps each parsed year as ``cps_families_YYYY.csv.gz`` (``..._with_subfamilies.csv.gz`` when
related subfamilies are kept) with a record of the raw files' hashes and the code version; a
table whose inputs or code changed is rebuilt (:mod:`._cache`).  Downloads of several years
share one time budget (``timeout``).

Example
-------
>>> import io, zipfile, os, tempfile
>>> tmp = tempfile.mkdtemp(); path = os.path.join(tmp, "asecpub19csv.zip")
>>> with zipfile.ZipFile(path, "w") as z:
...     z.writestr("hhpub19.csv", "H_SEQ,GESTFIPS\\n1,6\\n")
...     z.writestr("ffpub19.csv", "FH_SEQ,FFPOS,FTYPE,FPERSONS,FTOTVAL,FPOVCUT,FSUP_WGT\\n"
...                "1,1,1,2,50000,16000,150000\\n")
>>> fam = read_asec_csv_zip(path)
>>> fam[["survey_year", "state", "ratio", "weight"]].values.tolist()
[[2019, 'CA', 3.125, 1500.0]]
"""
from __future__ import annotations

import gzip
import io
import os
import re
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ._cache import read_record, read_table, table_status, write_table
from ._fetch import (
    BadDataFileError,
    DataNotAvailableError,
    Deadline,
    RemoteFile,
    bad_file,
    cached_path,
    check_file,
    check_format,
    data_dir,
    default_timeout,
    fetch_all,
    reading,
    sha256,
)
from ._states import CENSUS_TO_FIPS, FIPS_TO_POSTAL

__all__ = [
    "FAMILY_COLUMNS",
    "asec_remote_files",
    "cached_cps_years",
    "fetch_asec",
    "load_cps",
    "parse_dictionary",
    "read_asec_csv_zip",
    "read_asec_fixed_width",
    "tidy_families",
]

FAMILY_COLUMNS = [
    "survey_year", "income_year", "state_fips", "state", "family_id", "family_type",
    "persons", "income", "poverty_threshold", "ratio", "weight",
]
WEIGHT_DIVISOR = 100.0  # FSUP_WGT / HSUP_WGT carry 2 implied decimals in CSV and fixed width

_CENSUS_BASE = "https://www2.census.gov/programs-surveys/cps/datasets/{Y}/march/"
_NBER_BASE = "https://data.nber.org/cps/"
# Third-party pins, not yet compared with the Census downloads (application_data.md §2.2 B).
_CSV_PINS = {
    2020: "f79430c5664745a2ae1c0f7fef615d93fa6b1933d0fe1dabb932ec52c73be591",
    2021: "7196ff49c52f833f65c537d66a0c8cc1540a8e31711a09c3730c218b4486c1f4",
}

# Candidate names of each field (after upper-casing and '-' -> '_').
_FAMILY_FIELDS: dict[str, tuple[str, ...]] = {
    "seq": ("FH_SEQ",),
    "pos": ("FFPOS",),
    "type": ("FTYPE",),
    "persons": ("FPERSONS",),
    "income": ("FTOTVAL",),
    "threshold": ("FPOVCUT",),
    "weight": ("FSUP_WGT", "FSUPWGT"),
}
_HOUSEHOLD_FIELDS: dict[str, tuple[str, ...]] = {
    "seq": ("H_SEQ",),
    "fips": ("GESTFIPS", "HG_FIPS", "HGFIPS"),
    "census": ("GESTCEN", "HG_ST60", "HGST60"),
}


def _norm(name: str) -> str:
    return name.strip().upper().replace("-", "_").replace("%", "P").replace("$", "D")


def _pick(available: Iterable[str], candidates: tuple[str, ...]) -> str | None:
    avail = set(available)
    return next((c for c in candidates if c in avail), None)


# ---------------------------------------------------------------------------------------------
# common tidy step
# ---------------------------------------------------------------------------------------------
def tidy_families(
    raw: pd.DataFrame,
    survey_year: int,
    *,
    drop_related_subfamilies: bool = True,
) -> pd.DataFrame:
    """Turn a family-level frame into the output schema (see the module docstring).

    ``raw`` needs ``state_fips, income, poverty_threshold, weight`` and may have ``family_id,
    family_type, persons``.  ``weight`` must already be in final units.
    """
    need = ["state_fips", "income", "poverty_threshold", "weight"]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise ValueError(f"raw is missing columns {missing}")
    df = pd.DataFrame(
        {
            "survey_year": int(survey_year),
            "income_year": int(survey_year) - 1,
            "state_fips": pd.to_numeric(raw["state_fips"], errors="coerce"),
            "family_id": raw["family_id"] if "family_id" in raw else np.arange(len(raw)),
            "family_type": pd.to_numeric(raw["family_type"], errors="coerce") if "family_type" in raw else np.nan,
            "persons": pd.to_numeric(raw["persons"], errors="coerce") if "persons" in raw else np.nan,
            "income": pd.to_numeric(raw["income"], errors="coerce").astype(float),
            "poverty_threshold": pd.to_numeric(raw["poverty_threshold"], errors="coerce").astype(float),
            "weight": pd.to_numeric(raw["weight"], errors="coerce").astype(float),
        }
    )
    keep = (df["poverty_threshold"] > 0) & (df["weight"] > 0) & df["income"].notna() & df["state_fips"].notna()
    if drop_related_subfamilies:
        keep &= df["family_type"].ne(3) | df["family_type"].isna()
    df = df[keep].copy()
    df["state_fips"] = df["state_fips"].astype(int)
    df["state"] = df["state_fips"].map(FIPS_TO_POSTAL)
    df["ratio"] = df["income"] / df["poverty_threshold"]
    return df[FAMILY_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# route 1: Census CSV zips (2019+)
# ---------------------------------------------------------------------------------------------
def _zip_member(z: zipfile.ZipFile, prefix: str, path) -> str:
    pat = re.compile(rf"(^|/){prefix}(\d\d)\.csv$", re.IGNORECASE)
    hits = [n for n in z.namelist() if pat.search(n)]
    if not hits:
        raise bad_file(path, f"holds no {prefix}YY.csv (members: {z.namelist()[:10]})")
    return hits[0]


def _read_csv_upper(z: zipfile.ZipFile, member: str, wanted: set[str]) -> pd.DataFrame:
    with z.open(member) as fh:
        return pd.read_csv(fh, usecols=lambda c: _norm(c) in wanted).rename(columns=_norm)


def read_asec_csv_zip(
    path: str | os.PathLike[str],
    year: int | None = None,
    *,
    drop_related_subfamilies: bool = True,
) -> pd.DataFrame:
    """Families from a Census ``asecpubYYcsv.zip`` (survey years 2019 on).

    Family income ratio = ``FTOTVAL / FPOVCUT``, weight = ``FSUP_WGT / 100``, state =
    ``GESTFIPS`` of the household with ``H_SEQ == FH_SEQ``.  ``year`` (survey year) defaults to
    the ``YY`` in the member names.  A damaged or wrong file raises :class:`BadDataFileError`
    naming it.
    """
    check_format(path)
    with reading(path):
        with zipfile.ZipFile(path) as z:
            fam_name = _zip_member(z, "ffpub", path)
            hh_name = _zip_member(z, "hhpub", path)
            fam_cols = {c for v in _FAMILY_FIELDS.values() for c in v}
            hh_cols = {c for v in _HOUSEHOLD_FIELDS.values() for c in v}
            fam = _read_csv_upper(z, fam_name, fam_cols)
            hh = _read_csv_upper(z, hh_name, hh_cols)
    if year is None:
        year = 2000 + int(re.search(r"(\d\d)\.csv$", fam_name, re.IGNORECASE).group(1))
    return _assemble(fam, hh, int(year), drop_related_subfamilies, source=path)


def _assemble(fam: pd.DataFrame, hh: pd.DataFrame, year: int, drop_related: bool, source) -> pd.DataFrame:
    f = {k: _pick(fam.columns, v) for k, v in _FAMILY_FIELDS.items()}
    h = {k: _pick(hh.columns, v) for k, v in _HOUSEHOLD_FIELDS.items()}
    for key in ("seq", "income", "threshold", "weight"):
        if f[key] is None:
            raise bad_file(source, f"its family records lack {_FAMILY_FIELDS[key]}")
    if h["seq"] is None or (h["fips"] is None and h["census"] is None):
        raise bad_file(source, "its household records need H_SEQ and GESTFIPS (or GESTCEN)")
    hh = hh.drop_duplicates(h["seq"]).set_index(h["seq"])
    if h["fips"] is not None:
        state = hh[h["fips"]]
    else:
        state = pd.to_numeric(hh[h["census"]], errors="coerce").map(CENSUS_TO_FIPS)
    seq = fam[f["seq"]]
    raw = pd.DataFrame(
        {
            "state_fips": seq.map(state),
            "family_id": seq.astype(str) + "-" + (fam[f["pos"]].astype(str) if f["pos"] else "1"),
            "family_type": fam[f["type"]] if f["type"] else np.nan,
            "persons": fam[f["persons"]] if f["persons"] else np.nan,
            "income": fam[f["income"]],
            "poverty_threshold": fam[f["threshold"]],
            "weight": pd.to_numeric(fam[f["weight"]], errors="coerce") / WEIGHT_DIVISOR,
        }
    )
    if raw["state_fips"].isna().any():
        n = int(raw["state_fips"].isna().sum())
        raise bad_file(source, f"{n} family records have no matching household (FH_SEQ not in H_SEQ)")
    return tidy_families(raw, year, drop_related_subfamilies=drop_related)


# ---------------------------------------------------------------------------------------------
# route 2: hierarchical fixed-width files with a dictionary
# ---------------------------------------------------------------------------------------------
_D_LINE = re.compile(r"^\s*D\s+([A-Za-z_$%][\w\-$%]*)\s+(\d+)\s+(\d+)\b")
_SAS_LINE = re.compile(r"^\s*@\s*(\d+)\s+([A-Za-z_][\w\-]*)\s+\$?(\d+)\.(\d*)")
_RECORD_KEYS = {"H": "household", "F": "family", "P": "person"}


def parse_dictionary(text: str) -> dict[str, dict[str, tuple[int, int]]]:
    """Field positions of a hierarchical CPS file, per record type.

    Recognised lines (anything else is ignored):

    * ``D NAME SIZE BEGIN`` — Census ``.dd.txt`` and NBER ``.ddf`` dictionaries;
    * ``@BEGIN NAME WIDTH.`` / ``@BEGIN NAME $WIDTH.`` / ``@BEGIN NAME WIDTH.DEC`` — NBER SAS
      programs.

    A field that begins in column 1 (``HRECORD``, ``FRECORD``, ``PRECORD``) opens a new record
    section; the section is named by the field's first letter (H household, F family,
    P person), or by order when the letter says nothing.  Names are upper-cased with ``-`` → ``_``.

    Returns ``{"household": {name: (begin, width)}, "family": {...}, "person": {...}}`` with
    1-based ``begin``.

    >>> parse_dictionary("D HRECORD 1 1\\nD H-SEQ 5 2\\nD FRECORD 1 1\\nD FTOTVAL 8 205")
    {'household': {'HRECORD': (1, 1), 'H_SEQ': (2, 5)}, 'family': {'FRECORD': (1, 1), 'FTOTVAL': (205, 8)}}
    """
    sections: dict[str, dict[str, tuple[int, int]]] = {}
    order = ["household", "family", "person"]
    current: str | None = None
    for line in text.splitlines():
        m = _D_LINE.match(line)
        if m:
            name, width, begin = _norm(m.group(1)), int(m.group(2)), int(m.group(3))
        else:
            m = _SAS_LINE.match(line)
            if not m:
                continue
            begin, name, width = int(m.group(1)), _norm(m.group(2)), int(m.group(3))
        if begin == 1 or current is None:
            current = _RECORD_KEYS.get(name[0]) if name.endswith("RECORD") else None
            if current is None or current in sections:
                current = next((s for s in order if s not in sections), f"record{len(sections) + 1}")
            sections[current] = {}
        sections[current][name] = (begin, width)
    if not sections:
        raise ValueError("dictionary holds no 'D NAME SIZE BEGIN' or '@BEGIN NAME WIDTH.' lines")
    return sections


_DOC_MEMBER = re.compile(r"\.(txt|pdf|doc|docx|sas|do|dct|ddf|sps|xml)$", re.I)


def _open_text_lines(path: Path, encoding: str):
    name = path.name.lower()
    if name.endswith(".zip"):
        z = zipfile.ZipFile(path)
        members = [i for i in z.infolist() if not i.is_dir() and not _DOC_MEMBER.search(i.filename)]
        if not members:
            raise bad_file(path, "holds no data member (only documentation)")
        member = max(members, key=lambda i: i.file_size)
        return io.TextIOWrapper(z.open(member), encoding=encoding, newline=None)
    if name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path), encoding=encoding, newline=None)
    return open(path, encoding=encoding, newline=None)


def _layout(dictionary, encoding: str) -> dict[str, dict[str, tuple[int, int]]]:
    if isinstance(dictionary, Mapping):
        layout = {k: dict(v) for k, v in dictionary.items()}
        where = "dictionary"
    else:
        where = Path(dictionary)
        check_format(where)
        with reading(where):
            text = where.read_text(encoding=encoding, errors="replace")
        try:
            layout = parse_dictionary(text)
        except ValueError as err:
            raise bad_file(where, f"is not a CPS dictionary: {err}") from err
    for key in ("household", "family"):
        if key not in layout:
            raise bad_file(where, f"has no {key} record section (found {list(layout)})")
    return layout


def read_asec_fixed_width(
    data: str | os.PathLike[str],
    dictionary: str | os.PathLike[str] | Mapping[str, Mapping[str, tuple[int, int]]],
    year: int,
    *,
    drop_related_subfamilies: bool = True,
    encoding: str = "latin-1",
) -> pd.DataFrame:
    """Families from a hierarchical March CPS file (``.dat``, ``.dat.gz`` or ``.zip``).

    Parameters
    ----------
    data : the record file; in a zip the largest non-documentation member is read.
    dictionary : a dictionary file (see :func:`parse_dictionary`) or its parsed form.
    year : the survey year (March of ``year``).

    Each family record (type 2) is attached to the household record (type 1) above it; its
    ``FH_SEQ`` must equal that household's ``H_SEQ`` (checked).  Weight = ``FSUP_WGT / 100``.
    A record shorter than the last field read from it (a truncated file, or a dictionary of
    another year), an unreadable or truncated archive, and a dictionary without the needed
    fields all raise :class:`BadDataFileError` naming the file.
    """
    layout = _layout(dictionary, encoding)
    data = Path(data)
    check_format(data)
    h_lines: list[str] = []
    f_lines: list[str] = []
    f_owner: list[int] = []
    with reading(data):
        with _open_text_lines(data, encoding) as fh:
            for line in fh:
                kind = line[:1]
                if kind == "1":
                    h_lines.append(line)
                elif kind == "2":
                    if not h_lines:
                        raise bad_file(data, "a family record precedes any household record")
                    f_lines.append(line)
                    f_owner.append(len(h_lines) - 1)
    if not f_lines:
        raise bad_file(data, "holds no family records (lines starting with '2')")

    def extract(lines: list[str], fields: dict[str, tuple[int, int]], wanted: dict[str, tuple[str, ...]], what: str) -> pd.DataFrame:
        s = pd.Series(lines, dtype=object).str.rstrip("\r\n")
        picked = {name: fields[name] for cands in wanted.values() if (name := _pick(fields, cands))}
        if picked:
            need = max(b + w - 1 for b, w in picked.values())
            short = int((s.str.len() < need).sum())
            if short:
                raise bad_file(
                    data,
                    f"{short} {what} records are shorter than {need} characters, the end of the "
                    "last field read (the file is truncated, or the dictionary belongs to another year)",
                )
        return pd.DataFrame({
            name: pd.to_numeric(s.str.slice(b - 1, b - 1 + w).str.strip(), errors="coerce")
            for name, (b, w) in picked.items()
        })

    hh = extract(h_lines, layout["household"], _HOUSEHOLD_FIELDS, "household")
    fam = extract(f_lines, layout["family"], _FAMILY_FIELDS, "family")
    owner = np.asarray(f_owner)
    hseq = _pick(hh.columns, _HOUSEHOLD_FIELDS["seq"])
    fseq = _pick(fam.columns, _FAMILY_FIELDS["seq"])
    if hseq is None or fseq is None:
        where = dictionary if not isinstance(dictionary, Mapping) else "dictionary"
        raise bad_file(where, "does not define H_SEQ (household) and FH_SEQ (family)")
    mismatch = fam[fseq].to_numpy() != hh[hseq].to_numpy()[owner]
    if mismatch.any():
        raise bad_file(data, f"{int(mismatch.sum())} family records sit under a household with another H_SEQ")
    # make household sequence numbers unique by position, then reuse the CSV assembly
    hh = hh.assign(**{hseq: np.arange(len(hh))})
    fam = fam.assign(**{fseq: owner})
    return _assemble(fam, hh, int(year), drop_related_subfamilies, source=data)


# ---------------------------------------------------------------------------------------------
# remote files and the cached loader
# ---------------------------------------------------------------------------------------------
def _dictionary_name(y: int) -> str:
    if y in (2012, 2013, 2014, 2015):  # 2014: the dictionary of the 5/8 ("tax fix") file
        return f"asec{y}early_pubuse.dd.txt"
    if y in (2017, 2018):
        return f"08ASEC{y}_Data_Dict_Full.txt"
    if y == 2016:
        return "Asec2016_Data_Dict_Full.txt"
    return f"asec{y}_pubuse.dd.txt"


def asec_remote_files(year: int) -> dict[str, RemoteFile]:
    """Where the public ASEC file of survey year ``year`` lives (``{"data": ..., "dictionary": ...}``).

    * 2019 on: Census CSV zip ``asecpubYYcsv.zip`` (no dictionary needed);
    * 2011–2018: Census fixed width ``asecYYYY_pubuse.zip`` (2014: the 5/8 "tax fix" file with
      the traditional income questions, ``asec2014_pubuse_tax_fix_5x8_2017.zip``; 2016:
      ``_v3``); Census also serves each as ``.dat.gz`` (``asecYYYY_pubuse.dat.gz``, ...), and
      either name is accepted in the cache.  Dictionaries: ``asecYYYYearly_pubuse.dd.txt`` for
      2012–2015 (2014: the 5/8 file's), ``Asec2016_Data_Dict_Full.txt``,
      ``08ASECYYYY_Data_Dict_Full.txt`` for 2017 and 2018, else ``asecYYYY_pubuse.dd.txt``;
    * up to 2010: NBER ``cpsmarYY.zip`` and ``cpsmarYY.ddf`` (1993's dictionary is a .doc: pass
      another dictionary, e.g. NBER's ``cpsmar93.sas``, to :func:`read_asec_fixed_width`).

    >>> {k: f.name for k, f in asec_remote_files(2017).items()}
    {'data': 'asec2017_pubuse.zip', 'dictionary': '08ASEC2017_Data_Dict_Full.txt'}
    >>> asec_remote_files(2014)["data"].aliases
    ('asec2014_pubuse_tax_fix_5x8_2017.dat.gz', 'asec2014_pubuse_tax_fix_5x8_2017.dat')
    """
    if isinstance(year, bool) or not isinstance(year, (int, np.integer)) or not 1962 <= int(year) <= 2100:
        raise ValueError(f"year must be a survey year such as 2019, got {year!r}")
    y, yy = int(year), f"{int(year) % 100:02d}"
    base = _CENSUS_BASE.format(Y=y)
    if y >= 2019:
        name = f"asecpub{yy}csv.zip"
        return {"data": RemoteFile(name, base + name, _CSV_PINS.get(y), False, "Census ASEC CSV, ~140 MB")}
    if y >= 2011:
        stem = {2014: "asec2014_pubuse_tax_fix_5x8_2017", 2016: "asec2016_pubuse_v3"}.get(y, f"asec{y}_pubuse")
        dd = _dictionary_name(y)
        return {"data": RemoteFile(stem + ".zip", base + stem + ".zip", note="Census ASEC fixed width",
                                   aliases=(stem + ".dat.gz", stem + ".dat")),
                "dictionary": RemoteFile(dd, base + dd, note="Census ASEC dictionary")}
    dd = f"cpsmar{yy}.txt" if y == 1988 else f"cpsmar{yy}.ddf"
    return {"data": RemoteFile(f"cpsmar{yy}.zip", _NBER_BASE + f"cpsmar{yy}.zip", note="NBER March CPS mirror"),
            "dictionary": RemoteFile(dd, _NBER_BASE + dd, note="NBER dictionary")}


def _how(year) -> str:
    return f"r3d_teach.datasets.fetch_asec({year}, download=True)"


def fetch_asec(year: int, download: bool = False, *, timeout: float | None = None) -> dict[str, Path]:
    """Checked local paths of the public ASEC files of survey year ``year`` (download once with
    ``download=True``; ``timeout`` is the budget in seconds for both files)."""
    remotes = asec_remote_files(year)
    got = fetch_all(remotes.values(), download=download, how=_how(year), timeout=timeout)
    return {k: got[r.name] for k, r in remotes.items()}


def _family_cache(year: int, drop_related: bool = True) -> Path:
    suffix = "" if drop_related else "_with_subfamilies"
    return data_dir() / f"cps_families_{int(year)}{suffix}.csv.gz"


def _family_params(year: int, drop_related: bool) -> dict:
    return {"survey_year": int(year), "drop_related_subfamilies": bool(drop_related)}


def _raw_inputs(year: int) -> tuple[dict[str, Path], dict[str, str]] | None:
    """Checked paths and sha256 of the raw files of ``year`` if all are cached, else ``None``."""
    remotes = asec_remote_files(year)
    paths = {k: cached_path(r) for k, r in remotes.items()}
    if any(p is None for p in paths.values()):
        return None
    digests = {paths[k].name: check_file(paths[k], r, how=_how(year)) for k, r in remotes.items()}
    return paths, digests


#: What ``family_table_digest`` returns when a year's inputs cannot be checked (not cached).
UNKNOWN = "unknown"


def family_table_digest(year: int, drop_related: bool = True) -> str | None:
    """The sha256 of the year's family table if it is current; ``"stale"`` if it exists but is
    not; ``"unbuilt"`` if only the raw files are cached; :data:`UNKNOWN` if neither is."""
    path = _family_cache(year, drop_related)
    if not path.exists():
        cached = all(cached_path(r) is not None for r in asec_remote_files(year).values())
        return "unbuilt" if cached else UNKNOWN
    rec = read_record(path)
    if rec is None:
        return sha256(path)  # the user's own table, used as it is
    raw = _raw_inputs(year)
    why = table_status(path, kind="cps_families", params=_family_params(year, drop_related),
                       inputs=None if raw is None else raw[1])
    return rec["sha256"] if why is None else "stale"


def _parse_year(year: int, paths: dict[str, Path], drop_related: bool) -> pd.DataFrame:
    if year >= 2019:
        return read_asec_csv_zip(paths["data"], year, drop_related_subfamilies=drop_related)
    return read_asec_fixed_width(paths["data"], paths["dictionary"], year, drop_related_subfamilies=drop_related)


def load_cps(
    years: Iterable[int],
    *,
    download: bool = False,
    drop_related_subfamilies: bool = True,
    use_cache: bool = True,
    on_error: str = "raise",
    timeout: float | None = None,
    deadline: Deadline | None = None,
) -> pd.DataFrame:
    """Tidy families of several survey years from the public Census/NBER files.

    Each year is parsed once and kept as ``cps_families_YYYY.csv.gz`` in the data cache with a
    record of its inputs; it is reused only while its raw files, options and the code version
    are unchanged (else it is rebuilt, with a warning).  A table you built yourself and saved
    under that name (no record) is used as it is, with a warning.  Missing files are fetched
    with ``download=True`` under one time budget for all years (``timeout`` seconds, or a shared
    ``deadline``).  A missing file raises :class:`DataNotAvailableError` naming the call that
    fetches it, a damaged one :class:`BadDataFileError`; with ``on_error="warn"`` such a year
    is skipped with a warning instead (its units then have no families).

    ``df.attrs["inputs"]`` maps ``cps_families_YYYY`` to the sha256 of each year's table
    (``None`` for a skipped year).
    """
    if on_error not in ("raise", "warn"):
        raise ValueError(f'on_error must be "raise" or "warn", got {on_error!r}')
    years = sorted({int(y) for y in years})
    for y in years:
        asec_remote_files(y)  # validates the year
    parts: dict[int, pd.DataFrame] = {}
    digests: dict[str, str | None] = {}
    skipped: list[str] = []
    todo: list[int] = []
    for year in years:
        path = _family_cache(year, drop_related_subfamilies)
        if use_cache and path.exists():
            fam = _cached_families(year, drop_related_subfamilies)
            if fam is not None:
                parts[year] = fam
                digests[f"cps_families_{year}"] = fam.attrs.pop("sha256")
                continue
        todo.append(year)
    remotes = [r for y in todo for r in asec_remote_files(y).values() if cached_path(r) is None] if download else []
    if remotes:
        if deadline is None:
            deadline = Deadline(default_timeout() if timeout is None else timeout)
        try:
            fetch_all(remotes, download=True, how="r3d_teach.datasets.load_cps(years, download=True)",
                      deadline=deadline)
        except DataNotAvailableError as err:
            if on_error == "raise":
                raise
            skipped.append(f"download: {str(err).splitlines()[0]}")
    for year in todo:
        try:
            raw = _raw_inputs(year)
            if raw is None:
                fetch_asec(year)  # raises DataNotAvailableError naming the missing file
                raw = _raw_inputs(year)
            fam = _parse_year(year, raw[0], drop_related_subfamilies)
        except (DataNotAvailableError, BadDataFileError) as err:
            if on_error == "raise":
                raise
            skipped.append(f"{year}: {type(err).__name__}: {str(err).splitlines()[0]}")
            digests[f"cps_families_{year}"] = None
            continue
        if use_cache:
            path = data_dir(create=True) / _family_cache(year, drop_related_subfamilies).name
            write_table(fam, path, kind="cps_families", params=_family_params(year, drop_related_subfamilies),
                        inputs=raw[1])
            digests[f"cps_families_{year}"] = read_record(path)["sha256"]
        else:
            digests[f"cps_families_{year}"] = None
        parts[year] = fam
    if skipped:
        warnings.warn(
            "CPS survey years skipped:\n  " + "\n  ".join(skipped) + "\nParse a year yourself with "
            "read_asec_fixed_width(data, dictionary, year) and save it as "
            f"cps_families_YYYY.csv.gz in {data_dir()} to use it.",
            stacklevel=2,
        )
    if not parts:
        raise DataNotAvailableError("no CPS year could be loaded" + (f": {skipped}" if skipped else " (years is empty)"))
    out = pd.concat([parts[y] for y in sorted(parts)], ignore_index=True)
    out.attrs["inputs"] = {k: digests[k] for k in sorted(digests)}
    return out


def _cached_families(year: int, drop_related: bool) -> pd.DataFrame | None:
    """A current cached family table of ``year`` (``attrs["sha256"]`` set), or ``None``."""
    path = _family_cache(year, drop_related)
    if read_record(path) is None:
        warnings.warn(
            f"{path} has no record of how it was built; it is used as it is "
            "(delete it to rebuild it from the raw files).",
            stacklevel=3,
        )
        check_format(path)
        with reading(path):
            fam = pd.read_csv(path)
        missing = [c for c in FAMILY_COLUMNS if c not in fam.columns]
        if missing:
            raise BadDataFileError(f"{path}: is not a family table: it lacks the column(s) {missing} (a family "
                                   f"table has {FAMILY_COLUMNS}). Fix it, or delete it to rebuild it from the "
                                   "raw files.")
        fam.attrs["sha256"] = sha256(path)
        return fam
    raw = _raw_inputs(year)
    fam = read_table(path, kind="cps_families", params=_family_params(year, drop_related),
                     inputs=None if raw is None else raw[1], columns=FAMILY_COLUMNS)
    if fam is not None:
        fam.attrs["sha256"] = read_record(path)["sha256"]
    return fam


def cached_cps_years() -> list[int]:
    """Survey years whose family table or raw files are in the cache (no network, no hashing)."""
    folder = data_dir()
    if not folder.exists():
        return []
    years = set()
    for y in range(1962, 2101):
        if _family_cache(y).exists() or _family_cache(y, False).exists():
            years.add(y)
            continue
        if all(cached_path(f, folder) is not None for f in asec_remote_files(y).values()):
            years.add(y)
    return sorted(years)


__all__ += ["DataNotAvailableError"]
