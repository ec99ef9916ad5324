"""The default subnet plan, derived from the VPC CIDR with ipaddress.

The VPC is cut into 16 equal blocks (four more prefix bits). Block 0 is cut again into /+8 public
subnets, one per AZ (small: they hold only the bastion, the API load balancer and NAT gateways);
blocks 1..N are the private subnets, one per AZ, where the nodes and their pods' host IPs live.
For the dev stack's 10.0.0.0/16 and 3 AZs: public 10.0.0.0/24, 10.0.1.0/24, 10.0.2.0/24; private
10.0.16.0/20, 10.0.32.0/20, 10.0.48.0/20. Blocks N+1..15 stay free for later growth.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

_PRIVATE_BITS = 4
_PUBLIC_BITS = 8


class SubnetPlanError(ValueError):
    """The VPC is too small (or too many AZs) for the derived plan."""


@dataclass(frozen=True)
class SubnetPlan:
    public: tuple[ipaddress.IPv4Network, ...]
    private: tuple[ipaddress.IPv4Network, ...]


def derive_subnet_plan(vpc: ipaddress.IPv4Network, az_count: int) -> SubnetPlan:
    """One public and one private subnet per AZ, inside `vpc`, none overlapping."""
    if vpc.prefixlen + _PUBLIC_BITS > 28:
        raise SubnetPlanError(
            f"a /{vpc.prefixlen} VPC is too small to derive subnets (public ones would be smaller "
            "than /28); use a /16 to /20 VPC or list publicSubnetCidrs and privateSubnetCidrs."
        )
    blocks = list(vpc.subnets(prefixlen_diff=_PRIVATE_BITS))
    if az_count > len(blocks) - 1:
        raise SubnetPlanError(f"cannot derive {az_count} private subnets from {vpc}.")
    public = tuple(blocks[0].subnets(prefixlen_diff=_PUBLIC_BITS - _PRIVATE_BITS))[:az_count]
    return SubnetPlan(public=public, private=tuple(blocks[1 : az_count + 1]))
