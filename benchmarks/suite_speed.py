"""The suite's CPU per test and per tier, and the wall-time floor it implies on this machine.

Runs pytest in one process (`-n 0`) with benchmarks/pytest_cpu.py, which charges every test the
CPU of every process it started (a cgroup as root: the node simulator's hosts included), then
groups the tests into tiers by marker:

- `simulator`: the node simulator (ansible/site.yml and upgrade.yml against simulated hosts);
- `ansible`: real Ansible role runs, ansible-lint, the syntax check;
- the rest: the program under mocks, the config battery, charts, manifests, workflows, tools.

The floor of `make test`'s wall time on N cores is the larger of the total CPU / N (perfect
spreading, no worker start-up) and the CPU of the largest unit xdist cannot split (a scenario
module of tests/conftest.py's ONE_WORKER_MODULES runs on one worker: the serial tail); the tier
and unit tables say where a cut would pay. CPU, not wall time, is what this
shared machine can measure honestly; the wall time of the serial run is printed for reference.

Usage:
    .venv/bin/python benchmarks/suite_speed.py [pytest args, e.g. -m "not simulator"]
    .venv/bin/python benchmarks/suite_speed.py --from build/suite-cpu.json   # report an earlier run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TIERS = ("simulator", "ansible")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.support.scheduling import ONE_WORKER_MODULES  # noqa: E402  (the scheduler's own table)


def tier(test: dict[str, Any]) -> str:
    return next((t for t in TIERS if t in test["markers"]), "rest")


def report(doc: dict[str, Any], cores: int) -> str:
    tests = doc["tests"]
    by_tier: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_module: dict[str, float] = defaultdict(float)
    for t in tests:
        by_tier[tier(t)].append(t)
        by_module[t["nodeid"].split("::", 1)[0]] += t["cpu"]
    total = sum(t["cpu"] for t in tests)
    units: dict[str, float] = defaultdict(float)
    for t in tests:
        module = t["nodeid"].split("::", 1)[0]
        units[module if module in ONE_WORKER_MODULES else t["nodeid"]] += t["cpu"]
    tail_unit, tail = max(units.items(), key=lambda kv: kv[1], default=("", 0.0))
    floor = max(total / cores, tail)
    lines = [
        f"{len(tests)} tests, {total:.0f} s of CPU ({doc['method']}), {doc['wall']:.0f} s wall in one process; "
        f"floor on {cores} cores: {floor / 60:.1f} min wall (the larger of CPU / cores, {total / cores:.0f} s, "
        f"and the largest unit one worker runs alone, `{tail_unit}` {tail:.0f} s).",
        "",
        "| tier | tests | CPU | share |",
        "|---|---|---|---|",
    ]
    for name in (*TIERS, "rest"):
        cpu = sum(t["cpu"] for t in by_tier[name])
        lines.append(f"| {name} | {len(by_tier[name])} | {cpu:.0f} s | {cpu / total:.0%} |" if total else "")
    lines += ["", "| module | CPU |", "|---|---|"]
    lines += [f"| `{m}` | {c:.1f} s |" for m, c in sorted(by_module.items(), key=lambda kv: -kv[1])[:15]]
    lines += ["", "| slowest tests | CPU |", "|---|---|"]
    lines += [f"| `{t['nodeid']}` | {t['cpu']:.1f} s |" for t in sorted(tests, key=lambda t: -t["cpu"])[:10]]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="report an earlier run's JSON instead of running")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "suite-cpu.json")
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    args, pytest_args = parser.parse_known_args(argv)
    if args.source is None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "SUITE_CPU_OUT": str(args.out)}
        cmd = [sys.executable, "-m", "pytest", "-n", "0", "-p", "benchmarks.pytest_cpu", "-p", "no:cacheprovider"]
        subprocess.run([*cmd, "-q", *pytest_args], cwd=ROOT, env=env, check=False)
        args.source = args.out
    print(report(json.loads(args.source.read_text(encoding="utf-8")), args.cores), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
