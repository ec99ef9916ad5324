"""Validate plain config values into StackSettings: each section's rules, then the cross-section ones.

Pure: it takes plain values (what the tests and the offline preview feed it) and raises one
ConfigError listing every problem. Problems are listed in the order of the sections below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.settings.apiserver_oidc import parse_api_server_oidc
from components.settings.argocd import parse_argocd_domain, parse_argocd_sso, parse_password_version
from components.settings.bastion import parse_bastion
from components.settings.ci import parse_ci_repository
from components.settings.cross import (
    check_architecture,
    check_argocd_domain,
    check_pod_capacity,
    check_private_capacity,
)
from components.settings.data import parse_data
from components.settings.edge import argocd_url_host, parse_edge
from components.settings.gitops import parse_gitops
from components.settings.keys import INTERNAL_VALUES, SecretInput, check_keys
from components.settings.messages import ConfigError
from components.settings.model import PROJECT, StackSettings
from components.settings.network import check_documentation_ranges, parse_network
from components.settings.nodes import parse_nodes
from components.settings.values import Collector
from components.settings.versions import parse_versions


def parse_settings(
    values: Mapping[str, Any],
    *,
    project: str = PROJECT,
    stack: str = "dev",
    secrets: Mapping[str, SecretInput] | None = None,
    config_keys: Mapping[str, object] | None = None,
    deploying: bool = False,
) -> StackSettings:
    """Validate plain config values (declared defaults already applied) into settings.

    `secrets`: what is known of each optional secret of SECRET_KEYS by name (absent: unset).
    `config_keys`: every config key that is set (`gitops-cluster:clusterName`, `aws:region`) with its
    value as a message may show it, to refuse unknown ones; None skips that check. `deploying`:
    `pulumi up` rather than a preview, which refuses what a preview only warns about (the placeholder
    GitOps repository).
    Raises ConfigError listing every problem found.
    """
    c = Collector()
    warnings: list[str] = []
    # Keys handed in directly (tests, tools) are held to the same rule as keys set in the stack.
    given = {f"{project}:{k}": v for k, v in values.items() if k not in INTERNAL_VALUES}
    check_keys(c, {**given, **(config_keys or {})}, project)

    net = parse_network(c, values)
    check_documentation_ranges(c, values, project=project, deploying=deploying, warnings=warnings)
    secret = dict(secrets or {})
    bastion = parse_bastion(c, values, secret.get("sshPrivateKey", SecretInput()))
    nodes = parse_nodes(c, values.get("nodes"), net.az_count)
    check_pod_capacity(c, net.pod, nodes)
    check_private_capacity(c, net.settled_private, nodes)
    gitops = parse_gitops(c, values, project=project, deploying=deploying, warnings=warnings)
    versions = parse_versions(c, values.get("versions"))
    argocd_domain = parse_argocd_domain(c, values)
    typed = [("bastionInstanceType", bastion.instance_type)] if bastion.instance_type else []
    check_architecture(c, versions, [*typed, *((f"nodes[{n.name}].instanceType", n.instance_type) for n in nodes)])
    password_version = parse_password_version(c, values)
    argocd_sso = parse_argocd_sso(c, values, secret.get("argocdGithubClientSecret", SecretInput()))
    edge = parse_edge(c, values, nodes, warnings)
    ci_repository = parse_ci_repository(c, values)
    api_server_oidc = parse_api_server_oidc(c, values)
    check_argocd_domain(c, argocd_domain, edge.public_dns, edge.media)
    volume_snapshots = parse_data(c, values)

    if c.problems:
        raise ConfigError(c.problems, project)
    vpc, az_count, pod, svc = net.vpc, net.az_count, net.pod, net.svc
    assert vpc is not None and az_count is not None and pod is not None and svc is not None
    return StackSettings(
        project=project,
        stack=stack,
        region=str(net.region),
        cluster_name=str(net.cluster_name),
        vpc_cidr=vpc,
        az_count=az_count,
        public_subnets=net.public,
        private_subnets=net.private,
        nat_gateway_per_az=bool(net.nat_per_az),
        admin_cidrs=net.admin,
        api_cidrs=net.api,
        pod_cidr=pod,
        service_cidr=svc,
        bastion_instance_type=str(bastion.instance_type),
        nodes=nodes,
        gitops=gitops,
        versions=versions,
        argocd_domain=argocd_url_host(str(argocd_domain), edge.public_dns),
        argocd_admin_password_version=int(password_version),  # type: ignore[call-overload]
        argocd_sso=argocd_sso,
        public_dns=edge.public_dns,
        media=edge.media,
        media_cors_origins=edge.media_cors_origins,
        media_delete_on_destroy=edge.media_delete_on_destroy,
        api_min_replicas=edge.api_min_replicas,
        api_max_replicas=edge.api_max_replicas,
        ci_github_repository=ci_repository,
        api_server_oidc=api_server_oidc,
        postgresql_volume_snapshots=volume_snapshots,
        warnings=tuple(warnings),
    )
