"""tools/up.sh (`make up/preview/refresh/destroy`) against a stub Pulumi CLI (tests/support/stub_pulumi.py).

What must hold, and why:
- only `make up` creates a stack, and only on purpose (Pulumi.<stack>.yaml exists, or CREATE=1):
  `make destroy STACK=prod` with a typo used to create `prod`, destroy nothing and exit 0;
- a stack that does not exist is named together with the stacks that do;
- the CLI's errors reach the terminal (nothing is sent to /dev/null);
- pending operations from an interrupted run stop `make up` before `pulumi up`, with the recovery;
- `make destroy` asks (or takes CONFIRM=<stack>), then lifts the protection and destroys;
- one backend: the one `make up` used is the one every `pulumi` command the docs print (and the
  `pulumi config set` hints of the program) uses when typed in the repository root.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.stack import OUTPUT_KEYS, SECRET_OUTPUT_KEYS
from tests.support import stub_pulumi
from tests.support.paths import ROOT

MAKE_BACKEND = f"file://{ROOT}/.pulumi-state"
URN = "urn:pulumi:dev::gitops-cluster::aws:ec2/instance:Instance::gitops-cp-1"


def _stack(outputs: dict[str, Any] | None = None, pending: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"outputs": outputs or {}, "secrets": list(SECRET_OUTPUT_KEYS), "pending_operations": pending or []}


class Env:
    def __init__(self, tmp_path: Path, stacks: dict[str, Any], backend: str = MAKE_BACKEND) -> None:
        self.world, self.log = tmp_path / "world.json", tmp_path / "calls.jsonl"
        self.world.write_text(json.dumps({backend: {"stacks": stacks, "current": None}}), encoding="utf-8")
        home = tmp_path / "home"
        home.mkdir()
        drop = {"PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "UV", "MAKEFLAGS", "MFLAGS", "CONFIRM", "CREATE"}
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env.update(stub_pulumi.install(tmp_path / "bin", self.world, self.log))
        self.env.update(
            HOME=str(home),
            PATH=f"{tmp_path / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            AWS_PROFILE="test",
            PULUMI_CONFIG_PASSPHRASE="x",
        )

    def up_sh(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tools/up.sh", *args],
            cwd=ROOT,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def argvs(self) -> list[list[str]]:
        return [c["argv"] for c in stub_pulumi.calls(self.log)]

    def stacks(self, backend: str = MAKE_BACKEND) -> set[str]:
        return set(json.loads(self.world.read_text(encoding="utf-8"))[backend]["stacks"])


@pytest.mark.parametrize("mode", ["preview", "refresh", "destroy", "up"])
def test_a_missing_stack_is_never_created_by_a_typo_and_the_existing_ones_are_named(tmp_path: Path, mode: str) -> None:
    env = Env(tmp_path, {"dev": _stack(), "staging": _stack()})
    proc = env.up_sh(mode, "prod", CONFIRM="prod")
    assert proc.returncode == 1, proc.stderr
    assert f"make {mode}: the backend {MAKE_BACKEND} has no stack 'prod'" in proc.stderr
    assert "Stacks there: dev, staging." in proc.stderr
    assert env.stacks() == {"dev", "staging"}
    assert [a for a in env.argvs() if a[:2] != ["stack", "ls"]] == [], "ran more than `stack ls`"


def test_up_creates_a_stack_only_on_purpose(tmp_path: Path) -> None:
    env = Env(tmp_path, {})
    # dev has a committed Pulumi.dev.yaml: its first `make up` creates it.
    assert (ROOT / "Pulumi.dev.yaml").is_file()
    proc = env.up_sh("up", "dev")
    assert proc.returncode == 0, proc.stderr
    assert ["stack", "init", "dev"] in env.argvs() and ["up", "--stack", "dev"] in env.argvs()
    # qa has no stack file: refused, unless CREATE=1.
    assert env.up_sh("up", "qa").returncode == 1
    assert "qa" not in env.stacks()
    assert env.up_sh("up", "qa", CREATE="1").returncode == 0
    assert "qa" in env.stacks()


def test_the_clis_errors_are_shown(tmp_path: Path) -> None:
    env = Env(tmp_path, {"dev": _stack()})
    proc = env.up_sh("preview", "dev", PULUMI_BACKEND_URL="https://api.pulumi.com")
    assert proc.returncode != 0
    assert "error: PULUMI_ACCESS_TOKEN must be set for login" in proc.stderr


def test_pending_operations_stop_up_with_the_recovery_steps(tmp_path: Path) -> None:
    pending = [{"resource": {"urn": URN, "type": "aws:ec2/instance:Instance"}, "type": "creating"}]
    env = Env(tmp_path, {"dev": _stack(pending=pending)})
    proc = env.up_sh("up", "dev")
    assert proc.returncode == 1
    assert f"  - {URN} (interrupted while creating)" in proc.stderr
    assert "pulumi refresh --stack dev --clear-pending-creates" in proc.stderr
    assert "--import-pending-creates '<URN>' --import-pending-creates '<ID>'" in proc.stderr
    assert not [a for a in env.argvs() if a[:1] == ["up"]], "pulumi up ran over pending operations"
    # Once recovered (no pending operation), the same make up runs.
    env.world.write_text(json.dumps({MAKE_BACKEND: {"stacks": {"dev": _stack()}, "current": None}}), encoding="utf-8")
    assert env.up_sh("up", "dev").returncode == 0
    assert ["up", "--stack", "dev"] in env.argvs()


def test_destroy_asks_then_lifts_the_protection_then_destroys(tmp_path: Path) -> None:
    env = Env(tmp_path, {"dev": _stack()})
    refused = env.up_sh("destroy", "dev")
    assert refused.returncode == 1 and "CONFIRM=dev" in refused.stderr
    assert not [a for a in env.argvs() if a[:1] in (["destroy"], ["state"])]
    assert env.up_sh("destroy", "dev", CONFIRM="dev").returncode == 0
    tail = [a for a in env.argvs() if a[:1] in (["destroy"], ["state"])]
    assert tail == [
        ["state", "unprotect", "--all", "--yes", "--stack", "dev"],
        ["destroy", "--stack", "dev", "--run-program"],
    ]


# --- one backend for make and for every command the docs print --------------------------------------

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# A documented command: a code span or a line of a shell block that runs `pulumi` (not the
# `/pulumi up` pull-request comments, not `pulumi login`, which the docs name as what not to do,
# not `pulumi install`, which needs no backend).
_SPAN = re.compile(r"`([^`\n]+)`")
_SKIP = re.compile(r"^pulumi (login|install)\b")


def _substitutions(snippet: str) -> list[str]:
    """The snippet with each `$(...)` replaced by a word, then each substitution's own command."""
    out, inner, depth, start = [], [], 0, 0
    i = 0
    while i < len(snippet):
        if snippet.startswith("$(", i):
            if depth == 0:
                out.append(snippet[start:i])
                start = i + 2
            depth += 1
            i += 2
            continue
        if snippet[i] == ")" and depth:
            depth -= 1
            if depth == 0:
                inner.append(snippet[start:i])
                out.append("x")
                start = i + 1
        i += 1
    out.append(snippet[start:])
    return ["".join(out)] + [command for sub in inner for command in _substitutions(sub)]


