r"""Designing an R3D study: how many units, how many draws per unit?

Two tools answer it for a simple design: a Monte Carlo of the estimator itself
(:func:`simulate_power`: the power of the nullity test and the width of the uniform band, by
simulation with :func:`r3d_teach.r3d`) and a closed-form normal approximation for the t-test at
one level (:func:`normal_approximation`), which shows the trade-off at a glance.

**The design** (the structure of the paper's DGP 1, Van Dijcke 2025, §4.1, with the unit
heterogeneity as a free parameter). n units, :math:`X_i \sim U(-1, 1)`, cutoff 0 (so
:math:`f_X(0) = 1/2`); a unit-level random shift :math:`\eta_i \sim N(0, \sigma_\eta^2)`
(``spread`` = :math:`\sigma_\eta`, e.g. firm wage premia); m draws per unit (e.g. workers per firm),

.. math::
    Y_{ij} \mid i \sim N\big(\mu(X_i) + \eta_i + \Delta\,1\{X_i \ge 0\},\ \sigma_w^2\big),
    \qquad \mu(x) = \beta_1 x + \beta_2 x^2,

so :math:`\tau(q) = \Delta` at every q (``effect_type="shift"``); or a scale change
(``effect_type="scale"``): treated units' sd is :math:`\sigma_w(1 + \Delta)`, so
:math:`\tau(q) = \Delta\sigma_w\Phi^{-1}(q)` (zero at the median). :math:`\sigma_w` is
``within_sd`` (default 1: effects and spreads are in units of the within-unit sd).

**The closed form.** :math:`\hat\tau(q) = \sum_i \omega_i \hat Q_i(q)` is linear in the unit
quantiles with weights :math:`\omega_i` of the local polynomial on each side, so with independent
units :math:`\mathrm{Var}(\hat\tau(q)) = \sum_i \omega_i^2 \mathrm{Var}(\hat Q_i(q) \mid X_i)`.
Two levels of randomness enter each unit's quantile: the unit's own distribution (here the shift
:math:`\eta_i`) and the sampling of its m draws (Bahadur: the sample quantile's variance is
:math:`q(1-q)/(m f_Y(Q(q))^2)`, with :math:`f_Y(Q(q)) = \varphi(z_q)/\sigma_w` for a normal law),

.. math:: \sigma^2(q) = \sigma_\eta^2 + \frac{\sigma_w^2\, q(1-q)}{m\,\varphi(\Phi^{-1}(q))^2},

and the local-polynomial weights satisfy :math:`\sum_{i \in \pm} \omega_i^2 \approx C_V/(n h f_X(c))`
(:func:`variance_constant`), so

.. math:: \mathrm{Var}\,\hat\tau(q) \approx \frac{C_V\,[\sigma_+^2(q) + \sigma_-^2(q)]}{n\,h\,f_X(c)},
   \qquad \text{power} \approx \Phi\Big(\frac{|\tau(q)|}{se} - z_{1-\alpha/2}\Big)
   + \Phi\Big(-\frac{|\tau(q)|}{se} - z_{1-\alpha/2}\Big).

More units shrink the whole variance (1/n at a fixed h; :math:`n^{-4/5}` when h shrinks at the
MSE-optimal rate); more draws per unit shrink only the second term of :math:`\sigma^2(q)`, which
stops paying once it is small beside :math:`\sigma_\eta^2`, i.e. beyond the break-even
:math:`m^* = \sigma_w^2 q(1-q)/(\varphi(z_q)^2\sigma_\eta^2)` (:math:`m^* = 25` at the median for
:math:`\sigma_\eta = \sigma_w/4`).

What the approximation assumes: independent units; a density of X and variances continuous and
positive at the cutoff; a bandwidth h given (not selected from the data: plug in the typical
data-driven h and the ratio :math:`\rho = h/b`, which the simulation reports) and small enough that
the window stays inside the support; negligible bias (robust bias correction removes the
leading term; its variance cost is in :math:`C_V(\rho)`); a normal approximation for
:math:`\hat\tau` and a consistent se (many units in the window); and **finitely many draws per
unit** with the first-order (Bahadur) variance of a sample quantile -- Van Dijcke (2025) lets
every :math:`n_i \to \infty`, so that the within-unit term vanishes; here it is kept because it
is the design question. It is least accurate for small m in the tails (q near 0 or 1).

Example
-------
>>> import numpy as np
>>> from r3d_teach.power import normal_approximation, variance_constant
>>> round(variance_constant("triangular", p=2, rho=1.0), 6)   # the order-2 fit at h = b: 72/7
10.285714
>>> tab = normal_approximation(n=[200, 400, 200], m=[10, 10, 500], spread=0.25, effect=0.25, h=0.4)
>>> tab[["n", "m", "se"]].round(4).values.tolist()     # twice the units, or 50 times the draws
[[200.0, 10.0, 0.336], [400.0, 10.0, 0.2376], [200.0, 500.0, 0.1837]]
"""
from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.stats import norm

