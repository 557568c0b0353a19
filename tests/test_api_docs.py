"""The API reference (`book/api.md`, `book/api/*.md`) documents every public name.

The pages are generated from the docstrings at build time by `book/_ext/apidocs.py`. The built-site
tests read `_build/html`: every name in the `__all__` of every documented module has an entry (an
element with the id `module.name`, or, for a class or function re-exported from another documented
module, the id under that module), and the `r3d` command's help is printed. Without `_build/html`
they are skipped, except under CI (CI=true), where that is a failure. The tests of the docstring
adapter run without a build.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import types
from pathlib import Path

import pytest
import yaml

import r3d_teach

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "_build" / "html"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

#: the modules the reference must cover (the top-level API, the core, the practice tools, the data
#: routes, the command and the simulations)
REQUIRED = {
    "r3d_teach",
    *(f"r3d_teach.core.{m}" for m in ("kernels", "locpoly", "quantiles", "frechet", "bandwidth", "influence",
                                      "residuals", "bootstrap", "gini", "options", "results", "summary",
                                      "estimator", "plotting", "inputs")),
    "r3d_teach.validity", "r3d_teach.locrand", "r3d_teach.rdplot", "r3d_teach.report", "r3d_teach.power",
    "r3d_teach.outofcore", "r3d_teach.datasets", "r3d_teach.cli",
    "r3d_teach.simulate", "r3d_teach.simulate.baselines", "r3d_teach.simulate.montecarlo",
}


def _extension():
    spec = importlib.util.spec_from_file_location("apidocs", ROOT / "book" / "_ext" / "apidocs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _public(modname: str) -> list[str]:
    mod = importlib.import_module(modname)
    return [n for n in mod.__all__ if not isinstance(getattr(mod, n), types.ModuleType)]


def _api_pages() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = []

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            for key in ("chapters", "sections", "parts"):
                walk(e.get(key))

    walk(toc.get("parts"))
    return [HTML_DIR / f"{f}.html" for f in files if f == "book/api" or f.startswith("book/api/")]


@pytest.fixture(scope="module")
def built_ids() -> dict[str, str]:
    """{id of a documented object: page} over the built API pages."""
    pages = _api_pages()
    if not all(p.is_file() for p in pages):
        if IN_CI:
            pytest.fail(f"the API pages are not built under {HTML_DIR}: build the book first")
        pytest.skip(f"{HTML_DIR} has no API pages (build the book: bash scripts/install_and_build.sh)")
    ids = {}
    for page in pages:
        for m in re.finditer(r'<dt class="sig sig-object py" id="([^"]+)"', page.read_text(encoding="utf-8")):
            ids[m.group(1)] = page.name
    return ids


#: modules with an ``__all__`` that the reference leaves out, and why
NOT_DOCUMENTED = {
    "r3d_teach.widgets.": "the update functions behind the book's sliders, not part of the API",
    "r3d_teach.datasets.": "their public names are those of the package r3d_teach.datasets",
}


def test_every_public_module_is_documented():
    """A module with an ``__all__`` is on the pages, or its package re-exports all of it, or it is
    in NOT_DOCUMENTED (a new module of the core, say, must be added to the pages)."""
    documented = set(_extension().API_MODULES)
    missing = []
    for info in pkgutil.walk_packages(r3d_teach.__path__, "r3d_teach."):
        name = info.name
        mod = importlib.import_module(name)
        if not hasattr(mod, "__all__") or name in documented or name.rsplit(".", 1)[-1].startswith("_"):
            continue
        if any(name.startswith(prefix) for prefix in NOT_DOCUMENTED):
            continue
        package = importlib.import_module(name.rsplit(".", 1)[0])
        if package.__name__ in documented and set(mod.__all__) <= set(getattr(package, "__all__", [])):
            continue
        missing.append(name)
    assert not missing, (f"modules with an __all__ that the API pages do not document: {missing} (add them to "
                         "API_MODULES in book/_ext/apidocs.py and an api-module section to their page)")


def test_every_required_module_is_documented():
    ext = _extension()
    assert REQUIRED <= set(ext.API_MODULES), sorted(REQUIRED - set(ext.API_MODULES))
    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "book" / "api").glob("*.md"))
    for modname in ext.API_MODULES:
        assert f".. api-module:: {modname}\n" in sources, f"{modname} has no api-module entry on the pages"


@pytest.mark.parametrize("modname", sorted(REQUIRED))
def test_every_public_name_has_an_entry(modname, built_ids):
    documented = [m for m in _extension().API_MODULES]
    missing = []
    for name in _public(modname):
        if f"{modname}.{name}" in built_ids:
            continue
        obj = getattr(importlib.import_module(modname), name)
        elsewhere = [m for m in documented if f"{m}.{name}" in built_ids
                     and getattr(importlib.import_module(m), name, None) is obj
                     and (inspect.isclass(obj) or inspect.isfunction(obj))]
        if not elsewhere:
            missing.append(name)
    assert not missing, f"{modname}: no entry on the API pages for {missing}"


def test_the_command_help_is_printed(built_ids):
    text = (HTML_DIR / "book" / "api" / "data.html").read_text(encoding="utf-8")
    for usage in ("usage: r3d [-h]", "usage: r3d fit", "usage: r3d quantiles"):
        assert usage in text, f"the API page lacks the help text starting {usage!r}"
    assert "--boot" in text and "--quantiles" in text


def test_overview_links_every_page(built_ids):
    text = (HTML_DIR / "book" / "api.html").read_text(encoding="utf-8")
    for page in ("estimator", "core", "practice", "data", "simulate"):
        assert f'href="api/{page}.html' in text, f"the overview does not link api/{page}"


# ------------------------------------------------------------------------------------------------
# the docstring adapter (no build needed)


def test_parameters_lose_their_pseudo_type():
    ext = _extension()
    lines = ["Fit it.", "", "Parameters", "----------", "x, y : the data (one row", "    per unit).",
             "seed : None or int.", "", "Returns", "-------", "DataFrame, one row per cutoff: ``a, b,",
             "c``.", ""]
    ext.numpy_sections(None, "function", "f", None, {}, lines)
    assert lines[lines.index("x, y") + 1] == "    the data (one row"
    assert lines[lines.index("seed") + 1] == "    None or int."
    # the prose of Returns is one field, its literal kept whole; the section is closed before it
    i = next(k for k, line in enumerate(lines) if line.startswith(":returns:"))
    assert lines[i] == ":returns: DataFrame, one row per cutoff: ``a, b," and lines[i + 1] == "    c``."
    assert lines[i - 1] == lines[i - 2] == ""


def test_formulas_are_not_markup():
    ext = _extension()
    out = ext.plain_text_markup(["the sup max_q |G_d(q)|/se(q), ``|x|`` kept, :math:`|x|` kept;",
                                 "V_ and B_+ are subscripts.", "", ">>> abs(-1) | 0", "1"])
    assert out[0] == "the sup max_q \\|G_d(q)\\|/se(q), ``|x|`` kept, :math:`|x|` kept;"
    assert out[1] == "V\\_ and B\\_+ are subscripts."
    assert out[3:] == [">>> abs(-1) | 0", "1"]  # doctests untouched


def test_an_indented_formula_becomes_a_literal_block():
    ext = _extension()
    out = ext.plain_text_markup(["The bandwidth is", "", "    h = [V / B]^{1/5} |x|,", "", "with B_+ > 0."])
    assert out[0] == "The bandwidth is ::"
    assert out[2] == "    h = [V / B]^{1/5} |x|,"  # inside the literal block: nothing escaped
    assert out[4] == "with B\\_+ > 0."


def test_the_help_fits_the_page_and_stays_a_valid_command():
    ext = _extension()
    text = ("examples:\n  r3d fit data.csv --x score --y wage --unit firm --weights w --out results/  # a note\n\n"
            "DATA is a file " + "with many words " * 8)
    out = ext.fit_width(text, 60)
    assert max(len(line) for line in out.splitlines()) <= 60
    lines = out.splitlines()
    assert lines[1] == "  # a note"  # the comment on its own line, above the command
    assert lines[2].endswith(" \\") and lines[3].lstrip().startswith("--")  # broken before an option
    # joined as a shell joins continued lines, the command is the original one
    joined = " ".join(part.rstrip(" \\").strip() for part in lines[2:4])
    assert joined == "r3d fit data.csv --x score --y wage --unit firm --weights w --out results/"
