"""``r3d()``: the R3D estimator for sharp and fuzzy designs (chapters 2–6), and
``select_bandwidth()``, its first two steps alone.

``r3d`` reads as the list of its steps (Van Dijcke 2025, §2.5, §2.7.1/§3.3.1, App. A-4):

0. options checked before any work (:mod:`r3d_teach.core.options`);
1. inputs → unit quantile functions Q̂ (n × M) (:mod:`r3d_teach.core.inputs`,
   :mod:`r3d_teach.core.quantiles`); extreme magnitudes (|y| near 1e308 or 1e-300) are scaled by
   an exact power of two first, so nothing overflows or underflows;
2. bandwidths: h for the order s = p - 1 fit and b for the order-p bias-correcting fit,
   data-driven (:mod:`r3d_teach.core.bandwidth`; b = the selector's derivative-rate pilot, per
   side) or given (h given, b not ⇒ b = h, the paper's estimator), resolved by
   :func:`r3d_teach.core.options.resolve_bandwidths`;
3. robust bias-corrected one-sided fits of every quantile at the cutoff
   (:func:`r3d_teach.core.locpoly.bias_corrected_fit`): m̂^bc_±(q) = Σ_i ω^±_i(q) Q̂_i(q);
4. monotone boundary curves (:mod:`r3d_teach.core.frechet`): "frechet" projects each curve onto
   non-decreasing functions (one h and one b per side), "simple" rearranges (per-quantile
   h and b allowed); τ̂(q) = m̂_+(q) - m̂_-(q), fuzzy: divided by the first stage's jump;
5. influence terms φ_i(q) (:mod:`r3d_teach.core.influence`) and the pointwise robust
   standard error se(q) = √Σ_i φ_i(q)² (clustered: sums within clusters first);
   Before any fit, :func:`r3d_teach.core.options.check_windows` checks that every window can
   carry a variance (p + 1 + 3 units per side, two clusters per side);
6. multiplier bootstrap (:mod:`r3d_teach.core.bootstrap`; 999 draws unless ``n_boot`` says
   otherwise, none with ``n_boot=0``): the uniform band (studentized by default, with HC2
   residuals and a multivariate-t critical value whose ν is the Bell-McCaffrey degrees of
   freedom of the variance, :mod:`r3d_teach.core.dof`), nullity / homogeneity / centred-Gini
   tests.  Per-quantile z, p-values and pointwise intervals come
   from ``se`` and need no bootstrap.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from . import validate
from .bandwidth import DEFAULT_MIN_UNITS, BandwidthSelection
from .bootstrap import multiplier_bootstrap
from .dof import fit_dof
from .frechet import isotonic_projection, rearrange
from .gini import gini_from_quantiles
from .influence import Influence, fuzzy_influence, sharp_influence
from .inputs import Inputs, prepare_inputs
from .locpoly import SIDES, bias_corrected_fit
from .options import (DEFAULT_N_BOOT, Bandwidths, FitOptions, check_inference, check_options, check_windows,
                      resolve_bandwidths, resolve_use_t)
from .quantiles import safe_scale
from .results import Diagnostics, FirstStage, R3DResult

__all__ = ["r3d", "select_bandwidth", "R3DResult", "influence_for_rule"]

#: |first-stage jump| below this: the fuzzy ratio is not identified (error)
FIRST_STAGE_MIN = 1e-6
#: a first stage weaker than this jump, or than this t-statistic, gets a warning
WEAK_FIRST_STAGE_JUMP = 0.1
WEAK_FIRST_STAGE_T = 2.0
#: effects and residuals smaller than this times max|Q̂| are rounding noise (a few hundred
#: units in the last place) and are set to zero: identical units give τ̂ = 0, a zero-width
#: band and p = 1, not a rejection of rounding noise
NOISE_FLOOR = 1e-13
#: clustered inference rests on few independent pieces when fewer clusters than this have units
#: in a side's window (with CR3 residuals the bands then err on the wide side: 98 % coverage of
#: a 95 % band with 8 clusters per side in benchmarks/coverage_cluster.py)
FEW_CLUSTERS = 20
# the studentized tests' largest |t| at a level with se below this multiple of the median se is noted
THIN_SE_RATIO = 0.01


def _fit_sides(xc, Y, h, b: dict, opt: FitOptions, labels=None, pilot=None, scale: float = 1.0) -> dict:
    # pilot: the bandwidth selection, whose order-p fits at b are reused (one pass less over Q)
    return {side: bias_corrected_fit(xc, Y, h, b[side], opt.s, opt.p, opt.kernel, side, labels=labels,
                                     bias=pilot and pilot.bias_fit(side, opt.p, opt.kernel, b[side], scale))
            for side in SIDES}


def _monotone(curve: np.ndarray, q: np.ndarray, opt: FitOptions) -> np.ndarray:
    if opt.method == "frechet":
        return isotonic_projection(curve, q)
    return rearrange(curve, q, opt.rearrangement)


def _snap(v: np.ndarray, floor: float) -> np.ndarray:
    return np.where(np.abs(v) < floor, 0.0, v)


def _first_stage(inp: Inputs, bw: Bandwidths, opt: FitOptions):
    fits = _fit_sides(inp.xc, inp.treatment, bw.h_den, bw.b_den, opt)
    jump = float(fits["+"].intercept[0] - fits["-"].intercept[0])
    if not np.isfinite(jump) or abs(jump) < FIRST_STAGE_MIN:
        raise ValueError(f"treatment: the first stage (jump in P(T=1) at the cutoff) is {jump:.3g}, "
                         "essentially zero; the fuzzy ratio is not identified")
    conv = float(fits["+"].conventional.intercept[0] - fits["-"].conventional.intercept[0])
    if not np.isfinite(conv) or abs(conv) < FIRST_STAGE_MIN:
        raise ValueError(f"treatment: the conventional first stage (order p - 1 fit) is {conv:.3g}, essentially "
                         "zero; the fuzzy ratio is not identified")
    return fits, jump, conv


def _check_weak(fs: FirstStage) -> None:
    if abs(fs.jump) < WEAK_FIRST_STAGE_JUMP or fs.t_stat < WEAK_FIRST_STAGE_T:
        warnings.warn(f"treatment: weak first stage (jump {fs.jump:.3g}, standard error {fs.se:.3g}, "
                      f"t = {fs.t_stat:.2g}); the fuzzy estimate and its band are unreliable",
                      UserWarning, stacklevel=3)


def _check_cluster_count(clusters: np.ndarray, fits: dict) -> None:
    counts = {side: np.unique(clusters[fits[side].rows]).size for side in SIDES}
    if min(counts.values()) < FEW_CLUSTERS:
        warnings.warn(f"cluster: only {counts['-']} (left) and {counts['+']} (right) clusters have units in the "
                      f"windows; with fewer than {FEW_CLUSTERS} per side the clustered bands and tests are "
                      "approximate (they tend to be conservative)", UserWarning, stacklevel=3)


def _check_gini(plus, minus, q):
    for side, curve in (("right", plus), ("left", minus)):
        if not np.isfinite(gini_from_quantiles(curve, q)):
            raise ValueError(
                f"tests: the Gini test needs a distribution with a positive mean, but the {side} "
                "boundary quantile function integrates to a non-positive value (shift the outcome "
                "or drop 'gini')")


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
    b=None,
    treatment=None,
    weights=None,
    cluster=None,
    Q=None,
    coverage_correction: bool = False,
    n_boot: int = DEFAULT_N_BOOT,
    alpha: float = 0.05,
    band: str = "studentized",
    tests: Sequence[str] = ("nullity", "homogeneity"),
    test_ranges=None,
    seed=None,
    data: pd.DataFrame | None = None,
    unit: str | None = None,
    quantile_method: str = "linear",
    rearrangement: str = "sort",
    residuals: str | None = None,
    multipliers: np.ndarray | None = None,
    s: int | None = None,
    min_units: int = DEFAULT_MIN_UNITS,
    progress: bool = False,
    use_t: bool | None = None,
) -> R3DResult:
    """Estimate the local average quantile treatment effect τ(q) at a cutoff (R3D).

    Parameters
    ----------
    x : (n,) running variable, one value per unit (or a column name with ``data=``).
    y : sequence of n 1-D arrays, each unit's sample (or a column name with ``data=``).
    cutoff : threshold c; units with x ≥ c are on the treated (right, "+") side.
    method : "frechet" (default; one h and one b per side, isotonic projection) or "simple"
        (quantile-by-quantile local polynomial, monotone rearrangement).
    p : order of the bias-correcting local polynomial (default 2); the estimate is the order
        s = p - 1 fit at h, bias-corrected by the order-p fit at b (robust bias correction,
        Calonico, Cattaneo and Titiunik 2014).
    quantiles : grid of levels in (0, 1), strictly increasing (default 0.01, …, 0.99).
    kernel : "triangular" (default), "epanechnikov" or "uniform".
    h : None (data-driven), a scalar, one per quantile ("simple" only); fuzzy: a pair
        (h_num, h_den).  Given bandwidths are used as they are (no coverage correction).
    b : the bias correction's bandwidth, same forms as ``h``.  Default: the selector's
        derivative-rate pilot (per side) when h is data-driven, and b = h when h is given
        (which is exactly the paper's estimator, the order-p fit at h).
    treatment : unit-level 0/1 treatment; given ⇒ fuzzy design (τ̂ divided by the first stage).
    weights : per-observation weights (same shapes as ``y``) for weighted unit quantiles.
    cluster : unit-level cluster labels (or a column name with ``data=``): one bootstrap
        multiplier per cluster; ``se``, bands and tests are clustered.
    Q : an (n, M) matrix of unit quantiles computed elsewhere, on the grid ``quantiles``
        (required then); give it instead of ``y``.
    coverage_correction : shrink data-driven h by n^{-s/((2s+3)(s+3))}.
    n_boot : multiplier-bootstrap draws for the uniform band and the tests (default 999; 0: no
        bootstrap, then no uniform band and no tests; ``se``, the per-quantile z, p-values and
        pointwise intervals are always computed).
    alpha : level of the bands and tests (default 0.05).
    band : the uniform band and the tests' statistics: "studentized" (default; τ̂(q) ± ĉ·se(q),
        ĉ the (1 - α) quantile of the bootstrap's max_q |G_b(q)|/se(q) divided by √(χ²_ν/ν), a
        multivariate t with ν the Bell-McCaffrey degrees of freedom of the variance: narrow
        where τ̂ is precise, wider when the windows hold few units) or "unweighted" (τ̂(q) ± c
        with one width c for every q, set by the noisiest level: the paper's and R3D 0.1.0's
        band).  See :mod:`r3d_teach.core.bootstrap` and :mod:`r3d_teach.core.dof`.
    tests : any of "nullity", "homogeneity", "gini" (centred, sharp designs only).
    test_ranges : None (whole grid), a pair (lo, hi), a vector (a, b, c) meaning [a, b], [b, c],
        or a list of pairs.
    seed : None, an int ≥ 0, a ``numpy.random.SeedSequence`` or ``Generator`` (multipliers).
    data, unit : a long DataFrame (one row per observation) and its unit column; then x, y,
        treatment, weights and cluster are column names; x, treatment and cluster must be
        constant within a unit.
    quantile_method : "linear" (type 7, default) or "inverted_cdf" (the paper's definition).
    rearrangement : "simple" only: "sort" (exact, default) or "interpolated" (R3D 0.1.0's).
    residuals : "hc2", "hc3", "nn" or "raw": residuals of the order-p fit at b (``se`` and the
        bootstrap use them).  Default None: "hc2" with the studentized band (the rule its degrees
        of freedom go with; rdrobust's ``vce="hc2"``), "hc3" with the unweighted band (exactly
        the band of R3D 0.1.0's construction with HC3 residuals).  With ``cluster``, "hc3" is
        CR3 and the other rules are summed within clusters.
    multipliers : optional (n, B) matrix of multipliers ξ (overrides ``n_boot``; the χ²_ν draws
        of the studentized band's critical value still come from ``seed``).
    s : order of the estimate and of the bandwidth's optimality (default p - 1).
    min_units : a data-driven h keeps at least this many units per side (default 10), and never
        fewer than p + 4, the least a window can carry a variance with; a data-driven b is
        widened to p + 4 units when the pilot holds fewer (see
        :func:`r3d_teach.core.options.check_windows`).
    progress : show a progress bar over bootstrap chunks.
    use_t : reference distribution of the per-quantile p-values and pointwise intervals.  None
        (default): Student's t with the Bell-McCaffrey ν (``res.dof``) for the studentized band
        with HC2/HC3 residuals (Imbens and Kolesár 2016; with 10-20 units a side the normal
        over-rejects), the normal otherwise; False: the normal (rdrobust's convention); True: t.

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
    >>> res = r3d(x, y, quantiles=np.arange(1, 10) / 10, seed=2)   # 999 bootstrap draws
    >>> bool(abs(res.tau[4] - 1.0) < 3 * res.se[4])       # median effect: true value 1
    True
    >>> res.band, bool(np.allclose(res.band_upper - res.tau, res.crit_value * res.se))
    ('studentized', True)
    >>> bool(res.tau[8] > res.tau[0])                      # the spread grows above the cutoff
    True
    >>> paper = r3d(x, y, quantiles=np.arange(1, 10) / 10, h=0.5, n_boot=0)   # b = h: order 2 at h
    >>> paper.b == {"+": 0.5, "-": 0.5}
    True
    """
    # 0. options (every check before any work)
    opt = check_options(method=method, kernel=kernel, p=p, s=s, alpha=alpha, n_boot=n_boot, band=band,
                        tests=tests, rearrangement=rearrangement, residuals=residuals, min_units=min_units,
                        coverage_correction=coverage_correction, quantile_method=quantile_method,
                        progress=progress, use_t=use_t, fuzzy=treatment is not None)
    rng = validate.check_seed(seed)
    if multipliers is not None:
        multipliers = validate.as_real_array(multipliers, "multipliers")

    # 1. inputs and unit quantiles (extreme magnitudes scaled); then the checks that need their size
    inp = prepare_inputs(x, y, Q=Q, cutoff=cutoff, quantiles=quantiles, treatment=treatment, weights=weights,
                         cluster=cluster, data=data, unit=unit, quantile_method=opt.quantile_method)
    q = inp.quantiles
    _, multipliers = check_inference(opt, inp, test_ranges, multipliers)
    Z, scale = safe_scale(inp.Q, top=inp.abs_max())
    floor = NOISE_FLOOR * (inp.abs_max() / scale)  # = max|Z| (scale is a power of two)

    # 2. bandwidths h and b, and windows that can carry a variance
    bw = resolve_bandwidths(inp, h, b, opt)
    check_windows(inp, bw, opt)

    # 3. bias-corrected fits on each side; 4. monotone curves and the effect
    fits = _fit_sides(inp.xc, Z, bw.h, bw.b, opt, labels=q, pilot=bw.selection, scale=scale)
    raw = {side: fits[side].intercept for side in SIDES}
    conv = {side: fits[side].conventional.intercept for side in SIDES}
    mono = {side: _monotone(raw[side], q, opt) for side in SIDES}
    numerator = _snap(mono["+"] - mono["-"], floor)
    numerator_conv = _snap(_monotone(conv["+"], q, opt) - _monotone(conv["-"], q, opt), floor)

    # 5. influence terms and standard errors (fuzzy: delta method with the first stage)
    influence = sharp_influence(fits["+"], fits["-"], Z, opt.residuals,
                                q if opt.method == "frechet" else None, inp.clusters, floor=floor,
                                gram=opt.n_boot > 0)
    if inp.clusters is not None:
        _check_cluster_count(inp.clusters, fits)
    tau_z, tau_conv_z, first_stage, fs_influence, t_fits = numerator, numerator_conv, None, None, None
    if inp.treatment is not None:
        t_fits, jump, jump_conv = _first_stage(inp, bw, opt)
        influence, fs_influence = fuzzy_influence(influence, t_fits["+"], t_fits["-"], inp.treatment, numerator,
                                                  jump, opt.residuals, inp.clusters)
        first_stage = FirstStage(plus=float(t_fits["+"].intercept[0]), minus=float(t_fits["-"].intercept[0]),
                                 jump=jump, se=float(fs_influence.se()[0]), jump_conventional=jump_conv,
                                 h_den=bw.h_den, b_den=bw.b_den)
        _check_weak(first_stage)
        tau_z, tau_conv_z = numerator / jump, numerator_conv / jump_conv

    res = R3DResult(
        quantiles=q, tau=tau_z * scale, se=influence.se() * scale, tau_conventional=tau_conv_z * scale,
        plus=scale * mono["+"], minus=scale * mono["-"], plus_raw=scale * raw["+"], minus_raw=scale * raw["-"],
        h=bw.h, b=bw.b, method=opt.method, p=opt.p, kernel=opt.kernel, cutoff=inp.cutoff, n_units=inp.n,
        n_left=fits["-"].n_in_window, n_right=fits["+"].n_in_window,
        n_clusters=None if inp.clusters is None else int(inp.cluster_labels.size),
        first_stage=first_stage, alpha=opt.alpha, s=opt.s, residuals=opt.residuals,
        diagnostics=Diagnostics(
            fits=fits, unit_quantiles=inp.Q, x=inp.x, influence=influence.scaled(scale), numerator=numerator * scale,
            units=inp.units, clusters=inp.clusters, cluster_labels=inp.cluster_labels, bandwidth=bw.selection,
            first_stage_fits=t_fits, first_stage_influence=fs_influence,
            options=dict(s=opt.s, quantile_method=opt.quantile_method, rearrangement=opt.rearrangement,
                         residuals=opt.residuals, coverage_correction=opt.coverage_correction,
                         weighted=inp.weighted, min_units=opt.min_units, scale=scale)),
    )
    _check_finite(res)
    # the Bell-McCaffrey ν of the variance: the studentized band's multivariate-t critical value, and
    # the reference t distribution of the per-quantile p-values and intervals (use_t)
    dof = None
    if opt.band == "studentized":
        dof = fit_dof(fits, opt.residuals, inp.clusters, t_fits)
        res.dof = dof
    res.use_t = resolve_use_t(opt.use_t, opt.band, opt.residuals)
    res.set_pointwise()
    if opt.n_boot == 0 and multipliers is None:
        return res

    # 6. multiplier bootstrap (on the standardised scale, reported on y's), bands and tests
    if "gini" in opt.tests:
        _check_gini(res.plus, res.minus, q)
    gini_parts = None
    if "gini" in opt.tests:  # Gini coefficients are scale-free
        gini_parts = (mono["+"], mono["-"], influence.plus, influence.minus)
    boot = multiplier_bootstrap(
        influence.terms, tau_z, q, n_boot=opt.n_boot, alpha=opt.alpha, rng=rng, multipliers=multipliers,
        tests=opt.tests, test_ranges=test_ranges, gini_parts=gini_parts, progress=opt.progress,
        rows=influence.rows, n_units=inp.n, clusters=influence.clusters, band=opt.band, dof=dof,
    ).scaled(scale)
    res.n_boot, res.band = boot.n_boot, boot.band
    res.band_lower, res.band_upper, res.crit_value = boot.band_lower, boot.band_upper, boot.crit_value
    res.tests = boot.tests
    res.diagnostics.bootstrap = boot
    _note_thin_levels(res)
    return res


def _note_thin_levels(res: R3DResult) -> None:
    """Warn (and record in ``res.notes``) when the studentized tests' largest |t| = |τ̂(q)|/se(q)
    exceeds the critical value ĉ_t at a level whose se is below ``THIN_SE_RATIO`` × the median
    se over the grid: that level alone makes the band exclude zero there and the nullity test
    reject.

    There nearly every unit's quantile takes the same value (a floor, a cap, a mass point of the
    outcome), so se(q) rests on the few units off that value and max_q |τ̂(q)|/se(q), the
    nullity statistic, is set by that level alone: an effect that is real but tiny, or a few
    units' noise, gives a t-statistic in the hundreds.  The band at other levels is unaffected."""
    if res.band != "studentized" or res.band_lower is None:
        return
    se, tau, q = res.se, res.tau, res.quantiles
    pos = se > 0
    if pos.sum() < 2:
        return
    typical = float(np.median(se[pos]))
    t = np.zeros(se.shape)
    t[pos] = np.abs(tau[pos]) / se[pos]
    k = int(np.argmax(t))
    if not (pos[k] and se[k] < THIN_SE_RATIO * typical and t[k] > float(res.crit_value)):
        return
    thin = pos & (se < THIN_SE_RATIO * typical)
    lo, hi = float(q[thin].min()), float(q[thin].max())
    where = f"q = {lo:.3g}" if lo == hi else f"{lo:.3g} <= q <= {hi:.3g}"
    note = (f"the largest |t| = |tau|/se ({t[k]:.3g}) is at q = {q[k]:.3g}, where se = {se[k]:.2g} is "
            f"{se[k] / typical:.1g} x the median se; at {where} nearly every unit's quantile is the "
            "same (a floor, a cap or a mass point), so se rests on a few units and these levels set "
            "the studentized tests. Look at them (res.to_frame()), test away from them "
            "(test_ranges=...) or compare band='unweighted'.")
    res.notes.append(note)
    warnings.warn(f"r3d: {note}", UserWarning, stacklevel=3)


def influence_for_rule(res: R3DResult, residuals: str) -> Influence:
    """The influence terms a sharp fit would have under another residual rule, from its stored
    fits (no refit): what ``r3d(..., residuals=residuals)`` computes in step 5 (on y's scale).
    Lets a simulation compare the two bands, whose default rules differ, on one fit."""
    if res.fuzzy or res.diagnostics is None:
        raise ValueError("res: influence_for_rule needs a sharp fit with its diagnostics")
    d = res.diagnostics
    scale = float(d.options.get("scale", 1.0))
    Q = d.unit_quantiles
    Z = Q if scale == 1.0 else Q / scale
    floor = NOISE_FLOOR * (float(np.max(np.abs(Q))) / scale)
    project = res.quantiles if res.method == "frechet" else None
    inf = sharp_influence(d.fits["+"], d.fits["-"], Z, residuals, project, d.clusters, floor=floor)
    return inf.scaled(scale)


def _check_finite(res: R3DResult) -> None:
    for name in ("tau", "se", "tau_conventional", "plus", "minus"):
        if not np.all(np.isfinite(getattr(res, name))):
            raise ValueError(f"y: the {name} of this fit is not representable in float64 (values near "
                             "±1.8e308); rescale y (e.g. to thousands) and refit")


def select_bandwidth(
    x,
    y=None,
    *,
    cutoff: float = 0.0,
    method: str = "frechet",
    p: int = 2,
    s: int | None = None,
    quantiles=None,
    kernel: str = "triangular",
    treatment=None,
    weights=None,
    Q=None,
    data=None,
    unit: str | None = None,
    coverage_correction: bool = False,
    quantile_method: str = "linear",
    min_units: int = DEFAULT_MIN_UNITS,
) -> BandwidthSelection:
    """Data-driven bandwidth(s) for :func:`r3d_teach.r3d`, with every pilot quantity.

    Takes the same data arguments as ``r3d`` (samples, ``Q=``, or ``data=``/``unit=``), and
    returns what ``r3d`` would use: ``h`` for the order s = p - 1 estimate and ``b_pilot``
    (per side) for the order-p bias correction.  The options are checked as ``r3d`` checks them
    (:func:`r3d_teach.core.options.check_options`), before the data are read, and the bandwidths
    come from the same :func:`r3d_teach.core.options.resolve_bandwidths`.

    Parameters
    ----------
    x : (n,) running variable; y : sequence of n unit samples (or column names with ``data=``).
    method : "frechet" (one IMSE-optimal h) or "simple" (one MSE-optimal h per quantile).
    p : estimation order; s : order the bandwidth is optimal for (default p - 1, at least 0).
    quantiles : grid (default 0.01..0.99); kernel : "triangular", "epanechnikov", "uniform".
    treatment : optional unit-level 0/1 treatment: also selects the first stage's h_den.
    weights : optional per-observation weights (weighted unit quantiles).
    Q : optional (n, M) unit quantiles on ``quantiles`` instead of ``y``.
    coverage_correction : multiply by n^{-s/((2s+3)(s+3))} (coverage-error rule of thumb).
    min_units : the window keeps at least this many units on each side (default 10).

    Returns
    -------
    BandwidthSelection
        ``.h`` (and ``.h_den``), ``.b_pilot``, plus f̂, the kernel constants, pilots, B±(q), V±(q), R(q).
    """
    opt = check_options(method=method, kernel=kernel, p=p, s=s, coverage_correction=coverage_correction,
                        quantile_method=quantile_method, min_units=min_units)
    inp = prepare_inputs(x, y, Q=Q, cutoff=cutoff, quantiles=quantiles, treatment=treatment, weights=weights,
                         data=data, unit=unit, quantile_method=opt.quantile_method)
    return resolve_bandwidths(inp, None, None, opt).selection
