"""A critical-path model of a cold `make up` of the dev layout (14 nodes) to a synced root Application,
and of adding one node, from measured and cited inputs.

Nothing here has run on AWS (this machine has no account). Each step of the graph has a typical
and a slow duration and says where they come from:

- **measured**: the playbooks' own time, per play, from the node simulator's run of the
  component's two commands on the dev table's 14 hosts and then with one row added
  (benchmarks/bootstrap_simulated.py, whose JSON output, benchmarks/bootstrap_simulated.json,
  this reads; its date and the machine's load are printed). Stand-ins take no time there, so a
  play's simulated wall time is Ansible's cost (SSH through the bastion, task scheduling, module
  runs, apt/dpkg where it happens); it is an upper bound, because the 15 simulated hosts run
  their modules on the same 2 shared cores as the controller.
- **AWS**: provisioning times. AWS documents the states (a load balancer `provisioning` ->
  `active`, a NAT gateway `pending` -> `available`, a distribution `InProgress` -> `Deployed`) but
  no durations; the figures are estimates, each with the public source it leans on.
- **work**: what the stand-ins skip (kubeadm init and join, Calico's rollout, Argo CD's install and
  sync waves, image pulls); estimates from the pinned versions' behaviour, sizes and the sync
  waves of manifests/argocd/apps (read from the files).

The steps follow the Pulumi graph (components/stack.py): a step starts when everything it waits
for has finished. The model prints the critical path with each step's duration and source, for
the typical and the slow figures; docs/bootstrap.md's table is its `--markdown` output and README
quotes its totals (tests/unit/test_bootstrap_model.py keeps the three in agreement).

Usage:
    .venv/bin/python -m benchmarks.bootstrap_model [--markdown] [--measured PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.control_plane_reads import read_triggers  # noqa: E402
from components.inventory import InventoryHost  # noqa: E402
from components.settings.keys import default_versions  # noqa: E402
from components.settings.model import NodeRole  # noqa: E402
from components.settings.parse import parse_settings  # noqa: E402
from components.user_data import render_user_data  # noqa: E402

MEASURED = ROOT / "benchmarks" / "bootstrap_simulated.json"
APPS = ROOT / "manifests" / "argocd" / "apps"

AWS_NLB_STATES = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerState.html"
AWS_NLB_REGISTER = "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-register-targets.html"
CLOUDFRONT_2020 = (
    "https://aws.amazon.com/blogs/networking-and-content-delivery/"
    "slashing-cloudfront-change-propagation-times-in-2020-recent-changes-and-looking-forward/"
)
CLOUDFRONT_WAITER = "https://docs.aws.amazon.com/cli/latest/reference/cloudfront/wait/distribution-deployed.html"
KOPS_NAT = "https://github.com/kubernetes/kops/pull/944"


@dataclass(frozen=True)
class Step:
    key: str
    what: str
    typical: float  # seconds
    slow: float
    after: tuple[str, ...]
    kind: str  # measured | AWS | work | program
    source: str


def load_measured(path: Path = MEASURED) -> dict[str, Any]:
    return json.loads(path.read_text())


def play_walls(run: Mapping[str, Any]) -> dict[str, float]:
    """Play name -> simulated wall seconds, for one command's run."""
    return {p["play"]: float(p["wall_s"]) for p in run["plays"]}


# One module run's round trip on AWS: pipelining (ansible/ansible.cfg) makes a task one round trip
# over the multiplexed SSH session through the bastion (~0.15-0.2 s from a runner outside the
# region), plus the module's Python start and work on a t3 node (~0.3-0.4 s). An estimate: the
# simulator's own figure (its play wall time over its module runs) is measured but inflated by
# the machine's load; the model prints it beside.
MODULE_RUN = (0.6, 1.2)
# The runner's cores for the controller's CPU (GitHub's standard Linux runner for private
# repositories has 2; ansible-playbook uses one fork per node).
RUNNER_CORES = 2


