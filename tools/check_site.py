"""Open built pages in headless Chromium with all network blocked; report console errors.

    python tools/check_site.py notebooks/01_shape_primer.html [more pages] [--shots DIR]

Serves ``_build/html`` on 127.0.0.1, loads each page with every other host unresolvable,
saves a screenshot per page and exits 1 if any page logged a JavaScript error or a failed
load. Needs Debian's ``chromium`` (``apt-get install chromium``); it is a manual check of the
published site, not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
BAD = re.compile(r"Uncaught|Failed to load resource|ERR_|Refused to|is not defined|SyntaxError")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--window-size=1280,2400",
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def check(url: str, shot: Path) -> list[str]:
    """Console lines of ``url`` that report an error; writes a screenshot to ``shot``."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", url],
            capture_output=True, text=True, timeout=120,
        )
    console = [ln for ln in run.stderr.splitlines() if ":CONSOLE" in ln or "net::" in ln]
    return [ln for ln in console if BAD.search(ln)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", help="paths relative to _build/html")
    parser.add_argument("--shots", type=Path, default=ROOT / "_build" / "screenshots")
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    failed = False
    with serve(SITE) as base:
        for page in args.pages:
            shot = args.shots / (page.replace("/", "_").removesuffix(".html") + ".png")
            errors = check(f"{base}/{page}", shot)
            print(f"{'FAIL' if errors else 'ok  '} {page} -> {shot}")
            for line in errors:
                print("    ", line)
            failed |= bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
