"""What the Pulumi CLI runs in this project before the program starts, as the CLI runs it.

`Pulumi.yaml` sets `runtime.options.typechecker`, so before every `pulumi preview` and `pulumi up`
the Python language host runs the type checker over the project directory and stops when it fails.
`make lint` and the tests run the same command through this module, never a subset of it.

Read from pulumi/pulumi `sdk/python/cmd/pulumi-language-python/main.go`, `Run` ("Before running the
command, we might need to run typechecker first"), and `sdk/python/toolchain/uv.go` (`Command`), as
stored by the search tool on 2026-12-07 (the CLI pin is the SDK's, v3.272.0; tools/up.sh):

- the interpreter is the toolchain's: `<virtualenv>/bin/python` (uv: `Command` runs the venv's
  python directly, not `uv run`), with the virtualenv activated in the environment;
- mypy gets `-m mypy --exclude <virtualenv relative to the program directory> <program directory>`;
  pyright gets `-m pyright <program directory>`;
- the working directory is the program directory (`typecheckerCmd.Dir = req.Info.ProgramDirectory`),
  so mypy reads this project's pyproject.toml `[tool.mypy]`, whose `exclude` keeps out what is not
  the program (tests/, benchmarks/) and whose `explicit_package_bases` names policy/__main__.py
  `policy.__main__` instead of a second `__main__`.

`pulumi install` with `toolchain: uv` runs `uv sync` in the project directory with
UV_PROJECT_ENVIRONMENT set to the virtualenv (uv.go `InstallDependencies`), and every run first
`uv venv --quiet --allow-existing <virtualenv>` (`EnsureVenv`): see `install_command`.

    python -m tools.cli_checks typecheck     # what `make lint` runs
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Command:
    argv: list[str]
    cwd: Path
    env: dict[str, str]


def runtime_options(root: Path = ROOT) -> dict[str, Any]:
    project = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))
    runtime = project["runtime"]
    options = runtime.get("options", {}) if isinstance(runtime, dict) else {}
    return dict(options or {})


def virtualenv_path(root: Path, options: Mapping[str, Any]) -> Path:
    """The toolchain's virtualenv: the `virtualenv` option, relative to the project root (uv.go newUv)."""
    venv = Path(str(options.get("virtualenv") or ".venv"))
    return venv if venv.is_absolute() else root / venv


def activated_env(environ: Mapping[str, str], venv: Path) -> dict[str, str]:
    """The language host's ActivateVirtualEnv: VIRTUAL_ENV set, its bin first on PATH, no PYTHONHOME."""
    env = {k: v for k, v in environ.items() if k != "PYTHONHOME"}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *([env["PATH"]] if env.get("PATH") else [])])
    return env


def typecheck_command(root: Path = ROOT, environ: Mapping[str, str] | None = None) -> Command | None:
    """The type checker invocation the CLI makes before running the program, or None without one."""
    options = runtime_options(root)
    typechecker = options.get("typechecker")
    if not typechecker:
        return None
    if typechecker not in ("mypy", "pyright"):
        raise ValueError(f"Pulumi.yaml runtime.options.typechecker: {typechecker!r} (the CLI knows mypy, pyright)")
    venv = virtualenv_path(root, options)
    argv = [str(venv / "bin" / "python"), "-m", str(typechecker)]
    if typechecker == "mypy":
        argv += ["--exclude", os.path.relpath(venv, root)]
    argv.append(str(root))
    return Command(argv, root, activated_env(os.environ if environ is None else environ, venv))


def install_command(root: Path = ROOT, environ: Mapping[str, str] | None = None) -> list[Command]:
    """What `pulumi install` runs with `toolchain: uv` (uv.go InstallDependencies, then EnsureVenv's check)."""
    options = runtime_options(root)
    if options.get("toolchain") != "uv":
        raise ValueError("Pulumi.yaml runtime.options.toolchain is not uv")
    venv = virtualenv_path(root, options)
    env = {**(os.environ if environ is None else environ), "UV_PROJECT_ENVIRONMENT": str(venv)}
    return [Command(["uv", "sync"], root, env)]


def run(command: Command) -> int:
    print("+ " + " ".join(command.argv), file=sys.stderr)
    return subprocess.run(command.argv, cwd=command.cwd, env=command.env, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("check", choices=["typecheck"])
    parser.parse_args(argv)
    command = typecheck_command()
    if command is None:
        print("Pulumi.yaml sets no typechecker: nothing to run", file=sys.stderr)
        return 0
    return run(command)


if __name__ == "__main__":
    raise SystemExit(main())