def ansible_seconds(run: Mapping[str, Any], prefix: str, which: str) -> float:
    """What the plays whose names start with `prefix` cost on AWS: per play, the busiest host's
    module runs (measured in the simulator) times one run's round trip, or the controller's CPU
    for the play (the run's measured CPU shared by module runs) over the runner's cores, if more."""
    latency = MODULE_RUN[0 if which == "typical" else 1]
    total_runs = sum(sum(p["tasks_per_host"].values()) for p in run["plays"]) or 1
    seconds, matched = 0.0, False
    for p in run["plays"]:
        if not p["play"].startswith(prefix):
            continue
        matched = True
        runs = p["tasks_per_host"]
        busiest = max(runs.values(), default=0)
        cpu = run["controller_cpu_s"] * sum(runs.values()) / total_runs / RUNNER_CORES
        seconds += max(busiest * latency, cpu)
    if not matched:
        raise KeyError(f"no play starting with {prefix!r} in {sorted(play_walls(run))}")
    return round(seconds, 1)


def simulated_module_run(run: Mapping[str, Any]) -> float:
    """The simulator's own seconds per module run of the busiest host (an upper bound, under load)."""
    walls = [(p["wall_s"], max(p["tasks_per_host"].values(), default=0)) for p in run["plays"]]
    runs = sum(r for _, r in walls) or 1
    return sum(w for w, _ in walls) / runs


def sync_waves(apps: Path = APPS) -> dict[int, list[tuple[str, bool]]]:
    """Wave -> [(child, is a health gate)], read from the child Applications' annotations."""
    waves: dict[int, list[tuple[str, bool]]] = {}
    for path in sorted(apps.glob("*.yaml")):
        text = path.read_text()
        wave = re.search(r"argocd\.argoproj\.io/sync-wave: '(-?\d+)'", text)
        if wave is None:
            continue
        gate = re.search(r"^\s*gitops-cluster\.io/gate: 'true'", text, re.M) is not None
        waves.setdefault(int(wave.group(1)), []).append((path.stem, gate))
    return dict(sorted(waves.items()))


# --- the inputs that are not measured here ------------------------------------------------------

# What a gated child takes from being applied to Healthy (typical, slow), by what it runs: its
# images pulled on a worker and its pods Ready (webhooks serving). Children without a gate are
# Healthy for the root as soon as they are applied (the root's health Lua, components/argocd.py).
GATE_SECONDS = {
    "namespaces": (5, 10),  # Namespaces only
    "data-storage": (5, 10),  # StorageClasses only
    "network-policies": (5, 10),  # NetworkPolicies only
    "credentials": (30, 60),  # a generator Job (python:alpine image) writing Secrets
    "monitoring-crds": (10, 20),  # CRDs only, Established
    "volume-snapshot-crds": (10, 20),  # CRDs only, Established
    "cert-manager": (45, 90),  # 3 Deployments, a webhook that must serve before Healthy
    "envoy-gateway": (40, 80),  # the controller Deployment and its certgen Job
    "cloudnative-pg": (40, 80),  # the operator Deployment and its webhook
    "plugin-barman-cloud": (40, 90),  # a Deployment whose certificate cert-manager issues
}
# Between two waves: gitops-engine's ARGOCD_SYNC_WAVE_DELAY (2 s default) and the root's next
# reconciliation, which a child Application's status change triggers (watch), not the 180 s poll.
WAVE_GAP = (7, 20)


# The Argo CD release: its pods Ready from images already on the node (Helm's apply of the CRDs and
# ~40 objects, the controller, repo-server and server starting), and the pull of its images when
# they are not: quay.io/argoproj/argocd is ~450-500 MB unpacked (~480 MB at v1.5 already,
# argoproj/argo-cd#3674), ~150-180 MB compressed, fetched at ~40-50 MB/s and unpacked on a t3's gp3.
ARGOCD_READY = (50, 100)
ARGOCD_PULL = (40, 80)


def argocd_pre_pulled(versions: Mapping[str, Any]) -> bool:
    """Whether the workers' user data pulls every image of the Argo CD release (versions.yaml
    argoCdImage/argoCdRedisImage, held to the chart's render by tests/unit/test_user_data_images.py)."""
    script = render_user_data(versions, NodeRole.WORKER)
    return all(versions[key] in script for key in ("argoCdImage", "argoCdRedisImage"))


