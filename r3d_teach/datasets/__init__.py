"""Data for the governors application of Van Dijcke (2025): loaders, builder, synthetic replica.

* :func:`governors_income` — the analysis table (``source="auto"|"synthetic"|"census"|"ipums"``);
* :func:`available_sources` — what is cached locally (never downloads);
* :func:`download_application_data` — fetch and cache the real inputs (needs internet);
* election returns: :func:`load_elections`, :func:`state_elections`, :func:`read_county_returns`;
* CPS ASEC: :func:`read_asec_csv_zip`, :func:`read_asec_fixed_width`, :func:`parse_dictionary`,
  :func:`read_ipums_extract`, :func:`load_cps`;
* the cache: every cached file is hash-checked when used (:class:`DataChangedWarning`,
  :class:`BadDataFileError`), processed tables are keyed on their inputs and the code version
  (:class:`StaleCacheWarning`), downloads share one time budget (``timeout=``);
* the replica: :func:`synthetic_governors_income`, :func:`true_effect`;
* the paper's constants: :data:`PAPER_GRID`, :data:`PAPER_SPEC`, :data:`PAPER_RESULTS`.

Nothing here downloads at import time; the cache folder is ``$R3D_TEACH_DATA`` (a folder) or the
user cache.

>>> from r3d_teach import datasets
>>> len(datasets.PAPER_GRID)
95
"""
from ._common import (
    OUTPUT_COLUMNS,
    PAPER_GRID,
    PAPER_RESULTS,
    PAPER_SPEC,
    SYNTHETIC_BANNER,
    SyntheticDataWarning,
    paper_grid,
    weighted_unit_quantiles,
    winsorize_within_units,
)
from ._cache import PROCESSING_VERSION, StaleCacheWarning
from ._fetch import ENV_VAR, BadDataFileError, DataChangedWarning, DataNotAvailableError, data_dir
from .cps import (
    FAMILY_COLUMNS,
    asec_remote_files,
    cached_cps_years,
    fetch_asec,
    load_cps,
    parse_dictionary,
    read_asec_csv_zip,
    read_asec_fixed_width,
    tidy_families,
)
from .elections import (
    fetch_elections,
    load_elections,
    read_county_returns,
    seat_party,
    state_elections,
)
from .ipums import read_ipums_extract
from .governors import (
    available_sources,
    build_governors_income,
    download_application_data,
    governors_income,
    outcome_years,
    unit_table,
)
from .synthetic import baseline_quantile, synthetic_elections, synthetic_governors_income, true_effect

__all__ = [
    "ENV_VAR", "FAMILY_COLUMNS", "OUTPUT_COLUMNS", "PAPER_GRID", "PAPER_RESULTS", "PAPER_SPEC",
    "PROCESSING_VERSION", "SYNTHETIC_BANNER", "BadDataFileError", "DataChangedWarning",
    "DataNotAvailableError", "StaleCacheWarning", "SyntheticDataWarning", "asec_remote_files",
    "available_sources", "baseline_quantile", "build_governors_income", "cached_cps_years",
    "data_dir", "download_application_data", "fetch_asec", "fetch_elections", "governors_income",
    "load_cps", "load_elections", "outcome_years", "paper_grid", "parse_dictionary",
    "read_asec_csv_zip", "read_asec_fixed_width", "read_county_returns", "read_ipums_extract",
    "seat_party", "state_elections", "synthetic_elections", "synthetic_governors_income",
    "tidy_families", "true_effect", "unit_table", "weighted_unit_quantiles",
    "winsorize_within_units",
]
