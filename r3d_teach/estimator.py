"""``r3d()``: the R3D estimator for sharp and fuzzy designs, and its result (chapters 2–6).

Pipeline (Van Dijcke 2025, §2.5, §2.7.1/§3.3.1, App. A-4):

1. unit quantile functions Q̂ (n × M) on the grid (:mod:`r3d_teach.quantiles`);
2. bandwidth(s): data-driven (:mod:`r3d_teach.bandwidth`) or given;
3. one-sided local polynomial fits of order p of every quantile at the cutoff
   (:mod:`r3d_teach.locpoly`): m̂_±(q) = Σ_i w^±_i(q) Q̂_i(q);
4. monotone boundary curves (:mod:`r3d_teach.frechet`): "frechet" projects each curve onto
   non-decreasing functions (local Fréchet regression in Wasserstein space, one h);
   "simple" rearranges (one h per quantile allowed);
5. τ̂(q) = m̂_+(q) - m̂_-(q); fuzzy: τ̂_F(q) = τ̂(q) / (m̂_{+,T} - m̂_{-,T}) with the
   first stage fitted at its own bandwidth h_den;
6. optional multiplier bootstrap: uniform and pointwise bands, nullity / homogeneity /
   centred-Gini tests (:mod:`r3d_teach.inference`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from . import _validate as V
from .bandwidth import BandwidthSelection, bandwidth_from_matrix
from .frechet import REARRANGEMENTS, isotonic_projection, rearrange
from .inference import (RESIDUAL_RULES, TESTS, BootstrapResult, bootstrap_residuals, multiplier_bootstrap,
                        nn_residuals, parse_test_ranges, gini_from_quantiles)
from .locpoly import OneSidedFit, local_poly_fit, side_mask
from .quantiles import QUANTILE_METHODS, unit_quantiles

__all__ = ["r3d", "R3DResult"]

FIRST_STAGE_MIN = 1e-6


@dataclass
class R3DResult:
    """Result of :func:`r3d`.

    Core fields: ``quantiles`` (M,), ``tau`` (M,) the effect, ``plus`` / ``minus`` the monotone
    boundary quantile functions right / left of the cutoff (outcome limits, undivided in fuzzy
    designs), ``h`` (float, or (M,) for "simple"), ``method``, ``p``, ``kernel``, ``cutoff``,
    ``n_units``, ``n_left`` / ``n_right`` (units with positive kernel weight; the minimum over
    the grid when h varies), ``band_lower`` / ``band_upper`` / ``crit_value`` (uniform band, when
    bootstrapped), ``pointwise_lower`` / ``pointwise_upper``, ``tests`` (DataFrame: test, range,
    statistic, critical_value, p_value) and ``first_stage`` (fuzzy: dict with plus, minus, jump,
    its standard error se = √Σφ_T,i², h_den).
    """

    quantiles: np.ndarray
    tau: np.ndarray
    plus: np.ndarray
    minus: np.ndarray
    h: float | np.ndarray
    method: str
    p: int
    kernel: str
    cutoff: float
    n_units: int
    n_left: int
    n_right: int
    band_lower: np.ndarray | None = None
    band_upper: np.ndarray | None = None
    crit_value: float | None = None
    pointwise_lower: np.ndarray | None = None
    pointwise_upper: np.ndarray | None = None
    tests: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["test", "range", "statistic", "critical_value", "p_value"]))
    first_stage: dict | None = None
    alpha: float = 0.05
    n_boot: int = 0
    plus_raw: np.ndarray | None = field(default=None, repr=False)
    minus_raw: np.ndarray | None = field(default=None, repr=False)
    numerator: np.ndarray | None = field(default=None, repr=False)
    bandwidth: BandwidthSelection | None = field(default=None, repr=False)
    bootstrap: BootstrapResult | None = field(default=None, repr=False)
    fits: dict = field(default_factory=dict, repr=False)
    unit_quantiles: np.ndarray | None = field(default=None, repr=False)
    x: np.ndarray | None = field(default=None, repr=False)
    units: np.ndarray | None = field(default=None, repr=False)
    options: dict = field(default_factory=dict, repr=False)

    @property
    def fuzzy(self) -> bool:
        return self.first_stage is not None

    @property
    def h_den(self) -> float | None:
        return None if self.first_stage is None else self.first_stage["h_den"]

    def to_frame(self) -> pd.DataFrame:
        """One row per quantile: q, tau, plus, minus, (raw curves), h, and bands if present."""
        cols: dict[str, Any] = {"q": self.quantiles, "tau": self.tau, "plus": self.plus, "minus": self.minus}
        if self.plus_raw is not None:
            cols["plus_raw"] = self.plus_raw
            cols["minus_raw"] = self.minus_raw
        cols["h"] = np.broadcast_to(np.asarray(self.h, dtype=float), self.quantiles.shape)
        if self.band_lower is not None:
            cols.update(band_lower=self.band_lower, band_upper=self.band_upper,
                        pointwise_lower=self.pointwise_lower, pointwise_upper=self.pointwise_upper)
        return pd.DataFrame(cols)

    def summary(self, at: Sequence[float] | None = None) -> pd.DataFrame:
        """Print a readable table and return it as a DataFrame.

        ``at``: levels to show (default: the deciles present in the grid, or the whole grid if
        it has at most 15 points).
        """
        df = self.to_frame()
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
            at = np.asarray(at, dtype=float)
            sel = np.isclose(q[:, None], at[None, :], atol=1e-9).any(axis=1)
            if sel.sum() != at.size:
                raise ValueError("at: every level must be on the quantile grid")
        keep = ["q", "tau", "plus", "minus"] + (["band_lower", "band_upper"] if self.band_lower is not None else [])
        table = df.loc[sel, keep].reset_index(drop=True)
        design = "fuzzy" if self.fuzzy else "sharp"
        hh = np.atleast_1d(self.h)
        htxt = f"{hh[0]:.4g}" if hh.size == 1 else f"{hh.min():.4g} .. {hh.max():.4g} (per quantile)"
        lines = [
            f"R3D ({design}, method = {self.method}, p = {self.p}, kernel = {self.kernel})",
            f"  units: {self.n_units} (in window: {self.n_left} left, {self.n_right} right), cutoff = {self.cutoff:g}",
            f"  bandwidth h = {htxt}" + (f", h_den = {self.h_den:.4g}" if self.fuzzy else ""),
        ]
        if self.fuzzy:
            fs = self.first_stage
            lines.append(f"  first stage: {fs['minus']:.4g} -> {fs['plus']:.4g} (jump {fs['jump']:.4g})")
        lines.append(f"  average effect over the grid: {np.mean(self.tau):.4g}")
        if self.band_lower is not None:
            lines.append(f"  {100 * (1 - self.alpha):g}% uniform band: tau ± {self.crit_value:.4g} (B = {self.n_boot})")
        print("\n".join(lines))
        with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
            print(table.to_string(index=False))
            if len(self.tests):
                print("Tests:")
                print(self.tests.to_string(index=False))
        return table

    def plot(self, ax=None, boundary: bool = False, pointwise: bool = True):
        """Plot the effect with its bands; ``boundary=True`` adds a panel with m̂_+ and m̂_-.

        Returns the matplotlib Axes (or an array of two when ``boundary``).
        """
        from .plotting import plot_boundary, plot_effect

        if not boundary:
            return plot_effect(self, ax=ax, pointwise=pointwise)
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        plot_effect(self, ax=ax[0], pointwise=pointwise)
        plot_boundary(self, ax=ax[1])
        return ax


def _from_frame(data, x, y, unit, treatment, weights):
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data: must be a pandas DataFrame (one row per observation)")
    if unit is None:
        raise ValueError("unit: give the name of the column that identifies units when data= is used")
    for arg, col in (("x", x), ("y", y), ("unit", unit), ("treatment", treatment), ("weights", weights)):
        if col is None:
            if arg in ("x", "y"):
                raise ValueError(f"{arg}: give a column name of data")
            continue
        if not isinstance(col, str) or col not in data.columns:
            raise ValueError(f"{arg}: {col!r} is not a column of data (columns: {list(data.columns)})")
    for arg, col in (("x", x), ("y", y), ("treatment", treatment), ("weights", weights), ("unit", unit)):
        if col is not None and data[col].isna().any():
            raise ValueError(f"{arg}: column {col!r} has {int(data[col].isna().sum())} missing values; "
                             "drop or impute them first (nothing is dropped silently)")
    codes, labels = pd.factorize(data[unit], sort=False)
    order = np.argsort(codes, kind="stable")
    codes_s = codes[order]
    bounds = np.flatnonzero(np.diff(codes_s)) + 1

    def split(col):
        return np.split(np.asarray(data[col].to_numpy()[order], dtype=float), bounds)

    def unit_level(col, arg):
        vals = np.asarray(data[col].to_numpy()[order], dtype=float)
        first = vals[np.concatenate([[0], bounds])]
        varying = np.flatnonzero(np.repeat(first, np.diff(np.concatenate([[0], bounds, [vals.size]]))) != vals)
        if varying.size:
            bad = pd.unique(np.asarray(labels)[codes_s[varying]])[:5]
            raise ValueError(f"{arg}: column {col!r} must be constant within each unit; it varies in unit(s) {list(bad)}")
        return first

    xs = unit_level(x, "x")
    ys = split(y)
    ts = unit_level(treatment, "treatment") if treatment is not None else None
    ws = split(weights) if weights is not None else None
    return xs, ys, ts, ws, np.asarray(labels)


def _check_h(h, method, M, fuzzy):
    if h is None:
        return None, None
    if fuzzy:
        if np.ndim(h) == 0:
            h_num, h_den = h, h
        else:
            if not isinstance(h, (tuple, list)) or len(h) != 2:
                raise ValueError("h: in a fuzzy design give a pair (h_num, h_den) (or one scalar for both)")
            h_num, h_den = h
        h_den = V.check_positive_bandwidth(h_den, "h")
        if h_den.ndim != 0:
            raise ValueError("h: the first-stage bandwidth h_den must be a scalar")
        h_den = float(h_den)
    else:
        h_num, h_den = h, None
    hn = V.check_positive_bandwidth(h_num, "h")
    if hn.ndim == 0:
        return float(hn), h_den
    if method == "frechet":
        raise ValueError("h: method 'frechet' uses one bandwidth for the whole curve; give a scalar "
                         "(per-quantile bandwidths are for method='simple')")
    if hn.shape != (M,):
        raise ValueError(f"h: per-quantile bandwidths must have one value per quantile ({M}), got shape {hn.shape}")
    return hn, h_den


def _make_rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _side_counts(fit: OneSidedFit) -> int:
    return int((fit.kernel_weights > 0).sum(axis=0).min())


def r3d(
    x,
    y=None,
    *,
    cutoff: float = 0.0,
    method: str = "frechet",
    p: int = 2,
    quantiles=None,
    kernel: str = "triangular",
    h=None,
    treatment=None,
    weights=None,
    coverage_correction: bool = False,
    n_boot: int = 0,
    alpha: float = 0.05,
    tests: Sequence[str] = ("nullity", "homogeneity"),
    test_ranges=None,
    seed=None,
    data: pd.DataFrame | None = None,
    unit: str | None = None,
    quantile_method: str = "linear",
    rearrangement: str = "sort",
    residuals: str = "hc3",
    multipliers: np.ndarray | None = None,
    s: int | None = None,
    progress: bool = False,
) -> R3DResult:
    """Estimate the local average quantile treatment effect τ(q) at a cutoff (R3D).

    Parameters
    ----------
    x : (n,) running variable, one value per unit (or a column name with ``data=``).
    y : sequence of n 1-D arrays, each unit's sample (or a column name with ``data=``).
    cutoff : threshold c; units with x ≥ c are on the treated (right) side.
    method : "frechet" (default; one bandwidth, isotonic projection) or "simple"
        (quantile-by-quantile local polynomial, monotone rearrangement).
    p : order of the local polynomial (default 2; bandwidths are optimal for s = p - 1).
    quantiles : grid of levels in (0, 1), strictly increasing (default 0.01, …, 0.99).
    kernel : "triangular" (default), "epanechnikov" or "uniform".
    h : None (data-driven), a scalar, one per quantile ("simple" only); fuzzy: a pair
        (h_num, h_den).  Given bandwidths are used as they are (no coverage correction).
    treatment : unit-level 0/1 treatment; given ⇒ fuzzy design (τ̂ divided by the first stage).
    weights : per-observation weights (same shapes as ``y``) for weighted unit quantiles.
    coverage_correction : shrink data-driven bandwidths by n^{-s/((2s+3)(s+3))}.
    n_boot : multiplier-bootstrap draws (0: no inference).
    alpha : level of the bands and tests (default 0.05).
    tests : any of "nullity", "homogeneity", "gini" (centred, sharp designs only).
    test_ranges : None (whole grid), a pair (lo, hi), a vector (a, b, c) meaning [a, b], [b, c],
        or a list of pairs.
    seed : int, None or ``numpy.random.Generator`` for the multipliers.
    data, unit : a long DataFrame (one row per observation) and its unit column; then x, y,
        treatment and weights are column names; x and treatment must be constant within a unit.
    quantile_method : "linear" (type 7, default) or "inverted_cdf" (the paper's definition).
    rearrangement : "simple" only: "sort" (exact, default) or "interpolated" (R3D 0.1.0's).
    residuals : bootstrap residuals: "hc3" (default), "hc2", "nn" or "raw".
    multipliers : optional (n, B) matrix of multipliers ξ (overrides ``n_boot`` and ``seed``).
    s : order the data-driven bandwidth is optimal for (default p - 1).
    progress : show a progress bar over bootstrap chunks.

    Returns
    -------
    R3DResult

    Examples
    --------
    >>> import numpy as np
    >>> from r3d_teach import r3d
    >>> rng = np.random.default_rng(1)
    >>> x = rng.uniform(-1, 1, 500)
    >>> y = [rng.normal(2 + x_i + 1.0 * (x_i >= 0), 1 + 0.5 * (x_i >= 0), 200) for x_i in x]
    >>> res = r3d(x, y, quantiles=np.arange(1, 10) / 10, n_boot=500, seed=2)
    >>> bool(abs(res.tau[4] - 1.0) < 0.3)        # median effect: true value 1
    True
    >>> bool(res.tau[8] > res.tau[0])            # the spread grows above the cutoff
    True
    """
    if data is not None:
        x, y, treatment, weights, units = _from_frame(data, x, y, unit, treatment, weights)
    else:
        units = None
    xv = V.check_running_variable(x, "x")
    ys = V.check_samples(y, "y")
    if len(ys) != xv.size:
        raise ValueError(f"y: has {len(ys)} units but x has {xv.size} (lengths must match)")
    method = V.check_method(method)
    kernel = V.check_kernel(kernel)
    p = V.check_order(p)
    s = max(p - 1, 0) if s is None else V.check_order(s, "s")
    q = V.check_quantile_grid(np.arange(1, 100) / 100 if quantiles is None else quantiles)
    alpha = V.check_alpha(alpha)
    n_boot = V.check_n_boot(n_boot)
    if quantile_method not in QUANTILE_METHODS:
        raise ValueError(f"quantile_method: unknown method {quantile_method!r}; choose one of {QUANTILE_METHODS}")
    if rearrangement not in REARRANGEMENTS:
        raise ValueError(f"rearrangement: unknown rule {rearrangement!r}; choose one of {REARRANGEMENTS}")
    if residuals not in RESIDUAL_RULES:
        raise ValueError(f"residuals: unknown rule {residuals!r}; choose one of {RESIDUAL_RULES}")
    if isinstance(tests, str):
        tests = (tests,)
    tests = tuple(tests or ())
    for t in tests:
        if t not in TESTS:
            raise ValueError(f"tests: unknown test {t!r}; choose from {TESTS}")
    try:
        cutoff = float(cutoff)
    except (TypeError, ValueError):
        raise TypeError(f"cutoff: must be a number, got {cutoff!r}") from None
    if not np.isfinite(cutoff):
        raise ValueError("cutoff: must be finite")
    xc = xv - cutoff
    V.check_sides(xc)
    fuzzy = treatment is not None
    tv = V.check_treatment(treatment, xv.size) if fuzzy else None
    if fuzzy and "gini" in tests:
        raise ValueError("tests: the Gini test is defined for sharp designs only (complier Gini "
                         "coefficients are not identified from the outcome limits)")
    if weights is not None:
        weights = V.check_unit_weights(weights, ys)
    if multipliers is not None:
        multipliers = np.asarray(multipliers, dtype=float)
    parse_test_ranges(test_ranges, q)  # validate early, even when no bootstrap is run
    h_num, h_den = _check_h(h, method, q.size, fuzzy)

    Q = unit_quantiles(ys, q, weights=weights, method=quantile_method)

    selection = None
    if h_num is None:
        selection = bandwidth_from_matrix(xc, Q, q, method=method, p=p, s=s, kernel=kernel,
                                          coverage_correction=coverage_correction)
        h_num = selection.h
    if fuzzy and h_den is None:
        den_sel = bandwidth_from_matrix(xc, tv[:, None], np.array([0.5]), method="frechet", p=p, s=s,
                                        kernel=kernel, coverage_correction=coverage_correction,
                                        integrate=True)
        h_den = float(den_sel.h)
        if selection is not None:
            selection.h_den = h_den
            selection.denominator = den_sel

    fit_p = local_poly_fit(xc, Q, h_num, p, kernel, "+", labels=q)
    fit_m = local_poly_fit(xc, Q, h_num, p, kernel, "-", labels=q)
    raw_p, raw_m = fit_p.intercept.copy(), fit_m.intercept.copy()
    if method == "frechet":
        plus, minus = isotonic_projection(raw_p, q), isotonic_projection(raw_m, q)
    else:
        plus, minus = rearrange(raw_p, q, rearrangement), rearrange(raw_m, q, rearrangement)
    numerator = plus - minus
    tau = numerator
    first_stage = None
    fits = {"+": fit_p, "-": fit_m}
    if fuzzy:
        tf_p = local_poly_fit(xc, tv, h_den, p, kernel, "+")
        tf_m = local_poly_fit(xc, tv, h_den, p, kernel, "-")
        jump = float(tf_p.intercept[0] - tf_m.intercept[0])
        if not np.isfinite(jump) or abs(jump) < FIRST_STAGE_MIN:
            raise ValueError(f"treatment: the first stage (jump in P(T=1) at the cutoff) is {jump:.3g}, "
                             "essentially zero; the fuzzy ratio is not identified")
        # the first stage's influence terms (its own window and weights): φ_T,i = ±w^T_i ê^T_i
        phi_t = np.zeros(xv.size)
        for sign, fit in ((1.0, tf_p), (-1.0, tf_m)):
            r = fit.rows
            nn = nn_residuals(xc, tv, side_mask(xc, fit.side))[r] if residuals == "nn" else None
            e = bootstrap_residuals(tv[r, None], fit.fitted_active(), fit.lev_active, fit.k_active > 0,
                                    residuals, nn)
            phi_t[r] += sign * (fit.w_active * e)[:, 0]
        se = float(np.sqrt(np.sum(phi_t**2)))
        t_stat = abs(jump) / se if se > 0 else np.inf
        if abs(jump) < 0.1 or t_stat < 2.0:
            warnings.warn(f"treatment: weak first stage (jump {jump:.3g}, standard error {se:.3g}, "
                          f"t = {t_stat:.2g}); the fuzzy estimate and its band are unreliable",
                          UserWarning, stacklevel=2)
        first_stage = {"plus": float(tf_p.intercept[0]), "minus": float(tf_m.intercept[0]),
                       "jump": jump, "se": se, "h_den": float(h_den)}
        tau = numerator / jump
        fits.update({"T+": tf_p, "T-": tf_m})

    res = R3DResult(
        quantiles=q, tau=tau, plus=plus, minus=minus, h=h_num, method=method, p=p, kernel=kernel,
        cutoff=cutoff, n_units=xv.size, n_left=_side_counts(fit_m), n_right=_side_counts(fit_p),
        first_stage=first_stage, alpha=alpha, plus_raw=raw_p, minus_raw=raw_m,
        numerator=numerator, bandwidth=selection, fits=fits, unit_quantiles=Q, x=xv, units=units,
        options=dict(quantile_method=quantile_method, rearrangement=rearrangement, residuals=residuals,
                     s=s, coverage_correction=coverage_correction, weighted=weights is not None),
    )
    if n_boot == 0 and multipliers is None:
        return res

    if "gini" in tests:
        for side, curve in (("right", plus), ("left", minus)):
            if not np.isfinite(gini_from_quantiles(curve, q)):
                raise ValueError(
                    f"tests: the Gini test needs a distribution with a positive mean, but the {side} "
                    "boundary quantile function integrates to a non-positive value (shift the outcome "
                    "or drop 'gini')")
    n = xv.size
    phi = {}
    for sd, fit in (("+", fit_p), ("-", fit_m)):
        r = fit.rows
        fitted = fit.fitted_active()
        if method == "frechet":
            fitted = isotonic_projection(fitted, q)
        nn = nn_residuals(xc, Q, side_mask(xc, sd))[r] if residuals == "nn" else None
        e = bootstrap_residuals(Q[r], fitted, fit.lev_active, fit.k_active > 0, residuals, nn)
        full = np.zeros((n, q.size))
        full[r] = fit.w_active * e
        phi[sd] = full
    Phi = phi["+"] - phi["-"]
    active = [fit_p.rows, fit_m.rows]
    if fuzzy:
        active += [fits["T+"].rows, fits["T-"].rows]
        jump = first_stage["jump"]
        Phi = (jump * Phi - numerator[None, :] * phi_t[:, None]) / jump**2
    rows = np.unique(np.concatenate(active))
    boot = multiplier_bootstrap(
        Phi[rows], tau, q, n_boot=n_boot, alpha=alpha, rng=_make_rng(seed), multipliers=multipliers,
        tests=tests, test_ranges=test_ranges,
        gini_parts=(plus, minus, phi["+"][rows], phi["-"][rows]) if "gini" in tests else None,
        progress=progress, rows=rows, n_units=n,
    )
    res.n_boot = boot.n_boot
    res.band_lower, res.band_upper, res.crit_value = boot.band_lower, boot.band_upper, boot.crit_value
    res.pointwise_lower, res.pointwise_upper = boot.pointwise_lower, boot.pointwise_upper
    res.tests = boot.tests
    res.bootstrap = boot
    return res