from .core import validate
from .core.estimator import r3d
from .core.kernels import get_kernel, kernel_moments
from .core.options import check_r3d_kwargs
from .core.quantiles import DECILES
from .core.summary import Summary

__all__ = ["simulate_power", "normal_approximation", "variance_constant", "within_variance", "break_even_draws",
           "PowerStudy", "EFFECT_TYPES"]

#: how the effect acts: a shift of every treated unit's law, or a change of its scale
EFFECT_TYPES = ("shift", "scale")
#: the running variable's density at the cutoff in the design (X ~ U(-1, 1))
F_X = 0.5
#: r3d arguments that simulate_power sets itself
_OWN = ("x", "y", "Q", "quantiles", "n_boot", "alpha", "seed", "data", "unit", "treatment", "weights", "cluster",
        "multipliers", "progress")
#: the keyword arguments r3d accepts
_R3D_NAMES = frozenset(inspect.signature(r3d).parameters)


# ----------------------------------------------------------------------------------------------
# the closed form
# ----------------------------------------------------------------------------------------------
def variance_constant(kernel: str = "triangular", p: int = 2, rho: float = 1.0) -> float:
    r"""The variance constant :math:`C_V` of the robust bias-corrected boundary estimate:
    :math:`\mathrm{Var}(\hat m_\pm) \approx \sigma^2 C_V/(n h f_X(c))`.

    The estimate is the order-s fit at h (s = p - 1) minus its bias estimated by the order-p fit
    at b; with :math:`\rho = h/b` its weights are :math:`\omega_i = K_{bc}(X_i/h)/(n h f_X)` for the
    equivalent kernel (Calonico, Cattaneo and Titiunik 2014)

    .. math:: K_{bc}(u) = e_0'\Gamma_s^{-1} r_s(u) K(u)
              - \rho^{s+2}\, c_B\, e_{s+1}'\Gamma_p^{-1} r_p(\rho u) K(\rho u),
              \qquad c_B = e_0'\Gamma_s^{-1}\Lambda_s,

    (:math:`\Gamma, \Lambda` the one-sided kernel moments of
    :func:`r3d_teach.core.kernels.kernel_moments`), and :math:`C_V = \int_0^\infty K_{bc}(u)^2du`,
    computed exactly (Gauss-Legendre on the polynomial pieces). At :math:`\rho = 1` it is the
    order-p fit's constant; as :math:`\rho \to 0` the order-s fit's.

    >>> from r3d_teach.core.kernels import bias_variance_constants
    >>> abs(variance_constant("epanechnikov", 2, 1.0) - bias_variance_constants("epanechnikov", 2, "+")[1]) < 1e-10
    True
    """
    K = get_kernel(kernel)
    p = validate.check_order(p)
    if p < 1:
        raise ValueError(f"p: the bias-corrected estimate needs p >= 1, got {p}")
    rho = _positive(rho, "rho")
    s = p - 1
    G_s, _, L_s = kernel_moments(K, s, "+")
    G_p, _, _ = kernel_moments(K, p, "+")
    a = np.linalg.solve(G_s, np.eye(s + 1)[0])       # Γ_s⁻¹ e_0 (Γ symmetric)
    c_b = float(a @ L_s)
    c = np.linalg.solve(G_p, np.eye(p + 1)[s + 1])   # Γ_p⁻¹ e_{s+1}

    def k_bc(u):
        first = np.where(u <= 1, np.vander(u, s + 1, increasing=True) @ a * K(u), 0.0)
        v = rho * u
        second = np.where(v <= 1, np.vander(v, p + 1, increasing=True) @ c * K(v), 0.0)
        return first - rho ** (s + 2) * c_b * second

    nodes, wts = np.polynomial.legendre.leggauss(2 * p + 8)
    cuts = sorted({0.0, min(1.0, 1.0 / rho), max(1.0, 1.0 / rho)})
    total = 0.0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        u = lo + (hi - lo) * (nodes + 1) / 2
        total += (hi - lo) / 2 * float(np.sum(wts * k_bc(u) ** 2))
    return total