def _documented_commands() -> list[tuple[str, str]]:
    found: dict[tuple[str, str], None] = {}
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        blocks = re.findall(r"```(?:sh|bash|shell)\n(.*?)```", text, re.S)
        candidates = list(_SPAN.findall(re.sub(r"```.*?```", "", text, flags=re.S)))
        candidates += [line for block in blocks for line in block.splitlines()]
        for snippet in (inner for candidate in candidates for inner in _substitutions(candidate)):
            for part in re.split(r"&&|\|\||[;|()]", snippet):
                command = part.split("#")[0].strip()
                if command.startswith("pulumi ") and not _SKIP.match(command):
                    found[(doc.name, command)] = None
    # The fixes the program prints for bad config (components/): `pulumi config set ...`.
    for source in sorted((ROOT / "components").rglob("*.py")):
        for command in re.findall(r"`(pulumi config set[^`]*)`", source.read_text(encoding="utf-8")):
            found[(source.name, command)] = None
    return list(found)


def _argv(command: str) -> list[str]:
    """The words of a documented command, placeholders filled, redirections dropped."""
    filled = re.sub(r"<[^<>]*stack[^<>]*>", "dev", command)
    filled = re.sub(r"<[^<>]+>", "x", filled).replace("\\", "")
    words = shlex.split(filled)
    cut = next((i for i, w in enumerate(words) if w in ("<", ">", ">>", "2>")), len(words))
    return words[:cut]


