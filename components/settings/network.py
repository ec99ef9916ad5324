"""Rules of the network section: region, cluster name, VPC, zones, subnets, access and pod/service CIDRs.

Access CIDRs (`adminCidrs`, `apiCidrs`): together at most a /8 of addresses and at most a /16 of
public (globally routable) ones, never the whole internet however it is split, never
special-purpose ranges (0/8, loopback, link-local, multicast, reserved) that no client connects
from, no duplicates (AWS refuses a duplicate rule), at most 50 entries (a security group holds 60
rules). `allowBroadAccessCidrs: true` lifts the two size limits, nothing else. `aws:region` is a
region of components/regions.py and `azCount` at most its zones, checked before the provider.

The documentation ranges (RFC 5737 TEST-NET-1/2/3: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24;
the committed Pulumi.dev.yaml uses one) contain no real client: an access list made of them lets
nobody in, so after ~20 minutes of creating resources the bootstrap's SSH wait fails. `pulumi up`
refuses them; a preview only warns (check_documentation_ranges).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.regions import AZ_COUNT_BY_REGION
from components.settings.messages import closest
from components.settings.schema import NetworkKeys, Section, section
from components.settings.values import BOOLEAN_FIX, CIDR_FIX, CIDR_LIST_FIX, DNS_LABEL, Collector
from components.subnets import SubnetPlanError, derive_subnet_plan

MAX_ACCESS_CIDRS = 50
# Access CIDR limits (see the module docstring).
MAX_ACCESS_ADDRESSES = 2**24  # a /8
MAX_PUBLIC_ACCESS_ADDRESSES = 2**16  # a /16
_NEVER_A_SOURCE = tuple(
    ipaddress.IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)
# Not globally routable (IANA special-purpose registry): the rest of IPv4 is "public".
_NOT_PUBLIC = tuple(
    ipaddress.collapse_addresses(
        ipaddress.IPv4Network(n)
        for n in (
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
            "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
            "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        )
    )
)  # fmt: skip
# Ranges a VPC, pod or service network may use without shadowing internet destinations.
_PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


@dataclass(frozen=True)
class Network:
    """The network section's values; a field is None (or empty) when its value was refused."""

    region: object
    cluster_name: object
    vpc: ipaddress.IPv4Network | None
    az_count: int | None
    public: tuple[ipaddress.IPv4Network, ...]
    private: tuple[ipaddress.IPv4Network, ...]
    admin: tuple[ipaddress.IPv4Network, ...]
    api: tuple[ipaddress.IPv4Network, ...]
    pod: ipaddress.IPv4Network | None
    svc: ipaddress.IPv4Network | None
    nat_per_az: object
    # The private subnets once checked against the VPC and the zones (given or derived), for the
    # capacity rule on the parsed nodes (cross.check_private_capacity); empty when not settled.
    settled_private: tuple[ipaddress.IPv4Network, ...] = ()


DOCUMENTATION_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
_EGRESS_HINT = (
    "list your real egress range instead: `curl -s https://checkip.amazonaws.com` prints the public IPv4 "
    "this machine leaves from (on a VPN, the VPN's; for CI, the runners' ranges), e.g. "
    "`pulumi config set --path '{key}[0]' <that address>/32`."
)


def check_documentation_ranges(
    c: Collector, values: Mapping[str, Any], *, project: str, deploying: bool, warnings: list[str]
) -> None:
    """A documentation range in adminCidrs/apiCidrs: refused by `pulumi up`, a warning in a preview."""
    for key in ("adminCidrs", "apiCidrs"):
        items = values.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            try:
                net = ipaddress.IPv4Network(item.strip()) if isinstance(item, str) else None
            except ValueError:
                continue  # cidr_list has named it already
            if net is None or not any(net.subnet_of(doc) for doc in DOCUMENTATION_RANGES):
                continue
            target = "the bastion over SSH" if key == "adminCidrs" else "the Kubernetes API"
            what = (
                f"a documentation range (RFC 5737) that no real client is in: nobody could reach {target}; "
                + _EGRESS_HINT.format(key=key)
            )
            if deploying:
                c.add(f"{key}[{i}]", item, what)
            else:
                warnings.append(f"{project}:{key}[{i}] = {item!r}: `pulumi up` refuses {what}")


