r"""Monte Carlo study runner: the paper's Table 2 and Figure 3, and any other grid of designs.

A study is a grid of **cells** (design × n × method × Δ), each run for ``reps`` repetitions. One
repetition of one (design, n) is a **task**; it computes every requested method and Δ on common
random numbers (the same data for every method and every Δ, as in the paper, whose coverage and
homogeneity columns are identical across Δ). Seeds are derived from
``numpy.random.SeedSequence([base_seed, crc32(design), n, n_obs, rep])`` (data) and the same plus
``crc32(method)`` (bootstrap), so any cell or repetition can be rerun alone and reproduces its
rows. Rows are appended to a CSV as tasks finish; a rerun skips the cells already in the file and
reruns the cells whose fit failed (their error rows are removed first).

Designs: those of :data:`r3d_teach.simulate.DESIGNS` with an effect size ``delta``
(:data:`MC_DESIGNS`); Δ is that parameter and the truth is the design's own
(``get_design(name, delta=Δ).truth(q)``).

Methods: ``"frechet"`` and ``"simple"`` (:func:`r3d_teach.r3d`, p = 2, triangular kernel,
data-driven bandwidths, multiplier bootstrap, nullity and homogeneity tests over the whole grid;
``band``: the uniform band and the tests' statistics, "studentized" by default as in ``r3d``;
the coverage of both bands is recorded from the same normal draws, each band with its default
residual rule: HC2 and the multivariate-t critical value with the Bell-McCaffrey ν for the
studentized band, HC3 for the unweighted one)
and ``"qrd"`` (the pooled quantile RD of :func:`r3d_teach.simulate.baselines.quantile_rd`, local linear,
at the Fréchet bandwidth :func:`r3d_teach.select_bandwidth` selects on the same data; estimate
only).

Three exact shortcuts make the full Table 2 study (2 designs × 3 n × 2 methods × 3 Δ × 2,500
repetitions × 5,000 draws, n_i = n) fast; each is exact in law or exact outright, and each can be
switched off:

1. ``data="quantiles"``: the estimator uses the samples only through the unit quantiles on the
   grid (type 7), so these are drawn exactly in law from a few uniform order statistics
   (:func:`r3d_teach.simulate.empirical_quantiles`) instead of from n_i draws per unit, and passed
   to :func:`r3d` as (K+1)-point pseudo-samples whose type-7 quantiles on the grid m/K are exactly
   those values (grids of the form m/K only; others fall back to samples).
   ``data="samples"`` draws every sample.
2. Gaussian bootstrap in M dimensions: given the data, the multiplier draws
   :math:`G_b = \Phi'\xi_b`, :math:`\xi_b \sim N(0, I_n)`, are exactly
   :math:`N(0, \Phi'\Phi)`; with any :math:`R` such that :math:`R'R = \Phi'\Phi` we draw
   :math:`G_b = R'\eta_b`, :math:`\eta_b \sim N(0, I_M)`: the same bootstrap law with M instead
   of n normals per draw (:func:`r3d_teach.core.bootstrap.covariance_root`). Φ is the influence matrix
   :func:`r3d` keeps (``result.diagnostics.influence``; :func:`influence_matrix`); bands and tests
   then come from :func:`r3d_teach.core.bootstrap.multiplier_bootstrap` as in :func:`r3d`, with the
   same draws η for every Δ (common random numbers).
3. ``shift_shortcut``: in designs where Δ shifts every treated unit's law by a constant
   (``Design.delta_shifts_treated``: paper1, paper2, location, heterogeneous), with common random
   numbers :math:`\hat\tau_\Delta = \hat\tau_0 + \Delta` with the same bandwidth and bootstrap
   draws; one fit serves every Δ.

Command line (every argument is checked before any computation)::

    python -m r3d_teach.simulate.montecarlo --design paper1 paper2 --n 500 1000 2000 --reps 2500 \
        --boot 5000 --out results.csv --jobs 2

Example
-------
>>> from r3d_teach.simulate.montecarlo import run_study, summarize
>>> df = run_study(["paper1"], [200], methods=["frechet"], deltas={"paper1": [0.0, 2.27]},
...                reps=4, n_boot=199, n_jobs=1, progress=False)
>>> sorted(df["delta"].unique().tolist()), len(df)
([0.0, 2.27], 8)
>>> summarize(df)[["design", "n", "method", "delta", "reps", "failed"]].to_dict("records")[0]
{'design': 'paper1', 'n': 200, 'method': 'frechet', 'delta': 0.0, 'reps': 4, 'failed': 0}
"""

from __future__ import annotations

