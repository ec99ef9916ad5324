"""The playbook's own control-side overhead for the dev stack's 14-node table, in the node simulator.

Stand-ins take no time (kubeadm, kubectl, image pulls, apt downloads from a local server), so
what is left is what the playbook itself costs: SSH through the bastion, Ansible's task
scheduling over 14 forks, module transfers and the real apt/dpkg work on each host. It runs the
whole playbook twice against a fresh simulated cluster (a cold bootstrap, then a re-run that must
change nothing) and prints, per run, the wall time and the CPU time the controller spent
(ansible-playbook and its ssh processes; the hosts' own work is not counted).

Usage (as root, on an otherwise idle machine; see docs/bootstrap.md for the figures):
    .venv/bin/python -m benchmarks.bootstrap_overhead [--nodes N] [--runs 2]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.dev_stack import dev_settings  # noqa: E402
from tests.support.node_simulator import FAST  # noqa: E402
from tests.support.simulator.cluster import SimCluster  # noqa: E402
from tests.support.simulator.world import build_world  # noqa: E402


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=0, help="use the first N nodes of the table (default: all)")
    parser.add_argument("--runs", type=int, default=2, help="playbook runs against the same cluster (default: 2)")
    args = parser.parse_args(argv)
    settings = dev_settings()
    nodes = list(settings.nodes)[: args.nodes or None]
    with tempfile.TemporaryDirectory(prefix="gcsim-bench-") as tmp:
        started = time.monotonic()
        world = build_world(Path(tmp), settings.versions)
        sim = SimCluster(
            world, nodes, settings.versions, settings.cluster_name, settings.pod_cidr, settings.service_cidr
        )
        print(f"simulated cluster of {len(nodes)} nodes + bastion ready in {time.monotonic() - started:.1f} s")
        try:
            print(f"{'run':>4} {'wall s':>8} {'controller CPU s':>17} {'rc':>3} {'changed':>8}")
            for n in range(1, args.runs + 1):
                cpu, wall = _children_cpu(), time.monotonic()
                run = sim.playbook(FAST)
                wall, cpu = time.monotonic() - wall, _children_cpu() - cpu
                changed = sum(r.get("changed", 0) for r in run.recap.values())
                print(f"{n:>4} {wall:>8.1f} {cpu:>17.1f} {run.returncode:>3} {changed:>8}")
                if run.returncode != 0:
                    print(run.output[-3000:], file=sys.stderr)
                    return 1
        finally:
            sim.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
