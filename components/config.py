"""Stack configuration: read once, validated whole, frozen.

Every key the program reads is declared in Pulumi.yaml with its type, description and default;
this module reads that declaration table too, so a default has exactly one home. The two
structured keys Pulumi.yaml cannot type (`nodes`, `versions`) are validated here just as strictly,
and so are the optional secrets that cannot be declared (`sshPrivateKey`, `argocdGithubClientSecret`).

Validation collects *every* problem and raises one :class:`ConfigError` naming each key as the user
types it (`aws:region`, `gitops-cluster:nodes[api-auth].labels`, `versions.yaml: kubernetes`), its
value (secrets and credentials masked) and the fix. It runs before any resource is registered,
the AWS provider included, so a bad value never half-creates a stack. The parsing half
(:func:`parse_settings`) is pure and takes plain values, which is what the tests and the offline
preview feed it; :func:`load_settings` only gathers those values from Pulumi, including the list of
keys that are set, so a misspelled key (`natGatewayPerAZ`) is refused instead of ignored.

Rules the Pulumi.yaml types cannot express, and why (README "Configuration" lists them for users):

- Access CIDRs (`adminCidrs`, `apiCidrs`): together at most a /8 of addresses and at most a /16 of
  public (globally routable) ones, never the whole internet however it is split, never
  special-purpose ranges (0/8, loopback, link-local, multicast, reserved) that no client connects
  from, no duplicates (AWS refuses a duplicate rule), at most 50 entries (a security group holds
  60 rules). `allowBroadAccessCidrs: true` lifts the two size limits, nothing else.
- Versions are strings as written: an unquoted YAML number (`kubernetes: 1.30` reads as 1.3), a
  boolean or a null is refused with "quote it", in versions.yaml and in stack overrides alike.
- The AMI is one exact Canonical build name (no wildcards); its architecture matches every
  instance type; chart repositories are https:// URLs without credentials; images carry a tag
  other than `latest` (or a digest).
- `aws:region` is a region of components/regions.py and `azCount` at most its zones, checked
  before the provider; the placeholder GitOps repository (`example-org`) stops `pulumi up` and
  only warns in a preview.
"""

from __future__ import annotations

import base64
import binascii
import enum
import ipaddress
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeGuard
from urllib.parse import urlparse

import yaml
from pulumi.errors import RunError

from components.regions import AZ_COUNT_BY_REGION
from components.subnets import SubnetPlanError, derive_subnet_plan
from policy import gitops_rule

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILE = PROJECT_ROOT / "Pulumi.yaml"
VERSIONS_FILE = PROJECT_ROOT / "versions.yaml"
PROJECT = "gitops-cluster"

# Pulumi.yaml cannot declare object-typed keys; these are read as structured config.
STRUCTURED_KEYS = ("nodes", "versions")
# An optional secret cannot be declared in Pulumi.yaml: the CLI demands a value for a declared key
# without a default, and refuses a plaintext default for a `secret: true` key.
SECRET_KEYS = ("sshPrivateKey", "argocdGithubClientSecret")
# Keys of the project's namespace the program reads without a Pulumi.yaml declaration.
UNDECLARED_KEYS = (*STRUCTURED_KEYS, *SECRET_KEYS)
# The stack's AWS provider is explicit (components/stack.py) and receives only the region: any
# other `aws:` key would be silently ignored, so it is refused.
AWS_KEYS = ("region",)

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
_RANGE_CHARS = re.compile(r"[\^~<>=*?| ]|(^|\.)x(\.|$)", re.IGNORECASE)

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# family+generation[attributes].size, e.g. t3.micro, m7i-flex.large, c6gn.16xlarge, m5.metal.
_INSTANCE_TYPE = re.compile(
    r"(?P<family>[a-z]+)(?P<gen>[0-9])(?P<attrs>[a-z0-9]*)(-flex)?\.(?P<size>nano|micro|small|medium|large|metal|[0-9]*xlarge)"
)
_SSH_PUBLIC_KEY = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+={0,2})( [ -~]*)?")
_CIDR_TEXT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}")
_INT_TEXT = re.compile(r"[-+]?[0-9]+")
# Canonical's names: ubuntu/images/<volume>/ubuntu-<codename>-<yy.mm>-<arch>-server-<serial>.
_AMI_NAME = re.compile(
    r"ubuntu/images/[a-z0-9-]+/ubuntu-[a-z]+-[0-9]{2}\.[0-9]{2}-(?P<arch>amd64|arm64)-server-[0-9]{8}(\.[0-9]+)?"
)
_SEMVER = re.compile(r"v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?")
_IMAGE = re.compile(
    r"[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@sha256:[0-9a-f]{64})"
)
_KUBERNETES_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")
_V_TAG = re.compile(r"v[0-9]+\.[0-9]+\.[0-9]+")
_PLACEHOLDER_REPO = re.compile(r"(^|[/.@])(example-org|example\.(com|org|net))([/.:]|$)", re.IGNORECASE)

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_NODES = 500
MAX_ACCESS_CIDRS = 50
_NODE_KEYS = {"name", "role", "instanceType", "rootVolumeGb", "labels", "taints", "count", "zone"}
# A zone letter: `c` is the zone `<region>c` (checked against the region's zones after the look-up).
_ZONE_LETTER = re.compile(r"[a-z]")
_TAINT_KEYS = {"key", "value", "effect"}
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
# Families EC2 offers only for another operating system (macOS).
_NON_LINUX_FAMILIES = ("mac",)

# Access CIDR limits (see the module docstring).
MAX_ACCESS_ADDRESSES = 2**24  # a /8
MAX_PUBLIC_ACCESS_ADDRESSES = 2**16  # a /16
_NEVER_A_SOURCE = tuple(
    ipaddress.IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)