import argparse
import json
import numbers
import os
import platform
import sys
import time
import zlib
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ..core.bootstrap import BANDS, covariance_root, multiplier_bootstrap
from ..core.dof import fit_dof
from ..core.estimator import influence_for_rule, r3d, select_bandwidth
from ..core.options import check_options
from ..core.quantiles import DECILES
from ..core.validate import check_count, check_quantile_grid
from .baselines import quantile_rd
from .designs import DESIGNS, design_parameters, empirical_quantiles, get_design

__all__ = [
    "DEFAULT_DELTAS",
    "METHODS",
    "MC_DESIGNS",
    "run_study",
    "run_task",
    "summarize",
    "summarize_quantiles",
    "paper_table",
    "influence_matrix",
    "main",
]

METHODS = ("frechet", "simple", "qrd")
#: designs the runner can vary: those with an effect size ``delta``
MC_DESIGNS = tuple(sorted(d for d in DESIGNS if "delta" in design_parameters(d)))
#: The paper's Δ values (average Cohen's d of 0, 0.5 and 1).
DEFAULT_DELTAS: dict[str, tuple[float, ...]] = {
    "paper1": (0.0, 1.14, 2.27),
    "paper2": (0.0, 1.86, 3.72),
}
#: Δ of the other designs when none is given
OTHER_DELTAS = (0.0, 1.0)
KEY = ["design", "n", "n_obs", "method", "delta", "rep"]
_CELL = ["design", "n", "n_obs", "method", "delta"]
BASE_SEED = 20250404
#: smallest number of units per data set
MIN_N = 10
#: Δ values are rounded to this many digits in the keys of cells (0.1 + 0.2 is the cell 0.3)
DELTA_DIGITS = 10
#: a grid counts as (1, ..., K-1)/K when it is within this absolute distance
GRID_TOL = 1e-12
#: failed fits keep this many characters of their error message
ERROR_CHARS = 200


class _ArgumentError(ValueError):
    """A bad argument of :func:`run_study`; ``arg`` is its name (the CLI maps it to the flag)."""

    def __init__(self, arg: str, detail: str):
        super().__init__(f"{arg}: {detail}")
        self.arg, self.detail = arg, detail


# --------------------------------------------------------------------------------------------
# seeding
# --------------------------------------------------------------------------------------------
def _crc(s: str) -> int:
    return zlib.crc32(s.encode("utf-8"))


def data_seed(base_seed: int, design: str, n: int, n_obs: int, rep: int) -> np.random.SeedSequence:
    """Seed of the data of one repetition (shared by every method and Δ: common random numbers)."""
    return np.random.SeedSequence([int(base_seed), _crc(design), int(n), int(n_obs), int(rep)])


def boot_seed(base_seed: int, design: str, n: int, n_obs: int, rep: int, method: str) -> np.random.SeedSequence:
    """Seed of the bootstrap draws of one repetition and method (shared across Δ)."""
    return np.random.SeedSequence([int(base_seed), _crc(design), int(n), int(n_obs), int(rep),
                                   _crc(method), 1])


def _dkey(delta: float) -> float:
    return round(float(delta), DELTA_DIGITS)


# --------------------------------------------------------------------------------------------
# one repetition
# --------------------------------------------------------------------------------------------
def _equal_grid_K(q: np.ndarray) -> int | None:
    """K if the grid is q = (1, ..., K-1)/K (to GRID_TOL), else None."""
    if q.size == 0 or q[0] <= 0:
        return None
    K = int(round(1.0 / q[0]))
    if K < 2 or q.size != K - 1 or not np.allclose(q, np.arange(1, K) / K, atol=GRID_TOL, rtol=0):
        return None
    return K


def _pseudo_samples(Q: np.ndarray) -> list:
    """(K+1)-point samples whose type-7 quantiles at m/K (m = 1..K-1) are the rows of Q (n × (K-1)):
    with K+1 points, type 7 at m/K is the (m+1)-th order statistic, so the sample is
    (Q_1, Q_1, Q_2, ..., Q_{K-1}, Q_{K-1})."""
    return list(np.concatenate([Q[:, :1], Q, Q[:, -1:]], axis=1))


def influence_matrix(x: np.ndarray, y: Any, quantiles: np.ndarray, method: str = "frechet",
                     **r3d_kwargs) -> tuple[Any, np.ndarray]:
    """:func:`r3d` (no bootstrap) and the n × M influence matrix Φ of its multiplier bootstrap
    (G_b = Σ_i ξ_ib Φ_i), read from the result's ``diagnostics.influence`` (zero rows for the
    units outside every window). Returns ``(result, Phi)``.

    >>> import numpy as np
    >>> from r3d_teach.simulate import paper_dgp1
    >>> sim = paper_dgp1(200, 30, 1.0, seed=0)
    >>> res, Phi = influence_matrix(sim.x, sim.y, np.arange(1, 10) / 10)
    >>> Phi.shape, bool(np.allclose(np.sqrt((Phi ** 2).sum(axis=0)), res.se))
    ((200, 9), True)
    """
    res = r3d(x, y, method=method, quantiles=quantiles, tests=(), **({"n_boot": 0} | r3d_kwargs))
    return res, res.diagnostics.influence.full(len(x))


