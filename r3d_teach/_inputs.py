"""The one input-preparation step shared by :func:`r3d_teach.r3d` and
:func:`r3d_teach.select_bandwidth`: validated arrays, the centred running variable and the
unit quantile matrix Q̂ (n × M), from samples, from a long DataFrame, or given directly.

>>> import numpy as np
>>> inp = prepare_inputs([-0.5, 0.2, 0.7], [[1.0, 2.0], [3.0], [4.0, 6.0]], quantiles=[0.5])
>>> inp.Q.ravel().tolist(), inp.xc.tolist()
([1.5, 3.0, 5.0], [-0.5, 0.2, 0.7])
>>> prepare_inputs([-0.5, 0.2], Q=np.array([[1.0], [2.0]]), quantiles=[0.5]).Q.shape
(2, 1)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _validate as V
from .quantiles import QUANTILE_METHODS, unit_quantiles

__all__ = ["Inputs", "prepare_inputs", "DEFAULT_QUANTILES"]

#: the default grid of quantile levels, 0.01, 0.02, ..., 0.99
DEFAULT_QUANTILES = np.round(np.arange(1, 100) / 100, 10)


@dataclass
class Inputs:
    """Validated inputs: one row per unit."""

    x: np.ndarray            # (n,) running variable
    xc: np.ndarray           # (n,) x - cutoff
    cutoff: float
    quantiles: np.ndarray    # (M,)
    Q: np.ndarray            # (n, M) unit quantiles
    treatment: np.ndarray | None
    clusters: np.ndarray | None        # (n,) codes 0..G-1
    cluster_labels: np.ndarray | None  # (G,)
    units: np.ndarray | None           # unit labels (data= only)
    weighted: bool
    quantile_method: str

    @property
    def n(self) -> int:
        return self.x.size


def _from_frame(data, x, y, unit, treatment, weights, cluster):
    """Split a long DataFrame (one row per observation) into unit-level arrays and samples."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data: must be a pandas DataFrame (one row per observation), got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("data: the DataFrame is empty (no observations)")
    if unit is None:
        raise ValueError("unit: give the name of the column that identifies units when data= is used")
    for arg, col in (("x", x), ("y", y), ("unit", unit), ("treatment", treatment), ("weights", weights),
                     ("cluster", cluster)):
        if col is None:
            if arg in ("x", "y"):
                raise ValueError(f"{arg}: give a column name of data")
            continue
        if not isinstance(col, str) or col not in data.columns:
            raise ValueError(f"{arg}: {col!r} is not a column of data (columns: {list(data.columns)})")
    for arg, col in (("x", x), ("y", y), ("treatment", treatment), ("weights", weights), ("unit", unit),
                     ("cluster", cluster)):
        if col is not None and data[col].isna().any():
            raise ValueError(f"{arg}: column {col!r} has {int(data[col].isna().sum())} missing values; "
                             "drop or impute them first (nothing is dropped silently)")
    codes, labels = pd.factorize(data[unit], sort=False)
    order = np.argsort(codes, kind="stable")
    codes_s = codes[order]
    bounds = np.flatnonzero(np.diff(codes_s)) + 1
    firsts = np.concatenate([[0], bounds])
    counts = np.diff(np.concatenate([firsts, [codes_s.size]]))

    def column(col, arg, allow_bool=False):
        return V.as_real_array(data[col].to_numpy(), f"{arg}: column {col!r}", allow_bool=allow_bool)[order]

    def constant_within_units(vals, col, arg):
        first = vals[firsts]
        varying = np.flatnonzero(np.repeat(first, counts) != vals)
        if varying.size:
            bad = pd.unique(np.asarray(labels)[codes_s[varying]])[:5]
            raise ValueError(f"{arg}: column {col!r} must be constant within each unit; it varies in unit(s) {list(bad)}")
        return first

    xs = constant_within_units(column(x, "x"), x, "x")
    ys = np.split(column(y, "y"), bounds)
    ts = constant_within_units(column(treatment, "treatment", True), treatment, "treatment") \
        if treatment is not None else None
    ws = np.split(column(weights, "weights"), bounds) if weights is not None else None
    cl = None
    if cluster is not None:
        cvals = data[cluster].to_numpy()[order]
        ccodes, _ = pd.factorize(cvals, sort=False)
        constant_within_units(ccodes, cluster, "cluster")
        cl = cvals[firsts]
    return xs, ys, ts, ws, cl, np.asarray(labels)


