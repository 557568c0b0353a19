#!/usr/bin/env bash
# Reproduce the paper's Monte Carlo evidence (Van Dijcke 2025, Table 2 and Figure 3) at full size
# and write the summaries committed in benchmarks/results/.
#
# Run from the repository root:  bash benchmarks/reproduce_paper.sh
# Measured on 2 cores shared with other jobs (see benchmarks/results/*.meta.json): Table 2 took
# 19.7 min of wall time (931 CPU-seconds, so about 8 min on an idle 2-core machine); Figure 3
# about 20 min. The runs are resumable: rerunning a command skips the repetitions already in the
# CSV (Figure 3 was run in steps of 1,000 then 2,500 repetitions this way). The per-repetition
# CSVs (tens of MB) go to benchmarks/out/, which git ignores. Reduced study (about 1-2 min): the
# Table 2 command with --reps 200 and a new --out file.
set -euo pipefail
PY=${PY:-.venv/bin/python}
mkdir -p benchmarks/out benchmarks/results

# Table 2: both DGPs, n = 500, 1000, 2000 (n_i = n), R3D Frechet and local polynomial,
# Delta = the paper's values (default), 2,500 repetitions, 5,000 bootstrap draws, 9 deciles.
$PY -m r3d_teach.simulate.montecarlo --design paper1 paper2 --n 500 1000 2000 --reps 2500 --boot 5000 \
    --out benchmarks/out/table2_raw.csv --jobs 2 --quiet

# Figure 3: relative bias of quantile RD, R3D local polynomial and R3D Frechet against n,
# Delta = 2, the paper's n = 100, 200, 500, 1000 (n_i = n), 2,500 repetitions (1,000 bootstrap
# draws: only the estimates matter here); plus the book's heterogeneous design.
$PY -m r3d_teach.simulate.montecarlo --design paper1 paper2 --n 100 200 500 1000 --methods qrd simple frechet \
    --deltas 2 --reps 2500 --boot 1000 --out benchmarks/out/figure3_raw.csv --jobs 2 --quiet
# (heterogeneous design: treated units draw new means and sds, with the mean shifted by Delta = 2.)
$PY -m r3d_teach.simulate.montecarlo --design heterogeneous --n 100 200 500 1000 --methods qrd simple frechet \
    --deltas 2 --reps 2500 --boot 1000 --out benchmarks/out/figure3_raw.csv --jobs 2 --quiet

# Summaries: table2.csv, table2_paper_vs_ours.md, figure3.csv, figure3.png
$PY benchmarks/paper_tables.py --table2 benchmarks/out/table2_raw.csv \
    --figure3 benchmarks/out/figure3_raw.csv --out benchmarks/results