def _tests_row(boot) -> dict:
    t = boot.tests.set_index("test")
    out = {}
    for name, short in (("nullity", "null"), ("homogeneity", "homo")):
        if name in t.index:
            r = t.loc[name]
            out[f"{short}_stat"] = float(r["statistic"])
            out[f"{short}_crit"] = float(r["critical_value"])
            out[f"{short}_p"] = float(r["p_value"])
            out[f"{short}_accept"] = bool(r["statistic"] <= r["critical_value"])
    return out


def _empty_inference() -> dict:
    nan = float("nan")
    return {"crit_value": nan, "covered": np.nan, "covered_studentized": np.nan, "covered_unweighted": np.nan,
            "max_abs_error": nan,
            "null_stat": nan, "null_crit": nan, "null_p": nan, "null_accept": np.nan,
            "homo_stat": nan, "homo_crit": nan, "homo_p": nan, "homo_accept": np.nan}


_TRUTH_CACHE: dict = {}


def _truth(design: str, delta: float, q: np.ndarray) -> np.ndarray:
    key = (design, _dkey(delta), tuple(q.tolist()))
    if key not in _TRUTH_CACHE:
        _TRUTH_CACHE[key] = get_design(design, delta=float(delta)).truth(q)
    return _TRUTH_CACHE[key]


def run_task(design: str, n: int, n_obs: int, rep: int, methods: Sequence[str], deltas: Sequence[float], *,
             n_boot: int, quantiles: np.ndarray = DECILES, alpha: float = 0.05, base_seed: int = BASE_SEED,
             data: str = "quantiles", shift_shortcut: bool = True, band: str = "studentized") -> list[dict]:
    """Run one repetition of one (design, n): every method × Δ; returns one row per cell.

    Rows: the cell key (design, n, n_obs, method, delta, rep), the bandwidth ``h`` (mean over the
    grid for "simple"), ``band``, ``crit_value`` (of that band: a multiple of se when
    studentized), ``covered`` (that uniform band contains the true τ at every grid point),
    ``covered_studentized`` and ``covered_unweighted`` (each band's, from the same draws),
    ``max_abs_error``, nullity and homogeneity statistic / critical value / p-value /
    acceptance (statistic <= critical value; statistics of ``band``), ``tau_<q>`` per grid
    point, ``error`` (empty, or the message of a fit that failed: its numbers are NaN) and
    ``seconds``.
    """
    t0 = time.perf_counter()
    if design not in MC_DESIGNS:
        raise ValueError(f"design: unknown design {design!r}; choose from {list(MC_DESIGNS)}")
    q = np.asarray(quantiles, dtype=float)
    K = _equal_grid_K(q)
    cls = DESIGNS[design]
    use_q = data == "quantiles" and not cls.fuzzy and K is not None
    shortcut = shift_shortcut and cls.delta_shifts_treated
    fit_deltas = [0.0] if shortcut else [float(d) for d in deltas]
    r3d_methods = [m for m in methods if m != "qrd"]
    rows: list[dict] = []
    for fd in fit_deltas:
        ss = data_seed(base_seed, design, n, n_obs, rep)
        rng = np.random.default_rng(ss)
        dgp = get_design(design, delta=fd)
        sims = {}
        if r3d_methods:
            if use_q:
                sim = dgp.sample(n, 1, rng)
                sims["r3d"] = (sim, _pseudo_samples(empirical_quantiles(sim, n_obs, q, rng)))
            else:
                sim = dgp.sample(n, n_obs, rng)
                sims["r3d"] = (sim, sim.y)
        if "qrd" in methods:
            # full samples for the pooled estimator, from a child seed (same for every call)
            sims["qrd"] = dgp.sample(n, n_obs, np.random.default_rng(ss.spawn(1)[0]))
        for m in methods:
            out_deltas = [float(d) for d in deltas] if shortcut else [fd]
            try:
                rows.extend(_fit_method(design, n, n_obs, rep, m, fd, out_deltas, sims, q, n_boot,
                                        alpha, base_seed, band))
            except (ValueError, np.linalg.LinAlgError) as exc:  # a failed fit is a row, not a crash
                for d in out_deltas:
                    rows.append(_row(design, n, n_obs, m, d, rep, float("nan"), np.full(q.shape, np.nan), q,
                                     _empty_inference(), error=f"{type(exc).__name__}: {exc}"[:ERROR_CHARS],
                                     band=band))
    secs = (time.perf_counter() - t0) / max(len(rows), 1)
    for r in rows:
        r["seconds"] = secs
    return rows


