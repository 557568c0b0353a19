"""Summaries of the full-size Monte Carlo runs: the paper's Table 2 and Figure 3, ours vs the paper.

Reads the per-repetition CSVs written by ``python -m r3d_teach.simulate.montecarlo`` (see
``benchmarks/reproduce_paper.sh``) and writes, under ``benchmarks/results/``:

* ``table2.csv`` -- long format, one row per (design, n, method, Δ, statistic): our value, its Monte
  Carlo standard error, the paper's value (Van Dijcke 2025, Table 2; blank where the paper has
  none) and the number of repetitions;
* ``table2_paper_vs_ours.md`` -- the side-by-side table (paper | ours ± s.e.) in the paper's layout;
* ``figure3.csv`` -- per (design, n, method, quantile): truth (LAQTE), mean estimate, bias, its
  s.e., relative bias, variance, RMSE, and for quantile RD the pooled target;
* ``figure3.png`` -- relative bias against n, panels Q10 / Q50 / Q90 / average, one row per design.

Usage::

    python benchmarks/paper_tables.py --table2 benchmarks/out/table2_raw.csv \
        --figure3 benchmarks/out/figure3_raw.csv --out benchmarks/results
"""
from __future__ import annotations

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from r3d_teach.simulate.montecarlo import summarize, summarize_quantiles  # noqa: E402
from r3d_teach.widgets.simulations import auto_ymax, draw_relative_bias  # noqa: E402

#: Van Dijcke (2025), Table 2 (= Table 1 of the April 2025 version): acceptance probabilities in %,
#: keyed (design, statistic, n, method) -> {Δ: value}; coverage and homogeneity do not vary with Δ.
_P1 = {"coverage": {500: (92.56, 92.12), 1000: (93.28, 93.36), 2000: (94.20, 94.40)},
       "homogeneity_accept": {500: (92.64, 92.52), 1000: (93.32, 92.60), 2000: (94.20, 93.64)},
       "nullity_accept": {(500, 1.14): (9.36, 10.12), (500, 2.27): (0.0, 0.0),
                          (1000, 1.14): (0.28, 0.28), (1000, 2.27): (0.0, 0.0),
                          (2000, 1.14): (0.0, 0.0), (2000, 2.27): (0.0, 0.0)}}
_P2 = {"coverage": {500: (93.20, 92.60), 1000: (93.12, 93.20), 2000: (94.36, 94.00)},
       "homogeneity_accept": {500: (2.40, 13.40), 1000: (0.0, 3.40), 2000: (0.0, 0.72)},
       "nullity_accept": {(500, 1.86): (66.96, 69.24), (500, 3.72): (12.92, 14.76),
                          (1000, 1.86): (43.68, 46.96), (1000, 3.72): (1.56, 1.72),
                          (2000, 1.86): (16.12, 18.24), (2000, 3.72): (0.04, 0.0)}}
PAPER = {"paper1": _P1, "paper2": _P2}
STATS = [("coverage", "Unif. CIs"), ("homogeneity_accept", "Homogen."), ("nullity_accept", "Nullity")]
SE = {"coverage": "coverage_se", "homogeneity_accept": "homogeneity_se", "nullity_accept": "nullity_se"}


def paper_value(design: str, stat: str, n: int, method: str, delta: float) -> float:
    j = 0 if method == "frechet" else 1
    tab = PAPER[design][stat]
    if stat == "nullity_accept":
        v = tab.get((int(n), round(float(delta), 2)))
    else:
        v = tab.get(int(n))
    return float("nan") if v is None else float(v[j])


def table2_long(raw: pd.DataFrame) -> pd.DataFrame:
    s = summarize(raw[raw["method"] != "qrd"])
    rows = []
    for _, r in s.iterrows():
        for stat, _label in STATS:
            ours, se = r[stat], r[SE[stat]]  # nullity at delta = 0: the paper has no entry
            rows.append({"design": r["design"], "n": int(r["n"]), "method": r["method"],
                         "delta": r["delta"], "statistic": stat, "ours": ours, "ours_se": se,
                         "paper": paper_value(r["design"], stat, r["n"], r["method"], r["delta"]),
                         "reps": int(r["reps"])})
        for stat in ("mean_h", "mean_abs_bias", "mean_rmse"):
            rows.append({"design": r["design"], "n": int(r["n"]), "method": r["method"],
                         "delta": r["delta"], "statistic": stat, "ours": r[stat], "ours_se": np.nan,
                         "paper": np.nan, "reps": int(r["reps"])})
    return pd.DataFrame(rows)


def _fmt(v, se=None, d=1):
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:.{d}f}" if se is None or not np.isfinite(se) else f"{v:.{d}f} ± {se:.{d}f}"


