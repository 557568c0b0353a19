"""Coverage study on the paper's DGP 1 (issue "r3d_teach core", item 3).

DGP 1 (Van Dijcke 2025, §4.1): X ~ U(-1, 1); μ_i ~ N(5 + 5X_i + Δ·1{X_i ≥ 0}, 1);
σ_i ~ |N(1 + X_i, 1)|; unit sample Y_ij ~ N(μ_i, σ_i²), j = 1..n_obs.  True τ(q) = Δ.

For each repetition: r3d with data-driven bandwidth (p = 2, s = 1, triangular), 9 deciles,
95 % uniform band from B multiplier draws; record whether the band covers Δ at every decile,
the nullity and homogeneity decisions and the selected h.

Usage:  python benchmarks/coverage_dgp1.py --n 500 --reps 400 --boot 1000 --n-jobs 2
Prints coverage with its Monte Carlo standard error, and writes a CSV of per-repetition rows.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from r3d_teach import r3d


def dgp1(n: int, n_obs: int, delta: float, rng: np.random.Generator):
    x = rng.uniform(-1, 1, n)
    mu = rng.normal(5 + 5 * x + delta * (x >= 0), 1.0)
    sigma = np.abs(rng.normal(1 + x, 1.0))
    y = mu[:, None] + sigma[:, None] * rng.standard_normal((n, n_obs))
    return x, y


def one_rep(rep: int, n: int, n_obs: int, delta: float, boot: int, seed: int, residuals: str):
    rng = np.random.default_rng([seed, rep])
    x, y = dgp1(n, n_obs, delta, rng)
    q = np.arange(1, 10) / 10
    rows = []
    for method in ("frechet", "simple"):
        res = r3d(x, y, method=method, quantiles=q, n_boot=boot, seed=rng, residuals=residuals)
        t = res.tests.set_index("test")
        h = np.atleast_1d(res.h)
        rows.append(dict(
            rep=rep, method=method, n=n, delta=delta,
            covered=bool(np.all((res.band_lower <= delta) & (delta <= res.band_upper))),
            pointwise_cov=float(np.mean((res.pointwise_lower <= delta) & (delta <= res.pointwise_upper))),
            nullity_p=float(t.loc["nullity", "p_value"]), homogeneity_p=float(t.loc["homogeneity", "p_value"]),
            h_median=float(np.median(h)), crit=res.crit_value, bias=float(np.mean(res.tau - delta)),
        ))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--n-obs", type=int, default=None, help="observations per unit (default: = n)")
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--delta", type=float, default=2.27)
    ap.add_argument("--seed", type=int, default=20250404)
    ap.add_argument("--residuals", default="hc3")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/out/coverage_dgp1.csv")
    a = ap.parse_args(argv)
    n_obs = a.n_obs or a.n
    t0 = time.perf_counter()
    out = Parallel(n_jobs=a.n_jobs)(
        delayed(one_rep)(r, a.n, n_obs, a.delta, a.boot, a.seed, a.residuals) for r in range(a.reps))
    df = pd.DataFrame([row for rows in out for row in rows])
    elapsed = time.perf_counter() - t0
    import os

    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    df.to_csv(a.out, index=False)
    print(f"DGP 1, n = n_i = {a.n}/{n_obs}, delta = {a.delta}, reps = {a.reps}, B = {a.boot}, "
          f"residuals = {a.residuals}, {elapsed:.0f} s")
    for method, g in df.groupby("method"):
        cov = g.covered.mean()
        se = np.sqrt(cov * (1 - cov) / len(g))
        print(f"  {method:8s} uniform coverage {100 * cov:5.1f}% (MC s.e. {100 * se:.1f}),"
              f" pointwise {100 * g.pointwise_cov.mean():5.1f}%,"
              f" homogeneity accepted {100 * (g.homogeneity_p > 0.05).mean():5.1f}%,"
              f" nullity accepted {100 * (g.nullity_p > 0.05).mean():5.1f}%,"
              f" h p10/p50/p90 {np.percentile(g.h_median, 10):.3f}/{g.h_median.median():.3f}/{np.percentile(g.h_median, 90):.3f},"
              f" mean bias {g.bias.mean():+.4f}")


if __name__ == "__main__":
    main()
