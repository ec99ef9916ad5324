"""The bootstrap's two commands on the dev table's 14 hosts in the node simulator, then one row added.

What the component runs (components/bootstrap.py), in its order, against a simulated cluster
(tests/support/simulator): `<name>-prepare` (ansible/prepare.yml, with the fingerprint the
component passes) and `<name>-playbook` (ansible/cluster.yml) on the 14 nodes of Pulumi.dev.yaml
(a cold bootstrap), then both again with one worker row added to the table (the fifteenth host
is started with the others and left out of the first inventory, as an instance that exists but
is not in the table yet). Stand-ins take no time (kubeadm, kubectl, image pulls; apt downloads
come from a local server), so what is measured is the playbooks' own cost: SSH through the
bastion, Ansible's task scheduling over one fork per node, module transfers and the real
apt/dpkg work on each host.

Per command it records the wall time of each play (from the time its `PLAY [` line arrived), the
controller's CPU (the command's script, ansible-playbook and its ssh processes: the reaped
children of this process; the simulated hosts' own work is not counted), the tasks each host ran
(ok + changed + failed from the recap) and what changed. The result is written as JSON
(default benchmarks/bootstrap_simulated.json, with the date, the machine's load and CPUs), and
benchmarks/bootstrap_model.py reads it.

Usage (as root, on a machine as idle as you can get; it takes 10-20 minutes on 2 shared cores):
    .venv/bin/python -m benchmarks.bootstrap_simulated [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.bastion_commands import CommandSpec, secret_bundle  # noqa: E402
from components.playbooks import CLUSTER_PLAYBOOK, playbook_command, prepare_command  # noqa: E402
from components.settings.parse import parse_settings  # noqa: E402
from tests.support.dev_stack import dev_node_rows, dev_values  # noqa: E402
from tests.support.node_simulator import FAST  # noqa: E402
from tests.support.simulator.cluster import Run, SimCluster  # noqa: E402
from tests.support.simulator.world import build_world  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "bootstrap_simulated.json"
# The row a user adds: a worker like the dev table's, without the gateway label (no ALB attachment).
ADDED_ROW = {
    "name": "worker-batch",
    "role": "worker",
    "instanceType": "t3.small",
    "rootVolumeGb": 40,
    "labels": {"node-role.kubernetes.io/worker": "batch", "workload": "worker-batch"},
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_RESULT = re.compile(r"^(ok|changed|failed|fatal): \[([^\]\s>]+)")


def play_tasks(output: str) -> list[dict[str, int]]:
    """Per play (in order), the module runs each host had (a task's ok, changed or failed result;
    each item of a loop, which the default callback prints alone): what a play costs a host is
    about that count times one module run's round trip. Skipped tasks run nothing on the host."""
    plays: list[dict[str, int]] = []
    for line in output.splitlines():
        if line.startswith("PLAY [") and not line.startswith("PLAY RECAP"):
            plays.append({})
        elif plays and (m := _RESULT.match(line)):
            plays[-1][m.group(2)] = plays[-1].get(m.group(2), 0) + 1
    return plays


def timed_run(sim: SimCluster, spec: CommandSpec, stdin: str, log: Path) -> dict[str, Any]:
    """Run one command spec as pulumi-command does; time each play as its output streams in."""
    cpu, started = _children_cpu(), time.monotonic()
    proc = sim.run_spec(spec, stdin=stdin)
    assert proc.stdout is not None
    lines, plays = [], []
    for line in proc.stdout:
        now = time.monotonic() - started
        lines.append(line)
        if line.startswith("PLAY [") and not line.startswith("PLAY RECAP"):
            plays.append({"play": line[len("PLAY [") :].split("]")[0], "start_s": round(now, 2)})
    proc.wait()
    wall, cpu = time.monotonic() - started, _children_cpu() - cpu
    output = "".join(lines)
    log.write_text(output)
    for play, following, tasks in zip(plays, [*plays[1:], None], play_tasks(output), strict=True):
        end = following["start_s"] if following else wall
        play["wall_s"] = round(end - play["start_s"], 2)
        play["tasks_per_host"] = tasks
    run = Run.parse(proc.returncode, output)
    return {
        "returncode": proc.returncode,
        "wall_s": round(wall, 2),
        "controller_cpu_s": round(cpu, 2),
        "plays": plays,
        "tasks_per_host": {h: r.get("ok", 0) + r.get("changed", 0) + r.get("failed", 0) for h, r in run.recap.items()},
        "changed_per_host": {h: r.get("changed", 0) for h, r in run.recap.items()},
        "tail": output[-3000:] if proc.returncode else "",
    }