def within_variance(q, m, within_sd: float = 1.0):
    r"""First-order variance of the sample q-quantile of m draws from :math:`N(\cdot, \sigma_w^2)`:
    :math:`\sigma_w^2 q(1-q)/(m\,\varphi(\Phi^{-1}(q))^2)` (:math:`\pi\sigma_w^2/(2m)` at the median).

    >>> round(float(within_variance(0.5, 10)), 6)
    0.15708
    """
    q = np.asarray(q, dtype=float)
    return within_sd**2 * q * (1 - q) / (np.asarray(m, dtype=float) * norm.pdf(norm.ppf(q)) ** 2)


def break_even_draws(spread, q=0.5, within_sd: float = 1.0):
    r"""Draws per unit at which the within-unit sampling variance of :math:`\hat Q_i(q)` equals the
    variance of the unit effects: :math:`m^* = \sigma_w^2 q(1-q)/(\varphi(z_q)^2\sigma_\eta^2)`.
    Beyond a few times :math:`m^*`, more draws per unit barely shrink the variance; more units do.

    >>> round(float(break_even_draws(0.25)), 2)
    25.13
    """
    return within_variance(q, 1.0, within_sd) / np.asarray(spread, dtype=float) ** 2


def normal_approximation(n, m, spread, effect, *, h, q: float = 0.5, rho: float = 1.0, alpha: float = 0.05,
                         effect_type: str = "shift", within_sd: float = 1.0, kernel: str = "triangular",
                         p: int = 2, f_x: float = F_X) -> pd.DataFrame:
    r"""Closed-form power of the two-sided t-test of :math:`\tau(q) = 0` at one level, and the
    standard error behind it (see the module notes for the derivation and its assumptions):

    .. math:: se^2 = \frac{C_V(\rho)\,[\sigma_+^2(q) + \sigma_-^2(q)]}{n\,h\,f_X},\quad
              \sigma_\pm^2(q) = \sigma_\eta^2 + \frac{\sigma_{w\pm}^2 q(1-q)}{m\,\varphi(z_q)^2},\quad
              \text{power} = \Phi(|\tau|/se - z) + \Phi(-|\tau|/se - z),

    with :math:`\sigma_{w+} = \sigma_w(1 + \Delta)` for a scale change (else :math:`\sigma_w`) and
    :math:`\tau(q) = \Delta` (shift) or :math:`\Delta\sigma_w z_q` (scale).

    Parameters
    ----------
    n, m, spread, effect : numbers of units, draws per unit, :math:`\sigma_\eta` and
        :math:`\Delta`; arrays broadcast against each other (one row per combination of the
        broadcast shape).
    h : the bandwidth (scalar or broadcastable array); rho : h/b (1: b = h, the paper's estimator).
    q : the level; alpha : the test's level; effect_type : "shift" or "scale".
    within_sd : :math:`\sigma_w`; kernel, p : the fit's kernel and bias-correcting order.
    f_x : the density of X at the cutoff (1/2 in the design).

    Returns
    -------
    DataFrame with ``n, m, spread, effect, h, rho, q, tau, sigma2_left, sigma2_right, se, power``.
    """
    q = _level(q)
    alpha = validate.check_alpha(alpha)
    effect_type = _effect_type(effect_type)
    within_sd = _positive(within_sd, "within_sd")
    f_x = _positive(f_x, "f_x")
    arrs = {}
    for name, v, lo in (("n", n, 1), ("m", m, 1), ("spread", spread, 0), ("effect", effect, None), ("h", h, 0),
                        ("rho", rho, 0)):
        a = validate.as_real_array(v, name)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: must be finite")
        if lo is not None and (a < lo).any() or (name in ("h", "rho") and (a <= 0).any()):
            raise ValueError(f"{name}: must be {'> 0' if name in ('h', 'rho') else f'>= {lo}'}, got {a.min()}")
        arrs[name] = a
    if effect_type == "scale" and (arrs["effect"] <= -1).any():
        raise ValueError("effect: a scale change multiplies the sd by 1 + effect, which must be > 0")
    b = np.broadcast_arrays(*arrs.values())
    flat = {k: v.ravel().astype(float) for k, v in zip(arrs, b)}
    cv = np.array([variance_constant(kernel, p, r) for r in flat["rho"]])
    sd_right = within_sd * (1 + flat["effect"]) if effect_type == "scale" else np.full(flat["n"].shape, within_sd)
    s2_left = flat["spread"] ** 2 + within_variance(q, flat["m"], within_sd)
    s2_right = flat["spread"] ** 2 + within_variance(q, flat["m"], 1.0) * sd_right**2
    se = np.sqrt(cv * (s2_left + s2_right) / (flat["n"] * flat["h"] * f_x))
    tau = flat["effect"] if effect_type == "shift" else flat["effect"] * within_sd * norm.ppf(q)
    z = norm.ppf(1 - alpha / 2)
    power = norm.cdf(np.abs(tau) / se - z) + norm.cdf(-np.abs(tau) / se - z)
    return pd.DataFrame({**flat, "q": q, "tau": tau, "sigma2_left": s2_left, "sigma2_right": s2_right, "se": se,
                         "power": power})


