"""The R3D estimator: every module of the method, importing nothing outside ``r3d_teach.core``.

Data flow one way, from the units' samples to the effect and its band (one module per step):

=================  ===========================================================================
``validate``       argument checks, each naming its argument (the seed rule too)
``options``        the options of a fit checked at once; h, b, h_den, b_den resolved once; the
                   windows checked to carry a variance
``inputs``         x, samples / ``data=`` / ``Q=`` → validated arrays, x - cutoff
``quantiles``      samples → unit quantiles Q̂ (n × M); Wasserstein-2, barycenter
``kernels``        kernels and their exact moment constants
``bandwidth``      h and b: the data-driven (I)MSE plug-in (per side for b)
``locpoly``        one-sided local polynomial fits of every quantile, bias-corrected
``frechet``        monotone boundary curves: isotonic projection or rearrangement
``residuals``      leverage-corrected residuals (HC3, HC2, NN, raw)
``influence``      influence terms φ_i(q): sharp, fuzzy (delta method), clustered (CR3)
``dof``            the Bell-McCaffrey degrees of freedom ν of the robust variance
``bootstrap``      multiplier bootstrap: uniform bands (studentized, unweighted), tests
``gini``           Gini coefficients of boundary quantile curves (the centred Gini test)
``summary``        the printable summary of a fit or of a bandwidth selection
``results``        ``R3DResult``, ``FirstStage``, ``Diagnostics``
``estimator``      ``r3d()`` as the list of its steps, and ``select_bandwidth()``
``plotting``       the figures (matplotlib)
=================  ===========================================================================

inputs → unit quantiles → h and b → bias-corrected fits → monotone curves → influence terms →
bootstrap: ``r3d`` calls them in this order (:mod:`r3d_teach.core.estimator`).  Around the core,
outside this package: the practice tools (:mod:`r3d_teach.validity`), the data and large-file
routes (:mod:`r3d_teach.datasets`, :mod:`r3d_teach.outofcore`, :mod:`r3d_teach.cli`), and the
simulations and teaching widgets (:mod:`r3d_teach.simulate`, :mod:`r3d_teach.widgets`).

>>> import numpy as np
>>> from r3d_teach.core.estimator import r3d
>>> from r3d_teach.core.options import check_options
>>> check_options(method="simple", p=3).s                  # the bandwidth's order s = p - 1
2
>>> x = np.linspace(-1, 1, 200)
>>> Q = np.column_stack([x, x + 1]) + (x >= 0)[:, None]    # each unit's quartiles, shifted at 0
>>> res = r3d(x, Q=Q, quantiles=[0.25, 0.75], h=0.5)
>>> res.tau.round(10).tolist()                             # jumps of 1 at both levels
[1.0, 1.0]
"""
