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
3. An IPUMS-CPS extract made by the user (free account): a CSV export needs nothing extra; the
   fixed-width ``.dat`` + DDI ``.xml`` needs ``ipumspy`` (not a dependency of this package) —
   :func:`read_ipums_extract`.

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

from ._fetch import DataNotAvailableError, RemoteFile, data_dir, fetch
from ._states import CENSUS_TO_FIPS, FIPS_TO_POSTAL

__all__ = [
    "FAMILY_COLUMNS",
    "asec_remote_files",
    "fetch_asec",
    "load_cps",
    "parse_dictionary",
    "read_asec_csv_zip",
    "read_asec_fixed_width",
    "read_ipums_extract",
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
def _zip_member(z: zipfile.ZipFile, prefix: str) -> str:
    pat = re.compile(rf"(^|/){prefix}(\d\d)\.csv$", re.IGNORECASE)
    hits = [n for n in z.namelist() if pat.search(n)]
    if not hits:
        raise ValueError(f"no {prefix}YY.csv inside {z.filename}; members: {z.namelist()[:10]}")
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
    the ``YY`` in the member names.
    """
    with zipfile.ZipFile(path) as z:
        fam_name = _zip_member(z, "ffpub")
        hh_name = _zip_member(z, "hhpub")
        fam_cols = {c for v in _FAMILY_FIELDS.values() for c in v}
        hh_cols = {c for v in _HOUSEHOLD_FIELDS.values() for c in v}
        fam = _read_csv_upper(z, fam_name, fam_cols)
        hh = _read_csv_upper(z, hh_name, hh_cols)
    if year is None:
        year = 2000 + int(re.search(r"(\d\d)\.csv$", fam_name, re.IGNORECASE).group(1))
    return _assemble(fam, hh, int(year), drop_related_subfamilies, source=str(path))


def _assemble(fam: pd.DataFrame, hh: pd.DataFrame, year: int, drop_related: bool, source: str) -> pd.DataFrame:
    f = {k: _pick(fam.columns, v) for k, v in _FAMILY_FIELDS.items()}
    h = {k: _pick(hh.columns, v) for k, v in _HOUSEHOLD_FIELDS.items()}
    for key in ("seq", "income", "threshold", "weight"):
        if f[key] is None:
            raise ValueError(f"{source}: family records lack {_FAMILY_FIELDS[key]}")
    if h["seq"] is None or (h["fips"] is None and h["census"] is None):
        raise ValueError(f"{source}: household records need H_SEQ and GESTFIPS (or GESTCEN)")
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
        raise ValueError(f"{source}: {n} family records have no matching household (FH_SEQ not in H_SEQ)")
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


def _open_text_lines(path: Path, encoding: str) -> Iterable[str]:
    name = path.name.lower()
    if name.endswith(".zip"):
        z = zipfile.ZipFile(path)
        members = [i for i in z.infolist() if not i.is_dir()
                   and not re.search(r"\.(txt|pdf|doc|docx|sas|do|dct|ddf|sps|xml)$", i.filename, re.I)]
        if not members:
            raise ValueError(f"{path}: no data member in the zip")
        member = max(members, key=lambda i: i.file_size)
        return io.TextIOWrapper(z.open(member), encoding=encoding, newline=None)
    if name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path), encoding=encoding, newline=None)
    return open(path, encoding=encoding, newline=None)


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
    """
    if isinstance(dictionary, Mapping):
        layout = {k: dict(v) for k, v in dictionary.items()}
    else:
        layout = parse_dictionary(Path(dictionary).read_text(encoding=encoding, errors="replace"))
    for key in ("household", "family"):
        if key not in layout:
            raise ValueError(f"dictionary has no {key} record section (found {list(layout)})")
    h_lines: list[str] = []
    f_lines: list[str] = []
    f_owner: list[int] = []
    with _open_text_lines(Path(data), encoding) as fh:  # type: ignore[attr-defined]
        for line in fh:
            kind = line[:1]
            if kind == "1":
                h_lines.append(line)
            elif kind == "2":
                if not h_lines:
                    raise ValueError(f"{data}: a family record precedes any household record")
                f_lines.append(line)
                f_owner.append(len(h_lines) - 1)
    if not f_lines:
        raise ValueError(f"{data}: no family records (lines starting with '2')")

    def extract(lines: list[str], fields: dict[str, tuple[int, int]], wanted: dict[str, tuple[str, ...]]) -> pd.DataFrame:
        s = pd.Series(lines, dtype=object)
        out = {}
        for key, cands in wanted.items():
            name = _pick(fields, cands)
            if name is None:
                continue
            b, w = fields[name]
            out[name] = pd.to_numeric(s.str.slice(b - 1, b - 1 + w).str.strip(), errors="coerce")
        return pd.DataFrame(out)

    hh = extract(h_lines, layout["household"], _HOUSEHOLD_FIELDS)
    fam = extract(f_lines, layout["family"], _FAMILY_FIELDS)
    owner = np.asarray(f_owner)
    hseq = _pick(hh.columns, _HOUSEHOLD_FIELDS["seq"])
    fseq = _pick(fam.columns, _FAMILY_FIELDS["seq"])
    if hseq is None or fseq is None:
        raise ValueError("dictionary must define H_SEQ (household) and FH_SEQ (family)")
    mismatch = fam[fseq].to_numpy() != hh[hseq].to_numpy()[owner]
    if mismatch.any():
        raise ValueError(f"{data}: {int(mismatch.sum())} family records sit under a household with another H_SEQ")
    # make household sequence numbers unique by position, then reuse the CSV assembly
    hh = hh.assign(**{hseq: np.arange(len(hh))})
    fam = fam.assign(**{fseq: owner})
    return _assemble(fam, hh, int(year), drop_related_subfamilies, source=str(data))


# ---------------------------------------------------------------------------------------------
# route 3: IPUMS-CPS extract
# ---------------------------------------------------------------------------------------------
def read_ipums_extract(
    path: str | os.PathLike[str],
    ddi: str | os.PathLike[str] | None = None,
    *,
    income: str | None = None,
    drop_related_subfamilies: bool = True,
) -> pd.DataFrame:
    """Families from an IPUMS-CPS ASEC extract (person rows, one family kept per ``FAMUNIT``).

    Variables (IPUMS names, verify in the IPUMS browser): ``YEAR`` (survey year), ``SERIAL``,
    ``PERNUM``, ``FAMUNIT``, ``STATEFIP``, ``OFFTOTVAL`` (family income for official poverty; or
    ``FTOTVAL``), ``OFFCUTOFF`` (the family's poverty threshold), a weight — ``ASECFWT`` (family
    weight) if present, else ``ASECWTH`` (household) or ``ASECWT`` (person) of the family's first
    person — and optionally ``FAMSIZE``.  IPUMS weights have real decimals (no scaling).
    Not-in-universe codes (``OFFCUTOFF >= 999999``, income ``>= 99999999``) become missing.

    ``path`` may be a CSV / CSV.gz export (read with pandas), or the fixed-width ``.dat(.gz)``
    with its DDI ``.xml`` passed as ``ddi`` (read with ``ipumspy``, installed separately).
    """
    p = Path(path)
    if ddi is not None or p.suffix.lower() == ".xml":
        try:
            from ipumspy import readers  # lazy, optional
        except ImportError as err:
            raise ImportError(
                "reading an IPUMS fixed-width extract needs ipumspy (pip install ipumspy), "
                "or export the extract as CSV and pass its path alone"
            ) from err
        ddi_path = Path(ddi) if ddi is not None else p
        meta = readers.read_ipums_ddi(ddi_path)
        data_path = p if ddi is not None else ddi_path.with_suffix(".dat.gz")
        df = readers.read_microdata(meta, data_path)
    else:
        df = pd.read_csv(p)
    df = df.rename(columns=lambda c: str(c).upper())
    for col in ("YEAR", "SERIAL", "STATEFIP", "OFFCUTOFF"):
        if col not in df:
            raise ValueError(f"IPUMS extract {p.name} lacks {col}; add it to the extract")
    inc = income or _pick(df.columns, ("OFFTOTVAL", "FTOTVAL"))
    if inc is None or inc not in df:
        raise ValueError(f"income={income!r}: the extract needs OFFTOTVAL or FTOTVAL")
    wcol = _pick(df.columns, ("ASECFWT", "ASECWTH", "ASECWT"))
    if wcol is None:
        raise ValueError("the extract needs a weight: ASECFWT, ASECWTH or ASECWT")
    if "FAMUNIT" not in df:
        df["FAMUNIT"] = 1
    sort = ["YEAR", "SERIAL", "FAMUNIT"] + (["PERNUM"] if "PERNUM" in df else [])
    fam = df.sort_values(sort).drop_duplicates(["YEAR", "SERIAL", "FAMUNIT"])
    income_v = pd.to_numeric(fam[inc], errors="coerce")
    thr = pd.to_numeric(fam["OFFCUTOFF"], errors="coerce")
    raw = pd.DataFrame(
        {
            "year": fam["YEAR"].astype(int),
            "state_fips": fam["STATEFIP"],
            "family_id": fam["SERIAL"].astype(str) + "-" + fam["FAMUNIT"].astype(str),
            "family_type": np.nan,
            "persons": fam["FAMSIZE"] if "FAMSIZE" in fam else np.nan,
            "income": income_v.where(income_v < 99_999_999),
            "poverty_threshold": thr.where(thr < 999_999),
            "weight": fam[wcol],
        }
    )
    parts = [tidy_families(g, y, drop_related_subfamilies=drop_related_subfamilies) for y, g in raw.groupby("year")]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=FAMILY_COLUMNS)