# ----------------------------------------------------------------------------------------------
# the simulation
# ----------------------------------------------------------------------------------------------
def _positive(v, name: str) -> float:
    if isinstance(v, (bool, str, bytes, complex)) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name}: must be a positive finite number, got {v!r}")
    return float(v)


def _level(q) -> float:
    if isinstance(q, (bool, str, bytes, complex)) or not isinstance(q, numbers.Real) or not 0 < q < 1:
        raise ValueError(f"q: must be a level strictly inside (0, 1), got {q!r}")
    return float(q)


def _effect_type(v) -> str:
    return validate.check_choice(v, EFFECT_TYPES, "effect_type", "effect type")


def _grid(v, name: str, integer: bool, minimum: float) -> list:
    a = validate.as_real_array(v, name)
    a = np.atleast_1d(a)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: must be a number or a non-empty 1-D sequence of finite numbers")
    if (a < minimum).any():
        raise ValueError(f"{name}: every value must be >= {minimum:g}, got {a.min():g}")
    if integer:
        if not np.all(a == np.round(a)):
            raise ValueError(f"{name}: must be whole numbers, got {a.tolist()}")
        return sorted({int(v) for v in a})
    return sorted({float(v) for v in a})


def _median_level(q: np.ndarray) -> int:
    return int(np.argmin(np.abs(q - 0.5)))


