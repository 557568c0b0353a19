"""Speed and memory of r3d_teach, and side-by-side ratios against R3D 0.1.0.

Part A — same data, same settings as the reference runs of R3D 0.1.0 (R 4.2.2, recorded in
tests/data/r3d_0.1.0_outputs.json.gz: 200 units with 50–200 draws each, Epanechnikov kernel,
99 quantiles, fixed h = 0.5 or automatic, B = 500 with the nullity/homogeneity/Gini tests on two
sets of ranges).  Our time is the median of 5 runs.
Part B — scaling: 200, 2,000 and 20,000 units with 500 draws each (sharp, 99 quantiles):
unit quantiles, bandwidth selection, fit at fixed h, bootstrap with B = 2,000, whole call
(data-driven h and b: robust bias correction, the default), and the peak memory of the whole
call (tracemalloc).  R3D 0.1.0 is run live on the same data when ``Rscript`` and its R3D
package are installed; otherwise its recorded time is used (3.69 s for 2,000 units × 500 draws,
automatic h, B = 2,000, on this project's reference machine).

Usage: python benchmarks/bench_r3d.py [--skip-20000]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time
import tracemalloc

import numpy as np

from r3d_teach import r3d, select_bandwidth, unit_quantiles

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data")
R_2000_AUTO_B2000 = 3.69


def _median_time(fn, repeat=5):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def part_a():
    z = np.load(os.path.join(DATA, "reference_data.npz"))
    with gzip.open(os.path.join(DATA, "r3d_0.1.0_outputs.json.gz"), "rt") as f:
        out = json.load(f)
    q = np.arange(1, 100) / 100
    rows = []
    for key, run in out.items():
        ds, name = key.split("/")
        cfg = run["config"]
        x = z[f"{ds}_x"]
        y = np.split(z[f"{ds}_y"], np.cumsum(z[f"{ds}_sizes"])[:-1])
        t = z[f"{ds}_t"] if cfg["fuzzy"] else None
        fixed = name.endswith("fixed")
        h = ((0.5, 0.5) if cfg["fuzzy"] else 0.5) if fixed else None
        tests = ("nullity", "homogeneity") + (() if cfg["fuzzy"] else ("gini",))
        kw = dict(method=cfg["method"], p=cfg["p"], kernel="epanechnikov", quantiles=q, h=h, treatment=t)
        t_nb = _median_time(lambda: r3d(x, y, **kw))
        t_b = _median_time(lambda: r3d(x, y, **kw, n_boot=500, seed=1, tests=tests,
                                       test_ranges=[(0.01, 0.99), (0.25, 0.5), (0.5, 0.75)]))
        rt = run["timing_sec"]
        rows.append((key, rt["r3d_noboot"], t_nb, rt["r3d_boot"], t_b))
    print("Part A: R3D 0.1.0 vs r3d_teach on the reference data (seconds; ratio = R / ours)")
    print(f"{'run':42s} {'R fit':>7s} {'ours':>7s} {'ratio':>6s}   {'R +B500':>7s} {'ours':>7s} {'ratio':>6s}")
    for key, rn, on, rb, ob in rows:
        print(f"{key:42s} {rn:7.3f} {on:7.3f} {rn / on:6.1f}   {rb:7.3f} {ob:7.3f} {rb / ob:6.1f}")
    rn = np.array([r[1] / r[2] for r in rows])
    rb = np.array([r[3] / r[4] for r in rows])
    print(f"median ratio: fit {np.median(rn):.1f}x (min {rn.min():.1f}x), "
          f"fit + bootstrap {np.median(rb):.1f}x (min {rb.min():.1f}x)\n")


def _data(n, n_obs, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    mu = rng.normal(5 + 5 * x + 2 * (x >= 0), 1.0)
    sigma = np.abs(rng.normal(1 + x, 1.0))
    return x, mu[:, None] + sigma[:, None] * rng.standard_normal((n, n_obs))


R_SCRIPT = """
suppressMessages(library(R3D))
d <- read.csv(file.path(Sys.getenv("R3D_BENCH_DIR"), "data.csv"))
X <- d$x[!duplicated(d$unit)]
Y <- split(d$y, d$unit)[as.character(unique(d$unit))]
t0 <- proc.time()[["elapsed"]]
fit <- r3d(X, Y, cutoff = 0, method = Sys.getenv("R3D_BENCH_METHOD"), p = 2, q_grid = seq(0.01, 0.99, 0.01),
           boot = TRUE, boot_reps = 2000, boot_cores = 1)
cat(proc.time()[["elapsed"]] - t0, "\n")
"""


def r3d_live_seconds(x, y, method):
    """R3D 0.1.0's whole-call time on the same data, or None when R or the package is missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    if subprocess.run([rscript, "-e", "library(R3D)"], capture_output=True).returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        n, k = y.shape
        with open(os.path.join(tmp, "data.csv"), "w") as f:
            f.write("unit,x,y\n")
            for i in range(n):
                f.write("".join(f"{i},{x[i]!r},{v!r}\n" for v in y[i]))
        out = subprocess.run([rscript, "-e", R_SCRIPT], capture_output=True, text=True,
                             env={**os.environ, "R3D_BENCH_DIR": tmp, "R3D_BENCH_METHOD": method})
        try:
            return float(out.stdout.split()[-1])
        except (IndexError, ValueError):
            return None


def part_b(sizes):
    q = np.arange(1, 100) / 100
    print("Part B: scaling, 500 draws per unit, 99 quantiles (seconds; peak memory of the whole call)")
    print(f"{'units':>7s} {'method':>8s} {'quantiles':>9s} {'bandwidth':>9s} {'fit(h)':>7s} "
          f"{'boot B=2000':>11s} {'whole call':>10s} {'peak MB':>8s}")
    for n in sizes:
        x, y = _data(n, 500)
        rep = 3 if n <= 2000 else 1
        t_q = _median_time(lambda: unit_quantiles(y, q), rep)
        for method in ("frechet", "simple"):
            t_bw = _median_time(lambda: select_bandwidth(x, y, method=method, quantiles=q), rep)
            h = select_bandwidth(x, y, method=method, quantiles=q).h
            t_fit = _median_time(lambda: r3d(x, y, method=method, quantiles=q, h=h), rep)
            t_fb = _median_time(lambda: r3d(x, y, method=method, quantiles=q, h=h, n_boot=2000, seed=1), rep)
            tracemalloc.start()
            t0 = time.perf_counter()
            r3d(x, y, method=method, quantiles=q, n_boot=2000, seed=1)
            t_all = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            t_all = min(t_all, _median_time(lambda: r3d(x, y, method=method, quantiles=q, n_boot=2000, seed=1), rep))
            print(f"{n:7d} {method:>8s} {t_q:9.3f} {t_bw - t_q:9.3f} {t_fit - t_q:7.3f} {t_fb - t_fit:11.3f} "
                  f"{t_all:10.3f} {peak:8.0f}")
            if n == 2000:
                live = r3d_live_seconds(x, y, method)
                r_time, how = (live, "run live") if live is not None else (R_2000_AUTO_B2000, "recorded")
                print(f"{'':7s} {'':8s} R3D 0.1.0 whole call (automatic h, B = 2,000, {how}): {r_time:.2f} s "
                      f"-> ratio {r_time / t_all:.0f}x")
    print("(bandwidth, fit and bootstrap columns exclude the unit-quantile step; input data itself "
          "is not counted in peak memory)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-20000", action="store_true")
    a = ap.parse_args()
    part_a()
    part_b([200, 2000] if a.skip_20000 else [200, 2000, 20000])
