"""Stack configuration: read once, validated whole, frozen.

Every key the program reads is declared in Pulumi.yaml with its type, description and default;
this module reads that declaration table too, so a default has exactly one home. The two
structured keys Pulumi.yaml cannot type (`nodes`, `versions`) are validated here just as strictly.

Validation collects *every* problem and raises one :class:`ConfigError` naming each key, its value
and the fix. It runs before any resource is registered, so a bad value never half-creates a stack.
The parsing half (:func:`parse_settings`) is pure and takes plain values, which is what the tests
and the offline preview feed it; :func:`load_settings` only gathers those values from Pulumi.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

import yaml
from pulumi.errors import RunError

from components.subnets import SubnetPlanError, derive_subnet_plan

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILE = PROJECT_ROOT / "Pulumi.yaml"
VERSIONS_FILE = PROJECT_ROOT / "versions.yaml"

# Pulumi.yaml cannot declare object-typed keys; these are read as structured config.
STRUCTURED_KEYS = ("nodes", "versions")
# An optional secret cannot be declared in Pulumi.yaml: the CLI demands a value for a declared key
# without a default, and refuses a plaintext default for a `secret: true` key.
SECRET_KEYS = ("sshPrivateKey",)
# Keys of the project's namespace the program reads without a Pulumi.yaml declaration.
UNDECLARED_KEYS = (*STRUCTURED_KEYS, *SECRET_KEYS)

# Versions every stack needs; versions.yaml may hold more (charts pinned under manifests/).
REQUIRED_VERSIONS = (
    "ubuntuAmiName",
    "kubernetes",
    "kubernetesPackageRevision",
    "containerd",
    "calico",
    "argoCdChart",
    "argoCdChartRepo",
)
_UNPINNED_VERSIONS = {"latest", "stable", "main", "master", "head", "*", "x", "edge", "nightly"}
_RANGE_CHARS = re.compile(r"[\^~<>=*| ]|(^|\.)x(\.|$)", re.IGNORECASE)
_GIT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_GIT_TAG = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")

_AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# family+generation[attributes].size, e.g. t3.micro, m7i-flex.large, c6gn.16xlarge, m5.metal.
_INSTANCE_TYPE = re.compile(r"^[a-z]+[0-9][a-z0-9]*(-flex)?\.(nano|micro|small|medium|large|metal|[0-9]*xlarge)$")
_SSH_PUBLIC_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$")

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_NODES = 500
_NODE_KEYS = {"name", "role", "instanceType", "rootVolumeGb", "labels", "taints", "count"}
_TAINT_KEYS = {"key", "value", "effect"}


class NodeRole(enum.Enum):
    """What a node is for; decides its security groups and its Ansible group."""

    CONTROL_PLANE = "control-plane"
    API = "api"
    WORKER = "worker"
    INFRASTRUCTURE = "infrastructure"


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}"


@dataclass(frozen=True)
class NodeSpec:
    """One EC2 instance of the node table (pools are already expanded)."""

    name: str
    role: NodeRole
    instance_type: str
    root_volume_gb: int
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    taints: tuple[Taint, ...] = ()


@dataclass(frozen=True)
class GitOpsSource:
    """The one place the GitOps repository, revision and path are decided."""

    repo_url: str
    revision: str
    path: str


@dataclass(frozen=True)
class StackSettings:
    """Everything the program needs, validated; components never read config themselves."""

    project: str
    stack: str
    region: str
    cluster_name: str
    vpc_cidr: ipaddress.IPv4Network
    az_count: int
    public_subnets: tuple[ipaddress.IPv4Network, ...]
    private_subnets: tuple[ipaddress.IPv4Network, ...]
    nat_gateway_per_az: bool
    admin_cidrs: tuple[ipaddress.IPv4Network, ...]
    api_cidrs: tuple[ipaddress.IPv4Network, ...]
    pod_cidr: ipaddress.IPv4Network
    service_cidr: ipaddress.IPv4Network
    bastion_instance_type: str
    ssh_public_key: str | None
    nodes: tuple[NodeSpec, ...]
    gitops: GitOpsSource
    versions: Mapping[str, str]

    @property
    def control_plane(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role is NodeRole.CONTROL_PLANE)


@dataclass(frozen=True)
class Problem:
    key: str
    value: object
    fix: str

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}: {self.fix}"


class ConfigError(RunError):
    """Raised with every problem of a stack's configuration at once.

    A RunError, so `pulumi up` prints the message alone, without a Python traceback.
    """

    def __init__(self, problems: Sequence[Problem], project: str = "gitops-cluster") -> None:
        self.problems = tuple(problems)
        lines = [
            f"Invalid stack configuration ({len(self.problems)} problem"
            f"{'' if len(self.problems) == 1 else 's'}); nothing was created.",
            *(f"  - {project}:{p}" for p in self.problems),
            "Set a value with `pulumi config set <key> <value>` (structured keys: edit "
            "Pulumi.<stack>.yaml); every key is described in Pulumi.yaml and README.md.",
        ]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ConfigKey:
    name: str
    type: str
    default: Any
    secret: bool


@cache
def declared_keys() -> Mapping[str, ConfigKey]:
    """The config declarations of Pulumi.yaml (type, default, secret) by key of this project."""
    project = yaml.safe_load(PROJECT_FILE.read_text(encoding="utf-8"))
    keys = {}
    for name, decl in (project.get("config") or {}).items():
        if ":" in name:
            continue  # a value for another namespace (pulumi:, aws:), not a key of this program
        keys[name] = ConfigKey(
            name=name,
            type=decl["type"],
            default=decl.get("default"),
            secret=bool(decl.get("secret", False)),
        )
    return MappingProxyType(keys)


@cache
def default_versions() -> Mapping[str, str]:
    raw = yaml.safe_load(VERSIONS_FILE.read_text(encoding="utf-8"))
    return MappingProxyType({str(k): str(v) for k, v in raw.items()})


class _Collector:
    """Gathers problems so that one run reports all of them."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, key: str, value: object, fix: str) -> None:
        self.problems.append(Problem(key, value, fix))

    def cidr(self, key: str, value: object) -> ipaddress.IPv4Network | None:
        if not isinstance(value, str) or not value.strip():
            self.add(key, value, "expected an IPv4 CIDR such as '10.0.0.0/16'.")
            return None
        try:
            net = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            self.add(key, value, "not a CIDR; expected an IPv4 network such as '10.0.0.0/16'.")
            return None
        if str(net) != value.strip():
            self.add(key, value, f"host bits are set; use the network address '{net}'.")
            return None
        if not isinstance(net, ipaddress.IPv4Network):
            self.add(key, value, "IPv6 is not supported here; give an IPv4 CIDR.")
            return None
        return net

    def cidr_list(
        self, key: str, value: object, *, required: bool, world_fix: str | None = None
    ) -> tuple[ipaddress.IPv4Network, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(key, value, "expected a list of IPv4 CIDRs.")
            return ()
        if required and not value:
            self.add(key, value, "must list at least one CIDR (your office or VPN egress range).")
            return ()
        nets = []
        for i, item in enumerate(value):
            if world_fix is not None and item.strip() in ("0.0.0.0/0", "::/0"):
                self.add(f"{key}[{i}]", item, world_fix)
                continue
            net = self.cidr(f"{key}[{i}]", item)
            if net is not None:
                nets.append(net)
        return tuple(nets)


def _check_no_overlap(c: _Collector, named: Sequence[tuple[str, ipaddress.IPv4Network]]) -> None:
    for i, (key_a, a) in enumerate(named):
        for key_b, b in named[i + 1 :]:
            if a.overlaps(b):
                c.add(key_b, str(b), f"overlaps {key_a} ({a}); choose a range that does not.")


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "its prefix must be a DNS subdomain (lowercase, dots, at most 253 characters)."
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return "its name must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric."
    return None


def _label_value_problem(value: str) -> str | None:
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        return "a label value is empty or 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric."
    return None


def _parse_taints(c: _Collector, key: str, raw: object) -> tuple[Taint, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.add(key, raw, "expected a list of {key, value, effect}.")
        return ()
    taints = []
    for i, t in enumerate(raw):
        tkey = f"{key}[{i}]"
        if not isinstance(t, dict) or set(t) - _TAINT_KEYS or "key" not in t or "effect" not in t:
            c.add(tkey, t, "expected {key: ..., value: ..., effect: NoSchedule|PreferNoSchedule|NoExecute}.")
            continue
        k, v, effect = str(t["key"]), str(t.get("value", "")), str(t["effect"])
        ok = True
        if (why := _label_key_problem(k)) is not None:
            c.add(f"{tkey}.key", k, f"invalid taint key: {why}")
            ok = False
        if (why := _label_value_problem(v)) is not None:
            c.add(f"{tkey}.value", v, f"invalid taint value: {why}")
            ok = False
        if effect not in TAINT_EFFECTS:
            c.add(f"{tkey}.effect", effect, f"the effect must be one of {', '.join(TAINT_EFFECTS)}.")
            ok = False
        if ok:
            taints.append(Taint(k, v, effect))
    return tuple(taints)


def _parse_nodes(c: _Collector, raw: object) -> tuple[NodeSpec, ...]:
    key = "nodes"
    if raw is None:
        c.add(key, raw, "the node table is required; see Pulumi.dev.yaml for its shape.")
        return ()
    if not isinstance(raw, list) or not raw:
        c.add(key, raw, "expected a non-empty list of nodes ({name, role, instanceType, rootVolumeGb, ...}).")
        return ()
    roles = ", ".join(r.value for r in NodeRole)
    nodes: list[NodeSpec] = []
    for i, entry in enumerate(raw):
        ekey = f"{key}[{i}]"
        if not isinstance(entry, dict):
            c.add(ekey, entry, "expected a mapping with name, role, instanceType, rootVolumeGb.")
            continue
        unknown = sorted(set(entry) - _NODE_KEYS)
        if unknown:
            c.add(ekey, unknown, f"unknown keys; the allowed keys are {', '.join(sorted(_NODE_KEYS))}.")
        name = entry.get("name")
        if not isinstance(name, str) or not _DNS_LABEL.match(name) or len(name) > 40:
            c.add(
                f"{ekey}.name",
                name,
                "a node name is a DNS label (lowercase letters, digits, '-'), at most 40 characters.",
            )
            name = None
        else:
            ekey = f"{key}[{name}]"
        try:
            role: NodeRole | None = NodeRole(entry.get("role"))
        except ValueError:
            c.add(f"{ekey}.role", entry.get("role"), f"the role must be one of {roles}.")
            role = None
        itype = entry.get("instanceType")
        if not isinstance(itype, str) or not _INSTANCE_TYPE.match(itype):
            c.add(f"{ekey}.instanceType", itype, "not an EC2 instance type; expected e.g. 't3.small' or 'm7i.large'.")
            itype = None
        disk = entry.get("rootVolumeGb")
        if isinstance(disk, bool) or not isinstance(disk, int) or not 20 <= disk <= 16384:
            c.add(f"{ekey}.rootVolumeGb", disk, "the root volume is a whole number of GiB from 20 to 16384.")
            disk = None
        count = entry.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            c.add(f"{ekey}.count", count, "a pool count is a whole number of at least 1.")
            count = None
        labels_raw = entry.get("labels") or {}
        labels: dict[str, str] = {}
        if not isinstance(labels_raw, dict):
            c.add(f"{ekey}.labels", labels_raw, "expected a mapping of label key to value.")
        else:
            for lk, lv in labels_raw.items():
                lv_s = "" if lv is None else str(lv)
                if (why := _label_key_problem(str(lk))) is not None:
                    c.add(f"{ekey}.labels", lk, f"invalid label key: {why}")
                elif (why := _label_value_problem(lv_s)) is not None:
                    c.add(f"{ekey}.labels.{lk}", lv_s, f"invalid label value: {why}")
                else:
                    labels[str(lk)] = lv_s
        taints = _parse_taints(c, f"{ekey}.taints", entry.get("taints"))
        if name is None or role is None or itype is None or disk is None or count is None:
            continue
        names = [name] if count == 1 else [f"{name}-{n}" for n in range(1, count + 1)]
        for node_name in names:
            nodes.append(NodeSpec(node_name, role, itype, disk, MappingProxyType(dict(labels)), taints))
    seen: set[str] = set()
    for node in nodes:
        if node.name in seen:
            c.add(f"{key}[{node.name}].name", node.name, "node names must be unique; rename one of them.")
        seen.add(node.name)
    if len(nodes) > MAX_NODES:
        c.add(key, f"{len(nodes)} nodes", f"at most {MAX_NODES} nodes per stack; split the cluster.")
    control = [n for n in nodes if n.role is NodeRole.CONTROL_PLANE]
    if nodes and not control:
        c.add(key, [n.name for n in nodes][:5], "no node has role 'control-plane'; add one (or three).")
    elif len(control) % 2 == 0 and control:
        c.add(
            key, [n.name for n in control], f"{len(control)} control-plane nodes: etcd needs an odd number; use 1 or 3."
        )
    elif len(control) > 3:
        c.add(key, [n.name for n in control], "use 1 or 3 control-plane nodes (kubeadm stacked etcd).")
    # Control plane first: kubeadm init runs on the first one.
    return tuple(sorted(nodes, key=lambda n: n.role is not NodeRole.CONTROL_PLANE))


def _version_problem(value: str) -> str | None:
    v = value.strip()
    if not v:
        return "empty; pin an exact version."
    if v.lower() in _UNPINNED_VERSIONS:
        return f"'{v}' moves; pin an exact version (e.g. '1.31.4')."
    if _RANGE_CHARS.search(v) and not v.startswith(("https://", "ubuntu/")):
        return "a range or wildcard; pin an exact version."
    return None


def _parse_versions(c: _Collector, raw: object) -> Mapping[str, str]:
    versions = dict(default_versions())
    if raw is not None:
        if not isinstance(raw, dict):
            c.add("versions", raw, "expected a mapping of versions.yaml keys to pinned versions.")
        else:
            for k, v in raw.items():
                if k not in versions:
                    c.add(f"versions.{k}", v, f"unknown version key; known keys: {', '.join(sorted(versions))}.")
                else:
                    versions[k] = "" if v is None else str(v)
    for k in REQUIRED_VERSIONS:
        if k not in versions:
            c.add(f"versions.{k}", None, "missing from versions.yaml; add a pinned value.")
    for k, v in versions.items():
        if (why := _version_problem(v)) is not None:
            c.add(f"versions.{k}", v, why)
    return MappingProxyType(versions)


def _parse_gitops(c: _Collector, values: Mapping[str, Any]) -> GitOpsSource:
    url = values.get("gitopsRepoUrl")
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or not url:
        c.add("gitopsRepoUrl", url, "required: the HTTPS URL of this repository.")
    elif parsed.scheme != "https" or not parsed.netloc or parsed.username or parsed.password:
        c.add(
            "gitopsRepoUrl",
            url,
            "must be an https:// URL without credentials (ArgoCD reads it; keep tokens in a repo secret).",
        )
    rev = values.get("gitopsRevision")
    if not isinstance(rev, str) or not rev.strip():
        c.add("gitopsRevision", rev, "required: a tag (v1.2.3) or a commit SHA.")
    elif not (_GIT_TAG.match(rev) or _GIT_SHA.match(rev)):  # branches (main, HEAD, ...) match neither
        c.add("gitopsRevision", rev, "unpinned; use a release tag such as 'v0.1.0' or a commit SHA, never a branch.")
    path = values.get("gitopsPath")
    if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
        c.add("gitopsPath", path, "a relative path inside the repository, e.g. 'manifests/argocd/apps'.")
    return GitOpsSource(str(url), str(rev), str(path))


def parse_settings(values: Mapping[str, Any], *, project: str = "gitops-cluster", stack: str = "dev") -> StackSettings:
    """Validate plain config values (declared defaults already applied) into settings.

    Raises ConfigError listing every problem found.
    """
    c = _Collector()
    region = values.get("awsRegion")
    if not isinstance(region, str) or not _AWS_REGION.match(region):
        c.add("aws:region", region, "set the AWS region, e.g. `pulumi config set aws:region ap-northeast-2`.")
    name = values.get("clusterName")
    if not isinstance(name, str) or not _DNS_LABEL.match(name) or len(name) > 20:
        c.add("clusterName", name, "a DNS label (lowercase letters, digits, '-') of at most 20 characters.")

    vpc = c.cidr("vpcCidr", values.get("vpcCidr"))
    if vpc is not None and not 16 <= vpc.prefixlen <= 24:
        c.add("vpcCidr", str(vpc), "AWS allows VPCs from /16 to /28; use /16 to /24 here.")

    az_count = values.get("azCount")
    if isinstance(az_count, bool) or not isinstance(az_count, int) or az_count < 2:
        c.add(
            "azCount",
            az_count,
            "at least 2 availability zones (3 recommended) so one AZ outage does not take the cluster.",
        )
        az_count = None
    elif az_count > 6:
        c.add("azCount", az_count, "at most 6 availability zones.")
        az_count = None

    public = c.cidr_list("publicSubnetCidrs", values.get("publicSubnetCidrs"), required=False)
    private = c.cidr_list("privateSubnetCidrs", values.get("privateSubnetCidrs"), required=False)
    if vpc is not None and az_count is not None and not c.problems:
        for key, nets in (("publicSubnetCidrs", public), ("privateSubnetCidrs", private)):
            if nets and len(nets) != az_count:
                c.add(
                    key, [str(n) for n in nets], f"give exactly one subnet per AZ ({az_count}), or none to derive them."
                )
        if not public or not private:
            try:
                plan = derive_subnet_plan(vpc, az_count)
            except SubnetPlanError as exc:
                c.add("vpcCidr", str(vpc), str(exc))
            else:
                public = public or plan.public
                private = private or plan.private
        subnets = [("publicSubnetCidrs", n) for n in public] + [("privateSubnetCidrs", n) for n in private]
        for key, net in subnets:
            if not net.subnet_of(vpc):
                c.add(key, str(net), f"outside the VPC {vpc}; pick a range inside it.")
            elif net.prefixlen > 28:
                c.add(key, str(net), "AWS subnets are /28 or larger.")
        _check_no_overlap(c, subnets)

    admin = c.cidr_list(
        "adminCidrs",
        values.get("adminCidrs"),
        required=True,
        world_fix="SSH open to the world; list your office or VPN egress range instead.",
    )
    api = c.cidr_list(
        "apiCidrs",
        values.get("apiCidrs"),
        required=True,
        world_fix="the Kubernetes API open to the world; list the ranges of your admins and CI instead.",
    )
    pod = c.cidr("podCidr", values.get("podCidr"))
    svc = c.cidr("serviceCidr", values.get("serviceCidr"))
    networks = [(k, n) for k, n in (("vpcCidr", vpc), ("podCidr", pod), ("serviceCidr", svc)) if n is not None]
    _check_no_overlap(c, networks)

    nat_per_az = values.get("natGatewayPerAz")
    if not isinstance(nat_per_az, bool):
        c.add("natGatewayPerAz", nat_per_az, "expected true or false.")

    bastion_type = values.get("bastionInstanceType")
    if not isinstance(bastion_type, str) or not _INSTANCE_TYPE.match(bastion_type):
        c.add("bastionInstanceType", bastion_type, "not an EC2 instance type; expected e.g. 't3.micro'.")

    pub_key = values.get("sshPublicKey") or None
    has_private = bool(values.get("sshPrivateKeySet"))
    if pub_key is not None and not (isinstance(pub_key, str) and _SSH_PUBLIC_KEY.match(pub_key.strip())):
        c.add("sshPublicKey", pub_key, "not an OpenSSH public key ('ssh-ed25519 AAAA...').")
    if bool(pub_key) != has_private:
        c.add(
            "sshPublicKey" if has_private else "sshPrivateKey",
            "<unset>",
            "set sshPublicKey and the secret sshPrivateKey together, or neither (the stack then generates a key).",
        )

    nodes = _parse_nodes(c, values.get("nodes"))
    gitops = _parse_gitops(c, values)
    versions = _parse_versions(c, values.get("versions"))

    if c.problems:
        raise ConfigError(c.problems, project)
    assert vpc is not None and az_count is not None and pod is not None and svc is not None
    return StackSettings(
        project=project,
        stack=stack,
        region=str(region),
        cluster_name=str(name),
        vpc_cidr=vpc,
        az_count=az_count,
        public_subnets=public,
        private_subnets=private,
        nat_gateway_per_az=bool(nat_per_az),
        admin_cidrs=admin,
        api_cidrs=api,
        pod_cidr=pod,
        service_cidr=svc,
        bastion_instance_type=str(bastion_type),
        ssh_public_key=pub_key.strip() if isinstance(pub_key, str) else None,
        nodes=nodes,
        gitops=gitops,
        versions=versions,
    )


def with_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """Apply Pulumi.yaml's declared defaults where a key is absent (None), as the CLI does."""
    merged = dict(values)
    for key, decl in declared_keys().items():
        if merged.get(key) is None and decl.default is not None:
            merged[key] = decl.default
    return merged


def load_settings(read: Callable[[str, str], Any] | None = None) -> StackSettings:
    """Read the current stack's config through Pulumi and validate it.

    `read(key, type)` is injectable for tests; by default it reads pulumi.Config.
    """
    import pulumi

    project_cfg = pulumi.Config()

    def read_from_pulumi(key: str, kind: str) -> Any:
        namespace, _, bare = key.rpartition(":")
        cfg = pulumi.Config(namespace) if namespace else project_cfg
        key = bare
        if kind == "secret":
            return cfg.get_secret(key)
        if kind in ("array", "object"):
            try:
                return cfg.get_object(key)
            except Exception:  # noqa: BLE001 - malformed JSON is reported by validation
                return cfg.get(key)
        if kind == "integer":
            raw = cfg.get(key)
            try:
                return None if raw is None else int(raw)
            except ValueError:
                return raw
        if kind == "boolean":
            raw = cfg.get(key)
            if raw is not None and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            return raw
        return cfg.get(key)

    reader = read or read_from_pulumi
    values: dict[str, Any] = {}
    for key, decl in declared_keys().items():
        values[key] = reader(key, decl.type)
    for key in SECRET_KEYS:
        values[f"{key}Set"] = reader(key, "secret") is not None
    for key in STRUCTURED_KEYS:
        values[key] = reader(key, "object")
    values["awsRegion"] = reader("aws:region", "string")
    return parse_settings(with_defaults(values), project=pulumi.get_project(), stack=pulumi.get_stack())