def user_data_stand_in(sim: SimCluster, count: int, limit: str | None, logs: Path, label: str) -> dict[str, Any]:
    """What user data leaves on a node at first boot, before the playbook: the pinned packages
    installed and held (components/user_data.py). The simulated hosts run no cloud-init, so the
    prepare playbook itself, without a fingerprint (no marker is written), installs them here."""
    hosts = sim.inventory_hosts()[:count]
    spec = prepare_command(hosts, sim.jump(), sim.versions, str(sim.known_hosts))
    env = dict(spec.environment)
    extra = json.loads(env["GC_EXTRA_VARS"])
    extra.pop("prepare_marker_fingerprint")
    env["GC_EXTRA_VARS"] = json.dumps(extra)
    script = spec.create if limit is None else spec.create.replace(" prepare.yml\n", f" prepare.yml --limit {limit}\n")
    return timed_run(
        sim, sim.simulated(CommandSpec(script, env, spec.triggers)), secret_bundle(), logs / f"{label}.log"
    )


def bootstrap_runs(sim: SimCluster, count: int, vars_file: Path, logs: Path, label: str) -> dict[str, Any]:
    """The component's two commands on the first `count` hosts of the simulated table."""
    hosts = sim.inventory_hosts()[:count]
    jump, known_hosts = sim.jump(), str(sim.known_hosts)
    prepare = sim.simulated(prepare_command(hosts, jump, sim.versions, known_hosts))
    cluster = playbook_command(
        sim.cluster_vars,
        hosts,
        jump,
        sim.versions,
        known_hosts,
        playbook=CLUSTER_PLAYBOOK,
        extra_args=["-e", f"@{vars_file}"],
    )
    cluster = sim.simulated(cluster)
    result = {"hosts": count}
    result["prepare"] = timed_run(sim, prepare, secret_bundle(), logs / f"{label}-prepare.log")
    if result["prepare"]["returncode"] == 0:
        result["cluster"] = timed_run(sim, cluster, sim.secret_stdin(), logs / f"{label}-cluster.log")
    return result


def machine() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where the JSON goes (default {DEFAULT_OUT})")
    parser.add_argument(
        "--quick", action="store_true", help="the control plane and the gateway rows only (a check of the script)"
    )
    parser.add_argument("--logs", type=Path, help="keep each run's output in this directory")
    args = parser.parse_args(argv)
    rows = dev_node_rows()
    if args.quick:
        rows = [r for r in rows if r["role"] == "control-plane" or "gitops-cluster.io/edge" in r.get("labels", {})]
    settings = parse_settings(dev_values(nodes=[*rows, ADDED_ROW]), stack="dev")
    table, added = len(rows), ADDED_ROW["name"]
    result: dict[str, Any] = {"machine_before": machine(), "table": table, "added_row": added}
    with tempfile.TemporaryDirectory(prefix="gcsim-bench-") as tmp:
        started = time.monotonic()
        world = build_world(Path(tmp), settings.versions)
        sim = SimCluster(
            world, settings.nodes, settings.versions, settings.cluster_name, settings.pod_cidr, settings.service_cidr
        )
        result["simulator_setup_s"] = round(time.monotonic() - started, 1)
        vars_file = Path(tmp) / "fast.json"
        vars_file.write_text(json.dumps(FAST))
        logs = Path(tmp)
        if args.logs:
            logs = args.logs
            logs.mkdir(parents=True, exist_ok=True)
        try:
            result["user_data_cold"] = user_data_stand_in(sim, table, None, logs, "user-data-cold")
            result["cold"] = bootstrap_runs(sim, table, vars_file, logs, "cold")
            if ok(result["cold"]):
                result["user_data_added"] = user_data_stand_in(sim, table + 1, added, logs, "user-data-added")
                result["add_node"] = bootstrap_runs(sim, table + 1, vars_file, logs, "add")
        finally:
            sim.close()
    result["machine_after"] = machine()
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(summary(result))
    failed = [k for k in ("cold", "add_node") if not ok(result.get(k))]
    return 1 if failed else 0


def ok(run: Mapping[str, Any] | None) -> bool:
    return bool(run) and all(run.get(c, {}).get("returncode") == 0 for c in ("prepare", "cluster"))


def summary(result: Mapping[str, Any]) -> str:
    out = [f"{result['table']} hosts, then + {result['added_row']}; load {result['machine_before']['load_average']}"]
    cases = [("user_data_cold", None), ("cold", "prepare"), ("cold", "cluster")]
    cases += [("user_data_added", None), ("add_node", "prepare"), ("add_node", "cluster")]
    for case, command in cases:
        if case in result:
            run = result[case] if command is None else result[case].get(command)
            if not run:
                continue
            out.append(
                f"{case:>15} {command or '':>8}: rc {run['returncode']}, {run['wall_s']:.1f} s wall, "
                f"{run['controller_cpu_s']:.1f} s controller CPU"
            )
            out += [f"{'':>26}{p['wall_s']:>7.1f} s  {p['play']}" for p in run["plays"]]
            if run["tail"]:
                out.append(run["tail"])
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
