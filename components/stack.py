"""The stack graph: components built in dependency order, and the outputs contract.

`build_stack` is what __main__.py runs, with the settings and secrets that settings.glue read; it
is a function so that tests and the offline preview run exactly the same graph. `OUTPUT_KEYS` is
the contract CI reads from `pulumi stack output --json`; README.md documents it and tests hold the
two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.access import ClusterAccess, ClusterAccessArgs
from components.argocd import ArgoCd, ArgoCdArgs
from components.backup import BackupBucket, BackupBucketArgs
from components.bootstrap import AnsibleBootstrap, BootstrapArgs, BootstrapHost
from components.cluster_patches import autoscaling_patches, csr_approver_patches, merge_child_patches
from components.ebs import ebs_csi_root_patches, volume_snapshot_backup_patches
from components.gitops import upstream_repos
from components.identity import WorkloadIdentity, WorkloadIdentityArgs, backup_writer_role_names, role_root_patches
from components.media import MediaCdn, MediaCdnArgs
from components.network import Network, NetworkArgs
from components.node_removal import NodeRemoval, NodeRemovalArgs, RemovableNode
from components.nodes import ClusterNodes, ClusterNodesArgs
from components.placement import place_nodes
from components.playbooks import require_ansible_playbook
from components.public_entry import GATEWAY_NODE_LABEL, PublicEntry, PublicEntryArgs, hosted_zone_id
from components.security import ClusterSecurity, ClusterSecurityArgs
from components.settings.messages import ConfigError, Problem
from components.settings.model import NodeRole, StackSecrets, StackSettings

CANONICAL_OWNER_ID = "099720109477"

# Plain outputs, then the secret ones (exported through pulumi.Output.secret).
OUTPUT_KEYS = (
    "clusterName",
    "region",
    "vpcId",
    "publicSubnetIds",
    "privateSubnetIds",
    "bastionPublicIp",
    "bastionInstanceId",
    "apiEndpoint",
    "nodes",
    "gitops",
    "backupBucket",
    "apiUrl",
    "argocdUrl",
    "grafanaUrl",
    "mediaBucket",
    "mediaCdnUrl",
    "serviceAccountIssuer",
    "nodeRole",
)
SECRET_OUTPUT_KEYS = ("kubeconfig", "argocdAdminPassword")


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
    entry: PublicEntry
    media: MediaCdn | None
    identity: WorkloadIdentity


def gateway_nodes(settings: StackSettings) -> tuple[str, ...]:
    """The nodes the table labels for the Gateway data plane (validated: at least one)."""
    key, value = GATEWAY_NODE_LABEL
    return tuple(n.name for n in settings.nodes if n.labels.get(key) == value)


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


def cluster_patches(settings: StackSettings) -> list[dict[str, Any]]:
    """The root Application's patches that carry this stack's values to the children (beyond the bucket's)."""
    return [
        *autoscaling_patches(settings.api_min_replicas, settings.api_max_replicas),
        *csr_approver_patches(settings.vpc_cidr),
        *ebs_csi_root_patches(settings.cluster_name, settings.region),
        *volume_snapshot_backup_patches(settings.postgresql_volume_snapshots),
    ]


def default_tags(settings: StackSettings) -> dict[str, str]:
    """Every AWS resource's tags (both providers: the stack's region and us-east-1)."""
    return {
        "cluster": settings.cluster_name,
        "managed-by": "pulumi",
        "pulumi-stack": f"{settings.project}/{settings.stack}",
    }


def build_stack(settings: StackSettings, secrets: StackSecrets) -> StackResources:
    require_ansible_playbook()  # before the first resource: the bootstrap cannot run without it
    name = settings.cluster_name
    aws_provider = aws.Provider(
        "aws",
        region=settings.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(settings)),
    )
    on_aws = pulumi.ResourceOptions(providers=[aws_provider])
    zones = _availability_zones(settings, aws_provider)
    # Zone letters are checked here, right after the look-up and before any resource but the provider.
    zones_by_node = place_nodes(settings.nodes, zones, settings.region, settings.project)
    # The hosted zone is known only to AWS: looked up here, before any resource but the provider,
    # so a zone the account does not have stops the run with a message naming dnsZone.
    zone_id = hosted_zone_id(settings.public_dns, aws_provider) if settings.public_dns is not None else None
    ami = aws.ec2.get_ami(
        owners=[CANONICAL_OWNER_ID],
        filters=[aws.ec2.GetAmiFilterArgs(name="name", values=[settings.versions["ubuntuAmiName"]])],
        most_recent=False,
        # DescribeImages leaves deprecated AMIs out unless asked, and a public AMI is deprecated at
        # most two years after it is created: without this the pinned name stops resolving and
        # every preview and up fails. The name is an exact pin (versions.yaml), so the result is
        # the same image either way.
        include_deprecated=True,
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
            web_open_to_internet=settings.public_dns is not None,
        ),
        opts=on_aws,
    )
    backup = BackupBucket(
        name,
        BackupBucketArgs(cluster_name=name, region=settings.region, writer_role_names=backup_writer_role_names(name)),
        opts=on_aws,
    )
    media = (
        MediaCdn(
            name,
            MediaCdnArgs(
                cluster_name=name,
                cors_origins=settings.media_cors_origins,
                default_tags=default_tags(settings),
                dns=settings.public_dns,
                zone_id=zone_id,
                delete_on_destroy=settings.media_delete_on_destroy,
            ),
            opts=on_aws,
        )
        if settings.media
        else None
    )
    # After the buckets (the roles' policies name them), before the bootstrap (the issuer URL is a
    # kube-apiserver flag); the JWKS object follows the bootstrap (publish_keys below).
    identity = WorkloadIdentity(
        name,
        WorkloadIdentityArgs(
            cluster_name=name,
            backup_bucket_arn=backup.bucket_arn,
            media_bucket_arn=media.bucket_arn if media is not None else None,
            backup_key_arn=backup.key_arn,
        ),
        opts=on_aws,
    )
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
            control_plane_instance_ids={
                n.spec.name: n.instance.id for n in nodes.nodes if n.spec.role is NodeRole.CONTROL_PLANE
            },
        ),
        opts=on_aws,
    )
    entry = PublicEntry(
        name,
        PublicEntryArgs(
            cluster_name=name,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            security_group_id=security.group_ids["web-lb"],
            gateway_instance_ids={
                n.spec.name: n.instance.id for n in nodes.nodes if n.spec.name in gateway_nodes(settings)
            },
            admin_cidrs=settings.admin_cidrs,
            dns=settings.public_dns,
            zone_id=zone_id,
            argocd_open=settings.argocd_sso is not None,
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
            service_account_issuer=identity.issuer_url,
            # Everything the playbook uses, not just the machines: NAT routes (packages, images),
            # security-group rules (SSH, the API, etcd, kubelet, VXLAN), both API endpoints'
            # listeners and target attachments (kubeadm init and joins go through the internal
            # one). A dependency on a component is one on every resource in it.
            depends_on=[network, security, nodes, access],
            # The prepare command (ansible/prepare.yml) needs the machines, their network and the
            # bastion, not the load balancers: it runs while they become active (docs/bootstrap.md).
            prepare_depends_on=[network, security, nodes, access.bastion],
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
            region=settings.region,
            after=[bootstrap, access.bastion],
        ),
    )
    argocd = ArgoCd(
        name,
        ArgoCdArgs(
            kubeconfig=bootstrap.provider_kubeconfig,
            chart_version=settings.versions["argoCdChart"],
            chart_repo=settings.versions["argoCdChartRepo"],
            gitops=settings.gitops,
            domain=settings.argocd_domain,
            after=[bootstrap],
            # The bucket's, each ServiceAccount's role ARN, and the stack's values for the children.
            root_patches=backup.root_patches(
                pulumi.Output.all(**identity.role_arns).apply(lambda arns: role_root_patches(arns))
            ).apply(lambda patches: merge_child_patches([*patches, *cluster_patches(settings)])),
            admin_password_version=settings.argocd_admin_password_version,
            chart_repos=upstream_repos(settings.versions),
            sso=settings.argocd_sso,
            # Validated as set exactly when SSO is (components/settings/argocd.py).
            dex_client_secret=secrets.argocd_github_client_secret if settings.argocd_sso else None,
            cluster_identifier=f"{settings.project}/{settings.stack}/{name}",
        ),
    )
    return StackResources(settings, zones, network, nodes, access, bootstrap, argocd, backup, entry, media, identity)


