"""A synthetic replica of the governors application, calibrated to published moments.

**It is not real data.** Every frame it returns carries ``source == "synthetic"`` in a column,
``df.attrs["source"] == "synthetic"``, ``df.attrs["banner"]`` (:data:`SYNTHETIC_BANNER`) and a
:class:`SyntheticDataWarning`.  Its treatment effect is put in by construction.

Design (numbers from ``application_data.md`` §2.1 and §2.3, and the paper's Fig. 6)
-----------------------------------------------------------------------------------
* **Units.** 357 state-elections, 1984–2010, on the real election calendar in simplified form:
  NH and VT every two years (14 each), RI every two years until 1994, nine states in presidential
  years, VA/NJ and KY/LA/MS in odd years, the other 32 in midterm years; no Alaska.
* **Running variable.** :math:`X_i = 0.5 + F^{-1}(U_i)` with :math:`F^{-1}` the piecewise-linear
  interpolation of :data:`SHARE_KNOTS`, the empirical quantiles of the two-party margin in the
  Algara-Amlani data (p5 −0.208, p25 −0.074, p50 −0.010, p75 0.065, p95 0.195, plus the counts
  within 0.02/0.05/0.083/0.10/0.22 of the cutoff: 61/143/203/235/331 of 357), and stratified
  uniforms :math:`U_i = (\\pi(i) + V_i)/N`.  Sharp design: ``dem_win = X > 0.5``.
* **Outcomes.** Family :math:`j` of unit :math:`i` has income-to-poverty ratio
  :math:`Y_{ij} = s_i\\,Q_0(U_{ij}) + T_i\\,\\tau(U_{ij})`, :math:`U_{ij}\\sim U(0,1)`, so the unit's
  quantile function is exactly :math:`Q_i(q) = s_i Q_0(q) + T_i \\tau(q)` (non-decreasing for the
  scales used).  :math:`Q_0(q) = \\max\\{T(q) - \\bar\\pi\\,\\tau(q), 0\\}` where :math:`T` is a
  monotone (PCHIP) curve through :data:`INCOME_KNOTS` — the mean within-state quantiles
  (p25 1.25, p50 2.64, p75 4.41, p90 6.61, p95 8.55 poverty lines) — and
  :math:`\\bar\\pi = 168/357` the real share of Democratic wins, so that the *pooled* mean
  quantiles match the targets with or without the effect (``effect=False`` uses
  :math:`Q_0 = T`).  Unit scale :math:`s_i = \\exp(a_{state} + e_i + 0.4(X_i - 0.5) - (\\sigma_a^2 + \\sigma_e^2)/2)`
  with :math:`a \\sim N(0, 0.14^2)`, :math:`e \\sim N(0, 0.13^2)` (both centred to mean 0 in
  each draw, so the mean quantiles hit the targets for every seed), clipped to [0.6, 1.6]: a
  persistent state level, election noise and a smooth (not discontinuous) trend in :math:`X`.
  The across-unit sd of the quantiles (about 0.5 at the median, 1.3–1.5 at p90) is a little
  above Dube's 1998–2004 figures (0.44, 0.98) because 1987–2013 adds variation over time;
  ``noise`` rescales both shocks.  Even so the replica's signal is clearer than the paper's:
  with h = 0.22 its uniform band typically excludes zero from about q = 0.5 up, the paper's
  only over 0.85–0.95.
* **Effect.** :math:`\\tau(q)` is piecewise linear through :data:`EFFECT_KNOTS`: +0.5 on
  [0, 0.05], 0 at q = 0.2, −1.5 from q = 0.8 on; its mean over the paper's grid is −0.643
  (paper: −0.647), it is −1.5 on [0.85, 0.95] and about −0.75 at the median.
* **Sizes and weights.** Families per unit: a state size drawn log-normally around
  ``families_per_unit`` (clipped to [200, 2000]) times election noise; weights log-normal around
  1,500 (independent of income, so weighted and unweighted population quantiles agree).
* The same within-unit winsorising as for real data is applied (95th weighted percentile).

Example
-------
>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     df = synthetic_governors_income(seed=1)
>>> df.attrs["source"], df["unit"].nunique(), bool((df["source"] == "synthetic").all())
('synthetic', 357, True)
>>> round(float(true_effect().mean()), 3)
-0.643
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from ._common import (
    OUTPUT_COLUMNS,
    PAPER_GRID,
    SYNTHETIC_BANNER,
    warn_synthetic,
    winsorize_within_units,
)
from ._states import POSTAL_TO_FIPS

__all__ = [
    "EFFECT_KNOTS",
    "INCOME_KNOTS",
    "SHARE_KNOTS",
    "TREATED_SHARE",
    "baseline_quantile",
    "synthetic_elections",
    "synthetic_governors_income",
    "true_effect",
]

#: (probability, X − 0.5): quantile knots of the two-party margin (Algara-Amlani 1984–2010).
SHARE_KNOTS: tuple[tuple[float, float], ...] = (
    (0.0, -0.33), (0.01, -0.26), (0.05, -0.208), (0.10, -0.149), (0.18, -0.10), (0.25, -0.074),
    (0.325, -0.05), (0.45, -0.02), (0.50, -0.010), (0.62, 0.02), (0.725, 0.05), (0.75, 0.065),
    (0.838, 0.10), (0.90, 0.150), (0.95, 0.195), (0.99, 0.25), (1.0, 0.31),
)
#: (q, Q): target mean within-state quantiles of income / poverty threshold.
INCOME_KNOTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (0.05, 0.25), (0.10, 0.55), (0.25, 1.25), (0.50, 2.64), (0.75, 4.41),
    (0.90, 6.61), (0.95, 8.55), (0.99, 14.0), (1.0, 25.0),
)
#: (q, tau): the built-in effect on the quantile function, in poverty lines.
EFFECT_KNOTS: tuple[tuple[float, float], ...] = ((0.0, 0.5), (0.05, 0.5), (0.20, 0.0), (0.80, -1.5), (1.0, -1.5))
#: Log-scale sd of the persistent state level and of the election-specific shock, and the
#: smooth trend of the log scale in X - 0.5 (see the module docstring).
SIGMA_STATE = 0.14
SIGMA_ELECTION = 0.13
TREND = 0.4
#: Share of Democratic wins among the 357 real contested elections.
TREATED_SHARE = 168 / 357

_PRESIDENTIAL = ("DE", "IN", "MO", "MT", "NC", "ND", "UT", "WA", "WV")
_ODD_85 = ("NJ", "VA")
_ODD_87 = ("KY", "LA", "MS")
_TWO_YEAR = ("NH", "VT")
_MIDTERM = (
    "AL", "AZ", "AR", "CA", "CO", "CT", "FL", "GA", "HI", "ID", "IL", "IA", "KS", "ME", "MD", "MA",
    "MI", "MN", "NE", "NV", "NM", "NY", "OH", "OK", "OR", "PA", "SC", "SD", "TN", "TX", "WI", "WY",
)


def _calendar() -> pd.DataFrame:
    rows = [(s, y) for s in _PRESIDENTIAL for y in range(1984, 2009, 4)]
    rows += [(s, y) for s in _ODD_85 for y in range(1985, 2010, 4)]
    rows += [(s, y) for s in _ODD_87 for y in range(1987, 2008, 4)]
    rows += [(s, y) for s in _TWO_YEAR for y in range(1984, 2011, 2)]
    rows += [("RI", y) for y in (1984, 1986, 1988, 1990, 1992, 1994, 1998, 2002, 2006, 2010)]
    rows += [(s, y) for s in _MIDTERM for y in range(1986, 2011, 4)]
    return pd.DataFrame(rows, columns=["state", "year"]).sort_values(["state", "year"], ignore_index=True)


_FINE = np.linspace(0.0, 1.0, 20001)
_TARGET_FINE = PchipInterpolator(*map(np.asarray, zip(*INCOME_KNOTS)))(_FINE)


def true_effect(q: np.ndarray | None = None, effect: bool = True) -> np.ndarray:
    """The replica's true effect :math:`\\tau(q)` on the quantile function (zeros if ``effect=False``).

    ``q`` defaults to the paper's grid.  This is the estimand of R3D on the replica.

    >>> true_effect([0.0, 0.2, 0.5, 0.9]).round(6).tolist()
    [0.5, 0.0, -0.75, -1.5]
    """
    qq = PAPER_GRID if q is None else np.asarray(q, dtype=float)
    if np.any((qq < 0) | (qq > 1)):
        raise ValueError("q must lie in [0, 1]")
    if not effect:
        return np.zeros_like(qq, dtype=float)
    kq, kt = map(np.asarray, zip(*EFFECT_KNOTS))
    return np.interp(qq, kq, kt)


def baseline_quantile(q: np.ndarray, effect: bool = True) -> np.ndarray:
    """:math:`Q_0(q)`, the untreated quantile function of a unit with scale 1."""
    qq = np.asarray(q, dtype=float)
    target = np.interp(qq, _FINE, _TARGET_FINE)
    if not effect:
        return target
    return np.maximum(target - TREATED_SHARE * true_effect(qq), 0.0)


def _centred(v: np.ndarray) -> np.ndarray:
    return v - v.mean()


def synthetic_elections(seed: int | np.random.Generator | None = 0) -> pd.DataFrame:
    """357 synthetic state-elections: ``state, state_fips, year, x, dem_win`` and flags."""
    rng = np.random.default_rng(seed)
    units = _calendar()
    n = len(units)
    u = (rng.permutation(n) + rng.uniform(size=n)) / n
    kp, kd = map(np.asarray, zip(*SHARE_KNOTS))
    units["x"] = 0.5 + np.interp(u, kp, kd)
    units["dem_win"] = (units["x"] > 0.5).astype(int)
    units["state_fips"] = units["state"].map(POSTAL_TO_FIPS).astype("Int64")
    units["non_dr_winner"] = False
    units["louisiana_system"] = units["state"] == "LA"
    return units


def synthetic_governors_income(
    seed: int | None = 0,
    *,
    effect: bool = True,
    families_per_unit: int = 600,
    noise: float = 1.0,
    winsor: float | None = 0.95,
    offset: int = 3,
    nh_vt_offset: int = 1,
    warn: bool = True,
) -> pd.DataFrame:
    """The long analysis table of the replica (same columns as the real one).

    Parameters
    ----------
    seed : random seed (the same seed gives the same table).
    effect : ``True`` for the paper-shaped effect, ``False`` for no effect at all.
    families_per_unit : typical number of families per state-election (200–2000 after clipping).
    noise : multiplies the sd of the state and election shocks (1 = the calibration in the module docstring; 0 =
        every unit shares one untreated quantile function up to the smooth trend).
    winsor : within-unit weighted top-coding level (``None`` to skip).
    offset, nh_vt_offset : the outcome year is ``year + offset`` (``+ nh_vt_offset`` for NH and VT);
        only a label here, the synthetic incomes do not depend on it.
    warn : emit :class:`SyntheticDataWarning`.

    Returns
    -------
    DataFrame with :data:`OUTPUT_COLUMNS`; ``attrs`` hold ``source``, ``banner``, ``effect``,
    ``seed``, ``true_effect`` (tuple, on ``attrs["grid"]`` = the paper's grid).
    """
    if not isinstance(effect, (bool, np.bool_)):
        raise ValueError(f"effect must be True or False, got {effect!r}")
    if not (np.isfinite(noise) and 0 <= noise <= 5):
        raise ValueError(f"noise must be in [0, 5], got {noise!r}")
    if not 10 <= int(families_per_unit) <= 100_000:
        raise ValueError(f"families_per_unit must be between 10 and 100000, got {families_per_unit!r}")
    rng = np.random.default_rng(seed)
    units = synthetic_elections(rng)
    n_units = len(units)

    states = units["state"].unique()
    sd_state, sd_election = SIGMA_STATE * noise, SIGMA_ELECTION * noise
    level = rng.normal(0.0, sd_state, len(states))
    state_level = pd.Series(level - level.mean(), index=states)  # centred: mean scale ~ 1 for every seed
    state_size = pd.Series(np.exp(rng.normal(np.log(families_per_unit), 0.45, len(states))), index=states)
    scale = np.exp(units["state"].map(state_level).to_numpy() + _centred(rng.normal(0.0, sd_election, n_units))
                   + TREND * (units["x"].to_numpy() - 0.5) - 0.5 * (sd_state**2 + sd_election**2))
    scale = np.clip(scale, 0.6, 1.6)
    lo, hi = min(200, families_per_unit), max(2000, families_per_unit)
    n_fam = np.clip(np.round(units["state"].map(state_size).to_numpy() * np.exp(rng.normal(0, 0.1, n_units))), lo, hi).astype(int)

    idx = np.repeat(np.arange(n_units), n_fam)
    u = rng.uniform(size=idx.size)
    base = np.interp(u, _FINE, baseline_quantile(_FINE, effect))
    y = scale[idx] * base + units["dem_win"].to_numpy()[idx] * true_effect(u, effect)
    w = np.round(1500.0 * np.exp(rng.normal(0.0, 0.5, idx.size)), 2)

    short = units["state"].isin(["NH", "VT"]).to_numpy()
    outcome_year = units["year"].to_numpy() + np.where(short, nh_vt_offset, offset)
    unit_id = (units["state"] + "-" + units["year"].astype(str)).to_numpy()
    df = pd.DataFrame(
        {
            "unit": unit_id[idx],
            "state": units["state"].to_numpy()[idx],
            "state_fips": units["state_fips"].to_numpy()[idx],
            "year": units["year"].to_numpy()[idx],
            "outcome_year": outcome_year[idx],
            "x": units["x"].to_numpy()[idx],
            "dem_win": units["dem_win"].to_numpy()[idx],
            "y": y,
            "w": w,
            "non_dr_winner": False,
            "louisiana_system": units["louisiana_system"].to_numpy()[idx],
            "source": "synthetic",
        }
    )
    if winsor is not None:
        df["y"] = winsorize_within_units(df, winsor).to_numpy()
    df = df[OUTPUT_COLUMNS]
    df.attrs.update(
        {
            "source": "synthetic",
            "banner": SYNTHETIC_BANNER,
            "effect": bool(effect),
            "seed": seed,
            "winsor": winsor,
            "grid": tuple(float(v) for v in PAPER_GRID),
            "true_effect": tuple(float(v) for v in true_effect(PAPER_GRID, effect)),
        }
    )
    if warn:
        warn_synthetic()
    return df
