r"""Monte Carlo study runner: the paper's Table 2 and Figure 3, and any other grid of designs.

A study is a grid of **cells** (design × n × method × Δ), each run for ``reps`` repetitions. One
repetition of one (design, n) is a **task**; it computes every requested method and Δ on common
random numbers (the same data for every method and every Δ, as in the paper, whose coverage and
homogeneity columns are identical across Δ). Seeds are derived from
``numpy.random.SeedSequence([base_seed, crc32(design), n, n_obs, rep])`` (data) and the same plus
``crc32(method)`` (bootstrap), so any cell or repetition can be rerun alone and reproduces its
rows. Rows are appended to a CSV as tasks finish; a rerun skips the cells already in the file.

Methods: ``"frechet"`` and ``"simple"`` (:func:`r3d_teach.r3d`, p = 2, triangular kernel,
data-driven bandwidth, multiplier bootstrap, nullity and homogeneity tests over the whole grid) and
``"qrd"`` (the pooled quantile RD of :func:`r3d_teach.baselines.quantile_rd`, local linear, at the
Fréchet bandwidth selected on the same data; estimate only).

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
   of n normals per draw. Φ is read off :func:`r3d` through its public ``multipliers`` argument
   (the identity matrix; :func:`influence_matrix`); bands and tests then come from
   :func:`r3d_teach.inference.multiplier_bootstrap` as in :func:`r3d`.
3. ``shift_shortcut``: in the paper's designs (and ``location``) Δ shifts every treated unit's
   law by a constant, so with common random numbers :math:`\hat\tau_\Delta = \hat\tau_0 + \Delta`
   with the same bandwidth and bootstrap draws; one fit serves every Δ.

Command line::

    python -m r3d_teach.montecarlo --design paper1 paper2 --n 500 1000 2000 --reps 2500 \
        --boot 5000 --out results.csv --jobs 2

Example
-------
>>> from r3d_teach.montecarlo import run_study, summarize
>>> df = run_study(["paper1"], [200], methods=["frechet"], deltas={"paper1": [0.0, 2.27]},
...                reps=4, n_boot=199, n_jobs=1, progress=False)
>>> sorted(df["delta"].unique().tolist()), len(df)
([0.0, 2.27], 8)
>>> summarize(df)[["design", "n", "method", "delta", "reps"]].to_dict("records")[0]
{'design': 'paper1', 'n': 200, 'method': 'frechet', 'delta': 0.0, 'reps': 4}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import zlib
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .baselines import quantile_rd
from .estimator import r3d
from .inference import multiplier_bootstrap
from .simulate import DESIGNS, empirical_quantiles, make_design

__all__ = [
    "DEFAULT_DELTAS",
    "METHODS",
    "run_study",
    "run_task",
    "summarize",
    "summarize_quantiles",
    "paper_table",
    "influence_matrix",
    "main",
]

METHODS = ("frechet", "simple", "qrd")
#: The paper's Δ values (average Cohen's d of 0, 0.5 and 1).
DEFAULT_DELTAS: dict[str, tuple[float, ...]] = {
    "paper1": (0.0, 1.14, 2.27),
    "paper2": (0.0, 1.86, 3.72),
}
#: Designs where Δ is a common location shift of every treated unit's law (shortcut 3 is exact).
SHIFT_DESIGNS = frozenset({"paper1", "paper2", "location"})
KEY = ["design", "n", "n_obs", "method", "delta", "rep"]
DECILES = np.round(np.arange(1, 10) / 10, 10)


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
    return round(float(delta), 10)


# --------------------------------------------------------------------------------------------
# one repetition
# --------------------------------------------------------------------------------------------
def _equal_grid_K(q: np.ndarray) -> int | None:
    """K if the grid is q = (1, ..., K-1)/K (to 1e-12), else None."""
    if q.size == 0 or q[0] <= 0:
        return None
    K = int(round(1.0 / q[0]))
    if K < 2 or q.size != K - 1 or not np.allclose(q, np.arange(1, K) / K, atol=1e-12, rtol=0):
        return None
    return K


def _pseudo_samples(Q: np.ndarray) -> list:
    """(K+1)-point samples whose type-7 quantiles at m/K (m = 1..K-1) are the rows of Q (n × (K-1)):
    with K+1 points, type 7 at m/K is the (m+1)-th order statistic, so the sample is
    (Q_1, Q_1, Q_2, ..., Q_{K-1}, Q_{K-1})."""
    return list(np.concatenate([Q[:, :1], Q, Q[:, -1:]], axis=1))


def influence_matrix(x: np.ndarray, y: Any, quantiles: np.ndarray, method: str = "frechet",
                     **r3d_kwargs) -> tuple[Any, np.ndarray]:
    """:func:`r3d` and the n × M influence matrix Φ of its multiplier bootstrap
    (G_b = Σ_i ξ_ib Φ_i), as the fit stores it (``diagnostics.influence``).
    Returns ``(result, Phi)``.

    >>> import numpy as np
    >>> from r3d_teach.simulate import paper_dgp1
    >>> sim = paper_dgp1(200, 30, 1.0, seed=0)
    >>> res, Phi = influence_matrix(sim.x, sim.y, np.arange(1, 10) / 10)
    >>> Phi.shape
    (200, 9)
    """
    n = len(x)
    res = r3d(x, y, method=method, quantiles=quantiles, tests=(), **r3d_kwargs)
    return res, res.diagnostics.influence.full(n)


def _root(Phi: np.ndarray) -> np.ndarray:
    """An M × M matrix R with R'R = Φ'Φ: the Cholesky factor (unique and continuous in Φ, so
    nearby data give nearby draws); the symmetric eigen-root when Φ'Φ is singular."""
    S = Phi.T @ Phi
    try:
        return np.linalg.cholesky(S).T
    except np.linalg.LinAlgError:
        lam, V = np.linalg.eigh(S)
        return np.sqrt(np.clip(lam, 0.0, None))[:, None] * V.T


