"""US state codes: postal abbreviation, FIPS code, and the Census Bureau's 1960 state code.

FIPS codes are the ANSI/FIPS 5-2 state codes.  The 1960 Census state code (``GESTCEN`` /
``HG-ST60`` in older March CPS files) numbers states by Census division; the table below is
the standard one used in CPS documentation (verify against the year's dictionary if a file has
no ``GESTFIPS``).
"""
from __future__ import annotations

# postal: (fips, census-1960 code)
STATES: dict[str, tuple[int, int]] = {
    "AL": (1, 63), "AK": (2, 94), "AZ": (4, 86), "AR": (5, 71), "CA": (6, 93),
    "CO": (8, 84), "CT": (9, 16), "DE": (10, 51), "DC": (11, 53), "FL": (12, 59),
    "GA": (13, 58), "HI": (15, 95), "ID": (16, 82), "IL": (17, 33), "IN": (18, 32),
    "IA": (19, 42), "KS": (20, 47), "KY": (21, 61), "LA": (22, 72), "ME": (23, 11),
    "MD": (24, 52), "MA": (25, 14), "MI": (26, 34), "MN": (27, 41), "MS": (28, 64),
    "MO": (29, 43), "MT": (30, 81), "NE": (31, 46), "NV": (32, 88), "NH": (33, 12),
    "NJ": (34, 22), "NM": (35, 85), "NY": (36, 21), "NC": (37, 56), "ND": (38, 44),
    "OH": (39, 31), "OK": (40, 73), "OR": (41, 92), "PA": (42, 23), "RI": (44, 15),
    "SC": (45, 57), "SD": (46, 45), "TN": (47, 62), "TX": (48, 74), "UT": (49, 87),
    "VT": (50, 13), "VA": (51, 54), "WA": (53, 91), "WV": (54, 55), "WI": (55, 35),
    "WY": (56, 83),
}

POSTAL_TO_FIPS: dict[str, int] = {k: v[0] for k, v in STATES.items()}
FIPS_TO_POSTAL: dict[int, str] = {v[0]: k for k, v in STATES.items()}
CENSUS_TO_FIPS: dict[int, int] = {v[1]: v[0] for v in STATES.values()}
