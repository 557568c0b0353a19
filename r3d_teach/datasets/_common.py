"""Shared constants and helpers of the governors application: the paper's grid, specification and
reported numbers, the weighted quantile used for winsorising, and the synthetic-data banner.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "OUTPUT_COLUMNS",
    "PAPER_GRID",
    "PAPER_RESULTS",
    "PAPER_SPEC",
    "SYNTHETIC_BANNER",
    "SyntheticDataWarning",
    "paper_grid",
    "weighted_unit_quantiles",
    "winsorize_within_units",
]

#: The paper's quantile grid: 95 equally spaced points in [1e-6, 0.95 + 1e-6].
PAPER_GRID: np.ndarray = np.linspace(1e-6, 0.95 + 1e-6, 95)
PAPER_GRID.setflags(write=False)


def paper_grid() -> np.ndarray:
    """A writable copy of :data:`PAPER_GRID`.

    >>> g = paper_grid(); len(g), float(g[0]), round(float(g[-1]), 6), round(float(g[1] - g[0]), 6)
    (95, 1e-06, 0.950001, 0.010106)
    """
    return PAPER_GRID.copy()


#: Keyword arguments of ``r3d_teach.r3d`` reproducing the paper's main specification
#: (Fréchet, p = 2, triangular kernel, coverage-corrected IMSE bandwidth, 90 % uniform bands,
#: 5,000 multiplier draws, 95-point grid, inverse-EDF unit quantiles).  Use as
#: ``r3d("x", "y", data=df, unit="unit", weights="w", **PAPER_SPEC)``.
PAPER_SPEC: dict = {
    "cutoff": 0.5,
    "method": "frechet",
    "p": 2,
    "kernel": "triangular",
    "coverage_correction": True,
    "alpha": 0.10,
    "n_boot": 5000,
    "quantiles": PAPER_GRID,
    "quantile_method": "inverted_cdf",
}

#: Numbers reported in Van Dijcke (2025), section 4.2, Figure 6 and Table A-1.
#: "v1" = arXiv 2504.03992v1 (4 Apr 2025); "oct2025" = the author's 1 Oct 2025 version.
PAPER_RESULTS: dict = {
    "v1": {
        "n_units": 356,
        "bandwidth": 0.22,
        "average_effect": -0.647,
        "nullity_p": 0.038,
        "homogeneity_p": 0.061,
        "effect_bottom_approx": 0.5,
        "effect_85_95_approx": -1.5,
        "rdrobust_state_mean": {"estimate": -0.631, "se": 0.419, "ci": (-1.537, 0.105), "p": 0.087, "h": 0.083, "eff_n": 203},
    },
    "oct2025": {
        "n_units": 356,
        "bandwidth": 0.22,
        "average_effect": -0.646,
        "nullity_p": 0.043,
        "homogeneity_p": 0.069,
        "effect_bottom_approx": 0.5,
        "effect_85_95_approx": -1.5,
        "rdrobust_state_mean": {"estimate": -0.64, "se": 0.436, "ci": (-1.597, 0.111), "p": 0.088, "h": 0.084, "eff_n": 204},
    },
}

SYNTHETIC_BANNER = (
    "SYNTHETIC DATA: a replica calibrated to published moments of Van Dijcke (2025) and public "
    "election/CPS summaries. Its treatment effect is built in by construction; it shows how the "
    "method works and is not evidence about governors or incomes."
)


class SyntheticDataWarning(UserWarning):
    """Emitted whenever synthetic data stand in for the real application data."""


def warn_synthetic(extra: str = "", stacklevel: int = 3) -> None:
    warnings.warn(SYNTHETIC_BANNER + (" " + extra if extra else ""), SyntheticDataWarning, stacklevel=stacklevel)


#: Columns of the long analysis table returned by ``governors_income`` (real or synthetic).
OUTPUT_COLUMNS = [
    "unit", "state", "state_fips", "year", "outcome_year", "x", "dem_win", "y", "w",
    "non_dr_winner", "louisiana_system", "source",
]

_TIE_TOL = 1e-10


def _sorted_cdf(df: pd.DataFrame, unit: str, y: str, w: str | None):
    """Sort by (unit, y); return codes, sorted y, the within-unit weighted EDF and unit labels."""
    codes, labels = pd.factorize(df[unit], sort=True)
    yv = df[y].to_numpy(dtype=float)
    wv = np.ones(len(df)) if w is None else df[w].to_numpy(dtype=float)
    if np.any(~np.isfinite(yv)):
        raise ValueError(f"column {y!r} has missing or infinite values")
    if np.any(~np.isfinite(wv)) or np.any(wv < 0):
        raise ValueError(f"column {w!r} must hold finite, non-negative weights")
    order = np.lexsort((yv, codes))
    c, ys, ws = codes[order], yv[order], wv[order]
    cw = np.cumsum(ws)
    starts = np.r_[0, np.flatnonzero(np.diff(c)) + 1]
    ends = np.r_[starts[1:], len(c)] - 1
    before = np.r_[0.0, cw][starts]  # cumulative weight before each unit
    total = cw[ends] - before
    if np.any(total <= 0):
        raise ValueError(f"every unit needs a positive total weight in column {w!r}")
    cdf = (cw - np.repeat(before, ends - starts + 1)) / np.repeat(total, ends - starts + 1)
    cdf[ends] = 1.0
    return order, c, ys, cdf, labels, starts


def weighted_unit_quantiles(
    df: pd.DataFrame,
    q: Sequence[float] | np.ndarray = PAPER_GRID,
    *,
    unit: str = "unit",
    y: str = "y",
    w: str | None = "w",
) -> pd.DataFrame:
    """Weighted inverse-EDF ("type 1") quantiles of ``y`` within each unit.

    :math:`\\hat Q_i(q) = \\min\\{y : \\hat F_i(y) \\ge q\\}` with
    :math:`\\hat F_i(y) = \\sum_j w_{ij} 1\\{y_{ij} \\le y\\} / \\sum_j w_{ij}`; comparisons use a
    relative tolerance of 1e-10 so that e.g. 19 of 20 equal weights count as exactly 0.95.
    Returns a units × q DataFrame (index = unit labels, columns = q).  The estimator has its own
    quantile code; this one is what the datasets use for winsorising and calibration checks.

    >>> d = pd.DataFrame({"unit": ["a"] * 4, "y": [4.0, 1.0, 3.0, 2.0], "w": [1, 1, 1, 1]})
    >>> weighted_unit_quantiles(d, [0.25, 0.26, 0.5, 1.0]).values.tolist()
    [[1.0, 2.0, 2.0, 4.0]]
    """
    qs = np.asarray(q, dtype=float).ravel()
    if qs.size == 0 or np.any((qs < 0) | (qs > 1)):
        raise ValueError("q must be non-empty probabilities in [0, 1]")
    _, c, ys, cdf, labels, starts = _sorted_cdf(df, unit, y, w)
    key = c + cdf  # increasing: unit code + within-unit EDF in (0, 1]
    target = np.arange(len(labels))[:, None] + np.maximum(qs[None, :] - _TIE_TOL, 0.0)
    idx = np.searchsorted(key, target.ravel(), side="left").reshape(target.shape)
    idx = np.maximum(idx, starts[:, None])  # q = 0 -> the unit's minimum
    return pd.DataFrame(ys[idx], index=pd.Index(labels, name=unit), columns=qs)


def winsorize_within_units(
    df: pd.DataFrame,
    level: float = 0.95,
    *,
    unit: str = "unit",
    y: str = "y",
    w: str | None = "w",
) -> pd.Series:
    """Top-code ``y`` at each unit's weighted ``level`` quantile: :math:`\\min(y_{ij}, \\hat Q_i(level))`.

    The paper "winsorizes at the 95th percentile"; we do it within each state-election unit,
    with the family weights and the type-1 quantile of :func:`weighted_unit_quantiles` (so the
    cap is an observed value).  Returns the new column, aligned with ``df``.

    >>> d = pd.DataFrame({"unit": ["a"] * 5, "y": [1.0, 2, 3, 4, 50], "w": [1.0] * 5})
    >>> winsorize_within_units(d, 0.8).tolist()
    [1.0, 2.0, 3.0, 4.0, 4.0]
    """
    if not 0 < level <= 1:
        raise ValueError(f"level must be in (0, 1], got {level!r}")
    caps = weighted_unit_quantiles(df, [level], unit=unit, y=y, w=w).iloc[:, 0]
    return np.minimum(df[y].astype(float), df[unit].map(caps).astype(float)).rename(y)