# ---------------------------------------------------------------------------------------------
# remote files and the cached loader
# ---------------------------------------------------------------------------------------------
def asec_remote_files(year: int) -> dict[str, RemoteFile]:
    """Where the public ASEC file of survey year ``year`` lives (``{"data": ..., "dictionary": ...}``).

    * 2019 on: Census CSV zip ``asecpubYYcsv.zip`` (no dictionary needed);
    * 2011–2018: Census fixed width ``asecYYYY_pubuse.zip`` (2014: the 5/8 "tax fix" file with the
      traditional income questions; 2016: ``_v3``) and its dictionary (``asecYYYYearly_pubuse.dd.txt``
      for 2012, 2013, 2015; ``AsecYYYY_Data_Dict_Full.txt`` for 2016–2018) — (verify);
    * up to 2010: NBER ``cpsmarYY.zip`` and ``cpsmarYY.ddf`` (1993's dictionary is a .doc: pass
      another dictionary, e.g. NBER's ``cpsmar93.sas``, to :func:`read_asec_fixed_width`).
    """
    if not isinstance(year, (int, np.integer)) or not 1962 <= int(year) <= 2100:
        raise ValueError(f"year must be a survey year such as 2019, got {year!r}")
    y, yy = int(year), f"{int(year) % 100:02d}"
    base = _CENSUS_BASE.format(Y=y)
    if y >= 2019:
        name = f"asecpub{yy}csv.zip"
        return {"data": RemoteFile(name, base + name, _CSV_PINS.get(y), False, "Census ASEC CSV, ~140 MB")}
    if y >= 2011:
        data = {2014: "asec2014_pubuse_tax_fix_5x8_2017.zip", 2016: "asec2016_pubuse_v3.zip"}.get(y, f"asec{y}_pubuse.zip")
        if y in (2012, 2013, 2015):
            dd = f"asec{y}early_pubuse.dd.txt"
        elif y >= 2016:
            dd = f"Asec{y}_Data_Dict_Full.txt"
        else:
            dd = f"asec{y}_pubuse.dd.txt"
        return {"data": RemoteFile(data, base + data, note="Census ASEC fixed width"),
                "dictionary": RemoteFile(dd, base + dd, note="Census ASEC dictionary")}
    dd = f"cpsmar{yy}.txt" if y == 1988 else f"cpsmar{yy}.ddf"
    return {"data": RemoteFile(f"cpsmar{yy}.zip", _NBER_BASE + f"cpsmar{yy}.zip", note="NBER March CPS mirror"),
            "dictionary": RemoteFile(dd, _NBER_BASE + dd, note="NBER dictionary")}


