"""The wheel and the sdist: built offline from a copy of the repository, then their files and metadata.

``python -m build --no-isolation`` builds the sdist and then the wheel *from the sdist* (so the
sdist is shown to be complete enough to build the wheel), with the build tools of this
environment: no download. The build runs on a copy of the tree in a temporary folder, because
setuptools writes ``build/`` and ``*.egg-info`` next to the sources; the repository is never
written to. A stand-in ``numpy`` that raises on import is first on the build's path: the version is
read from ``r3d_teach/__init__.py`` without importing the package.

The choices checked here (README, "Install"): the wheel holds the package ``r3d_teach`` only; the
sdist is the library (``r3d_teach``, README, LICENSE, CHANGELOG, pyproject.toml), without the tests,
the book or the benchmarks; no dependency or extra pins an exact version.
"""
from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

pytest.importorskip("build")
from packaging.requirements import Requirement  # noqa: E402  (packaging comes with build)
from packaging.version import Version  # noqa: E402

import r3d_teach  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PKG = "r3d_teach"
DIST = "r3d_teach"  # the file-name form of the distribution name r3d-teach
# not copied: VCS data, environments, build outputs, caches, vendored JavaScript, screenshots
_SKIP_TOP = {".git", ".venv", "venv", "_build", "build", "dist", "screenshots", ".pytest_cache", ".hypothesis",
             ".jupyter_cache", ".ruff_cache", ".mypy_cache"}
_SKIP_ANY = {"__pycache__", ".ipynb_checkpoints"}
_SKIP_PATHS = {"book/_vendor", "benchmarks/out"}
# files the sdist holds besides r3d_teach/ and its egg-info (PKG-INFO and setup.cfg by setuptools)
SDIST_TOP_FILES = {"PKG-INFO", "setup.cfg", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md",
                   "MANIFEST.in"}
CLASSIFIERS = {
    "Intended Audience :: Science/Research",
    "Intended Audience :: Education",
    "Topic :: Scientific/Engineering :: Mathematics",
    "Operating System :: OS Independent",
    "Framework :: Jupyter",
    *(f"Programming Language :: Python :: 3.{m}" for m in (10, 11, 12, 13)),
}
EXTRAS = {"data", "large", "validity", "book", "test"}


def _ignore(folder, names):
    rel = Path(folder).resolve().relative_to(ROOT)
    top = rel == Path(".")
    return {n for n in names
            if n in _SKIP_ANY or n.endswith((".egg-info", ".pyc")) or (rel / n).as_posix() in _SKIP_PATHS
            or (top and n in _SKIP_TOP)}


def _package_files() -> set[str]:
    """Every file of the package in the source tree (what the wheel must hold), as posix paths."""
    out = set()
    for p in (ROOT / PKG).rglob("*"):
        rel = p.relative_to(ROOT)
        if p.is_file() and "__pycache__" not in rel.parts and p.suffix != ".pyc":
            out.add(rel.as_posix())
    return out