def reads_rerun_on_a_row_added() -> bool:
    """Whether adding the benchmark's row changes the triggers of the cluster-CA and service-account
    key reads (components/control_plane_reads.py read_triggers) on the dev table."""
    from benchmarks.bootstrap_simulated import ADDED_ROW
    from tests.support.dev_stack import dev_node_rows, dev_values

    def triggers(rows: list[dict[str, Any]]) -> list[str]:
        nodes = parse_settings(dev_values(nodes=rows), stack="dev").nodes
        hosts = [InventoryHost(n, f"10.0.{i // 250}.{i % 250 + 4}", f"i-{i:017x}") for i, n in enumerate(nodes)]
        return read_triggers(hosts, ["upgrade"])

    rows = dev_node_rows()
    return triggers(rows) != triggers([*rows, ADDED_ROW])


def first_sync_seconds(waves: Mapping[int, Sequence[tuple[str, bool]]]) -> tuple[float, float]:
    """The root's first sync: per wave, its slowest gated child (or an apply), then the gap."""
    typical = slow = 0.0
    for children in waves.values():
        gated = [GATE_SECONDS.get(name, (30, 60)) for name, gate in children if gate]
        t, s = max(gated) if gated else (5, 10)
        typical += t + WAVE_GAP[0]
        slow += s + WAVE_GAP[1]
    return typical, slow


