"""Rules of the node table (`nodes`): rows, pools, labels, taints and zones.

Each row is a node or a pool (`count`), expanded here into one NodeSpec a member; names are DNS
labels and unique, at most MAX_NODES nodes, one or three control-plane nodes, at least one node
without a hard taint. Labels and taints the kubelet, the cloud or Kubernetes own are refused.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from components.settings.model import NodeRole, NodeSpec, Taint
from components.settings.schema import MAX_NODES, NodeRow, TaintRow, check, fields
from components.settings.values import DNS_SUBDOMAIN, Collector, check_instance_type, instance_type_fix, quote_fix

_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# A zone letter: `c` is the zone `<region>c` (checked against the region's zones after the look-up).
_ZONE_LETTER = re.compile(r"[a-z]")
# Labels the kubelet or the cloud owns; a value from the table would fight them.
_RESERVED_LABEL_PREFIXES = ("beta.kubernetes.io", "topology.kubernetes.io", "failure-domain.beta.kubernetes.io")
_RESERVED_LABEL_KEYS = (
    "kubernetes.io/hostname",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "node.kubernetes.io/instance-type",
    # kubeadm's own marks of a control-plane node: on another node they would draw its workloads.
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
)
# Taints the node lifecycle controller and cloud providers set and remove themselves.
_RESERVED_TAINT_PREFIXES = ("node.kubernetes.io", "node.cloudprovider.kubernetes.io")


def _label_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix)):
        return "its prefix must be a DNS subdomain (lowercase, dots, at most 253 characters)."
    if not name or len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return "its name must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric."
    return None


def _label_value_problem(value: str) -> str | None:
    if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
        return "a label value is empty or 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric."
    return None


def _reserved_label(key: str) -> bool:
    prefix = key.rpartition("/")[0]
    return key in _RESERVED_LABEL_KEYS or any(prefix == p or prefix.endswith(f".{p}") for p in _RESERVED_LABEL_PREFIXES)


def _parse_labels(c: Collector, key: str, raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        c.add(key, raw, "expected a mapping of label key to value, e.g. {workload: api}.")
        return {}
    labels: dict[str, str] = {}
    for lk, lv in raw.items():
        if not isinstance(lk, str):
            c.add(key, lk, f"a label key must be text; {quote_fix(lk)}")
            continue
        if (why := _label_key_problem(lk)) is not None:
            c.add(key, lk, f"invalid label key: {why}")
            continue
        if _reserved_label(lk):
            c.add(f"{key}.{lk}", lv, "the kubelet or the cloud sets this label itself; choose a key of your own.")
            continue
        if lv is None:
            c.add(f"{key}.{lk}", lv, "a null label value; write '' for an empty value, or a value.")
            continue
        if not isinstance(lv, str):
            c.add(f"{key}.{lk}", lv, f"a label value is text; {quote_fix(lv)}")
            continue
        if (why := _label_value_problem(lv)) is not None:
            c.add(f"{key}.{lk}", lv, f"invalid label value: {why}")
            continue
        labels[lk] = lv
    return labels


def _parse_taints(c: Collector, key: str, raw: object) -> tuple[Taint, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.add(key, raw, "expected a list of {key, value, effect}.")
        return ()
    taints: list[Taint] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(raw):
        tkey = f"{key}[{i}]"
        if not isinstance(t, dict) or not check(TaintRow, t).ok:
            c.add(tkey, t, "expected {key: ..., value: ..., effect: NoSchedule|PreferNoSchedule|NoExecute}.")
            continue
        k, v, effect = t["key"], t.get("value", ""), t["effect"]
        ok = True
        if not isinstance(k, str) or (why := _label_key_problem(k)) is not None:
            c.add(f"{tkey}.key", k, f"invalid taint key: {why if isinstance(k, str) else 'expected text.'}")
            ok = False
        elif k.rpartition("/")[0] in _RESERVED_TAINT_PREFIXES:
            c.add(
                f"{tkey}.key", k, "Kubernetes sets and clears this taint itself (node conditions); choose your own key."
            )
            ok = False
        if v is None:
            v = ""
        if not isinstance(v, str):
            c.add(f"{tkey}.value", v, f"a taint value is text; {quote_fix(v)}")
            ok = False
        elif (why := _label_value_problem(v)) is not None:
            c.add(f"{tkey}.value", v, f"invalid taint value: {why}")
            ok = False
        if effect not in TAINT_EFFECTS:
            c.add(f"{tkey}.effect", effect, f"the effect must be one of {', '.join(TAINT_EFFECTS)}.")
            ok = False
        if ok:
            taint = Taint(str(k), str(v), str(effect))
            if (taint.key, taint.effect) in seen:
                c.add(tkey, str(taint), f"the node already has a {taint.effect} taint with key {taint.key}; keep one.")
                continue
            seen.add((taint.key, taint.effect))
            taints.append(taint)
    return tuple(taints)


def _parse_zone(c: Collector, key: str, raw: object, az_count: int | None) -> int | str | None:
    """One zone: None, an index into the stack's zones, or a zone letter."""
    if raw is None:
        return None
    upper = "N-1" if az_count is None else str(az_count - 1)
    fix = (
        f"an AZ index from 0 to {upper} (the stack's zones in name order) or a zone letter such as 'a' "
        "(the zone <region>a); leave it out to derive the zone from the node's name."
    )
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        c.add(key, raw, fix)
        return None
    if isinstance(raw, int):
        if raw < 0 or (az_count is not None and raw >= az_count):
            c.add(key, raw, f"out of range: {fix}")
            return None
        return raw
    if not _ZONE_LETTER.fullmatch(raw):
        c.add(key, raw, fix)
        return None
    return raw