def _tests_row(boot, alpha: float) -> dict:
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
    return {"crit_value": nan, "covered": np.nan, "max_abs_error": nan,
            "null_stat": nan, "null_crit": nan, "null_p": nan, "null_accept": np.nan,
            "homo_stat": nan, "homo_crit": nan, "homo_p": nan, "homo_accept": np.nan}


_TRUTH_CACHE: dict = {}


def _truth(design: str, delta: float, q: np.ndarray) -> np.ndarray:
    key = (design, _dkey(delta), tuple(q.tolist()))
    if key not in _TRUTH_CACHE:
        _TRUTH_CACHE[key] = make_design(design, 2, 1, delta, 0).truth(q)
    return _TRUTH_CACHE[key]


def run_task(design: str, n: int, n_obs: int, rep: int, methods: Sequence[str], deltas: Sequence[float], *,
             n_boot: int, quantiles: np.ndarray = DECILES, alpha: float = 0.05, base_seed: int = 20250404,
             data: str = "quantiles", shift_shortcut: bool = True) -> list[dict]:
    """Run one repetition of one (design, n): every method × Δ; returns one row per cell.

    Rows: the cell key (design, n, n_obs, method, delta, rep), the bandwidth ``h`` (mean over the
    grid for "simple"), ``crit_value``, ``covered`` (the uniform band contains the true τ at every
    grid point), ``max_abs_error``, nullity and homogeneity statistic / critical value / p-value /
    acceptance (statistic <= critical value), ``tau_<q>`` per grid point, and ``seconds``.
    """
    t0 = time.perf_counter()
    q = np.asarray(quantiles, dtype=float)
    K = _equal_grid_K(q)
    use_q = data == "quantiles" and design != "fuzzy" and K is not None
    shortcut = shift_shortcut and design in SHIFT_DESIGNS
    fit_deltas = [0.0] if shortcut else [float(d) for d in deltas]
    r3d_methods = [m for m in methods if m != "qrd"]
    rows: list[dict] = []
    for fd in fit_deltas:
        ss = data_seed(base_seed, design, n, n_obs, rep)
        rng = np.random.default_rng(ss)
        sims = {}
        if r3d_methods:
            if use_q:
                sim = make_design(design, n, 1, fd, rng)
                sims["r3d"] = (sim, _pseudo_samples(empirical_quantiles(sim, n_obs, q, rng)))
            else:
                sim = make_design(design, n, n_obs, fd, rng)
                sims["r3d"] = (sim, sim.y)
        if "qrd" in methods:
            # full samples for the pooled estimator, from a child seed (same for every call)
            sims["qrd"] = make_design(design, n, n_obs, fd, np.random.default_rng(ss.spawn(1)[0]))
        for m in methods:
            out_deltas = [float(d) for d in deltas] if shortcut else [fd]
            try:
                rows.extend(_fit_method(design, n, n_obs, rep, m, fd, out_deltas, sims, q, n_boot,
                                        alpha, base_seed))
            except (ValueError, np.linalg.LinAlgError) as exc:  # a failed fit is a row, not a crash
                for d in out_deltas:
                    rows.append(_row(design, n, n_obs, m, d, rep, float("nan"), np.full(q.shape, np.nan), q,
                                     _empty_inference(), error=f"{type(exc).__name__}: {exc}"[:200]))
    secs = (time.perf_counter() - t0) / max(len(rows), 1)
    for r in rows:
        r["seconds"] = secs
    return rows


