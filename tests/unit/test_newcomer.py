"""The newcomer path: what a first `make up` or `python __main__.py` says on a machine that lacks something.

What must hold, and why:
- `make up` / `make preview` / `make destroy` check the Pulumi CLI and AWS credentials before they
  install anything (the virtualenv, uv) and stop with the exact fix: the install command of the CLI
  version the SDK pins, or how to get credentials;
- with both present, tools/up.sh runs Pulumi against the backend the CLI resolves (here a given
  PULUMI_BACKEND_URL): it never runs `pulumi login`, which would change the user's global login;
- `python __main__.py` outside the engine says, in one line and with a non-zero exit, how to run it;
- the program checks that ansible-playbook exists before it registers any resource (the provider
  included), and finds it the way the playbook command's script does.
(How fast the missing-CLI stop is, is measured by benchmarks/newcomer_path.py, not by a timed test.)
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pulumi
import pytest

from components.playbooks import playbook_script, require_ansible_playbook
from tests.support import stub_pulumi
from tests.support.paths import ROOT
from tools.mockrun import run_program

SDK_VERSION = next(
    d.split("==")[1]
    for d in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    if d.startswith("pulumi==")
)
CLI_FIX = f"curl -fsSL https://get.pulumi.com | sh -s -- --version {SDK_VERSION}"
AWS_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "PULUMI_BACKEND_URL",
    "UV",
    "MAKEFLAGS",
    "MFLAGS",
)


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _env(tmp_path: Path, *, pulumi_cli: bool, aws: bool) -> dict[str, str]:
    """A machine like a newcomer's: an empty HOME, only system tools on PATH, maybe a fake CLI."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    fakebin = tmp_path / "bin"
    fakebin.mkdir(exist_ok=True)
    if pulumi_cli:
        _executable(
            fakebin / "pulumi",
            '#!/usr/bin/env bash\nprintf "%s|%s|%s\\n" "$*" "$PULUMI_BACKEND_URL" "$(command -v uv || true)"'
            f" >> {tmp_path}/pulumi.log\n",
        )
    env = {k: v for k, v in os.environ.items() if k not in AWS_KEYS}
    env.update(HOME=str(home), PATH=f"{fakebin}:/usr/local/bin:/usr/bin:/bin", PULUMI_CONFIG_PASSPHRASE="x")
    if aws:
        env["AWS_PROFILE"] = "newcomer"
    return env


