"""The settings' model: what the program knows about a stack once its configuration is validated.

Plain frozen dataclasses and one enum. Components import these to name a node, a role or the
settings object; importing this module pulls in no validation (it imports nothing of the package).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from policy import gitops_rule

if TYPE_CHECKING:
    import pulumi

# The Pulumi project's name: the namespace of every key the program reads.
PROJECT = "gitops-cluster"


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
    nodes: tuple[NodeSpec, ...]
    gitops: GitOpsSource
    versions: Mapping[str, str]
    argocd_domain: str
    # Rotates the generated admin password when bumped (a keeper of the RandomPassword).
    argocd_admin_password_version: int = 1
    # GitHub SSO through Dex; None keeps the local admin only.
    argocd_sso: ArgoCdSso | None = None
    # The public side (components/settings/edge.py): None without dnsZone/dnsDomain (plain HTTP,
    # admin-only); the media bucket and CDN; each domain API's autoscaling bounds.
    public_dns: PublicDns | None = None
    media: bool = False
    media_cors_origins: tuple[str, ...] = ()
    media_delete_on_destroy: bool = False
    api_min_replicas: int = 1
    api_max_replicas: int = 3
    # The GitHub repository ("owner/name") whose Actions OIDC tokens the API server accepts
    # (components/cluster_auth.py); None: no GitHub issuer.
    ci_github_repository: str | None = None
    # People's SSO at the API server (components/settings/apiserver_oidc.py); None: no such issuer.
    api_server_oidc: ApiServerOidc | None = None
    # CloudNativePG volume-snapshot backups beside the object-store ones (components/settings/data.py).
    postgresql_volume_snapshots: bool = False
    # What a preview accepts but `pulumi up` would refuse (load_settings logs them).
    warnings: tuple[str, ...] = ()

    @property
    def control_plane(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role is NodeRole.CONTROL_PLANE)


@dataclass(frozen=True)
class PublicHosts:
    """The public names under the domain, one DNS label each (`apiHost`, `argocdHost`, `grafanaHost`,
    `imagesHost`). These defaults are the seed's layout, the same as Pulumi.yaml's (a test holds
    them equal); they only let code and tests build settings without the config."""

    api: str = "api"
    argocd: str = "argocd"
    grafana: str = "grafana"
    images: str = "images"

    def label(self, key: str) -> str:
        """The label of one backend ('api', 'argocd', 'grafana', 'images')."""
        value = getattr(self, key, None)
        if not isinstance(value, str):
            raise KeyError(f"no public host {key!r}")
        return value


@dataclass(frozen=True)
class PublicDns:
    """The stack's hosted zone, the domain the public names live under (the zone or below it) and
    the names themselves."""

    zone: str
    domain: str
    hosts: PublicHosts = PublicHosts()

    def fqdn(self, key: str) -> str:
        """The full name of one backend ('api', 'argocd', 'grafana', 'images'), e.g. api.dev.example.com."""
        return f"{self.hosts.label(key)}.{self.domain}"


@dataclass(frozen=True)
class ArgoCdSso:
    """ArgoCD login through Dex's GitHub connector; the client secret is read apart (a secret)."""

    github_org: str
    admin_team: str
    client_id: str


@dataclass(frozen=True)
class ApiServerOidc:
    """People's OpenID Connect issuer at the API server (components/cluster_auth.py people_authenticator)
    and the provider's groups bound to cluster-admin, edit and view."""

    issuer_url: str
    client_id: str
    username_claim: str
    groups_claim: str
    extra_scopes: tuple[str, ...] = ()
    admin_groups: tuple[str, ...] = ()
    edit_groups: tuple[str, ...] = ()
    view_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackSecrets:
    """The stack's optional secrets, read once by settings.glue and handed to the components.

    Each is a secret Output (never plain text) or None when the stack does not set it; no component
    reads Pulumi config. Validated with the settings: `argocd_github_client_secret` is set exactly
    when argocd_sso is (the retired `sshPrivateKey` is refused, components/settings/bastion.py).
    """

    argocd_github_client_secret: pulumi.Output[str] | None = None
