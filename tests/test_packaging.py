"""The repository's set-up files agree with each other."""

import re

import tomllib
import yaml
from packaging.requirements import Requirement

CONDA_TO_PIP = {"pytorch": "torch"}


def _pyproject(repo):
    return tomllib.loads((repo / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject(repo):
    env = yaml.safe_load((repo / "environment.yml").read_text())
    conda, pip_lines = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines += dep["pip"]
            continue
        name, _, spec = dep.partition(">=")
        conda[CONDA_TO_PIP.get(name, name)] = spec
    for line in pip_lines:  # packages conda-forge lacks come from pip, pinned the same way
        if not line.startswith("-e"):
            name, _, spec = line.split("#")[0].strip().partition(">=")
            conda[name] = spec
    for line in _pyproject(repo)["project"]["dependencies"]:
        req = Requirement(line)
        assert req.name in conda, f"{req.name} is in pyproject.toml but not in environment.yml"
        lower = next((s.version for s in req.specifier if s.operator == ">="), "")
        assert conda[req.name] == lower, f"{req.name}: pyproject >= {lower}, conda >= {conda[req.name]}"
    assert "-e .[book,test]" in pip_lines


def test_torch_is_never_pinned(repo):
    torch_req = next(
        Requirement(d) for d in _pyproject(repo)["project"]["dependencies"] if d.startswith("torch")
    )
    assert not any(s.operator in ("==", "<", "<=", "~=") for s in torch_req.specifier)


def test_book_engine_is_jupyter_book_1(repo):
    book = [Requirement(d) for d in _pyproject(repo)["project"]["optional-dependencies"]["book"]]
    jb = next(r for r in book if r.name == "jupyter-book")
    assert "2.0" not in jb.specifier and "1.0.4" in jb.specifier


def test_ci_runs_the_readme_test_command(repo):
    readme = (repo / "README.md").read_text()
    commands = re.findall(r"^make (\w+)", readme, flags=re.M)
    assert commands[:2] == ["book", "test"], commands
    ci = [ln for ln in (repo / ".ci/run").read_text().splitlines() if ln and not ln.startswith(("#", "set ", "cd "))]
    assert ci == ["make test"]


def test_book_reexecutes_every_chapter_when_topolib_changes(repo):
    """Dropping only the execution cache is not enough: Sphinx keeps the doctrees of pages
    whose source did not change and never re-reads them, so their outputs would come from an
    older topolib."""
    recipe = (repo / "Makefile").read_text().split("\nbook:", 1)[1].split("\n\n", 1)[0]
    drop = next(line for line in recipe.splitlines() if "rm -rf" in line)
    assert "_build/.jupyter_cache" in drop and "_build/.doctrees" in drop
    assert "TOPOLIB_HASH" in recipe
