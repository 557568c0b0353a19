"""Cache folder, hash checks of cached files, and opt-in downloads under one deadline.

Nothing here touches the network unless a caller passes ``download=True`` (or calls
:func:`r3d_teach.datasets.download_application_data`).  Importing the package, running the
tests or building the book never downloads anything.

Cache location
--------------
``$R3D_TEACH_DATA`` if set (``R3D_TEACH_DATA_DIR`` is accepted as an alias), otherwise
``pooch.os_cache("r3d_teach")`` (for example ``~/.cache/r3d_teach`` on Linux), otherwise
``~/.cache/r3d_teach`` when pooch is not installed.  The variable must name a folder (it is
created when needed); a path to an existing *file* is a configuration error (ValueError).

Hash checks (every time a cached file is used)
-----------------------------------------------
* A file with a **verified pin** (its sha256 was compared with the real download) must match it,
  or :class:`BadDataFileError` is raised.
* Every other file has its sha256 recorded at first use in the manifest ``hashes.json`` beside
  the cache; when the file later differs, a :class:`DataChangedWarning` says so (the new hash is
  recorded, and tables built from the old file are rebuilt, see :mod:`._cache`).  An
  *unverified* pin (copied from a third-party mirror) only warns when the first recorded hash
  differs from it.
* Before hashing, a cheap format check: an empty file, an HTML page saved in place of the data,
  a zip without its central directory (a truncated download), or a gzip / R data file without
  its magic bytes gives :class:`BadDataFileError`, whose message names the path and says to
  delete the file and download it again.

Downloads
---------
:func:`fetch_all` fetches several files under **one** time budget (``timeout`` seconds in all,
default :data:`DEFAULT_TIMEOUT` or ``$R3D_TEACH_TIMEOUT``).  A transfer that stalls for
:data:`STALL_TIMEOUT` seconds (or for what is left of the budget, if less) is abandoned; after
a stall or a connection error the remaining files are not tried, since the network is then
most likely down.  The error lists what was fetched, what failed and what was not tried.
Downloads are refused when ``R3D_TEACH_OFFLINE=1`` or ``CI=true`` is set.

Example
-------
>>> d = Deadline(60.0)
>>> 59.0 < d.remaining() <= 60.0, d.expired()
(True, False)
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import time
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENV_VAR",
    "STALL_TIMEOUT",
    "BadDataFileError",
    "DataChangedWarning",
    "DataNotAvailableError",
    "Deadline",
    "RemoteFile",
    "bad_file",
    "check_file",
    "data_dir",
    "downloads_allowed",
    "fetch",
    "fetch_all",
    "reading",
    "sha256",
]

ENV_VAR = "R3D_TEACH_DATA"
_ENV_ALIASES = ("R3D_TEACH_DATA", "R3D_TEACH_DATA_DIR")
TIMEOUT_VAR = "R3D_TEACH_TIMEOUT"
MANIFEST = "hashes.json"
#: Overall time budget of one multi-file download, seconds (override with ``$R3D_TEACH_TIMEOUT``).
DEFAULT_TIMEOUT = 3600.0
#: A transfer with no data for this long (seconds) is abandoned.
STALL_TIMEOUT = 30.0
_CHUNK = 1 << 20


class DataNotAvailableError(FileNotFoundError):
    """A data file is not in the local cache and downloading was not requested (or not possible)."""


class BadDataFileError(ValueError):
    """A data file is unreadable, truncated, of the wrong format, or fails its pinned hash."""


class DataChangedWarning(UserWarning):
    """A cached file differs from the hash recorded when it was first used."""


class DownloadTimeout(TimeoutError):
    """The overall download budget ran out, or a transfer stalled."""


@dataclass(frozen=True)
class RemoteFile:
    """One file we know how to fetch.

    Attributes
    ----------
    name : file name inside the cache directory.
    url : where it is served.
    sha256 : expected hash, or ``None`` if unknown.
    verified : ``True`` when the hash was checked against the real download (a mismatch is then
        an error); an unverified hash (copied from a third-party mirror) only warns.
    note : free text shown in error messages (licence, size, provenance).
    aliases : other file names accepted in the cache for the same content (e.g. Census serves
        both ``asec2012_pubuse.zip`` and ``asec2012_pubuse.dat.gz``); the pin applies to
        ``name`` only.
    """

    name: str
    url: str
    sha256: str | None = None
    verified: bool = False
    note: str = ""
    aliases: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------
def data_dir(create: bool = False) -> Path:
    """The cache directory (see the module docstring for the rules).

    Raises ValueError naming the environment variable when it points at a file.

    >>> import os
    >>> os.environ["R3D_TEACH_DATA"] = "/tmp/r3d-demo-cache"
    >>> str(data_dir())
    '/tmp/r3d-demo-cache'
    >>> del os.environ["R3D_TEACH_DATA"]
    """
    var = None
    for name in _ENV_ALIASES:
        value = os.environ.get(name)
        if value:
            var, path = name, Path(value).expanduser()
            break
    else:
        try:
            import pooch  # lazy: optional dependency

            path = Path(pooch.os_cache("r3d_teach"))
        except ImportError:  # pragma: no cover - pooch is in requirements
            path = Path.home() / ".cache" / "r3d_teach"
    origin = f"{var}={os.environ[var]!r}" if var else f"the default cache folder {path}"
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"{origin} is a file, not a folder. Point {var or ENV_VAR} at a folder for the data "
            "cache (it is created when needed)."
        )
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as err:
            raise ValueError(
                f"{origin}: cannot create the cache folder ({err}); a part of the path is a file. "
                f"Point {var or ENV_VAR} at a folder."
            ) from err
    return path


def downloads_allowed() -> bool:
    """False when ``R3D_TEACH_OFFLINE`` is truthy or ``CI`` is ``true``/``1``."""
    off = os.environ.get("R3D_TEACH_OFFLINE", "").strip().lower()
    ci = os.environ.get("CI", "").strip().lower()
    return off in ("", "0", "false", "no") and ci not in ("true", "1", "yes")


def default_timeout() -> float:
    """``$R3D_TEACH_TIMEOUT`` (seconds) if set, else :data:`DEFAULT_TIMEOUT`."""
    raw = os.environ.get(TIMEOUT_VAR, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{TIMEOUT_VAR}={raw!r} must be a positive number of seconds")
    return value


class Deadline:
    """One time budget shared by several downloads: ``seconds`` from now (monotonic clock)."""

    def __init__(self, seconds: float):
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
            math.isfinite(seconds) and seconds > 0
        ):
            raise ValueError(f"timeout must be a positive number of seconds, got {seconds!r}")
        self.seconds = float(seconds)
        self._end = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0


# ---------------------------------------------------------------------------------------------
# hashes and format checks
# ---------------------------------------------------------------------------------------------
def sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def bad_file(path: str | os.PathLike[str], problem: str, how: str = "") -> BadDataFileError:
    """The error for a damaged or wrong file: names the path and says how to replace it."""
    again = f" ({how})" if how else ""
    return BadDataFileError(
        f"{path}: {problem}. Delete this file and download it again{again}; "
        "if you saved it by hand, check that it is the right file."
    )


@contextmanager
def reading(path: str | os.PathLike[str], how: str = "") -> Iterator[None]:
    """Turn low-level read errors (truncated gzip/zip, bad bytes, parse errors) into
    :class:`BadDataFileError` naming ``path``."""
    try:
        yield
    except BadDataFileError:
        raise
    except (EOFError, zlib.error, zipfile.BadZipFile, UnicodeDecodeError,
            pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise bad_file(path, f"cannot be read ({type(err).__name__}: {err})", how) from err
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise bad_file(path, f"cannot be read ({type(err).__name__}: {err})", how) from err


_RDATA_MAGIC = (b"RDX", b"RDA", b"RDB", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")


def check_format(path: str | os.PathLike[str], how: str = "") -> None:
    """Cheap checks that ``path`` can be the file its name says (see the module docstring)."""
    p = Path(path)
    if p.is_dir():
        raise bad_file(p, "is a folder, not a data file", how)
    size = p.stat().st_size
    if size == 0:
        raise bad_file(p, "is empty (an interrupted download?)", how)
    with open(p, "rb") as fh:
        head = fh.read(512)
    start = head.lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html", b"<?xml version")) and not p.name.lower().endswith(".xml"):
        raise bad_file(p, "is a web page, not the data file (the server probably sent an error page)", how)
    name = p.name.lower()
    if name.endswith(".zip"):
        if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06") or not zipfile.is_zipfile(p):
            raise bad_file(p, "is not a complete zip archive (truncated or not a zip)", how)
    elif name.endswith(".gz"):
        if head[:2] != b"\x1f\x8b":
            raise bad_file(p, "is not gzip-compressed although its name ends in .gz", how)
    elif name.endswith((".rdata", ".rda")):
        if not head.startswith(_RDATA_MAGIC):
            raise bad_file(p, "is not an R data file", how)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _manifest_path(folder: Path) -> Path:
    return folder / MANIFEST


def read_manifest(folder: Path | None = None) -> dict[str, dict]:
    """The recorded hashes, ``{file name: {"sha256", "size", "recorded"}}`` (empty if none)."""
    log = _manifest_path(folder or data_dir())
    if not log.exists():
        return {}
    try:
        raw = json.loads(log.read_text())
    except (OSError, ValueError) as err:
        warnings.warn(f"{log} is unreadable ({err}); it is started afresh.", DataChangedWarning, stacklevel=3)
        return {}
    files = raw.get("files", raw) if isinstance(raw, dict) else {}
    out = {}
    for name, entry in files.items():
        if isinstance(entry, str):  # the first format: {name: digest}
            entry = {"sha256": entry}
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
            out[name] = entry
    return out


def _write_manifest(folder: Path, files: dict[str, dict]) -> None:
    log = _manifest_path(folder)
    tmp = log.with_name(f".{log.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"format": 2, "files": files}, indent=1, sort_keys=True))
    os.replace(tmp, log)


def _record(folder: Path, name: str, digest: str, size: int, source: str) -> None:
    files = read_manifest(folder)
    files[name] = {"sha256": digest, "size": int(size), "recorded": _now(), "source": source}
    try:
        _write_manifest(folder, files)
    except OSError as err:  # e.g. a read-only shared cache: still usable, but changes go unseen
        warnings.warn(
            f"cannot record the sha256 of {name} in {_manifest_path(folder)} ({err}); "
            "later changes to the file will not be detected.",
            DataChangedWarning,
            stacklevel=4,
        )


def check_file(path: str | os.PathLike[str], remote: RemoteFile | None = None, *, how: str = "") -> str:
    """Check a cached file (format, then hash; see the module docstring) and return its sha256."""
    p = Path(path)
    check_format(p, how)
    digest = sha256(p)
    folder = p.parent
    pinned = remote.sha256 if remote is not None and remote.name == p.name else None
    if pinned is not None and remote.verified:
        if digest != pinned:
            raise bad_file(p, f"its sha256 {digest} differs from the verified pin {pinned}", how)
    files = read_manifest(folder)
    entry = files.get(p.name)
    if entry is None:
        if pinned is not None and not remote.verified and digest != pinned:
            warnings.warn(
                f"{p}: sha256 {digest} differs from the unverified pin {pinned} (copied from a "
                "third-party mirror). The file is used and its hash recorded; please report it.",
                DataChangedWarning,
                stacklevel=2,
            )
        _record(folder, p.name, digest, p.stat().st_size, "pinned" if digest == pinned else "first use")
    elif entry["sha256"] != digest:
        warnings.warn(
            f"{p} changed since it was recorded on {entry.get('recorded', 'first use')} "
            f"(sha256 {entry['sha256'][:12]}... -> {digest[:12]}...). Tables built from the old "
            "file will be rebuilt. If you did not replace it on purpose, delete it and download "
            f"it again{f' ({how})' if how else ''}.",
            DataChangedWarning,
            stacklevel=2,
        )
        _record(folder, p.name, digest, p.stat().st_size, "changed")
    return digest


# ---------------------------------------------------------------------------------------------
# fetching
# ---------------------------------------------------------------------------------------------
def cached_path(remote: RemoteFile, folder: Path | None = None) -> Path | None:
    """The cached copy of ``remote`` (its name or an alias), or ``None``; no checks."""
    folder = folder or data_dir()
    for name in (remote.name, *remote.aliases):
        if (folder / name).is_file():
            return folder / name
    return None


def _missing_message(remote: RemoteFile, folder: Path, how: str) -> str:
    hint = how or "pass download=True"
    also = f" (or as {', '.join(remote.aliases)})" if remote.aliases else ""
    return (
        f"{remote.name} is not in the data cache {folder}.\n"
        f"  To fetch it (needs internet, done once): {hint}.\n"
        f"  Or download {remote.url} yourself and save it as {folder / remote.name}{also}.\n"
        f"  Set the environment variable {ENV_VAR} to use another cache folder."
        + (f"\n  Note: {remote.note}" if remote.note else "")
    )


class _DeadlineDownloader:
    """A pooch downloader that streams with requests and honours a :class:`Deadline`.

    Each socket read waits at most ``min(stall, remaining budget)`` seconds; the budget is
    checked after every chunk, so a trickling transfer cannot outlive it either.
    """

    def __init__(self, deadline: Deadline, stall: float = STALL_TIMEOUT):
        self.deadline = deadline
        self.stall = stall

    def __call__(self, url, output_file, pooch=None, check_only=False):  # noqa: ARG002
        import requests  # lazy: comes with pooch

        left = self.deadline.remaining()
        if left <= 0:
            raise DownloadTimeout(f"the download time budget ({self.deadline.seconds:g} s) ran out")
        wait = min(self.stall, left)
        try:
            response = requests.get(url, stream=True, timeout=(wait, wait))
        except requests.exceptions.Timeout as err:
            raise DownloadTimeout(f"no answer within {wait:.3g} s ({err})") from err
        with response:
            response.raise_for_status()
            own = isinstance(output_file, (str, os.PathLike))
            fh = open(output_file, "wb") if own else output_file
            try:
                for chunk in response.iter_content(chunk_size=_CHUNK):
                    if chunk:
                        fh.write(chunk)
                    if self.deadline.expired():
                        raise DownloadTimeout(
                            f"the download time budget ({self.deadline.seconds:g} s) ran out mid-transfer"
                        )
            except requests.exceptions.Timeout as err:
                raise DownloadTimeout(f"the transfer stalled for {wait:.3g} s ({err})") from err
            finally:
                if own:
                    fh.close()


def _network_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [DownloadTimeout, ConnectionError, TimeoutError]
    try:
        import requests

        errs.append(requests.exceptions.RequestException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


def _is_stall(err: BaseException) -> bool:
    """A timeout or a failed connection: the network is probably down, stop trying."""
    if isinstance(err, (DownloadTimeout, ConnectionError, TimeoutError)):
        return True
    try:
        import requests

        return isinstance(err, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))
    except ImportError:  # pragma: no cover
        return False


def _download(remote: RemoteFile, folder: Path, deadline: Deadline, how: str) -> Path:
    try:
        import pooch
    except ImportError as err:  # pragma: no cover - pooch is in requirements
        raise ImportError('downloading needs pooch: pip install "pooch>=1.7" (the "data" extra of r3d-teach)') from err
    got = Path(
        pooch.retrieve(
            remote.url,
            known_hash=None,  # checked below, so that a mismatch names the file and the pin
            fname=remote.name,
            path=folder,
            progressbar=False,
            downloader=_DeadlineDownloader(deadline),
        )
    )
    try:
        check_file(got, remote, how=how)
    except BadDataFileError:
        got.unlink(missing_ok=True)  # never keep a download that fails its pin or format
        raise
    return got


def fetch(
    remote: RemoteFile,
    *,
    download: bool = False,
    how: str = "",
    timeout: float | None = None,
    deadline: Deadline | None = None,
) -> Path:
    """Return the local path of ``remote`` after checking it; download it only if ``download=True``.

    Parameters
    ----------
    remote : the file to get.
    download : if the file is not cached, fetch it (refused when offline, see :func:`downloads_allowed`).
    how : the call that fetches this file, quoted in error messages.
    timeout, deadline : the time budget (seconds, or a shared :class:`Deadline`).

    Raises
    ------
    DataNotAvailableError
        if the file is not cached and ``download`` is false, downloads are switched off, or the
        download failed (network error, time budget).
    BadDataFileError
        if the cached (or downloaded) file is damaged or fails its verified pin.
    """
    return fetch_all([remote], download=download, how=how, timeout=timeout, deadline=deadline)[remote.name]


def fetch_all(
    remotes: Iterable[RemoteFile],
    *,
    download: bool = False,
    how: str = "",
    timeout: float | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Path]:
    """Local, checked paths of several files (``{remote.name: path}``), fetching the missing
    ones under one time budget (see the module docstring)."""
    remotes = list(remotes)
    folder = data_dir()
    found: dict[str, Path] = {}
    missing: list[RemoteFile] = []
    for r in remotes:
        path = cached_path(r, folder)
        if path is None:
            missing.append(r)
        else:
            found[r.name] = path
    if missing and not download:
        raise DataNotAvailableError(
            _missing_message(missing[0], folder, how)
            + (f"\n  Also missing: {', '.join(m.name for m in missing[1:])}." if len(missing) > 1 else "")
        )
    if missing and not downloads_allowed():
        raise DataNotAvailableError(
            f"{', '.join(m.name for m in missing)} missing and downloads are switched off "
            "(R3D_TEACH_OFFLINE or CI is set). Unset them on a machine with internet, or save "
            f"the files by hand in {folder} (first: {missing[0].url})."
        )
    for r in remotes:  # check what was cached (format + hash), in the caller's order
        if r.name in found:
            found[r.name] = Path(found[r.name])
            check_file(found[r.name], r, how=how)
    if not missing:
        return found
    if deadline is None:
        deadline = Deadline(default_timeout() if timeout is None else timeout)
    folder = data_dir(create=True)
    failed: list[str] = []
    skipped: list[str] = []
    stalled = False
    net_errors = _network_errors()
    for r in missing:
        if stalled or deadline.expired():
            skipped.append(r.name)
            continue
        try:
            found[r.name] = _download(r, folder, deadline, how)
        except net_errors as err:
            failed.append(f"{r.name} from {r.url}: {type(err).__name__}: {err}")
            stalled = stalled or _is_stall(err)
        except BadDataFileError as err:
            failed.append(f"{r.name}: {err}")
    if failed or skipped:
        done = [r.name for r in missing if r.name in found]
        lines = [f"could not fetch {len(failed) + len(skipped)} of {len(missing)} files "
                 f"(time budget {deadline.seconds:g} s):"]
        lines += [f"  failed: {f}" for f in failed]
        if skipped:
            why = "the network stalled or refused the connection" if stalled else "the time budget ran out"
            lines.append(f"  not tried ({why}): {', '.join(skipped)}")
        if done:
            lines.append(f"  fetched and kept in {folder}: {', '.join(done)}")
        lines.append("  Run the same call again to resume (cached files are not fetched again); "
                     f"allow more time with timeout= or {TIMEOUT_VAR}.")
        raise DataNotAvailableError("\n".join(lines))
    return found
