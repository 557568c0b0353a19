"""The package's layout: every module imports in a fresh interpreter, the estimator's core imports
nothing from the rest of the package, the import graph has no cycle, imports hidden inside
functions are only those of optional or heavy dependencies, and the out-of-core engines follow
the quantile rule of the core."""
import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import r3d_teach

ROOT = Path(r3d_teach.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages(r3d_teach.__path__, "r3d_teach."))
#: third-party modules that may be imported inside a function (optional extras or heavy)
LAZY_OK = {"matplotlib", "tqdm", "duckdb", "dask", "distributed", "pyarrow", "rddensity", "lpdensity",
           "rdrobust", "rdlocrand", "pooch", "requests", "pyreadr", "ipumspy"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, tuple[Path, ast.Module]]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        out[_module_name(path)] = (path, ast.parse(path.read_text(encoding="utf-8")))
    return out


SOURCES = _sources()


def _is_package(name: str) -> bool:
    return SOURCES[name][0].name == "__init__.py"


def _imports(name: str, tree: ast.Module):
    """(node, target module names inside r3d_teach, absolute names outside) of every import."""
    pkg = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node, [a.name] if a.name.startswith("r3d_teach") else [], [a.name]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                parts = pkg.split(".")
                base = ".".join(parts[:len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
            if not base.startswith("r3d_teach"):
                yield node, [], [base]
                continue
            targets = []
            for a in node.names:  # `from . import x`: x may be a submodule
                sub = f"{base}.{a.name}"
                targets.append(sub if sub in SOURCES else base)
            yield node, targets, []


def _graph() -> dict[str, set[str]]:
    return {name: {t for _, ts, _ in _imports(name, tree) for t in ts if t != name}
            for name, (_, tree) in SOURCES.items()}


def test_every_module_is_found_and_imports_in_a_fresh_interpreter():
    assert set(MODULES) | {"r3d_teach"} == set(SOURCES)
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    out = subprocess.run([sys.executable, "-c", code, *MODULES], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_import_r3d_teach_loads_no_plotting_library_and_the_aliases_resolve():
    code = ("import sys, r3d_teach\n"
            "heavy = [m for m in ('matplotlib', 'tqdm', 'duckdb', 'dask', 'joblib') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "for short, full in (('plotting', 'core.plotting'), ('montecarlo', 'simulate.montecarlo'),\n"
            "                    ('baselines', 'simulate.baselines')):\n"
            "    assert getattr(r3d_teach, short) is sys.modules['r3d_teach.' + full], short\n"
            "assert r3d_teach.simulate.montecarlo is sys.modules['r3d_teach.simulate.montecarlo']\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    for old in ("inference", "estimator", "bandwidth"):  # the old module names are gone
        assert not hasattr(r3d_teach, old)


def test_the_core_imports_nothing_outside_the_core():
    core = [n for n in SOURCES if n == "r3d_teach.core" or n.startswith("r3d_teach.core.")]
    assert len(core) >= 17
    bad = []
    for name in core:
        for node, targets, _ in _imports(name, SOURCES[name][1]):
            for t in targets:
                if not (t == "r3d_teach.core" or t.startswith("r3d_teach.core.")):
                    bad.append(f"{name}:{node.lineno} imports {t}")
    assert not bad, bad


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    # the graph is not empty: the estimator reaches the kernels through the fits
    assert "r3d_teach.core.locpoly" in graph["r3d_teach.core.estimator"]


def test_imports_inside_functions_are_only_optional_or_heavy_dependencies():
    bad = []
    for name, (_, tree) in SOURCES.items():
        for fun in ast.walk(tree):
            if not isinstance(fun, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fun):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                            else ["." * node.level + (node.module or "")])
                    for m in mods:
                        if m.split(".")[0] not in LAZY_OK:
                            bad.append(f"{name}:{node.lineno} imports {m} inside {fun.name}()")
    assert not bad, bad


def test_out_of_core_weighted_quantiles_follow_the_core_rule_inside_its_fuzz():
    """A cumulative weight 5e-11 below a level: the in-memory rule (type-7 analogue, fuzz 1e-10)
    takes the first value there, so Q(0.1) = 0.9 * 1 + 0.1 * 2 = 1.1 (a pure order statistic, 2,
    would be the next one)."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("duckdb")
    from r3d_teach import unit_quantiles
    from r3d_teach.outofcore import unit_quantiles_duckdb, unit_quantiles_frame

    w = np.array([1 - 5e-11, 1 + 5e-11])
    df = pd.DataFrame({"u": [1, 1], "y": [1.0, 2.0], "w": w})
    expected = [[1.1, 1.5]]  # o = 1 + q: lo = 1, frac = q; v(1) = 1 (c_1 within the fuzz of 1), v(2) = 2
    np.testing.assert_allclose(unit_quantiles([np.array([1.0, 2.0])], [0.1, 0.5], weights=[w]), expected,
                               rtol=0, atol=1e-12)
    for engine in (unit_quantiles_duckdb, unit_quantiles_frame):
        np.testing.assert_allclose(engine(df, "y", "u", [0.1, 0.5], weights="w").Q, expected, rtol=0, atol=1e-12)


def test_python_m_r3d_teach_runs_the_command():
    out = subprocess.run([sys.executable, "-m", "r3d_teach", "--version"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"r3d (r3d-teach) {r3d_teach.__version__}"