def cold_steps(measured: Mapping[str, Any]) -> list[Step]:
    cold = measured["cold"]
    prepare, cluster = cold["prepare"], cold["cluster"]
    when = measured["machine_before"]["date"][:10]
    sim = (
        f"measured module runs per host and controller CPU (node simulator, 14 hosts, {when}) × {MODULE_RUN[0]}"
        f"-{MODULE_RUN[1]} s per run, or the CPU over {RUNNER_CORES} cores"
    )
    waves = sync_waves()
    sync_typical, sync_slow = first_sync_seconds(waves)
    versions = default_versions()
    gated = sum(1 for children in waves.values() for _, g in children if g)
    return [
        Step(
            "program",
            "pulumi up: the program, the providers, the first API calls",
            20,
            40,
            (),
            "program",
            "docs/benchmarks.md: the dev preview's CPU (4-7 s), plus plugin start and the first calls",
        ),
        Step(
            "vpc",
            "VPC, subnets, gateways' EIP, security groups and rules, key pair, IAM profile",
            30,
            60,
            ("program",),
            "AWS",
            "estimate: API calls that complete synchronously; IAM profile propagation ~10 s",
        ),
        Step(
            "nat",
            "NAT gateway pending -> available, private routes",
            120,
            240,
            ("vpc",),
            "AWS",
            f"estimate: no published duration; 1-5 min observed (kops {KOPS_NAT}: 'up to 5 min')",
        ),
        Step(
            "instances",
            "15 instances and the bastion: RunInstances -> running",
            30,
            60,
            ("vpc",),
            "AWS",
            "estimate: the provider waits for `running`",
        ),
        Step(
            "boot",
            "kernel, cloud-init up to runcmd (the apt timers already stopped in bootcmd)",
            45,
            75,
            ("instances",),
            "AWS",
            "estimate: Ubuntu 24.04 on t3 (ansible/roles/wait_for_nodes/defaults: 30-60 s)",
        ),
        Step(
            "user_data",
            "slowest node's user data: NAT route (3 s connect timeout), apt, then every image at once",
            90,
            180,
            ("boot", "nat"),
            "work",
            "estimate: ~150 MB of packages and ~550 MB of images on the control plane (kubeadm's 7, Calico's "
            "5 per node and the operator; sizes not readable here: no registry is reachable), ~40-50 MB/s "
            "through the NAT, unpacked in parallel (components/user_data.py)",
        ),
        Step(
            "nlb",
            "both API NLBs provisioning -> active, listeners, target attachments",
            180,
            300,
            ("vpc",),
            "AWS",
            f"estimate: no published duration ({AWS_NLB_STATES}); 2-5 min usual; the provider waits for active",
        ),
        Step(
            "issuer",
            "the issuer's CloudFront distribution InProgress -> Deployed (kube-apiserver's issuer URL)",
            240,
            420,
            ("vpc",),
            "AWS",
            f"estimate: minutes since 2020 ({CLOUDFRONT_2020}); the CLI waiter polls every 60 s ({CLOUDFRONT_WAITER})",
        ),
        Step(
            "prepare_wait",
            "prepare command: SSH through the bastion, cloud-init done, sort the nodes",
            ansible_seconds(prepare, "Wait for the nodes", "typical"),
            ansible_seconds(prepare, "Wait for the nodes", "slow"),
            ("user_data", "nat", "instances"),
            "measured",
            sim,
        ),
        Step(
            "prepare",
            "preflight and prepare plays on 14 nodes (user data installed the packages)",
            ansible_seconds(prepare, "Check that the nodes", "typical")
            + ansible_seconds(prepare, "Prepare the nodes", "typical"),
            ansible_seconds(prepare, "Check that the nodes", "slow")
            + ansible_seconds(prepare, "Prepare the nodes", "slow"),
            ("prepare_wait",),
            "measured",
            sim + " (packages installed beforehand, as user data leaves them)",
        ),
        Step(
            "init",
            "kubeadm init (images pre-pulled) and the control_plane play",
            ansible_seconds(cluster, "Initialise", "typical") + 60,
            ansible_seconds(cluster, "Initialise", "slow") + 120,
            ("prepare", "nlb", "issuer"),
            "measured + work",
            sim
            + f" + kubeadm init 60-120 s (static pods, upload-config, the NLB target registering: {AWS_NLB_REGISTER})",
        ),
        Step(
            "calico",
            "Calico's CRDs and operator applied, the Installation",
            ansible_seconds(cluster, "Install Calico", "typical") + 15,
            ansible_seconds(cluster, "Install Calico", "slow") + 30,
            ("init",),
            "measured + work",
            sim + " + CRDs Established 15-30 s",
        ),
        Step(
            "join",
            "13 nodes join in parallel (the control plane alone: no serial joins in dev)",
            ansible_seconds(cluster, "Join the other", "typical") + 30,
            ansible_seconds(cluster, "Join the other", "slow") + 60,
            ("calico",),
            "measured + work",
            sim + " + kubeadm join (TLS bootstrap) 30-60 s",
        ),
        Step(
            "node_config",
            "labels and taints on the registered nodes",
            ansible_seconds(cluster, "Apply the node table", "typical"),
            ansible_seconds(cluster, "Apply the node table", "slow"),
            ("join",),
            "measured",
            sim,
        ),
        Step(
            "calico_ready",
            "calico-node rolled out on every node (pre-pulled images), every node Ready",
            60,
            120,
            ("node_config",),
            "work",
            "estimate: the operator's rollout of calico-node 60-120 s, while the plays below run",
        ),
        Step(
            "storage",
            "local-path-provisioner applied, rolled out on the first schedulable node",
            ansible_seconds(cluster, "Install local-path", "typical") + 30 + 20,
            ansible_seconds(cluster, "Install local-path", "slow") + 60 + 45,
            ("node_config",),
            "measured + work",
            sim + " + the first worker Ready 30-60 s + its image from Docker Hub (one pod) 20-45 s "
            "(ansible/cluster.yml: before the wait for every node)",
        ),
        Step(
            "ready",
            "the wait for every node Ready",
            ansible_seconds(cluster, "Wait for every node", "typical"),
            ansible_seconds(cluster, "Wait for every node", "slow"),
            ("storage", "calico_ready"),
            "measured",
            sim,
        ),
        Step(
            "upgrade",
            "upgrade step's checks (cluster at the pin)",
            ansible_seconds(prepare, "Wait for the nodes", "typical") * 2,
            ansible_seconds(prepare, "Wait for the nodes", "slow") * 2,
            ("ready",),
            "measured",
            sim + ": upgrade.yml's wait and check plays, each about the prepare command's wait play",
        ),
        Step(
            "kubeconfig",
            "kubeconfig and service-account keys read through the bastion, the JWKS written",
            10,
            20,
            ("upgrade",),
            "work",
            "estimate: two SSH round trips through the bastion and one S3 PutObject",
        ),
        Step(
            "argocd",
            "Argo CD's namespace, secret and Helm release (waits for its pods)",
            ARGOCD_READY[0] + (0 if argocd_pre_pulled(versions) else ARGOCD_PULL[0]),
            ARGOCD_READY[1] + (0 if argocd_pre_pulled(versions) else ARGOCD_PULL[1]),
            ("kubeconfig",),
            "work",
            f"estimate: argo-cd chart (versions.yaml argoCdChart), pods Ready from local images {ARGOCD_READY[0]}-"
            f"{ARGOCD_READY[1]} s; "
            + (
                "its images pre-pulled on the workers by user data (read from components/user_data.py)"
                if argocd_pre_pulled(versions)
                else f"+ its images pulled on a worker {ARGOCD_PULL[0]}-{ARGOCD_PULL[1]} s"
            ),
        ),
        Step(
            "sync",
            f"the root Application's first sync: {len(waves)} waves, {gated} health gates",
            sync_typical,
            sync_slow,
            ("argocd",),
            "work",
            "estimate per gated child (benchmarks/bootstrap_model.py GATE_SECONDS), waves read from "
            "manifests/argocd/apps, 2 s wave delay and the root's re-check between waves",
        ),
    ]


