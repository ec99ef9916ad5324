"""Rules of the public side: the DNS zone, domain and names, the media bucket and CDN, the APIs' autoscaling bounds.

`dnsZone` + `dnsDomain` (both or neither): the Route53 public hosted zone of the account and the
domain the public names are created under; the domain is the zone or a name below it. The names
are `apiHost`, `argocdHost`, `grafanaHost` and `imagesHost` (the CDN's, with `media`): one DNS
label each, all different, defaults the seed's `api.`, `argocd.`, `grafana.`, `images.`. Without
zone and domain the stack serves plain HTTP on the ALB's DNS name to the admin CIDRs only (a
warning says so). Whether the zone exists is known only to AWS: components/public_entry.py looks
it up before any resource but the provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from components.public_entry import GATEWAY_NODE_LABEL
from components.settings.model import NodeSpec, PublicDns, PublicHosts
from components.settings.schema import EdgeKeys, Section, section
from components.settings.values import BOOLEAN_FIX, DNS_LABEL, DNS_SUBDOMAIN, Collector

# The default of argocdDomain in Pulumi.yaml: with a domain, Argo CD's URL becomes argocd.<domain>.
PORT_FORWARD_ARGOCD_DOMAIN = "localhost:8080"
MAX_API_REPLICAS = 20
# Each public name's config key, by its key in PublicHosts (the backends' keys, and the CDN's).
HOST_KEYS = {"api": "apiHost", "argocd": "argocdHost", "grafana": "grafanaHost", "images": "imagesHost"}
NO_DOMAIN_WARNING = (
    "gitops-cluster:dnsZone/dnsDomain are not set: the APIs and the admin UIs are served over plain HTTP "
    "on the load balancer's DNS name, to adminCidrs only (apiUrl, argocdUrl, grafanaUrl). Set both for "
    "HTTPS on your domain (docs/reaching-the-apis.md)."
)


@dataclass(frozen=True)
class EdgeSettings:
    public_dns: PublicDns | None
    media: bool
    media_cors_origins: tuple[str, ...]
    media_delete_on_destroy: bool
    api_min_replicas: int
    api_max_replicas: int


def _name(c: Collector, t: Section, key: str) -> str | None:
    value = t[key]
    if t.ok(key) and value == "":
        return None
    text = value.rstrip(".") if t.ok(key) else ""
    if len(text) > 253 or "." not in text or not DNS_SUBDOMAIN.fullmatch(text):
        c.add(key, value, "a DNS name in lower case with at least one dot, e.g. 'example.com' (no scheme, no path).")
        return None
    return text


def parse_public_hosts(c: Collector, t: Section) -> PublicHosts:
    """The public names: each one DNS label; no two the same among those the stack creates (the
    CDN's only with `media`), since each is its own alias record and certificate name."""
    labels: dict[str, str] = {}
    for key, config_key in HOST_KEYS.items():
        value = t[config_key]
        if not t.ok(config_key) or len(value) > 63 or not DNS_LABEL.fullmatch(value):
            c.add(
                config_key,
                value,
                f"one DNS label: lower-case letters, digits and '-', at most 63 characters, no dot (the name "
                f"becomes <it>.<dnsDomain>), e.g. {key!r}.",
            )
            continue
        labels[key] = value
    used = [k for k in HOST_KEYS if k != "images" or t["media"] is True]
    first: dict[str, str] = {}
    for key in used:
        label = labels.get(key)
        if label is None:
            continue
        if label in first:
            c.add(
                HOST_KEYS[key],
                label,
                f"the same name as {HOST_KEYS[first[label]]}: each public name is its own record and certificate "
                "name; give it another label.",
            )
        else:
            first[label] = key
    return PublicHosts(**labels) if len(labels) == len(HOST_KEYS) else PublicHosts()


def parse_public_dns(c: Collector, t: Section, hosts: PublicHosts | None = None) -> PublicDns | None:
    hosts = hosts or PublicHosts()
    zone = _name(c, t, "dnsZone")
    domain = _name(c, t, "dnsDomain")
    given_zone, given_domain = t["dnsZone"] or "", t["dnsDomain"] or ""
    if bool(given_zone) != bool(given_domain):
        missing = "dnsDomain" if given_zone else "dnsZone"
        c.add(
            missing,
            "<unset>",
            "set dnsZone (the Route53 hosted zone) and dnsDomain (the zone or a name below it) together, "
            "or neither for the plain-HTTP, admin-only entry.",
        )
        return None
    if zone is None or domain is None:
        return None
    if domain != zone and not domain.endswith(f".{zone}"):
        c.add(
            "dnsDomain",
            t["dnsDomain"],
            f"outside the zone {zone!r}: the names and their certificate validation records are created in "
            f"that zone; use {zone!r} or a name ending in '.{zone}'.",
        )
        return None
    names = [f"{hosts.label(k)}.{domain}" for k in HOST_KEYS]
    too_long = [n for n in names if len(n) > 253]
    if too_long:
        c.add("dnsDomain", t["dnsDomain"], f"the names {too_long} exceed 253 characters; use a shorter domain.")
        return None
    return PublicDns(zone=zone, domain=domain, hosts=hosts)


def _origins(c: Collector, t: Section) -> tuple[str, ...]:
    value = t["mediaCorsOrigins"]
    if not t.ok("mediaCorsOrigins"):
        c.add("mediaCorsOrigins", value, "a list of front-end origins, e.g. ['https://app.example.com'].")
        return ()
    for origin in value:
        parts = urlsplit(origin)
        if origin == "*" or parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/"):
            c.add(
                "mediaCorsOrigins",
                origin,
                "an origin: scheme and host (and port), no path and no '*', e.g. 'https://app.example.com'.",
            )
    return tuple(o.rstrip("/") for o in value)


def _flag(c: Collector, t: Section, key: str) -> bool:
    if not t.ok(key):
        c.add(key, t[key], BOOLEAN_FIX)
        return False
    return bool(t[key])


def parse_edge(c: Collector, values: Mapping[str, Any], nodes: Sequence[NodeSpec], warnings: list[str]) -> EdgeSettings:
    t = section(EdgeKeys, values)
    dns = parse_public_dns(c, t, parse_public_hosts(c, t))
    if dns is None and not t["dnsZone"] and not t["dnsDomain"]:
        warnings.append(NO_DOMAIN_WARNING)
    key, label = GATEWAY_NODE_LABEL
    if nodes and not any(n.labels.get(key) == label for n in nodes):
        c.add(
            "nodes",
            "<no gateway node>",
            f"label at least one node `{key}: {label}` (two for a highly available entry): the Gateway's data "
            "plane runs there and the load balancer sends traffic to those nodes.",
        )
    low, high = t["apiMinReplicas"], t["apiMaxReplicas"]
    if not t.ok("apiMinReplicas") or low < 1:
        c.add("apiMinReplicas", low, "a whole number from 1: the fewest pods each domain API keeps.")
        low = 1
    if not t.ok("apiMaxReplicas") or not 1 <= high <= MAX_API_REPLICAS:
        c.add("apiMaxReplicas", high, f"a whole number from 1 to {MAX_API_REPLICAS}: the most pods per domain API.")
        high = low
    elif high < low:
        c.add("apiMaxReplicas", high, f"at least apiMinReplicas ({low}).")
    return EdgeSettings(
        public_dns=dns,
        media=_flag(c, t, "media"),
        media_cors_origins=_origins(c, t),
        media_delete_on_destroy=_flag(c, t, "mediaBucketDeleteOnDestroy"),
        api_min_replicas=int(low),
        api_max_replicas=int(high),
    )


def argocd_url_host(argocd_domain: str, dns: PublicDns | None) -> str:
    """argocdDomain as given, or argocd.<domain> when it is left at the port-forward default and a domain is set."""
    if dns is not None and argocd_domain == PORT_FORWARD_ARGOCD_DOMAIN:
        return dns.fqdn("argocd")
    return argocd_domain
