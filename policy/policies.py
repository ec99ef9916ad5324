"""The rules the platform enforces on every preview and update, as pure functions.

Each rule takes the `ResourceValidationArgs` pulumi-policy builds for one resource (type, inputs
as the engine sees them - camelCase keys -, URN, name, provider, pack config) and returns the
violation messages, so tests can call it without an engine, on hand-made bad resources and on
everything the dev stack registers under the mock runtime. `__main__.py` only wraps these into a
`PolicyPack`.

The rules exist because the system this project replaces broke them: SSH and the API server open
to 0.0.0.0/0, IMDSv1, unpinned charts, a GitOps root that neither pruned nor healed. Each message
names the resource, the offending value and the fix.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs

# The Git-following rule the program validates its config with (see gitops_rule.py for why it is a
# shared module). The pack runs with policy/ on sys.path and imports it as `gitops_rule`; tests and
# tools load this file from the project root, where it is `policy.gitops_rule`. mypy sees one name
# only, so it does not find the same file under two module names.
if TYPE_CHECKING:
    from policy import gitops_rule
else:
    try:
        import gitops_rule
    except ModuleNotFoundError:
        from policy import gitops_rule

SSH_PORT = 22
API_PORT = 6443
# Ports that must never be reachable from the whole Internet.
GUARDED_PORTS: Mapping[int, str] = {
    SSH_PORT: "SSH",
    2379: "etcd",
    API_PORT: "the Kubernetes API",
    10250: "the kubelet",
}

ROOT_APP_FINALIZER = "resources-finalizer.argocd.argoproj.io"

# Every AWS resource must carry these (directly or through the provider's default tags), so cost
# reports and clean-up scripts can find everything a cluster owns.
REQUIRED_TAGS: tuple[str, ...] = ("cluster", "managed-by")
# Instances additionally carry these explicitly: Ansible's inventory, the console and the
# no-public-IP rule read them from the instance itself.
REQUIRED_INSTANCE_TAGS: tuple[str, ...] = ("cluster", "role", "Name")
BASTION_ROLE = "bastion"

# The instance families this platform supports (burstable for small nodes, current-generation
# general purpose and compute optimised for the rest); a stack widens it with the pack config.
DEFAULT_ALLOWED_INSTANCE_TYPES: tuple[str, ...] = (
    *(f"t3.{s}" for s in ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge")),
    *(
        f"{family}.{s}"
        for family in ("m6i", "m7i", "c6i")
        for s in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge")
    ),
)

# AWS resource types that accept `tags` (checked against pulumi-aws by the tests for every type
# the program registers, so a new taggable type cannot slip through unnoticed).
TAGGABLE_AWS_TYPES: frozenset[str] = frozenset(
    {
        "aws:ec2/vpc:Vpc",
        "aws:cloudfront/distribution:Distribution",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/instance:Instance",
        "aws:ec2/keyPair:KeyPair",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/networkAcl:NetworkAcl",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ec2/flowLog:FlowLog",
        "aws:ebs/volume:Volume",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        "aws:lb/listener:Listener",
        "aws:alb/loadBalancer:LoadBalancer",
        "aws:alb/targetGroup:TargetGroup",
        "aws:alb/listener:Listener",
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:kms/key:Key",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:route53/zone:Zone",
        "aws:autoscaling/group:Group",
    }
)

# Exact semantic version (semver.org 2.0.0), optionally with the `v` some charts use: no ranges,
# wildcards or channels such as `latest`.
_EXACT_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$"
)

Check = Callable[[ResourceValidationArgs], list[str]]


def _types(*tokens: str) -> Callable[[str], bool]:
    wanted = frozenset(tokens)
    return lambda resource_type: resource_type in wanted


@dataclass(frozen=True)
class PolicySpec:
    """One rule: its id, what it asks for, how to fix it, its config schema and its check."""

    name: str
    description: str
    remediation: str
    check: Check
    applies: Callable[[str], bool]
    config_schema: PolicyConfigSchema | None = None


# --- small readers over the engine's property shape -------------------------------------------


def _get(props: Mapping[str, Any] | None, *path: str) -> Any:
    current: Any = props
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def _as_mapping(value: Any) -> Mapping[str, Any]:
    """Tags and provider settings arrive as objects, or JSON text for some provider inputs."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _label(args: ResourceValidationArgs) -> str:
    return f"{args.resource_type.rsplit(':', 1)[-1]} '{args.name}'"


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- no-internet-wide-ingress -------------------------------------------------------------------