# A new node's user data split in two (the total is the estimate it had as one step, 75-150 s:
# apt on a t3 and the images through the NAT): the apt sources and the pinned packages (apt update
# of three repositories, ~150 MB fetched and unpacked), then its first images (kube-proxy, pause,
# Calico's five and the operator). An estimate: neither part is measured here (no registry, no apt
# mirror reachable at that size).
USER_DATA_PACKAGES = (45, 90)
USER_DATA_FIRST_PULLS = (30, 60)
# kubeadm join on a worker: discovery, the TLS bootstrap, the kubelet started (no image pulls: the
# join's preflight pulls images only for a control-plane join, kubernetes cmd/kubeadm/app/cmd/phases/
# join/preflight.go `if j.Cfg().ControlPlane != nil`, v1.36); and its calico-node pod Ready from
# local images (the operator's DaemonSet schedules it as soon as the Node registers).
KUBEADM_JOIN = (30, 60)
CALICO_NODE_READY = (45, 90)


def added_node_pulls_in_background() -> bool:
    """Whether the benchmark's added row's role pulls its images after cloud-init is done
    (components/user_data.py FOREGROUND_PULL_ROLES)."""
    from benchmarks.bootstrap_simulated import ADDED_ROW
    from components.user_data import FOREGROUND_PULL_ROLES

    return NodeRole(ADDED_ROW["role"]) not in FOREGROUND_PULL_ROLES


