"""The stack graph: components built in dependency order, and the outputs contract.

`build_stack` is what __main__.py runs; it is a function so that tests and the offline preview
run exactly the same graph. `OUTPUT_KEYS` is the contract CI reads from
`pulumi stack output --json`; README.md documents it and tests hold the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.access import ClusterAccess, ClusterAccessArgs
from components.argocd import ArgoCd, ArgoCdArgs
from components.backup import BackupBucket, BackupBucketArgs
from components.bootstrap import AnsibleBootstrap, BootstrapArgs, BootstrapHost, require_ansible_playbook
from components.config import ConfigError, NodeRole, Problem, StackSettings
from components.ebs import ebs_csi_root_patches
from components.identity import WorkloadIdentity, WorkloadIdentityArgs, role_root_patches
from components.network import Network, NetworkArgs
from components.node_removal import NodeRemoval, NodeRemovalArgs, RemovableNode
from components.nodes import ClusterNodes, ClusterNodesArgs
from components.placement import place_nodes
from components.security import ClusterSecurity, ClusterSecurityArgs

CANONICAL_OWNER_ID = "099720109477"

# Plain outputs, then the secret ones (exported through pulumi.Output.secret).
OUTPUT_KEYS = (
    "clusterName",
    "region",
    "vpcId",
    "publicSubnetIds",
    "privateSubnetIds",
    "bastionPublicIp",
    "apiEndpoint",
    "nodes",
    "gitops",
    "backupBucket",
    "serviceAccountIssuer",
)
SECRET_OUTPUT_KEYS = ("sshPrivateKey", "kubeconfig", "argocdAdminPassword")


@dataclass(frozen=True)
class StackResources:
    settings: StackSettings
    availability_zones: tuple[str, ...]
    network: Network
    nodes: ClusterNodes
    access: ClusterAccess
    bootstrap: AnsibleBootstrap
    argocd: ArgoCd
    backup: BackupBucket
    identity: WorkloadIdentity


def _availability_zones(settings: StackSettings, provider: aws.Provider) -> tuple[str, ...]:
    """The first `azCount` available zones of the region, in name order (stable across runs)."""
    found = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(provider=provider)).names
    if found is None:
        # Only a test double answers without names; AWS always lists them. Assume the usual
        # lettered zones so a generic mock can still run the program, and say so.
        found = [f"{settings.region}{letter}" for letter in "abcdef"[: settings.az_count]]
        pulumi.log.warn(f"the availability-zone lookup returned no names; assuming {', '.join(found)}")
    zones = sorted(found)
    if len(zones) < settings.az_count:
        raise ConfigError(
            [
                Problem(
                    "azCount",
                    settings.az_count,
                    f"{settings.region} has only {len(zones)} available zones ({', '.join(zones)}); lower azCount.",
                )
            ],
            settings.project,
        )
    return tuple(zones[: settings.az_count])


def build_stack(settings: StackSettings) -> StackResources:
    require_ansible_playbook()  # before the first resource: the bootstrap cannot run without it
    name = settings.cluster_name
    aws_provider = aws.Provider(
        "aws",
        region=settings.region,
        default_tags=aws.ProviderDefaultTagsArgs(
            tags={"cluster": name, "managed-by": "pulumi", "pulumi-stack": f"{settings.project}/{settings.stack}"}
        ),
    )
    on_aws = pulumi.ResourceOptions(providers=[aws_provider])
    zones = _availability_zones(settings, aws_provider)
    # Zone letters are checked here, right after the look-up and before any resource but the provider.
    zones_by_node = place_nodes(settings.nodes, zones, settings.region, settings.project)
    ami = aws.ec2.get_ami(
        owners=[CANONICAL_OWNER_ID],
        filters=[aws.ec2.GetAmiFilterArgs(name="name", values=[settings.versions["ubuntuAmiName"]])],
        most_recent=False,
        opts=pulumi.InvokeOptions(provider=aws_provider),
    )

    network = Network(
        name,
        NetworkArgs(
            cluster_name=name,
            vpc_cidr=settings.vpc_cidr,
            availability_zones=zones,
            public_subnets=settings.public_subnets,
            private_subnets=settings.private_subnets,
            nat_gateway_per_az=settings.nat_gateway_per_az,
        ),
        opts=on_aws,
    )
    security = ClusterSecurity(
        name,
        ClusterSecurityArgs(
            vpc_id=network.vpc_id,
            admin_cidrs=settings.admin_cidrs,
            api_cidrs=settings.api_cidrs,
        ),
        opts=on_aws,
    )
    backup = BackupBucket(
        name,
        BackupBucketArgs(cluster_name=name, region=settings.region),
        opts=on_aws,
    )
    identity = WorkloadIdentity(
        name,
        WorkloadIdentityArgs(cluster_name=name, backup_bucket_arn=backup.bucket_arn),
        opts=on_aws,
    )
    private_key = pulumi.Config().get_secret("sshPrivateKey") if settings.ssh_public_key else None
    nodes = ClusterNodes(
        name,
        ClusterNodesArgs(
            cluster_name=name,
            nodes=settings.nodes,
            private_subnet_ids=network.private_subnet_ids,
            availability_zones=zones,
            zones_by_node=zones_by_node,
            ami_id=ami.id,
            cluster_security_group_id=security.group_ids["cluster"],
            control_plane_security_group_id=security.group_ids["control-plane"],
            versions=settings.versions,
            ssh_public_key=settings.ssh_public_key,
            ssh_private_key=private_key,
        ),
        opts=on_aws,
    )
    access = ClusterAccess(
        name,
        ClusterAccessArgs(
            cluster_name=name,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            bastion_security_group_id=security.group_ids["bastion"],
            api_lb_security_group_id=security.group_ids["api-lb"],
            api_internal_lb_security_group_id=security.group_ids["api-internal-lb"],
            ami_id=ami.id,
            bastion_instance_type=settings.bastion_instance_type,
            key_name=nodes.key_name,
            control_plane_instance_ids={
                n.spec.name: n.instance.id for n in nodes.nodes if n.spec.role is NodeRole.CONTROL_PLANE
            },
        ),
        opts=on_aws,
    )
    bootstrap = AnsibleBootstrap(
        name,
        BootstrapArgs(
            settings=settings,
            # Instance ids key the known_hosts entries: a replaced node on a recycled IP is a new host.
            hosts=[
                BootstrapHost(spec=n.spec, private_ip=n.instance.private_ip, instance_id=n.instance.id)
                for n in nodes.nodes
            ],
            bastion_instance_id=access.bastion.id,
            bastion_host=access.bastion_public_ip,
            # The nodes use the internal endpoint; the public one (admins, CI) is a certificate SAN
            # and the server of the exported kubeconfig.
            control_plane_endpoint_host=access.internal_api_endpoint_host,
            api_endpoint_host=access.api_endpoint_host,
            ssh_private_key=nodes.ssh_private_key,
            service_account_issuer=identity.issuer_url,
            # Everything the playbook uses, not just the machines: NAT routes (packages, images),
            # security-group rules (SSH, the API, etcd, kubelet, VXLAN), both API endpoints'
            # listeners and target attachments (kubeadm init and joins go through the internal
            # one). A dependency on a component is one on every resource in it.
            depends_on=[network, security, nodes, access],
        ),
    )
    # The JWKS from the key the cluster signs with, read back after every playbook run.
    identity.publish_keys(name, bootstrap.service_account_public_keys)
    NodeRemoval(
        name,
        NodeRemovalArgs(
            project=settings.project,
            stack=settings.stack,
            cluster_name=name,
            nodes=[RemovableNode(n.spec, n.instance) for n in nodes.nodes],
            bastion_host=access.bastion_public_ip,
            bastion_instance_id=access.bastion.id,
            ssh_private_key=nodes.ssh_private_key,
            after=[bootstrap, access.bastion],
        ),
    )
    argocd = ArgoCd(
        name,
        ArgoCdArgs(
            kubeconfig=bootstrap.kubeconfig,
            chart_version=settings.versions["argoCdChart"],
            chart_repo=settings.versions["argoCdChartRepo"],
            gitops=settings.gitops,
            domain=settings.argocd_domain,
            after=[bootstrap],
            root_patches=backup.root_patches(
                pulumi.Output.all(**identity.role_arns).apply(
                    lambda arns: _child_patches(role_root_patches(arns), name, settings.region)
                )
            ),
            admin_password_version=settings.argocd_admin_password_version,
            sso=settings.argocd_sso,
            # Validated as set whenever SSO is (components/config.py); read apart, as a secret.
            dex_client_secret=pulumi.Config().require_secret("argocdGithubClientSecret")
            if settings.argocd_sso
            else None,
        ),
    )
    return StackResources(settings, zones, network, nodes, access, bootstrap, argocd, backup, identity)


def _child_patches(
    roles: dict[str, list[dict[str, Any]]], cluster_name: str, region: str
) -> dict[str, list[dict[str, Any]]]:
    """The role ARNs per child, plus the EBS CSI driver's region and cluster tag (on its Application)."""
    out = {child: list(patches) for child, patches in roles.items()}
    out[""] = [*out.get("", []), *ebs_csi_root_patches(cluster_name, region)]
    return out


