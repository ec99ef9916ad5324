"""pytest plugin: the CPU time of every test, its setup and teardown included, written as JSON.

Loaded by benchmarks/suite_speed.py as `-p benchmarks.pytest_cpu` with SUITE_CPU_OUT=<file>. A test
starts processes that outlive it or are never reaped by it (the node simulator's sshd and every
command run over SSH), so the kernel's rusage of reaped children misses them; the CPU is therefore
read from a cgroup the whole pytest process runs in (cgroup v1 cpuacct or v2, as root), which
counts every descendant however it ends. Without one it falls back to this process's rusage plus
that of its reaped children, and says so in the output.

Run it with one worker (`-n 0`): the cgroup counts the whole process tree, so with xdist workers a
test would be charged for whatever the other workers did meanwhile.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

CGROUP_V1 = Path("/sys/fs/cgroup/cpuacct")
CGROUP_V2 = Path("/sys/fs/cgroup")


def _rusage_cpu() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class CpuClock:
    """CPU seconds of this process and every process it starts (a cgroup when it can make one)."""

    def __init__(self) -> None:
        self.group: Path | None = None
        self.v2 = False
        label = f"suite-cpu-{os.getpid()}"
        for root, v2 in ((CGROUP_V1, False), (CGROUP_V2, True)):
            marker = root / ("cgroup.controllers" if v2 else "cpuacct.usage")
            if os.geteuid() != 0 or not marker.exists():
                continue
            try:
                (root / label).mkdir(exist_ok=True)
                (root / label / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                continue
            self.group, self.v2 = root / label, v2
            break

    @property
    def method(self) -> str:
        return "cgroup" if self.group is not None else "rusage (self + reaped children)"

    def seconds(self) -> float:
        if self.group is None:
            return _rusage_cpu()
        if self.v2:
            stat = dict(line.split() for line in (self.group / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
        return int((self.group / "cpuacct.usage").read_text()) / 1e9


class Recorder:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.clock = CpuClock()
        self.start_cpu = self.clock.seconds()
        self.start_wall = time.monotonic()
        self.tests: list[dict[str, Any]] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        cpu, wall = self.clock.seconds(), time.monotonic()
        yield
        self.tests.append(
            {
                "nodeid": item.nodeid,
                "markers": sorted({m.name for m in item.iter_markers()}),
                "cpu": round(self.clock.seconds() - cpu, 3),
                "wall": round(time.monotonic() - wall, 3),
            }
        )

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        doc = {
            "method": self.clock.method,
            "cpu": round(self.clock.seconds() - self.start_cpu, 3),
            "wall": round(time.monotonic() - self.start_wall, 3),
            "exitstatus": int(exitstatus),
            "tests": self.tests,
        }
        self.out.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    out = os.environ.get("SUITE_CPU_OUT")
    if out and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Recorder(Path(out)), "suite-cpu-recorder")
