"""Local randomization (r3d_teach.locrand): agreement with rdlocrand, size under the sharp null,
and the numbers of the book's two real data sets (cghs, rebp from the rdhonest package).

Writes ``benchmarks/results/locrand_checks.md``. About a minute on one core::

    nice -n 10 python benchmarks/locrand_checks.py [--reps 2000] [--R 20000]

1. Agreement: per-quantile diffmeans p-values against ``rdlocrand.rdrandinf`` (R random draws on
   both sides) on rebp before the reform (10 + 10 age cells) and on a simulated design; max |Δp|
   and the Monte Carlo standard error of the difference, sqrt(p(1 - p)(1/R + 1/R)).
2. Size: rejection rates at alpha = 0.05 under the sharp null (samples independent of a discrete
   running variable), exact enumeration (4 + 5 units, 126 assignments: exact size 6/126) and
   Monte Carlo (10 + 10 units, R = 199: exact size 10/200).
   Also: rdrandinf 3.0 allocates ``reps`` rows for the permutation distribution but fills only
   C(n_W, n_1) of them when ``reps`` exceeds that count, so its p-value is then wrong.
3. Real data: windows selected by covariate balance (rdwinselect on unit covariates), p-values of
   both statistics and per-decile results, in the selected window and in wider fixed windows.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import io
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from rdlocrand import rdrandinf

from r3d_teach import unit_quantiles
from r3d_teach.locrand import randinf, select_window

OUT = Path(__file__).resolve().parent / "results" / "locrand_checks.md"
DEC = np.arange(1, 10) / 10


def _data(name: str) -> pd.DataFrame:
    with importlib.resources.as_file(importlib.resources.files("rdhonest") / "data" / f"{name}.csv") as path:
        return pd.read_csv(path)


def _rdrandinf(y, x, cutoff, wl, wr, reps, seed):
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return rdrandinf(y, x, cutoff=cutoff, wl=wl, wr=wr, statistic="diffmeans", reps=reps, seed=seed,
                         quietly=True)["p.value"]


def agreement(R: int) -> list[str]:
    rebp = _data("rebp")
    rebp["cell"] = np.round(rebp["age"] * 12).astype(int)
    before = rebp[~rebp["period"]]
    cells = {c: g["duration"].to_numpy() for c, g in before.groupby("cell")}
    rng = np.random.default_rng(17)
    xs = np.sort(rng.uniform(-1, 1, 60))
    sim = [rng.lognormal(3 + rng.normal(0, 0.25) + 0.1 * (xi >= 0), 0.7, 80) for xi in xs]
    designs = [
        ("rebp before the reform, 10 + 10 age cells", np.array([c / 12 for c in cells]), list(cells.values()),
         50.0, (50 - 10 / 12, 50 + 9 / 12)),
        ("simulated, 60 units on [-1, 1], window [-0.4, 0.4]", xs, sim, 0.0, (-0.4, 0.4)),
    ]
    lines = ["## 1. Per-quantile p-values against rdlocrand.rdrandinf (diffmeans)", "",
             f"R = {R:,} random assignments on each side (ours: (1 + #)/(1 + R); rdrandinf: #/R, seeds 1..9).", "",
             "| design | units (left + right) | max abs Δp | MC s.e. of Δp there | max abs Δp / s.e. | mean abs Δp |",
             "|---|---|---|---|---|---|"]
    for label, x, y, c, (wl, wr) in designs:
        Q = unit_quantiles(y, DEC)
        res = randinf(x, Q=Q, quantiles=DEC, cutoff=c, window=(wl, wr), n_perm=R, seed=2024, conf_sets=False,
                      method="monte_carlo")
        p = res.by_quantile["p_value"].to_numpy()
        ref = np.array([_rdrandinf(Q[:, k], x, c, wl, wr, R, seed=k + 1) for k in range(DEC.size)])
        pbar = (p + ref) / 2
        se = np.sqrt(np.maximum(pbar * (1 - pbar), 1 / R) * 2 / R)
        dp = np.abs(p - ref)
        k = int(np.argmax(dp))
        lines.append(f"| {label} | {res.n_left} + {res.n_right} | {dp[k]:.4f} | {se[k]:.4f} | "
                     f"{np.max(dp / se):.2f} | {dp.mean():.4f} |")
        lines.append("")
        lines.append(f"p-values at the deciles ({label}): ours {np.round(p, 3).tolist()}, "
                     f"rdrandinf {np.round(ref, 3).tolist()}")
        lines.append("")
    # rdrandinf with more draws than assignments
    rng = np.random.default_rng(0)
    x = np.arange(-5, 5) + 0.5
    y = rng.normal(size=10) + 0.5 * (x > 0)
    ours = randinf(x, Q=y[:, None], quantiles=[0.5], cutoff=0, window=(-5, 5), conf_sets=False)
    ps = {r: _rdrandinf(y, x, 0, -5, 5, r, seed=5) for r in (252, 4000, 100_000)}
    lines += ["rdrandinf with more draws than assignments (5 + 5 units, C = 252; exact p from enumeration "
              f"{ours.p_value:.4f}): reps = 252 gives {ps[252]:.4f}, reps = 4,000 gives {ps[4000]:.4f}, "
              f"reps = 100,000 gives {ps[100_000]:.5f} (rdlocrand 3.0 caps the draws at C but averages over "
              "`reps` rows of an uninitialised array). The tests therefore call it with reps <= C.", ""]
    return lines


def _rejects(res) -> np.ndarray:
    """sup_t, Wasserstein and the median's diffmeans test reject at 0.05."""
    t = res.tests.set_index("test")["p_value"]
    return np.array([t["sup_t"], t["wasserstein"], res.by_quantile["p_value"][4]]) <= 0.05


