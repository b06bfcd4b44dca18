"""On-disk cache of trained models, keyed by their full configuration.

Each entry is a folder ``<root>/<name>-<key>`` holding ``config.json`` (the configuration that
produced it, human-readable) and ``state.pt`` (tensors only, loaded with ``weights_only=True``).
The key is a hash of the canonical JSON of the configuration, so changing any setting (seed,
epochs, profile, code version, ...) gives a new entry instead of a stale model.

With a models URL (``TOPOLIB_MODELS_URL``, or ``models_url=``), a file missing here is first
looked for among the models published with the book's site (:mod:`topolib.published`):
verified against the site's manifest, stored here, then loaded as if trained here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from topolib import published
from topolib.profiles import smoke_mode

__all__ = ["ModelCache", "config_key", "default_cache_dir"]

ENV_VAR = "TOPOLIB_CACHE"


def _jsonable(value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"config keys must be str; got {k!r} at {where}")
            out[k] = _jsonable(v, f"{where}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and value != value:
        raise ValueError(f"config value at {where} is NaN, which cannot key a cache entry")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _jsonable(value.item(), where)
    raise TypeError(
        f"config value at {where} must be a bool, number, str, None, list, dict or dataclass; "
        f"got {type(value).__name__}"
    )


def config_key(config: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit key of a configuration (order of keys does not matter)."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping; got {type(config).__name__}")
    canonical = json.dumps(_jsonable(config, "config"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def default_cache_dir() -> Path:
    """``$TOPOLIB_CACHE``, else ``$XDG_CACHE_HOME/topolib``, else ``~/.cache/topolib``.

    In smoke mode (:func:`topolib.profiles.smoke_mode`) the folder beside it with ``-smoke``
    added to its name (e.g. ``~/.cache/topolib-smoke``): models trained for a few steps never
    land among real ones.
    """
    if os.environ.get(ENV_VAR, "").strip():
        root = Path(os.environ[ENV_VAR]).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or "~/.cache"
        root = Path(base).expanduser() / "topolib"
    if not smoke_mode():
        return root
    root = root.absolute()
    return root.with_name(f"{root.name}-smoke") if root.name else root / "topolib-smoke"


def _check_root(root: Path, source: str) -> Path:
    root = root.expanduser()
    if root.exists() and not root.is_dir():
        raise ValueError(f"{source} must be a directory; {str(root)!r} is an existing file")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{source} {str(root)!r} cannot be created: {err.strerror}") from err
    if not os.access(root, os.W_OK | os.X_OK):
        raise ValueError(f"{source} {str(root)!r} is not writable")
    return root.resolve()


class ModelCache:
    """A folder of trained models keyed by configuration.

    Parameters
    ----------
    root : folder of the cache; None uses :func:`default_cache_dir`.
    models_url : where the book's published models live (the folder of their
        ``manifest.json``); files missing here are downloaded from there and verified.
        Default: ``TOPOLIB_MODELS_URL``; None or ``""`` switches downloads off, and so does
        smoke mode (:func:`topolib.profiles.smoke_mode`).

    Raises
    ------
    ValueError
        If ``root`` is an existing file, cannot be created or is not writable, or
        ``models_url`` is not an http(s):// or file:// address.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 models_url: str | None | object = published.FROM_ENV) -> None:
        if root is None:
            source = f"cache directory (from {ENV_VAR} or the default)"
            path = default_cache_dir()
        elif isinstance(root, (str, os.PathLike)) and str(root).strip():
            source, path = "root", Path(root)
        else:
            raise TypeError(f"root must be a non-empty path or None; got {root!r}")
        self.root = _check_root(path, source)
        self.models_url = (published.models_url_from_env() if models_url is published.FROM_ENV
                           else published.check_models_url(models_url, "models_url"))
        if smoke_mode():  # a smoke run's keys are never published: do not even ask
            self.models_url = None

    def __repr__(self) -> str:
        url = f", models_url={self.models_url!r}" if self.models_url else ""
        return f"ModelCache({str(self.root)!r}{url})"

    def entry_dir(self, name: str, config: Mapping[str, Any]) -> Path:
        """Folder of the entry for ``(name, config)`` (it may not exist yet)."""
        if not isinstance(name, str) or not name or not name.replace("-", "_").isidentifier():
            raise ValueError(f"name must be a short identifier such as 'vae_circle'; got {name!r}")
        return self.root / f"{name}-{config_key(config)}"

    def contains(self, name: str, config: Mapping[str, Any]) -> bool:
        """True if a complete entry exists (it may still turn out corrupt on loading)."""
        return (self.entry_dir(name, config) / "state.pt").is_file()

    def save(
        self,
        name: str,
        config: Mapping[str, Any],
        state: Mapping[str, Any],
        *,
        overwrite: bool = False,
        filename: str = "state.pt",
    ) -> Path:
        """Write ``state`` (tensors, numbers, strings, lists, dicts) atomically.

        Raises
        ------
        FileExistsError
            If the entry exists and ``overwrite`` is False: a cached model is never replaced
            silently.
        """
        folder = self.entry_dir(name, config)
        target = folder / filename
        if target.exists() and not overwrite:
            raise FileExistsError(
                f"cache entry {str(target)!r} exists; pass overwrite=True to replace it"
            )
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / "config.json"
        if not config_file.exists():
            _atomic_write_text(config_file, json.dumps(_jsonable(config, "config"), indent=2, sort_keys=True))
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            torch.save(dict(state), handle)
            tmp = Path(handle.name)
        os.replace(tmp, target)
        published.record("save", folder.name, filename)
        return target

    def load(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        map_location: str | torch.device = "cpu",
        filename: str = "state.pt",
    ) -> dict[str, Any] | None:
        """Load an entry with ``weights_only=True``; None if absent here and not published.

        A file missing here is downloaded from ``models_url`` when the site publishes it
        under this configuration with a matching hash (else a warning, and None). A corrupt entry (unreadable file, or a config.json that disagrees with ``config``) is
        moved aside to ``<file>.corrupt-<time>`` with a warning, and None is returned so the
        caller retrains: nothing is deleted.
        """
        folder = self.entry_dir(name, config)
        target = folder / filename
        if not target.is_file() and not (
            self.models_url and published.fetch(self.models_url, folder, filename,
                                                json.loads(json.dumps(_jsonable(config, "config"))))
        ):
            return None
        try:
            stored = json.loads((folder / "config.json").read_text())
            if stored != json.loads(json.dumps(_jsonable(config, "config"))):
                raise ValueError("config.json does not match the requested configuration")
            state = torch.load(target, map_location=map_location, weights_only=True)
            if not isinstance(state, dict):
                raise ValueError(f"expected a dict, found {type(state).__name__}")
        except Exception as err:  # noqa: BLE001 - any failure to read means "retrain"
            aside = target.with_name(f"{target.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(target, aside)
            warnings.warn(
                f"cache entry {str(target)!r} could not be loaded ({err}); moved it to "
                f"{aside.name!r} and it will be recomputed",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        published.record("load", folder.name, filename)
        return state

    def entries(self) -> list[Path]:
        """All entry folders, sorted by name."""
        return sorted(p for p in self.root.iterdir() if p.is_dir())


def _atomic_write_text(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        handle.write(text)
        tmp = Path(handle.name)
    os.replace(tmp, path)