def export_outputs(stack: StackResources) -> None:
    s = stack.settings
    outputs: dict[str, Any] = {
        "clusterName": s.cluster_name,
        "region": s.region,
        "vpcId": stack.network.vpc_id,
        "publicSubnetIds": stack.network.public_subnet_ids,
        "privateSubnetIds": stack.network.private_subnet_ids,
        "bastionPublicIp": stack.access.bastion_public_ip,
        "apiEndpoint": stack.access.api_endpoint,
        "nodes": [
            {
                "name": n.spec.name,
                "role": n.spec.role.value,
                "instanceType": n.spec.instance_type,
                "availabilityZone": n.availability_zone,
                "instanceId": n.instance.id,
                "privateIp": n.instance.private_ip,
            }
            for n in stack.nodes.nodes
        ],
        "gitops": {"repoUrl": s.gitops.repo_url, "revision": s.gitops.revision, "path": s.gitops.path},
        "backupBucket": stack.backup.bucket_name,
        "serviceAccountIssuer": stack.identity.issuer_url,
        "sshPrivateKey": pulumi.Output.secret(stack.nodes.ssh_private_key),
        "kubeconfig": pulumi.Output.secret(stack.bootstrap.kubeconfig),
        "argocdAdminPassword": pulumi.Output.secret(stack.argocd.admin_password),
    }
    assert tuple(outputs) == OUTPUT_KEYS + SECRET_OUTPUT_KEYS
    for key, value in outputs.items():
        pulumi.export(key, value)