def _covered(boot, tau: np.ndarray, truth: np.ndarray, alpha: float) -> bool:
    """Whether the uniform band of ``boot`` at level ``alpha`` contains ``truth`` at every level."""
    return bool(np.all(np.abs(tau - truth) <= boot.half_width(alpha)))


def _fit_method(design, n, n_obs, rep, m, fd, out_deltas, sims, q, n_boot, alpha, base_seed,
                band="studentized") -> list[dict]:
    """One method on one data set (fitted at delta ``fd``), rows for every delta in ``out_deltas``.

    Both bands are computed, each with its own default residual rule (HC2 and a multivariate-t
    critical value for the studentized band, HC3 for the unweighted one), from the same normal
    draws; the tests' columns are those of ``band``."""
    rows = []
    if m == "qrd":
        sim_q = sims["qrd"]
        if _equal_grid_K(q) is not None:  # same unit quantiles, cheaper for the selector
            ys_q = _pseudo_samples(np.quantile(sim_q.y_matrix, q, axis=1, method="linear").T)
        else:
            ys_q = sim_q.y
        h = float(select_bandwidth(sim_q.x, ys_q, method="frechet", quantiles=q, cutoff=sim_q.cutoff).h)
        est = quantile_rd(sim_q.x, sim_q.y_matrix, h=h, quantiles=q, cutoff=sim_q.cutoff)
        for d in out_deltas:
            rows.append(_row(design, n, n_obs, m, d, rep, h, est.tau + (d - fd), q, _empty_inference(), band=band))
        return rows
    sim, ys = sims["r3d"]
    other = "unweighted" if band == "studentized" else "studentized"
    if sim.treatment is not None:
        fits = {}
        for bd in (band, other):
            bseed = np.random.default_rng(boot_seed(base_seed, design, n, n_obs, rep, m))
            fits[bd] = r3d(sim.x, ys, method=m, quantiles=q, treatment=sim.treatment, n_boot=n_boot,
                           alpha=alpha, seed=bseed, band=bd)
        res = fits[band]
        boots = {fd: {bd: f.diagnostics.bootstrap for bd, f in fits.items()}}
    else:
        bseed = np.random.default_rng(boot_seed(base_seed, design, n, n_obs, rep, m))
        res, Phi = influence_matrix(sim.x, ys, q, m)                       # HC2: the studentized band's
        Phi_u = influence_for_rule(res, "hc3").full(len(sim.x))            # HC3: the unweighted band's
        nu = fit_dof(res.diagnostics.fits, res.residuals)
        R = {"studentized": covariance_root(Phi), "unweighted": covariance_root(Phi_u)}
        eta = bseed.standard_normal((R["studentized"].shape[0], n_boot))
        chi_seed = int(bseed.integers(2**63))                             # the χ² draws, the same for every Δ
        boots = {d: {bd: multiplier_bootstrap(R[bd], res.tau + (d - fd), q, multipliers=eta, alpha=alpha,
                                              tests=("nullity", "homogeneity"), band=bd,
                                              dof=nu if bd == "studentized" else None,
                                              rng=np.random.default_rng(chi_seed))
                     for bd in (band, other)}
                 for d in out_deltas}
    h = float(np.mean(res.h))
    for d in out_deltas:
        boot = boots[d][band]
        tau = res.tau + (d - fd)
        truth = _truth(design, d, q)
        err = float(np.max(np.abs(tau - truth)))
        cov = {bd: _covered(b, tau, truth, alpha) for bd, b in boots[d].items()}
        inf = {"crit_value": float(boot.crit_value), "covered": cov[band],
               "covered_studentized": cov["studentized"], "covered_unweighted": cov["unweighted"],
               "max_abs_error": err, **_tests_row(boot)}
        rows.append(_row(design, n, n_obs, m, d, rep, h, tau, q, inf, band=band))
    return rows


def _row(design, n, n_obs, method, delta, rep, h, tau, q, inf, error: str = "", band: str = "studentized") -> dict:
    row = {"design": design, "n": int(n), "n_obs": int(n_obs), "method": method, "delta": _dkey(delta),
           "rep": int(rep), "h": h, "band": band, "error": error}
    row.update(_empty_inference())
    row.update(inf)
    for qq, t in zip(q, tau):
        row[f"tau_{qq:g}"] = float(t)
    return row


# --------------------------------------------------------------------------------------------
# checks (every argument, before any computation)
# --------------------------------------------------------------------------------------------
def _int_arg(name: str, v: Any, minimum: int) -> int:
    try:
        return check_count(v, name, minimum)
    except (TypeError, ValueError) as exc:
        raise _ArgumentError(name, str(exc).split(": ", 1)[1]) from None


