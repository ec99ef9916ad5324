"""Cross-section rules: what holds only between the values of two sections."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from components.settings.edge import HOST_KEYS
from components.settings.model import NodeSpec, PublicDns
from components.settings.values import Collector, instance_arch
from components.settings.versions import AMI_NAME


def check_pod_capacity(c: Collector, pod: ipaddress.IPv4Network | None, nodes: Sequence[NodeSpec]) -> None:
    """Calico hands each node /26 blocks of the pod range."""
    pod_blocks_needed = 64 * max(len(nodes), 1)  # Calico hands each node /26 blocks (64 addresses)
    if pod is not None and pod.num_addresses < pod_blocks_needed:
        c.add("podCidr", str(pod), f"too small for {len(nodes)} nodes (Calico gives each a /26); use a /16.")


def check_architecture(c: Collector, versions: Mapping[str, str], typed: Sequence[tuple[str, str]]) -> None:
    m = AMI_NAME.fullmatch(versions.get("ubuntuAmiName", ""))
    if m is None:
        return
    for key, itype in typed:
        if instance_arch(itype) != m["arch"]:
            c.add(
                key,
                itype,
                f"a {instance_arch(itype)} instance type, but the AMI (versions.ubuntuAmiName) is {m['arch']}; "
                "use a matching instance type or AMI.",
            )


def check_private_capacity(c: Collector, private: Sequence[ipaddress.IPv4Network], nodes: Sequence[NodeSpec]) -> None:
    """The parsed nodes (pools expanded) spread over the private subnets must fit: AWS keeps 5
    addresses of each, the internal load balancer takes one more. `private` is empty when the
    network section could not settle its subnets (its problems are listed already)."""
    if not private or not nodes:
        return
    total = len(nodes)
    per_subnet = -(-total // len(private))
    for net in private:
        if net.num_addresses - 6 < per_subnet:
            c.add(
                "privateSubnetCidrs",
                str(net),
                f"holds {net.num_addresses - 6} nodes, but about {per_subnet} of the {total} go to each private "
                "subnet; use larger subnets (a /20 is derived when none are given).",
            )


def check_argocd_domain(c: Collector, argocd_domain: object, dns: PublicDns | None, media: bool) -> None:
    """argocdDomain set to another public name (the API's, Grafana's, the CDN's) would send Argo CD's
    links and SSO callback to that backend."""
    if dns is None or not isinstance(argocd_domain, str):
        return
    host = argocd_domain.partition(":")[0]
    for key in [k for k in HOST_KEYS if k != "argocd" and (k != "images" or media)]:
        if host == dns.fqdn(key):
            c.add(
                "argocdDomain",
                argocd_domain,
                f"that is the {HOST_KEYS[key]} name ({dns.fqdn(key)}), served by another backend; leave argocdDomain "
                f"at its default for {dns.fqdn('argocd')} (argocdHost), or name Argo CD's own host.",
            )
