"""Checks of single values that several sections share, and the collector of problems.

`Collector` gathers every problem of a run (so one error lists them all) and reads CIDRs and CIDR
lists of text (the schema has checked the types); the rest are small predicates: EC2 instance
types and their architecture, https URLs, the fix for a value YAML typed as something other than
text, and the fixes of a value the schema refused.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlparse

from components.settings.messages import Problem

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# family+generation[attributes].size, e.g. t3.micro, m7i-flex.large, c6gn.16xlarge, m5.metal.
_INSTANCE_TYPE = re.compile(
    r"(?P<family>[a-z]+)(?P<gen>[0-9])(?P<attrs>[a-z0-9]*)(-flex)?\.(?P<size>nano|micro|small|medium|large|metal|[0-9]*xlarge)"
)
_CIDR_TEXT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}")
# The fixes of a value the schema refused as not text / not a list of text.
CIDR_FIX = "expected an IPv4 CIDR such as '10.0.0.0/16'."
CIDR_LIST_FIX = "expected a list of IPv4 CIDRs, e.g. ['203.0.113.0/24']."
BOOLEAN_FIX = "expected true or false."
# Families EC2 offers only for another operating system (macOS).
_NON_LINUX_FAMILIES = ("mac",)


class Collector:
    """Gathers problems so that one run reports all of them."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, key: str, value: object, fix: str, *, file: str | None = None) -> None:
        self.problems.append(Problem(key, value, fix, file))

    def cidr(self, key: str, value: str) -> ipaddress.IPv4Network | None:
        """One CIDR of text (the schema has checked the type; CIDR_FIX words its refusal)."""
        if not value:
            self.add(key, value, CIDR_FIX)
            return None
        if value != value.strip():
            self.add(key, value, f"remove the spaces around it: '{value.strip()}'.")
            return None
        if ":" in value:
            self.add(key, value, "IPv6 is not supported here; give an IPv4 CIDR.")
            return None
        if not _CIDR_TEXT.fullmatch(value):
            fix = "add the prefix length, e.g. '/32' for one address" if "/" not in value else "e.g. '10.0.0.0/16'"
            self.add(key, value, f"not a CIDR; expected an IPv4 network ({fix}).")
            return None
        try:
            net = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            self.add(key, value, "not a CIDR; expected an IPv4 network such as '10.0.0.0/16'.")
            return None
        if str(net) != value:
            if str(net.network_address) != value.split("/")[0]:
                self.add(key, value, f"host bits are set; use the network address '{net}'.")
            else:
                self.add(key, value, f"write it as '{net}'.")
            return None
        return net

    def cidr_list(
        self, key: str, value: list[str], *, required: bool, world_fix: str | None = None
    ) -> tuple[ipaddress.IPv4Network, ...]:
        """A list of CIDRs of text (the schema has checked the type; CIDR_LIST_FIX words its refusal)."""
        if required and not value:
            self.add(key, value, "must list at least one CIDR (your office or VPN egress range).")
            return ()
        nets: list[ipaddress.IPv4Network] = []
        seen: set[ipaddress.IPv4Network] = set()
        for i, item in enumerate(value):
            if world_fix is not None and item.strip() in ("0.0.0.0/0", "::/0"):
                self.add(f"{key}[{i}]", item, world_fix)
                continue
            net = self.cidr(f"{key}[{i}]", item)
            if net is None:
                continue
            if net in seen:  # a set: a list of 100,000 entries is checked in linear time
                self.add(f"{key}[{i}]", item, "listed twice (AWS refuses duplicates); remove one.")
                continue
            seen.add(net)
            nets.append(net)
        return tuple(nets)


def quote_fix(value: object) -> str:
    """The fix for a value YAML typed as something other than text (an unquoted 1.30 is the number 1.3)."""
    if isinstance(value, bool):
        return f"YAML read it as the boolean {str(value).lower()} (yes/no/on/off are booleans); quote it as text."
    if isinstance(value, float):
        return f"YAML read it as the number {value} (an unquoted 1.30 becomes 1.3); write it in quotes as text."
    if isinstance(value, int):
        return f"YAML read it as the number {value} (leading zeros and 0x/0o are dropped); write it in quotes as text."
    return "expected text in quotes."


def instance_arch(instance_type: str) -> str:
    """`arm64` for Graviton families (a1, and a `g` among the attributes: t4g, m7gd, c6gn), else `amd64`."""
    m = _INSTANCE_TYPE.fullmatch(instance_type)
    if m is None:
        return "amd64"
    return "arm64" if m["family"] == "a" or "g" in m["attrs"] else "amd64"


def instance_type_fix(example: str) -> str:
    return f"not an EC2 instance type; expected e.g. '{example}' or 'm7i.large'."


def check_instance_type(c: Collector, key: str, value: str, example: str) -> str | None:
    """An instance type of text (the schema has checked the type; instance_type_fix words its refusal)."""
    m = _INSTANCE_TYPE.fullmatch(value)
    if m is None:
        c.add(key, value, instance_type_fix(example))
        return None
    if m["family"] in _NON_LINUX_FAMILIES:
        c.add(key, value, f"EC2 runs only macOS on {m['family']} instances, not Ubuntu; use e.g. '{example}'.")
        return None
    return str(value)


def https_url_problem(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme != "https":
        return "must be an https:// URL (plain http lets anyone on the path swap the chart)."
    if not parsed.hostname or parsed.username or parsed.password:
        return "must be an https:// URL with a host and without credentials."
    if parsed.query or parsed.fragment or not value.isascii() or any(ch.isspace() for ch in value):
        return "must be a plain https:// URL (no query, fragment, spaces or non-ASCII characters)."
    if ".." in parsed.path.split("/"):
        return "the path must not contain '..'."
    return None