def add_node_steps(measured: Mapping[str, Any]) -> list[Step]:
    """One row added: the new instance, then the two commands, play by play in cluster.yml's order.

    The cluster command's plays run one after another; only what runs outside Ansible overlaps
    them: the new node's background image pulls (from its user data's end), and its calico-node
    coming up after the join while the labels and local-path plays run, as in the cold steps."""
    add = measured["add_node"]
    prepare, cluster = add["prepare"], add["cluster"]
    when = measured["machine_before"]["date"][:10]
    sim = f"measured module runs per host and controller CPU (node simulator, 14 hosts + 1 row, {when}), as cold"
    background = added_node_pulls_in_background()

    def plays(*prefixes: str, which: str) -> float:
        return round(sum(ansible_seconds(cluster, p, which) for p in prefixes), 1)

    first_pulls = (0, 0) if background else USER_DATA_FIRST_PULLS
    user_data = (USER_DATA_PACKAGES[0] + first_pulls[0], USER_DATA_PACKAGES[1] + first_pulls[1])
    return [
        Step("program", "pulumi up: the program and the refresh of the plan", 20, 40, (), "program", "as cold"),
        Step("instances", "the new instance: RunInstances -> running", 30, 60, ("program",), "AWS", "as cold"),
        Step("boot", "its boot", 45, 75, ("instances",), "AWS", "as cold"),
        Step(
            "user_data",
            "its user data to cloud-init done (the NAT gateway exists: no route wait)",
            user_data[0],
            user_data[1],
            ("boot",),
            "work",
            "estimate (benchmarks/bootstrap_model.py USER_DATA_PACKAGES): the apt sources and the pinned packages"
            + (
                "; its images pulled in the background afterwards (components/user_data.py FOREGROUND_PULL_ROLES)"
                if background
                else " and its images (a control plane pulls before cloud-init is done)"
            ),
        ),
        *(
            [
                Step(
                    "pulls",
                    "its images in the background unit: kube-proxy, pause, Calico's (Argo CD's after them)",
                    USER_DATA_FIRST_PULLS[0],
                    USER_DATA_FIRST_PULLS[1],
                    ("user_data",),
                    "work",
                    "estimate (USER_DATA_FIRST_PULLS): the rest of the user data's former 75-150 s, all at once",
                )
            ]
            if background
            else []
        ),
        Step(
            "prepare",
            "prepare command: 14 nodes checked and left out, the new one prepared",
            ansible_seconds(prepare, "", "typical"),
            ansible_seconds(prepare, "", "slow"),
            ("user_data",),
            "measured",
            sim + " (the new node's packages installed beforehand, as user data leaves them)",
        ),
        Step(
            "control_plane_checks",
            "cluster command: the Initialise and Calico plays on the control plane (checks on a running cluster)",
            plays("Initialise", "Install Calico", which="typical"),
            plays("Initialise", "Install Calico", which="slow"),
            ("prepare",),
            "measured",
            sim,
        ),
        Step(
            "join",
            "the join plays: the new node joins (kubeadm join), the others' guards skip",
            plays("Join the other", which="typical") + KUBEADM_JOIN[0],
            plays("Join the other", which="slow") + KUBEADM_JOIN[1],
            ("control_plane_checks",),
            "measured + work",
            sim + f" + kubeadm join {KUBEADM_JOIN[0]}-{KUBEADM_JOIN[1]} s (TLS bootstrap; no image pulls on a worker)",
        ),
        Step(
            "node_config",
            "labels and taints compared with the live nodes, the new node's applied",
            plays("Apply the node table", which="typical"),
            plays("Apply the node table", which="slow"),
            ("join",),
            "measured",
            sim,
        ),
        Step(
            "calico_ready",
            "its calico-node Ready, once it has joined and its images are in",
            CALICO_NODE_READY[0],
            CALICO_NODE_READY[1],
            ("join", "pulls") if background else ("join",),
            "work",
            f"estimate: from local images {CALICO_NODE_READY[0]}-{CALICO_NODE_READY[1]} s, while the plays below run",
        ),
        Step(
            "storage",
            "the local-path play: its kustomization's diff empty (no rollout)",
            plays("Install local-path", which="typical"),
            plays("Install local-path", which="slow"),
            ("node_config",),
            "measured",
            sim,
        ),
        Step(
            "ready",
            "the wait for every node Ready",
            plays("Wait for every node", which="typical"),
            plays("Wait for every node", which="slow"),
            ("storage", "calico_ready"),
            "measured",
            sim,
        ),
        *(
            [
                Step(
                    "kubeconfig",
                    "kubeconfig and service-account keys read again (their triggers changed)",
                    10,
                    20,
                    ("ready",),
                    "work",
                    "as cold; the upgrade step and Argo CD do not change",
                )
            ]
            if reads_rerun_on_a_row_added()
            else []
        ),
    ]


