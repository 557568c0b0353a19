"""Every docstring example of the core modules runs and prints what it says."""
import doctest
import importlib

import pytest

MODULES = ["r3d_teach.kernels", "r3d_teach.quantiles", "r3d_teach.locpoly", "r3d_teach.frechet",
           "r3d_teach.bandwidth", "r3d_teach.inference", "r3d_teach.estimator", "r3d_teach.plotting"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