def _list_arg(name: str, v: Any) -> list:
    if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
        raise _ArgumentError(name, f"must be a list, got {type(v).__name__} {v!r}")
    out = list(v)
    if not out:
        raise _ArgumentError(name, "must not be empty")
    return out


def _delta_list(name: str, v: Any) -> tuple[float, ...]:
    out = []
    for d in _list_arg(name, v):
        if isinstance(d, (bool, str, bytes, complex)) or not isinstance(d, numbers.Real) or not np.isfinite(d):
            raise _ArgumentError(name, f"every delta must be a finite number, got {d!r}")
        out.append(float(d))
    if len({_dkey(d) for d in out}) != len(out):
        raise _ArgumentError(name, f"repeats a value: {out}")
    return tuple(out)


def _check_args(designs, ns, methods, deltas, n_obs, reps, n_boot, quantiles, alpha, base_seed, n_jobs,
                data, rep_range, out, band="studentized") -> dict:
    """Every argument of :func:`run_study`, checked; returns the normalised values."""
    designs = _list_arg("designs", designs)
    for d in designs:
        if d not in MC_DESIGNS:
            why = " (it has no effect size delta)" if d in DESIGNS else ""
            raise _ArgumentError("designs", f"unknown design {d!r}{why}; choose from {list(MC_DESIGNS)}")
    if len(set(designs)) != len(designs):
        raise _ArgumentError("designs", f"repeats a design: {designs}")
    ns = [_int_arg("ns", n, MIN_N) for n in _list_arg("ns", ns)]
    methods = _list_arg("methods", methods)
    for m in methods:
        if m not in METHODS:
            raise _ArgumentError("methods", f"unknown method {m!r}; choose from {list(METHODS)}")
    fuzzy = [d for d in designs if DESIGNS[d].fuzzy]
    if "qrd" in methods and fuzzy:
        raise _ArgumentError("methods", f"'qrd' (sharp pooled quantile RD) cannot run on {fuzzy}")
    if deltas is None or isinstance(deltas, dict):
        given = {} if deltas is None else deltas
        extra = sorted(set(given) - set(designs))
        if extra:
            raise _ArgumentError("deltas", f"given for designs not in the study: {extra}")
        dd = {d: _delta_list("deltas", given[d]) if d in given else DEFAULT_DELTAS.get(d, OTHER_DELTAS)
              for d in designs}
    else:
        one = _delta_list("deltas", deltas)
        dd = {d: one for d in designs}
    n_obs = None if n_obs is None else _int_arg("n_obs", n_obs, 1)
    reps = _int_arg("reps", reps, 1)
    n_boot = _int_arg("n_boot", n_boot, 1)
    try:  # the estimator's own arguments: the checks of r3d (the options layer)
        q = check_quantile_grid(quantiles)
        alpha = check_options(alpha=alpha, n_boot=n_boot, band=band).alpha
    except (TypeError, ValueError) as exc:
        name, detail = str(exc).split(": ", 1)
        raise _ArgumentError(name, detail) from None
    base_seed = _int_arg("base_seed", base_seed, 0)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or (n_jobs < 1 and n_jobs != -1):
        raise _ArgumentError("n_jobs", f"must be a positive integer or -1 (all cores), got {n_jobs!r}")
    if data not in ("quantiles", "samples"):
        raise _ArgumentError("data", f"must be 'quantiles' or 'samples', got {data!r}")
    reps_iter = list(range(reps)) if rep_range is None else [_int_arg("rep_range", r, 0)
                                                            for r in _list_arg("rep_range", rep_range)]
    if out is not None:
        if not isinstance(out, (str, os.PathLike)):
            raise _ArgumentError("out", f"must be a file path, got {type(out).__name__}")
        folder = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(folder):
            raise _ArgumentError("out", f"folder {folder} does not exist")
        if os.path.isdir(out):
            raise _ArgumentError("out", f"{out} is a folder, not a file")
    return dict(designs=designs, ns=ns, methods=methods, deltas=dd, n_obs=n_obs, n_boot=n_boot, q=q,
                alpha=alpha, base_seed=base_seed, n_jobs=int(n_jobs), reps_iter=reps_iter, band=band)


def _failed(df: pd.DataFrame) -> np.ndarray:
    """Rows whose fit failed (a non-empty ``error``; read back from a CSV, "" becomes NaN)."""
    if "error" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    e = df["error"]
    return (e.notna() & (e.astype(object).map(str) != "")).to_numpy()