def table2_markdown(long: pd.DataFrame) -> str:
    """Side-by-side table: for each design, rows (test, n), columns method × Δ, cells 'paper | ours'."""
    out = []
    names = {"paper1": "DGP 1", "paper2": "DGP 2"}
    mname = {"frechet": "Fréchet", "simple": "local polynomial"}
    for design in ("paper1", "paper2"):
        d = long[long["design"] == design]
        if d.empty:
            continue
        deltas = sorted(d["delta"].unique())
        reps = int(d["reps"].min())
        out.append(f"### {names[design]} (acceptance probabilities in %; each cell: paper / ours ± Monte "
                   f"Carlo s.e., {reps:,} repetitions)\n")
        head = ["test", "n"] + [f"{mname[m]} Δ={dl:g}" for m in ("frechet", "simple") for dl in deltas]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for stat, label in STATS:
            for n in sorted(d["n"].unique()):
                cells = [label, f"{n:,}"]
                for m in ("frechet", "simple"):
                    for dl in deltas:
                        r = d[(d["statistic"] == stat) & (d["n"] == n) & (d["method"] == m)
                              & np.isclose(d["delta"], dl)]
                        if r.empty:
                            cells.append("")
                            continue
                        r = r.iloc[0]
                        ours = _fmt(r["ours"], r["ours_se"])
                        paper = _fmt(r["paper"], d=2)
                        if stat == "nullity_accept" and dl == 0:
                            cells.append(f"– / ({ours})")  # the paper leaves these cells blank
                        else:
                            cells.append(f"{paper} / {ours}")
                out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out.append("Nullity at Δ = 0 (in parentheses; the paper leaves these cells blank): in DGP 1 τ ≡ 0 there, so "
               "this is 100 % minus the size of the test. In DGP 2 τ is not 0 at Δ = 0 (the treated units' "
               "exponential rate rises by Δλ = 0.5, so τ(q) runs from −0.23 at q = 0.1 to −1.75 at q = 0.9), so "
               "it is 100 % minus the power. Coverage and homogeneity do not depend on Δ (common random numbers, "
               "pure shift), as in the paper.")
    return "\n".join(out)


def _header(meta_path: str) -> str:
    """Markdown header (title, commands, run time, date, commit, machine) from a .meta.json file."""
    out = ["# Table 2 of Van Dijcke (2025): paper vs r3d_teach", ""]
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            m = json.load(f)
        for r in m.get("runs", []):
            out.append(f"* Command: `{r['command']}`")
            cpu = r.get("time_v", {}).get("user_seconds")
            out.append(f"* Run: {r['started_utc']} to {r['finished_utc']} ({r['wall_seconds'] / 60:.1f} min wall"
                       + (f", {float(cpu):.0f} CPU-seconds)" if cpu else ")"))
        if m.get("device"):
            out.append(f"* Estimator: {m['device']}")
        mach = m.get("machine", {})
        out.append(f"* Git commit: `{m.get('git_commit', '?')}`; machine: {mach.get('cpus', '?')} cores "
                   f"({mach.get('cpu_model', '?')}), Python {mach.get('python', '?')}, NumPy {mach.get('numpy', '?')}; "
                   f"{mach.get('note', '')}")
        out.append(f"* Details: `{os.path.basename(meta_path)}`; differences explained in `NOTES.md`.")
        out.append("")
    return "\n".join(out) + "\n"


def figure3_frame(raw: pd.DataFrame) -> pd.DataFrame:
    sq = summarize_quantiles(raw)
    keep = ["design", "n", "n_obs", "method", "delta", "quantile", "reps", "truth", "mean", "bias",
            "bias_se", "rel_bias", "variance", "rmse", "pooled_truth", "bias_vs_pooled"]
    return sq[[c for c in keep if c in sq.columns]]


def figure3_plot(sq: pd.DataFrame, path: str) -> None:
    designs = [d for d in ("paper1", "paper2", "heterogeneous") if d in set(sq["design"])]
    titles = {"paper1": "DGP 1", "paper2": "DGP 2", "heterogeneous": "heterogeneous"}
    facets = (0.1, 0.5, 0.9, "average")
    fig, axes = plt.subplots(len(designs), 4, figsize=(13, 3.0 * len(designs)), squeeze=False,
                             constrained_layout=True)
    for i, d in enumerate(designs):
        for j, f in enumerate(facets):
            ax = axes[i, j]
            draw_relative_bias(ax, sq, d, f, legend=(i == 0 and j == 0), ymax=auto_ymax(sq, d, f))
            ax.set_title(f"{titles[d]}: " + ax.get_title(), fontsize=9)
            if i < len(designs) - 1:
                ax.set_xlabel("")
    reps = int(sq["reps"].min())
    fig.suptitle(f"Relative bias |mean estimate − τ(q)| / |τ(q)| against n (Δ = 2, {reps:,} repetitions "
                 f"per cell); ▲ = off the scale, value printed")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table2", default="benchmarks/out/table2_raw.csv")
    ap.add_argument("--figure3", default="benchmarks/out/figure3_raw.csv")
    ap.add_argument("--out", default="benchmarks/results")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.table2 and os.path.exists(a.table2):
        long = table2_long(pd.read_csv(a.table2))
        long.to_csv(os.path.join(a.out, "table2.csv"), index=False, float_format="%.6g")
        with open(os.path.join(a.out, "table2_paper_vs_ours.md"), "w") as f:
            f.write(_header(os.path.join(a.out, "table2.meta.json")) + table2_markdown(long) + "\n")
    if a.figure3 and os.path.exists(a.figure3):
        sq = figure3_frame(pd.read_csv(a.figure3))
        sq.to_csv(os.path.join(a.out, "figure3.csv"), index=False, float_format="%.6g")
        figure3_plot(sq, os.path.join(a.out, "figure3.png"))


if __name__ == "__main__":
    main()
