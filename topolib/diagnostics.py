"""``topolib.doctor()``: what is installed, what will run where, and fixes for known problems."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass, field

__all__ = ["DoctorReport", "doctor"]

PACKAGES = (
    "topolib", "torch", "numpy", "scipy", "matplotlib", "plotly", "ripser", "persim", "tqdm",
    "jupyter-book", "ipykernel",
)
REQUIRED = {"torch", "numpy", "scipy", "matplotlib", "plotly", "ripser", "persim", "tqdm"}


@dataclass
class DoctorReport:
    """What :func:`doctor` found. ``problems`` pairs each problem with its fix."""

    versions: dict[str, str | None]
    python: str
    platform: str
    device: str
    profile: str
    profile_source: str
    cache_dir: str
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        width = max(len(name) for name in self.versions)
        lines = [
            f"python    {self.python}",
            f"platform  {self.platform}",
            f"device    {self.device}",
            f"profile   {self.profile}  ({self.profile_source})",
            f"cache     {self.cache_dir}",
            "",
            "packages",
        ]
        lines += [f"  {n:<{width}}  {v or 'not installed'}" for n, v in self.versions.items()]
        lines.append("")
        if self.ok:
            lines.append("No known problems found.")
        for problem, fix in self.problems:
            lines += [f"PROBLEM  {problem}", f"  FIX    {fix}"]
        return "\n".join(lines)


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _check(report: DoctorReport) -> None:
    missing = sorted(n for n in REQUIRED if report.versions.get(n) is None)
    if missing:
        report.problems.append((
            f"missing required packages: {', '.join(missing)}",
            "pip install -e . from the repository root (or the setup cell of any chapter)",
        ))
    try:
        import torch
    except ImportError:
        return
    if torch.version.cuda and not torch.cuda.is_available():
        report.problems.append((
            f"this torch is a CUDA build ({torch.version.cuda}) but no GPU is usable here; "
            "it costs several GB and brings no speed",
            "pip uninstall torch, then pip install a CPU build "
            "(pip install torch --index-url https://download.pytorch.org/whl/cpu)",
        ))
    if report.profile.startswith("gpu") and not torch.cuda.is_available():
        report.problems.append((
            "the gpu profile is selected but CUDA is not available: chapters will be very slow",
            "unset TOPOLIB_PROFILE or set TOPOLIB_PROFILE=cpu; on Colab choose "
            "Runtime > Change runtime type > GPU",
        ))
    if report.versions.get("jupyter-book", "") and report.versions["jupyter-book"].startswith("2"):
        report.problems.append((
            "Jupyter Book 2.x is installed; this book is built with 1.x (2.x fetches its theme "
            "from the internet and ignores _config.yml)",
            "pip install 'jupyter-book>=1.0.4,<2'",
        ))


def doctor(print_report: bool = True) -> DoctorReport:
    """Print versions, device, profile, cache folder and the fix for any known setup problem.

    Parameters
    ----------
    print_report : print the report (default) as well as returning it.
    """
    from topolib.cache import default_cache_dir
    from topolib.profiles import get_profile, profile_source

    versions = {name: _version(name) for name in PACKAGES}
    problems: list[tuple[str, str]] = []
    try:
        profile = get_profile().label  # "gpu SMOKE RUN" in smoke mode
    except ValueError as err:
        profile = "invalid"
        fix = ("set TOPOLIB_SMOKE to 0 or 1, or unset it" if "TOPOLIB_SMOKE" in str(err) else
               "set TOPOLIB_PROFILE to fast, cpu or gpu, or unset it")
        problems.append((str(err), fix))
    try:
        from topolib.device import device_name, get_device

        device = device_name(get_device())
    except (ImportError, ValueError) as err:
        device = "unavailable"
        problems.append((str(err), "unset TOPOLIB_DEVICE or set it to cpu"))
    try:
        cache_dir = default_cache_dir()
    except ValueError:  # a bad TOPOLIB_SMOKE, reported above
        cache_dir = None
    if cache_dir is not None and cache_dir.exists() and not (cache_dir.is_dir() and os.access(cache_dir, os.W_OK)):
        problems.append((
            f"the model cache {str(cache_dir)!r} is not a writable folder",
            "set TOPOLIB_CACHE to a writable folder",
        ))
    report = DoctorReport(
        versions=versions,
        python=sys.version.split()[0],
        platform=platform.platform(),
        device=device,
        profile=profile,
        profile_source=profile_source(),
        cache_dir="unknown (see the problems)" if cache_dir is None else str(cache_dir),
        problems=problems,
    )
    _check(report)
    if print_report:
        print(report)
    return report