def size(reps: int) -> list[str]:
    x = np.arange(-6, 7).astype(float)
    x20 = np.arange(-10, 10) + 0.5
    out = {"exact (4 + 5 units, C = 126)": np.zeros(3), "Monte Carlo (10 + 10 units, R = 199)": np.zeros(3)}
    for r in range(reps):
        rng = np.random.default_rng(r)
        y = [rng.lognormal(3, 0.6, 40) for _ in x]
        res = randinf(x, y, cutoff=0, window=(-4, 4), quantiles=DEC, conf_sets=False)
        out["exact (4 + 5 units, C = 126)"] += _rejects(res)
        y = [rng.lognormal(3, 0.6, 40) for _ in x20]
        res = randinf(x20, y, cutoff=0, window=(-10, 10), quantiles=DEC, conf_sets=False, n_perm=199, seed=r)
        out["Monte Carlo (10 + 10 units, R = 199)"] += _rejects(res)
    se = np.sqrt(0.05 * 0.95 / reps)
    lines = ["## 2. Size under the sharp null (alpha = 0.05)", "",
             f"{reps:,} replications; units' samples (lognormal, 40 draws) independent of a discrete running "
             f"variable (cohorts -6..6 and -9.5..9.5). Exact size: 6/126 = {6 / 126:.4f} (enumeration), 10/200 = 0.05 "
             f"(Monte Carlo); binomial s.e. of a rate near 0.05: {se:.4f}.", "",
             "| test | sup_t | wasserstein | diffmeans at q = 0.5 |", "|---|---|---|---|"]
    for k, v in out.items():
        lines.append(f"| {k} | {v[0] / reps:.4f} | {v[1] / reps:.4f} | {v[2] / reps:.4f} |")
    lines.append("")
    return lines


def _p(p: float) -> str:
    return f"{p:.4f}" if p >= 0.001 else f"{p:.2g}"


def _fmt_res(res, label: str) -> list[str]:
    t = res.tests.set_index("test")
    cs = res.conf_sets
    fmt = lambda df: " ∪ ".join(f"[{a:.4g}, {b:.4g}]" for a, b in zip(df["lower"], df["upper"])) or "empty"  # noqa: E731
    lines = [f"**{label}**: window [{res.window[0]:g}, {res.window[1]:g}], {res.n_left} + {res.n_right} units, "
             f"{res.method} ({res.n_assignments:,} of {res.n_possible:,} assignments), smallest attainable p "
             f"{res.min_p_value:.4g}; sup_t = {t.loc['sup_t', 'statistic']:.3f} (p = {_p(t.loc['sup_t', 'p_value'])}), "
             f"Wasserstein = {t.loc['wasserstein', 'statistic']:.4g} (p = {_p(t.loc['wasserstein', 'p_value'])}); "
             f"95% set for a constant shift: sup_t {fmt(cs['sup_t'])}, Wasserstein {fmt(cs['wasserstein'])}.", ""]
    bq = res.by_quantile
    bq = bq[np.isclose(bq["q"].to_numpy()[:, None], DEC[None, :]).any(axis=1)]
    lines += ["| q | mean left | mean right | diff | p | 95% set (hull) |", "|---|---|---|---|---|---|"]
    for _, r in bq.iterrows():
        pieces = "" if r["ci_pieces"] <= 1 else f" ({int(r['ci_pieces'])} pieces)"
        lines.append(f"| {r['q']:.1f} | {r['mean_left']:.4g} | {r['mean_right']:.4g} | {r['diff']:+.4g} | "
                     f"{_p(r['p_value'])} | [{r['ci_lower']:.4g}, {r['ci_upper']:.4g}]{pieces} |")
    lines.append("")
    return lines


