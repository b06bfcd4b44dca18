"""Publish the trained models the chapters used as static files of the site.

``make book`` executes the chapters with ``TOPOLIB_CACHE_LOG`` set, so every model-cache
file a chapter loaded, downloaded or saved is noted there (:mod:`topolib.published`). This
script copies those files from the model cache into ``_build/html/models/<name>-<key>/`` and
writes ``_build/html/models/manifest.json``: for each entry its configuration, the topolib
version and, per file, path, SHA-256 and size. A reader's :class:`topolib.ModelCache`
downloads from there when its own cache misses (the site address is ``html.baseurl`` in
``_config.yml``).

Usage: ``python tools/publish_models.py [--log FILE] [--cache DIR] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LOG = REPO / "_build" / "models-used.txt"
OUT = REPO / "_build" / "html" / "models"
#: events that mean "a chapter used this file"; resumable checkpoints are never published
USED = ("load", "download", "save")
NOT_PUBLISHED = ("checkpoint.pt",)


def used_files(log: Path) -> list[tuple[str, str]]:
    """Distinct ``(entry folder, file name)`` pairs the log says the chapters used, sorted."""
    pairs = set()
    for line in log.read_text(encoding="utf-8").splitlines():
        event, _, where = line.partition(" ")
        folder, _, filename = where.partition("/")
        if event in USED and folder and filename and filename not in NOT_PUBLISHED:
            pairs.add((folder, filename))
    return sorted(pairs)


def publish(log: Path, cache_root: Path, out: Path) -> dict[str, Any]:
    """Copy the used files into ``out`` (replacing what was there) and return the manifest."""
    import topolib
    from topolib.cache import config_key
    from topolib.published import FORMAT, MANIFEST

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries: dict[str, Any] = {}
    skipped = []
    for folder, filename in used_files(log):
        source = cache_root / folder / filename
        try:
            config = json.loads((cache_root / folder / "config.json").read_text())
        except (OSError, ValueError):
            skipped.append(f"{folder}/{filename} (no readable config.json)")
            continue
        if not source.is_file() or config_key(config) != folder.rsplit("-", 1)[-1]:
            skipped.append(f"{folder}/{filename} (missing, or its config.json does not give its key)")
            continue
        data = source.read_bytes()
        (out / folder).mkdir(exist_ok=True)
        (out / folder / filename).write_bytes(data)
        entry = entries.setdefault(folder, {
            "config": config,
            "topolib_version": config.get("topolib_version", topolib.__version__),
            "files": {},
        })
        entry["files"][filename] = {"path": f"{folder}/{filename}",
                                    "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest = {"format": FORMAT, "topolib_version": topolib.__version__, "entries": entries}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    for line in skipped:
        print(f"not published: {line}", file=sys.stderr)
    return manifest


def main(argv: list[str] | None = None) -> int:
    from topolib.cache import default_cache_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=LOG,
                        help="TOPOLIB_CACHE_LOG of the chapter run (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="model cache folder (default: TOPOLIB_CACHE or ~/.cache/topolib)")
    parser.add_argument("--out", type=Path, default=OUT, help="site folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.log.is_file():  # the site still gets a valid, empty manifest: readers train
        print(f"warning: no cache log at {args.log}, so no models are published; execute the "
              f"chapters with TOPOLIB_CACHE_LOG={args.log} (make clean-book && make book does)",
              file=sys.stderr)
        args.log = Path(os.devnull)
    manifest = publish(args.log, args.cache or default_cache_dir(), args.out)
    files = [f for e in manifest["entries"].values() for f in e["files"].values()]
    size = sum(f["size"] for f in files)
    print(f"published {len(files)} files of {len(manifest['entries'])} cache entries "
          f"({size / 1e6:.1f} MB) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
