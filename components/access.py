"""How people, CI and the nodes reach the cluster: a bastion for SSH, a public and an internal API endpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.instances import BASTION_CREATION_ONLY, hardened_instance_args
from components.security import API_PORT
from components.user_data import render_bastion_user_data

TYPE_TOKEN = "gitops-cluster:access:ClusterAccess"  # noqa: S105 (a Pulumi type token)

# AWS caps load balancer and target group names at 32 characters and Pulumi's autoname adds 8
# (`-` and 7 random characters) to the logical name, so with a 20-character clusterName a suffix
# may have 4 characters: `-api` (public) and `-int` (internal).
PUBLIC_SUFFIX = "-api"
INTERNAL_SUFFIX = "-int"
AWS_LB_NAME_MAX = 32
AUTONAME_SUFFIX_LEN = 8
# The API load balancers sit in the subnets of the stack's first two zones, whatever azCount is
# (at least 2: components/settings/network.py). AWS replaces a network load balancer when a subnet
# is removed from it, and both NLBs' DNS names are in every kubeconfig and the API server's
# certificate: over every zone, lowering azCount (routine, docs/deployment.md) would replace them.
# The first two zones stay when azCount goes down (zones are the region's first azCount in name
# order, components/stack.py); cross-zone load balancing still reaches the control planes in any
# zone, and one zone's outage leaves the other's load balancer nodes answering.
ENDPOINT_ZONES = 2


def readyz_health_check() -> aws.lb.TargetGroupHealthCheckArgs:
    """HTTPS GET /readyz on 6443: a target is healthy when its API server is ready, not just listening.

    kubeadm's default RBAC (the `system:public-info-viewer` ClusterRole, bound to
    system:unauthenticated) lets an anonymous request read /readyz, /livez, /healthz and
    /version, so the load balancer needs no credentials. NLB HTTPS checks do not verify the
    certificate (the API server's is signed by the cluster CA).
    """
    return aws.lb.TargetGroupHealthCheckArgs(
        protocol="HTTPS",
        port=str(API_PORT),
        path="/readyz",
        matcher="200",
        interval=10,
        timeout=6,
        healthy_threshold=2,
        unhealthy_threshold=2,
    )


@dataclass(frozen=True)
class ClusterAccessArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    bastion_security_group_id: pulumi.Input[str]
    api_lb_security_group_id: pulumi.Input[str]
    api_internal_lb_security_group_id: pulumi.Input[str]
    ami_id: pulumi.Input[str]
    bastion_instance_type: str
    # Node name -> instance id: attachments are named after the node, never its row position.
    control_plane_instance_ids: Mapping[str, pulumi.Input[str]]


@dataclass(frozen=True)
class ApiEndpoint:
    """One load balancer in front of the API servers and what the graph must wait for."""

    load_balancer: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    listener: aws.lb.Listener
    attachments: tuple[aws.lb.TargetGroupAttachment, ...]


class ClusterAccess(pulumi.ComponentResource):
    """The bastion and the two Kubernetes API endpoints.

    Creates: a bastion instance in the first public subnet with a public IP (IMDSv2, encrypted
    gp3 root volume; its security group admits SSH from the admin CIDRs only) and two network
    load balancers on TCP 6443 in front of every control-plane instance, each with its own
    security group, a TCP target group with HTTPS `/readyz` health checks and without client-IP
    preservation (so a control-plane node can reach the API through the endpoint without hairpin
    failures), a TCP listener and one attachment per control-plane node (named after the node):

    - `<name>-api`, internet-facing over the public subnets of the first two zones
      (ENDPOINT_ZONES), admitting the API CIDRs only: for admins and CI. Its DNS name is
      `apiEndpoint` and the server of the exported kubeconfig.
    - `<name>-int`, internal over the private subnets of the same two zones (one address each),
      admitting the cluster's nodes only: the kubeadm `controlPlaneEndpoint` every kubelet, kube-proxy and
      join uses, so no node depends on a NAT gateway (or the internet) to reach the API.

    Both names are certificate SANs of the API server.
    """

    bastion: aws.ec2.Instance
    bastion_public_ip: pulumi.Output[str]
    api_endpoint_host: pulumi.Output[str]
    api_endpoint: pulumi.Output[str]
    api_target_group_arn: pulumi.Output[str]
    internal_api_endpoint_host: pulumi.Output[str]
    internal_api_target_group_arn: pulumi.Output[str]
    public_api: ApiEndpoint
    internal_api: ApiEndpoint

    def __init__(self, name: str, args: ClusterAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.bastion = aws.ec2.Instance(
            f"{name}-bastion",
            **hardened_instance_args(
                ami_id=args.ami_id,
                instance_type=args.bastion_instance_type,
                subnet_id=args.public_subnet_ids[0],
                security_group_ids=[args.bastion_security_group_id],
                root_volume_gb=20,
                public_ip=True,
                tags={"Name": f"{name}-bastion", "cluster": args.cluster_name, "role": "bastion", "node": "bastion"},
            ),
            # Installs the Instance Connect package at first boot. A bastion created before it keeps
            # its user data (a change would stop and start it, and its public IP would change).
            user_data=render_bastion_user_data(),
            opts=pulumi.ResourceOptions.merge(child, BASTION_CREATION_ONLY),
        )
        self.bastion_public_ip = self.bastion.public_ip

        self.public_api = self._create_endpoint(
            f"{name}{PUBLIC_SUFFIX}",
            args,
            internal=False,
            subnets=args.public_subnet_ids[:ENDPOINT_ZONES],
            group=args.api_lb_security_group_id,
        )
        self.internal_api = self._create_endpoint(
            f"{name}{INTERNAL_SUFFIX}",
            args,
            internal=True,
            subnets=args.private_subnet_ids[:ENDPOINT_ZONES],
            group=args.api_internal_lb_security_group_id,
        )
        self.api_endpoint_host = self.public_api.load_balancer.dns_name
        self.api_endpoint = self.api_endpoint_host.apply(lambda host: f"https://{host}:{API_PORT}")
        self.api_target_group_arn = self.public_api.target_group.arn
        self.internal_api_endpoint_host = self.internal_api.load_balancer.dns_name
        self.internal_api_target_group_arn = self.internal_api.target_group.arn
        self.register_outputs(
            {
                "bastion_public_ip": self.bastion_public_ip,
                "api_endpoint_host": self.api_endpoint_host,
                "api_endpoint": self.api_endpoint,
                "api_target_group_arn": self.api_target_group_arn,
                "internal_api_endpoint_host": self.internal_api_endpoint_host,
                "internal_api_target_group_arn": self.internal_api_target_group_arn,
            }
        )

    def _create_endpoint(
        self,
        lb_name: str,
        args: ClusterAccessArgs,
        *,
        internal: bool,
        subnets: Sequence[pulumi.Input[str]],
        group: pulumi.Input[str],
    ) -> ApiEndpoint:
        child = pulumi.ResourceOptions(parent=self)
        tags = {"Name": lb_name, "endpoint": "internal" if internal else "public"}
        # Protected: a replaced NLB gets a new DNS name, which no kubeconfig or certificate knows.
        # Only `make destroy` lifts this, on purpose (tools/up.sh).
        lb = aws.lb.LoadBalancer(
            lb_name,
            load_balancer_type="network",
            internal=internal,
            subnets=list(subnets),
            security_groups=[group],
            enable_cross_zone_load_balancing=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        target_group = aws.lb.TargetGroup(
            lb_name,
            port=API_PORT,
            protocol="TCP",
            target_type="instance",
            vpc_id=args.vpc_id,
            preserve_client_ip="false",
            deregistration_delay=30,
            health_check=readyz_health_check(),
            tags=tags,
            opts=child,
        )
        listener = aws.lb.Listener(
            lb_name,
            load_balancer_arn=lb.arn,
            port=API_PORT,
            protocol="TCP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)],
            opts=child,
        )
        attachments = tuple(
            aws.lb.TargetGroupAttachment(
                f"{lb_name}-{node_name}",
                target_group_arn=target_group.arn,
                target_id=instance_id,
                port=API_PORT,
                opts=child,
            )
            for node_name, instance_id in sorted(args.control_plane_instance_ids.items())
        )
        return ApiEndpoint(lb, target_group, listener, attachments)