def real_data(R: int) -> list[str]:
    lines = ["## 3. The book's data", ""]
    grid = np.arange(1, 20) / 20
    # --- cghs: 31 birth cohorts (year turned 14), cutoff 1947; log earnings
    cghs = _data("cghs")
    cghs["log_earnings"] = np.log(cghs["earnings"])
    cghs["log_cohort_size"] = np.log(cghs.groupby("yearat14")["earnings"].transform("size"))
    sel = select_window("yearat14", "log_cohort_size", data=cghs, unit="yearat14", cutoff=1947, n_perm=2000,
                        seed=1947, nwindows=12)
    lines += ["### cghs (units: 31 birth cohorts, cutoff 1947, outcome log earnings)", "",
              "Balance covariate: log cohort size (the only unit covariate the data hold; there are no "
              "pre-determined person covariates). Nested windows one cohort per side at a time, level 0.15, "
              "2,000 draws:", "", sel.table.round(4).to_markdown(index=False), "",
              f"Selected window: {sel.window} ({sel.n_left} + {sel.n_right} cohorts).", ""]
    for win, label in ((sel.window, "selected window"), ((1942, 1951), "5 + 5 cohorts"),
                       ((1937, 1957), "10 + 11 cohorts (the continuity-based fit's window)")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = randinf("yearat14", "log_earnings", data=cghs, unit="yearat14", cutoff=1947, window=win,
                          quantiles=grid, n_perm=R, seed=1947)
        lines += _fmt_res(res, f"cghs, {label}") + [f"(warning: {w.message})" for w in caught] + [""]
    # the same windows at fake cutoffs (they do not contain 1947): does the rejection belong to 1947?
    lines += ["Placebo cutoffs (k + k cohorts around a fake cutoff c', window [c' - k, c' + k - 1], exact):", "",
              "| k | cutoff | sup_t p | Wasserstein p | average difference |", "|---|---|---|---|---|"]
    for k in (3, 5):
        for cut in (1940, 1941, 1947, 1953, 1955, 1957, 1959):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)      # 3 + 3: the smallest p is 0.1
                res = randinf("yearat14", "log_earnings", data=cghs, unit="yearat14", cutoff=cut,
                              window=(cut - k, cut + k - 1), quantiles=grid, conf_sets=False)
            t = res.tests.set_index("test")["p_value"]
            lines.append(f"| {k} | {cut}{' (true)' if cut == 1947 else ''} | {t['sup_t']:.4f} | "
                         f"{t['wasserstein']:.4f} | {res.shift:+.3f} |")
    lines.append("")
    # --- rebp: age-in-month cells, cutoff 50; unemployment duration (weeks); reform period and before
    rebp = _data("rebp")
    rebp["cell"] = np.round(rebp["age"] * 12).astype(int)
    for period, name in ((True, "REBP in place"), (False, "before the REBP (placebo)")):
        d = rebp[rebp["period"] == period]
        sel = select_window("age", "female", data=d, unit="cell", cutoff=50, n_perm=2000, seed=50, nwindows=12)
        lines += [f"### rebp, {name} (units: 96 age-in-month cells, cutoff 50, outcome weeks unemployed)", "",
                  "Balance covariate: the share of women in the cell. Nested windows one cell per side at a time, "
                  "level 0.15, 2,000 draws:", "", sel.table.round(4).to_markdown(index=False), "",
                  f"Selected window: {sel.window} ({sel.n_left} + {sel.n_right} cells).", ""]
        wins = [(sel.window, "selected window")] if sel.window is not None else []
        wins += [((50 - 6 / 12, 50 + 5 / 12), "6 + 6 cells"), ((50 - 10 / 12, 50 + 10 / 12), "10 + 11 cells")]
        for win, label in wins:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = randinf("age", "duration", data=d, unit="cell", cutoff=50, window=win, quantiles=grid,
                              n_perm=R, seed=50)
            lines += _fmt_res(res, f"rebp {name}, {label}") + [f"(warning: {w.message})" for w in caught] + [""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000, help="replications of the size simulation")
    ap.add_argument("--R", type=int, default=20000, help="random assignments (agreement, real data)")
    args = ap.parse_args()
    t0 = time.time()
    lines = ["# Local randomization: checks and the book's numbers", "",
             f"Produced by `benchmarks/locrand_checks.py --reps {args.reps} --R {args.R}` "
             f"(r3d_teach.locrand, rdlocrand 3.0).", ""]
    lines += agreement(args.R)
    lines += size(args.reps)
    lines += real_data(args.R)
    lines.append(f"Run time: {time.time() - t0:.0f} s.")
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