def _resume(out: str | None, cols: list[str], band: str | None = None) -> set:
    """Keys of the cells already in ``out`` with a successful fit. Rows of failed fits are
    removed from the file (rewritten in place) so that they are run again.  ``band``: the
    band of this run; a file of another band (files without a ``band`` column are
    "unweighted", the only band before it existed) is refused."""
    if out is None or not os.path.exists(out) or os.path.getsize(out) == 0:
        return set()
    try:
        old = pd.read_csv(out)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise _ArgumentError("out", f"{out} is not a readable results CSV ({exc}); use a new file") from None
    missing = [c for c in cols if c not in old.columns]
    if missing:
        raise _ArgumentError("out", f"{out} has different columns (missing {missing[:3]}); use a new file")
    if band is not None and len(old):
        bands = set(old["band"].dropna().astype(str)) if "band" in old.columns else {"unweighted"}
        if bands - {band}:
            raise _ArgumentError("band", f"{out} holds results of the {sorted(bands)} band; this run uses "
                                         f"{band!r} (use a new file, or the same band)")
    failed = _failed(old)
    if failed.any():
        tmp = out + ".tmp"
        old[~failed].to_csv(tmp, index=False)
        os.replace(tmp, out)
    ok = old[~failed]
    return {(r.design, int(r.n), int(r.n_obs), r.method, _dkey(r.delta), int(r.rep))
            for r in ok[KEY].itertuples(index=False)}


# --------------------------------------------------------------------------------------------
# the study
# --------------------------------------------------------------------------------------------
def run_study(designs: Sequence[str], ns: Sequence[int], *, methods: Sequence[str] = ("frechet", "simple"),
              deltas: dict[str, Sequence[float]] | Sequence[float] | None = None, reps: int = 100,
              n_boot: int = 1000, n_obs: int | None = None, quantiles: Sequence[float] | np.ndarray = DECILES,
              alpha: float = 0.05, base_seed: int = BASE_SEED, out: str | None = None, n_jobs: int = 1,
              progress: bool = True, data: str = "quantiles", shift_shortcut: bool = True,
              rep_range: Iterable[int] | None = None, band: str = "studentized") -> pd.DataFrame:
    """Run (or resume) a study over designs × ns × methods × Δ with ``reps`` repetitions.

    Parameters
    ----------
    designs : names from :data:`MC_DESIGNS` ("paper1", "paper2", ...).
    ns : numbers of units (each >= 10); ``n_obs`` draws per unit (None: n_i = n, as in the paper).
    deltas : per-design dict or one list for all; default :data:`DEFAULT_DELTAS` (else (0, 1)).
    reps, n_boot : repetitions per cell and bootstrap draws.
    out : CSV path; rows are appended as tasks finish, cells already there are skipped and the
        cells whose fit failed are run again.
    n_jobs : joblib workers (parallel over repetitions; -1: all cores). progress : tqdm bar.
    rep_range : run only these repetition indices (default ``range(reps)``).
    band : "studentized" (default) or "unweighted": the band of ``covered`` and the tests'
        statistics (the coverage of both bands is recorded either way).

    Every argument is checked before any computation (ValueError naming it). Returns the rows of
    this call (all rows of ``out`` when given).
    """
    a = _check_args(designs, ns, methods, deltas, n_obs, reps, n_boot, quantiles, alpha, base_seed, n_jobs,
                    data, rep_range, out, band)
    from tqdm.auto import tqdm  # the progress bar's module, loaded only when a study runs

    q, dd = a["q"], a["deltas"]
    cols = KEY + [f"tau_{qq:g}" for qq in q]
    done = _resume(out, cols, a["band"])
    tasks = []
    for design in a["designs"]:
        for n in a["ns"]:
            k = n if a["n_obs"] is None else a["n_obs"]
            for rep in a["reps_iter"]:
                todo = [(m, d) for m in a["methods"] for d in dd[design]
                        if (design, n, k, m, _dkey(d), rep) not in done]
                if not todo:
                    continue
                ms = [m for m in a["methods"] if any(t[0] == m for t in todo)]
                ds = [d for d in dd[design] if any(_dkey(t[1]) == _dkey(d) for t in todo)]
                tasks.append((design, n, k, rep, ms, ds, set((m, _dkey(d)) for m, d in todo)))
    kw = dict(n_boot=a["n_boot"], quantiles=q, alpha=a["alpha"], base_seed=a["base_seed"], data=data,
              shift_shortcut=bool(shift_shortcut), band=a["band"])

    def job(t):
        design, n, k, rep, ms, ds, want = t
        rows = run_task(design, n, k, rep, ms, ds, **kw)
        return [r for r in rows if (r["method"], r["delta"]) in want]

    new_rows: list[dict] = []
    if tasks:
        if a["n_jobs"] == 1:
            gen = (job(t) for t in tasks)
        else:
            gen = Parallel(n_jobs=a["n_jobs"], return_as="generator_unordered")(delayed(job)(t) for t in tasks)
        header = out is not None and (not os.path.exists(out) or os.path.getsize(out) == 0)
        for rows in tqdm(gen, total=len(tasks), disable=not progress, desc="monte carlo", unit="rep"):
            new_rows.extend(rows)
            if out is not None and rows:
                pd.DataFrame(rows).to_csv(out, mode="a", header=header, index=False)
                header = False
    if out is not None and os.path.exists(out):
        return pd.read_csv(out)
    return pd.DataFrame(new_rows)