def _fit_method(design, n, n_obs, rep, m, fd, out_deltas, sims, q, n_boot, alpha, base_seed) -> list[dict]:
    """One method on one data set (fitted at delta ``fd``), rows for every delta in ``out_deltas``."""
    rows = []
    if m == "qrd":
        sim_q = sims["qrd"]
        if _equal_grid_K(q) is not None:  # same unit quantiles, cheaper for r3d
            ys_q = _pseudo_samples(np.quantile(sim_q.y_matrix, q, axis=1, method="linear").T)
        else:
            ys_q = sim_q.y
        h = float(r3d(sim_q.x, ys_q, method="frechet", quantiles=q, cutoff=sim_q.cutoff).h)
        est = quantile_rd(sim_q.x, sim_q.y_matrix, h=h, quantiles=q, cutoff=sim_q.cutoff)
        for d in out_deltas:
            tau = est.tau + (d - fd)
            rows.append(_row(design, n, n_obs, m, d, rep, h, tau, q, _empty_inference()))
        return rows
    sim, ys = sims["r3d"]
    if sim.treatment is not None:
        res = r3d(sim.x, ys, method=m, quantiles=q, treatment=sim.treatment, n_boot=n_boot,
                  alpha=alpha, seed=np.random.default_rng(boot_seed(base_seed, design, n, n_obs, rep, m)))
        boots = {fd: res.diagnostics.bootstrap}
        tau0, h_used = res.tau, res.h
    else:
        res, Phi = influence_matrix(sim.x, ys, q, m)
        tau0, h_used = res.tau, res.h
        R = _root(Phi)
        eta = np.random.default_rng(boot_seed(base_seed, design, n, n_obs, rep, m)) \
            .standard_normal((R.shape[0], n_boot))
        boots = {}
        for d in out_deltas:
            boots[d] = multiplier_bootstrap(R, tau0 + (d - fd), q, multipliers=eta, alpha=alpha,
                                            tests=("nullity", "homogeneity"))
    h = float(np.mean(h_used))
    for d in out_deltas:
        boot = boots[d]
        tau = tau0 + (d - fd)
        truth = _truth(design, d, q)
        err = float(np.max(np.abs(tau - truth)))
        inf = {"crit_value": float(boot.crit_value), "covered": bool(err <= boot.crit_value),
               "max_abs_error": err, **_tests_row(boot, alpha)}
        rows.append(_row(design, n, n_obs, m, d, rep, h, tau, q, inf))
    return rows


def _row(design, n, n_obs, method, delta, rep, h, tau, q, inf, error: str = "") -> dict:
    row = {"design": design, "n": int(n), "n_obs": int(n_obs), "method": method, "delta": _dkey(delta),
           "rep": int(rep), "h": h, "error": error}
    row.update(_empty_inference())
    row.update(inf)
    for qq, t in zip(q, tau):
        row[f"tau_{qq:g}"] = float(t)
    return row


# --------------------------------------------------------------------------------------------
# the study
# --------------------------------------------------------------------------------------------
def _check_args(designs, ns, methods, n_obs, reps, n_boot, data):
    for d in designs:
        if d not in DESIGNS:
            raise ValueError(f"designs: unknown design {d!r}; choose from {sorted(DESIGNS)}")
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"methods: unknown method {m!r}; choose from {METHODS}")
    if "qrd" in methods and "fuzzy" in designs:
        raise ValueError("methods: 'qrd' (sharp pooled quantile RD) cannot run on the fuzzy design")
    if not ns or any(int(n) < 10 for n in ns):
        raise ValueError("ns: need at least one sample size, each >= 10")
    if n_obs is not None and (isinstance(n_obs, bool) or not isinstance(n_obs, (int, np.integer)) or n_obs < 1):
        raise ValueError(f"n_obs must be None (n_i = n) or a positive integer, got {n_obs!r}")
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if data not in ("quantiles", "samples"):
        raise ValueError(f"data must be 'quantiles' or 'samples', got {data!r}")


