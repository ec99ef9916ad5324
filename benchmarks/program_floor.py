"""The program against its floor: what the SDKs cost by themselves, measured the same way.

Issue 25 judges the program by what it adds on top of the SDKs it must use (typed classes of
pulumi, pulumi_aws, pulumi_kubernetes, pulumi_command, pulumi_tls, pulumi_random):

- **the dev stack's offline preview against the import floor**: `python -m tools.offline_preview
  --stack dev` as a whole process, against a process that imports exactly the modules that
  preview ended with in `sys.modules` (subpackages included: the SDKs load a subpackage on first
  attribute access, so importing the top-level packages alone is not the floor), in the same
  order. Interleaved pairs, min of each; the ratio is preview / floor.
- **what each SDK subpackage costs to load** in one process, in the order the program first loads
  them (a shared dependency is charged to the first that pulls it in), and what the program uses
  it for (the resource types and functions of the dev stack, from the recording);
- **the resources one more node adds**, by role and type, and why each exists (`WHY` below; a
  type without a reason is reported as such, so a new per-node resource has to be explained);
- **the program at N nodes against the SDK's bare cost** for the same number of resources: a
  program that registers that many plain `aws.ec2.Instance`s (two inputs; the type the program
  registers most, with 61 output properties) under the same mocks (tools/mockrun.FakeCloud). Both
  warm (a second run in the same process), min of the repeats.

CPU time (user + sys of the child, from the kernel's rusage) is what is compared: the machine is
shared, so wall times are inflated by other work and are printed only for reference.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGET_RATIO = 1.15

MODULES_SNIPPET = """\
import json, sys
from tools.offline_preview import main
code = main(['--stack', 'dev', '--out', sys.argv[2]])
json.dump([m for m in list(sys.modules) if m not in ('__main__', '__mp_main__')], open(sys.argv[1], 'w'))
raise SystemExit(code)
"""

FLOOR_SNIPPET = """\
import importlib, json, sys
failed = []
for name in json.load(open(sys.argv[1])):
    if name in sys.modules:
        continue
    try:
        importlib.import_module(name)
    except Exception:  # a module that exists only as a side effect (six.moves, ...): not importable by name
        failed.append(name)
print(json.dumps({"modules": len(sys.modules), "failed": failed}))
"""

SUBPACKAGE_SNIPPET = """\
import importlib, json, sys, time
out = []
for group, names in json.loads(sys.argv[1]):
    c = time.process_time()
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    out.append([group, time.process_time() - c])
print(json.dumps(out))
"""

USES_SNIPPET = """\
import json, sys
from tools.mockrun import run_program
rec = run_program('dev', json.loads(sys.argv[1]) if len(sys.argv) > 1 else None)
print(json.dumps({"types": [r.type for r in rec.resources], "invokes": [tok for tok, _ in rec.invokes]}))
"""

BARE_SNIPPET = """\
import json, sys, time
import pulumi_aws as aws
from tools.mockrun import run_program
count, repeat = int(sys.argv[1]), int(sys.argv[2])

def bare():
    for i in range(count):
        aws.ec2.Instance(f"bare-{i}", ami="ami-0123456789abcdef0", instance_type="t3.micro")

runs = []
for _ in range(repeat + 1):
    t, c = time.perf_counter(), time.process_time()
    recording = run_program('dev', program=bare)
    runs.append([time.perf_counter() - t, time.process_time() - c])
bare = sum(1 for r in recording.resources if r.type == "aws:ec2/instance:Instance")
assert bare == count, (bare, count)
print(json.dumps({"first": runs[0], "warm": runs[1:]}))
"""

# Why each resource one more node adds exists. A type missing here shows as unexplained.
WHY: Mapping[str, str] = {
    "aws:ec2/instance:Instance": "the node itself (components/nodes.py)",
    "command:local:Command": (
        "its removal step (components/node_removal.py): on delete it drains the node and deletes its Node "
        "object (and etcd member) before the instance is terminated; a lone control plane has none"
    ),
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": (
        "the node in a load balancer's target group: a control plane behind both API load balancers "
        "(components/access.py), a worker behind the public entry's (components/public_entry.py)"
    ),
    "aws:iam/role:Role": (
        "a backup writer's role, for a control plane (etcd snapshots) or a datastore node (components/backup.py)"
    ),
    "aws:iam/rolePolicy:RolePolicy": "what that writer may do: its own prefix of the backup bucket only",
    "aws:iam/instanceProfile:InstanceProfile": "the instance profile that carries the writer's role to the node",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "SSM core on the writer's role, as on every node's",
}


SDK_PACKAGES = {
    "aws": "pulumi_aws",
    "kubernetes": "pulumi_kubernetes",
    "command": "pulumi_command",
    "tls": "pulumi_tls",
    "random": "pulumi_random",
}


def subpackage_of(token: str) -> str:
    """The Python subpackage a resource or function token lives in: aws:ec2/instance:Instance ->
    pulumi_aws.ec2, kubernetes:helm.sh/v3:Release -> pulumi_kubernetes.helm.v3; providers
    (pulumi:providers:aws) and the program's own components belong to `pulumi`."""
    provider, module, _ = token.split(":", 2)
    package = SDK_PACKAGES.get(provider)
    if package is None:
        return "pulumi"
    if provider == "kubernetes":
        group, _, version = module.partition("/")
        group = group.split(".")[0]
        return f"{package}.{group}.{version}" if version else f"{package}.{group}"
    path = module.split("/")[0]
    return package if path in ("index", "") else f"{package}.{path}"