# --------------------------------------------------------------------------------------------
# summaries
# --------------------------------------------------------------------------------------------
def _qcols(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("tau_")]


def _cells(df: pd.DataFrame):
    """Per study cell: (key, successful rows, number of failed rows, grid q, true effect on q,
    estimates (successful reps × q))."""
    qcols = _qcols(df)
    q = np.array([float(c[4:]) for c in qcols])
    for key, g in df.groupby(_CELL, sort=True):
        bad = _failed(g)
        ok = g[~bad]
        yield key, ok, int(bad.sum()), q, _truth(key[0], key[4], q), ok[qcols].to_numpy(dtype=float)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell: reps (successful fits) and failed fits, uniform-band coverage (of the run's band;
    and of each band, ``coverage_studentized`` / ``coverage_unweighted``, when recorded),
    acceptance of the homogeneity and nullity tests (in %, with Monte Carlo standard errors),
    mean bandwidth, and bias / RMSE averaged over the grid."""
    out = []
    for key, g, n_failed, q, truth, est in _cells(df):
        bias = est.mean(axis=0) - truth if len(g) else np.full(q.shape, np.nan)

        def pct(col):
            v = g[col].astype(float).to_numpy()
            v = v[np.isfinite(v)]
            if v.size == 0:
                return np.nan, np.nan
            p = v.mean()
            return 100 * p, 100 * np.sqrt(p * (1 - p) / v.size)

        cov, cov_se = pct("covered")
        hom, hom_se = pct("homo_accept")
        nul, nul_se = pct("null_accept")
        both = {f"coverage_{b}": pct(f"covered_{b}")[0] for b in BANDS if f"covered_{b}" in g.columns}
        out.append(dict(zip(_CELL, key)) | {
            "reps": len(g), "failed": n_failed, "coverage": cov, "coverage_se": cov_se, **both,
            "homogeneity_accept": hom, "homogeneity_se": hom_se, "nullity_accept": nul, "nullity_se": nul_se,
            "mean_h": g["h"].mean(), "mean_abs_bias": float(np.mean(np.abs(bias))),
            "mean_rel_bias": float(np.mean(np.abs(bias) / np.abs(truth))) if np.all(truth != 0) else np.nan,
            "mean_rmse": float(np.mean(np.sqrt(np.mean((est - truth) ** 2, axis=0)))) if len(g) else np.nan,
        })
    return pd.DataFrame(out)


def summarize_quantiles(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell and grid point (successful fits only): truth (LAQTE), mean estimate, bias,
    relative bias |bias|/|truth|, Monte Carlo variance, RMSE, the standard error of the bias; for
    "qrd" also the pooled quantile-RD target and the bias against it."""
    out = []
    for key, _g, _, q, truth, est in _cells(df):
        R = est.shape[0]
        if R == 0:
            continue
        pooled = None
        if key[3] == "qrd":
            try:
                pooled = get_design(key[0], delta=float(key[4])).pooled_truth(q)
            except NotImplementedError:
                pooled = None
        for j, qq in enumerate(q):
            e = est[:, j]
            b = e.mean() - truth[j]
            row = dict(zip(_CELL, key)) | {
                "quantile": qq, "reps": R, "truth": truth[j], "mean": e.mean(), "bias": b,
                "bias_se": e.std(ddof=1) / np.sqrt(R) if R > 1 else np.nan,
                "rel_bias": abs(b) / abs(truth[j]) if truth[j] != 0 else np.nan,
                "variance": e.var(ddof=1) if R > 1 else np.nan,
                "rmse": float(np.sqrt(np.mean((e - truth[j]) ** 2))),
            }
            if pooled is not None:
                row["pooled_truth"] = pooled[j]
                row["bias_vs_pooled"] = e.mean() - pooled[j]
            out.append(row)
    return pd.DataFrame(out)