def _read_done(out: str | None, cols: list[str]) -> set:
    if out is None or not os.path.exists(out) or os.path.getsize(out) == 0:
        return set()
    old = pd.read_csv(out)
    missing = [c for c in cols if c not in old.columns]
    if missing:
        raise ValueError(f"out: {out} has different columns (missing {missing[:3]}); use a new file")
    return {(r.design, int(r.n), int(r.n_obs), r.method, _dkey(r.delta), int(r.rep))
            for r in old[KEY].itertuples(index=False)}


def run_study(designs: Sequence[str], ns: Sequence[int], *, methods: Sequence[str] = ("frechet", "simple"),
              deltas: dict[str, Sequence[float]] | Sequence[float] | None = None, reps: int = 100,
              n_boot: int = 1000, n_obs: int | None = None, quantiles: Sequence[float] | np.ndarray = DECILES,
              alpha: float = 0.05, base_seed: int = 20250404, out: str | None = None, n_jobs: int = 1,
              progress: bool = True, data: str = "quantiles", shift_shortcut: bool = True,
              rep_range: Iterable[int] | None = None) -> pd.DataFrame:
    """Run (or resume) a study over designs × ns × methods × Δ with ``reps`` repetitions.

    Parameters
    ----------
    designs : names from :data:`r3d_teach.simulate.DESIGNS` ("paper1", "paper2", ...).
    ns : numbers of units; ``n_obs`` draws per unit (None: n_i = n, as in the paper).
    deltas : per-design dict or one list for all; default :data:`DEFAULT_DELTAS` (else (0, 1)).
    reps, n_boot : repetitions per cell and bootstrap draws.
    out : CSV path; rows are appended as tasks finish and cells already there are skipped.
    n_jobs : joblib workers (parallel over repetitions). progress : tqdm bar.
    rep_range : run only these repetition indices (default ``range(reps)``).

    Returns the rows of this call (all rows of ``out`` when given).
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    _check_args(designs, ns, methods, n_obs, reps, n_boot, data)
    q = np.atleast_1d(np.asarray(quantiles, dtype=float))
    if isinstance(deltas, dict) or deltas is None:
        dd = {d: tuple((deltas or {}).get(d, DEFAULT_DELTAS.get(d, (0.0, 1.0)))) for d in designs}
    else:
        dd = {d: tuple(deltas) for d in designs}
    reps_iter = list(range(reps)) if rep_range is None else [int(r) for r in rep_range]
    cols = KEY + [f"tau_{qq:g}" for qq in q]
    done = _read_done(out, cols)
    tasks = []
    for design in designs:
        for n in ns:
            k = int(n) if n_obs is None else int(n_obs)
            for rep in reps_iter:
                todo = [(m, d) for m in methods for d in dd[design]
                        if (design, int(n), k, m, _dkey(d), rep) not in done]
                if not todo:
                    continue
                ms = [m for m in methods if any(t[0] == m for t in todo)]
                ds = [d for d in dd[design] if any(_dkey(t[1]) == _dkey(d) for t in todo)]
                tasks.append((design, int(n), k, rep, ms, ds, set((m, _dkey(d)) for m, d in todo)))
    kw = dict(n_boot=int(n_boot), quantiles=q, alpha=alpha, base_seed=base_seed, data=data,
              shift_shortcut=shift_shortcut)

    def job(t):
        design, n, k, rep, ms, ds, want = t
        rows = run_task(design, n, k, rep, ms, ds, **kw)
        return [r for r in rows if (r["method"], r["delta"]) in want]

    new_rows: list[dict] = []
    if tasks:
        if n_jobs == 1:
            gen = (job(t) for t in tasks)
        else:
            gen = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(delayed(job)(t) for t in tasks)
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


_CELL = ["design", "n", "n_obs", "method", "delta"]


def _cells(df: pd.DataFrame):
    """Per study cell: (key, rows, grid q, true effect on q, estimates (reps × q))."""
    qcols = _qcols(df)
    q = np.array([float(c[4:]) for c in qcols])
    for key, g in df.groupby(_CELL, sort=True):
        yield key, g, q, _truth(key[0], key[4], q), g[qcols].to_numpy(dtype=float)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell: reps, uniform-band coverage, acceptance of the homogeneity and nullity tests (in %,
    with Monte Carlo standard errors), mean bandwidth, and bias / RMSE averaged over the grid."""
    out = []
    for key, g, q, truth, est in _cells(df):
        bias = est.mean(axis=0) - truth
        R = len(g)

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
        out.append(dict(zip(_CELL, key)) | {
            "reps": R, "coverage": cov, "coverage_se": cov_se, "homogeneity_accept": hom,
            "homogeneity_se": hom_se, "nullity_accept": nul, "nullity_se": nul_se,
            "mean_h": g["h"].mean(), "mean_abs_bias": float(np.mean(np.abs(bias))),
            "mean_rel_bias": float(np.mean(np.abs(bias) / np.abs(truth))) if np.all(truth != 0) else np.nan,
            "mean_rmse": float(np.mean(np.sqrt(np.mean((est - truth) ** 2, axis=0)))),
        })
    return pd.DataFrame(out)


