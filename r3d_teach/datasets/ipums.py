"""Families from an IPUMS-CPS ASEC extract, in the schema of :mod:`r3d_teach.datasets.cps`.

IPUMS extracts have one row per person.  The paper's outcome is the family income relative to
the official poverty threshold, so we use the official-poverty variables and the **Census**
families they are defined on:

* ``OFFTOTVAL`` — family income for the official poverty measure (or ``FTOTVAL``), and
  ``OFFCUTOFF`` — the family's poverty threshold.  Both treat a primary family and its related
  subfamilies as one family.  Their not-in-universe codes are ``9999999999`` (ten digits) for
  the incomes and ``>= 999999`` for the threshold; such rows are dropped.
* Census families, not IPUMS's ``FAMUNIT`` (which groups people differently: e.g. unmarried
  partners join the householder's ``FAMUNIT`` but form their own Census family).  Within a
  household (``YEAR``, ``SERIAL``) the family is read from ``FTYPE``: codes 1 (primary family)
  and 3 (related subfamily) form one family, 2 (nonfamily householder) one, each 5 (secondary
  individual) one per person (``PERNUM``), and each 4 (unrelated subfamily) one per distinct
  ``(OFFTOTVAL, OFFCUTOFF)`` pair (the extract has no subfamily number; its members share both).
* ``ASECFLAG == 1`` keeps ASEC respondents (2 marks March basic-survey rows) when the column is
  present.
* Survey year 2014 holds two samples, each weighted to the whole population: the 5/8 sample
  asked the traditional income questions, the 3/8 sample the redesigned ones (IPUMS ``HFLAG``:
  1 = the 3/8 redesign sample, 0 = the 5/8 sample).  ``asec2014="traditional"`` (default, as
  the public Census route, which reads the 5/8 "tax fix" file) keeps ``HFLAG == 0``,
  ``"redesigned"`` keeps ``HFLAG == 1``; a 2014 extract without ``HFLAG`` is an error.
* weight: ``ASECFWT`` (family weight) if present, else ``ASECWTH`` or ``ASECWT`` of the family's
  first person; IPUMS weights have real decimals (no scaling).

``path`` may be a CSV / CSV.gz export (read with pandas), or the fixed-width ``.dat(.gz)`` with
its DDI ``.xml`` passed as ``ddi`` (read with ``ipumspy``, installed separately).

Example
-------
>>> import pandas as pd, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "cps_00001.csv")
>>> pd.DataFrame({"YEAR": [2005] * 3, "SERIAL": [1] * 3, "PERNUM": [1, 2, 3], "ASECFLAG": 1,
...     "STATEFIP": 6, "FTYPE": [1, 1, 5], "OFFTOTVAL": [40000, 40000, 9000],
...     "OFFCUTOFF": [20000, 20000, 10000], "ASECFWT": [1000.0, 1000.0, 900.0]}).to_csv(path, index=False)
>>> read_ipums_extract(path)[["family_id", "ratio", "weight"]].values.tolist()
[['1-1', 2.0, 1000.0], ['1-5-3', 0.9, 900.0]]
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ._fetch import bad_file, check_format, reading
from .cps import FAMILY_COLUMNS, tidy_families

__all__ = ["IPUMS_INCOME_NIU", "read_ipums_extract"]

#: Not-in-universe code of OFFTOTVAL and FTOTVAL in IPUMS-CPS (ten digits).
IPUMS_INCOME_NIU = 9_999_999_999
_THRESHOLD_NIU = 999_999


def _read(path: Path, ddi) -> pd.DataFrame:
    if ddi is not None or path.suffix.lower() == ".xml":
        try:
            from ipumspy import readers  # lazy, optional
        except ImportError as err:
            raise ImportError(
                "reading an IPUMS fixed-width extract needs ipumspy (pip install ipumspy), "
                "or export the extract as CSV and pass its path alone"
            ) from err
        ddi_path = Path(ddi) if ddi is not None else path
        data_path = path if ddi is not None else ddi_path.with_suffix(".dat.gz")
        meta = readers.read_ipums_ddi(ddi_path)
        with reading(data_path):
            return readers.read_microdata(meta, data_path)
    check_format(path)
    with reading(path):
        return pd.read_csv(path)


def read_ipums_extract(
    path: str | os.PathLike[str],
    ddi: str | os.PathLike[str] | None = None,
    *,
    income: str | None = None,
    asec2014: str = "traditional",
    drop_related_subfamilies: bool = True,
) -> pd.DataFrame:
    """Families (one row per Census family) from an IPUMS-CPS ASEC extract; see the module docstring.

    Needed variables: ``YEAR SERIAL PERNUM STATEFIP FTYPE OFFCUTOFF``, ``OFFTOTVAL`` (or
    ``FTOTVAL``, or the column named by ``income``), a weight (``ASECFWT``, ``ASECWTH`` or
    ``ASECWT``), ``HFLAG`` when the extract holds 2014, and preferably ``ASECFLAG``; ``FAMSIZE``
    is used when present.  ``drop_related_subfamilies`` must stay ``True``: the official-poverty
    variables already count related subfamilies within the primary family.
    """
    if asec2014 not in ("traditional", "redesigned"):
        raise ValueError(f'asec2014 must be "traditional" or "redesigned", got {asec2014!r}')
    if drop_related_subfamilies is not True:
        raise ValueError(
            "drop_related_subfamilies=False is not available for IPUMS extracts: OFFTOTVAL and "
            "OFFCUTOFF count related subfamilies within the primary family"
        )
    p = Path(path)
    df = _read(p, ddi).rename(columns=lambda c: str(c).upper())
    for col in ("YEAR", "SERIAL", "PERNUM", "STATEFIP", "OFFCUTOFF", "FTYPE"):
        if col not in df:
            why = (" (Census family type; FAMUNIT does not follow the Census families that "
                   "OFFTOTVAL and OFFCUTOFF are defined on)") if col == "FTYPE" else ""
            raise ValueError(f"{col}: the IPUMS extract {p.name} lacks it{why}; add it to the extract")
    inc = (income.upper() if income else None) or next((c for c in ("OFFTOTVAL", "FTOTVAL") if c in df), None)
    if inc is None or inc not in df:
        raise ValueError(f"income={income!r}: the extract needs OFFTOTVAL or FTOTVAL")
    wcol = next((c for c in ("ASECFWT", "ASECWTH", "ASECWT") if c in df), None)
    if wcol is None:
        raise ValueError("ASECFWT: the extract needs a weight (ASECFWT, ASECWTH or ASECWT)")

    year = pd.to_numeric(df["YEAR"], errors="coerce")
    keep = year.notna()
    if "ASECFLAG" in df:
        keep &= pd.to_numeric(df["ASECFLAG"], errors="coerce").eq(1)
    if (year == 2014).any():
        if "HFLAG" not in df:
            raise ValueError(
                "HFLAG: the extract holds survey year 2014, whose ASEC has two samples (3/8 "
                "redesigned and 5/8 traditional income questions) each weighted to the whole "
                "population; add HFLAG to the extract"
            )
        want = 1 if asec2014 == "redesigned" else 0
        keep &= (year != 2014) | pd.to_numeric(df["HFLAG"], errors="coerce").eq(want)
    df = df[keep].copy()

    ftype = pd.to_numeric(df["FTYPE"], errors="coerce")
    income_v = pd.to_numeric(df[inc], errors="coerce")
    thr = pd.to_numeric(df["OFFCUTOFF"], errors="coerce")
    pernum = pd.to_numeric(df["PERNUM"], errors="coerce").astype("Int64").astype(str)
    group = pd.Series(np.where(ftype.isin([1, 3]), "1", "5-" + pernum), index=df.index)
    group[ftype.eq(2)] = "2"
    unrelated = ftype.eq(4)
    group[unrelated] = "4-" + income_v[unrelated].astype(str) + "-" + thr[unrelated].astype(str)
    df["_family"] = group
    df["_pernum"] = pd.to_numeric(df["PERNUM"], errors="coerce")
    fam = df.sort_values(["YEAR", "SERIAL", "_pernum"], kind="stable").drop_duplicates(["YEAR", "SERIAL", "_family"])
    f_income = pd.to_numeric(fam[inc], errors="coerce")
    f_thr = pd.to_numeric(fam["OFFCUTOFF"], errors="coerce")
    f_type = pd.to_numeric(fam["FTYPE"], errors="coerce")
    raw = pd.DataFrame(
        {
            "year": pd.to_numeric(fam["YEAR"]).astype(int),
            "state_fips": fam["STATEFIP"],
            "family_id": fam["SERIAL"].astype(str) + "-" + fam["_family"],
            "family_type": f_type.where(~f_type.eq(3), 1),  # a related subfamily row stands for its primary family
            "persons": fam["FAMSIZE"] if "FAMSIZE" in fam else np.nan,
            "income": f_income.where(f_income != IPUMS_INCOME_NIU),
            "poverty_threshold": f_thr.where(f_thr < _THRESHOLD_NIU),
            "weight": fam[wcol],
        }
    )
    if len(raw) and raw["income"].isna().all():
        raise bad_file(p, f"every {inc} value is missing or not in universe")
    parts = [tidy_families(g, y, drop_related_subfamilies=False) for y, g in raw.groupby("year")]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=FAMILY_COLUMNS)