def paper_table(df: pd.DataFrame, design: str) -> pd.DataFrame:
    """The layout of the paper's Table 2 for one design: rows (test, n), columns (method, Δ),
    acceptance probabilities in % (coverage of the uniform band; homogeneity and nullity not
    rejected at level alpha; nullity left blank at Δ = 0 as in the paper)."""
    s = summarize(df[(df["design"] == design) & (df["method"] != "qrd")])
    rows = []
    for _, r in s.iterrows():
        for test, col in (("Unif. CIs", "coverage"), ("Homogen.", "homogeneity_accept"),
                          ("Nullity", "nullity_accept")):
            v = r[col] if not (test == "Nullity" and r["delta"] == 0) else np.nan
            rows.append({"test": test, "n": r["n"], "method": r["method"], "delta": r["delta"], "value": v})
    t = pd.DataFrame(rows).pivot_table(index=["test", "n"], columns=["method", "delta"], values="value",
                                       dropna=False)
    order = {"Unif. CIs": 0, "Homogen.": 1, "Nullity": 2}
    return t.sort_index(key=lambda idx: idx.map(order) if idx.name == "test" else idx)


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
#: run_study's argument -> the command-line flag
_FLAGS = {"designs": "--design", "ns": "--n", "n_obs": "--n-obs", "methods": "--methods", "deltas": "--deltas",
          "reps": "--reps", "n_boot": "--boot", "alpha": "--alpha", "quantiles": "--quantiles",
          "base_seed": "--seed", "n_jobs": "--jobs", "out": "--out", "data": "--data", "band": "--band"}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m r3d_teach.simulate.montecarlo",
                                 description="R3D Monte Carlo study (appends to --out; resumable).")
    ap.add_argument("--design", nargs="+", default=["paper1"], help=f"one or more of {list(MC_DESIGNS)}")
    ap.add_argument("--n", nargs="+", type=int, default=[500, 1000, 2000], help=f"units per data set (>= {MIN_N})")
    ap.add_argument("--n-obs", type=int, default=None, help="draws per unit (default: n_i = n)")
    ap.add_argument("--methods", nargs="+", default=["frechet", "simple"], help=f"one or more of {list(METHODS)}")
    ap.add_argument("--deltas", nargs="+", type=float, default=None,
                    help="effect sizes (default: the paper's for paper1/paper2, else 0 1)")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--quantiles", nargs="+", type=float, default=list(DECILES))
    ap.add_argument("--seed", type=int, default=BASE_SEED)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="montecarlo_results.csv")
    ap.add_argument("--data", choices=["quantiles", "samples"], default="quantiles")
    ap.add_argument("--band", choices=list(BANDS), default="studentized",
                    help="uniform band of the coverage and the tests (default studentized)")
    ap.add_argument("--no-shift-shortcut", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--summarize", action="store_true",
                    help="only print the summaries of --out (no new runs)")
    return ap


def _print_summaries(df: pd.DataFrame, tables: bool) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summarize(df).round(3).to_string(index=False))
        if tables:
            for d in sorted(set(df["design"]) & set(DEFAULT_DELTAS)):
                print(f"\n{d}: acceptance probabilities in % (paper's Table 2 layout)")
                print(paper_table(df, d).round(2).to_string())


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a bad argument exits with status 2 and a message naming its flag."""
    ap = _parser()
    a = ap.parse_args(argv)
    if a.summarize:
        if not os.path.isfile(a.out):
            ap.error(f"--out: {a.out} does not exist (nothing to summarize)")
        try:
            df = pd.read_csv(a.out)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            ap.error(f"--out: {a.out} is not a results CSV ({exc})")
        missing = [c for c in KEY if c not in df.columns]
        if missing:
            ap.error(f"--out: {a.out} is not a results CSV (missing columns {missing})")
        _print_summaries(df, tables=True)
        return 0
    study = dict(methods=a.methods, deltas=a.deltas, reps=a.reps, n_boot=a.boot, n_obs=a.n_obs,
                 quantiles=a.quantiles, alpha=a.alpha, base_seed=a.seed, out=a.out, n_jobs=a.jobs,
                 progress=not a.quiet, data=a.data, shift_shortcut=not a.no_shift_shortcut, band=a.band)
    try:  # every argument before any computation
        _check_args(a.design, a.n, a.methods, a.deltas, a.n_obs, a.reps, a.boot, a.quantiles, a.alpha,
                    a.seed, a.jobs, a.data, None, a.out, a.band)
        _resume(a.out, KEY + [f"tau_{qq:g}" for qq in check_quantile_grid(a.quantiles)], a.band)
    except _ArgumentError as exc:
        ap.error(f"{_FLAGS.get(exc.arg, exc.arg)}: {exc.detail}")
    t0 = time.time()
    df = run_study(a.design, a.n, **study)
    elapsed = time.time() - t0
    meta = {"command": "python -m r3d_teach.simulate.montecarlo " + " ".join(sys.argv[1:] if argv is None else argv),
            "elapsed_seconds_this_call": round(elapsed, 1),
            "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "rows_in_file": int(len(df)), "n_jobs": a.jobs, "python": platform.python_version(),
            "numpy": np.__version__, "machine": platform.machine()}
    with open(a.out + ".meta.json", "a") as f:
        f.write(json.dumps(meta) + "\n")
    if len(df):
        _print_summaries(df, tables=False)
    print(f"elapsed {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
