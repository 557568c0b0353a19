"""r3d_teach: regression discontinuity with distribution-valued outcomes (R3D).

A teaching implementation of Van Dijcke (2025), "Regression Discontinuity Design with
Distribution-Valued Outcomes" (arXiv 2504.03992): each unit's sample becomes a quantile
function; the estimand is the jump at the cutoff in the average quantile function (the local
average quantile treatment effect).

>>> from r3d_teach import r3d, unit_quantiles, select_bandwidth, R3DResult
>>> import r3d_teach
>>> r3d_teach.simulate.__name__           # sub-packages load on first use
'r3d_teach.simulate'
"""
import importlib

from .core.bandwidth import BandwidthSelection
from .core.estimator import r3d, select_bandwidth
from .core.quantiles import barycenter, unit_quantiles, wasserstein2
from .core.results import FirstStage, R3DResult
from .core.summary import Summary

__version__ = "0.3.0.dev0"

#: modules loaded on first attribute access (keeps ``import r3d_teach`` light)
_LAZY = ("core", "datasets", "simulate", "validity", "locrand", "rdplot", "report", "power", "widgets", "outofcore",
         "cli")
#: short names kept for attribute access (``plotting`` is ``core.plotting``, ...)
_ALIASES = {"plotting": "core.plotting", "baselines": "simulate.baselines", "montecarlo": "simulate.montecarlo"}

__all__ = [
    "r3d",
    "R3DResult",
    "Summary",
    "FirstStage",
    "unit_quantiles",
    "select_bandwidth",
    "BandwidthSelection",
    "wasserstein2",
    "barycenter",
    "datasets",
    "simulate",
    "baselines",
]


def __getattr__(name):
    if name in _LAZY or name in _ALIASES:
        return importlib.import_module(f".{_ALIASES.get(name, name)}", __name__)
    raise AttributeError(f"module 'r3d_teach' has no attribute {name!r}")