def parse_network(c: Collector, values: Mapping[str, Any]) -> Network:
    """The network keys, in the order their problems are listed."""
    t = section(NetworkKeys, values)
    region = values["awsRegion"] if "awsRegion" in values else values.get("aws:region")
    az_limit: int | None = None
    if not isinstance(region, str) or not region:
        c.add("aws:region", region, "set the AWS region, e.g. `pulumi config set aws:region ap-northeast-2`.")
    elif region not in AZ_COUNT_BY_REGION:
        near = closest(region, AZ_COUNT_BY_REGION)
        hint = f"did you mean '{near}'? " if near else ""
        c.add(
            "aws:region",
            region,
            f"not an AWS region; {hint}e.g. `pulumi config set aws:region ap-northeast-2` "
            "(a region opened after components/regions.py was written goes into its table).",
        )
    else:
        az_limit = AZ_COUNT_BY_REGION[region]

    name = t["clusterName"]
    if not t.ok("clusterName") or not DNS_LABEL.fullmatch(name) or len(name) > 20:
        c.add("clusterName", name, "a DNS label (lowercase letters, digits, '-') of at most 20 characters.")

    vpc = _cidr(c, t, "vpcCidr")
    if vpc is not None and not 16 <= vpc.prefixlen <= 24:
        c.add("vpcCidr", str(vpc), "AWS allows VPCs from /16 to /28; use /16 to /24 here.")
        vpc = None
    _check_private_range(c, "vpcCidr", vpc)

    az_count = t["azCount"]
    if not t.ok("azCount") or az_count < 2:
        c.add(
            "azCount",
            az_count,
            "at least 2 availability zones (3 recommended) so one AZ outage does not take the cluster.",
        )
        az_count = None
    elif az_count > 6:
        c.add("azCount", az_count, "at most 6 availability zones.")
        az_count = None
    elif az_limit is not None and az_count > az_limit:
        c.add("azCount", az_count, f"{region} has at most {az_limit} availability zones; lower azCount.")
        az_count = None

    public = _cidr_list(c, t, "publicSubnetCidrs", required=False)
    private = _cidr_list(c, t, "privateSubnetCidrs", required=False)
    if vpc is not None and az_count is not None and not c.problems:
        for key, nets in (("publicSubnetCidrs", public), ("privateSubnetCidrs", private)):
            if nets and len(nets) != az_count:
                c.add(
                    key, [str(n) for n in nets], f"give exactly one subnet per AZ ({az_count}), or none to derive them."
                )
    # Pairwise checks below are quadratic: only for lists of the right length.
    settled: tuple[ipaddress.IPv4Network, ...] = ()
    if vpc is not None and az_count is not None and not c.problems:
        if not public or not private:
            try:
                plan = derive_subnet_plan(vpc, az_count)
            except SubnetPlanError as exc:
                c.add("vpcCidr", str(vpc), str(exc))
            else:
                public = public or plan.public
                private = private or plan.private
        subnets = [("publicSubnetCidrs", n) for n in public] + [("privateSubnetCidrs", n) for n in private]
        for key, net in subnets:
            if not net.subnet_of(vpc):
                c.add(key, str(net), f"outside the VPC {vpc}; pick a range inside it.")
            elif net.prefixlen > 28:
                c.add(key, str(net), "AWS subnets are /28 or larger.")
        check_no_overlap(c, subnets)
        settled = private

    allow_broad = t["allowBroadAccessCidrs"]
    if not t.ok("allowBroadAccessCidrs"):
        c.add("allowBroadAccessCidrs", allow_broad, BOOLEAN_FIX)
        allow_broad = False
    for key, world_fix in (
        ("adminCidrs", "SSH open to the world; list your office or VPN egress range instead."),
        ("apiCidrs", "the Kubernetes API open to the world; list the ranges of your admins and CI instead."),
    ):
        nets = _cidr_list(c, t, key, required=True, world_fix=world_fix)
        _check_access_breadth(c, key, t[key], nets, allow_broad=allow_broad)
        if key == "adminCidrs":
            admin = nets
        else:
            api = nets

    pod = _cidr(c, t, "podCidr")
    svc = _cidr(c, t, "serviceCidr")
    _check_private_range(c, "podCidr", pod)
    _check_private_range(c, "serviceCidr", svc)
    if svc is not None and not 12 <= svc.prefixlen <= 28:
        c.add(
            "serviceCidr",
            str(svc),
            "kube-apiserver takes a service range from /12 (at most 2^20 addresses) to /28 (room for the DNS "
            "service at .10).",
        )
    networks = [(k, n) for k, n in (("vpcCidr", vpc), ("podCidr", pod), ("serviceCidr", svc)) if n is not None]
    check_no_overlap(c, networks)

    nat_per_az = t["natGatewayPerAz"]
    if not t.ok("natGatewayPerAz"):
        c.add("natGatewayPerAz", nat_per_az, BOOLEAN_FIX)
    return Network(region, name, vpc, az_count, public, private, admin, api, pod, svc, nat_per_az, settled)