def _group_of(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "pulumi_kubernetes" and len(parts) >= 3 and not parts[1].startswith("_"):
        return ".".join(parts[:3]) if parts[2].startswith("v") else ".".join(parts[:2])
    if parts[0] in SDK_PACKAGES.values() and len(parts) >= 2 and not parts[1].startswith("_"):
        return ".".join(parts[:2])
    return parts[0]


def loaded_subpackages(modules: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The SDK subpackages the preview really loaded, in that order, each with its modules.

    pulumi_aws's `__init__` puts a lazy placeholder for every one of its ~250 subpackages into
    `sys.modules`; a subpackage counts as loaded only when a module inside it was imported."""
    groups: dict[str, list[str]] = {}
    for name in modules:
        top = name.split(".")[0]
        if top != "pulumi" and top not in SDK_PACKAGES.values():
            continue
        key = _group_of(name)
        groups.setdefault(key, []).append(name)
    return [(k, v) for k, v in groups.items() if k in ("pulumi", *SDK_PACKAGES.values()) or any(m != k for m in v)]


@dataclass(frozen=True)
class FloorResult:
    preview_cpu: list[float]
    floor_cpu: list[float]
    preview_wall: list[float]
    floor_wall: list[float]
    modules: int
    not_importable: list[str]

    @property
    def ratio(self) -> float:
        return min(self.preview_cpu) / min(self.floor_cpu)


@dataclass(frozen=True)
class Subpackage:
    name: str
    cpu: float
    uses: list[str]


@dataclass(frozen=True)
class NodeCost:
    role: str
    added: dict[str, float]


def measure_floor(run_child: Any, runs: int) -> tuple[FloorResult, list[str]]:
    """Interleaved pairs: the offline preview as a process, then the import floor."""
    with tempfile.TemporaryDirectory(prefix="program-floor-") as tmp:
        listing = Path(tmp) / "modules.json"
        run_child(["-c", MODULES_SNIPPET, str(listing), str(Path(tmp) / "build")])
        modules: list[str] = json.loads(listing.read_text(encoding="utf-8"))
        preview_cpu, floor_cpu, preview_wall, floor_wall = [], [], [], []
        failed: list[str] = []
        for _ in range(runs):
            sample, _ = run_child(["-m", "tools.offline_preview", "--stack", "dev", "--out", str(Path(tmp) / "b")])
            preview_cpu.append(sample.cpu)
            preview_wall.append(sample.wall)
            sample, proc = run_child(["-c", FLOOR_SNIPPET, str(listing)])
            floor_cpu.append(sample.cpu)
            floor_wall.append(sample.wall)
            failed = json.loads(proc.stdout.strip().splitlines()[-1])["failed"]
    return FloorResult(preview_cpu, floor_cpu, preview_wall, floor_wall, len(modules), failed), modules


def measure_subpackages(run_child: Any, modules: Sequence[str]) -> list[Subpackage]:
    order = loaded_subpackages(modules)
    _, proc = run_child(["-c", SUBPACKAGE_SNIPPET, json.dumps(order)])
    costs = json.loads(proc.stdout.strip().splitlines()[-1])
    _, proc = run_child(["-c", USES_SNIPPET])
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    uses: dict[str, Counter[str]] = {}
    for token in doc["types"]:
        sub, label = subpackage_of(token), token.rsplit(":", 1)[-1]
        if sub == "pulumi":  # the stack, the program's own components and the providers
            label = f"provider {label}" if token.startswith("pulumi:providers:") else "ComponentResource"
        uses.setdefault(sub, Counter())[label] += 1
    for token in doc["invokes"]:
        uses.setdefault(subpackage_of(token), Counter())[token.rsplit(":", 1)[-1] + "()"] += 1
    out = []
    for name, cpu in costs:
        used = uses.get(name, Counter())
        out.append(Subpackage(name, cpu, [f"{k} ×{v}" if v > 1 else k for k, v in sorted(used.items())]))
    return out


def measure_node_costs(run_child: Any, nodes: Sequence[Mapping[str, Any]]) -> list[NodeCost]:
    """The dev table, then the dev table plus one node of each role (a copy of its first entry)."""

    def types(table: Sequence[Mapping[str, Any]]) -> Counter[str]:
        _, proc = run_child(["-c", USES_SNIPPET, json.dumps({"nodes": list(table)})])
        return Counter(json.loads(proc.stdout.strip().splitlines()[-1])["types"])

    base = types(nodes)
    out = []
    seen: set[str] = set()
    for entry in nodes:
        role = str(entry.get("role"))
        if role in seen:
            continue
        seen.add(role)
        # etcd wants an odd number of control planes: two more, halved.
        many = 2 if role == "control-plane" else 1
        extra = [{**entry, "name": f"{entry['name']}-extra{i}"} for i in range(many)]
        for e in extra:
            e.pop("count", None)
        after = types([*nodes, *extra])
        added = {t: (after[t] - base[t]) / many for t in after if after[t] != base[t]}
        out.append(NodeCost(role, {t: int(n) if n == int(n) else n for t, n in added.items()}))
    return out


def measure_bare(run_child: Any, count: int, repeat: int) -> tuple[list[float], list[float]]:
    """Warm CPU and wall of a program registering `count` bare aws.ec2.Instances (min of `repeat`)."""
    _, proc = run_child(["-c", BARE_SNIPPET, str(count), str(repeat)])
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return [w[1] for w in doc["warm"]], [w[0] for w in doc["warm"]]


def render_floor(floor: FloorResult, subpackages: Sequence[Subpackage], node_costs: Sequence[NodeCost]) -> list[str]:
    ok = "met" if floor.ratio <= TARGET_RATIO else "**missed**"
    lines = [
        "### The dev stack against its import floor",
        "",
        f"CPU seconds (user + sys of the process), {len(floor.preview_cpu)} interleaved pairs; "
        "wall times are inflated by whatever else shares the machine.",
        "",
        "| Process | CPU min | CPU median | wall min |",
        "|---|---|---|---|",
        f"| `python -m tools.offline_preview --stack dev` | {min(floor.preview_cpu):.2f} s "
        f"| {sorted(floor.preview_cpu)[len(floor.preview_cpu) // 2]:.2f} s | {min(floor.preview_wall):.2f} s |",
        f"| import floor: the {floor.modules} modules that preview ends with, imported in its order "
        f"| {min(floor.floor_cpu):.2f} s | {sorted(floor.floor_cpu)[len(floor.floor_cpu) // 2]:.2f} s "
        f"| {min(floor.floor_wall):.2f} s |",
        "",
        f"**Ratio preview / floor (CPU, min of {len(floor.preview_cpu)}): {floor.ratio:.2f}** "
        f"(target ≤ {TARGET_RATIO}: {ok}).",
    ]
    if floor.not_importable:
        lines.append(
            f" {len(floor.not_importable)} modules exist only as a side effect of another import and cannot "
            f"be imported by name: {', '.join(f'`{m}`' for m in floor.not_importable[:6])}."
        )
    total = sum(s.cpu for s in subpackages)
    lines += [
        "",
        "### What each SDK subpackage costs to load, and what the program uses it for",
        "",
        f"One process, in the order the preview first loads them ({total:.2f} s in all); a dependency "
        "two subpackages share is charged to the first.",
        "",
        "| subpackage | CPU to load | the dev stack uses |",
        "|---|---|---|",
        *(
            f"| `{s.name}` | {s.cpu:.2f} s | {', '.join(s.uses) or '(the SDK itself, or a dependency)'} |"
            for s in subpackages
        ),
        "",
        "### Resources one more node adds",
        "",
        "The dev table plus a copy of the first entry of each role (two for the control plane, halved: etcd "
        "wants an odd number), against the dev table:",
        "",
        "| role | type | added | why it exists |",
        "|---|---|---|---|",
    ]
    for cost in node_costs:
        for token, n in sorted(cost.added.items()):
            lines.append(f"| {cost.role} | `{token}` | {n} | {WHY.get(token, '**no reason recorded**')} |")
    return lines


def unexplained(node_costs: Sequence[NodeCost]) -> list[str]:
    return sorted({t for c in node_costs for t in c.added if t not in WHY})