_SG_TYPES = (
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
)
_DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"

# Ports the whole Internet may reach: HTTP and HTTPS of the public entry (the ALB), nothing else.
PUBLIC_PORTS: frozenset[int] = frozenset({80, 443})

# Addresses nobody on the Internet has: private, shared (CGNAT), loopback, link-local, multicast,
# reserved, documentation, and their IPv6 counterparts. The rest is "public".
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/3",
        "::/8", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32",
    )
)  # fmt: skip
# More public addresses than this in one rule (or one security group's rules for a port) is "the
# Internet": a /8 of IPv4, a /16 of IPv6. So 0.0.0.0/1 + 128.0.0.0/1, ::/1 + 8000::/1 or 256 /16s
# count as 0.0.0.0/0 does, whatever way the world is written.
_WIDE = {4: 2**24, 6: 2**112}


@dataclass(frozen=True)
class _Ingress:
    where: str
    protocol: str
    from_port: int | None
    to_port: int | None
    cidrs: tuple[str, ...]
    prefix_lists: tuple[str, ...] = ()


def _public_addresses(cidrs: Iterable[str]) -> dict[int, int]:
    """How many public addresses the union of `cidrs` covers, per IP version."""
    nets: dict[int, list[Any]] = {4: [], 6: []}
    for cidr in cidrs:
        try:
            nets_version = ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            continue
        nets[nets_version.version].append(nets_version)
    out = {}
    for version, found in nets.items():
        total = 0
        for net in ipaddress.collapse_addresses(found):  # type: ignore[type-var]
            total += net.num_addresses
            for private in _NOT_PUBLIC:
                if private.version == version and net.overlaps(private):
                    inner = private if net.supernet_of(private) else net  # type: ignore[arg-type]
                    total -= inner.num_addresses
        out[version] = total
    return out


def _internet_wide(cidrs: Iterable[str]) -> bool:
    counts = _public_addresses(cidrs)
    return any(counts[v] > _WIDE[v] for v in counts)


def _port_range(rule: _Ingress) -> tuple[int, int] | None:
    """The TCP/UDP port range a rule opens; None for every protocol (all ports of all)."""
    protocol = rule.protocol.strip().lower()
    if protocol in {"-1", "all"}:
        return None
    low = rule.from_port if rule.from_port is not None else 0
    high = rule.to_port if rule.to_port is not None else low
    if low > high:
        low, high = high, low
    # AWS reads 0-0 and -1 as "all ports" for TCP rules in some APIs; treat them as the full range.
    if low <= 0 and high <= 0:
        low, high = 0, 65535
    return low, high


def _ports_text(rule: _Ingress) -> str:
    span = _port_range(rule)
    if span is None:
        return "every port of every protocol (22 SSH, 6443 the Kubernetes API, 10250 the kubelet, 2379 etcd...)"
    low, high = span
    protocol = {"6": "tcp", "17": "udp"}.get(rule.protocol.strip(), rule.protocol.strip().lower())
    named = [f"{p} {GUARDED_PORTS[p]}" for p in sorted(GUARDED_PORTS) if low <= p <= high]
    if low == high:
        return f"{protocol} port {low}" + (f" ({GUARDED_PORTS[low]})" if low in GUARDED_PORTS else "")
    return f"{protocol} ports {low}-{high}" + (f" (including {', '.join(named)})" if named else "")