COMMANDS = _documented_commands()


def test_the_docs_print_commands_that_talk_to_a_backend() -> None:
    assert len(COMMANDS) >= 10, COMMANDS
    assert any(c.startswith("pulumi config set") for _, c in COMMANDS)
    assert any(c.startswith("pulumi stack output") for _, c in COMMANDS)


def test_every_documented_pulumi_command_uses_the_backend_make_up_used(tmp_path: Path) -> None:
    # The program's outputs contract (components/stack.py), as after a `make up`.
    outputs = {key: f"value-of-{key}" for key in (*OUTPUT_KEYS, *SECRET_OUTPUT_KEYS)}
    env = Env(tmp_path, {"dev": _stack(outputs)})
    assert env.up_sh("up", "dev").returncode == 0
    made_by_make = {c["backend"] for c in stub_pulumi.calls(env.log)}
    assert made_by_make == {MAKE_BACKEND}
    wrong = []
    for where, command in COMMANDS:
        before = len(stub_pulumi.calls(env.log))
        proc = subprocess.run(_argv(command), cwd=ROOT, env=env.env, capture_output=True, text=True, timeout=30)
        call = stub_pulumi.calls(env.log)[before]
        if call["backend"] != MAKE_BACKEND or (proc.returncode != 0 and "stack init" not in command):
            wrong.append(f"{where}: `{command}` -> {call['backend'] or '(none)'} ({call['source']}): {proc.stderr}")
    assert not wrong, "documented commands that miss the state `make up` wrote:\n" + "\n".join(wrong)


def test_a_team_backend_is_used_by_make_and_plain_commands_alike(tmp_path: Path) -> None:
    team = "s3://team-state/gitops-cluster?region=ap-northeast-2"
    env = Env(tmp_path, {"dev": _stack({"backupBucket": "b"})}, backend=team)
    assert env.up_sh("up", "dev", PULUMI_BACKEND_URL=team).returncode == 0
    env.env["PULUMI_BACKEND_URL"] = team
    subprocess.run(["pulumi", "stack", "output", "backupBucket"], cwd=ROOT, env=env.env, check=True, timeout=30)
    assert {c["backend"] for c in stub_pulumi.calls(env.log)} == {team}


@pytest.mark.parametrize("target", ["outputs", "kubeconfig"])
def test_make_outputs_and_kubeconfig_use_the_same_backend(tmp_path: Path, target: str) -> None:
    env = Env(tmp_path, {"dev": _stack({"kubeconfig": "apiVersion: v1\nkind: Config\n", "vpcId": "vpc-1"})})
    proc = subprocess.run(
        ["make", "--no-print-directory", target, "STACK=dev", "-o", "venv"],
        cwd=ROOT,
        env=env.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    backends = {c["backend"] for c in stub_pulumi.calls(env.log) if c["argv"][:1] != ["version"]}
    assert backends == {MAKE_BACKEND}
    if target == "outputs":
        assert json.loads(proc.stdout) == {"kubeconfig": "[secret]", "vpcId": "vpc-1"}
    else:
        written = ROOT / "build" / "kubeconfig-dev"
        assert proc.stdout.strip() == "build/kubeconfig-dev"
        assert oct(written.stat().st_mode & 0o777) == "0o600"
        written.unlink()
