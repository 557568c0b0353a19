"""What :func:`r3d_teach.r3d` returns: the effect, its standard errors and bands, and a summary
that renders once (text in a terminal, HTML in a notebook), following statsmodels' and
rdrobust's conventions (``se``, ``conf_int()``, ``summary()``).

Example
-------
>>> import numpy as np
>>> from r3d_teach import r3d
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(-1, 1, 400)
>>> y = [rng.normal(x_i + (x_i >= 0), 1, 100) for x_i in x]
>>> res = r3d(x, y, quantiles=np.arange(1, 10) / 10, n_boot=300, seed=1)
>>> ci = res.conf_int(kind="pointwise")            # DataFrame indexed by q
>>> bool((ci["lower"] < res.tau).all() and (res.tau < ci["upper"]).all())
True
>>> print(res.summary())                           # doctest: +ELLIPSIS
R3D (sharp, method = frechet, p = 2, kernel = triangular)
...
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from .bandwidth import BandwidthSelection
from .bootstrap import BootstrapResult, critical_value
from .gini import gini_from_quantiles
from .influence import Influence
from .plotting import plot_boundary, plot_effect
from .summary import Summary
from .validate import check_alpha

__all__ = ["R3DResult", "FirstStage", "Diagnostics", "Summary"]


@dataclass
class FirstStage:
    """The fuzzy design's first stage: the jump in P(T = 1 | x) at the cutoff.

    ``plus``/``minus``: bias-corrected boundary values of T; ``jump = plus - minus`` with its
    robust standard error ``se``; ``jump_conventional`` the order p - 1 fit's jump;
    ``h_den`` and ``b_den`` (per side, "+"/"-") its bandwidths.
    """

    plus: float
    minus: float
    jump: float
    se: float
    jump_conventional: float
    h_den: float
    b_den: dict

    @property
    def t_stat(self) -> float:
        return abs(self.jump) / self.se if self.se > 0 else np.inf


@dataclass
class Diagnostics:
    """Intermediate objects of a fit, for teaching and for checking: the one-sided fits of the
    outcome (``fits["+"]`` right of the cutoff, ``fits["-"]`` left: bias-corrected fits holding
    the order p - 1 fit at h and the order-p fit at b) and, fuzzy, of the treatment
    (``first_stage_fits["+"]``, ``first_stage_fits["-"]``), the unit quantile matrix, the
    influence terms (on y's scale: τ̂ - τ ≈ Σ_i terms_i), the bandwidth selection (when
    data-driven), the bootstrap (when run).  The fits are computed on the unit quantiles divided
    by ``options["scale"]``, an exact power of two that is 1 unless |y| is extreme."""

    fits: dict
    unit_quantiles: np.ndarray
    x: np.ndarray
    influence: Influence
    numerator: np.ndarray
    units: np.ndarray | None = None
    clusters: np.ndarray | None = None
    cluster_labels: np.ndarray | None = None
    bandwidth: BandwidthSelection | None = None
    bootstrap: BootstrapResult | None = None
    first_stage_fits: dict | None = None
    first_stage_influence: Influence | None = None
    options: dict = field(default_factory=dict)


def _fmt_b(b: dict) -> str:
    vals = [np.atleast_1d(np.asarray(b[side], dtype=float)) for side in ("-", "+")]
    if all(v.size == 1 for v in vals):
        lo, hi = float(vals[0][0]), float(vals[1][0])
        return f"{lo:.4g}" if np.isclose(lo, hi, rtol=1e-12, atol=0) else f"{lo:.4g} (left) / {hi:.4g} (right)"
    allv = np.concatenate(vals)
    return f"{allv.min():.4g} .. {allv.max():.4g} (per quantile and side)"


@dataclass
class R3DResult:
    """Result of :func:`r3d_teach.r3d`.

    Fields: ``quantiles`` (M,); ``tau`` the effect τ̂(q) (robust bias-corrected, monotone
    boundary curves); ``se`` its pointwise robust standard error √Σ_i φ_i(q)² (clustered with
    ``cluster=``); ``tau_conventional`` the order p - 1 estimate at h (no bias correction,
    monotonised the same way); ``plus``/``minus`` the monotone boundary quantile functions
    right/left of the cutoff, ``plus_raw``/``minus_raw`` the bias-corrected curves before the
    monotone step; ``h`` (float, or (M,) for "simple"), ``b`` (dict "+"/"-": the bias
    correction's bandwidth per side); ``method``, ``p``, ``kernel``, ``cutoff``, ``n_units``,
    ``n_left``/``n_right`` (units with positive kernel weight at h), ``n_clusters``;
    with the bootstrap: ``band_lower``/``band_upper``/``crit_value`` (uniform band),
    ``pointwise_lower``/``pointwise_upper``, ``tests`` (test, range, statistic,
    critical_value, p_value); fuzzy: ``first_stage`` (:class:`FirstStage`).  Intermediates are
    in ``diagnostics``.
    """

    quantiles: np.ndarray
    tau: np.ndarray
    se: np.ndarray
    tau_conventional: np.ndarray
    plus: np.ndarray
    minus: np.ndarray
    plus_raw: np.ndarray
    minus_raw: np.ndarray
    h: float | np.ndarray
    b: dict
    method: str
    p: int
    kernel: str
    cutoff: float
    n_units: int
    n_left: int
    n_right: int
    n_clusters: int | None = None
    band_lower: np.ndarray | None = None
    band_upper: np.ndarray | None = None
    crit_value: float | None = None
    pointwise_lower: np.ndarray | None = None
    pointwise_upper: np.ndarray | None = None
    tests: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["test", "range", "statistic", "critical_value", "p_value"]))
    first_stage: FirstStage | None = None
    alpha: float = 0.05
    n_boot: int = 0
    diagnostics: Diagnostics | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ conveniences
    @property
    def fuzzy(self) -> bool:
        return self.first_stage is not None

    @property
    def h_den(self) -> float | None:
        return None if self.first_stage is None else self.first_stage.h_den

    def __repr__(self) -> str:
        design = "fuzzy" if self.fuzzy else "sharp"
        hh = np.atleast_1d(self.h)
        htxt = f"{hh[0]:.4g}" if hh.size == 1 else f"{hh.min():.4g}..{hh.max():.4g}"
        boot = f", B={self.n_boot}" if self.n_boot else ""
        return (f"R3DResult({design}, method={self.method!r}, p={self.p}, n_units={self.n_units}, "
                f"h={htxt}, b={_fmt_b(self.b)}, mean tau={np.mean(self.tau):.4g}{boot})")

    def conf_int(self, alpha: float | None = None, kind: str = "uniform") -> pd.DataFrame:
        """Confidence band for τ(q): DataFrame indexed by q with columns ``lower``, ``upper``.

        ``kind="uniform"``: τ̂ ± c, c the (1 - α) quantile of the stored bootstrap sup
        statistics (needs ``n_boot > 0``; no refit for another α).  ``kind="pointwise"``:
        τ̂ ± z_{1-α/2} sd, with the bootstrap standard deviation when bootstrapped and the
        analytic ``se`` otherwise.  ``alpha`` defaults to the fit's.
        """
        a = self.alpha if alpha is None else check_alpha(alpha)
        if kind not in ("uniform", "pointwise"):
            raise ValueError(f"kind: must be 'uniform' or 'pointwise', got {kind!r}")
        boot = None if self.diagnostics is None else self.diagnostics.bootstrap
        if kind == "uniform":
            if boot is None:
                raise ValueError("kind: a uniform band needs the bootstrap; refit with n_boot > 0 "
                                 "(or ask for kind='pointwise')")
            half = np.full(self.tau.shape, critical_value(boot.sup_stats, a))
        else:
            sd = boot.sd if boot is not None else self.se
            half = norm.ppf(1 - a / 2) * sd
        idx = pd.Index(self.quantiles, name="q")
        return pd.DataFrame({"lower": self.tau - half, "upper": self.tau + half}, index=idx)

    def to_frame(self) -> pd.DataFrame:
        """One row per quantile: q, tau, se, tau_conventional, plus, minus, plus_raw, minus_raw,
        h, b_plus, b_minus, and the bands when bootstrapped."""
        M = self.quantiles.shape
        cols: dict[str, Any] = {
            "q": self.quantiles, "tau": self.tau, "se": self.se, "tau_conventional": self.tau_conventional,
            "plus": self.plus, "minus": self.minus, "plus_raw": self.plus_raw, "minus_raw": self.minus_raw,
            "h": np.broadcast_to(np.asarray(self.h, dtype=float), M),
            "b_plus": np.broadcast_to(np.asarray(self.b["+"], dtype=float), M),
            "b_minus": np.broadcast_to(np.asarray(self.b["-"], dtype=float), M),
        }
        if self.band_lower is not None:
            cols.update(band_lower=self.band_lower, band_upper=self.band_upper,
                        pointwise_lower=self.pointwise_lower, pointwise_upper=self.pointwise_upper)
        return pd.DataFrame(cols)

    def summary(self, at: Sequence[float] | None = None) -> "Summary":
        """A :class:`Summary` (print it, or let a notebook show it; ``.to_frame()`` for the
        table).  ``at``: levels to show (default: the deciles present in the grid, or the whole
        grid if it has at most 15 points)."""
        q = self.quantiles
        if at is None:
            if q.size <= 15:
                sel = np.ones(q.size, bool)
            else:
                dec = np.arange(1, 10) / 10
                sel = np.isclose(q[:, None], dec[None, :], atol=1e-9).any(axis=1)
                if sel.sum() < 3:
                    sel = np.zeros(q.size, bool)
                    sel[np.linspace(0, q.size - 1, 9).round().astype(int)] = True
        else:
            at = np.atleast_1d(np.asarray(at, dtype=float))
            sel = np.isclose(q[:, None], at[None, :], atol=1e-9).any(axis=1)
            if sel.sum() != at.size:
                raise ValueError("at: every level must be on the quantile grid")
        df = self.to_frame()
        keep = ["q", "tau", "se", "plus", "minus"]
        if self.band_lower is not None:
            keep += ["band_lower", "band_upper"]
        table = df.loc[sel, keep].reset_index(drop=True)
        design = "fuzzy" if self.fuzzy else "sharp"
        hh = np.atleast_1d(self.h)
        htxt = f"{hh[0]:.4g}" if hh.size == 1 else f"{hh.min():.4g} .. {hh.max():.4g} (per quantile)"
        lines = [
            f"R3D ({design}, method = {self.method}, p = {self.p}, kernel = {self.kernel})",
            f"  units: {self.n_units} (in window: {self.n_left} left, {self.n_right} right), cutoff = {self.cutoff:g}"
            + (f", {self.n_clusters} clusters" if self.n_clusters is not None else ""),
            f"  bandwidth h = {htxt}, bias correction b = {_fmt_b(self.b)}",
        ]
        if self.fuzzy:
            fs = self.first_stage
            lines.append(f"  first stage: {fs.minus:.4g} -> {fs.plus:.4g} (jump {fs.jump:.4g}, se {fs.se:.4g}; "
                         f"h_den = {fs.h_den:.4g}, b_den = {_fmt_b(fs.b_den)})")
        lines.append(f"  average effect over the grid: {np.mean(self.tau):.4g}")
        if self.band_lower is not None:
            lines.append(f"  {100 * (1 - self.alpha):g}% uniform band: tau ± {self.crit_value:.4g} (B = {self.n_boot}"
                         + (", clustered multipliers)" if self.n_clusters is not None else ")"))
        gini = None
        if len(self.tests) and (self.tests["test"] == "gini").any():
            gp, gm = float(gini_from_quantiles(self.plus, q)), float(gini_from_quantiles(self.minus, q))
            gini = {"right": gp, "left": gm, "difference": gp - gm}
            lines.append(f"  Gini coefficient: right {gp:.4f}, left {gm:.4f}, difference (right - left) {gp - gm:+.4f}")
        return Summary(header=lines, table=table, tests=self.tests.copy(), gini=gini)

    def plot(self, ax=None, boundary: bool = False, pointwise: bool = True):
        """Plot the effect with its bands; ``boundary=True`` adds a panel with m̂_+ and m̂_-.

        Returns the matplotlib Axes (or an array of two when ``boundary``).
        """
        if not boundary:
            return plot_effect(self, ax=ax, pointwise=pointwise)
        import matplotlib.pyplot as plt  # matplotlib loads only when a figure is drawn

        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        plot_effect(self, ax=ax[0], pointwise=pointwise)
        plot_boundary(self, ax=ax[1])
        return ax
