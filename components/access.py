"""How people and CI reach the cluster: a bastion for SSH and a load balancer for the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.instances import hardened_instance_args
from components.security import API_PORT


@dataclass(frozen=True)
class ClusterAccessArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    bastion_security_group_id: pulumi.Input[str]
    api_lb_security_group_id: pulumi.Input[str]
    ami_id: pulumi.Input[str]
    bastion_instance_type: str
    key_name: pulumi.Input[str]
    # Node name -> instance id: attachments are named after the node, never its row position.
    control_plane_instance_ids: Mapping[str, pulumi.Input[str]]


class ClusterAccess(pulumi.ComponentResource):
    """The bastion and the Kubernetes API endpoint.

    Creates: a bastion instance in the first public subnet with a public IP (IMDSv2, encrypted
    gp3 root volume; its security group admits SSH from the admin CIDRs only); an internet-facing
    network load balancer over the public subnets with its own security group (TCP 6443 from the
    API CIDRs and the NAT addresses), a TCP target group on 6443 without client-IP preservation
    (so a control-plane node can reach the API through the endpoint without hairpin failures) and
    a TCP listener on 6443, with every control-plane instance attached. The load balancer's DNS
    name is the cluster endpoint.
    """

    bastion: aws.ec2.Instance
    bastion_public_ip: pulumi.Output[str]
    api_endpoint_host: pulumi.Output[str]
    api_endpoint: pulumi.Output[str]
    api_target_group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gitops-cluster:access:ClusterAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.bastion = aws.ec2.Instance(
            f"{name}-bastion",
            **hardened_instance_args(
                ami_id=args.ami_id,
                instance_type=args.bastion_instance_type,
                subnet_id=args.public_subnet_ids[0],
                security_group_ids=[args.bastion_security_group_id],
                key_name=args.key_name,
                root_volume_gb=20,
                public_ip=True,
                tags={"Name": f"{name}-bastion", "cluster": args.cluster_name, "role": "bastion", "node": "bastion"},
            ),
            opts=child,
        )
        self.bastion_public_ip = self.bastion.public_ip

        lb = aws.lb.LoadBalancer(
            f"{name}-api",
            load_balancer_type="network",
            internal=False,
            subnets=list(args.public_subnet_ids),
            security_groups=[args.api_lb_security_group_id],
            enable_cross_zone_load_balancing=True,
            tags={"Name": f"{name}-api"},
            opts=child,
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-api",
            port=API_PORT,
            protocol="TCP",
            target_type="instance",
            vpc_id=args.vpc_id,
            preserve_client_ip="false",
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                protocol="TCP", port=str(API_PORT), interval=10, healthy_threshold=2, unhealthy_threshold=2
            ),
            tags={"Name": f"{name}-api"},
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-api",
            load_balancer_arn=lb.arn,
            port=API_PORT,
            protocol="TCP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)],
            opts=child,
        )
        for node_name, instance_id in sorted(args.control_plane_instance_ids.items()):
            aws.lb.TargetGroupAttachment(
                f"{name}-api-{node_name}",
                target_group_arn=target_group.arn,
                target_id=instance_id,
                port=API_PORT,
                opts=child,
            )
        self.api_endpoint_host = lb.dns_name
        self.api_endpoint = lb.dns_name.apply(lambda host: f"https://{host}:{API_PORT}")
        self.api_target_group_arn = target_group.arn
        self.register_outputs(
            {
                "bastion_public_ip": self.bastion_public_ip,
                "api_endpoint_host": self.api_endpoint_host,
                "api_endpoint": self.api_endpoint,
                "api_target_group_arn": self.api_target_group_arn,
            }
        )
