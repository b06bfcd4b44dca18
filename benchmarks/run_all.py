"""Run every benchmark and write their tables into benchmarks/README.md.

    python benchmarks/run_all.py            # all benchmarks
    python benchmarks/run_all.py render     # only bench_render.py

Each ``bench_*.py`` prints a markdown table (and writes its JSON to ``benchmarks/results/``);
this script pastes each table into README.md between ``<!-- name:start -->`` and
``<!-- name:end -->`` markers, with the date and machine it ran on.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run(script: Path) -> str:
    print(f"running {script.name} ...", flush=True)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            cwd=HERE.parent, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{script.name} failed:\n{result.stdout}\n{result.stderr}")
    print(result.stdout)
    return tables_only(result.stdout)


def tables_only(text: str) -> str:
    """The markdown tables and headings of a benchmark's output, without progress lines."""
    kept = [ln for ln in text.splitlines() if ln.startswith(("|", "#")) or not ln.strip()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def paste(readme: str, name: str, table: str) -> str:
    stamp = f"_Measured {datetime.date.today().isoformat()} on {machine()}._"
    block = f"<!-- {name}:start -->\n{stamp}\n\n{table}\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.S)
    if pattern.search(readme):
        return pattern.sub(lambda _: block, readme)
    return readme.rstrip() + f"\n\n## {name}\n\n{block}\n"


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in argv]
        if not scripts:
            raise SystemExit(f"no benchmark named {argv}; have {[s.stem for s in HERE.glob('bench_*.py')]}")
    readme = README.read_text() if README.exists() else "# Benchmarks\n"
    for script in scripts:
        readme = paste(readme, script.stem.removeprefix("bench_"), run(script))
    README.write_text(readme)
    print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