# Not globally routable (IANA special-purpose registry): the rest of IPv4 is "public".
_NOT_PUBLIC = tuple(
    ipaddress.collapse_addresses(
        ipaddress.IPv4Network(n)
        for n in (
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
            "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
            "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        )
    )
)  # fmt: skip
# Ranges a VPC, pod or service network may use without shadowing internet destinations.
_PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


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
    # Placement (components/placement.py): the row's explicit zone (an index into the stack's
    # zones or a zone letter), and for a pool member its row name and 1-based member index.
    zone: int | str | None = None
    pool: str | None = None
    member: int = 0


@dataclass(frozen=True)
class GitOpsSource:
    """The one place the GitOps repository, revision, path and way of following Git are decided.

    `mode` is ``track`` (ArgoCD follows the branch `revision`) or ``pin`` (`revision` is a tag or
    commit SHA); the rule, shared with the policy pack, is policy/gitops_rule.py.
    """

    repo_url: str
    revision: str
    path: str
    mode: str = gitops_rule.PIN
    environment: str = gitops_rule.PRODUCTION


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
    argocd_domain: str
    # Rotates the generated admin password when bumped (a keeper of the RandomPassword).
    argocd_admin_password_version: int = 1
    # GitHub SSO through Dex; None keeps the local admin only.
    argocd_sso: ArgoCdSso | None = None
    # What a preview accepts but `pulumi up` would refuse (load_settings logs them).
    warnings: tuple[str, ...] = ()

    @property
    def control_plane(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role is NodeRole.CONTROL_PLANE)


_MAX_SHOWN = 160
MAX_LISTED_PROBLEMS = 50
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def shown(value: object) -> str:
    """A value as a message may print it: credentials and private keys masked, long values cut."""
    if isinstance(value, str):
        if "PRIVATE KEY" in value or "OPENSSH" in value.upper():
            return "'<a private key, not shown>'"
        value = _URL_CREDENTIALS.sub(r"\g<scheme><credentials, not shown>@", value)
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else f"{text[: _MAX_SHOWN - 20]}... ({len(text)} characters)"


@dataclass(frozen=True)
class ArgoCdSso:
    """ArgoCD login through Dex's GitHub connector; the client secret is read apart (a secret)."""

    github_org: str
    admin_team: str
    client_id: str


@dataclass(frozen=True)
class Problem:
    """One bad value. `key` is relative to the project's namespace unless it names another one
    (`aws:region`); `file` names a file other than the stack's (versions.yaml)."""

    key: str
    value: object
    fix: str
    file: str | None = None

    def display_key(self, project: str = PROJECT) -> str:
        key = self.key if len(self.key) <= 100 else f"{self.key[:80]}...({len(self.key)} characters)"
        if self.file is not None:
            return f"{self.file}: {key}"
        root = re.split(r"[.\[]", key, maxsplit=1)[0]
        return key if ":" in root else f"{project}:{key}"

    def __str__(self) -> str:
        return f"{self.key} = {shown(self.value)}: {self.fix}"


class ConfigError(RunError):
    """Raised with every problem of a stack's configuration at once.

    A RunError, so `pulumi up` prints the message alone, without a Python traceback.
    """

    def __init__(self, problems: Sequence[Problem], project: str = PROJECT) -> None:
        self.problems = tuple(problems)
        listed = self.problems[:MAX_LISTED_PROBLEMS]
        more = len(self.problems) - len(listed)
        lines = [
            f"Invalid stack configuration ({len(self.problems)} problem"
            f"{'' if len(self.problems) == 1 else 's'}); nothing was created.",
            *(f"  - {p.display_key(project)} = {shown(p.value)}: {p.fix}" for p in listed),
            *([f"  ... and {more} more problems of the same kind; fix these first."] if more else []),
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
def _versions_file(path: Path, mtime_ns: int, size: int) -> Mapping[str, Any]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return MappingProxyType({str(k): v for k, v in raw.items()})


def default_versions() -> Mapping[str, Any]:
    """versions.yaml as YAML typed it: a number stays a number, so validation can refuse it.

    Read again whenever VERSIONS_FILE names another file or the file changes.
    """
    stat = VERSIONS_FILE.stat()
    return _versions_file(VERSIONS_FILE, stat.st_mtime_ns, stat.st_size)


# Callers written against the old @cache'd function clear it; that still works.
default_versions.cache_clear = _versions_file.cache_clear  # type: ignore[attr-defined]
raw_versions = default_versions


def _distance(a: str, b: str) -> int:
    """Levenshtein distance, case-insensitive (as the Pulumi CLI's findClosestKey compares)."""
    a, b = a.lower(), b.lower()
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def closest(needle: str, haystack: Collection[str], *, max_distance: int | None = None) -> str | None:
    """The nearest known name for a misspelled one, or None when nothing is near."""
    if len(needle) > 64:
        return None  # no key is that long; and the distance is quadratic in the length
    limit = max_distance if max_distance is not None else max(2, len(needle) // 5)
    scored = sorted((_distance(needle, k), k) for k in haystack)
    return scored[0][1] if scored and scored[0][0] <= limit else None


def _did_you_mean(needle: str, haystack: Collection[str], what: str) -> str:
    near = closest(needle, haystack)
    if near is not None:
        return f"did you mean '{near}'?"
    return f"{what}: {', '.join(sorted(haystack))}."


def _exact_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


class _Collector:
    """Gathers problems so that one run reports all of them."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, key: str, value: object, fix: str, *, file: str | None = None) -> None:
        self.problems.append(Problem(key, value, fix, file))

    def cidr(self, key: str, value: object) -> ipaddress.IPv4Network | None:
        if not isinstance(value, str) or not value:
            self.add(key, value, "expected an IPv4 CIDR such as '10.0.0.0/16'.")
            return None
        if value != value.strip():
            self.add(key, value, f"remove the spaces around it: '{value.strip()}'.")
            return None
        if ":" in value:
            self.add(key, value, "IPv6 is not supported here; give an IPv4 CIDR.")
            return None
        if not _CIDR_TEXT.fullmatch(value):
            fix = "add the prefix length, e.g. '/32' for one address" if "/" not in value else "e.g. '10.0.0.0/16'"
            self.add(key, value, f"not a CIDR; expected an IPv4 network ({fix}).")
            return None
        try:
            net = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            self.add(key, value, "not a CIDR; expected an IPv4 network such as '10.0.0.0/16'.")
            return None
        if str(net) != value:
            if str(net.network_address) != value.split("/")[0]:
                self.add(key, value, f"host bits are set; use the network address '{net}'.")
            else:
                self.add(key, value, f"write it as '{net}'.")
            return None
        return net

    def cidr_list(
        self, key: str, value: object, *, required: bool, world_fix: str | None = None
    ) -> tuple[ipaddress.IPv4Network, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(key, value, "expected a list of IPv4 CIDRs, e.g. ['203.0.113.0/24'].")
            return ()
        if required and not value:
            self.add(key, value, "must list at least one CIDR (your office or VPN egress range).")
            return ()
        nets: list[ipaddress.IPv4Network] = []
        seen: set[ipaddress.IPv4Network] = set()
        for i, item in enumerate(value):
            if world_fix is not None and item.strip() in ("0.0.0.0/0", "::/0"):
                self.add(f"{key}[{i}]", item, world_fix)
                continue
            net = self.cidr(f"{key}[{i}]", item)
            if net is None:
                continue
            if net in seen:  # a set: a list of 100,000 entries is checked in linear time
                self.add(f"{key}[{i}]", item, "listed twice (AWS refuses duplicates); remove one.")
                continue
            seen.add(net)
            nets.append(net)
        return tuple(nets)


def _check_no_overlap(c: _Collector, named: Sequence[tuple[str, ipaddress.IPv4Network]]) -> None:
    for i, (key_a, a) in enumerate(named):
        for key_b, b in named[i + 1 :]:
            if a.overlaps(b):
                c.add(key_b, str(b), f"overlaps {key_a} ({a}); choose a range that does not.")


def _overlap_size(nets: Sequence[ipaddress.IPv4Network], others: Sequence[ipaddress.IPv4Network]) -> int:
    """Addresses `nets` and `others` share (each a set of disjoint networks)."""
    total = 0
    for a in nets:
        for b in others:
            if a.subnet_of(b):
                total += a.num_addresses
            elif b.subnet_of(a):
                total += b.num_addresses
    return total


def _check_access_breadth(
    c: _Collector, key: str, raw: object, nets: Sequence[ipaddress.IPv4Network], *, allow_broad: bool
) -> None:
    """Refuse access lists that reach much further than an office or VPN range."""
    if not nets:
        return
    if len(nets) > MAX_ACCESS_CIDRS:
        c.add(key, f"{len(nets)} CIDRs", f"at most {MAX_ACCESS_CIDRS} (a security group holds 60 rules); merge ranges.")
    union = list(ipaddress.collapse_addresses(nets))
    size = sum(n.num_addresses for n in union)
    if size == 2**32:
        c.add(key, raw, "together these cover the whole IPv4 internet (the same as 0.0.0.0/0); list your ranges.")
        return
    for net in nets:
        special = [str(s) for s in _NEVER_A_SOURCE if net.overlaps(s)]
        if special:
            c.add(
                key,
                str(net),
                f"includes special-purpose addresses ({', '.join(special)}: this-network, loopback, link-local, "
                "multicast or reserved) that no client connects from; list your real egress ranges.",
            )
    if allow_broad:
        return
    override = " (or set allowBroadAccessCidrs: true if you mean it)"
    if size > MAX_ACCESS_ADDRESSES:
        c.add(
            key,
            raw,
            f"together {size:,} addresses, more than a /8; list your office/VPN/CI egress ranges{override}.",
        )
        return
    public = size - _overlap_size(union, _NOT_PUBLIC)
    if public > MAX_PUBLIC_ACCESS_ADDRESSES:
        c.add(
            key,
            raw,
            f"covers {public:,} public addresses, more than a /16: other people's networks, not yours; "
            f"list your own egress ranges{override}.",
        )


def _check_private_range(c: _Collector, key: str, net: ipaddress.IPv4Network | None) -> None:
    if net is not None and not any(net.subnet_of(p) for p in _PRIVATE_RANGES):
        c.add(
            key,
            str(net),
            "use a private range (inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10); "
            "a public range would hide those internet addresses from the cluster.",
        )


def _label_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
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


def _quote_fix(value: object) -> str:
    """The fix for a value YAML typed as something other than text (an unquoted 1.30 is the number 1.3)."""
    if isinstance(value, bool):
        return f"YAML read it as the boolean {str(value).lower()} (yes/no/on/off are booleans); quote it as text."
    if isinstance(value, float):
        return f"YAML read it as the number {value} (an unquoted 1.30 becomes 1.3); write it in quotes as text."
    if isinstance(value, int):
        return f"YAML read it as the number {value} (leading zeros and 0x/0o are dropped); write it in quotes as text."
    return "expected text in quotes."


def _parse_labels(c: _Collector, key: str, raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        c.add(key, raw, "expected a mapping of label key to value, e.g. {workload: api}.")
        return {}
    labels: dict[str, str] = {}
    for lk, lv in raw.items():
        if not isinstance(lk, str):
            c.add(key, lk, f"a label key must be text; {_quote_fix(lk)}")
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
            c.add(f"{key}.{lk}", lv, f"a label value is text; {_quote_fix(lv)}")
            continue
        if (why := _label_value_problem(lv)) is not None:
            c.add(f"{key}.{lk}", lv, f"invalid label value: {why}")
            continue
        labels[lk] = lv
    return labels


def _parse_taints(c: _Collector, key: str, raw: object) -> tuple[Taint, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.add(key, raw, "expected a list of {key, value, effect}.")
        return ()
    taints: list[Taint] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(raw):
        tkey = f"{key}[{i}]"
        if not isinstance(t, dict) or set(t) - _TAINT_KEYS or "key" not in t or "effect" not in t:
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
            c.add(f"{tkey}.value", v, f"a taint value is text; {_quote_fix(v)}")
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


def _parse_zone(c: _Collector, key: str, raw: object, az_count: int | None) -> int | str | None:
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
    c: _Collector, key: str, raw: object, count: int | None, az_count: int | None
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


def instance_arch(instance_type: str) -> str:
    """`arm64` for Graviton families (a1, and a `g` among the attributes: t4g, m7gd, c6gn), else `amd64`."""
    m = _INSTANCE_TYPE.fullmatch(instance_type)
    if m is None:
        return "amd64"
    return "arm64" if m["family"] == "a" or "g" in m["attrs"] else "amd64"


def _instance_type(c: _Collector, key: str, value: object, example: str) -> str | None:
    m = _INSTANCE_TYPE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        c.add(key, value, f"not an EC2 instance type; expected e.g. '{example}' or 'm7i.large'.")
        return None
    if m["family"] in _NON_LINUX_FAMILIES:
        c.add(key, value, f"EC2 runs only macOS on {m['family']} instances, not Ubuntu; use e.g. '{example}'.")
        return None
    return str(value)


def _parse_nodes(c: _Collector, raw: object, az_count: int | None = None) -> tuple[NodeSpec, ...]:
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
        unknown = sorted(str(k) for k in set(entry) - _NODE_KEYS)
        if unknown:
            hints = [f"'{u}': {_did_you_mean(u, _NODE_KEYS, 'allowed keys are')}" for u in unknown[:5]]
            c.add(
                ekey,
                unknown,
                f"unknown keys ({'; '.join(hints)}); the allowed keys are {', '.join(sorted(_NODE_KEYS))}.",
            )
        name = entry.get("name")
        if not isinstance(name, str) or not _DNS_LABEL.fullmatch(name) or len(name) > 40:
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
        if isinstance(role_raw, str) and role_raw in {r.value for r in NodeRole}:
            role = NodeRole(role_raw)
        else:
            c.add(f"{ekey}.role", role_raw, f"the role must be one of {roles}.")
        itype = _instance_type(c, f"{ekey}.instanceType", entry.get("instanceType"), "t3.small")
        disk = entry.get("rootVolumeGb")
        if not _exact_int(disk) or not 20 <= disk <= 16384:
            c.add(f"{ekey}.rootVolumeGb", disk, "the root volume is a whole number of GiB from 20 to 16384.")
            disk = None
        count = entry.get("count", 1)
        if not _exact_int(count) or count < 1:
            c.add(f"{ekey}.count", count, "a pool count is a whole number of at least 1.")
            count = None
        elif count > MAX_NODES:
            c.add(f"{ekey}.count", count, f"at most {MAX_NODES} nodes per stack; split the cluster.")
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


def _https_url_problem(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme != "https":
        return "must be an https:// URL (plain http lets anyone on the path swap the chart)."
    if not parsed.hostname or parsed.username or parsed.password:
        return "must be an https:// URL with a host and without credentials."
    if parsed.query or parsed.fragment or not value.isascii() or any(ch.isspace() for ch in value):
        return "must be a plain https:// URL (no query, fragment, spaces or non-ASCII characters)."
    if ".." in parsed.path.split("/"):
        return "the path must not contain '..'."
    return None


def _version_problem(value: object, key: str = "") -> str | None:
    """Why a versions.yaml value is not a pin, or None. `key` selects the rules of its kind."""
    if value is None:
        return "null; pin an exact version in quotes."
    if not isinstance(value, str):
        return _quote_fix(value)
    if not value.strip():
        return "empty; pin an exact version."
    if value != value.strip():
        return f"remove the spaces around it: '{value.strip()}'."
    if not value.isascii() or not value.isprintable() or len(value) > 200:
        return "a version is printable ASCII text of at most 200 characters."
    if value.lower() in _UNPINNED_VERSIONS:
        return f"'{value}' moves; pin an exact version (e.g. '1.31.4')."
    if key == "ubuntuAmiName":
        if "*" in value or "?" in value:
            return (
                "a wildcard; name one exact AMI build, "
                "e.g. 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20251015'."
            )
        if not _AMI_NAME.fullmatch(value):
            return (
                "not a Canonical Ubuntu server AMI name; expected "
                "'ubuntu/images/<volume>/ubuntu-<codename>-<yy.mm>-<amd64|arm64>-server-<yyyymmdd>'."
            )
        return None
    if key.endswith("Repo"):
        return _https_url_problem(value)
    if key.endswith("Image"):
        m = _IMAGE.fullmatch(value)
        if m is None:
            return "expected an image with its registry and an exact tag, e.g. 'docker.io/library/redis:7.4.1-alpine'."
        if (m["tag"] or "").lower() in _UNPINNED_VERSIONS:
            return f"the tag '{m['tag']}' moves; pin an exact tag or a sha256 digest."
        return None
    if _RANGE_CHARS.search(value):
        return "a range or wildcard; pin an exact version."
    if key == "kubernetes" and not _KUBERNETES_VERSION.fullmatch(value):
        return "expected the exact Kubernetes release 'MAJOR.MINOR.PATCH', e.g. '1.31.4'."
    if key.endswith("Chart") and not _SEMVER.fullmatch(value):
        return "a chart version is an exact semantic version, e.g. '7.7.14'."
    if key in ("calico", "localPathProvisioner") and not _V_TAG.fullmatch(value):
        return "expected the release tag 'vMAJOR.MINOR.PATCH', e.g. 'v3.29.1'."
    return None


def _parse_versions(c: _Collector, raw: object) -> Mapping[str, str]:
    file_values = dict(default_versions())
    versions: dict[str, str] = {}
    for k, v in file_values.items():
        if (why := _version_problem(v, k)) is not None:
            c.add(k, v, why, file="versions.yaml")
        else:
            versions[k] = v
    if raw is not None:
        if not isinstance(raw, dict):
            c.add("versions", raw, "expected a mapping of versions.yaml keys to pinned versions.")
        else:
            for k, v in raw.items():
                if k not in file_values:
                    c.add(
                        f"versions.{k}", v, f"unknown version key; {_did_you_mean(str(k), file_values, 'known keys')}"
                    )
                elif (why := _version_problem(v, k)) is not None:
                    c.add(f"versions.{k}", v, why)
                else:
                    versions[k] = v
    for k in REQUIRED_VERSIONS:
        if k not in file_values:
            c.add(k, None, "missing; add a pinned value.", file="versions.yaml")
    return MappingProxyType(versions)


def _check_architecture(c: _Collector, versions: Mapping[str, str], typed: Sequence[tuple[str, str]]) -> None:
    m = _AMI_NAME.fullmatch(versions.get("ubuntuAmiName", ""))
    if m is None:
        return
    for key, itype in typed:
        if instance_arch(itype) != m["arch"]:
            c.add(
                key,
                itype,
                f"a {instance_arch(itype)} instance type, but the AMI (versions.ubuntuAmiName) is {m['arch']}; "
                "use a matching instance type or AMI.",
            )


def _ssh_key_blob(public_key: str) -> tuple[str, bytes | None] | None:
    """(type, key data) of one public key line; data None when it is not whole base64."""
    m = _SSH_PUBLIC_KEY.fullmatch(public_key)
    if m is None:
        return None
    try:
        return m[1], base64.b64decode(m[2], validate=True)
    except (binascii.Error, ValueError):
        return m[1], None


def _read_string(blob: bytes, at: int) -> tuple[bytes, int] | None:
    if at + 4 > len(blob):
        return None
    size = int.from_bytes(blob[at : at + 4], "big")
    end = at + 4 + size
    return (blob[at + 4 : end], end) if end <= len(blob) else None


def _public_key_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "expected an OpenSSH public key ('ssh-ed25519 AAAA... comment')."
    if "PRIVATE KEY" in value:
        return "this is a private key: never put it in plain config. Set sshPublicKey to the .pub file's line."
    parsed = _ssh_key_blob(value)
    if parsed is None:
        return "not one OpenSSH public key line ('ssh-ed25519 AAAA... comment', no line breaks)."
    kind, blob = parsed
    if blob is None:
        return None  # not decodable (a placeholder): EC2's key import names it, before any instance
    first = _read_string(blob, 0)
    if first is None or first[0] != kind.encode():
        return f"the key data is not a {kind} key; paste the whole line of the .pub file."
    if kind == "ssh-rsa":
        exponent = _read_string(blob, first[1])
        modulus = _read_string(blob, exponent[1]) if exponent is not None else None
        if modulus is None or int.from_bytes(modulus[0], "big").bit_length() < 2048:
            return "an RSA key shorter than 2048 bits; EC2 refuses it. Use an ED25519 key."
    return None


def _private_key_problem(private_key: str, public_key: str | None) -> str | None:
    """Why the secret sshPrivateKey cannot be used (its value is never part of the message)."""
    text = private_key.strip()
    begin, end = "-----BEGIN OPENSSH PRIVATE KEY-----", "-----END OPENSSH PRIVATE KEY-----"
    if not (text.startswith(begin) and text.endswith(end)):
        if "BEGIN" in text and "PRIVATE KEY" in text:
            return "convert it to the OpenSSH format: `ssh-keygen -p -N '' -f <file>` (unencrypted)."
        return "not an OpenSSH private key; set it from the file: `pulumi config set --secret sshPrivateKey < key`."
    try:
        blob = base64.b64decode("".join(text[len(begin) : -len(end)].split()), validate=True)
    except (binascii.Error, ValueError):
        # Not base64: a placeholder (tests use such) or a damaged paste. The bootstrap checks the
        # key again before it connects (components/bootstrap.py) and says so.
        return None
    magic = b"openssh-key-v1\0"
    cipher = _read_string(blob, len(magic)) if blob.startswith(magic) else None
    if cipher is None:
        return "the key data is damaged; set it again from the key file."
    if cipher[0] != b"none":
        return "the key has a passphrase; Ansible runs unattended. Use an unencrypted key for the stack."
    kdf = _read_string(blob, cipher[1])
    kdf_options = _read_string(blob, kdf[1]) if kdf else None
    if kdf_options is None or kdf_options[1] + 4 > len(blob):
        return "the key data is damaged; set it again from the key file."
    embedded = _read_string(blob, kdf_options[1] + 4)
    expected = _ssh_key_blob(public_key.strip()) if public_key else None
    if embedded is None or (expected is not None and expected[1] is not None and embedded[0] != expected[1]):
        return "does not match sshPublicKey; set the two halves of one key pair."
    return None


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
    rev = values.get(gitops_rule.REVISION_KEY)
    mode = values.get(gitops_rule.MODE_KEY)
    environment = values.get(gitops_rule.ENVIRONMENT_KEY)
    value_of = {gitops_rule.REVISION_KEY: rev, gitops_rule.MODE_KEY: mode, gitops_rule.ENVIRONMENT_KEY: environment}
    for key, fix in gitops_rule.problems(mode, environment, rev):
        c.add(key, value_of[key], fix)
    path = values.get("gitopsPath")
    if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
        c.add("gitopsPath", path, "a relative path inside the repository, e.g. 'manifests/argocd/apps'.")
    return GitOpsSource(str(url), str(rev), str(path), str(mode), str(environment))


# Values load_settings adds beside the config keys (they are not keys a user sets).
_INTERNAL_VALUES = frozenset(
    {"awsRegion", "aws:region", *(f"{k}{suffix}" for k in SECRET_KEYS for suffix in ("Set", "Value", "Plaintext"))}
)


def _check_keys(c: _Collector, config_keys: Mapping[str, object], project: str) -> None:
    """Every key that is set must be one the program reads: a typo is refused, not ignored."""
    known = {*declared_keys(), *UNDECLARED_KEYS}
    for full, value in sorted(config_keys.items()):
        namespace, _, name = full.partition(":")
        if name.startswith("config:"):
            name = name[len("config:") :]  # the CLI's old `<namespace>:config:<name>` form
        if namespace == project:
            if name not in known:
                c.add(name, value, f"unknown key of this stack; {_did_you_mean(name, known, 'known keys are')}")
        elif namespace == "aws":
            if name not in AWS_KEYS:
                c.add(
                    full,
                    value,
                    "the stack's AWS provider takes only aws:region from config, so this would be ignored; "
                    "remove it and set credentials in the environment (AWS_PROFILE, AWS_ROLE_ARN ...).",
                )
        elif namespace != "pulumi" and len(namespace) <= 2 * len(project) and _distance(namespace, project) <= 3:
            c.add(full, value, f"not this project's namespace; did you mean '{project}:{name}'?")


def _check_private_capacity(c: _Collector, private: Sequence[ipaddress.IPv4Network], raw_nodes: object) -> None:
    """Nodes spread over the private subnets must fit: AWS keeps 5 addresses of each, the
    internal load balancer takes one more."""
    if not private or not isinstance(raw_nodes, list):
        return
    counts = [r.get("count", 1) for r in raw_nodes if isinstance(r, dict)]
    total = sum(n for n in counts if _exact_int(n) and n > 0)
    per_subnet = -(-total // len(private))
    for net in private:
        if net.num_addresses - 6 < per_subnet:
            c.add(
                "privateSubnetCidrs",
                str(net),
                f"holds {net.num_addresses - 6} nodes, but about {per_subnet} of the {total} go to each private "
                "subnet; use larger subnets (a /20 is derived when none are given).",
            )


def _check_gitops_source(c: _Collector, gitops: GitOpsSource) -> None:
    """What _parse_gitops leaves open: a URL or path that would make ArgoCD read somewhere else."""
    reported = {p.key for p in c.problems}
    if "gitopsRepoUrl" not in reported and (why := _https_url_problem(gitops.repo_url)) is not None:
        c.add("gitopsRepoUrl", gitops.repo_url, why)
    segments = gitops.path.rstrip("/").split("/")
    if "gitopsPath" not in reported and (
        not gitops.path.isascii()
        or any(ch.isspace() or ch == "\\" for ch in gitops.path)
        or any(seg in ("", ".", "..") for seg in segments)
    ):
        c.add(
            "gitopsPath",
            gitops.path,
            "a plain relative path inside the repository ('/'-separated, no '.', '..', '//', spaces or "
            "backslashes), e.g. 'manifests/argocd/apps'.",
        )


def parse_settings(
    values: Mapping[str, Any],
    *,
    project: str = PROJECT,
    stack: str = "dev",
    config_keys: Mapping[str, object] | None = None,
    deploying: bool = False,
) -> StackSettings:
    """Validate plain config values (declared defaults already applied) into settings.

    `config_keys`: every config key that is set (`gitops-cluster:clusterName`, `aws:region`) with its
    value as a message may show it, to refuse unknown ones; None skips that check. `deploying`:
    `pulumi up` rather than a preview, which refuses what a preview only warns about (the placeholder
    GitOps repository).
    Raises ConfigError listing every problem found.
    """
    c = _Collector()
    warnings: list[str] = []
    # Keys handed in directly (tests, tools) are held to the same rule as keys set in the stack.
    given = {f"{project}:{k}": v for k, v in values.items() if k not in _INTERNAL_VALUES}
    _check_keys(c, {**given, **(config_keys or {})}, project)

    region = values["awsRegion"] if "awsRegion" in values else values.get("aws:region")
    az_limit: int | None = None
    if not isinstance(region, str) or not region:
        c.add("aws:region", region, "set the AWS region, e.g. `pulumi config set aws:region ap-northeast-2`.")
    elif region not in AZ_COUNT_BY_REGION:
        near = closest(region, AZ_COUNT_BY_REGION)
        hint = f"did you mean '{near}'? " if near else ""
        c.add(
            "aws:region",
            region,
            f"not an AWS region; {hint}e.g. `pulumi config set aws:region ap-northeast-2` "
            "(a region opened after components/regions.py was written goes into its table).",
        )
    else:
        az_limit = AZ_COUNT_BY_REGION[region]

    name = values.get("clusterName")
    if not isinstance(name, str) or not _DNS_LABEL.fullmatch(name) or len(name) > 20:
        c.add("clusterName", name, "a DNS label (lowercase letters, digits, '-') of at most 20 characters.")

    vpc = c.cidr("vpcCidr", values.get("vpcCidr"))
    if vpc is not None and not 16 <= vpc.prefixlen <= 24:
        c.add("vpcCidr", str(vpc), "AWS allows VPCs from /16 to /28; use /16 to /24 here.")
        vpc = None
    _check_private_range(c, "vpcCidr", vpc)

    az_count = values.get("azCount")
    if not _exact_int(az_count) or az_count < 2:
        c.add(
            "azCount",
            az_count,
            "at least 2 availability zones (3 recommended) so one AZ outage does not take the cluster.",
        )
        az_count = None
    elif az_count > 6:
        c.add("azCount", az_count, "at most 6 availability zones.")
        az_count = None
    elif az_limit is not None and az_count > az_limit:
        c.add("azCount", az_count, f"{region} has at most {az_limit} availability zones; lower azCount.")
        az_count = None

    public = c.cidr_list("publicSubnetCidrs", values.get("publicSubnetCidrs"), required=False)
    private = c.cidr_list("privateSubnetCidrs", values.get("privateSubnetCidrs"), required=False)
    if vpc is not None and az_count is not None and not c.problems:
        for key, nets in (("publicSubnetCidrs", public), ("privateSubnetCidrs", private)):
            if nets and len(nets) != az_count:
                c.add(
                    key, [str(n) for n in nets], f"give exactly one subnet per AZ ({az_count}), or none to derive them."
                )
    # Pairwise checks below are quadratic: only for lists of the right length.
    if vpc is not None and az_count is not None and not c.problems:
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
        _check_private_capacity(c, private, values.get("nodes"))

    allow_broad = values.get("allowBroadAccessCidrs", False)
    if not isinstance(allow_broad, bool):
        c.add("allowBroadAccessCidrs", allow_broad, "expected true or false.")
        allow_broad = False
    for key, world_fix in (
        ("adminCidrs", "SSH open to the world; list your office or VPN egress range instead."),
        ("apiCidrs", "the Kubernetes API open to the world; list the ranges of your admins and CI instead."),
    ):
        nets = c.cidr_list(key, values.get(key), required=True, world_fix=world_fix)
        _check_access_breadth(c, key, values.get(key), nets, allow_broad=allow_broad)
        if key == "adminCidrs":
            admin = nets
        else:
            api = nets

    pod = c.cidr("podCidr", values.get("podCidr"))
    svc = c.cidr("serviceCidr", values.get("serviceCidr"))
    _check_private_range(c, "podCidr", pod)
    _check_private_range(c, "serviceCidr", svc)
    if svc is not None and not 12 <= svc.prefixlen <= 28:
        c.add(
            "serviceCidr",
            str(svc),
            "kube-apiserver takes a service range from /12 (at most 2^20 addresses) to /28 (room for the DNS "
            "service at .10).",
        )
    networks = [(k, n) for k, n in (("vpcCidr", vpc), ("podCidr", pod), ("serviceCidr", svc)) if n is not None]
    _check_no_overlap(c, networks)

    nat_per_az = values.get("natGatewayPerAz")
    if not isinstance(nat_per_az, bool):
        c.add("natGatewayPerAz", nat_per_az, "expected true or false.")

    bastion_type = _instance_type(c, "bastionInstanceType", values.get("bastionInstanceType"), "t3.micro")

    pub_key = values.get("sshPublicKey") or None
    has_private = bool(values.get("sshPrivateKeySet"))
    if pub_key is not None and (why := _public_key_problem(pub_key)) is not None:
        c.add("sshPublicKey", pub_key, why)
    if bool(pub_key) != has_private:
        c.add(
            "sshPublicKey" if has_private else "sshPrivateKey",
            "<unset>",
            "set sshPublicKey and the secret sshPrivateKey together, or neither (the stack then generates a key).",
        )
    if values.get("sshPrivateKeyPlaintext"):
        c.add(
            "sshPrivateKey",
            "<not shown>",
            "stored in plain text: remove it from Pulumi.<stack>.yaml and set it with "
            "`pulumi config set --secret sshPrivateKey < key`, then replace the key (it has been exposed).",
        )
    private_key = values.get("sshPrivateKeyValue")
    if isinstance(private_key, str) and (why := _private_key_problem(private_key, pub_key)) is not None:
        c.add("sshPrivateKey", "<secret>", why)

    nodes = _parse_nodes(c, values.get("nodes"), az_count)
    pod_blocks_needed = 64 * max(len(nodes), 1)  # Calico hands each node /26 blocks (64 addresses)
    if pod is not None and pod.num_addresses < pod_blocks_needed:
        c.add("podCidr", str(pod), f"too small for {len(nodes)} nodes (Calico gives each a /26); use a /16.")
    gitops = _parse_gitops(c, values)
    _check_gitops_source(c, gitops)
    repo = urlparse(gitops.repo_url)
    if _PLACEHOLDER_REPO.search(f"{repo.netloc}{repo.path}"):
        message = (
            "the placeholder repository; set gitopsRepoUrl to your fork's https:// URL "
            "(`pulumi config set gitopsRepoUrl https://github.com/<you>/gitops-cluster.git`)."
        )
        if deploying:
            c.add("gitopsRepoUrl", gitops.repo_url, f"ArgoCD would sync {message}")
        else:
            warnings.append(f"{project}:gitopsRepoUrl = {shown(gitops.repo_url)}: `pulumi up` refuses {message}")
    versions = _parse_versions(c, values.get("versions"))
    argocd_domain = values.get("argocdDomain")
    host, _, port = argocd_domain.partition(":") if isinstance(argocd_domain, str) else ("", "", "")
    if not _DNS_SUBDOMAIN.fullmatch(host) or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        c.add(
            "argocdDomain",
            argocd_domain,
            "a host name with an optional port, no scheme or path, e.g. 'argocd.example.com' or 'localhost:8080'.",
        )
    typed = [("bastionInstanceType", bastion_type)] if bastion_type else []
    _check_architecture(c, versions, [*typed, *((f"nodes[{n.name}].instanceType", n.instance_type) for n in nodes)])

    password_version = values.get("argocdAdminPasswordVersion")
    if isinstance(password_version, bool) or not isinstance(password_version, int) or password_version < 1:
        c.add(
            "argocdAdminPasswordVersion",
            password_version,
            "a whole number from 1; bump it by one to rotate the ArgoCD admin password.",
        )
    argocd_sso = _parse_argocd_sso(c, values)

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
        argocd_domain=str(argocd_domain),
        argocd_admin_password_version=int(password_version),  # type: ignore[arg-type]
        argocd_sso=argocd_sso,
        warnings=tuple(warnings),
    )


# GitHub's rules: an organisation login is 1-39 alphanumerics or single hyphens, not at the ends; a
# team slug is lowercase letters, digits, '-' and '_'.
_GITHUB_ORG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_GITHUB_TEAM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_SSO_KEYS = ("argocdGithubOrg", "argocdGithubAdminTeam", "argocdGithubClientId", "argocdGithubClientSecret")


def _parse_argocd_sso(c: _Collector, values: Mapping[str, Any]) -> ArgoCdSso | None:
    """The SSO keys: all four set (SSO on) or none (local admin only)."""
    given = {
        "argocdGithubOrg": values.get("argocdGithubOrg") or "",
        "argocdGithubAdminTeam": values.get("argocdGithubAdminTeam") or "",
        "argocdGithubClientId": values.get("argocdGithubClientId") or "",
        "argocdGithubClientSecret": bool(values.get("argocdGithubClientSecretSet")),
    }
    if values.get("argocdGithubClientSecretPlaintext"):
        c.add(
            "argocdGithubClientSecret",
            "<not shown>",
            "stored in plain text; set it with `pulumi config set --secret argocdGithubClientSecret`.",
        )
    if not any(given.values()):
        return None
    for key in _SSO_KEYS:
        if not given[key]:
            shown = "<unset>"
            c.add(
                key,
                shown,
                "ArgoCD SSO needs argocdGithubOrg, argocdGithubAdminTeam, argocdGithubClientId and the secret "
                "argocdGithubClientSecret together; set this one, or unset all four to keep the local admin.",
            )
    org, team, client_id = given["argocdGithubOrg"], given["argocdGithubAdminTeam"], given["argocdGithubClientId"]
    if org and not (isinstance(org, str) and _GITHUB_ORG.match(org)):
        c.add("argocdGithubOrg", org, "a GitHub organisation login, e.g. 'example-org' (no URL, no '@').")
    if team and not (isinstance(team, str) and _GITHUB_TEAM.match(team)):
        c.add(
            "argocdGithubAdminTeam", team, "a team slug of that organisation, e.g. 'platform-admins' (not 'org/team')."
        )
    if client_id and not (isinstance(client_id, str) and client_id.strip() == client_id and " " not in client_id):
        c.add("argocdGithubClientId", client_id, "the OAuth App's client ID, e.g. 'Ov23li...', without spaces.")
    if not all(given.values()):
        return None
    return ArgoCdSso(github_org=str(org), admin_team=str(team), client_id=str(client_id))


def with_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """Apply Pulumi.yaml's declared defaults where a key is absent (None), as the CLI does."""
    merged = dict(values)
    for key, decl in declared_keys().items():
        if merged.get(key) is None and decl.default is not None:
            merged[key] = decl.default
    return merged


def config_in_use() -> dict[str, bool]:
    """Every config key that is set for this run, and whether it is a secret.

    Under the CLI, the language host hands the program the whole stack config as PULUMI_CONFIG and
    the secret keys as PULUMI_CONFIG_SECRET_KEYS, and its entry point loads both with
    `pulumi.runtime.set_all_config`; the mock runtime and the Automation API call the same
    function. Both sources are read, so a key is seen however it arrived.
    """
    from pulumi.runtime import config as runtime_config

    keys = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = set(runtime_config.get_config_secret_keys_env())
    return {k: runtime_config.is_config_secret(k) or k in secret for k in keys}


def _config_values(in_use: Mapping[str, bool]) -> dict[str, object]:
    """The raw value of each key in use, as a message may show it (secrets never)."""
    from pulumi.runtime import config as runtime_config

    return {k: "<secret>" if secret else runtime_config.get_config(k) for k, secret in in_use.items()}


def load_settings(read: Callable[[str, str], Any] | None = None) -> StackSettings:
    """Read the current stack's config through Pulumi and validate it.

    `read(key, type)` is injectable for tests; by default it reads pulumi.Config.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    project_cfg = pulumi.Config()

    def read_from_pulumi(key: str, kind: str) -> Any:
        namespace, _, bare = key.rpartition(":")
        cfg = pulumi.Config(namespace) if namespace else project_cfg
        key = bare
        if kind == "secret":
            return runtime_config.get_config(cfg.full_key(key))  # plaintext, for validation only
        if kind in ("array", "object"):
            try:
                return cfg.get_object(key)
            except Exception:  # noqa: BLE001 - malformed JSON is reported by validation
                return cfg.get(key)
        if kind == "integer":
            raw = cfg.get(key)
            # As the CLI's ValidateConfigValue: base-10 digits only (no spaces, no '3.0', no '٣').
            return int(raw) if raw is not None and raw.isascii() and _INT_TEXT.fullmatch(raw) else raw
        if kind == "boolean":
            raw = cfg.get(key)
            return {"true": True, "false": False}.get(raw, raw) if raw is not None else None
        return cfg.get(key)

    reader = read or read_from_pulumi
    in_use = config_in_use() if read is None else {}
    project = pulumi.get_project()
    values: dict[str, Any] = {}
    for key, decl in declared_keys().items():
        values[key] = reader(key, decl.type)
    for key in SECRET_KEYS:
        secret_value = reader(key, "secret")
        values[f"{key}Set"] = secret_value is not None
        values[f"{key}Value"] = secret_value if isinstance(secret_value, str) else None
        full = f"{project}:{key}"
        values[f"{key}Plaintext"] = full in in_use and not in_use[full]
    for key in STRUCTURED_KEYS:
        values[key] = reader(key, "object")
    values["awsRegion"] = reader("aws:region", "string")
    settings = parse_settings(
        with_defaults(values),
        project=project,
        stack=pulumi.get_stack(),
        config_keys=_config_values(in_use) if read is None else None,
        deploying=not pulumi.runtime.is_dry_run(),
    )
    for warning in settings.warnings:
        pulumi.log.warn(warning)
    return settings