def _one_rep(rep_seq: np.random.SeedSequence, ns, ms, spreads, effects, effect_type, q, beta, within_sd,
             n_boot, alpha, kw) -> list[dict]:
    """All cells of one repetition, with common random numbers: the units' x and standard-normal
    unit effects are the first n of one draw of max(n); the draws of the m-th column are one
    (max(n), m) standard-normal matrix; the bootstrap multipliers come from one seed."""
    streams = rep_seq.spawn(len(ms) + 2)
    rng = np.random.default_rng(streams[0])
    n_max = ns[-1]
    x = rng.uniform(-1, 1, n_max)
    eta = rng.standard_normal(n_max)
    d = x >= 0
    mu = beta[0] * x + beta[1] * x**2
    med = _median_level(q)
    z = norm.ppf(1 - alpha / 2)
    rows = []
    for jm, m in enumerate(ms):
        draws = np.random.default_rng(streams[1 + jm]).standard_normal((n_max, m))
        zq = np.quantile(draws, q, axis=1, method="linear").T  # (n_max, M) standard-normal unit quantiles
        del draws
        for n in ns:
            for sp in spreads:
                for eff in effects:
                    if effect_type == "shift":
                        Q = (mu + sp * eta + eff * d)[:n, None] + within_sd * zq[:n]
                    else:
                        Q = (mu + sp * eta)[:n, None] + (within_sd * np.where(d, 1 + eff, 1.0))[:n, None] * zq[:n]
                    row = {"n": n, "m": m, "spread": sp, "effect": eff}
                    try:
                        res = r3d(x[:n], Q=Q, quantiles=q, n_boot=n_boot, alpha=alpha, seed=streams[-1], **kw)
                    except ValueError as exc:
                        row["error"] = str(exc)
                        rows.append(row)
                        continue
                    t = res.tau[med] / res.se[med] if res.se[med] > 0 else np.nan
                    row.update(tau_median=float(res.tau[med]), se_median=float(res.se[med]),
                               reject_t=bool(abs(t) > z), h=float(np.mean(res.h)),
                               rho=float(np.mean(np.asarray(res.h, float)) /
                                         np.mean([np.mean(np.asarray(res.b[s], float)) for s in ("-", "+")])),
                               error="")
                    if n_boot:
                        tests = res.tests.set_index("test")
                        pval = float(tests.loc["nullity", "p_value"]) if "nullity" in tests.index else np.nan
                        ci = res.conf_int(kind="uniform")
                        half = ((ci["upper"] - ci["lower"]) / 2).to_numpy()
                        row.update(p_nullity=pval, reject=bool(pval <= alpha), half_width_median=float(half[med]),
                                   half_width_mean=float(np.mean(half)))
                    rows.append(row)
    return rows


def _summarise(raw: pd.DataFrame, n_boot: int) -> pd.DataFrame:
    keys = ["n", "m", "spread", "effect"]
    out = []
    for key, g in raw.groupby(keys, sort=True):
        ok = g[g["error"] == ""]
        R = len(ok)
        row = dict(zip(keys, key))
        if n_boot:
            pw = float(ok["reject"].mean()) if R else np.nan
            row.update(power=pw, power_se=float(np.sqrt(pw * (1 - pw) / R)) if R else np.nan,
                       half_width=float(ok["half_width_median"].median()) if R else np.nan,
                       half_width_mean=float(ok["half_width_mean"].median()) if R else np.nan)
        pt = float(ok["reject_t"].mean()) if R else np.nan
        row.update(power_t=pt, power_t_se=float(np.sqrt(pt * (1 - pt) / R)) if R else np.nan,
                   sd_tau=float(ok["tau_median"].std(ddof=1)) if R > 1 else np.nan,
                   mean_se=float(ok["se_median"].mean()) if R else np.nan,
                   h=float(ok["h"].median()) if R else np.nan, rho=float(ok["rho"].median()) if R else np.nan,
                   reps=R, failed=int(len(g) - R))
        out.append(row)
    return pd.DataFrame(out)


