r"""Simulation designs with a known true effect curve (book chapter 7 and the chapters' examples).

Two modules:

* :mod:`r3d_teach.simulate.laws` -- special functions and the laws of the unit distributions
  (folded normal, exponentially modified normal, mixture CDFs and quantiles by quadrature and
  bisection, the per-side normal family :class:`NormalSide`);
* :mod:`r3d_teach.simulate.designs` -- the :class:`Design` objects: each knows its truth
  (``truth(q)``: the LAQTE; ``pooled_truth(q)``: the target of classical quantile RD) and draws
  samples (``sample(n_units, n_obs, seed) -> SimulatedRD``), the registry :data:`DESIGNS`, and
  :func:`empirical_quantiles` (unit quantiles drawn exactly in law, the Monte Carlo fast path).

Two more modules load on first use (``r3d_teach.simulate.montecarlo``; they need the estimator):

* :mod:`r3d_teach.simulate.montecarlo` -- the Monte Carlo study runner (the paper's Table 2 and
  Figure 3; ``python -m r3d_teach.simulate.montecarlo``);
* :mod:`r3d_teach.simulate.baselines` -- the classical estimators R3D is compared with (pooled
  quantile RD, RD on unit means).

Every design draws aggregate units :math:`i = 1..n` with a running variable :math:`X_i`, a random
distribution :math:`Y_i` for each unit and ``n_obs`` draws from it. The LAQTE (the R3D estimand)
is :math:`\tau(q) = E[Q_{Y^1}(q) - Q_{Y^0}(q) \mid X = 0]`, the jump of the average quantile
function; the pooled quantile-RD target (Frandsen, Froelich and Melly 2012, pooling every draw) is
the quantile difference of the two *mixture* laws :math:`E[Y \mid X = 0^\pm]`
(Van Dijcke 2025, section 2.4). They agree when treatment shifts every unit by the same constant.

Example
-------
>>> import numpy as np
>>> from r3d_teach.simulate import HeterogeneousShape, paper_dgp1
>>> sim = paper_dgp1(n_units=200, n_obs=50, delta=2.0, seed=1)
>>> np.allclose(sim.truth([0.1, 0.5, 0.9]), 2.0)
True
>>> d = HeterogeneousShape()          # LAQTE and pooled target differ in the tails
>>> np.round(d.truth([0.1, 0.9]) - d.pooled_truth([0.1, 0.9]), 3).tolist()
[-0.162, 0.162]
"""

import importlib

from . import designs as _designs
from .designs import *  # noqa: F401,F403  (the names in designs.__all__)
from .laws import NormalSide, exgauss_cdf, exgauss_quantile, folded_normal_mean

__all__ = list(_designs.__all__) + ["NormalSide", "folded_normal_mean", "exgauss_cdf", "exgauss_quantile"]

#: submodules loaded on first attribute access (they import the estimator)
_LAZY = ("montecarlo", "baselines")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'r3d_teach.simulate' has no attribute {name!r}")