def _public_port_only(rule: _Ingress) -> bool:
    span = _port_range(rule)
    return (
        span is not None
        and rule.protocol.strip().lower() in {"tcp", "6"}
        and span[0] == span[1]
        and span[0] in PUBLIC_PORTS
    )


def _ingress(where: str, rule: Any, protocol_key: str, v4_key: str, v6_key: str, pl_key: str) -> _Ingress:
    """One ingress rule; the three resource shapes differ only in these property names."""
    return _Ingress(
        where,
        str(_get(rule, protocol_key) or ""),
        _port(_get(rule, "fromPort")),
        _port(_get(rule, "toPort")),
        tuple(_as_list(_get(rule, v4_key)) + _as_list(_get(rule, v6_key))),
        tuple(str(p) for p in _as_list(_get(rule, pl_key))),
    )


def _ingress_of(resource_type: str, props: Mapping[str, Any]) -> Iterator[_Ingress]:
    if resource_type in (_SG_TYPES[0], _DEFAULT_SG):
        for i, rule in enumerate(_as_list(_get(props, "ingress"))):
            yield _ingress(f"ingress[{i}]", rule, "protocol", "cidrBlocks", "ipv6CidrBlocks", "prefixListIds")
    elif resource_type == _SG_TYPES[1]:
        yield _ingress("rule", props, "ipProtocol", "cidrIpv4", "cidrIpv6", "prefixListId")
    elif resource_type == _SG_TYPES[2] and _get(props, "type") == "ingress":
        yield _ingress("rule", props, "protocol", "cidrBlocks", "ipv6CidrBlocks", "prefixListIds")


def _ingress_rules(args: ResourceValidationArgs) -> Iterator[_Ingress]:
    yield from _ingress_of(args.resource_type, args.props)


def ingress_violations(label: str, rules: Sequence[_Ingress]) -> list[str]:
    """Internet-wide ingress (alone, or as the union of one group's rules) on anything but 80/443,
    and prefix lists (whose entries the pack cannot see) on anything but 80/443."""
    out = []
    for rule in rules:
        if _public_port_only(rule):
            continue
        if _internet_wide(rule.cidrs):
            out.append(
                f"{label} {rule.where} opens {_ports_text(rule)} to the Internet ({', '.join(rule.cidrs)}); "
                "allow only the admin/API CIDRs (gitops-cluster:adminCidrs, gitops-cluster:apiCidrs); only TCP "
                "80 and 443 of the public entry may face the Internet"
            )
        elif rule.prefix_lists:
            out.append(
                f"{label} {rule.where} admits prefix list(s) {', '.join(rule.prefix_lists)} on {_ports_text(rule)}; "
                "the pack cannot see a prefix list's entries: list the CIDRs instead (prefix lists only on 80/443)"
            )
    # Rules of one group that are each narrow but together cover the Internet, port by port.
    by_span: dict[tuple[str, tuple[int, int] | None], list[_Ingress]] = {}
    for rule in rules:
        if not _public_port_only(rule) and not _internet_wide(rule.cidrs):
            by_span.setdefault((rule.protocol.strip().lower(), _port_range(rule)), []).append(rule)
    for group in by_span.values():
        cidrs = [c for r in group for c in r.cidrs]
        if len(group) > 1 and _internet_wide(cidrs):
            where = ", ".join(r.where for r in group)
            out.append(
                f"{label} {where} together open {_ports_text(group[0])} to the Internet ({', '.join(cidrs)}); "
                "allow only the admin/API CIDRs (gitops-cluster:adminCidrs, gitops-cluster:apiCidrs)"
            )
    return out