@dataclass
class PowerStudy:
    """Result of :func:`simulate_power`.

    ``table``: one row per cell (``n, m, spread, effect``) with ``power`` (rejection rate of the
    nullity test at α) and ``power_se`` (its Monte Carlo s.e. √(p(1-p)/R)), ``half_width`` (median
    over repetitions of the uniform band's half-width at the level nearest 0.5) and
    ``half_width_mean`` (of its average over the levels), ``power_t`` / ``power_t_se`` (the
    t-test at that level, :math:`|\\hat\\tau/se| > z_{1-α/2}`), ``sd_tau`` (Monte Carlo sd of
    :math:`\\hat\\tau` there), ``mean_se`` (mean of its se), ``h`` and ``rho`` = h/b (medians),
    ``reps`` (fits that ran), ``failed``. ``raw``: one row per repetition and cell.
    ``settings``: the arguments.
    """

    table: pd.DataFrame
    raw: pd.DataFrame = field(repr=False)
    settings: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"PowerStudy({len(self.table)} cells, reps={self.settings.get('reps')})"

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def approximation(self) -> pd.DataFrame:
        """The closed form (:func:`normal_approximation`) for the t-test at the median level of each
        cell, at the cell's median h and h/b: columns ``n, m, spread, effect`` and ``power_t_approx``,
        ``se_approx``, beside the simulated ``power_t`` and ``sd_tau``."""
        st = self.settings
        t = self.table
        ap = normal_approximation(t["n"].to_numpy(), t["m"].to_numpy(), t["spread"].to_numpy(),
                                  t["effect"].to_numpy(), h=t["h"].to_numpy(), rho=t["rho"].to_numpy(),
                                  q=float(st["quantiles"][_median_level(np.asarray(st["quantiles"]))]),
                                  alpha=st["alpha"], effect_type=st["effect_type"], within_sd=st["within_sd"],
                                  kernel=st["kernel"], p=st["p"])
        out = t[["n", "m", "spread", "effect", "power_t", "sd_tau"]].copy()
        out["power_t_approx"] = ap["power"].to_numpy()
        out["se_approx"] = ap["se"].to_numpy()
        return out

    def summary(self) -> Summary:
        st = self.settings
        lines = [f"R3D power study: {st['reps']} repetitions per cell, B = {st['n_boot']}, alpha = {st['alpha']:g}",
                 f"  design: X ~ U(-1, 1), unit shift sd = spread, {st['effect_type']} effect, within-unit sd "
                 f"{st['within_sd']:g}, mean {st['beta'][0]:g} x + {st['beta'][1]:g} x^2"]
        return Summary(header=lines, table=self.table.copy(), tests=pd.DataFrame())

    def plot(self, kind: str = "power", ax=None, path=None, approx: bool = False, title: str | None = None):
        """``kind="power"`` (nullity test), ``"power_t"`` (t-test at the median level) or
        ``"half_width"`` against the number of units n (log scale), one line per m (draws per
        unit), ±2 Monte Carlo s.e. as bars; one panel per (spread, effect) pair. ``approx``: add the
        closed form of the t-test as dashed lines (``kind="power_t"``). Returns the Figure;
        ``path`` saves it."""
        import matplotlib.pyplot as plt  # heavy: loaded on the first figure

        cols = {"power": ("power", "power_se", "power of the nullity test"),
                "power_t": ("power_t", "power_t_se", "power of the t-test at the median"),
                "half_width": ("half_width", None, "half-width of the uniform band at the median")}
        if kind not in cols:
            raise ValueError(f"kind: must be one of {tuple(cols)}, got {kind!r}")
        if kind in ("power", "half_width") and "power" not in self.table:
            raise ValueError(f"kind: {kind!r} needs the bootstrap (the study ran with n_boot = 0)")
        if approx and kind != "power_t":
            raise ValueError("approx: the closed form is for the t-test; use kind='power_t'")
        y, yse, ylabel = cols[kind]
        t = self.table
        pairs = list(t[["spread", "effect"]].drop_duplicates().itertuples(index=False, name=None))
        if ax is None:
            _, axes = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 3.8), squeeze=False)
            axes = axes[0]
        else:
            axes = np.atleast_1d(ax)
            if axes.size != len(pairs):
                raise ValueError(f"ax: give {len(pairs)} Axes (one per spread and effect pair), got {axes.size}")
        ap = self.approximation() if approx else None
        for a, (sp, eff) in zip(axes, pairs):
            sub = t[(t["spread"] == sp) & (t["effect"] == eff)]
            for k, (m, g) in enumerate(sub.groupby("m")):
                color = f"C{k}"
                err = None if yse is None else 2 * g[yse]
                a.errorbar(g["n"], g[y], yerr=err, color=color, marker="o", ms=4, lw=1.6, capsize=2,
                           label=f"m = {m} draws per unit")
                if ap is not None:
                    ga = ap[(ap["spread"] == sp) & (ap["effect"] == eff) & (ap["m"] == m)]
                    a.plot(ga["n"], ga["power_t_approx"], color=color, ls="--", lw=1.2)
            if ap is not None:
                a.plot([], [], color="0.3", ls="--", label="normal approximation")
            if kind != "half_width":
                a.axhline(self.settings["alpha"], color="0.5", lw=0.8, ls=":")
                a.set_ylim(-0.02, 1.02)
            a.set_xscale("log", base=2)
            a.set_xticks(sorted(t["n"].unique()))
            a.set_xticklabels([str(v) for v in sorted(t["n"].unique())])
            a.set_xlabel("units n")
            a.set_ylabel(ylabel)
            a.set_title(title if title is not None else f"{self.settings['effect_type']} {eff:g}, unit spread {sp:g}")
            a.legend(frameon=False, fontsize=8)
        fig = axes[0].figure
        if path is not None:
            fig.savefig(path, bbox_inches="tight")
        return fig


