"""Every docstring example of every module of r3d_teach runs and prints what it says.

Modules are discovered with pkgutil.walk_packages, so a new module is included automatically.
A public module must have at least one example; private modules (a name part starting with
"_") may have none, and the few public modules listed in NO_EXAMPLES are exempt (say why).
"""
import doctest
import importlib
import pkgutil

import matplotlib
import pytest

import r3d_teach

matplotlib.use("Agg")

#: public modules without examples, each with its reason (keep this list short)
NO_EXAMPLES: dict[str, str] = {}

MODULES = sorted(m.name for m in pkgutil.walk_packages(r3d_teach.__path__, "r3d_teach."))


def _private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def test_discovery_finds_the_package():
    assert {"r3d_teach.core.estimator", "r3d_teach.simulate", "r3d_teach.simulate.designs",
            "r3d_teach.widgets.simulations", "r3d_teach.simulate.montecarlo"} <= set(MODULES)
    assert set(NO_EXAMPLES) <= set(MODULES), "NO_EXAMPLES names a module that does not exist"


@pytest.mark.parametrize("name", ["r3d_teach"] + MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    examples = sum(len(t.examples) for t in finder.find(module))
    if examples == 0:
        assert _private(name) or name in NO_EXAMPLES, f"{name} has no docstring example"
        return
    res = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0  # (attempted leaves out +SKIP examples)