def check_no_internet_wide_ingress(args: ResourceValidationArgs) -> list[str]:
    out = ingress_violations(_label(args), list(_ingress_rules(args)))
    if args.resource_type == _DEFAULT_SG and (
        _as_list(_get(args.props, "ingress")) or _as_list(_get(args.props, "egress"))
    ):
        out.append(
            f"{_label(args)} has rules; the VPC's default security group admits and sends nothing "
            "(every instance uses the program's own groups): set ingress=[] and egress=[]"
        )
    return out


# --- instances and volumes ----------------------------------------------------------------------

_INSTANCE = "aws:ec2/instance:Instance"
_VOLUME = "aws:ebs/volume:Volume"


def check_imdsv2_required(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type != _INSTANCE:
        return []
    tokens = _get(args.props, "metadataOptions", "httpTokens")
    if tokens != "required":
        return [
            f"{_label(args)} allows IMDSv1 (metadataOptions.httpTokens={tokens!r}); "
            "set metadataOptions.httpTokens='required'"
        ]
    return []


def _instance_block_devices(props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    root = _get(props, "rootBlockDevice")
    yield "rootBlockDevice", root if isinstance(root, Mapping) else {}
    for i, dev in enumerate(_as_list(_get(props, "ebsBlockDevices"))):
        yield f"ebsBlockDevices[{i}]", dev


def check_encrypted_volumes(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type == _INSTANCE:
        return [
            f"{_label(args)} {where} is not encrypted; set {where}.encrypted=True"
            for where, dev in _instance_block_devices(args.props)
            if _get(dev, "encrypted") is not True
        ]
    if args.resource_type == _VOLUME and _get(args.props, "encrypted") is not True:
        return [f"{_label(args)} is not encrypted; set encrypted=True"]
    return []


def check_gp3_volumes(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type == _INSTANCE:
        return [
            f"{_label(args)} {where} has volumeType={_get(dev, 'volumeType')!r}; set {where}.volumeType='gp3'"
            for where, dev in _instance_block_devices(args.props)
            if _get(dev, "volumeType") != "gp3"
        ]
    if args.resource_type == _VOLUME and _get(args.props, "type") != "gp3":
        return [f"{_label(args)} has type={_get(args.props, 'type')!r}; set type='gp3'"]
    return []


def allowed_instance_types(config: Mapping[str, Any]) -> tuple[str, ...]:
    configured = config.get("allowedInstanceTypes")
    if configured is None:
        return DEFAULT_ALLOWED_INSTANCE_TYPES
    return tuple(str(t) for t in _as_list(configured))


def check_allowed_instance_types(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type != _INSTANCE:
        return []
    allowed = allowed_instance_types(args.get_config())
    itype = _get(args.props, "instanceType")
    if itype not in allowed:
        return [
            f"{_label(args)} uses instance type {itype!r}, which is not allowed; use one of "
            f"{', '.join(allowed)} (or extend the pack config allowedInstanceTypes)"
        ]
    return []


def check_no_public_ip_on_nodes(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type != _INSTANCE:
        return []
    role = _get(args.props, "tags", "role")
    if role == BASTION_ROLE:
        return []
    if _get(args.props, "associatePublicIpAddress") is not False:
        return [
            f"{_label(args)} (role {role!r}) may get a public IP "
            f"(associatePublicIpAddress={_get(args.props, 'associatePublicIpAddress')!r}); only the bastion "
            "is reachable from outside: set associatePublicIpAddress=False"
        ]
    return []


# The stack as a whole: what one resource alone does not show.

_EIP = "aws:ec2/eip:Eip"
_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


def check_stack(resources: Sequence[Any]) -> list[str]:
    """Stack-wide rules over every resource (PolicyResource: resource_type, name, props).

    - One public instance: the role tag is written by the program, so a second instance tagged
      `role=bastion` (to pass no-public-ip-on-nodes) is refused here; no Elastic IP is attached to an
      instance or network interface, and no launch template hands out public IPs.
    - Standalone ingress rules of one security group are judged together, so rules that are each
      narrow but together cover the Internet (0.0.0.0/1 and 128.0.0.0/1 as two resources) are
      refused like one rule.
    """
    out = []
    public = [
        r for r in resources if r.resource_type == _INSTANCE and _get(r.props, "associatePublicIpAddress") is not False
    ]
    if len(public) > 1:
        names = ", ".join(f"'{r.name}' (role {_get(r.props, 'tags', 'role')!r})" for r in public)
        out.append(
            f"{len(public)} instances may get a public IP: {names}; only the one bastion is reachable from "
            "outside: set associatePublicIpAddress=False on the others"
        )
    for r in resources:
        if r.resource_type == _EIP and (_get(r.props, "instance") or _get(r.props, "networkInterface")):
            out.append(
                f"Eip '{r.name}' is attached to an instance or network interface; nodes have no public "
                "address (the bastion's is its own, the NAT gateways' are not attached to instances)"
            )
        if r.resource_type == _LAUNCH_TEMPLATE:
            for i, nic in enumerate(_as_list(_get(r.props, "networkInterfaces"))):
                if str(_get(nic, "associatePublicIpAddress")).lower() == "true":
                    out.append(
                        f"LaunchTemplate '{r.name}' networkInterfaces[{i}] associates a public IP; "
                        "set associatePublicIpAddress='false'"
                    )
    by_group: dict[str, list[_Ingress]] = {}
    for r in resources:
        if r.resource_type in _SG_TYPES[1:]:
            group = _get(r.props, "securityGroupId")
            if isinstance(group, str) and group:
                by_group.setdefault(group, []).extend(
                    _Ingress(f"'{r.name}'", i.protocol, i.from_port, i.to_port, i.cidrs, i.prefix_lists)
                    for i in _ingress_of(r.resource_type, r.props)
                )
    for group, rules in by_group.items():
        out.extend(m for m in ingress_violations(f"security group {group}:", rules) if " together open " in m)
    return out


def check_no_private_key_in_user_data(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type != _INSTANCE:
        return []
    user_data = _get(args.props, "userData")
    if isinstance(user_data, str) and "PRIVATE KEY-----" in user_data:
        return [
            f"{_label(args)} carries a private key in userData, which anyone with ec2:DescribeInstanceAttribute "
            "or IMDS access can read; deliver keys through the bootstrap connection instead"
        ]
    return []


# --- tags ---------------------------------------------------------------------------------------


def _provider_default_tags(args: ResourceValidationArgs) -> Mapping[str, Any]:
    if args.provider is None:
        return {}
    return _as_mapping(_get(_as_mapping(_get(args.provider.props, "defaultTags")), "tags"))


def check_required_tags(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type not in TAGGABLE_AWS_TYPES:
        return []
    own = _as_mapping(_get(args.props, "tags"))
    effective = {**_provider_default_tags(args), **own}
    out = []
    missing = [k for k in REQUIRED_TAGS if not effective.get(k)]
    if missing:
        out.append(
            f"{_label(args)} lacks tag(s) {', '.join(missing)} (neither on the resource nor in the provider's "
            "defaultTags); tag every resource with cluster=<clusterName> and managed-by=pulumi"
        )
    if args.resource_type == _INSTANCE:
        missing_own = [k for k in REQUIRED_INSTANCE_TAGS if not own.get(k)]
        if missing_own:
            out.append(
                f"{_label(args)} lacks explicit instance tag(s) {', '.join(missing_own)}; "
                "instances carry cluster, role and Name in their own tags"
            )
    return out


# --- load balancer ------------------------------------------------------------------------------


_LISTENER_TYPES = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")


# The public ALB's listeners (components/public_entry.py): HTTPS 443 with a TLS 1.2+/1.3 policy, HTTP 80
# (a redirect to 443 with a domain, plain HTTP to admin CIDRs without), and the admin UIs' plain-HTTP
# ports of a stack without a domain (8081, 8082; their security group admits the admin CIDRs only).
_WEB_LISTENERS = {443: "HTTPS", 80: "HTTP", 8081: "HTTP", 8082: "HTTP"}
_TLS_POLICY_PREFIX = "ELBSecurityPolicy-TLS13-"


def check_lb_listeners_api_only(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type not in _LISTENER_TYPES:
        return []
    port = _port(_get(args.props, "port"))
    protocol = str(_get(args.props, "protocol") or "")
    if port == API_PORT and protocol in ("TCP", ""):
        return []
    if port in _WEB_LISTENERS and protocol == _WEB_LISTENERS[port]:
        policy = str(_get(args.props, "sslPolicy") or "")
        if protocol == "HTTPS" and not policy.startswith(_TLS_POLICY_PREFIX):
            return [f"{_label(args)} uses TLS policy {policy or '(the default)'}; use a TLS 1.3/1.2 policy"]
        return []
    return [
        f"{_label(args)} listens on {protocol or 'TCP'} port {port}; the load balancers expose only the "
        f"Kubernetes API on {API_PORT} and the public entry's HTTPS 443 / HTTP 80 (8081/8082 admin-only)"
    ]


# --- Kubernetes ---------------------------------------------------------------------------------


def check_explicit_kubernetes_provider(args: ResourceValidationArgs) -> list[str]:
    if not args.resource_type.startswith("kubernetes:"):
        return []
    provider = args.provider
    if provider is None or provider.name.startswith("default"):
        which = "no provider" if provider is None else f"the default provider '{provider.name}'"
        return [
            f"{_label(args)} uses {which}, which targets whatever cluster the ambient kubeconfig points "
            "at; pass the cluster's explicit kubernetes.Provider (opts=ResourceOptions(provider=...))"
        ]
    return []


_HELM_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})


def check_pinned_helm_charts(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type not in _HELM_TYPES:
        return []
    out = []
    chart = str(_get(args.props, "chart") or "")
    version = _get(args.props, "version")
    if not isinstance(version, str) or not _EXACT_SEMVER.match(version):
        out.append(
            f"{_label(args)} chart {chart!r} has version {version!r}; pin an exact chart version "
            "(e.g. '7.7.14' from versions.yaml), never a range or a channel"
        )
    repo = _get(args.props, "repositoryOpts", "repo")
    if chart.startswith("oci://"):
        return out
    if not isinstance(repo, str) or not repo.startswith("https://"):
        out.append(
            f"{_label(args)} chart {chart!r} comes from repository {repo!r}; set repositoryOpts.repo to the "
            "chart's https:// repository (or an oci:// chart reference)"
        )
    return out


_APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"


def _stack_of(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<type>::<name>
    head = urn.split("::", 1)[0]
    return head.split(":", 2)[2] if head.count(":") >= 2 else ""


def _git_mode_violations(args: ResourceValidationArgs) -> list[str]:
    """The program's own rule (policy/gitops_rule.py) on the Application as registered.

    The root carries its mode and environment as labels; an Application without them is held to the
    strict reading (pinned, production). A stack listed in the pack config `productionStacks` is
    production whatever its labels say, so a mislabelled production root cannot track a branch.
    """
    labels = _as_mapping(_get(args.props, "metadata", "labels"))
    mode = labels.get(gitops_rule.MODE_LABEL, gitops_rule.PIN)
    environment = labels.get(gitops_rule.ENVIRONMENT_LABEL, gitops_rule.PRODUCTION)
    forced = _stack_of(args.urn) in set(_as_list((args.get_config() or {}).get("productionStacks")))
    if forced:
        environment = gitops_rule.PRODUCTION
    revision = _get(args.props, "spec", "source", "targetRevision")
    values = {gitops_rule.MODE_KEY: mode, gitops_rule.ENVIRONMENT_KEY: environment, gitops_rule.REVISION_KEY: revision}
    out = []
    for key, fix in gitops_rule.problems(mode, environment, revision):
        why = ""
        if forced and key == gitops_rule.MODE_KEY:
            why = " (the pack config lists this stack in productionStacks)"
        out.append(f"{_label(args)} violates gitops-cluster:{key} = {values[key]!r}{why}: {fix}")
    return out


def check_gitops_application(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type != _APPLICATION:
        return []
    props = args.props
    out = []
    automated = _get(props, "spec", "syncPolicy", "automated")
    if not isinstance(automated, Mapping):
        out.append(f"{_label(args)} has no spec.syncPolicy.automated; Git would not be applied without a human")
    else:
        for flag in ("prune", "selfHeal"):
            if automated.get(flag) is not True:
                out.append(
                    f"{_label(args)} sets spec.syncPolicy.automated.{flag}={automated.get(flag)!r}; set it to true"
                )
    finalizers = _as_list(_get(props, "metadata", "finalizers"))
    if ROOT_APP_FINALIZER not in finalizers:
        out.append(
            f"{_label(args)} lacks the finalizer {ROOT_APP_FINALIZER}, so deleting it would orphan what it "
            "deployed (and `pulumi destroy` would leave cluster resources behind)"
        )
    out.extend(_git_mode_violations(args))
    project = _get(props, "spec", "project")
    if project in (None, "", "default"):
        out.append(
            f"{_label(args)} is in Argo CD's `default` project, which may deploy anything anywhere from any "
            "repository; put it in its own AppProject (components/gitops.py: the root in gitops-root)"
        )
    repo_url = _get(props, "spec", "source", "repoURL")
    if repo_url is not None and not str(repo_url).startswith("https://"):
        out.append(f"{_label(args)} syncs from {repo_url!r}; use the repository's https:// URL")
    return out


# --- the table ----------------------------------------------------------------------------------

INSTANCE_TYPES_SCHEMA = PolicyConfigSchema(
    properties={
        "allowedInstanceTypes": {
            "type": "array",
            "items": {"type": "string"},
            "default": list(DEFAULT_ALLOWED_INSTANCE_TYPES),
            "description": "EC2 instance types a stack may use.",
        }
    }
)

GITOPS_SCHEMA = PolicyConfigSchema(
    properties={
        "productionStacks": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Stacks that are production whatever their root Application's labels say (must be pinned).",
        }
    }
)

POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec(
        "no-internet-wide-ingress",
        "No security group or rule opens any port but TCP 80/443 to the Internet: 0.0.0.0/0, ::/0, or any "
        "CIDRs whose union covers more than a /8 of public IPv4 (a /16 of IPv6), such as 0.0.0.0/1 + "
        "128.0.0.0/1 or ::/1; no prefix list on other ports; the VPC's default security group has no rules.",
        "Limit the rule to gitops-cluster:adminCidrs (SSH) or gitops-cluster:apiCidrs (API); list CIDRs "
        "instead of a prefix list; give the default security group ingress=[] and egress=[].",
        check_no_internet_wide_ingress,
        _types(*_SG_TYPES, _DEFAULT_SG),
    ),
    PolicySpec(
        "imdsv2-required",
        "EC2 instances require IMDSv2 session tokens (metadataOptions.httpTokens = required).",
        "Set metadataOptions.httpTokens='required' on the instance.",
        check_imdsv2_required,
        _types(_INSTANCE),
    ),
    PolicySpec(
        "encrypted-volumes",
        "Root, attached and standalone EBS volumes are encrypted.",
        "Set encrypted=True on rootBlockDevice, every ebsBlockDevices entry and every ebs.Volume.",
        check_encrypted_volumes,
        _types(_INSTANCE, _VOLUME),
    ),
    PolicySpec(
        "gp3-volumes",
        "EBS volumes use gp3 (cheaper and faster than gp2 at every size the cluster uses).",
        "Set volumeType='gp3' (type='gp3' on ebs.Volume).",
        check_gp3_volumes,
        _types(_INSTANCE, _VOLUME),
    ),
    PolicySpec(
        "required-tags",
        "Taggable AWS resources carry the cluster and managed-by tags; instances also carry cluster, role and Name.",
        "Tag through the AWS provider's defaultTags and the instance's own tags.",
        check_required_tags,
        TAGGABLE_AWS_TYPES.__contains__,
    ),
    PolicySpec(
        "allowed-instance-types",
        "EC2 instances use an instance type from the allowed list (pack config allowedInstanceTypes).",
        "Pick an allowed type, or extend allowedInstanceTypes in the policy pack config.",
        check_allowed_instance_types,
        _types(_INSTANCE),
        INSTANCE_TYPES_SCHEMA,
    ),
    PolicySpec(
        "no-public-ip-on-nodes",
        "Only the bastion may have a public IP; cluster nodes set associatePublicIpAddress=false.",
        "Set associatePublicIpAddress=False on every instance whose role tag is not 'bastion'.",
        check_no_public_ip_on_nodes,
        _types(_INSTANCE),
    ),
    PolicySpec(
        "no-private-key-in-user-data",
        "No private key material in EC2 user data (readable through IMDS and the EC2 API).",
        "Deliver keys over the bootstrap connection, never in userData.",
        check_no_private_key_in_user_data,
        _types(_INSTANCE),
    ),
    PolicySpec(
        "lb-listeners-api-only",
        "Load balancer listeners expose only the Kubernetes API port 6443 and the public entry's 443/80.",
        "Remove the listener or move the service behind the cluster's own ingress.",
        check_lb_listeners_api_only,
        _types(*_LISTENER_TYPES),
    ),
    PolicySpec(
        "explicit-kubernetes-provider",
        "Kubernetes resources use the cluster's explicit provider, never the default (ambient kubeconfig) one.",
        "Pass opts=ResourceOptions(provider=<the cluster's kubernetes.Provider>).",
        check_explicit_kubernetes_provider,
        lambda resource_type: resource_type.startswith("kubernetes:"),
    ),
    PolicySpec(
        "pinned-helm-charts",
        "Helm charts are pinned to an exact version from an https (or oci) repository.",
        "Set version to an exact chart version from versions.yaml and repositoryOpts.repo to an https URL.",
        check_pinned_helm_charts,
        _HELM_TYPES.__contains__,
    ),
    PolicySpec(
        "gitops-application-sync",
        "Argo CD Applications registered by Pulumi sync automatically with prune and selfHeal, carry the "
        "resources finalizer, live in their own AppProject (never `default`), and follow Git the way the stack "
        "declares (policy/gitops_rule.py): a tracked branch only on a development stack, a full 40-hex commit "
        "SHA when pinned.",
        "Set spec.syncPolicy.automated={prune: true, selfHeal: true}, add the finalizer "
        f"{ROOT_APP_FINALIZER}, and set gitops-cluster:gitopsMode/gitopsRevision as the message says.",
        check_gitops_application,
        _types(_APPLICATION),
        GITOPS_SCHEMA,
    ),
)


STACK_POLICY = PolicySpec(
    "one-public-bastion-and-no-split-world-rules",
    "Across the stack: at most one instance (the bastion) may get a public IP, no Elastic IP is attached "
    "to an instance, no launch template hands out public IPs, and one security group's standalone "
    "rules together do not cover the Internet.",
    "Set associatePublicIpAddress=False on every instance but the bastion; detach the Elastic IP; merge "
    "and narrow the rules to the admin/API CIDRs.",
    lambda _args: [],
    lambda _resource_type: False,
)


def evaluate(args: ResourceValidationArgs) -> dict[str, list[str]]:
    """Every violated policy's messages for one resource (the shape tests and tools read)."""
    found: dict[str, list[str]] = {}
    for spec in POLICIES:
        messages = spec.check(args)
        if messages:
            found[spec.name] = messages
    return found
