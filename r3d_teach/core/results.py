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

import textwrap

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm
from scipy.stats import t as student_t

from .bandwidth import BandwidthSelection
from .bootstrap import BootstrapResult
from .gini import gini_from_quantiles
from .influence import Influence
from .plotting import finish_figure, plot_boundary, plot_effect
from .summary import Summary
from .validate import check_alpha

__all__ = ["R3DResult", "FirstStage", "Diagnostics", "Summary", "fit_description", "variance_label"]


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


_ORDER_NAMES = {0: "local constant", 1: "local linear", 2: "local quadratic", 3: "local cubic"}


def _order_name(k: int) -> str:
    return _ORDER_NAMES.get(int(k), f"local polynomial of order {int(k)}")


def _b_is_h(h, b: dict) -> bool:
    hv = np.asarray(h, dtype=float)
    for side in ("+", "-"):
        bv = np.asarray(b[side], dtype=float)
        try:
            if not np.allclose(bv, hv, rtol=1e-12, atol=0):
                return False
        except ValueError:  # shapes differ
            return False
    return True


def fit_description(p: int, s: int, h, b: dict) -> str:
    """What was fitted, in words: "local linear at h, bias-corrected by a local quadratic at b";
    b = h with p = s + 1: "local quadratic at h (the paper's estimator, b = h)"; s = p: no bias
    correction.

    >>> fit_description(2, 1, 0.3, {"+": 0.5, "-": 0.5})
    'local linear at h, bias-corrected by a local quadratic at b'
    >>> fit_description(2, 1, 0.5, {"+": 0.5, "-": 0.5})
    "local quadratic at h (the paper's estimator, b = h)"
    >>> fit_description(4, 3, 0.3, {"+": 0.5, "-": 0.5})
    'local cubic at h, bias-corrected by a local polynomial of order 4 at b'
    >>> fit_description(1, 1, 0.3, {"+": 0.3, "-": 0.3})
    'local linear at h (no bias correction, s = p)'
    """
    if s == p:
        return f"{_order_name(s)} at h (no bias correction, s = p)"
    bc = _order_name(p)
    bc = "a " + bc
    if _b_is_h(h, b):
        if p == s + 1:
            return f"{_order_name(p)} at h (the paper's estimator, b = h)"
        return f"{_order_name(s)} at h, bias-corrected by {bc} at b = h"
    return f"{_order_name(s)} at h, bias-corrected by {bc} at b"


def variance_label(residuals: str, n_clusters: int | None = None) -> str:
    """The variance estimator in words: "HC3", "HC2", "HC0" (raw residuals), "NN", or with
    clusters "CR3 clustered by 31 clusters" (residual rules other than hc3 summed within
    clusters: "HC2 residuals, clustered by 31 clusters").

    >>> variance_label("hc3"), variance_label("hc3", 31), variance_label("nn", 8)
    ('HC3', 'CR3 clustered by 31 clusters', 'NN residuals, clustered by 8 clusters')
    """
    base = {"hc3": "HC3", "hc2": "HC2", "raw": "HC0", "nn": "NN"}.get(residuals, str(residuals))
    if n_clusters is None:
        return base
    if residuals == "hc3":
        return f"CR3 clustered by {n_clusters} clusters"
    return f"{base} residuals, clustered by {n_clusters} clusters"