@pytest.mark.parametrize("verb", ["up", "preview", "refresh", "destroy"])
def test_make_stops_without_the_cli_before_installing_anything(tmp_path: Path, verb: str) -> None:
    venv, uv_home = tmp_path / "venv", tmp_path / "uv"
    proc = subprocess.run(
        ["make", "--no-print-directory", verb, f"VENV={venv}", f"UV_HOME={uv_home}"],
        cwd=ROOT,
        env=_env(tmp_path, pulumi_cli=False, aws=True),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert f"make {verb}: the Pulumi CLI is not installed" in proc.stderr
    assert f"    {CLI_FIX}\n" in proc.stderr, proc.stderr
    assert not venv.exists() and not uv_home.exists(), "make installed before it checked the CLI"
    assert "pip" not in proc.stdout + proc.stderr and "uv sync" not in proc.stdout + proc.stderr


def test_make_stops_without_aws_credentials_before_installing_anything(tmp_path: Path) -> None:
    venv, uv_home = tmp_path / "venv", tmp_path / "uv"
    proc = subprocess.run(
        ["make", "--no-print-directory", "up", f"VENV={venv}", f"UV_HOME={uv_home}"],
        cwd=ROOT,
        env=_env(tmp_path, pulumi_cli=True, aws=False),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "make up: no AWS credentials found" in proc.stderr
    assert "aws configure sso" in proc.stderr
    assert "Pulumi CLI is not installed" not in proc.stderr
    assert not venv.exists() and not uv_home.exists()
    assert not (tmp_path / "pulumi.log").exists(), "Pulumi ran without credentials"


def test_make_checks_then_installs_then_deploys_in_that_order() -> None:
    # -n prints the recipe lines (the recursive `make venv` prints its own); the order must hold
    # under -j too, which is why the three steps are lines of one recipe, not prerequisites.
    proc = subprocess.run(
        ["make", "-n", "-B", "--no-print-directory", "up"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    lines = proc.stdout.splitlines()
    check = next(i for i, line in enumerate(lines) if "tools/up.sh --check up" in line)
    install = next(i for i, line in enumerate(lines) if "uv sync --locked" in line)
    deploy = next(i for i, line in enumerate(lines) if re.search(r"tools/up\.sh up ", line))
    assert check < install < deploy, lines


def test_up_uses_the_backend_for_this_invocation_only_and_never_logs_in(tmp_path: Path) -> None:
    env = _env(tmp_path, pulumi_cli=False, aws=True)
    state = tmp_path / "state"
    world, log = tmp_path / "world.json", tmp_path / "calls.jsonl"
    env.update(stub_pulumi.install(tmp_path / "bin", world, log))
    uv = _executable(tmp_path / "uvhome" / "bin" / "uv", "#!/bin/sh\n")
    env.update(PULUMI_BACKEND_URL=f"file://{state}", UV=str(uv))
    proc = subprocess.run(
        ["tools/up.sh", "up", "dev"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    calls = stub_pulumi.calls(log)
    assert [c["argv"] for c in calls] == [
        ["stack", "ls", "--json"],
        ["stack", "init", "dev"],
        ["stack", "select", "dev"],
        ["stack", "export", "--stack", "dev"],
        ["up", "--stack", "dev"],
    ], proc.stderr
    assert {c["backend"] for c in calls} == {f"file://{state}"}
    # Pulumi.yaml's toolchain runs the program through uv: the pinned one comes first on PATH.
    assert {c["uv"] for c in calls} == {str(uv)}
    assert not any(c["argv"][:1] == ["login"] for c in calls)
    assert state.is_dir()
    assert not (Path(env["HOME"]) / ".pulumi").exists()


def test_up_check_only_runs_no_pulumi_command(tmp_path: Path) -> None:
    env = _env(tmp_path, pulumi_cli=True, aws=True)
    subprocess.run(["tools/up.sh", "--check", "up"], cwd=ROOT, env=env, check=True, timeout=30)
    assert not (tmp_path / "pulumi.log").exists()


def test_main_outside_the_engine_says_how_to_run_it() -> None:
    proc = subprocess.run(
        [sys.executable, "__main__.py"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "make up" in lines[0] and "make preview-offline" in lines[0] and "Traceback" not in proc.stderr


# --- ansible-playbook before the first resource -----------------------------------------------------


def test_ansible_playbook_is_found_in_the_projects_virtualenv_first(tmp_path: Path) -> None:
    in_venv = _executable(tmp_path / ".venv" / "bin" / "ansible-playbook", "#!/bin/sh\n")
    _executable(tmp_path / "path" / "ansible-playbook", "#!/bin/sh\n")
    assert require_ansible_playbook(tmp_path, path=str(tmp_path / "path")) == str(in_venv)
    # The playbook command's script looks in the same place first.
    assert "if [ -x .venv/bin/ansible-playbook ]" in playbook_script(forks=1)


def test_ansible_playbook_on_path_is_enough(tmp_path: Path) -> None:
    on_path = _executable(tmp_path / "path" / "ansible-playbook", "#!/bin/sh\n")
    assert require_ansible_playbook(tmp_path, path=str(tmp_path / "path")) == str(on_path)


def test_without_ansible_playbook_the_error_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "path").mkdir()
    fix = r"ansible-playbook is not installed.*`make venv` \(or `pulumi install`\)"
    with pytest.raises(pulumi.RunError, match=fix):
        require_ansible_playbook(tmp_path, path=str(tmp_path / "path"))


def test_without_ansible_playbook_the_program_registers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import components.playbooks

    monkeypatch.setattr(components.playbooks, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pulumi.RunError, match="ansible-playbook is not installed") as info:
        run_program("dev")
    registered = [r.short for r in info.value.recording.resources]  # type: ignore[attr-defined]
    assert registered == [], f"registered before the ansible-playbook check: {registered}"