def simulate_power(n: Sequence[int] | int = (100, 200, 400, 800), m: Sequence[int] | int = (10, 50, 500),
                   spread: Sequence[float] | float = 0.25, effect: Sequence[float] | float = 0.25, *,
                   effect_type: str = "shift", reps: int = 200, n_boot: int = 199, alpha: float = 0.05,
                   quantiles=DECILES, within_sd: float = 1.0, slope: float = 1.0, curvature: float = 0.0,
                   seed=None, n_jobs: int = 1, progress: bool = True, **r3d_kwargs) -> PowerStudy:
    r"""Monte Carlo power of the nullity test and width of the uniform band of :func:`r3d_teach.r3d`
    in the design of the module notes, for every combination of n (units), m (draws per unit),
    spread (:math:`\sigma_\eta`) and effect (:math:`\Delta`).

    Each repetition draws one data set per cell with **common random numbers**: a repetition's
    units are the first n of one draw (x, unit effects), its draws per unit one matrix per m, and
    every fit uses the same bootstrap seed; so cells differ only by what the cell changes, and the
    study is deterministic for a given ``seed`` whatever ``n_jobs``. Repetition r uses the r-th
    child of ``numpy.random.SeedSequence(seed)`` (``spawn``). Unit quantiles are the type-7
    sample quantiles of the m draws; ``r3d`` runs with its defaults (data-driven h, local linear
    with robust bias correction, triangular kernel) unless ``**r3d_kwargs`` say otherwise.

    Parameters
    ----------
    n, m, spread, effect : grids (numbers or sequences); ``effect`` is :math:`\Delta`.
    effect_type : "shift" (:math:`\tau(q) = \Delta`) or "scale" (sd times :math:`1 + \Delta`).
    reps : repetitions per cell. The Monte Carlo s.e. of a rejection rate p is √(p(1-p)/reps).
    n_boot : bootstrap draws per fit (0: only the t-test at the median; no band, no nullity test).
    alpha : level of the tests and the band.
    quantiles : the grid of levels (default the deciles).
    within_sd : :math:`\sigma_w`; slope, curvature : :math:`\mu(x) = \text{slope}\,x + \text{curvature}\,x^2`
        (default x; a curvature shared by both sides cancels from the local-linear bias of the jump,
        so it changes neither the estimate's bias nor the data-driven h much).
    seed : None, an int >= 0 or a SeedSequence (a Generator is refused: repetitions need a
        SeedSequence to spawn from).
    n_jobs : joblib workers over repetitions (-1: all cores).
    progress : a tqdm progress bar over repetitions.
    **r3d_kwargs : passed to ``r3d`` (``h``, ``b``, ``p``, ``kernel``, ``method``, ``tests``, ...).

    Returns
    -------
    :class:`PowerStudy`

    Examples
    --------
    >>> study = simulate_power(n=[200], m=[20], spread=0.25, effect=[0.0, 0.5], reps=20, n_boot=99, seed=1,
    ...                        progress=False)
    >>> study.table[["n", "m", "effect", "reps"]].values.tolist()
    [[200.0, 20.0, 0.0, 20.0], [200.0, 20.0, 0.5, 20.0]]
    >>> bool(study.table["power"].iloc[1] > study.table["power"].iloc[0])
    True
    """
    ns = _grid(n, "n", True, 20)
    ms = _grid(m, "m", True, 1)
    spreads = _grid(spread, "spread", False, 0)
    effects = _grid(effect, "effect", False, -np.inf)
    effect_type = _effect_type(effect_type)
    if effect_type == "scale" and min(effects) <= -1:
        raise ValueError("effect: a scale change multiplies the sd by 1 + effect, which must be > 0")
    reps = validate.check_count(reps, "reps", 2)
    n_boot = validate.check_n_boot(n_boot)
    alpha = validate.check_alpha(alpha)
    q = validate.check_quantile_grid(quantiles)
    within_sd = _positive(within_sd, "within_sd")
    beta = []
    for name, v in (("slope", slope), ("curvature", curvature)):
        if isinstance(v, (bool, str, bytes, complex)) or not isinstance(v, numbers.Real) or not np.isfinite(v):
            raise ValueError(f"{name}: must be a finite number, got {v!r}")
        beta.append(float(v))
    if isinstance(seed, np.random.Generator):
        raise TypeError("seed: give None, an int >= 0 or a SeedSequence (repetitions spawn from it), not a Generator")
    if seed is None or isinstance(seed, np.random.SeedSequence):
        root = np.random.SeedSequence() if seed is None else seed
    else:
        root = np.random.SeedSequence(validate.check_count(seed, "seed", 0))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs: must be a non-zero integer (-1: all cores), got {n_jobs!r}")
    validate.check_flag(progress, "progress")
    for k in _OWN:
        if k in r3d_kwargs:
            raise ValueError(f"{k}: set by simulate_power (use its own arguments), not a keyword for r3d")
    opt = check_r3d_kwargs({**r3d_kwargs, "quantiles": q, "n_boot": n_boot, "alpha": alpha},
                           known=_R3D_NAMES)
    children = root.spawn(reps)
    from tqdm.auto import tqdm  # the progress bar's module, loaded only when a study runs

    gen = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_one_rep)(children[r], ns, ms, spreads, effects, effect_type, q, beta, within_sd, n_boot, alpha,
                          r3d_kwargs) for r in range(reps))
    rows = []
    for r, part in enumerate(tqdm(gen, total=reps, disable=not progress, desc="power", unit="rep")):
        for row in part:
            row["rep"] = r
        rows.extend(part)
    raw = pd.DataFrame(rows)
    table = _summarise(raw, n_boot)
    settings = dict(reps=reps, n_boot=n_boot, alpha=alpha, quantiles=q.tolist(), effect_type=effect_type,
                    within_sd=within_sd, beta=tuple(beta), kernel=opt.kernel, p=opt.p,
                    r3d_kwargs=dict(r3d_kwargs), seed_entropy=root.entropy)
    return PowerStudy(table=table, raw=raw, settings=settings)

