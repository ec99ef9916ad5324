"""Security groups of the cluster, from one reviewable table of rules.

Six groups, each a role:
  bastion          the SSH jump host; reachable on 22 from the admin CIDRs only.
  api-lb           the public (internet-facing) Kubernetes API load balancer, for admins and CI:
                   6443 from the API CIDRs only.
  api-internal-lb  the internal API load balancer, the cluster's controlPlaneEndpoint: 6443 from
                   the cluster's nodes only. Nodes never leave the VPC to reach the API, so the
                   NAT gateways' addresses are not admitted on the public one (no node uses it,
                   and one NAT is no longer on every kubelet's path).
  control-plane    kubeadm control-plane nodes: API server, etcd, controller-manager, scheduler.
  cluster        every node (control plane included): kubelet, Calico VXLAN and Typha, NodePorts,
                 node-exporter, and SSH from the bastion only; the gateway NodePorts from web-lb.
  web-lb           the public Application Load Balancer (components/public_entry.py): 443 and 80
                   from `web` (the internet when the stack has a domain, else the admin CIDRs),
                   8081/8082 (the admin UIs of a stack without a domain) from the admin CIDRs.

Calico runs in VXLAN mode (UDP 4789), so BGP (TCP 179) and IP-in-IP (protocol 4) stay closed.
Nothing but the web-lb's 443 and 80 (with a domain) is open to the world on ingress; `RULES` is
the whole story and tests read it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

TYPE_TOKEN = "gitops-cluster:security:ClusterSecurity"  # noqa: S105 (a Pulumi type token)

GroupName = Literal["bastion", "api-lb", "api-internal-lb", "control-plane", "cluster", "web-lb"]
GROUPS: tuple[GroupName, ...] = ("bastion", "api-lb", "api-internal-lb", "control-plane", "cluster", "web-lb")

API_PORT = 6443
SSH_PORT = 22
# The Gateway data plane's fixed NodePorts (components/public_entry.py BACKENDS; the EnvoyProxy's
# Service patch in manifests/infrastructure/gateway holds the same numbers, a test holds them together).
GATEWAY_NODE_PORTS = (30080, 30082)
PLAIN_ADMIN_PORTS = (8081, 8082)


@dataclass(frozen=True)
class Rule:
    """One ingress or egress rule; `peer` is a group name, 'admin', 'api' or 'anywhere'."""

    group: GroupName
    direction: Literal["ingress", "egress"]
    protocol: Literal["tcp", "udp", "-1"]
    from_port: int
    to_port: int
    peer: str
    description: str


def _rule(
    group: GroupName,
    direction: Literal["ingress", "egress"],
    proto: Literal["tcp", "udp", "-1"],
    ports: int | tuple[int, int],
    peer: str,
    description: str,
) -> Rule:
    lo, hi = (ports, ports) if isinstance(ports, int) else ports
    return Rule(group, direction, proto, lo, hi, peer, description)


RULES: tuple[Rule, ...] = (
    # Bastion: SSH in from admins, SSH out to the nodes, HTTPS out for updates and SSM.
    _rule("bastion", "ingress", "tcp", SSH_PORT, "admin", "SSH from the admin CIDRs"),
    _rule("bastion", "egress", "tcp", SSH_PORT, "cluster", "SSH to the cluster nodes"),
    _rule("bastion", "egress", "tcp", 443, "anywhere", "HTTPS for package updates and SSM"),
    # Public API load balancer: admins and CI in, control plane out.
    _rule("api-lb", "ingress", "tcp", API_PORT, "api", "Kubernetes API from the API CIDRs"),
    _rule("api-lb", "egress", "tcp", API_PORT, "control-plane", "to the API servers and their health checks"),
    # Internal API load balancer: the nodes in (kubelets, kube-proxy, joins), control plane out.
    _rule("api-internal-lb", "ingress", "tcp", API_PORT, "cluster", "Kubernetes API from the cluster's nodes"),
    _rule("api-internal-lb", "egress", "tcp", API_PORT, "control-plane", "to the API servers and their health checks"),
    # Control plane.
    _rule("control-plane", "ingress", "tcp", API_PORT, "api-lb", "API server from the public load balancer"),
    _rule("control-plane", "ingress", "tcp", API_PORT, "api-internal-lb", "API server from the internal load balancer"),
    _rule("control-plane", "ingress", "tcp", API_PORT, "cluster", "API server from the nodes"),
    _rule("control-plane", "ingress", "tcp", (2379, 2380), "control-plane", "etcd client and peer"),
    _rule("control-plane", "ingress", "tcp", (10257, 10257), "control-plane", "kube-controller-manager"),
    _rule("control-plane", "ingress", "tcp", (10259, 10259), "control-plane", "kube-scheduler"),
    # Metrics scraped by Prometheus on the monitoring node (its pods' traffic to node addresses
    # leaves with the node's address, so the peer is the cluster group); kubeadm-config binds them.
    _rule("control-plane", "ingress", "tcp", 10257, "cluster", "kube-controller-manager metrics for Prometheus"),
    _rule("control-plane", "ingress", "tcp", 10259, "cluster", "kube-scheduler metrics for Prometheus"),
    _rule("control-plane", "ingress", "tcp", 2381, "cluster", "etcd metrics (listen-metrics-urls) for Prometheus"),
    # Every node.
    _rule("cluster", "ingress", "tcp", SSH_PORT, "bastion", "SSH from the bastion only"),
    _rule("cluster", "ingress", "tcp", 10250, "cluster", "kubelet API"),
    _rule("cluster", "ingress", "udp", 4789, "cluster", "Calico VXLAN"),
    _rule("cluster", "ingress", "tcp", 5473, "cluster", "Calico Typha"),
    _rule("cluster", "ingress", "tcp", 9100, "cluster", "node-exporter scraped by Prometheus"),
    _rule("cluster", "ingress", "tcp", 10249, "cluster", "kube-proxy metrics scraped by Prometheus"),
    _rule("cluster", "ingress", "tcp", (30000, 32767), "cluster", "NodePort services, inside the cluster only"),
    _rule(
        "cluster", "ingress", "tcp", GATEWAY_NODE_PORTS, "web-lb", "Gateway data plane NodePorts from the public ALB"
    ),
    _rule("cluster", "egress", "-1", (0, 0), "anywhere", "images and packages via NAT; the API inside the VPC"),
    # The public ALB: HTTPS and HTTP in, the gateway's NodePorts out.
    _rule("web-lb", "ingress", "tcp", 443, "web", "HTTPS to the APIs and admin UIs"),
    _rule("web-lb", "ingress", "tcp", 80, "web", "HTTP: redirected to HTTPS, or plain HTTP without a domain"),
    _rule("web-lb", "ingress", "tcp", PLAIN_ADMIN_PORTS, "admin", "admin UIs over plain HTTP (no domain)"),
    _rule("web-lb", "egress", "tcp", GATEWAY_NODE_PORTS, "cluster", "to the Gateway data plane NodePorts"),
)


@dataclass(frozen=True)
class ClusterSecurityArgs:
    vpc_id: pulumi.Input[str]
    admin_cidrs: Sequence[ipaddress.IPv4Network]
    api_cidrs: Sequence[ipaddress.IPv4Network]
    # Who reaches the public ALB's 443/80: the whole internet once the stack serves HTTPS on its
    # domain; without a domain (plain HTTP) the admin CIDRs only.
    web_open_to_internet: bool = False


class ClusterSecurity(pulumi.ComponentResource):
    """The six security groups and one ingress/egress rule resource per row of `RULES`.

    Rules are separate `aws.vpc.SecurityGroupIngressRule`/`EgressRule` resources (not inline), so
    a change to one rule replaces only that rule. A CIDR peer becomes one rule per CIDR.
    """

    group_ids: Mapping[GroupName, pulumi.Output[str]]

    def __init__(self, name: str, args: ClusterSecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        groups = {
            g: aws.ec2.SecurityGroup(
                f"{name}-{g}",
                vpc_id=args.vpc_id,
                description=f"{name} {g}",
                tags={"Name": f"{name}-{g}", "role": g},
                opts=child,
            )
            for g in GROUPS
        }
        cidr_peers: dict[str, list[pulumi.Input[str]]] = {
            "admin": [str(c) for c in args.admin_cidrs],
            "api": [str(c) for c in args.api_cidrs],
            "anywhere": ["0.0.0.0/0"],
            "web": ["0.0.0.0/0"] if args.web_open_to_internet else [str(c) for c in args.admin_cidrs],
        }
        for rule in RULES:
            base = f"{name}-{rule.group}-{rule.direction}"
            rule_name = (
                f"{base}-all-{rule.peer}"
                if rule.protocol == "-1"
                else f"{base}-{rule.protocol}-{rule.from_port}-{rule.peer}"
            )
            if rule.peer in groups:
                _create_rule(rule, rule_name, groups[rule.group].id, child, peer_group_id=groups[rule.peer].id)  # type: ignore[index]
                continue
            for i, cidr in enumerate(cidr_peers[rule.peer]):
                _create_rule(rule, f"{rule_name}-{i}", groups[rule.group].id, child, cidr=cidr)
        self.group_ids = {g: sg.id for g, sg in groups.items()}
        self.register_outputs({"group_ids": dict(self.group_ids)})


def _create_rule(
    rule: Rule,
    name: str,
    group_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    *,
    peer_group_id: pulumi.Input[str] | None = None,
    cidr: pulumi.Input[str] | None = None,
) -> pulumi.CustomResource:
    every_port = rule.protocol == "-1"
    kwargs: dict[str, Any] = {
        "security_group_id": group_id,
        "ip_protocol": rule.protocol,
        "from_port": None if every_port else rule.from_port,
        "to_port": None if every_port else rule.to_port,
        "referenced_security_group_id": peer_group_id,
        "cidr_ipv4": cidr,
        "description": rule.description,
        "opts": opts,
    }
    if rule.direction == "ingress":
        return aws.vpc.SecurityGroupIngressRule(name, **kwargs)
    return aws.vpc.SecurityGroupEgressRule(name, **kwargs)