def prepare_inputs(x, y=None, *, Q=None, cutoff: float = 0.0, quantiles=None, treatment=None,
                   weights=None, cluster=None, data: pd.DataFrame | None = None, unit: str | None = None,
                   quantile_method: str = "linear") -> Inputs:
    """Validate everything that describes the data and compute the unit quantiles.

    Exactly one of ``y`` (unit samples, or a column name with ``data=``) and ``Q`` (an n × M
    matrix of unit quantiles on the grid ``quantiles``, which is then required) is given.
    """
    cutoff = V.check_cutoff(cutoff)
    if not isinstance(quantile_method, str) or quantile_method not in QUANTILE_METHODS:
        raise ValueError(f"quantile_method: unknown method {quantile_method!r}; choose one of {QUANTILE_METHODS}")
    units = None
    if data is not None:
        if Q is not None:
            raise ValueError("Q: give either data= (samples in a long DataFrame) or Q= (unit quantiles), not both")
        x, y, treatment, weights, cluster, units = _from_frame(data, x, y, unit, treatment, weights, cluster)
    elif unit is not None:
        raise ValueError("unit: is a column name of data=; without data= give one sample per unit in y")
    xv = V.check_running_variable(x, "x")
    if Q is not None:
        if y is not None:
            raise ValueError("Q: give either y (unit samples) or Q (unit quantiles), not both")
        if quantiles is None:
            raise ValueError("quantiles: required with Q= (the grid Q's columns are evaluated on)")
        if weights is not None:
            raise ValueError("weights: apply to samples; with Q= the quantiles are already computed")
        q = V.check_quantile_grid(quantiles)
        Qm = V.as_real_array(Q, "Q")
        if Qm.ndim != 2 or Qm.shape != (xv.size, q.size):
            raise ValueError(f"Q: must be an (n_units, n_quantiles) = ({xv.size}, {q.size}) matrix, got shape {Qm.shape}")
        bad = ~np.isfinite(Qm)
        if bad.any():
            i = int(np.flatnonzero(bad.any(axis=1))[0])
            raise ValueError(f"Q: row {i} contains NaN or inf")
        if (np.diff(Qm, axis=1) < 0).any():
            i = int(np.flatnonzero((np.diff(Qm, axis=1) < 0).any(axis=1))[0])
            raise ValueError(f"Q: row {i} decreases; each row must be a unit's quantile function "
                             "(non-decreasing in q)")
    else:
        if y is None:
            raise ValueError("y: give the units' samples (or Q= with precomputed unit quantiles)")
        q = V.check_quantile_grid(DEFAULT_QUANTILES if quantiles is None else quantiles)
        ys = V.check_samples(y, "y")
        if len(ys) != xv.size:
            raise ValueError(f"y: has {len(ys)} units but x has {xv.size} (lengths must match)")
        if weights is not None:
            weights = V.check_unit_weights(weights, ys)
        Qm = unit_quantiles(ys, q, weights=weights, method=quantile_method)
    xc = xv - cutoff
    V.check_sides(xc)
    tv = V.check_treatment(treatment, xv.size) if treatment is not None else None
    codes = labels = None
    if cluster is not None:
        codes, labels = V.check_labels(cluster, xv.size, "cluster")
    return Inputs(x=xv, xc=xc, cutoff=cutoff, quantiles=q, Q=Qm, treatment=tv, clusters=codes,
                  cluster_labels=labels, units=units, weighted=weights is not None,
                  quantile_method=quantile_method)
