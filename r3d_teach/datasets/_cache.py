"""Processed tables in the data cache, keyed on their inputs and on the code that built them.

Every processed table ``NAME.csv.gz`` has a record ``NAME.csv.gz.json`` beside it holding

* ``kind`` and ``params`` — what was built and with which options;
* ``inputs`` — ``{file name: sha256}`` of every file it was built from;
* ``code`` — :func:`code_version`, i.e. ``r3d_teach.__version__`` plus :data:`PROCESSING_VERSION`
  (raised whenever a change in the loaders or the builder changes the tables they produce);
* ``sha256`` — the hash of the table file itself;
* ``key`` — the sha256 of all of the above, the table's identity.

:func:`read_table` returns the table only when the record exists, the key recomputed from the
*current* inputs, options and code equals the stored one, and the table's own hash matches;
otherwise it warns (:class:`StaleCacheWarning`, saying why) and returns ``None`` so that the
caller rebuilds.  A stale table is therefore never reused silently.

>>> import tempfile, pathlib, pandas as pd
>>> p = pathlib.Path(tempfile.mkdtemp()) / "demo.csv.gz"
>>> write_table(pd.DataFrame({"a": [1, 2]}), p, kind="demo", params={"x": 1}, inputs={"raw.dat": "ab"})
>>> read_table(p, kind="demo", params={"x": 1}, inputs={"raw.dat": "ab"})["a"].tolist()
[1, 2]
>>> import warnings
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     stale = read_table(p, kind="demo", params={"x": 1}, inputs={"raw.dat": "cd"})
>>> stale is None, "raw.dat changed" in str(w[0].message)
(True, True)
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import pandas as pd

from .. import __version__
from ._fetch import sha256

__all__ = [
    "PROCESSING_VERSION", "StaleCacheWarning", "code_version", "read_record", "read_table",
    "table_status", "write_table",
]

#: Version of the processing code (loaders, tidy step, builder).  Raise it whenever a change
#: alters the processed tables, so that tables built by older code are rebuilt.
PROCESSING_VERSION = 2


class StaleCacheWarning(UserWarning):
    """A processed table in the cache no longer matches its inputs or the code; it is rebuilt."""


def code_version() -> str:
    """``"<r3d_teach.__version__>+processing<PROCESSING_VERSION>"``."""
    return f"{__version__}+processing{PROCESSING_VERSION}"


def record_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p.with_name(p.name + ".json")


def _key(kind: str, params: dict, inputs: dict, code: str) -> str:
    blob = json.dumps({"kind": kind, "params": params, "inputs": inputs, "code": code},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], *, kind: str, params: dict, inputs: dict) -> None:
    """Write ``df`` (CSV, gzip) and its record atomically (temporary files, then rename)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    df.to_csv(tmp, index=False, compression="gzip")
    code = code_version()
    rec = {
        "kind": kind,
        "params": params,
        "inputs": inputs,
        "code": code,
        "key": _key(kind, params, inputs, code),
        "sha256": sha256(tmp),
        "rows": int(len(df)),
    }
    rtmp = record_path(tmp)
    rtmp.write_text(json.dumps(rec, indent=1, sort_keys=True, default=str))
    os.replace(tmp, p)
    os.replace(rtmp, record_path(p))


def read_record(path: str | os.PathLike[str]) -> dict | None:
    """The record of a processed table, or ``None`` if it has none (or it is unreadable)."""
    rp = record_path(path)
    if not rp.exists():
        return None
    try:
        rec = json.loads(rp.read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def _why_stale(rec: dict, kind: str, params: dict, inputs: dict | None, code: str) -> str | None:
    if rec.get("kind") != kind:
        return f"it holds {rec.get('kind')!r}, not {kind!r}"
    if rec.get("code") != code:
        return f"it was built by r3d_teach {rec.get('code')}, this is {code}"
    if json.dumps(rec.get("params"), sort_keys=True, default=str) != json.dumps(params, sort_keys=True, default=str):
        return f"it was built with other options ({rec.get('params')} instead of {params})"
    if inputs is not None:
        old = rec.get("inputs") or {}
        for name in sorted(set(old) | set(inputs)):
            if old.get(name) != inputs.get(name):
                if name not in old:
                    return f"input {name} was not used when it was built"
                if name not in inputs or inputs[name] is None:
                    return f"input {name} is no longer available"
                return f"input {name} changed since it was built"
        used = inputs
    else:
        used = rec.get("inputs") or {}
    if rec.get("key") != _key(kind, params, used, code):
        return "its record does not match its contents"
    return None


def table_status(
    path: str | os.PathLike[str],
    *,
    kind: str,
    params: dict,
    inputs: dict | None,
) -> str | None:
    """``None`` when the processed table at ``path`` is current, else the reason it is not
    (``"missing"``, ``"no record"`` or why it is stale).  Reads only the record and hashes the
    table; see :func:`read_table` for ``inputs``."""
    p = Path(path)
    if not p.exists():
        return "missing"
    rec = read_record(p)
    if rec is None:
        return "no record"
    why = _why_stale(rec, kind, params, inputs, code_version())
    if why is None and sha256(p) != rec.get("sha256"):
        why = "the file differs from its record (edited or truncated)"
    return why


def read_table(
    path: str | os.PathLike[str],
    *,
    kind: str,
    params: dict,
    inputs: dict | None,
    warn: bool = True,
    columns: list | None = None,
) -> pd.DataFrame | None:
    """The processed table at ``path`` if it is current, else ``None`` (with a warning).

    ``inputs`` are the sha256 of the current input files; ``None`` when the inputs are not in
    the cache (then only the options, the code version and the table's own hash are checked).
    ``columns``: the columns the table must have; a table without one of them is stale too.
    A missing table returns ``None`` silently; so does a table without a record (the caller
    decides whether to use it as the user's own file).
    """
    p = Path(path)
    why = table_status(p, kind=kind, params=params, inputs=inputs)
    if why in ("missing", "no record"):
        return None
    if why is None:
        try:
            df = pd.read_csv(p)
        except (OSError, EOFError, ValueError) as err:
            why = f"it cannot be read ({type(err).__name__}: {err})"
        else:
            missing = [c for c in (columns or []) if c not in df.columns]
            if missing:
                why = f"it lacks the column(s) {missing} (columns: {list(df.columns)})"
            else:
                rec = read_record(p) or {}
                df.attrs["cache"] = str(p)
                df.attrs["cache_key"] = rec.get("key")
                return df
    if warn:
        warnings.warn(f"{p} is stale: {why}; it will be rebuilt.", StaleCacheWarning, stacklevel=3)
    return None