@dataclass
class R3DResult:
    """Result of :func:`r3d_teach.r3d`.

    Fields: ``quantiles`` (M,); ``tau`` the effect τ̂(q) (robust bias-corrected, monotone
    boundary curves); ``se`` its pointwise robust standard error √Σ_i φ_i(q)² (clustered with
    ``cluster=``); ``tau_conventional`` the order p - 1 estimate at h (no bias correction,
    monotonised the same way); ``plus``/``minus`` the monotone boundary quantile functions:
    the right and left limits at the cutoff of the average quantile function,
    m̂_+(q) = lim_{x↓c} and m̂_-(q) = lim_{x↑c} (fuzzy: of the outcome; τ̂ = (plus - minus) /
    first-stage jump), ``plus_raw``/``minus_raw`` the bias-corrected curves before the
    monotone step; ``h`` (float, or (M,) for "simple"), ``b`` (dict "+"/"-": the bias
    correction's bandwidth per side); ``method``, ``p``, ``s``, ``kernel``, ``residuals``,
    ``cutoff``, ``n_units``, ``n_left``/``n_right`` (units with positive kernel weight at h),
    ``n_clusters``.  ``residuals`` is the residual rule used ("hc2" by default with the
    studentized band, "hc3" with the unweighted one), ``se`` that rule's standard error.

    Per-quantile inference (always, from the analytic ``se``): ``z`` = τ̂/se, ``p_value`` and the
    pointwise interval ``pointwise_lower``/``pointwise_upper`` = τ̂ ± t_{ν,1-α/2} se, with
    Student's t and the Bell-McCaffrey ν of the studentized band (``use_t`` true, the default with
    that band: with 10-20 units a side the normal reference over-rejects), or the normal,
    2(1 - Φ(|z|)) and τ̂ ± z_{1-α/2} se (``use_t`` false: rdrobust's convention, and the unweighted
    band).  Where se = 0 the estimate is deterministic: z = 0 and p = 1 when τ̂ = 0, z = ±∞ and
    p = 0 otherwise; the interval has zero width.

    With the bootstrap (``n_boot`` > 0, default 999): ``band`` ("studentized" or
    "unweighted"), ``band_lower``/``band_upper`` (the uniform band) and ``crit_value`` (its
    critical value: ĉ, the multiple of se, for the studentized band; the half-width for the
    unweighted one), ``dof`` (ν, the Bell-McCaffrey degrees of freedom of the variance behind
    the studentized band's multivariate-t critical value; ``inf`` for residual rules without a
    hat-matrix form, None for the unweighted band and without the bootstrap), ``tests`` (test, range, kind: which
    statistic, statistic, critical_value, p_value); fuzzy: ``first_stage`` (:class:`FirstStage`).  Intermediates are
    in ``diagnostics``.  ``notes``: what the fit found worth a reader's attention (also warned at fit
    time and printed by ``summary()``), e.g. a studentized statistic attained at a level whose se
    is a tiny fraction of the others'.
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
        columns=["test", "range", "kind", "statistic", "critical_value", "p_value"]))
    first_stage: FirstStage | None = None
    alpha: float = 0.05
    n_boot: int = 0
    diagnostics: Diagnostics | None = field(default=None, repr=False)
    band: str | None = None
    s: int | None = None
    residuals: str = "hc3"
    dof: float | None = None
    notes: list = field(default_factory=list)
    use_t: bool = False

    def __post_init__(self):
        if self.s is None:
            self.s = max(int(self.p) - 1, 0)
        if self.pointwise_lower is None:
            self.set_pointwise()

    def set_pointwise(self) -> None:
        """(Re)compute ``pointwise_lower``/``pointwise_upper`` = τ̂ ± :meth:`pointwise_quantile` · se."""
        half = self.pointwise_quantile(self.alpha) * self.se
        self.pointwise_lower, self.pointwise_upper = self.tau - half, self.tau + half

    @property
    def t_dof(self) -> float | None:
        """The degrees of freedom of the per-quantile t reference distribution (ν), or None when the
        per-quantile inference is normal (``use_t`` false, or ν infinite / not computed)."""
        if self.use_t and self.dof is not None and np.isfinite(self.dof) and self.dof > 0:
            return float(self.dof)
        return None

    def pointwise_quantile(self, alpha: float) -> float:
        """The pointwise interval's multiplier: t_{ν, 1-α/2} when :attr:`t_dof` is set, else z_{1-α/2}."""
        nu = self.t_dof
        return float(norm.ppf(1 - alpha / 2) if nu is None else student_t.ppf(1 - alpha / 2, nu))

    # ------------------------------------------------------------------ conveniences
    @property
    def fuzzy(self) -> bool:
        return self.first_stage is not None

    @property
    def h_den(self) -> float | None:
        return None if self.first_stage is None else self.first_stage.h_den

    @property
    def z(self) -> np.ndarray:
        """τ̂(q)/se(q); 0 where τ̂ = se = 0, ±∞ where se = 0 < |τ̂| (a deterministic effect)."""
        tau, se = np.asarray(self.tau, dtype=float), np.asarray(self.se, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = tau / se
        return np.where(se > 0, z, np.where(tau == 0, 0.0, np.copysign(np.inf, tau)))

    @property
    def p_value(self) -> np.ndarray:
        """Two-sided p-value per quantile (1 where τ̂ = se = 0): 2(1 - F_ν(|τ̂/se|)) with F_ν Student's
        t with ν = :attr:`t_dof` degrees of freedom (the default with the studentized band), else the
        normal 2(1 - Φ(|τ̂/se|)) (``use_t=False``, rdrobust's convention; the unweighted band)."""
        nu = self.t_dof
        z = np.abs(self.z)
        return 2.0 * (norm.sf(z) if nu is None else student_t.sf(z, nu))

    @property
    def fitted(self) -> str:
        """What was fitted, in words (see :func:`fit_description`)."""
        return fit_description(self.p, self.s, self.h, self.b)

    @property
    def variance(self) -> str:
        """The variance estimator, in words (see :func:`variance_label`)."""
        return variance_label(self.residuals, self.n_clusters)

    def __repr__(self) -> str:
        design = "fuzzy" if self.fuzzy else "sharp"
        hh = np.atleast_1d(self.h)
        htxt = f"{hh[0]:.4g}" if hh.size == 1 else f"{hh.min():.4g}..{hh.max():.4g}"
        boot = f", B={self.n_boot}, band={self.band!r}" if self.n_boot else ""
        return (f"R3DResult({design}: {self.fitted}; method={self.method!r}, p={self.p}, n_units={self.n_units}, "
                f"h={htxt}, b={_fmt_b(self.b)}, mean tau={np.mean(self.tau):.4g}{boot})")

    def conf_int(self, alpha: float | None = None, kind: str = "uniform") -> pd.DataFrame:
        """Confidence band for τ(q): DataFrame indexed by q with columns ``lower``, ``upper``.

        ``kind="uniform"``: the fit's uniform band (``band``: τ̂ ± ĉ·se studentized, or τ̂ ± c
        unweighted), with the critical value the (1 - α) quantile of the stored per-draw
        statistics (needs ``n_boot > 0``; no refit for another α).  ``kind="pointwise"``:
        τ̂ ± t_{ν,1-α/2} se with the analytic ``se`` (z_{1-α/2} when the per-quantile inference is
        normal: ``use_t=False`` as rdrobust, or the unweighted band; see :attr:`t_dof`; the
        bootstrap's own sd is ``diagnostics.bootstrap.sd``).  ``alpha`` defaults to the fit's.
        """
        a = self.alpha if alpha is None else check_alpha(alpha)
        if kind not in ("uniform", "pointwise"):
            raise ValueError(f"kind: must be 'uniform' or 'pointwise', got {kind!r}")
        boot = None if self.diagnostics is None else self.diagnostics.bootstrap
        if kind == "uniform":
            if boot is None:
                raise ValueError("kind: a uniform band needs the bootstrap; refit with n_boot > 0 "
                                 "(or ask for kind='pointwise')")
            half = boot.half_width(a)
        else:
            half = self.pointwise_quantile(a) * self.se
        idx = pd.Index(self.quantiles, name="q")
        return pd.DataFrame({"lower": self.tau - half, "upper": self.tau + half}, index=idx)

    def to_frame(self) -> pd.DataFrame:
        """One row per quantile: q, tau, se, tau_conventional, plus, minus, plus_raw, minus_raw,
        h, b_plus, b_minus, z, p_value, pointwise_lower, pointwise_upper, and the uniform band
        (band_lower, band_upper) when bootstrapped."""
        M = self.quantiles.shape
        cols: dict[str, Any] = {
            "q": self.quantiles, "tau": self.tau, "se": self.se, "tau_conventional": self.tau_conventional,
            "plus": self.plus, "minus": self.minus, "plus_raw": self.plus_raw, "minus_raw": self.minus_raw,
            "h": np.broadcast_to(np.asarray(self.h, dtype=float), M),
            "b_plus": np.broadcast_to(np.asarray(self.b["+"], dtype=float), M),
            "b_minus": np.broadcast_to(np.asarray(self.b["-"], dtype=float), M),
            "z": self.z, "p_value": self.p_value,
            "pointwise_lower": self.pointwise_lower, "pointwise_upper": self.pointwise_upper,
        }
        if self.band_lower is not None:
            cols.update(band_lower=self.band_lower, band_upper=self.band_upper)
        return pd.DataFrame(cols)

    def _band_words(self) -> str:
        boot = None if self.diagnostics is None else self.diagnostics.bootstrap
        clustered = ", clustered multipliers" if self.n_clusters is not None else ""
        level = f"{100 * (1 - self.alpha):g}%"
        if self.band == "studentized":
            if boot is not None and boot.all_se_zero:
                return (f"{level} studentized uniform band (B = {self.n_boot}{clustered}): every se is 0, "
                        "zero width")
            rule = self.variance.split(" clustered")[0].split(" residuals")[0]
            if self.dof is not None and np.isfinite(self.dof):
                crit = f"multivariate-t critical value with ν = {self.dof:.3g} (Bell–McCaffrey)"
            else:
                crit = "Gaussian critical value"
            return (f"{level} studentized uniform band (B = {self.n_boot}{clustered}): tau ± {self.crit_value:.4g} se; "
                    f"{rule} standard errors, {crit}")
        return (f"{level} unweighted uniform band (B = {self.n_boot}{clustered}; R3D 0.1.0's): "
                f"tau ± {self.crit_value:.4g}")

    def summary(self, at: Sequence[float] | None = None) -> "Summary":
        """A :class:`Summary` (print it, or let a notebook show it; ``.to_frame()`` for the
        table, ``.to_latex()`` and ``.to_markdown()`` to export).  ``at``: levels to show
        (default: the deciles present in the grid, or the whole grid if it has at most 15
        points).

        The table: q, tau, se, z, P>|z| (two-sided normal), the pointwise interval from se
        (ci_lower, ci_upper), the uniform band (band_lower, band_upper, when bootstrapped),
        plus and minus (the right and left limits of the average quantile function)."""
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
        df = self.to_frame().rename(columns={"p_value": "P>|z|", "pointwise_lower": "ci_lower",
                                             "pointwise_upper": "ci_upper"})
        keep = ["q", "tau", "se", "z", "P>|z|", "ci_lower", "ci_upper"]
        if self.band_lower is not None:
            keep += ["band_lower", "band_upper"]
        keep += ["plus", "minus"]
        table = df.loc[sel, keep].reset_index(drop=True)
        design = "fuzzy" if self.fuzzy else "sharp"
        hh = np.atleast_1d(self.h)
        htxt = f"{hh[0]:.4g}" if hh.size == 1 else f"{hh.min():.4g} .. {hh.max():.4g} (per quantile)"
        level = f"{100 * (1 - self.alpha):g}%"
        limits = ("plus, minus: the right and left limits at the cutoff of the average quantile function, "
                  "m+(q) = lim x↓c, m-(q) = lim x↑c; ")
        limits += ("tau = (plus - minus) / first-stage jump" if self.fuzzy else "tau = plus - minus")
        lines = [
            f"R3D ({design}, method = {self.method}, p = {self.p}, kernel = {self.kernel})",
            f"  fit: {self.fitted}",
            f"  units: {self.n_units} (in window: {self.n_left} left, {self.n_right} right), cutoff = {self.cutoff:g}"
            + (f", {self.n_clusters} clusters" if self.n_clusters is not None else ""),
            f"  bandwidth h = {htxt}, bias correction b = {_fmt_b(self.b)}",
        ]
        if self.fuzzy:
            fs = self.first_stage
            lines.append(f"  first stage: {fs.minus:.4g} -> {fs.plus:.4g} (jump {fs.jump:.4g}, se {fs.se:.4g}; "
                         f"h_den = {fs.h_den:.4g}, b_den = {_fmt_b(fs.b_den)})")
        nu = self.t_dof
        ref = "normal" if nu is None else f"Student t with ν = {nu:.3g}"
        lines.append(f"  standard errors: {self.variance}; z = tau/se, P>|z| two-sided {ref}, "
                     f"ci: {level} pointwise interval tau ± {self.pointwise_quantile(self.alpha):.3g} se")
        if self.band_lower is not None:
            lines.append(f"  {self._band_words()}")
        else:
            lines.append("  no uniform band and no tests (n_boot = 0)")
        lines.append(f"  {limits}")
        lines.append(f"  average effect over the grid: {np.mean(self.tau):.4g}")
        for note in self.notes:
            lines.extend(textwrap.wrap(note, width=96, initial_indent="  note: ", subsequent_indent="    "))
        gini = None
        if len(self.tests) and (self.tests["test"] == "gini").any():
            gp, gm = float(gini_from_quantiles(self.plus, q)), float(gini_from_quantiles(self.minus, q))
            gini = {"right": gp, "left": gm, "difference": gp - gm}
            lines.append(f"  Gini coefficient: right {gp:.4f}, left {gm:.4f}, difference (right - left) {gp - gm:+.4f}")
        return Summary(header=lines, table=table, tests=self.tests.copy(), gini=gini)

    def plot(self, ax=None, boundary: bool = False, pointwise: bool = True, path=None, **savefig_kwargs):
        """Plot the effect with its bands; ``boundary=True`` adds a panel with m̂_+ and m̂_-.

        Returns the matplotlib ``Figure`` (its panels are ``fig.axes``).  ``ax``: draw into
        these Axes (two with ``boundary``) of a figure you own.  ``path``: also save the figure
        there (``res.plot(path="effect.png")``; ``savefig_kwargs`` go to ``Figure.savefig``);
        a figure this call created is then closed in pyplot (the returned Figure stays usable),
        so scripts saving many figures keep no open windows.  Nothing you own is closed.
        """
        import matplotlib.pyplot as plt  # matplotlib loads only when a figure is drawn

        created = ax is None
        if not boundary:
            ax = plot_effect(self, ax=ax, pointwise=pointwise)
            fig = ax.figure
        else:
            if ax is None:
                _, ax = plt.subplots(1, 2, figsize=(10, 3.8))
            plot_effect(self, ax=ax[0], pointwise=pointwise)
            plot_boundary(self, ax=ax[1])
            fig = ax[0].figure
        return finish_figure(fig, path, created, **savefig_kwargs)
