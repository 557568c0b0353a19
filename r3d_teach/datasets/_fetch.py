"""Cache directory, file registry and opt-in downloads for the application data.

Nothing here touches the network unless a caller passes ``download=True`` (or calls
:func:`r3d_teach.datasets.download_application_data`).  Importing the package, running the
tests or building the book never downloads anything.

Cache location
--------------
``$R3D_TEACH_DATA`` if set (``R3D_TEACH_DATA_DIR`` is accepted as an alias), otherwise
``pooch.os_cache("r3d_teach")`` (for example ``~/.cache/r3d_teach`` on Linux), otherwise
``~/.cache/r3d_teach`` when pooch is not installed.

Offline switch
--------------
Downloads are refused when ``R3D_TEACH_OFFLINE=1`` or ``CI=true`` is set, so a CI job cannot
fetch by accident.

Example
-------
>>> from r3d_teach.datasets._fetch import data_dir
>>> data_dir().name  # doctest: +SKIP
'r3d_teach'
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "DataNotAvailableError",
    "RemoteFile",
    "data_dir",
    "downloads_allowed",
    "fetch",
    "sha256",
]

ENV_VAR = "R3D_TEACH_DATA"
_ENV_ALIASES = ("R3D_TEACH_DATA", "R3D_TEACH_DATA_DIR")
_HASH_LOG = "hashes.json"


class DataNotAvailableError(FileNotFoundError):
    """A data file is not in the local cache and downloading was not requested (or not possible)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file we know how to fetch.

    Attributes
    ----------
    name : file name inside the cache directory.
    url : where it is served.
    sha256 : expected hash, or ``None`` if unknown.
    verified : ``True`` when the hash was checked against the real download; an unverified hash
        (copied from a third-party mirror) only triggers a warning on mismatch.
    note : free text shown in error messages (licence, size, provenance).
    """

    name: str
    url: str
    sha256: str | None = None
    verified: bool = False
    note: str = ""


def data_dir(create: bool = False) -> Path:
    """The cache directory (see the module docstring for the rules).

    >>> import os
    >>> os.environ["R3D_TEACH_DATA"] = "/tmp/r3d-demo-cache"
    >>> str(data_dir())
    '/tmp/r3d-demo-cache'
    >>> del os.environ["R3D_TEACH_DATA"]
    """
    for var in _ENV_ALIASES:
        value = os.environ.get(var)
        if value:
            path = Path(value).expanduser()
            break
    else:
        try:
            import pooch  # lazy: optional dependency

            path = Path(pooch.os_cache("r3d_teach"))
        except ImportError:  # pragma: no cover - pooch is in requirements
            path = Path.home() / ".cache" / "r3d_teach"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def downloads_allowed() -> bool:
    """False when ``R3D_TEACH_OFFLINE`` is truthy or ``CI`` is ``true``/``1``."""
    off = os.environ.get("R3D_TEACH_OFFLINE", "").strip().lower()
    ci = os.environ.get("CI", "").strip().lower()
    return off in ("", "0", "false", "no") and ci not in ("true", "1", "yes")


def sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _record_hash(name: str, digest: str) -> None:
    log = data_dir(create=True) / _HASH_LOG
    try:
        table = json.loads(log.read_text()) if log.exists() else {}
    except (OSError, ValueError):
        table = {}
    table[name] = digest
    log.write_text(json.dumps(table, indent=1, sort_keys=True))


def fetch(remote: RemoteFile, *, download: bool = False, how: str = "") -> Path:
    """Return the local path of ``remote``, downloading it only if ``download=True``.

    Parameters
    ----------
    remote : the file to get.
    download : if the file is not cached, fetch it with pooch (refused when offline, see
        :func:`downloads_allowed`).
    how : a sentence telling the user which call fetches this file, used in the error message.

    Raises
    ------
    DataNotAvailableError
        if the file is not cached and ``download`` is false, or downloads are switched off.
    """
    folder = data_dir()
    path = folder / remote.name
    if path.exists():
        return path
    hint = how or "pass download=True"
    if not download:
        raise DataNotAvailableError(
            f"{remote.name} is not in the data cache {folder}.\n"
            f"  To fetch it (needs internet, done once): {hint}.\n"
            f"  Or download {remote.url} yourself and save it as {path}.\n"
            f"  Set the environment variable {ENV_VAR} to use another cache folder."
            + (f"\n  Note: {remote.note}" if remote.note else "")
        )
    if not downloads_allowed():
        raise DataNotAvailableError(
            f"{remote.name} is missing and downloads are switched off "
            "(R3D_TEACH_OFFLINE or CI is set). Unset them on a machine with internet, "
            f"or save {remote.url} as {path}."
        )
    try:
        import pooch
    except ImportError as err:  # pragma: no cover - pooch is in requirements
        raise ImportError("downloading needs pooch: pip install pooch") from err
    strict = remote.sha256 is not None and remote.verified
    try:
        got = pooch.retrieve(
            remote.url,
            known_hash=f"sha256:{remote.sha256}" if strict else None,
            fname=remote.name,
            path=data_dir(create=True),
            progressbar=False,
        )
    except Exception as err:  # network errors come in many types (requests, OSError, ...)
        raise DataNotAvailableError(
            f"could not download {remote.url} ({type(err).__name__}: {err}). "
            f"Check the internet connection, or save the file by hand as {path}."
        ) from err
    digest = sha256(got)
    _record_hash(remote.name, digest)
    if remote.sha256 is not None and not strict and digest != remote.sha256:
        warnings.warn(
            f"{remote.name}: sha256 {digest} differs from the unverified pin {remote.sha256} "
            "(copied from a third-party mirror). The file was kept; please report the new hash.",
            stacklevel=2,
        )
    return Path(got)