def _parse_zones(
    c: Collector, key: str, raw: object, count: int | None, az_count: int | None
) -> list[int | str | None]:
    """A row's `zone`, one entry per member (member k takes entry (k-1) mod len for a list).

    A pool may list zones, e.g. to pin members that already run in different AZs.
    """
    members = count or 1
    if not isinstance(raw, list):
        zone = _parse_zone(c, key, raw, az_count)
        return [zone] * members
    if members == 1 or not raw:
        c.add(
            key,
            raw,
            "a list of zones is for a pool (count > 1), one per member in member order; a single node takes one zone.",
        )
        return [None] * members
    zones = [_parse_zone(c, f"{key}[{i}]", item, az_count) for i, item in enumerate(raw)]
    return [zones[k % len(zones)] for k in range(members)]


def parse_nodes(c: Collector, raw: object, az_count: int | None = None) -> tuple[NodeSpec, ...]:
    key = "nodes"
    if raw is None:
        c.add(key, raw, "the node table is required; see Pulumi.dev.yaml for its shape.")
        return ()
    if not isinstance(raw, list) or not raw:
        c.add(key, raw, "expected a non-empty list of nodes ({name, role, instanceType, rootVolumeGb, ...}).")
        return ()
    roles = ", ".join(r.value for r in NodeRole)
    nodes: list[NodeSpec] = []
    total = 0
    for i, entry in enumerate(raw):
        ekey = f"{key}[{i}]"
        if not isinstance(entry, dict):
            c.add(ekey, entry, "expected a mapping with name, role, instanceType, rootVolumeGb.")
            continue
        row = check(NodeRow, entry)
        if row.unknown:
            hints = [f"'{u}': {hint}" for u, hint in row.unknown[:5]]
            c.add(
                ekey,
                [u for u, _ in row.unknown],
                f"unknown keys ({'; '.join(hints)}); the allowed keys are {', '.join(sorted(fields(NodeRow)))}.",
            )
        name = entry.get("name")
        if "name" in row.refused:
            c.add(
                f"{ekey}.name",
                name,
                "a node name is a DNS label (lowercase letters, digits, '-'), at most 40 characters.",
            )
            name = None
        else:
            ekey = f"{key}[{name}]"
        role_raw = entry.get("role")
        role: NodeRole | None = None
        if "role" not in row.refused:
            role = NodeRole(role_raw)
        else:
            c.add(f"{ekey}.role", role_raw, f"the role must be one of {roles}.")
        itype: str | None = None
        if "instanceType" in row.refused:
            c.add(f"{ekey}.instanceType", entry.get("instanceType"), instance_type_fix("t3.small"))
        else:
            itype = check_instance_type(c, f"{ekey}.instanceType", entry["instanceType"], "t3.small")
        disk = entry.get("rootVolumeGb")
        if "rootVolumeGb" in row.refused:
            c.add(f"{ekey}.rootVolumeGb", disk, "the root volume is a whole number of GiB from 20 to 16384.")
            disk = None
        count = entry.get("count", 1)
        if row.refused.get("count") == "less_than_equal":
            c.add(f"{ekey}.count", count, f"at most {MAX_NODES} nodes per stack; split the cluster.")
            count = None
        elif "count" in row.refused:
            c.add(f"{ekey}.count", count, "a pool count is a whole number of at least 1.")
            count = None
        if role is NodeRole.CONTROL_PLANE and itype is not None and itype.split(".")[1] in ("nano", "micro"):
            c.add(
                f"{ekey}.instanceType",
                itype,
                "kubeadm needs 2 vCPUs and 1.7 GiB on a control-plane node; use t3.medium or larger.",
            )
            itype = None
        labels = _parse_labels(c, f"{ekey}.labels", entry.get("labels"))
        taints = _parse_taints(c, f"{ekey}.taints", entry.get("taints"))
        zones = _parse_zones(c, f"{ekey}.zone", entry.get("zone"), count, az_count)
        if name is None or role is None or itype is None or disk is None or count is None:
            continue
        total += count
        if total > MAX_NODES:
            continue  # reported below; never expand a pool past the limit
        frozen_labels = MappingProxyType(dict(labels))
        if count == 1:
            nodes.append(NodeSpec(name, role, itype, disk, frozen_labels, taints, zones[0]))
        else:
            nodes.extend(
                NodeSpec(f"{name}-{k}", role, itype, disk, frozen_labels, taints, zones[k - 1], pool=name, member=k)
                for k in range(1, count + 1)
            )
    seen: set[str] = set()
    for node in nodes:
        if node.name in seen:
            c.add(
                f"{key}[{node.name}].name",
                node.name,
                "node names must be unique (a pool of N adds name-1 ... name-N); rename one of them.",
            )
        seen.add(node.name)
    if total > MAX_NODES:
        c.add(key, f"{total} nodes", f"at most {MAX_NODES} nodes per stack; split the cluster.")
        return ()
    control = [n for n in nodes if n.role is NodeRole.CONTROL_PLANE]
    if nodes and not control:
        c.add(key, [n.name for n in nodes][:5], "no node has role 'control-plane'; add one (or three).")
    elif len(control) % 2 == 0 and control:
        c.add(
            key, [n.name for n in control], f"{len(control)} control-plane nodes: etcd needs an odd number; use 1 or 3."
        )
    elif len(control) > 3:
        c.add(key, [n.name for n in control], "use 1 or 3 control-plane nodes (kubeadm stacked etcd).")
    hard = ("NoSchedule", "NoExecute")
    open_nodes = [
        n for n in nodes if n.role is not NodeRole.CONTROL_PLANE and not any(t.effect in hard for t in n.taints)
    ]
    if nodes and control and not open_nodes:
        c.add(
            key,
            [n.name for n in nodes][:5],
            "every node is tainted (kubeadm taints the control plane): CoreDNS and ArgoCD would have nowhere "
            "to run. Leave at least one worker or api node without NoSchedule/NoExecute taints.",
        )
    # Control plane first: kubeadm init runs on the first one.
    return tuple(sorted(nodes, key=lambda n: n.role is not NodeRole.CONTROL_PLANE))
