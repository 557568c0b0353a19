"""Shared constants and helpers of the governors application: the paper's grid, specification and
reported numbers, the weighted quantile used for winsorising, and the synthetic-data banner.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..core.quantiles import unit_quantiles

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

def weighted_unit_quantiles(
    df: pd.DataFrame,
    q: Sequence[float] | np.ndarray = PAPER_GRID,
    *,
    unit: str = "unit",
    y: str = "y",
    w: str | None = "w",
) -> pd.DataFrame:
    """Weighted inverse-EDF ("type 1") quantiles of ``y`` within each unit, for a long DataFrame.

    :math:`\\hat Q_i(q) = \\min\\{y : \\hat F_i(y) \\ge q\\}` with
    :math:`\\hat F_i(y) = \\sum_j w_{ij} 1\\{y_{ij} \\le y\\} / \\sum_j w_{ij}`, computed by the
    estimator's own routine (:func:`r3d_teach.unit_quantiles` with ``method="inverted_cdf"``);
    levels 0 and 1 give each unit's minimum and maximum.  Returns a units × q DataFrame
    (index = unit labels, sorted; columns = q).  The datasets use it for winsorising and
    calibration checks.

    >>> d = pd.DataFrame({"unit": ["a"] * 4, "y": [4.0, 1.0, 3.0, 2.0], "w": [1, 1, 1, 1]})
    >>> weighted_unit_quantiles(d, [0.25, 0.26, 0.5, 1.0]).values.tolist()
    [[1.0, 2.0, 2.0, 4.0]]
    """
    qs = np.asarray(q, dtype=float).ravel()
    if qs.size == 0 or np.any(~np.isfinite(qs)) or np.any((qs < 0) | (qs > 1)):
        raise ValueError("q must be non-empty probabilities in [0, 1]")
    yv = df[y].to_numpy(dtype=float)
    if np.any(~np.isfinite(yv)):
        raise ValueError(f"column {y!r} has missing or infinite values")
    wv = None if w is None else df[w].to_numpy(dtype=float)
    if wv is not None and (np.any(~np.isfinite(wv)) or np.any(wv < 0)):
        raise ValueError(f"column {w!r} must hold finite, non-negative weights")
    codes, labels = pd.factorize(df[unit], sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    ys = np.split(yv[order], bounds)
    ws = None if wv is None else np.split(wv[order], bounds)
    if ws is not None and any(v.sum() <= 0 for v in ws):
        raise ValueError(f"every unit needs a positive total weight in column {w!r}")
    out = np.empty((len(ys), qs.size))
    inner = (qs > 0) & (qs < 1)
    if inner.any():
        uq, inv = np.unique(qs[inner], return_inverse=True)
        out[:, inner] = unit_quantiles(ys, uq, weights=ws, method="inverted_cdf")[:, inv]
    if (~inner).any():
        lo = np.array([v.min() for v in ys])
        hi = np.array([v.max() for v in ys])
        out[:, qs <= 0] = lo[:, None]
        out[:, qs >= 1] = hi[:, None]
    return pd.DataFrame(out, index=pd.Index(labels, name=unit), columns=qs)


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