def critical_path(steps: Sequence[Step], which: str) -> tuple[float, list[tuple[Step, float, float]]]:
    """(total, [(step, start, end)] along the critical path) for the `typical` or `slow` figures."""
    by_key = {s.key: s for s in steps}
    end: dict[str, float] = {}
    start: dict[str, float] = {}
    for s in steps:  # steps are listed after what they wait for
        start[s.key] = max((end[a] for a in s.after), default=0.0)
        end[s.key] = start[s.key] + getattr(s, which)
    last = max(end, key=end.__getitem__)
    path = []
    key: str | None = last
    while key is not None:
        s = by_key[key]
        path.append((s, start[key], end[key]))
        key = max(s.after, key=end.__getitem__) if s.after else None
    return end[last], list(reversed(path))


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def report(measured: Mapping[str, Any]) -> dict[str, Any]:
    cold, add = cold_steps(measured), add_node_steps(measured)
    out: dict[str, Any] = {}
    for name, steps in (("cold", cold), ("add_node", add)):
        for which in ("typical", "slow"):
            total, path = critical_path(steps, which)
            out[f"{name}_{which}_s"] = round(total)
            out[f"{name}_{which}_path"] = [s.key for s, _, _ in path]
        out[f"{name}_steps"] = steps
    return out


def _table(steps: Sequence[Step], on_path: set[str]) -> list[str]:
    lines = [
        "| step | waits for | typical min | slow min | on the critical path | source |",
        "|---|---|---|---|---|---|",
    ]
    for s in steps:
        lines.append(
            f"| {s.what} | {', '.join(s.after) or '-'} | {minutes(s.typical)} | {minutes(s.slow)} | "
            f"{'**yes**' if s.key in on_path else 'no'} | {s.kind}: {s.source} |"
        )
    return lines


def markdown(measured: Mapping[str, Any]) -> str:
    r = report(measured)
    lines = [
        "Cold bootstrap of the dev layout:",
        "",
        *_table(r["cold_steps"], set(r["cold_typical_path"])),
        "",
        f"**Cold bootstrap to a synced root Application: {minutes(r['cold_typical_s'])} min typical, "
        f"{minutes(r['cold_slow_s'])} min slow.** Critical path: {' → '.join(r['cold_typical_path'])}.",
        "",
        "Adding a node (one row added to the dev table):",
        "",
        *_table(r["add_node_steps"], set(r["add_node_typical_path"])),
        "",
        f"**Adding a node: {minutes(r['add_node_typical_s'])} min typical, {minutes(r['add_node_slow_s'])} min slow.** "
        f"Critical path: {' → '.join(r['add_node_typical_path'])}.",
    ]
    return "\n".join(lines) + "\n"


def text(measured: Mapping[str, Any]) -> str:
    r = report(measured)
    m = measured["machine_before"]
    after = measured.get("machine_after", m)
    out = [
        f"inputs measured {m['date']} (load {m['load_average']} before, {after['load_average']} after, on "
        f"{m['cpus']} cores): {MEASURED.relative_to(ROOT)}",
        "the simulator's own seconds per module run of the busiest host (upper bounds, under that load): "
        + ", ".join(
            f"{case} {command} {simulated_module_run(measured[case][command]):.1f}"
            for case in ("cold", "add_node")
            for command in ("prepare", "cluster")
        )
        + f"; the model uses {MODULE_RUN[0]}-{MODULE_RUN[1]} s",
    ]
    for name, title in (("cold", "cold bootstrap to a synced root"), ("add_node", "adding a node")):
        for which in ("typical", "slow"):
            total, path = critical_path(r[f"{name}_steps"], which)
            out.append(f"\n{title}, {which}: {minutes(total)} min")
            for s, begin, end in path:
                span = f"{minutes(begin):>5} -> {minutes(end):>5} min  {getattr(s, which):6.0f} s"
                out.append(f"  {span}  {s.what}  [{s.kind}: {s.source}]")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="docs/bootstrap.md's table")
    parser.add_argument("--measured", type=Path, default=MEASURED)
    args = parser.parse_args(argv)
    measured = load_measured(args.measured)
    print(markdown(measured) if args.markdown else text(measured))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