def _cidr(c: Collector, t: Section, key: str) -> ipaddress.IPv4Network | None:
    if not t.ok(key):
        c.add(key, t[key], CIDR_FIX)
        return None
    return c.cidr(key, t[key])


def _cidr_list(
    c: Collector, t: Section, key: str, *, required: bool, world_fix: str | None = None
) -> tuple[ipaddress.IPv4Network, ...]:
    if not t.ok(key):
        c.add(key, t[key], CIDR_LIST_FIX)
        return ()
    return c.cidr_list(key, t[key], required=required, world_fix=world_fix)


def check_no_overlap(c: Collector, named: Sequence[tuple[str, ipaddress.IPv4Network]]) -> None:
    for i, (key_a, a) in enumerate(named):
        for key_b, b in named[i + 1 :]:
            if a.overlaps(b):
                c.add(key_b, str(b), f"overlaps {key_a} ({a}); choose a range that does not.")


def _overlap_size(nets: Sequence[ipaddress.IPv4Network], others: Sequence[ipaddress.IPv4Network]) -> int:
    """Addresses `nets` and `others` share (each a set of disjoint networks)."""
    total = 0
    for a in nets:
        for b in others:
            if a.subnet_of(b):
                total += a.num_addresses
            elif b.subnet_of(a):
                total += b.num_addresses
    return total


def _check_access_breadth(
    c: Collector, key: str, raw: object, nets: Sequence[ipaddress.IPv4Network], *, allow_broad: bool
) -> None:
    """Refuse access lists that reach much further than an office or VPN range."""
    if not nets:
        return
    if len(nets) > MAX_ACCESS_CIDRS:
        c.add(key, f"{len(nets)} CIDRs", f"at most {MAX_ACCESS_CIDRS} (a security group holds 60 rules); merge ranges.")
    union = list(ipaddress.collapse_addresses(nets))
    size = sum(n.num_addresses for n in union)
    if size == 2**32:
        c.add(key, raw, "together these cover the whole IPv4 internet (the same as 0.0.0.0/0); list your ranges.")
        return
    for net in nets:
        special = [str(s) for s in _NEVER_A_SOURCE if net.overlaps(s)]
        if special:
            c.add(
                key,
                str(net),
                f"includes special-purpose addresses ({', '.join(special)}: this-network, loopback, link-local, "
                "multicast or reserved) that no client connects from; list your real egress ranges.",
            )
    if allow_broad:
        return
    override = " (or set allowBroadAccessCidrs: true if you mean it)"
    if size > MAX_ACCESS_ADDRESSES:
        c.add(
            key,
            raw,
            f"together {size:,} addresses, more than a /8; list your office/VPN/CI egress ranges{override}.",
        )
        return
    public = size - _overlap_size(union, _NOT_PUBLIC)
    if public > MAX_PUBLIC_ACCESS_ADDRESSES:
        c.add(
            key,
            raw,
            f"covers {public:,} public addresses, more than a /16: other people's networks, not yours; "
            f"list your own egress ranges{override}.",
        )


# RFC 6598 shared address space: a private range, but not one the stack's NetworkPolicies name
# for nodes and pods (manifests/infrastructure/network-policies list only RFC 1918 in their API
# server, kubelet and webhook rules), so the VPC and the pod network may not use it.
_SHARED_ADDRESS_SPACE = _PRIVATE_RANGES[3]


def _check_private_range(c: Collector, key: str, net: ipaddress.IPv4Network | None) -> None:
    if net is not None and not any(net.subnet_of(p) for p in _PRIVATE_RANGES):
        c.add(
            key,
            str(net),
            "use a private range (inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10); "
            "a public range would hide those internet addresses from the cluster.",
        )
    elif net is not None and key in ("vpcCidr", "podCidr") and net.overlaps(_SHARED_ADDRESS_SPACE):
        # Node and pod addresses are what the NetworkPolicies match, and they list only the RFC 1918
        # ranges (the API server, kubelet and webhook rules above all): nodes or pods in
        # 100.64.0.0/10 would be cut off from the API server and the webhooks.
        c.add(
            key,
            str(net),
            "use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16: the NetworkPolicies name "
            "only those for nodes and pods, so addresses in 100.64.0.0/10 (shared "
            "address space) would be cut off from the API server and the webhooks.",
        )
