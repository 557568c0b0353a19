"""Scale: ``r3d(x, Q=Q, ...)`` on 10^4, 10^5 and 10^6 units × 99 quantile levels.

The call is the default estimator on a given unit-quantile matrix Q (Fréchet, data-driven h
and b, p = 2, the studentized band with HC2 residuals and its Bell-McCaffrey ν, nullity and
homogeneity tests):

    r3d(x, Q=Q, quantiles=np.arange(1, 100) / 100, n_boot=B, seed=1)     B = 999 and B = 0

Data (a sharp design with a jump): x ~ U(-1, 1); unit i's quantile function is a
location-scale-skew family,

    Q_i(q) = μ_i + σ_i z(q) + κ_i (e^{z(q)} - 1),   z = Φ⁻¹,
    μ_i = 1 + x + 0.5 x² + 1.0·1{x ≥ 0} + N(0, 0.5²),
    σ_i = exp(0.2 x + 0.3·1{x ≥ 0} + N(0, 0.1²)),   κ_i = 0.2 U(0, 1),

so every row is increasing; the effect is a shift of 1 plus a larger spread above the cutoff.
Q is built in row blocks straight into its (n, 99) array (no n × 99 temporaries).

Each (size, B) runs in a fresh child process (so its peak RSS is this fit's), with one BLAS
thread by default (``--blas-threads``; the passes below are single-threaded too, and on a
shared machine multi-threaded BLAS spins while waiting for a busy core):

* ``two_pass``: the time of two memory passes over Q, measured in the same child just before
  the fit: ``np.add.reduce(Q, axis=0)`` twice (each reads all of Q once and writes nothing);
  the median of 5 (wall clock, and CPU time for ``cpu_two_pass``);
* ``fit``: the wall time of the call (one run); ``cpu_fit`` its CPU time;
* ``ratio`` = fit / two_pass (the goal at 10^6 units: ≤ 25), ``cpu_ratio`` the same in CPU time
  (less sensitive to other processes on the machine);
* ``peak``: the child's ``ru_maxrss`` at the end (the whole process: interpreter, Q and the fit),
  and ``fit_extra`` = peak minus ``ru_maxrss`` just before the fit (Q built, imports done);
  the goal at 10^6 units: peak ≤ 2.5 × Q's bytes + 0.4 GB;
* the numbers: τ̂, se at the deciles, h and b, the critical value and the p-values, compared
  with ``results/bench_scale_reference.json`` (the same runs of the code before the scale
  work, commit a1c9c1d, one BLAS thread): τ̂, se, h, b to ``RTOL``, the bootstrap's critical
  value and band to ``RTOL_BOOT`` (the unweighted band, the only one the reference has, computed
  from the same draws; the default studentized band and its p-values are recorded beside it).
  Since the default band uses HC2 residuals (the reference: HC3), se and the bootstrap are
  compared only for runs with HC3 residuals; τ̂, τ̂_conventional, h and b always.

``--markdown PATH`` writes the runs and the reference runs as a markdown table; ``--table
label=runs.json ...`` prints a table of runs stored with ``--json`` (as in results/bench_scale.md).

Usage:
    nice -n 5 python benchmarks/bench_scale.py                      # all sizes, B = 999 and 0
    nice -n 5 python benchmarks/bench_scale.py --sizes 1e4 1e5 --boot 0
    nice -n 5 python benchmarks/bench_scale.py --repeat 3 --sizes 1e6  # 10^6 three times
    nice -n 5 python benchmarks/bench_scale.py --write-reference    # store the reference numbers
    python benchmarks/bench_scale.py --child N B                    # one run (JSON on stdout)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
REFERENCE = os.path.join(RESULTS, "bench_scale_reference.json")
GRID = np.arange(1, 100) / 100
DECILES = np.arange(9, 99, 10)  # indices of 0.1, ..., 0.9 in GRID
#: relative agreement (max |Δ| / max |value|) of τ̂, se, h and b that counts as "equal to rounding"
RTOL = 1e-9
#: the same for the bootstrap's critical value and band: the draws go through the Cholesky root of
#: Φ'Φ, whose conditioning amplifies rounding (the code before the scale work, run once with one
#: and once with two BLAS threads, gives critical values 1.3e-8 apart at 10^4 units)
RTOL_BOOT = 1e-6


def build_q(n: int, seed: int = 0, block: int = 50_000):
    """x (n,) and Q (n, 99) of the design in the module docstring, built in row blocks."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    z = norm.ppf(GRID)
    ez = np.expm1(z)
    Q = np.empty((n, GRID.size))
    for a in range(0, n, block):
        xb = x[a:a + block]
        r = xb.size
        d = (xb >= 0).astype(float)
        mu = 1 + xb + 0.5 * xb**2 + d + rng.normal(0, 0.5, r)
        sig = np.exp(0.2 * xb + 0.3 * d + rng.normal(0, 0.1, r))
        kap = 0.2 * rng.uniform(0, 1, r)
        blk = Q[a:a + r]
        np.multiply(sig[:, None], z[None, :], out=blk)
        blk += mu[:, None]
        blk += kap[:, None] * ez[None, :]
    return x, Q


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB


