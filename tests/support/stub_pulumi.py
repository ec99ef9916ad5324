"""A stand-in for the `pulumi` CLI: records which backend each call would use, answers what tools here ask.

Put on PATH by `install()` (a `pulumi` shell wrapper that runs this file). It keeps a small world
in $STUB_PULUMI_WORLD (JSON: backend URL -> stacks -> outputs, secret output names, pending
operations) and appends one JSON line per call to $STUB_PULUMI_LOG: argv, cwd, and the backend.

Written from pulumi/pulumi at the SDK's pin v3.272.0 (read through the search tool, 2026-12-07):
- the backend: PULUMI_BACKEND_URL, else the project's Pulumi.yaml `backend.url` (the project is
  found searching upward from the working directory, or from --cwd/-C), else the stored login's
  `current` in ~/.pulumi/credentials.json (sdk/go/common/workspace/creds.go
  GetCurrentCloudURLWithSource); a relative `file://` path is made absolute against the working
  directory (pkg/backend/diy/backend.go massageBlobPath, filepath.Abs), and the folder must exist
  ("unable to open bucket", pulumi/pulumi#15841);
- a missing stack: `error: no stack named '<name>' found` (pkg/cmd/pulumi/stack/stack_select.go);
- the JSON of `stack ls --json`, `stack output --json [--show-secrets]` (secrets masked as
  "[secret]") and `stack export` in the shapes the pinned Automation API parses
  (pulumi/automation/_local_workspace.py: list_stacks, stack_outputs, export_stack), so tests can
  drive the real `pulumi.automation` classes against it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import yaml

VERSION = "v3.272.0"
SECRET = "[secret]"  # pulumi/automation/_local_workspace.py _SECRET_SENTINEL
# Flags that take a value (the rest are booleans); enough for the commands this project prints.
VALUE_FLAGS = {
    "--stack",
    "-s",
    "--cwd",
    "-C",
    "--color",
    "--message",
    "-m",
    "--policy-pack",
    "--config-file",
    "--target",
    "-t",
    "--parallel",
    "-p",
    "--secrets-provider",
    "--import-pending-creates",
    "--exclude",
    "--file",
}


def install(bin_dir: Path, world: Path, log: Path) -> dict[str, str]:
    """Write the `pulumi` wrapper into bin_dir; returns the environment entries that point at it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "pulumi"
    wrapper.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    if not world.exists():
        world.write_text("{}", encoding="utf-8")
    return {"STUB_PULUMI_WORLD": str(world), "STUB_PULUMI_LOG": str(log)}


def calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _project_file(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        for name in ("Pulumi.yaml", "Pulumi.yml"):
            if (folder / name).is_file():
                return folder / name
    return None


def resolve_backend(cwd: Path, environ: dict[str, str]) -> tuple[str, str]:
    """(backend URL, where it came from) as the CLI resolves it."""
    url, source = environ.get("PULUMI_BACKEND_URL", ""), "env"
    if not url:
        project = _project_file(cwd)
        if project is not None:
            doc = yaml.safe_load(project.read_text(encoding="utf-8")) or {}
            url, source = str((doc.get("backend") or {}).get("url") or ""), "project"
    if not url:
        creds = Path(environ.get("PULUMI_HOME") or Path(environ.get("HOME", "/nonexistent")) / ".pulumi")
        creds = creds / "credentials.json"
        current = json.loads(creds.read_text(encoding="utf-8")).get("current", "") if creds.is_file() else ""
        url, source = current, "credentials"
    if url.startswith("file://"):
        path, _, query = url.removeprefix("file://").partition("?")
        path = os.path.expanduser(path)
        url = "file://" + os.path.abspath(os.path.join(cwd, path)) + (f"?{query}" if query else "")
    return url, source


def _parse(argv: list[str]) -> tuple[list[str], dict[str, list[str]], set[str]]:
    words: list[str] = []
    values: dict[str, list[str]] = {}
    flags: set[str] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and arg != "-":
            name, eq, value = arg.partition("=")
            if eq:
                values.setdefault(name, []).append(value)
            elif name in VALUE_FLAGS and i + 1 < len(argv):
                values.setdefault(name, []).append(argv[i + 1])
                i += 1
            else:
                flags.add(name)
        else:
            words.append(arg)
        i += 1
    return words, values, flags


def _fail(message: str, code: int = 255) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    words, values, flags = _parse(argv)
    cwd = Path(values.get("--cwd", values.get("-C", [os.getcwd()]))[-1]).resolve()
    environ = dict(os.environ)
    backend, source = resolve_backend(cwd, environ)
    log = environ.get("STUB_PULUMI_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            entry = {"argv": argv, "cwd": str(cwd), "backend": backend, "source": source, "uv": shutil.which("uv")}
            handle.write(json.dumps(entry) + "\n")
    if words[:1] == ["version"]:
        print(VERSION)
        return 0
    world_file = Path(environ["STUB_PULUMI_WORLD"])
    world: dict[str, Any] = json.loads(world_file.read_text(encoding="utf-8"))
    if not backend or (backend.startswith("https://") and not environ.get("PULUMI_ACCESS_TOKEN")):
        return _fail("PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions")
    if backend.startswith("file://") and not Path(backend.removeprefix("file://").partition("?")[0]).is_dir():
        return _fail(f"unable to open bucket {backend}: no such file or directory")
    here = world.setdefault(backend, {"stacks": {}, "current": None})
    stacks: dict[str, Any] = here["stacks"]
    stack_flag = values.get("--stack", values.get("-s", []))
    named = stack_flag[-1] if stack_flag else None

    def save() -> None:
        world_file.write_text(json.dumps(world), encoding="utf-8")

    def target() -> str | None:
        return named or here.get("current")

    if words[:2] == ["stack", "ls"]:
        print(json.dumps([{"name": n, "current": n == here.get("current")} for n in stacks]))
        return 0
    if words[:2] in (["stack", "init"], ["stack", "select"]):
        name = words[2] if len(words) > 2 else named
        if not name:
            return _fail("a stack name is required (non-interactive)")
        if words[1] == "init" or "--create" in flags:
            if words[1] == "init" and name in stacks:
                return _fail(f"stack '{name}' already exists")
            stacks.setdefault(name, {"outputs": {}, "secrets": [], "pending_operations": []})
        if name not in stacks:
            return _fail(f"no stack named '{name}' found")
        here["current"] = name
        save()
        return 0
    name = target()
    if name is None:
        return _fail("no stack selected; please use `pulumi stack select`")
    if name not in stacks:
        return _fail(f"no stack named '{name}' found")
    stack = stacks[name]
    if words[:2] == ["stack", "output"]:
        shown = "--show-secrets" in flags
        outputs = {k: (v if shown or k not in stack["secrets"] else SECRET) for k, v in stack["outputs"].items()}
        if len(words) > 2:
            if words[2] not in outputs:
                return _fail(f"current stack does not have output property '{words[2]}'")
            value = outputs[words[2]]
            print(json.dumps(value) if "--json" in flags else value)
        else:
            print(json.dumps(outputs, indent=2))
        return 0
    if words[:2] == ["stack", "export"]:
        deployment: dict[str, Any] = {"manifest": {}, "resources": []}
        if stack["pending_operations"]:
            deployment["pending_operations"] = stack["pending_operations"]
        print(json.dumps({"version": 3, "deployment": deployment}))
        return 0
    # up, preview, refresh, destroy, config set, state unprotect, ...: recorded above; succeed.
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
