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
``--version``): the command then runs on a core install; DuckDB, Dask and pyarrow come with
``pip install "r3d-teach[large]"`` (without them, ``--engine pandas`` reads CSV files in memory).

>>> parser = build_parser()
>>> args = parser.parse_args(["fit", "data.csv", "--x", "score", "--y", "wage", "--unit", "firm",
...                           "--out", "res", "--quantiles", "0.25,0.5,0.75", "--boot", "0"])
>>> args.quantiles, args.boot, args.method
([0.25, 0.5, 0.75], 0, 'frechet')
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import sys
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
the order of their labels. Outputs: DIR/effect.csv (q, tau, se, bands), DIR/result.json
(every setting, h, b, units, tests, version) and DIR/effect.png."""

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
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("give comma-separated levels, e.g. 0.1,0.5,0.9")
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


def _tests(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    allowed = ("nullity", "homogeneity", "gini")
    for t in names:
        if t not in allowed:
            raise argparse.ArgumentTypeError(f"unknown test {t!r}; choose from {', '.join(allowed)}")
    return names


# ------------------------------------------------------------------------------------ parser

def _version() -> str:
    return __version__


def build_parser() -> argparse.ArgumentParser:
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


def _read_frame(path: str):
    """pandas engine: read the needed columns of a CSV / Parquet file or folder into memory."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"data: no such file or folder: {path!r}")
    low = p.name.lower()
    try:
        if p.is_dir() or low.endswith((".parquet", ".pq", ".parq")):
            df = pd.read_parquet(p)
        elif low.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")):
            df = pd.read_csv(p, sep="\t" if ".tsv" in low else ",")
        else:
            raise ValueError(f"data: unknown file type {p.name!r}; give a .csv or .parquet file or a folder")
    except (OSError, ValueError, ImportError) as exc:
        if str(exc).startswith("data:"):
            raise
        raise ValueError(f"data: cannot read {path!r}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    return df


def _compute_quantiles(args, q: np.ndarray, method: str, unit_columns: list[str]):
    engine = _engine(args)
    progress = _want_progress(args)
    kw = dict(weights=args.weights, x=args.x, unit_columns=unit_columns, method=method)
    if engine == "duckdb":
        return oc.unit_quantiles_duckdb(args.data, args.y, args.unit, q, memory_limit=args.memory_limit,
                                        threads=args.threads, temp_directory=args.temp_dir,
                                        progress=progress, **kw)
    if engine == "pandas":
        return oc.unit_quantiles_frame(_read_frame(args.data), args.y, args.unit, q, **kw)
    # dask
    dd = oc._require("dask.dataframe")
    distributed = oc._require("distributed")
    p = Path(args.data)
    if not p.exists():
        raise FileNotFoundError(f"data: no such file or folder: {args.data!r}")
    low = p.name.lower()
    if p.is_dir() or low.endswith((".parquet", ".pq", ".parq")):
        ddf = dd.read_parquet(str(p))
    elif low.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        ddf = dd.read_csv(str(p), blocksize="64MB" if not low.endswith(".gz") else None)
    else:
        raise ValueError(f"data: unknown file type {p.name!r}; give a .csv or .parquet file or a folder")
    if args.scheduler:
        client = distributed.Client(args.scheduler)
        cluster = None
    else:
        cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
    try:
        return oc.unit_quantiles_dask(ddf, args.y, args.unit, q, **kw)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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
    q = np.asarray(args.quantiles, dtype=float) if args.quantiles else _default_grid()
    method = args.quantile_method or "linear"
    out = Path(args.out)
    if not out.name.lower().endswith(".parquet"):
        raise CLIError(f"--out: the unit-quantile file must end in .parquet, got {args.out!r}")
    unit_columns = list(dict.fromkeys(c for c in (args.treatment, args.cluster) if c))
    t0 = time.perf_counter()
    res = _compute_quantiles(args, q, method, unit_columns)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    settings = {"source": os.fspath(args.data), "y": args.y, "weights": args.weights,
                "treatment": args.treatment, "cluster": args.cluster, "engine": res.info.get("engine")}
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
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out: {args.out!r} exists and is not a folder")
    # the estimator's options, checked before any data are read
    check_options(method=args.method, p=args.p, kernel=args.kernel, alpha=args.alpha, n_boot=args.boot,
                  band=args.band, tests=("nullity", "homogeneity") if args.tests is None else tuple(args.tests),
                  quantile_method=args.quantile_method or "linear", fuzzy=bool(args.treatment))
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
                  n_boot=args.boot, alpha=args.alpha, band=args.band, seed=seed, quantile_method=method)
    if args.tests is not None:
        kwargs["tests"] = tuple(args.tests)
    if args.treatment:
        kwargs["treatment"] = np.asarray(extra[args.treatment])
    if args.cluster:
        kwargs["cluster"] = np.asarray(extra[args.cluster])
    res = r3d(np.asarray(x, dtype=float), Q=res_q.Q, quantiles=q, progress=_want_progress(args), **kwargs)
    t_fit = time.perf_counter() - t0 - t_quant

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
                     "seed": seed,
                     "seed_given": args.seed is not None, "tests": list(kwargs.get("tests", ("nullity", "homogeneity"))),
                     "quantiles": q.tolist(), "quantile_method": method, "engine": info.get("engine"),
                     "memory_limit": args.memory_limit if info.get("engine") == "duckdb" else None},
        "unit_order": "sorted by unit label",
        "h": res.h, "b": getattr(res, "b", None),
        "n_units": res.n_units, "n_left": res.n_left, "n_right": res.n_right,
        "n_clusters": getattr(res, "n_clusters", None), "n_obs": int(res_q.sizes.sum()),
        "crit_value": res.crit_value, "tests": tests, "first_stage": first_stage,
        "unit_quantiles": {k: v for k, v in info.items() if k != "engine"},
        "seconds": {"unit_quantiles": round(t_quant, 3), "fit": round(t_fit, 3)},
    }
    (out / "result.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")

    import matplotlib  # heavy: loaded only to draw the figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = res.plot()
    fig.tight_layout()
    fig.savefig(out / "effect.png", dpi=120)
    plt.close(fig)
    print(res.summary(), flush=True)
    _say(f"r3d fit: wrote {out / 'effect.csv'}, {out / 'result.json'}, {out / 'effect.png'} "
         f"({time.perf_counter() - t0:.1f} s; seed {seed})")
    return 0


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
        _say(f"r3d {args.command}: error: {exc}")
    except FileNotFoundError as exc:
        msg = str(exc) if str(exc).startswith("data:") else f"data: {exc}"
        _say(f"r3d {args.command}: error: {_flagify(msg, columns)}")
    except (ValueError, TypeError, ImportError, OSError) as exc:
        _say(f"r3d {args.command}: error: {_flagify(str(exc), columns)}")
    except BrokenPipeError:  # e.g. `r3d fit ... | head`: the outputs are written already
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        _say(f"r3d {args.command}: interrupted")
        return 130
    finally:
        warnings.showwarning = saved
    return 1


if __name__ == "__main__":  # python -m r3d_teach.cli
    sys.exit(main())
