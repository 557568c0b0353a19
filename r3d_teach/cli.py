"""The ``r3d`` command: R3D on a CSV or Parquet file of any size.

Two subcommands:

* ``r3d fit DATA --x COL --y COL --unit COL --out DIR [options]`` reads long microdata (one row
  per observation: the unit's identifier, its running variable, the outcome, optional weight,
  treatment and cluster columns), computes the unit quantiles out of core (DuckDB), fits
  ``r3d(x, Q=Q, quantiles=q, ...)`` and writes ``DIR/effect.csv``, ``DIR/result.json`` and
  ``DIR/effect.png``.  DATA may also be a unit-quantile file written by ``r3d quantiles``.
* ``r3d quantiles DATA --y COL --unit COL --out FILE.parquet [--x COL] [--weights COL]``: the
  heavy step alone, one row per unit.

Units enter in the order of their labels (as ``r3d(..., data=df.sort_values(unit))`` does), so
the numbers, bootstrap draws included, equal the Python API's with the same settings.

Built on the standard library's ``argparse`` (sub-commands, typed flags, ``--help``,
``--version``): the command then runs on a core install. DuckDB, Dask and pyarrow come with the
``large`` extra (``pip install ".[large]"`` in a clone of r3d-teach, or ``pip install duckdb
"dask[dataframe,distributed]" pyarrow``); without them, ``--engine pandas`` reads CSV files in memory.

>>> parser = build_parser()
>>> args = parser.parse_args(["fit", "data.csv", "--x", "score", "--y", "wage", "--unit", "firm",
...                           "--out", "res", "--quantiles", "0.25,0.5,0.75", "--boot", "0"])
>>> args.quantiles, args.boot, args.method
([0.25, 0.5, 0.75], 0, 'frechet')
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import json
import logging
import math
import os
import re
import secrets
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from . import outofcore as oc
from .core.estimator import r3d
from .core.inputs import DEFAULT_QUANTILES
from .core.options import check_options

__all__ = ["main", "build_parser"]

EXAMPLES_FIT = """examples:
  r3d fit wages.csv --x score --y wage --unit firm --out results/
  r3d fit wages_parquet/ --x score --y wage --unit firm --weights w --cluster state \\
          --quantiles 0.1,0.25,0.5,0.75,0.9 --boot 1999 --seed 1 --out results/
  r3d fit wages.parquet --x score --y wage --unit firm --treatment treated --h 0.4 --out fuzzy/
  r3d quantiles big/ --y wage --unit firm --x score --out firm_quantiles.parquet
  r3d fit firm_quantiles.parquet --out results/     # x, grid and method read from the file

