"""Models published with the book's site, fetched when the local model cache misses.

The book build copies the cache entries its chapters used to ``<site>/models/`` with a
``manifest.json`` (``tools/publish_models.py``)::

    {"format": 1, "topolib_version": "0.1.0",
     "entries": {"<name>-<key>": {"config": {...}, "topolib_version": "0.1.0",
                                   "files": {"state.pt": {"path": "<name>-<key>/state.pt",
                                                          "sha256": "...", "size": 12345}}}}}

A :class:`~topolib.cache.ModelCache` with a models URL (``TOPOLIB_MODELS_URL``, which the
setup cell of every chapter sets from ``_config.yml``; empty switches it off) asks
:func:`fetch` for a file it does not have. The file is used only if the manifest lists it
under exactly the requested configuration and its size and SHA-256 match; it is then stored
in the local cache (an existing local file is never replaced). On any failure a warning says
what went wrong and the caller trains instead. Only the standard library is used.

``TOPOLIB_CACHE_LOG`` names a file to which every cache event is appended as one line
``<event> <name>-<key>/<file>``: ``load`` (found locally), ``download``, ``save`` and
``train`` (:func:`topolib.training.train` started training). The book build uses it to
publish exactly the entries its chapters used; tests use it to check that nothing trained.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

__all__ = ["MANIFEST", "MODELS_URL_VARIABLE", "LOG_VARIABLE", "fetch", "models_url_from_env",
           "record", "check_models_url"]

MODELS_URL_VARIABLE = "TOPOLIB_MODELS_URL"
LOG_VARIABLE = "TOPOLIB_CACHE_LOG"
MANIFEST = "manifest.json"
FORMAT = 1
#: seconds to wait for the server at each step of a request (connect, each read)
TIMEOUT = 10.0
SCHEMES = ("http://", "https://", "file://")
#: default of ``ModelCache(models_url=...)``: read ``TOPOLIB_MODELS_URL``
FROM_ENV = object()

# One manifest per URL and process: a failed one is not asked for again (one warning).
_manifests: dict[str, dict[str, Any] | None] = {}


class PublishedModelError(Exception):
    """A published file that cannot be used; the message says why."""


def check_models_url(url: object, source: str) -> str | None:
    """``url`` without its trailing slash, or None for ``""``/None (downloads off).

    Raises
    ------
    ValueError
        If ``url`` is not an http(s):// or file:// address (``source`` names where it came from).
    """
    if url is None:
        return None
    if not isinstance(url, str):
        raise TypeError(f"{source} must be a URL string or None; got {type(url).__name__}")
    url = url.strip()
    if not url:
        return None
    if not url.startswith(SCHEMES):
        raise ValueError(f"{source} must start with http://, https:// or file:// (or be empty to "
                         f"switch downloads off); got {url!r}")
    return url.rstrip("/")


def models_url_from_env() -> str | None:
    """The models URL from ``TOPOLIB_MODELS_URL``; None when unset or empty (off)."""
    return check_models_url(os.environ.get(MODELS_URL_VARIABLE), MODELS_URL_VARIABLE)


def record(event: str, entry: str, filename: str) -> None:
    """Append ``<event> <entry>/<filename>`` to the ``TOPOLIB_CACHE_LOG`` file, if set."""
    log = os.environ.get(LOG_VARIABLE, "").strip()
    if not log:
        return
    path = Path(log).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:  # one short append: safe side by side
        handle.write(f"{event} {entry}/{filename}\n")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 - scheme checked
        return response.read()


def _why(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"network error: {err.reason}"
    if isinstance(err, TimeoutError):
        return f"no answer within {TIMEOUT:g} s"
    return f"{type(err).__name__}: {err}"


def _manifest(url: str) -> dict[str, Any] | None:
    if url not in _manifests:
        try:
            manifest = json.loads(_get(f"{url}/{MANIFEST}").decode("utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
                    or not isinstance(manifest.get("entries"), dict):
                raise PublishedModelError(f"not a format-{FORMAT} model manifest")
            _manifests[url] = manifest
        except Exception as err:  # noqa: BLE001 - any failure means "train here"
            _manifests[url] = None
            warnings.warn(
                f"the published models at {url} cannot be used ({_why(err)}): models missing "
                f"from the local cache will be trained here. Set {MODELS_URL_VARIABLE}='' to "
                "stop asking.", RuntimeWarning, stacklevel=4)
    return _manifests[url]


def _check_entry(entry: Any, filename: str, config: Any, key: str) -> dict[str, Any]:
    from topolib.cache import config_key

    if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict):
        raise PublishedModelError("its manifest entry is malformed")
    if entry.get("config") != config or config_key(entry["config"]) != key:
        raise PublishedModelError("its configuration in the manifest differs from the one asked for")
    info = entry["files"][filename]
    if not isinstance(info, dict) or not {"path", "sha256", "size"} <= set(info):
        raise PublishedModelError("its manifest record lacks path, sha256 or size")
    if ".." in Path(str(info["path"])).parts:
        raise PublishedModelError(f"its path {info['path']!r} leaves the models folder")
    return info


def fetch(url: str, folder: Path, filename: str, config: Any) -> bool:
    """Download ``<folder.name>/<filename>`` from the models at ``url`` into ``folder``.

    Parameters
    ----------
    url : base URL of the published models (the folder holding ``manifest.json``).
    folder : local entry folder ``<root>/<name>-<key>``.
    filename : file of the entry, e.g. ``"state.pt"``.
    config : the requested configuration, already in its JSON form.

    Returns
    -------
    True if the file is now in ``folder`` (downloaded and verified, or put there meanwhile by
    someone else: never overwritten); False if it is not published or failed a check (with a
    warning), so the caller computes it.
    """
    manifest = _manifest(url)
    entry = None if manifest is None else manifest["entries"].get(folder.name)
    files = entry.get("files") if isinstance(entry, dict) else None
    if not isinstance(files, dict) or filename not in files:
        return False  # not published (another profile, configuration or version)
    where = f"{url}/{folder.name}/{filename}"
    try:
        info = _check_entry(entry, filename, config, folder.name.rsplit("-", 1)[-1])
        where = f"{url}/{info['path']}"
        data = _get(where)
        if len(data) != int(info["size"]):
            raise PublishedModelError(f"{len(data)} bytes arrived, the manifest says {info['size']}")
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise PublishedModelError("its SHA-256 differs from the manifest's (corrupt or altered)")
    except Exception as err:  # noqa: BLE001 - any failure means "train here"
        warnings.warn(f"the published model {where} was not used ({_why(err)}); it will be "
                      "computed here instead", RuntimeWarning, stacklevel=4)
        return False
    _store(folder, filename, data, config)
    record("download", folder.name, filename)
    return True


def _store(folder: Path, filename: str, data: bytes, config: Any) -> None:
    """Write a verified file next to its config.json, never replacing an existing file."""
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "config.json"
    for target, payload in ((config_file, json.dumps(config, indent=2, sort_keys=True).encode()),
                            (folder / filename, data)):
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            handle.write(payload)
            tmp = Path(handle.name)
        try:
            os.link(tmp, target)  # fails if the target exists: a local file always wins
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not target.exists():
                os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
