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
GUARDED_PORTS: Mapping[int, str] = {SSH_PORT: "SSH", API_PORT: "the Kubernetes API"}

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
        "aws:ec2/subnet:Subnet",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
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
        "aws:cloudfront/distribution:Distribution",
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


# --- no-world-open-ssh-or-api -------------------------------------------------------------------


_SG_TYPES = (
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
)


@dataclass(frozen=True)
class _Ingress:
    where: str
    protocol: str
    from_port: int | None
    to_port: int | None
    cidrs: tuple[str, ...]


def _world_cidrs(cidrs: Iterable[str]) -> list[str]:
    world = []
    for cidr in cidrs:
        try:
            net = ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            continue
        if net.prefixlen == 0:
            world.append(str(cidr))
    return world


def _exposed_ports(rule: _Ingress) -> list[int]:
    """Which guarded ports a rule opens (TCP, or every protocol)."""
    protocol = rule.protocol.strip().lower()
    if protocol in {"-1", "all"}:
        return sorted(GUARDED_PORTS)
    if protocol not in {"tcp", "6"}:
        return []
    low = rule.from_port if rule.from_port is not None else 0
    high = rule.to_port if rule.to_port is not None else low
    if low > high:
        low, high = high, low
    # AWS reads 0-0 and -1 as "all ports" for TCP rules in some APIs; treat them as the full range.
    if low <= 0 and high <= 0:
        low, high = 0, 65535
    return [p for p in sorted(GUARDED_PORTS) if low <= p <= high]


def _ingress(where: str, rule: Any, protocol_key: str, v4_key: str, v6_key: str) -> _Ingress:
    """One ingress rule; the three resource shapes differ only in these property names."""
    return _Ingress(
        where,
        str(_get(rule, protocol_key) or ""),
        _port(_get(rule, "fromPort")),
        _port(_get(rule, "toPort")),
        tuple(_as_list(_get(rule, v4_key)) + _as_list(_get(rule, v6_key))),
    )


def _ingress_rules(args: ResourceValidationArgs) -> Iterator[_Ingress]:
    props = args.props
    t = args.resource_type
    if t == _SG_TYPES[0]:
        for i, rule in enumerate(_as_list(_get(props, "ingress"))):
            yield _ingress(f"ingress[{i}]", rule, "protocol", "cidrBlocks", "ipv6CidrBlocks")
    elif t == _SG_TYPES[1]:
        yield _ingress("rule", props, "ipProtocol", "cidrIpv4", "cidrIpv6")
    elif t == _SG_TYPES[2] and _get(props, "type") == "ingress":
        yield _ingress("rule", props, "protocol", "cidrBlocks", "ipv6CidrBlocks")


def check_no_world_open_ssh_or_api(args: ResourceValidationArgs) -> list[str]:
    out = []
    for rule in _ingress_rules(args):
        world = _world_cidrs(rule.cidrs)
        if not world:
            continue
        for port in _exposed_ports(rule):
            out.append(
                f"{_label(args)} {rule.where} opens port {port} ({GUARDED_PORTS[port]}) to "
                f"{', '.join(world)}; allow only the admin/API CIDRs "
                "(gitops-cluster:adminCidrs, gitops-cluster:apiCidrs)"
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


def check_lb_listeners_api_only(args: ResourceValidationArgs) -> list[str]:
    if args.resource_type not in _LISTENER_TYPES:
        return []
    port = _port(_get(args.props, "port"))
    if port != API_PORT:
        return [
            f"{_label(args)} listens on port {port}; the cluster's load balancer only exposes the "
            f"Kubernetes API on {API_PORT}"
        ]
    return []


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
        "no-world-open-ssh-or-api",
        "No security group rule opens SSH (22) or the Kubernetes API (6443) to 0.0.0.0/0 or ::/0.",
        "Limit the rule to gitops-cluster:adminCidrs (SSH) or gitops-cluster:apiCidrs (API).",
        check_no_world_open_ssh_or_api,
        _types(*_SG_TYPES),
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
        "Load balancer listeners only expose the Kubernetes API port 6443.",
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
        "resources finalizer, and follow Git the way the stack declares (policy/gitops_rule.py): a tracked "
        "branch only on a development stack, a tag or commit SHA when pinned.",
        "Set spec.syncPolicy.automated={prune: true, selfHeal: true}, add the finalizer "
        f"{ROOT_APP_FINALIZER}, and set gitops-cluster:gitopsMode/gitopsRevision as the message says.",
        check_gitops_application,
        _types(_APPLICATION),
        GITOPS_SCHEMA,
    ),
)


def evaluate(args: ResourceValidationArgs) -> dict[str, list[str]]:
    """Every violated policy's messages for one resource (the shape tests and tools read)."""
    found: dict[str, list[str]] = {}
    for spec in POLICIES:
        messages = spec.check(args)
        if messages:
            found[spec.name] = messages
    return found