def fetch_asec(year: int, download: bool = False) -> dict[str, Path]:
    """Local paths of the public ASEC files of survey year ``year`` (download once with ``download=True``)."""
    how = f"r3d_teach.datasets.fetch_asec({year}, download=True)"
    return {k: fetch(r, download=download, how=how) for k, r in asec_remote_files(year).items()}


def _family_cache(year: int) -> Path:
    return data_dir() / f"cps_families_{int(year)}.csv.gz"


def load_cps(
    years: Iterable[int],
    *,
    download: bool = False,
    drop_related_subfamilies: bool = True,
    use_cache: bool = True,
    on_error: str = "raise",
) -> pd.DataFrame:
    """Tidy families of several survey years from the public Census/NBER files.

    Each year is parsed once and kept as ``cps_families_YYYY.csv.gz`` in the data cache; a
    table you built yourself (e.g. with another dictionary) and saved under that name is used
    as it is.  A missing file raises :class:`DataNotAvailableError` naming the call that
    fetches it; with ``on_error="warn"`` a year that cannot be loaded is skipped with a warning
    instead (its units then have no families).
    """
    if on_error not in ("raise", "warn"):
        raise ValueError(f'on_error must be "raise" or "warn", got {on_error!r}')
    parts, skipped = [], []
    for year in sorted({int(y) for y in years}):
        cache = _family_cache(year)
        if use_cache and cache.exists():
            parts.append(pd.read_csv(cache))
            continue
        try:
            files = fetch_asec(year, download=download)
            if year >= 2019:
                fam = read_asec_csv_zip(files["data"], year, drop_related_subfamilies=drop_related_subfamilies)
            else:
                fam = read_asec_fixed_width(files["data"], files["dictionary"], year,
                                            drop_related_subfamilies=drop_related_subfamilies)
        except (DataNotAvailableError, ValueError, OSError, zipfile.BadZipFile) as err:
            if on_error == "raise":
                raise
            skipped.append(f"{year}: {type(err).__name__}: {str(err).splitlines()[0]}")
            continue
        if use_cache:
            fam.to_csv(data_dir(create=True) / cache.name, index=False)
        parts.append(fam)
    if skipped:
        warnings.warn(
            "CPS survey years skipped:\n  " + "\n  ".join(skipped) + "\nParse a year yourself with "
            "read_asec_fixed_width(data, dictionary, year) and save it as "
            f"cps_families_YYYY.csv.gz in {data_dir()} to use it.",
            stacklevel=2,
        )
    if not parts:
        raise DataNotAvailableError("no CPS year could be loaded" + (f": {skipped}" if skipped else " (years is empty)"))
    return pd.concat(parts, ignore_index=True)


def cached_cps_years() -> list[int]:
    """Survey years whose family table or raw file is in the cache (no network)."""
    folder = data_dir()
    if not folder.exists():
        return []
    years = set()
    for y in range(1962, 2101):
        if _family_cache(y).exists():
            years.add(y)
            continue
        try:
            files = asec_remote_files(y)
        except ValueError:  # pragma: no cover
            continue
        if all((folder / f.name).exists() for f in files.values()):
            years.add(y)
    return sorted(years)


__all__ += ["cached_cps_years", "DataNotAvailableError"]
