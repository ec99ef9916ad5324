"""What the Pulumi CLI runs before the program starts, run here exactly as the CLI runs it.

The Python language host (pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go, `Run`, the
block "Before running the command, we might need to run typechecker first"; toolchain
sdk/python/toolchain/uv.go `Command`, read through the search tool 2026-12-07, CLI pin v3.272.0)
runs, for `typechecker: mypy` and `toolchain: uv`:

    <virtualenv>/bin/python -m mypy --exclude <virtualenv relative to the program dir> <program dir>

with the working directory set to the program directory and the virtualenv activated. A failure
stops every `pulumi preview` and `pulumi up` before the program runs, so the tests run that very
command over this tree, and `make lint` runs it too (never a list of chosen paths).

`pulumi install` with `toolchain: uv` runs `uv sync` in the project directory with
UV_PROJECT_ENVIRONMENT=<virtualenv> (uv.go `InstallDependencies`); here in check mode and offline:
it must find the .venv `make venv` built already in sync with uv.lock, with nothing to fetch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.support.paths import ROOT
from tests.support.prereqs import require
from tools import cli_checks

UV = os.environ.get("UV") or str(next(iter(sorted((ROOT / ".cache").glob("uv-*/bin/uv"))), ""))


def test_the_typechecker_command_is_the_language_hosts() -> None:
    options = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["runtime"]["options"]
    assert options["typechecker"] == "mypy"
    command = cli_checks.typecheck_command(ROOT, environ={"PATH": "/usr/bin", "PYTHONHOME": "/x"})
    assert command is not None
    venv = ROOT / options["virtualenv"]
    assert command.argv == [str(venv / "bin" / "python"), "-m", "mypy", "--exclude", ".venv", str(ROOT)]
    assert command.cwd == ROOT
    assert command.env["VIRTUAL_ENV"] == str(venv)
    assert command.env["PATH"].split(os.pathsep)[0] == str(venv / "bin")
    assert "PYTHONHOME" not in command.env


def test_the_whole_project_passes_the_clis_typechecker() -> None:
    command = cli_checks.typecheck_command(ROOT)
    assert command is not None
    require(Path(command.argv[0]).is_file(), f"{command.argv[0]} is missing (run `make venv`)")
    proc = subprocess.run(command.argv, cwd=command.cwd, env=command.env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        "the Pulumi CLI would stop every preview and up here:\n" + proc.stdout[-4000:] + proc.stderr[-2000:]
    )


def test_make_lint_runs_the_clis_typechecker_command() -> None:
    proc = subprocess.run(
        ["make", "-n", "lint", "-o", "venv"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert ".venv/bin/python -m tools.cli_checks typecheck" in proc.stdout
    assert not [line for line in proc.stdout.splitlines() if "mypy" in line], "make lint runs another mypy"


def test_pulumi_install_with_uv_finds_the_venv_in_sync_offline() -> None:
    require(bool(UV) and Path(UV).is_file(), "the pinned uv is not under .cache/ (run `make venv`)")
    (command,) = cli_checks.install_command(ROOT)
    assert command.argv == ["uv", "sync"]
    assert command.env["UV_PROJECT_ENVIRONMENT"] == str(ROOT / ".venv")
    assert command.cwd == ROOT
    argv = [UV, *command.argv[1:], "--check", "--offline"]
    proc = subprocess.run(argv, cwd=command.cwd, env=command.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Would make no changes" in proc.stderr, proc.stderr


def test_the_projects_mypy_settings_check_a_new_package_and_keep_tests_out(tmp_path: Path) -> None:
    """Under this project's settings the CLI's command checks any new directory (a second `__main__`
    included, which is no duplicate with explicit_package_bases) and leaves tests/ out."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "Pulumi.yaml"):
        shutil.copy(ROOT / name, project / name)
    (project / "__main__.py").write_text("import extra.tool\n", encoding="utf-8")
    for rel, text in {
        "policy/__main__.py": "y: int = 1\n",
        "extra/__main__.py": "x: int = 'not an int'\n",
        "extra/tool.py": "z: str = 'fine'\n",
        "tests/test_x.py": "def untyped(a): return a\n",
    }.items():
        (project / rel).parent.mkdir(exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    command = cli_checks.typecheck_command(project)
    assert command is not None
    argv = [str(ROOT / ".venv" / "bin" / "python"), *command.argv[1:]]
    proc = subprocess.run(argv, cwd=command.cwd, env=command.env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Duplicate module" not in proc.stdout
    assert "extra/__main__.py:1: error: Incompatible types in assignment" in proc.stdout
    assert "tests/" not in proc.stdout