def summarize_quantiles(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell and grid point: truth (LAQTE), mean estimate, bias, relative bias |bias|/|truth|,
    Monte Carlo variance, RMSE, the standard error of the bias; for "qrd" also the pooled
    quantile-RD target and the bias against it."""
    out = []
    for key, g, q, truth, est in _cells(df):
        R = est.shape[0]
        pooled = None
        if key[3] == "qrd":
            try:
                pooled = make_design(key[0], 2, 1, key[4], 0).pooled_truth(q)
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
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m r3d_teach.montecarlo",
                                 description="R3D Monte Carlo study (appends to --out; resumable).")
    ap.add_argument("--design", nargs="+", default=["paper1"], choices=sorted(DESIGNS))
    ap.add_argument("--n", nargs="+", type=int, default=[500, 1000, 2000])
    ap.add_argument("--n-obs", type=int, default=None, help="draws per unit (default: n_i = n)")
    ap.add_argument("--methods", nargs="+", default=["frechet", "simple"], choices=METHODS)
    ap.add_argument("--deltas", nargs="+", type=float, default=None,
                    help="effect sizes (default: the paper's for paper1/paper2, else 0 1)")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--quantiles", nargs="+", type=float, default=list(DECILES))
    ap.add_argument("--seed", type=int, default=20250404)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="montecarlo_results.csv")
    ap.add_argument("--data", choices=["quantiles", "samples"], default="quantiles")
    ap.add_argument("--no-shift-shortcut", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--summarize", action="store_true",
                    help="only print the summaries of --out (no new runs)")
    a = ap.parse_args(argv)
    if a.summarize:
        df = pd.read_csv(a.out)
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(summarize(df).round(3).to_string(index=False))
            for d in sorted(df["design"].unique()):
                print(f"\n{d}: acceptance probabilities in % (paper's Table 2 layout)")
                print(paper_table(df, d).round(2).to_string())
        return 0
    t0 = time.time()
    df = run_study(a.design, a.n, methods=a.methods, deltas=a.deltas, reps=a.reps, n_boot=a.boot,
                   n_obs=a.n_obs, quantiles=a.quantiles, alpha=a.alpha, base_seed=a.seed, out=a.out,
                   n_jobs=a.jobs, progress=not a.quiet, data=a.data,
                   shift_shortcut=not a.no_shift_shortcut)
    elapsed = time.time() - t0
    meta = {"command": "python -m r3d_teach.montecarlo " + " ".join(sys.argv[1:] if argv is None else argv),
            "elapsed_seconds_this_call": round(elapsed, 1), "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "rows_in_file": int(len(df)), "n_jobs": a.jobs, "python": platform.python_version(),
            "numpy": np.__version__, "machine": platform.machine()}
    with open(a.out + ".meta.json", "a") as f:
        f.write(json.dumps(meta) + "\n")
    if len(df):
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(summarize(df).round(3).to_string(index=False))
    print(f"elapsed {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