def _metadata(text: str):
    return Parser().parsestr(text)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the sdist, then the wheel from it, offline; returns (wheel path, sdist path)."""
    tmp = tmp_path_factory.mktemp("packaging")
    src, out, fake = tmp / "src", tmp / "dist", tmp / "no_numpy"
    shutil.copytree(ROOT, src, ignore=_ignore)
    fake.mkdir()
    (fake / "numpy.py").write_text('raise ImportError("the build imported numpy (and so r3d_teach)")\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PYTHONPATH"] = str(fake)
    env["PIP_NO_INDEX"] = "1"  # belt and braces: nothing may be fetched
    before = {n for n in ("build", "dist", "r3d_teach.egg-info", "r3d-teach.egg-info") if (ROOT / n).exists()}
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    after = {n for n in ("build", "dist", "r3d_teach.egg-info", "r3d-teach.egg-info") if (ROOT / n).exists()}
    assert after <= before, f"the build wrote into the repository: {sorted(after - before)}"
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return wheels[0], sdists[0]


def test_file_names_carry_the_package_version(built):
    wheel, sdist = built
    v = str(Version(r3d_teach.__version__))
    assert wheel.name == f"{DIST}-{v}-py3-none-any.whl"
    assert sdist.name == f"{DIST}-{v}.tar.gz"


def test_wheel_holds_the_package_only(built):
    wheel, _ = built
    v = str(Version(r3d_teach.__version__))
    info = f"{DIST}-{v}.dist-info/"
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if not n.endswith("/")]
    stray = [n for n in names if not (n.startswith(f"{PKG}/") or n.startswith(info))]
    assert not stray, f"files outside {PKG}/ and {info}: {stray}"
    for folder in ("tests/", "book/", "benchmarks/", "scripts/"):
        assert not any(n.startswith(folder) or f"/{folder}" in n for n in names), folder
    in_wheel = {n for n in names if n.startswith(f"{PKG}/")}
    source = _package_files()
    assert f"{PKG}/__init__.py" in source
    assert source - in_wheel == set(), f"package files missing from the wheel: {sorted(source - in_wheel)}"
    assert in_wheel - source == set(), f"wheel files not in the source tree: {sorted(in_wheel - source)}"
    # every subpackage of the source tree (a folder with an __init__.py) is there
    subpackages = {str(Path(f).parent) for f in source if f.endswith("/__init__.py")}
    assert {"r3d_teach/datasets", "r3d_teach/simulate", "r3d_teach/widgets"} <= subpackages
    assert {f"{s}/__init__.py" for s in subpackages} <= in_wheel


def test_wheel_metadata(built):
    wheel, _ = built
    v = str(Version(r3d_teach.__version__))
    info = f"{DIST}-{v}.dist-info"
    with zipfile.ZipFile(wheel) as z:
        meta = _metadata(z.read(f"{info}/METADATA").decode())
        license_text = z.read(f"{info}/licenses/LICENSE").decode()
        entry_points = z.read(f"{info}/entry_points.txt").decode()
        names = set(z.namelist())
    assert meta["Name"] == "r3d-teach"
    assert meta["Version"] == v == r3d_teach.__version__
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert license_text == (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "The r3d-teach authors" in license_text
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Author"] == "The r3d-teach authors"
    classifiers = set(meta.get_all("Classifier"))
    assert CLASSIFIERS <= classifiers, sorted(CLASSIFIERS - classifiers)
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert not any(c.startswith("License ::") for c in classifiers), "use License-Expression, not a classifier"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert set(urls) == {"Repository", "Documentation", "Changelog", "Issues"}
    assert all(u.startswith("https://") for u in urls.values())
    # the repository named for the book's source and launch buttons is the one in the metadata
    config = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M)
    assert config is not None and urls["Repository"] == config.group(1)
    assert urls["Changelog"].startswith(urls["Repository"]) and urls["Changelog"].endswith("CHANGELOG.md")
    assert meta["Keywords"]
    assert set(meta.get_all("Provides-Extra")) >= EXTRAS
    ep = configparser.ConfigParser()
    ep.read_string(entry_points)
    assert dict(ep["console_scripts"]) == {"r3d": "r3d_teach.cli:main"}
    module = "r3d_teach.cli".replace(".", "/")  # the script's module is in the wheel
    assert f"{module}.py" in names or f"{module}/__init__.py" in names


def test_no_requirement_pins_an_exact_version(built):
    """Core dependencies and every extra: lower bounds, never ``==`` or ``===`` (requirements.txt
    holds the exact pins that build the book)."""
    wheel, _ = built
    v = str(Version(r3d_teach.__version__))
    with zipfile.ZipFile(wheel) as z:
        meta = _metadata(z.read(f"{DIST}-{v}.dist-info/METADATA").decode())
    reqs = [Requirement(line) for line in meta.get_all("Requires-Dist")]
    core = [r for r in reqs if r.marker is None]
    assert {r.name for r in core} >= {"numpy", "scipy", "pandas", "matplotlib"}
    for extra in EXTRAS:  # every extra lists something
        assert any(r.marker is not None and r.marker.evaluate({"extra": extra}) for r in reqs), extra
    for r in reqs:
        ops = {s.operator for s in r.specifier}
        assert not ops & {"==", "==="}, f"exact pin: {r}"
        assert ">=" in ops, f"no lower bound: {r}"


def test_sdist_is_the_library_without_tests_or_book(built):
    _, sdist = built
    v = str(Version(r3d_teach.__version__))
    top = f"{DIST}-{v}/"
    with tarfile.open(sdist) as t:
        members = [m for m in t.getmembers() if m.isfile()]
        names = [m.name for m in members]
        pkg_info = _metadata(t.extractfile(f"{top}PKG-INFO").read().decode())
        license_text = t.extractfile(f"{top}LICENSE").read().decode()
    assert all(n.startswith(top) for n in names)
    rel = {n[len(top):] for n in names}
    for folder in ("tests/", "book/", "benchmarks/", "scripts/", ".github/", ".ci/"):
        assert not any(r.startswith(folder) for r in rel), f"the sdist ships {folder}"
    assert not any(r.endswith((".pyc", ".ipynb")) for r in rel)
    other = {r for r in rel if not r.startswith((f"{PKG}/", f"{PKG}.egg-info/"))}
    assert other <= SDIST_TOP_FILES, f"unexpected files in the sdist: {sorted(other - SDIST_TOP_FILES)}"
    assert {"PKG-INFO", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md"} <= other
    source = _package_files()
    assert source <= rel, f"package files missing from the sdist: {sorted(source - rel)}"
    assert license_text == (ROOT / "LICENSE").read_text()
    assert pkg_info["Name"] == "r3d-teach" and pkg_info["Version"] == v
    assert pkg_info["License-Expression"] == "MIT"
