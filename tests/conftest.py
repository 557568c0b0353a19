import gzip
import json
import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(scope="session")
def reference():
    """R3D 0.1.0 reference: datasets (x, list of unit samples[, t]), R's qmat, xi, outputs."""
    z = np.load(os.path.join(DATA, "reference_data.npz"))
    with gzip.open(os.path.join(DATA, "r3d_0.1.0_outputs.json.gz"), "rt") as f:
        outputs = json.load(f)
    sets = {}
    for ds in ("sharp_mean", "hetero_scale", "fuzzy"):
        sizes = z[f"{ds}_sizes"]
        ys = np.split(z[f"{ds}_y"], np.cumsum(sizes)[:-1])
        sets[ds] = dict(x=z[f"{ds}_x"], y=ys, t=z[f"{ds}_t"] if f"{ds}_t" in z else None,
                        qmat=z[f"{ds}_qmat"])
    return dict(sets=sets, xi=z["xi_first100"], outputs=outputs)