def child(n: int, n_boot: int) -> dict:
    x, Q = build_q(n)
    from r3d_teach import r3d  # imported before the baseline
    from r3d_teach.core.bootstrap import critical_value

    passes, cpu_passes = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        np.add.reduce(Q, axis=0)
        np.add.reduce(Q, axis=0)
        passes.append(time.perf_counter() - t0)
        cpu_passes.append(time.process_time() - c0)
    two_pass, cpu_two_pass = float(np.median(passes)), float(np.median(cpu_passes))
    base = _maxrss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    res = r3d(x, Q=Q, quantiles=GRID, n_boot=n_boot, seed=1)
    fit, cpu_fit = time.perf_counter() - t0, time.process_time() - c0
    peak = _maxrss_bytes()
    out = dict(n=n, n_boot=n_boot, fit=fit, two_pass=two_pass, ratio=fit / two_pass, cpu_fit=cpu_fit,
               cpu_two_pass=cpu_two_pass, cpu_ratio=cpu_fit / cpu_two_pass, q_bytes=Q.nbytes,
               peak=peak, base=base, fit_extra=peak - base, peak_ratio=peak / Q.nbytes,
               goal_peak=2.5 * Q.nbytes + 0.4e9, h=float(res.h), b={k: float(v) for k, v in res.b.items()},
               n_left=int(res.n_left), n_right=int(res.n_right),
               tau=res.tau[DECILES].tolist(), se=res.se[DECILES].tolist(),
               tau_conventional=res.tau_conventional[DECILES].tolist(), residuals=res.residuals,
               dof=None if res.dof is None else float(res.dof))
    if n_boot:
        # the reference (commit a1c9c1d) has the unweighted band, the only one then: compare that band,
        # computed from the same draws (the sup statistics are kept); the default band is recorded too
        boot = res.diagnostics.bootstrap
        crit_u = critical_value(boot.sup_stats, 0.05)
        out["crit_value"] = float(crit_u)
        out["band_lower"] = (res.tau - crit_u)[DECILES].tolist()
        out["band"] = res.band
        out["crit_value_default"] = float(res.crit_value)
        out["p_values_default"] = res.tests["p_value"].astype(float).tolist()
    return out


BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_child(n: int, n_boot: int, blas_threads: str = "1") -> dict:
    env = dict(os.environ)
    for var in BLAS_VARS:
        env.pop(var, None)
        if blas_threads != "default":
            env[var] = blas_threads
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(n), str(n_boot)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child {n}, {n_boot} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _key(n: int, n_boot: int) -> str:
    return f"{n}/{n_boot}"


