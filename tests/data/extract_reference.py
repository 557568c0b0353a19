"""Copy the few reference numbers the tests need from ../shared/reference into tests/data.

Run once by a developer (tests never read ../shared):
    python tests/data/extract_reference.py ../shared/reference
Writes reference_data.npz (the three datasets, R's unit-quantile matrices, the first 100 of
R's bootstrap multipliers) and r3d_0.1.0_outputs.json.gz (R3D 0.1.0's outputs: fixed-h runs
in full, automatic-bandwidth runs' bandwidths only).
"""
import gzip
import json
import os
import sys

import numpy as np
import pandas as pd

src = sys.argv[1] if len(sys.argv) > 1 else "../shared/reference"
here = os.path.dirname(os.path.abspath(__file__))
arrays = {}
outputs = {}
for ds in ("sharp_mean", "hetero_scale", "fuzzy"):
    df = pd.read_csv(f"{src}/data/{ds}.csv.gz")
    g = df.groupby("unit", sort=True)
    arrays[f"{ds}_x"] = g["x"].first().to_numpy()
    arrays[f"{ds}_sizes"] = g.size().to_numpy()
    arrays[f"{ds}_y"] = df.sort_values("unit", kind="stable")["y"].to_numpy()
    if "t" in df:
        arrays[f"{ds}_t"] = g["t"].first().to_numpy()
    arrays[f"{ds}_qmat"] = pd.read_csv(f"{src}/r3d_0.1.0/{ds}_qmat.csv.gz").to_numpy()[:, -99:]
    for fn in sorted(os.listdir(f"{src}/r3d_0.1.0/{ds}")):
        d = json.load(open(f"{src}/r3d_0.1.0/{ds}/{fn}"))
        key = f"{ds}/{fn[:-5]}"
        if d["config"]["bw_mode"] == "fixed":
            keep = {k: d[k] for k in ("q_grid", "tau", "int_plus", "int_minus", "intercept_plus_raw",
                                       "intercept_minus_raw", "alpha_plus", "alpha_minus", "alphaT_plus",
                                       "alphaT_minus", "fuzzy_denominator", "bandwidths")}
            keep["config"] = {k: d["config"][k] for k in ("method", "p", "kernel_fun", "fuzzy", "h_fixed", "alpha")}
            keep["supvals_first100"] = d["bootstrap"]["supvals"][:100]
            keep["crit_val"] = d["bootstrap"]["crit_val"]
            keep["tests"] = [{k: t[k] for k in ("test", "range_label", "test_stat", "p_value")} for t in d["tests"]]
        else:
            keep = {"bandwidths": d["bandwidths"], "config": {k: d["config"][k] for k in ("method", "p", "kernel_fun", "fuzzy")}}
        keep["timing_sec"] = d["timing_sec"]
        outputs[key] = keep
xi = pd.read_csv(f"{src}/r3d_0.1.0/xi_n200_B500_seed12345.csv.gz", header=None).to_numpy()
arrays["xi_first100"] = xi[:, :100]
np.savez_compressed(os.path.join(here, "reference_data.npz"), **arrays)
with gzip.open(os.path.join(here, "r3d_0.1.0_outputs.json.gz"), "wt") as f:
    json.dump(outputs, f)
print("wrote", sorted(arrays), len(outputs), "runs")
