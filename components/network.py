"""The VPC: public and private subnets over several AZs, internet gateway, NAT, route tables."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

TYPE_TOKEN = "gitops-cluster:network:Network"  # noqa: S105 (a Pulumi type token)


@dataclass(frozen=True)
class NetworkArgs:
    cluster_name: str
    vpc_cidr: ipaddress.IPv4Network
    availability_zones: Sequence[str]
    public_subnets: Sequence[ipaddress.IPv4Network]
    private_subnets: Sequence[ipaddress.IPv4Network]
    nat_gateway_per_az: bool


class Network(pulumi.ComponentResource):
    """A VPC spread over `len(availability_zones)` AZs.

    Creates: the VPC (DNS support and hostnames on); one public and one private subnet per AZ;
    an internet gateway and a public route table; one NAT gateway with its Elastic IP (or one per
    AZ with `nat_gateway_per_az`); a private route table per AZ routing 0.0.0.0/0 through its NAT.
    Public subnets do not assign public IPs on launch: only the bastion asks for one explicitly.
    """

    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    nat_public_ips: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if not len(args.availability_zones) == len(args.public_subnets) == len(args.private_subnets):
            raise ValueError("one public and one private subnet per availability zone")
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(args.vpc_cidr),
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        self.vpc_id = vpc.id
        # The VPC's default security group, adopted and emptied (CIS AWS 5.4): every instance uses
        # the program's own groups, so one that ever fell back to the default admits and sends nothing.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], tags={"Name": f"{name}-default"}, opts=child
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"}, opts=child)
        public_ids = self._create_public_subnets(vpc, igw)
        self.public_subnet_ids = public_ids
        nat_ids, self.nat_public_ips = self._create_nat_gateways(public_ids, igw)
        self.private_subnet_ids = self._create_private_subnets(vpc, nat_ids)

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "nat_public_ips": self.nat_public_ips,
            }
        )

    def _create_public_subnets(self, vpc: aws.ec2.Vpc, igw: aws.ec2.InternetGateway) -> list[pulumi.Output[str]]:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        table = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        ids = []
        for az, cidr in zip(args.availability_zones, args.public_subnets, strict=True):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{az}",
                vpc_id=vpc.id,
                cidr_block=str(cidr),
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{az}", "tier": "public", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{az}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
            ids.append(subnet.id)
        return ids

    def _create_nat_gateways(
        self, public_ids: Sequence[pulumi.Output[str]], igw: aws.ec2.InternetGateway
    ) -> tuple[list[pulumi.Output[str]], list[pulumi.Output[str]]]:
        name, args = self._name, self._args
        azs = args.availability_zones if args.nat_gateway_per_az else args.availability_zones[:1]
        nat_ids, ips = [], []
        for az, subnet_id in zip(azs, public_ids, strict=False):
            eip = aws.ec2.Eip(
                f"{name}-nat-{az}",
                domain="vpc",
                tags={"Name": f"{name}-nat-{az}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{az}",
                allocation_id=eip.id,
                subnet_id=subnet_id,
                tags={"Name": f"{name}-nat-{az}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            nat_ids.append(nat.id)
            ips.append(eip.public_ip)
        return nat_ids, ips

    def _create_private_subnets(
        self, vpc: aws.ec2.Vpc, nat_ids: Sequence[pulumi.Output[str]]
    ) -> list[pulumi.Output[str]]:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        ids = []
        for i, (az, cidr) in enumerate(zip(args.availability_zones, args.private_subnets, strict=True)):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{az}",
                vpc_id=vpc.id,
                cidr_block=str(cidr),
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-private-{az}", "tier": "private"},
                opts=child,
            )
            table = aws.ec2.RouteTable(
                f"{name}-private-{az}",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat_ids[i % len(nat_ids)])],
                tags={"Name": f"{name}-private-{az}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{az}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
            ids.append(subnet.id)
        return ids