def compare(run: dict, ref: dict) -> dict:
    """max |Δ| / max |reference| for each stored vector, and equality of h and b."""
    out = {}
    # the reference has HC3 standard errors and draws; the default band's HC2 ones are compared only
    # through what does not depend on the residual rule (τ̂, h, b)
    same_rule = run.get("residuals", "hc3") == ref.get("residuals", "hc3")
    for name in ("tau", "se", "tau_conventional", "band_lower"):
        if name in ("se", "band_lower") and not same_rule:
            continue
        if name in ref and name in run:
            a, b = np.asarray(run[name]), np.asarray(ref[name])
            out[name] = float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
    out["h"] = abs(run["h"] - ref["h"]) / ref["h"]
    out["b"] = max(abs(run["b"][s] - ref["b"][s]) / ref["b"][s] for s in ref["b"])
    if "crit_value" in ref and same_rule:
        out["crit_value"] = abs(run["crit_value"] - ref["crit_value"]) / ref["crit_value"]
        if "p_values" in run:  # runs made before the studentized default: the same tests as the reference
            out["p_values_equal"] = run["p_values"] == ref["p_values"]
    return out


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=HERE).stdout.strip()
    except OSError:
        return "?"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", nargs=2, type=int, metavar=("N", "B"))
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6])
    ap.add_argument("--boot", nargs="+", type=int, default=[999, 0])
    ap.add_argument("--repeat", type=int, default=1, help="runs per (size, B), each in a fresh child")
    ap.add_argument("--blas-threads", default="1",
                    help="BLAS threads of the child (default 1, like the two passes; 'default': the library's own)")
    ap.add_argument("--write-reference", action="store_true")
    ap.add_argument("--json", default=None, help="also write the runs to this JSON file")
    ap.add_argument("--markdown", default=None, help="also write the runs and the reference runs as a table")
    ap.add_argument("--table", nargs="+", default=None, metavar="JSON",
                    help="only print a markdown table of runs stored with --json (label=path)")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.table:
        print(stored_table(args.table))
        return
    ref = {}
    if os.path.exists(REFERENCE):
        with open(REFERENCE) as f:
            ref = json.load(f)["runs"]
    runs = []
    print(f"commit {_commit()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}, BLAS threads: {args.blas_threads}")
    print(f"{'n':>9s} {'B':>4s} {'fit s':>7s} {'2-pass s':>8s} {'ratio':>6s} {'cpu ratio':>9s} {'peak GB':>8s} "
          f"{'Q GB':>6s} {'peak/Q':>6s} {'goal GB':>7s} {'extra GB':>8s} {'h':>8s}  agreement (rel.)")
    for n in (int(s) for s in args.sizes):
        for B in args.boot:
            for _ in range(args.repeat):
                r = run_child(n, B, args.blas_threads)
                r["blas_threads"] = args.blas_threads
                runs.append(r)
                agree = ""
                if _key(n, B) in ref and not args.write_reference:
                    c = compare(r, ref[_key(n, B)])
                    r["agreement"] = c
                    est = max(c[k] for k in ("tau", "se", "tau_conventional", "h", "b") if k in c)
                    boot = max([c[k] for k in ("crit_value", "band_lower") if k in c], default=0.0)
                    same_p = c.get("p_values_equal", True)
                    agree = f"{est:.1e}" + (f" / boot {boot:.1e}" if B else "") + ("" if same_p else " p-values differ")
                    agree += " ok" if est <= RTOL and boot <= RTOL_BOOT and same_p else " DIFFERENT"
                print(f"{n:9d} {B:4d} {r['fit']:7.2f} {r['two_pass']:8.3f} {r['ratio']:6.1f} {r['cpu_ratio']:9.1f} "
                      f"{r['peak'] / 1e9:8.2f} {r['q_bytes'] / 1e9:6.2f} {r['peak_ratio']:6.2f} "
                      f"{r['goal_peak'] / 1e9:7.2f} {r['fit_extra'] / 1e9:8.2f} {r['h']:8.4f}  {agree}",
                      flush=True)
    if args.write_reference:
        keep = {}
        for r in runs:
            keep.setdefault(_key(r["n"], r["n_boot"]), r)
        with open(REFERENCE, "w") as f:
            json.dump({"commit": _commit(), "call": "r3d(x, Q=Q, quantiles=np.arange(1, 100) / 100, "
                       "n_boot=B, seed=1)", "runs": keep}, f, indent=1)
        print(f"reference written to {REFERENCE}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"commit": _commit(), "runs": runs}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_table(runs, ref))


def _row(r: dict, label: str) -> str:
    cpu = f"{r['cpu_ratio']:.1f}" if "cpu_ratio" in r else "–"
    agree = r.get("agreement")
    if agree:
        est = max(agree[k] for k in ("tau", "se", "tau_conventional", "h", "b") if k in agree)
        boot = max([agree[k] for k in ("crit_value", "band_lower") if k in agree], default=None)
        same = "" if agree.get("p_values_equal", True) else ", p-values differ"
        agree_txt = f"{est:.0e}" + (f" / {boot:.0e}" if boot is not None else "") + same
    else:
        agree_txt = "(reference)"
    return (f"| {label} | {r['n']:,} | {r['n_boot']} | {r['fit']:.2f} | {r['two_pass']:.3f} | {r['ratio']:.1f} | "
            f"{cpu} | {r['peak'] / 1e9:.2f} | {r['peak_ratio']:.2f} | {r['fit_extra'] / 1e9:.2f} | "
            f"{r['h']:.4f} | {agree_txt} |\n")


def stored_table(items: list) -> str:
    """A markdown table of runs stored with ``--json``: items ``label=path``."""
    head = ("| code | units | B | fit (s) | two passes (s) | ratio | CPU ratio | peak RSS (GB) | peak / Q | "
            "fit's extra (GB) | h | agreement with before (τ̂, se, h, b / bootstrap) |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
    rows = []
    for item in items:
        label, path = item.split("=", 1)
        with open(path) as f:
            stored = json.load(f)["runs"]
        rows += [_row(r, label) for r in (stored.values() if isinstance(stored, dict) else stored)]
    return head + "".join(rows)


def markdown_table(runs: list, ref: dict) -> str:
    """The runs (after) and the reference runs (before) as one markdown table."""
    head = ("| code | units | B | fit (s) | two passes (s) | ratio | CPU ratio | peak RSS (GB) | peak / Q | "
            "fit's extra (GB) | h | agreement with before (τ̂, se, h, b / bootstrap) |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
    rows = [_row(r, "before (a1c9c1d)") for r in ref.values()]
    rows += [_row(r, f"after ({_commit()})") for r in runs]
    return head + "".join(rows)


if __name__ == "__main__":
    main()