def export_outputs(stack: StackResources) -> None:
    s = stack.settings
    outputs: dict[str, Any] = {
        "clusterName": s.cluster_name,
        "region": s.region,
        "vpcId": stack.network.vpc_id,
        "publicSubnetIds": stack.network.public_subnet_ids,
        "privateSubnetIds": stack.network.private_subnet_ids,
        "bastionPublicIp": stack.access.bastion_public_ip,
        # With the nodes' instanceId: where a person's or the credential tool's run pushes its
        # EC2 Instance Connect key (tools/node_ssh.py, tools/kube_credential.py).
        "bastionInstanceId": stack.access.bastion.id,
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
        "apiUrl": stack.entry.urls.apply(lambda u: u["api"]),
        "argocdUrl": stack.entry.urls.apply(lambda u: u["argocd"]),
        "grafanaUrl": stack.entry.urls.apply(lambda u: u["grafana"]),
        # null when the stack has no media bucket (`media: false`).
        "mediaBucket": stack.media.bucket_name if stack.media is not None else None,
        "mediaCdnUrl": stack.media.cdn_url if stack.media is not None else None,
        "serviceAccountIssuer": stack.identity.issuer_url,
        # What every node role carries, for `tools/argocd_status.py --stack-outputs` (node_iam.py).
        "nodeRole": stack.nodes.node_role,
        "kubeconfig": pulumi.Output.secret(stack.bootstrap.kubeconfig),
        "argocdAdminPassword": pulumi.Output.secret(stack.argocd.admin_password),
    }
    assert tuple(outputs) == OUTPUT_KEYS + SECRET_OUTPUT_KEYS
    for key, value in outputs.items():
        pulumi.export(key, value)