DATA is a CSV file, a Parquet file or a folder of Parquet files, one row per observation
(long format); x, treatment and cluster must be constant within a unit. Units are taken in
the order of their labels. In a CSV file the unit ids are read as written (text unless every
id is a plain integer: "007" and "7" are two units) and only numbers are numbers (yes/no,
true/false, NA are refused, not converted); an empty field is missing. A path that exists is
read as it is, even with *, ? or [ in its name. Outputs: DIR/effect.csv (q, tau, se, bands),
DIR/result.json (every setting, h, b, units, tests, version) and DIR/effect.png."""

EXAMPLES_QUANTILES = """examples:
  r3d quantiles wages.csv --y wage --unit firm --x score --out firm_quantiles.parquet
  r3d quantiles big/ --y wage --unit firm --x score --weights w --memory-limit 2GB \\
          --quantiles 0.1,0.5,0.9 --out q.parquet

The output has one row per unit (the unit label, x and other unit-level columns if given,
n_obs, one column per level); the grid and the settings are stored in its metadata, and
`r3d fit` accepts the file as DATA."""

# r3d's argument names -> the flags that set them (error messages name the flag)
_FLAGS = {"y": "--y", "unit": "--unit", "x": "--x", "weights": "--weights", "treatment": "--treatment",
          "cluster": "--cluster", "cutoff": "--cutoff", "method": "--method", "p": "--p", "h": "--h",
          "b": "--b", "quantiles": "--quantiles", "n_boot": "--boot", "alpha": "--alpha", "seed": "--seed",
          "kernel": "--kernel", "quantile_method": "--quantile-method", "tests": "--tests", "band": "--band",
          "residuals": "--residuals", "use_t": "--normal",
          "memory_limit": "--memory-limit", "min_units": "--min-units", "data": "DATA"}


class CLIError(Exception):
    """An error message for the user (no traceback), exit status 1."""


# ------------------------------------------------------------------------------------ flag types

def _number(kind, check=None, what=""):
    def convert(text):
        try:
            v = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if kind is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
        if check is not None and not check(v):
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
        return v
    convert.__name__ = kind.__name__
    return convert


_positive = _number(float, lambda v: v > 0, "must be > 0")
_probability = _number(float, lambda v: 0 < v < 1, "must be strictly inside (0, 1)")
_nonneg_int = _number(int, lambda v: v >= 0, "must be a non-negative integer")
_pos_int = _number(int, lambda v: v >= 1, "must be a positive integer")


def _grid(text: str) -> list[float]:
    """--quantiles: comma-separated levels strictly inside (0, 1), increasing."""
    parts = _items(text, "level", "0.1,0.5,0.9")
    out = []
    for t in parts:
        try:
            v = float(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{t!r} is not a number") from None
        if not 0 < v < 1:
            raise argparse.ArgumentTypeError(f"every level must be strictly inside (0, 1), got {t}")
        out.append(v)
    if any(b <= a for a, b in zip(out, out[1:])):
        raise argparse.ArgumentTypeError("levels must be strictly increasing")
    return out


def _items(text: str, what: str, example: str) -> list[str]:
    """Comma-separated items; an empty one (``0.1,,0.5``, a trailing comma) is an error, not skipped."""
    parts = [t.strip() for t in text.split(",")]
    if not text.strip():
        raise argparse.ArgumentTypeError(f"give comma-separated {what}s, e.g. {example}")
    if any(not t for t in parts):
        raise argparse.ArgumentTypeError(f"empty {what} in {text!r} (two commas in a row, or a comma at "
                                         f"either end); give e.g. {example}")
    return parts


def _tests(text: str) -> list[str]:
    names = _items(text, "test", "nullity,homogeneity")
    allowed = ("nullity", "homogeneity", "gini")
    for t in names:
        if t not in allowed:
            raise argparse.ArgumentTypeError(f"unknown test {t!r}; choose from {', '.join(allowed)}")
    return names


# ------------------------------------------------------------------------------------ parser

def _version() -> str:
    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``r3d`` command's argument parser, with the sub-commands ``fit`` and ``quantiles``
    (``build_parser().format_help()`` is the text of ``r3d --help``)."""
    parser = argparse.ArgumentParser(
        prog="r3d",
        description="Regression discontinuity with distribution-valued outcomes (R3D, Van Dijcke 2025) "
                    "on long microdata: each unit's sample becomes a quantile function, and the effect "
                    "tau(q) is the jump at the cutoff of the average quantile function.",
        epilog=EXAMPLES_FIT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s (r3d-teach) {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def data_options(p, fit: bool):
        p.add_argument("data", metavar="DATA",
                       help="CSV file, Parquet file or folder of Parquet files (long: one row per "
                            "observation)" + ("; or a unit-quantile file from `r3d quantiles`" if fit else ""))
        p.add_argument("--y", metavar="COL", help="outcome column" + (" (required unless DATA is a "
                                                                        "unit-quantile file)" if fit else ""),
                       required=not fit)
        p.add_argument("--unit", metavar="COL", help="unit identifier column" + (
            " (required unless DATA is a unit-quantile file)" if fit else ""), required=not fit)
        p.add_argument("--x", metavar="COL", help="running-variable column (constant within a unit)"
                       + ("" if fit else "; kept per unit for `r3d fit`"))
        p.add_argument("--weights", metavar="COL", help="observation weights (non-negative) for weighted "
                                                          "unit quantiles")
        p.add_argument("--treatment", metavar="COL", help="unit-level 0/1 treatment: a fuzzy design"
                       + ("" if fit else " (kept per unit)"))
        p.add_argument("--cluster", metavar="COL", help="unit-level cluster labels: clustered bootstrap"
                       + ("" if fit else " (kept per unit)"))
        p.add_argument("--quantiles", metavar="Q1,Q2,...", type=_grid, default=None,
                       help="grid of levels in (0, 1) (default 0.01,0.02,...,0.99)")
        p.add_argument("--quantile-method", choices=("linear", "inverted_cdf"), default=None,
                       help="unit quantile rule: linear (type 7, default) or inverted_cdf")
        g = p.add_argument_group("engine")
        g.add_argument("--engine", choices=("auto", "duckdb", "dask", "pandas"), default="auto",
                       help="how unit quantiles are computed: duckdb (out of core; the default when "
                            "installed), dask (a local cluster or --scheduler), pandas (in memory)")
        g.add_argument("--memory-limit", metavar="SIZE", default="1GB",
                       help="DuckDB's memory limit, beyond which it spills to disk (default 1GB)")
        g.add_argument("--threads", metavar="N", type=_pos_int, default=None,
                       help="DuckDB threads (default: all cores)")
        g.add_argument("--temp-dir", metavar="DIR", default=None,
                       help="where DuckDB spills (default: a private temporary folder)")
        g.add_argument("--workers", metavar="N", type=_pos_int, default=2,
                       help="dask: local worker processes (default 2)")
        g.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="dask: address of a running dask.distributed scheduler instead of a local cluster")
        prog = p.add_mutually_exclusive_group()
        prog.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="show progress bars (default: when stderr is a terminal)")
        prog.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")

    fit = sub.add_parser("fit", help="estimate tau(q) and write effect.csv, result.json, effect.png",
                         description="Estimate the local average quantile treatment effect tau(q) at the "
                                     "cutoff from long microdata.",
                         epilog=EXAMPLES_FIT, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_options(fit, True)
    e = fit.add_argument_group("estimator")
    e.add_argument("--cutoff", type=_number(float), default=0.0, metavar="C", help="cutoff (default 0)")
    e.add_argument("--method", choices=("frechet", "simple"), default="frechet",
                   help="frechet (one bandwidth, isotonic projection; default) or simple")
    e.add_argument("--p", type=_nonneg_int, default=2, metavar="P",
                   help="order of the bias-correcting local polynomial (default 2)")
    e.add_argument("--kernel", choices=("triangular", "epanechnikov", "uniform"), default="triangular")
    e.add_argument("--h", type=_positive, default=None, metavar="H", help="bandwidth (default: data-driven)")
    e.add_argument("--b", type=_positive, default=None, metavar="B",
                   help="bias-correction bandwidth (default: data-driven; b = h when only --h is given)")
    e.add_argument("--boot", type=_nonneg_int, default=999, metavar="N",
                   help="multiplier-bootstrap draws for bands and tests (default 999; 0: none)")
    e.add_argument("--alpha", type=_probability, default=0.05, metavar="A", help="level (default 0.05)")
    e.add_argument("--band", choices=("studentized", "unweighted"), default="studentized",
                   help="uniform band and tests: studentized (tau ± c·se(q); default) or unweighted "
                        "(tau ± c, one width for every q: R3D 0.1.0's)")
    e.add_argument("--residuals", choices=("hc2", "hc3", "nn", "raw"), default=None,
                   help="residuals of the standard errors and the bootstrap (default: hc2 with the studentized "
                        "band, hc3 with the unweighted one)")
    e.add_argument("--normal", action="store_true",
                   help="per-quantile p-values and pointwise intervals from the normal (rdrobust's) instead of "
                        "Student's t with the Bell-McCaffrey degrees of freedom (the default with the studentized "
                        "band)")
    e.add_argument("--seed", type=_nonneg_int, default=None, metavar="S",
                   help="seed of the bootstrap (default: drawn and recorded in result.json)")
    e.add_argument("--tests", type=_tests, default=None, metavar="T1,T2",
                   help="tests: nullity, homogeneity, gini (default nullity,homogeneity)")
    fit.add_argument("--out", metavar="DIR", required=True, help="output folder (created if needed)")
    fit.set_defaults(func=_cmd_fit)

    qs = sub.add_parser("quantiles", help="compute the unit quantile matrix alone (one row per unit)",
                        description="Compute each unit's quantiles on the grid (the heavy step) and write "
                                    "them to a Parquet file that `r3d fit` accepts.",
                        epilog=EXAMPLES_QUANTILES, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_options(qs, False)
    qs.add_argument("--out", metavar="FILE.parquet", required=True, help="output Parquet file")
    qs.set_defaults(func=_cmd_quantiles)
    return parser


# ------------------------------------------------------------------------------------ helpers

def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _want_progress(args) -> bool:
    return bool(sys.stderr.isatty()) if args.progress is None else bool(args.progress)


def _default_grid() -> np.ndarray:
    return np.asarray(DEFAULT_QUANTILES, dtype=float)


def _engine(args) -> str:
    if args.engine != "auto":
        return args.engine
    try:
        import duckdb  # noqa: F401  (optional: is the out-of-core engine installed?)
    except ImportError:
        return "pandas"
    return "duckdb"


def _read_frame(path: str, columns=None, roles=None):
    """pandas engine: read a CSV / Parquet file, a folder of Parquet files or the files matching a
    pattern into memory (CSV text by the reading rule of :mod:`r3d_teach.outofcore`)."""
    p = Path(path)
    if p.exists():
        paths = [p]
    elif any(ch in path for ch in "*?["):
        paths = [Path(f) for f in sorted(glob.glob(path, recursive=True))]
        if not paths:
            raise FileNotFoundError(f"data: no file matches the pattern {path!r}")
    else:
        raise FileNotFoundError(f"data: no such file or folder: {path!r}")
    frames = []
    for f in paths:
        low = f.name.lower()
        try:
            if f.is_dir() or low.endswith((".parquet", ".pq", ".parq")):
                frames.append(pd.read_parquet(f))
            elif low.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")):
                frames.append(oc.read_csv_frame(f, columns or [], roles or {}))
            else:
                raise ValueError(f"data: unknown file type {f.name!r}; give a .csv or .parquet file or a folder")
        except (OSError, ValueError, ImportError) as exc:
            if re.match(r"^[A-Za-z_][A-Za-z0-9_ ]*:", str(exc)):
                raise
            raise ValueError(f"data: cannot read {str(f)!r}: {oc._first_line(exc)}") from None
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _roles(args, unit_columns) -> dict:
    """Column -> (role, argument) for the CSV reading rule."""
    roles = {c: ("unit_level", c) for c in unit_columns}
    for arg in ("x", "weights", "y"):
        col = getattr(args, arg, None)
        if col:
            roles[col] = ("number", arg)
    roles[args.unit] = ("unit", "unit")
    return roles


def _is_csv(path: str) -> bool:
    return Path(path).name.lower().endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt"))


@contextlib.contextmanager
def _quiet_dask():
    """Dask's own log lines (shuffle notices, worker tracebacks of a failed task) stay off the
    terminal: the failure itself reaches the user as one line."""
    loggers = [logging.getLogger(n) for n in ("distributed", "dask")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():  # the engine's own notices (ports, event loop) are not about the data
            warnings.filterwarnings("ignore", module=r"(distributed|dask|tornado)(\.|$)")
            yield
    finally:
        for lg, lev in zip(loggers, saved):
            lg.setLevel(lev)


def _dask_frame(args, columns, roles, tmp: str):
    """The Dask DataFrame of DATA; a path that exists is read literally even when its name holds
    glob characters (through a link with a plain name)."""
    dd = oc._require("dask.dataframe")
    path = args.data
    p = Path(path)
    if p.exists() and any(ch in path for ch in "*?["):
        ext = next((e for e in (".csv.gz", ".tsv.gz", ".csv", ".tsv", ".txt", ".parquet", ".pq", ".parq")
                    if p.is_file() and p.name.lower().endswith(e)), "")
        link = Path(tmp) / ("data" + ext)
        try:
            os.symlink(p.resolve(), link)
        except OSError as exc:
            raise CLIError(f"DATA: the name of {path!r} holds glob characters (*, ? or [) and no link with a "
                           f"plain name could be made ({exc.strerror}); rename it or use --engine duckdb") from None
        p = link
    elif not p.exists() and not any(ch in path for ch in "*?["):
        raise FileNotFoundError(f"data: no such file or folder: {path!r}")
    low = p.name.lower()
    if p.is_dir() or low.endswith((".parquet", ".pq", ".parq")):
        return dd.read_parquet(str(p)), False
    if _is_csv(str(p)):
        return oc.read_csv_dask(str(p), columns, roles), True
    raise ValueError(f"data: unknown file type {p.name!r}; give a .csv or .parquet file or a folder")


def _compute_quantiles(args, q: np.ndarray, method: str, unit_columns: list[str]):
    engine = _engine(args)
    progress = _want_progress(args)
    kw = dict(weights=args.weights, x=args.x, unit_columns=unit_columns, method=method)
    columns = list(dict.fromkeys(c for c in [args.unit, args.y, args.x, args.weights] + unit_columns if c))
    roles = _roles(args, unit_columns)
    if engine == "duckdb":
        return oc.unit_quantiles_duckdb(args.data, args.y, args.unit, q, memory_limit=args.memory_limit,
                                        threads=args.threads, temp_directory=args.temp_dir,
                                        progress=progress, **kw)
    if engine == "pandas":
        return oc.unit_quantiles_frame(_read_frame(args.data, columns, roles), args.y, args.unit, q, **kw)
    # dask
    distributed = oc._require("distributed")
    oc._require("dask.dataframe")
    with tempfile.TemporaryDirectory(prefix="r3d_dask_") as tmp, _quiet_dask():
        ddf, csv = _dask_frame(args, columns, roles, tmp)
        if args.scheduler:
            try:
                client = distributed.Client(args.scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise CLIError(f"--scheduler: cannot connect to {args.scheduler!r} ({oc._first_line(exc)})") from None
            cluster = None
        else:
            cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.CRITICAL)
            client = distributed.Client(cluster)
        try:
            res = oc.unit_quantiles_dask(ddf, args.y, args.unit, q, **kw)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return oc.relabel_csv_result(res, args.unit) if csv else res


def _check_folder(path: Path, flag: str) -> None:
    """``path`` is a folder we can write in, or can be created as one (nothing is created)."""
    target = path
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.exists():
        raise CLIError(f"{flag}: cannot create {str(path)!r}: no part of that path exists")
    if not target.is_dir():
        what = "exists and is not a folder" if target == path else f"cannot be created: {str(target)!r} is a file"
        raise CLIError(f"{flag}: {str(path)!r} {what}")
    try:
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as exc:
        where = "" if target == path else f" (needed to create {str(path)!r})"
        raise CLIError(f"{flag}: cannot write in the folder {str(target)!r}{where}: "
                       f"{exc.strerror or exc}") from None


def _check_before_work(args) -> None:
    """Every flag and the output location checked before any data is read (the fit's options
    first: they need no file)."""
    if args.command == "fit":
        _check_fit_flags(args)
    path = args.data
    if not Path(path).exists() and not (any(ch in path for ch in "*?[") and _glob_matches(path)):
        raise CLIError(f"DATA: no such file or folder: {path!r}")
    if args.command == "fit":
        _check_folder(Path(args.out), "--out")
    else:
        out = Path(args.out)
        if not out.name.lower().endswith(".parquet"):
            raise CLIError(f"--out: the unit-quantile file must end in .parquet, got {args.out!r}")
        if out.is_dir():
            raise CLIError(f"--out: {args.out!r} is a folder; give the name of a .parquet file")
        _check_folder(out.parent if str(out.parent) else Path("."), "--out")
    if args.temp_dir is not None:
        _check_folder(Path(args.temp_dir), "--temp-dir")
    if _engine(args) == "duckdb":
        import duckdb  # optional: the out-of-core engine

        try:
            duckdb.connect(":memory:").execute(f"SET memory_limit = '{args.memory_limit.replace(chr(39), '')}'")
        except duckdb.Error as exc:
            raise CLIError(f"--memory-limit: {args.memory_limit!r} is not a memory size such as 1GB or "
                           f"500MB ({str(exc).splitlines()[0]})") from None


def _glob_matches(pattern: str) -> bool:
    return bool(glob.glob(pattern, recursive=True))


def _check_fit_flags(args) -> None:
    """The estimator's own checks of its settings (the options layer), run on the flags before any
    data is read."""
    check_options(method=args.method, p=args.p, kernel=args.kernel, alpha=args.alpha, n_boot=args.boot,
                  band=args.band, residuals=args.residuals, use_t=False if args.normal else None,
                  tests=("nullity", "homogeneity") if args.tests is None else tuple(args.tests),
                  quantile_method=args.quantile_method or "linear", fuzzy=bool(args.treatment))
    if args.p == 0 and args.b is not None:
        raise CLIError("--b: with --p 0 there is no bias correction (the estimate and its bias correction "
                       "are the same order-0 fit); leave --b unset")


def _flagify(message: str, columns: dict[str, str]) -> str:
    """Turn "alpha: ..." into "--alpha: ..." (and "T: column 'T' ..." into "--treatment: ...")."""
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_ ]*):", message)
    if m:
        head = m.group(1)
        if head in _FLAGS:
            return _FLAGS[head] + message[len(head):]
        if head in columns:
            return columns[head] + message[len(head):]
    return message


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(val) for k, val in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(val) for val in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if v is None or isinstance(v, (str, int, bool)):
        return v
    return str(v)


# ------------------------------------------------------------------------------------ commands

def _cmd_quantiles(args) -> int:
    _check_before_work(args)
    q = np.asarray(args.quantiles, dtype=float) if args.quantiles else _default_grid()
    method = args.quantile_method or "linear"
    out = Path(args.out)
    unit_columns = list(dict.fromkeys(c for c in (args.treatment, args.cluster) if c))
    t0 = time.perf_counter()
    res = _compute_quantiles(args, q, method, unit_columns)
    settings = {"source": os.fspath(args.data), "y": args.y, "weights": args.weights,
                "treatment": args.treatment, "cluster": args.cluster, "engine": res.info.get("engine")}
    with _writing(out):
        if out.parent and not out.parent.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
        oc.write_quantile_file(res, out, unit=args.unit, x=args.x, settings=settings)
    print(f"r3d quantiles: {res.n_units} units x {q.size} levels from {int(res.sizes.sum())} rows "
          f"({res.info.get('engine')}, {time.perf_counter() - t0:.1f} s) -> {out}")
    return 0


def _from_quantile_file(args):
    """DATA is a unit-quantile file: check the flags against what it records."""
    res, meta = oc.read_quantile_file(args.data)
    for flag, given, recorded in (("--y", args.y, meta.get("y")), ("--unit", args.unit, meta.get("unit")),
                                  ("--weights", args.weights, meta.get("weights")),
                                  ("--quantile-method", args.quantile_method, meta.get("quantile_method"))):
        if given is not None and given != recorded:
            raise CLIError(f"{flag}: {args.data} holds unit quantiles computed with {flag} {recorded}; "
                           f"got {given!r} (recompute them with `r3d quantiles`)")
    if args.quantiles is not None:
        q = np.asarray(args.quantiles, dtype=float)
        if q.shape != res.quantiles.shape or not np.allclose(q, res.quantiles, rtol=0, atol=1e-12):
            raise CLIError(f"--quantiles: {args.data} holds unit quantiles on a grid of {res.quantiles.size} "
                           f"levels ({res.quantiles[0]:g} .. {res.quantiles[-1]:g}) that differs from the "
                           "one given; drop --quantiles or recompute with `r3d quantiles --quantiles ...`")
    frame = pd.read_parquet(args.data) if args.x and args.x != meta.get("x") else None
    if args.x is None or args.x == meta.get("x"):
        if res.x is None:
            raise CLIError(f"--x: {args.data} has no running-variable column; give --x COL naming one of "
                           "its columns, or rerun `r3d quantiles` with --x")
        x = res.x
        xname = meta.get("x")
    else:
        if args.x not in frame.columns:
            raise CLIError(f"--x: column {args.x!r} is not in {args.data} (columns: {list(frame.columns)})")
        x = frame[args.x].to_numpy()
        xname = args.x
    extra = {}
    for flag, col in (("--treatment", args.treatment), ("--cluster", args.cluster)):
        if col is None:
            continue
        if col not in res.columns:
            raise CLIError(f"{flag}: column {col!r} is not in {args.data} (unit-level columns: "
                           f"{list(res.columns)}); rerun `r3d quantiles` with {flag} {col}")
        extra[col] = res.columns[col]
    info = {"engine": "unit-quantile file", "file_settings": meta, "rows": int(res.sizes.sum())}
    return res, x, xname, extra, info


def _cmd_fit(args) -> int:
    _check_before_work(args)
    out = Path(args.out)
    t0 = time.perf_counter()
    qfile = False
    try:
        qfile = oc.is_quantile_file(args.data)
    except ImportError:
        qfile = False
    if qfile:
        res_q, x, xname, extra, info = _from_quantile_file(args)
        q, method = res_q.quantiles, res_q.method
    else:
        for flag, val in (("--y", args.y), ("--unit", args.unit), ("--x", args.x)):
            if not val:
                raise CLIError(f"{flag}: required (name the column in {args.data})")
        q = np.asarray(args.quantiles, dtype=float) if args.quantiles else _default_grid()
        method = args.quantile_method or "linear"
        unit_columns = list(dict.fromkeys(c for c in (args.treatment, args.cluster) if c))
        res_q = _compute_quantiles(args, q, method, unit_columns)
        x, xname = res_q.x, args.x
        extra = {c: res_q.columns[c] for c in unit_columns}
        info = dict(res_q.info)
    t_quant = time.perf_counter() - t0
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    kwargs = dict(cutoff=args.cutoff, method=args.method, p=args.p, kernel=args.kernel, h=args.h, b=args.b,
                  n_boot=args.boot, alpha=args.alpha, band=args.band, residuals=args.residuals, seed=seed,
                  quantile_method=method, use_t=False if args.normal else None)
    if args.tests is not None:
        kwargs["tests"] = tuple(args.tests)
    if args.treatment:
        kwargs["treatment"] = np.asarray(extra[args.treatment])
    if args.cluster:
        kwargs["cluster"] = np.asarray(extra[args.cluster])
    Q = pd.DataFrame(res_q.Q, index=pd.Index(res_q.units, name=args.unit))  # messages name the unit label
    res = r3d(np.asarray(x, dtype=float), Q=Q, quantiles=q, progress=_want_progress(args), **kwargs)
    t_fit = time.perf_counter() - t0 - t_quant
    with _writing(out):
        _write_fit(args, out, res, res_q, q, method, seed, kwargs, info, xname, t0, t_quant, t_fit)
    print(res.summary(), flush=True)
    _say(f"r3d fit: wrote {out / 'effect.csv'}, {out / 'result.json'}, {out / 'effect.png'} "
         f"({time.perf_counter() - t0:.1f} s; seed {seed})")
    return 0


@contextlib.contextmanager
def _writing(out: Path):
    """Errors while writing the outputs name --out (not the data)."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or out
        raise CLIError(f"--out: cannot write {str(where)!r}: {exc.strerror or exc}") from None


def _write_fit(args, out, res, res_q, q, method, seed, kwargs, info, xname, t0, t_quant, t_fit) -> None:
    out.mkdir(parents=True, exist_ok=True)
    frame = res.to_frame()
    cols = ["q", "tau", "se", "band_lower", "band_upper", "pointwise_lower", "pointwise_upper"]
    for c in cols:
        if c not in frame.columns:
            frame[c] = np.nan
    rest = [c for c in ("tau_conventional", "plus", "minus") if c in frame.columns]
    frame[cols + rest].to_csv(out / "effect.csv", index=False)

    tests = res.tests.to_dict(orient="records") if len(res.tests) else []
    fs = res.first_stage
    first_stage = None
    if fs is not None:
        first_stage = {k: getattr(fs, k) for k in ("plus", "minus", "jump", "se", "jump_conventional",
                                                   "h_den", "b_den") if hasattr(fs, k)} \
            if not isinstance(fs, dict) else fs
    summary = {
        "r3d_teach_version": __version__,
        "command": "r3d fit",
        "data": os.fspath(args.data),
        "columns": {"x": xname, "y": args.y, "unit": args.unit, "weights": args.weights,
                    "treatment": args.treatment, "cluster": args.cluster},
        "settings": {"cutoff": args.cutoff, "method": args.method, "p": args.p, "kernel": args.kernel,
                     "h": args.h, "b": args.b, "n_boot": args.boot, "alpha": args.alpha, "band": args.band,
                     "residuals": res.residuals, "use_t": bool(getattr(res, "use_t", False)), "seed": seed,
                     "seed_given": args.seed is not None, "tests": list(kwargs.get("tests", ("nullity", "homogeneity"))),
                     "quantiles": q.tolist(), "quantile_method": method, "engine": info.get("engine"),
                     "memory_limit": args.memory_limit if info.get("engine") == "duckdb" else None},
        "unit_order": "sorted by unit label",
        "h": res.h, "b": getattr(res, "b", None),
        "n_units": res.n_units, "n_left": res.n_left, "n_right": res.n_right,
        "n_clusters": getattr(res, "n_clusters", None), "n_obs": int(res_q.sizes.sum()),
        "crit_value": res.crit_value, "dof": getattr(res, "dof", None), "tests": tests, "first_stage": first_stage,
        "unit_quantiles": {k: v for k, v in info.items() if k != "engine"},
        "seconds": {"unit_quantiles": round(t_quant, 3), "fit": round(t_fit, 3)},
    }
    (out / "result.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")

    import matplotlib  # heavy: loaded only to draw the figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = res.plot()
    fig.tight_layout()
    try:
        fig.savefig(out / "effect.png", dpi=120)
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------ entry point

def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``r3d`` console command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    columns = {c: f for f, c in (("--treatment", getattr(args, "treatment", None)),
                                 ("--cluster", getattr(args, "cluster", None)),
                                 ("--weights", getattr(args, "weights", None))) if c}
    def show(message, category, filename, lineno, file=None, line=None):
        _say(f"r3d {args.command}: warning: {_flagify(str(message), columns)}")

    saved, warnings.showwarning = warnings.showwarning, show
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        _say(f"r3d {args.command}: error: {_one_line(exc)}")
    except BrokenPipeError:  # e.g. `r3d fit ... | head`: the outputs are written already
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except FileNotFoundError as exc:
        msg = _one_line(exc)
        msg = msg if msg.startswith("data:") else f"data: {msg}"
        _say(f"r3d {args.command}: error: {_flagify(msg, columns)}")
    except (ValueError, TypeError, ImportError, OSError) as exc:
        _say(f"r3d {args.command}: error: {_flagify(_one_line(exc), columns)}")
    except KeyboardInterrupt:
        _say(f"r3d {args.command}: interrupted")
        return 130
    except Exception as exc:  # an engine's own error (DuckDB, Dask, pyarrow): one line all the same
        if os.environ.get("R3D_DEBUG"):
            raise
        _say(f"r3d {args.command}: error: {type(exc).__name__}: {_one_line(exc)} "
             "(unexpected; run with R3D_DEBUG=1 to see where)")
    finally:
        warnings.showwarning = saved
    return 1


def _one_line(exc) -> str:
    """An error message on one line (engines' messages can span many)."""
    lines = [t.strip() for t in str(exc).strip().splitlines() if t.strip()]
    return lines[0] if lines else type(exc).__name__


if __name__ == "__main__":  # python -m r3d_teach.cli
    sys.exit(main())
