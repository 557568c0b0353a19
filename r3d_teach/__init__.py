"""r3d_teach: regression discontinuity with distribution-valued outcomes (R3D).

A teaching implementation of Van Dijcke (2025), "Regression Discontinuity Design with
Distribution-Valued Outcomes" (arXiv 2504.03992): each unit's sample becomes a quantile
function; the estimand is the jump at the cutoff in the average quantile function (the local
average quantile treatment effect).

>>> from r3d_teach import r3d, unit_quantiles, select_bandwidth, R3DResult
"""
from .bandwidth import BandwidthSelection, select_bandwidth
from .estimator import R3DResult, r3d
from .quantiles import barycenter, unit_quantiles, wasserstein2
from . import datasets, simulate, baselines  # noqa: E402  (namespaces: r3d_teach.datasets, ...)

__version__ = "0.1.0"

__all__ = [
    "r3d",
    "R3DResult",
    "unit_quantiles",
    "select_bandwidth",
    "BandwidthSelection",
    "wasserstein2",
    "barycenter",
    "datasets",
    "simulate",
    "baselines",
]
