"""A battery of bad and good stack configs, each run through the real program under the mock runtime.

Every bad config must be refused with a ConfigError before anything is registered (the AWS
provider included; `config_error` in tests/conftest.py checks that), and the message must name
the key as the user types it (`aws:region`, `gitops-cluster:nodes[api-auth].count`,
`versions.yaml: kubernetes`). Every good config must be accepted. The cases think like an attacker
of the validator: types (bool for int, strings for lists, nested nulls), whitespace, case,
unicode, huge values, YAML quirks, duplicates, pools colliding with names, CIDR edge cases,
regions, names, SSH keys, URLs with credentials and paths with `..`.
"""

from __future__ import annotations

import copy
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import components.settings.keys as config_module
from components.settings.messages import MAX_LISTED_PROBLEMS
from tests.support.paths import ROOT
from tests.support.prereqs import require_tool

DEV = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))["config"]
DEV_NODES: list[dict[str, Any]] = DEV["gitops-cluster:nodes"]
REPO = "https://github.com/acme-platform/gitops-cluster.git"
# Whole base64, but not an openssh-key-v1 structure.
NOT_OPENSSH_DATA = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n"
ARM_AMI = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20251015"


def nodes(change: Callable[[list[dict[str, Any]]], object]) -> list[dict[str, Any]]:
    table = copy.deepcopy(DEV_NODES)
    change(table)
    return table


def row(index: int, **changes: Any) -> list[dict[str, Any]]:
    def apply(table: list[dict[str, Any]]) -> None:
        for k, v in changes.items():
            table[index][k] = v

    return nodes(apply)


def label(index: int, key: str, value: Any) -> list[dict[str, Any]]:
    return nodes(lambda t: t[index].setdefault("labels", {}).__setitem__(key, value))


def taint(index: int, **changes: Any) -> list[dict[str, Any]]:
    return nodes(lambda t: t[index]["taints"][0].update(changes))


def pool(name: str, count: Any, role: str = "worker", itype: str = "t3.small") -> dict[str, Any]:
    return {"name": name, "role": role, "instanceType": itype, "rootVolumeGb": 40, "count": count}


@dataclass
class Keys:
    """SSH keys made for this run (never committed): two ED25519 pairs, a passphrase one, weak/strong RSA."""

    a_pub: str
    a_priv: str
    b_priv: str
    c_priv: str
    rsa1024_pub: str
    rsa3072_pub: str
    rsa3072_priv: str
    rsa_pem_priv: str


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    keygen = require_tool("ssh-keygen", "apt-get install openssh-client")
    d: Path = tmp_path_factory.mktemp("battery-keys")

    def make(name: str, *args: str) -> tuple[str, str]:
        subprocess.run([keygen, "-q", *args, "-C", f"battery-{name}", "-f", str(d / name)], check=True)
        return (d / f"{name}.pub").read_text().strip(), (d / name).read_text()

    a_pub, a_priv = make("a", "-t", "ed25519", "-N", "")
    _, b_priv = make("b", "-t", "ed25519", "-N", "")
    _, c_priv = make("c", "-t", "ed25519", "-N", "battery-passphrase")
    rsa1024_pub, _ = make("r1", "-t", "rsa", "-b", "1024", "-N", "")
    rsa3072_pub, rsa3072_priv = make("r3", "-t", "rsa", "-b", "3072", "-N", "")
    _, pem = make("pem", "-t", "rsa", "-b", "2048", "-N", "", "-m", "PEM")
    return Keys(a_pub, a_priv, b_priv, c_priv, rsa1024_pub, rsa3072_pub, rsa3072_priv, pem)


@dataclass
class Bad:
    overrides: dict[str, Any] | Callable[[Keys], dict[str, Any]]
    key: str  # as the user types it; the message must contain it
    secrets: Callable[[Keys], dict[str, str]] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    hidden: Callable[[Keys], list[str]] | None = None  # text that must never be printed
    fix: str = ""  # where the reason matters, a part of the fix the message must give


N = "gitops-cluster:nodes"
V = "gitops-cluster:versions"
PUBLIC_DNS = {"dnsZone": "example.com", "dnsDomain": "dev.example.com"}
PEOPLE_SSO = {
    "apiServerOidcIssuerUrl": "https://sso.example.com",
    "apiServerOidcClientId": "kubectl",
    "apiServerOidcAdminGroups": ["platform-admins"],
}

BAD: dict[str, Bad] = {
    # Unknown keys and namespaces.
    "unknown-natGatewayPerAZ": Bad(
        {"natGatewayPerAZ": True}, "gitops-cluster:natGatewayPerAZ", fix="did you mean 'natGatewayPerAz'?"
    ),
    "unknown-gitopsRevison": Bad(
        {"gitopsRevison": "v0.2.0"}, "gitops-cluster:gitopsRevison", fix="did you mean 'gitopsRevision'?"
    ),
    "unknown-case-clustername": Bad({"clustername": "gitops-dev"}, "gitops-cluster:clustername"),
    "unknown-adminCidr": Bad({"adminCidr": ["203.0.113.0/24"]}, "gitops-cluster:adminCidr"),
    "unknown-far-key": Bad({"enableMagic": True}, "gitops-cluster:enableMagic"),
    "unknown-node-singular": Bad({"node": DEV_NODES}, "gitops-cluster:node"),
    "unknown-secret-typo": Bad({"sshPrivatekey": "x"}, "gitops-cluster:sshPrivatekey"),
    "namespace-typo": Bad({"gitops_cluster:clusterName": "x"}, "gitops_cluster:clusterName"),
    "aws-profile-ignored": Bad({"aws:profile": "prod"}, "aws:profile"),
    "aws-region-typo": Bad({"aws:regoin": "ap-northeast-2"}, "aws:regoin"),
    # CI's GitHub issuer.
    "ci-repository-url": Bad(
        {"ciGithubRepository": "https://github.com/example-org/gitops-cluster.git"},
        "gitops-cluster:ciGithubRepository",
        fix="as owner/name",
    ),
    "ci-repository-no-owner": Bad({"ciGithubRepository": "gitops-cluster"}, "gitops-cluster:ciGithubRepository"),
    # People's SSO at the API server.
    "oidc-issuer-http": Bad(
        {**PEOPLE_SSO, "apiServerOidcIssuerUrl": "http://sso.example.com"},
        "gitops-cluster:apiServerOidcIssuerUrl",
        fix="https://",
    ),
    "oidc-issuer-fragment": Bad(
        {**PEOPLE_SSO, "apiServerOidcIssuerUrl": "https://sso.example.com/#x"},
        "gitops-cluster:apiServerOidcIssuerUrl",
        fix="fragment",
    ),
    "oidc-issuer-is-github": Bad(
        {**PEOPLE_SSO, "apiServerOidcIssuerUrl": "https://token.actions.githubusercontent.com"},
        "gitops-cluster:apiServerOidcIssuerUrl",
        fix="one authenticator per issuer",
    ),
    "oidc-groups-without-issuer": Bad(
        {"apiServerOidcViewGroups": ["auditors"]}, "gitops-cluster:apiServerOidcIssuerUrl"
    ),
    "oidc-without-groups": Bad(
        {**PEOPLE_SSO, "apiServerOidcAdminGroups": []}, "gitops-cluster:apiServerOidcAdminGroups", fix="at least one"
    ),
    "oidc-group-in-two-roles": Bad(
        {**PEOPLE_SSO, "apiServerOidcViewGroups": ["platform-admins"]},
        "gitops-cluster:apiServerOidcViewGroups",
        fix="one role",
    ),
    "oidc-groups-not-a-list": Bad(
        {**PEOPLE_SSO, "apiServerOidcEditGroups": "developers"}, "gitops-cluster:apiServerOidcEditGroups"
    ),
    "oidc-claim-quote": Bad(
        {**PEOPLE_SSO, "apiServerOidcGroupsClaim": 'groups"'}, "gitops-cluster:apiServerOidcGroupsClaim"
    ),
    # Region and zones.
    "region-missing": Bad({"aws:region": None}, "aws:region"),
    "region-unknown": Bad({"aws:region": "ap-northeast-9"}, "aws:region"),
    "region-upper": Bad({"aws:region": "AP-NORTHEAST-2"}, "aws:region"),
    "region-space": Bad({"aws:region": "ap-northeast-2 "}, "aws:region"),
    "region-newline": Bad({"aws:region": "ap-northeast-2\n"}, "aws:region"),
    "region-is-a-zone": Bad({"aws:region": "ap-northeast-2a"}, "aws:region"),
    "region-empty": Bad({"aws:region": ""}, "aws:region"),
    "region-fullwidth-digit": Bad({"aws:region": "ap-northeast-\uff12"}, "aws:region"),
    "azcount-over-region": Bad(
        {"azCount": 5}, "gitops-cluster:azCount", fix="ap-northeast-2 has at most 4 availability zones"
    ),
    "azcount-over-us-west-1": Bad({"aws:region": "us-west-1", "azCount": 4}, "gitops-cluster:azCount"),
    # Cluster name.
    "name-case": Bad({"clusterName": "Gitops_Dev"}, "gitops-cluster:clusterName"),
    "name-empty": Bad({"clusterName": ""}, "gitops-cluster:clusterName"),
    "name-long": Bad({"clusterName": "a" * 21}, "gitops-cluster:clusterName"),
    "name-leading-dash": Bad({"clusterName": "-gitops"}, "gitops-cluster:clusterName"),
    "name-trailing-dash": Bad({"clusterName": "gitops-"}, "gitops-cluster:clusterName"),
    "name-space": Bad({"clusterName": "gitops dev"}, "gitops-cluster:clusterName"),
    "name-newline": Bad({"clusterName": "gitops-dev\n"}, "gitops-cluster:clusterName"),
    "name-unicode": Bad({"clusterName": "g\u00edtops"}, "gitops-cluster:clusterName"),
    "name-huge": Bad({"clusterName": "x" * 100_000}, "gitops-cluster:clusterName"),
    # VPC.
    "vpc-short": Bad({"vpcCidr": "10.0.0/16"}, "gitops-cluster:vpcCidr"),
    "vpc-host-bits": Bad({"vpcCidr": "10.0.0.1/16"}, "gitops-cluster:vpcCidr"),
    "vpc-too-small": Bad({"vpcCidr": "10.0.0.0/26"}, "gitops-cluster:vpcCidr"),
    "vpc-too-big": Bad({"vpcCidr": "10.0.0.0/8"}, "gitops-cluster:vpcCidr"),
    "vpc-ipv6": Bad({"vpcCidr": "fd00::/48"}, "gitops-cluster:vpcCidr"),
    "vpc-space": Bad({"vpcCidr": " 10.0.0.0/16"}, "gitops-cluster:vpcCidr"),
    "vpc-public": Bad({"vpcCidr": "8.8.0.0/16"}, "gitops-cluster:vpcCidr"),
    "vpc-no-prefix": Bad({"vpcCidr": "10.0.0.0"}, "gitops-cluster:vpcCidr"),
    "vpc-octet-256": Bad({"vpcCidr": "256.0.0.0/16"}, "gitops-cluster:vpcCidr"),
    "vpc-list": Bad({"vpcCidr": ["10.0.0.0/16"]}, "gitops-cluster:vpcCidr"),
    "vpc-padded-prefix": Bad({"vpcCidr": "10.0.0.0/016"}, "gitops-cluster:vpcCidr"),
    # AZ count.
    "az-one": Bad({"azCount": 1}, "gitops-cluster:azCount"),
    "az-zero": Bad({"azCount": 0}, "gitops-cluster:azCount"),
    "az-negative": Bad({"azCount": -3}, "gitops-cluster:azCount"),
    "az-seven": Bad({"azCount": 7}, "gitops-cluster:azCount"),
    "az-bool": Bad({"azCount": True}, "gitops-cluster:azCount"),
    "az-word": Bad({"azCount": "three"}, "gitops-cluster:azCount"),
    "az-float-text": Bad({"azCount": "3.0"}, "gitops-cluster:azCount"),
    "az-float": Bad({"azCount": 2.5}, "gitops-cluster:azCount"),
    "az-exponent": Bad({"azCount": "1e3"}, "gitops-cluster:azCount"),
    "az-space": Bad({"azCount": " 3"}, "gitops-cluster:azCount"),
    # Subnets.
    "subnets-count": Bad({"publicSubnetCidrs": ["10.0.0.0/24"]}, "gitops-cluster:publicSubnetCidrs"),
    "subnets-outside": Bad(
        {"publicSubnetCidrs": ["10.1.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]}, "gitops-cluster:publicSubnetCidrs"
    ),
    "subnets-overlap": Bad(
        {"privateSubnetCidrs": ["10.0.16.0/20", "10.0.16.0/21", "10.0.48.0/20"]}, "gitops-cluster:privateSubnetCidrs"
    ),
    "subnets-too-small": Bad(
        {"publicSubnetCidrs": ["10.0.0.0/29", "10.0.1.0/24", "10.0.2.0/24"]}, "gitops-cluster:publicSubnetCidrs"
    ),
    "subnets-string": Bad({"publicSubnetCidrs": "10.0.0.0/24"}, "gitops-cluster:publicSubnetCidrs"),
    "subnets-null-item": Bad({"publicSubnetCidrs": [None, None, None]}, "gitops-cluster:publicSubnetCidrs"),
    "subnets-public-private-overlap": Bad(
        {
            "publicSubnetCidrs": ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"],
            "privateSubnetCidrs": ["10.0.0.0/20", "10.0.32.0/20", "10.0.48.0/20"],
        },
        "gitops-cluster:privateSubnetCidrs",
    ),
    # Admin and API access.
    "admin-world": Bad({"adminCidrs": ["0.0.0.0/0"]}, "gitops-cluster:adminCidrs[0]"),
    "admin-world-v6": Bad({"adminCidrs": ["::/0"]}, "gitops-cluster:adminCidrs[0]"),
    "admin-empty": Bad({"adminCidrs": []}, "gitops-cluster:adminCidrs"),
    "admin-world-split": Bad(
        {"adminCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "gitops-cluster:adminCidrs", fix="cover the whole IPv4 internet"
    ),
    "api-world-split": Bad({"apiCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "gitops-cluster:apiCidrs"),
    "api-world-split-with-override": Bad(
        {"apiCidrs": ["0.0.0.0/1", "128.0.0.0/1"], "allowBroadAccessCidrs": True}, "gitops-cluster:apiCidrs"
    ),
    "admin-world-quarters": Bad(
        {"adminCidrs": ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"]}, "gitops-cluster:adminCidrs"
    ),
    "admin-half-with-override": Bad(
        {"adminCidrs": ["128.0.0.0/1"], "allowBroadAccessCidrs": True}, "gitops-cluster:adminCidrs"
    ),
    "admin-public-slash8": Bad({"adminCidrs": ["1.0.0.0/8"]}, "gitops-cluster:adminCidrs"),
    "admin-private-slash7": Bad({"adminCidrs": ["10.0.0.0/7"]}, "gitops-cluster:adminCidrs"),
    "admin-union-over-slash8": Bad({"adminCidrs": ["10.0.0.0/8", "172.16.0.0/12"]}, "gitops-cluster:adminCidrs"),
    "api-public-slash15": Bad({"apiCidrs": ["8.8.0.0/15"]}, "gitops-cluster:apiCidrs"),
    "api-public-many-slash16": Bad(
        {"apiCidrs": ["8.8.0.0/16", "9.9.0.0/16", "11.11.0.0/16"]}, "gitops-cluster:apiCidrs"
    ),
    "admin-loopback": Bad({"adminCidrs": ["127.0.0.1/32"]}, "gitops-cluster:adminCidrs"),
    "admin-link-local": Bad({"adminCidrs": ["169.254.169.254/32"]}, "gitops-cluster:adminCidrs"),
    "admin-multicast": Bad({"adminCidrs": ["224.0.0.0/4"]}, "gitops-cluster:adminCidrs"),
    "admin-this-network": Bad({"adminCidrs": ["0.0.0.0/8"]}, "gitops-cluster:adminCidrs"),
    "admin-duplicate": Bad({"adminCidrs": ["203.0.113.0/24", "203.0.113.0/24"]}, "gitops-cluster:adminCidrs[1]"),
    "admin-string": Bad({"adminCidrs": "203.0.113.0/24"}, "gitops-cluster:adminCidrs"),
    "admin-host-bits": Bad({"adminCidrs": ["203.0.113.1/24"]}, "gitops-cluster:adminCidrs[0]"),
    "admin-null-item": Bad({"adminCidrs": ["203.0.113.0/24", None]}, "gitops-cluster:adminCidrs"),
    "admin-ipv6": Bad({"adminCidrs": ["2001:db8::/32"]}, "gitops-cluster:adminCidrs[0]"),
    "admin-too-many": Bad({"adminCidrs": [f"203.0.113.{i}/32" for i in range(51)]}, "gitops-cluster:adminCidrs"),
    "admin-space": Bad({"adminCidrs": ["203.0.113.0/24 "]}, "gitops-cluster:adminCidrs[0]"),
    "admin-zero-padded-world": Bad({"adminCidrs": ["0.0.0.0/00"]}, "gitops-cluster:adminCidrs[0]"),
    "api-missing": Bad({"apiCidrs": None}, "gitops-cluster:apiCidrs"),
    "override-not-bool": Bad({"allowBroadAccessCidrs": "yes"}, "gitops-cluster:allowBroadAccessCidrs"),
    # Huge inputs are refused in linear time, with a message of bounded length.
    "admin-huge-list": Bad(
        {"adminCidrs": [f"11.{i // 256}.{i % 256}.0/32" for i in range(20_000)]}, "gitops-cluster:adminCidrs"
    ),
    "admin-huge-duplicates": Bad({"adminCidrs": ["203.0.113.0/24"] * 20_000}, "gitops-cluster:adminCidrs[1]"),
    "subnets-huge-list": Bad(
        {"publicSubnetCidrs": [f"10.0.{i % 256}.0/24" for i in range(20_000)]}, "gitops-cluster:publicSubnetCidrs[256]"
    ),
    "taints-huge-duplicates": Bad(
        {"nodes": nodes(lambda t: t[-1]["taints"].extend([dict(t[-1]["taints"][0])] * 20_000))},
        f"{N}[monitoring].taints[1]",
    ),
    "unknown-huge-key-name": Bad({"k" * 100_000: 1}, f"gitops-cluster:{'k' * 80}...(100000 characters)"),
    "row-huge-unknown-keys": Bad({"nodes": row(1, **{f"extra{i}": i for i in range(10_000)})}, f"{N}[1]"),
    # Pod and service networks.
    "pod-overlaps-vpc": Bad({"podCidr": "10.0.128.0/17"}, "gitops-cluster:podCidr"),
    "service-overlaps-pod": Bad({"serviceCidr": "192.168.0.0/20"}, "gitops-cluster:serviceCidr"),
    "service-too-big": Bad({"serviceCidr": "100.64.0.0/10"}, "gitops-cluster:serviceCidr"),
    "service-too-small": Bad({"serviceCidr": "10.96.0.0/29"}, "gitops-cluster:serviceCidr"),
    "pod-public": Bad({"podCidr": "8.0.0.0/8"}, "gitops-cluster:podCidr"),
    # Shared address space (100.64.0.0/10): the policies and security groups name RFC 1918 only.
    "pod-shared-address-space": Bad(
        {"podCidr": "100.64.0.0/16"}, "gitops-cluster:podCidr", fix="cut off from the API server and the webhooks"
    ),
    "vpc-shared-address-space": Bad({"vpcCidr": "100.96.0.0/16"}, "gitops-cluster:vpcCidr", fix="10.0.0.0/8"),
    "pod-too-small": Bad({"podCidr": "192.168.0.0/24"}, "gitops-cluster:podCidr"),
    "pod-ipv6": Bad({"podCidr": "fd00:10::/64"}, "gitops-cluster:podCidr"),
    # NAT flag.
    "nat-yes": Bad({"natGatewayPerAz": "yes"}, "gitops-cluster:natGatewayPerAz"),
    "nat-title-case": Bad({"natGatewayPerAz": "True"}, "gitops-cluster:natGatewayPerAz"),
    "nat-one": Bad({"natGatewayPerAz": 1}, "gitops-cluster:natGatewayPerAz"),
    "nat-on": Bad({"natGatewayPerAz": "on"}, "gitops-cluster:natGatewayPerAz"),
    "snapshots-yes": Bad(
        {"postgresqlVolumeSnapshots": "yes"}, "gitops-cluster:postgresqlVolumeSnapshots", fix="expected true or false."
    ),
    # Bastion.
    "bastion-no-dot": Bad({"bastionInstanceType": "t3micro"}, "gitops-cluster:bastionInstanceType"),
    "bastion-upper": Bad({"bastionInstanceType": "T3.MICRO"}, "gitops-cluster:bastionInstanceType"),
    "bastion-space": Bad({"bastionInstanceType": "t3.micro "}, "gitops-cluster:bastionInstanceType"),
    "bastion-arm-on-amd64-ami": Bad({"bastionInstanceType": "t4g.micro"}, "gitops-cluster:bastionInstanceType"),
    # The node table.
    "nodes-no-control-plane": Bad({"nodes": nodes(lambda t: t.pop(0))}, N),
    "nodes-two-control-planes": Bad({"nodes": nodes(lambda t: t.insert(1, {**t[0], "name": "master-2"}))}, N),
    "nodes-five-control-planes": Bad({"nodes": row(0, count=5)}, N),
    "count-zero": Bad({"nodes": row(1, count=0)}, f"{N}[api-auth].count"),
    "count-negative": Bad({"nodes": row(1, count=-1)}, f"{N}[api-auth].count"),
    "count-bool": Bad({"nodes": row(1, count=True)}, f"{N}[api-auth].count"),
    "count-text": Bad({"nodes": row(1, count="3")}, f"{N}[api-auth].count"),
    "count-huge": Bad({"nodes": row(1, count=10**12)}, f"{N}[api-auth].count", fix="at most 500 nodes"),
    "count-float": Bad({"nodes": row(1, count=1.5)}, f"{N}[api-auth].count"),
    "names-duplicate": Bad({"nodes": row(2, name="api-auth")}, f"{N}[api-auth].name"),
    "pool-collides-with-name": Bad(
        {"nodes": nodes(lambda t: t.extend([pool("api", 2), {**t[1], "name": "api-1"}]))}, f"{N}[api-1].name"
    ),
    "pools-collide": Bad({"nodes": nodes(lambda t: t.extend([pool("w", 2), pool("w", 3)]))}, f"{N}[w-1].name"),
    "name-upper": Bad({"nodes": row(1, name="API-auth")}, f"{N}[1].name"),
    "name-too-long": Bad({"nodes": row(1, name="a" * 41)}, f"{N}[1].name"),
    "name-node-newline": Bad({"nodes": row(1, name="api-auth\n")}, f"{N}[1].name"),
    "name-null": Bad({"nodes": row(1, name=None)}, f"{N}[1].name"),
    "name-number": Bad({"nodes": row(1, name=7)}, f"{N}[1].name"),
    "role-unknown": Bad({"nodes": row(1, role="database")}, f"{N}[api-auth].role"),
    "role-case": Bad({"nodes": row(1, role="Control-Plane")}, f"{N}[api-auth].role"),
    "role-null": Bad({"nodes": row(1, role=None)}, f"{N}[api-auth].role"),
    "role-list": Bad({"nodes": row(1, role=["api"])}, f"{N}[api-auth].role"),
    "itype-size": Bad({"nodes": row(1, instanceType="t3.huge")}, f"{N}[api-auth].instanceType"),
    "itype-bare": Bad({"nodes": row(1, instanceType="micro")}, f"{N}[api-auth].instanceType"),
    "itype-control-plane-too-small": Bad({"nodes": row(0, instanceType="t3.micro")}, f"{N}[master].instanceType"),
    "itype-arm-on-amd64-ami": Bad(
        {"nodes": row(1, instanceType="t4g.small")},
        f"{N}[api-auth].instanceType",
        fix="but the AMI (versions.ubuntuAmiName) is amd64",
    ),
    "disk-small": Bad({"nodes": row(1, rootVolumeGb=4)}, f"{N}[api-auth].rootVolumeGb"),
    "disk-text": Bad({"nodes": row(1, rootVolumeGb="80")}, f"{N}[api-auth].rootVolumeGb"),
    "disk-float": Bad({"nodes": row(1, rootVolumeGb=80.5)}, f"{N}[api-auth].rootVolumeGb"),
    "disk-bool": Bad({"nodes": row(1, rootVolumeGb=True)}, f"{N}[api-auth].rootVolumeGb"),
    "disk-huge": Bad({"nodes": row(1, rootVolumeGb=20000)}, f"{N}[api-auth].rootVolumeGb"),
    "label-key-chars": Bad({"nodes": label(1, "bad key!", "x")}, f"{N}[api-auth].labels"),
    "label-value-dash": Bad({"nodes": label(1, "domain", "-auth")}, f"{N}[api-auth].labels.domain"),
    "label-prefix-upper": Bad({"nodes": label(1, "Example.COM/x", "y")}, f"{N}[api-auth].labels"),
    "label-value-bool": Bad(
        {"nodes": label(1, "enabled", True)}, f"{N}[api-auth].labels.enabled", fix="YAML read it as the boolean true"
    ),
    "label-value-float": Bad(
        {"nodes": label(1, "tier", 1.5)}, f"{N}[api-auth].labels.tier", fix="YAML read it as the number 1.5"
    ),
    "label-value-null": Bad({"nodes": label(1, "tier", None)}, f"{N}[api-auth].labels.tier"),
    "label-reserved-hostname": Bad(
        {"nodes": label(1, "kubernetes.io/hostname", "x")}, f"{N}[api-auth].labels.kubernetes.io/hostname"
    ),
    "label-reserved-zone": Bad(
        {"nodes": label(1, "topology.kubernetes.io/zone", "a")}, f"{N}[api-auth].labels.topology.kubernetes.io/zone"
    ),
    "label-empty-prefix": Bad({"nodes": label(1, "/tier", "x")}, f"{N}[api-auth].labels"),
    "label-key-empty": Bad({"nodes": label(1, "", "x")}, f"{N}[api-auth].labels"),
    "label-reserved-control-plane": Bad(
        {"nodes": label(1, "node-role.kubernetes.io/control-plane", "")},
        f"{N}[api-auth].labels.node-role.kubernetes.io/control-plane",
    ),
    "taint-reserved-by-kubernetes": Bad(
        {"nodes": taint(-1, key="node.kubernetes.io/unschedulable")}, f"{N}[monitoring].taints[0].key"
    ),
    "itype-macos-only": Bad({"nodes": row(1, instanceType="mac2.metal")}, f"{N}[api-auth].instanceType"),
    "every-node-tainted": Bad(
        {
            "nodes": nodes(
                lambda t: [
                    r.__setitem__("taints", [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]) for r in t[1:]
                ]
            )
        },
        N,
        fix="every node is tainted",
    ),
    "private-subnets-too-small-for-the-table": Bad(
        {
            "privateSubnetCidrs": ["10.0.16.0/28", "10.0.32.0/28", "10.0.48.0/28"],
            "nodes": nodes(lambda t: t.append(pool("batch", 40))),
        },
        "gitops-cluster:privateSubnetCidrs",
    ),
    "labels-list": Bad({"nodes": row(1, labels=["a"])}, f"{N}[api-auth].labels"),
    "labels-string": Bad({"nodes": row(1, labels="")}, f"{N}[api-auth].labels"),
    "label-value-too-long": Bad({"nodes": label(1, "domain", "a" * 64)}, f"{N}[api-auth].labels.domain"),
    "taint-effect-typo": Bad({"nodes": taint(-1, effect="NoScheduel")}, f"{N}[monitoring].taints[0].effect"),
    "taint-key-space": Bad({"nodes": taint(-1, key="bad key")}, f"{N}[monitoring].taints[0].key"),
    "taint-value-bool": Bad(
        {"nodes": taint(-1, value=True)}, f"{N}[monitoring].taints[0].value", fix="YAML read it as the boolean"
    ),
    "taint-duplicate": Bad(
        {"nodes": nodes(lambda t: t[-1]["taints"].append(dict(t[-1]["taints"][0])))}, f"{N}[monitoring].taints[1]"
    ),
    "taints-mapping": Bad({"nodes": row(-1, taints={"key": "a", "effect": "NoSchedule"})}, f"{N}[monitoring].taints"),
    "taint-no-effect": Bad({"nodes": row(-1, taints=[{"key": "a", "value": "b"}])}, f"{N}[monitoring].taints[0]"),
    "row-unknown-key": Bad({"nodes": row(1, instancetype="t3.micro")}, f"{N}[1]"),
    "nodes-string": Bad({"nodes": "master,api-auth"}, N),
    "nodes-empty": Bad({"nodes": []}, N),
    "nodes-missing": Bad({"nodes": None}, N),
    "nodes-row-string": Bad({"nodes": ["master"]}, f"{N}[0]"),
    "nodes-over-limit": Bad({"nodes": nodes(lambda t: t.extend([pool("wa", 300), pool("wb", 201)]))}, N),
    # Versions: stack overrides.
    "version-yaml-float": Bad(
        {"versions": {"kubernetes": 1.30}}, f"{V}.kubernetes", fix="YAML read it as the number 1.3"
    ),
    "version-null": Bad({"versions": {"kubernetes": None}}, f"{V}.kubernetes", fix="null; pin an exact version"),
    "version-int": Bad({"versions": {"kubernetes": 131}}, f"{V}.kubernetes", fix="YAML read it as the number 131"),
    "version-bool": Bad({"versions": {"kubernetes": True}}, f"{V}.kubernetes", fix="YAML read it as the boolean true"),
    "version-latest": Bad({"versions": {"kubernetes": "latest"}}, f"{V}.kubernetes"),
    "version-no-patch": Bad({"versions": {"kubernetes": "1.31"}}, f"{V}.kubernetes"),
    "version-v-prefix": Bad({"versions": {"kubernetes": "v1.31.4"}}, f"{V}.kubernetes"),
    "version-x-range": Bad({"versions": {"kubernetes": "1.31.x"}}, f"{V}.kubernetes"),
    "version-tilde": Bad({"versions": {"kubernetes": "~1.31"}}, f"{V}.kubernetes"),
    "version-space": Bad({"versions": {"kubernetes": " 1.31.4"}}, f"{V}.kubernetes"),
    "version-empty": Bad({"versions": {"kubernetes": ""}}, f"{V}.kubernetes"),
    "ami-wildcard": Bad(
        {"versions": {"ubuntuAmiName": "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"}},
        f"{V}.ubuntuAmiName",
        fix="a wildcard; name one exact AMI build",
    ),
    "ami-question-mark": Bad(
        {"versions": {"ubuntuAmiName": "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-2025101?"}},
        f"{V}.ubuntuAmiName",
    ),
    "ami-not-canonical": Bad({"versions": {"ubuntuAmiName": "my-golden-image"}}, f"{V}.ubuntuAmiName"),
    "chart-repo-http": Bad(
        {"versions": {"argoCdChartRepo": "http://argoproj.github.io/argo-helm"}},
        f"{V}.argoCdChartRepo",
        fix="must be an https:// URL",
    ),
    "chart-repo-credentials": Bad(
        {"versions": {"argoCdChartRepo": "https://bot:s3cr3t-token@charts.example.net/argo"}},
        f"{V}.argoCdChartRepo",
        hidden=lambda k: ["s3cr3t-token"],
    ),
    "chart-repo-oci": Bad(
        {"versions": {"argoCdChartRepo": "oci://ghcr.io/argoproj/argo-helm"}}, f"{V}.argoCdChartRepo"
    ),
    "chart-version-x": Bad({"versions": {"argoCdChart": "7.x"}}, f"{V}.argoCdChart"),
    "chart-version-caret": Bad({"versions": {"argoCdChart": "^7.7.14"}}, f"{V}.argoCdChart"),
    "chart-version-float": Bad(
        {"versions": {"argoCdChart": 7.7}}, f"{V}.argoCdChart", fix="YAML read it as the number 7.7"
    ),
    "image-latest": Bad({"versions": {"redisImage": "docker.io/library/redis:latest"}}, f"{V}.redisImage"),
    "image-no-tag": Bad({"versions": {"redisImage": "redis"}}, f"{V}.redisImage"),
    "version-unknown-key": Bad({"versions": {"kubernetess": "1.31.4"}}, f"{V}.kubernetess"),
    "versions-list": Bad({"versions": ["kubernetes"]}, V),
    "calico-no-v": Bad({"versions": {"calico": "3.29.1"}}, f"{V}.calico"),
    # GitOps source.
    "repo-ssh": Bad({"gitopsRepoUrl": "git@github.com:acme/gitops-cluster.git"}, "gitops-cluster:gitopsRepoUrl"),
    "repo-http": Bad({"gitopsRepoUrl": "http://github.com/acme/gitops-cluster.git"}, "gitops-cluster:gitopsRepoUrl"),
    "repo-empty": Bad({"gitopsRepoUrl": ""}, "gitops-cluster:gitopsRepoUrl"),
    "repo-credentials": Bad(
        {"gitopsRepoUrl": "https://x-access-token:ghp_battery0secret@github.com/acme/gitops-cluster.git"},
        "gitops-cluster:gitopsRepoUrl",
        hidden=lambda k: ["ghp_battery0secret"],
    ),
    "repo-placeholder-on-up": Bad(
        {}, "gitops-cluster:gitopsRepoUrl", fix="set gitopsRepoUrl to your fork", kwargs={"preview": False}
    ),
    # The documentation ranges (the committed dev stack's) on `pulumi up`: nobody could connect.
    "admin-test-net-on-up": Bad(
        {"gitopsRepoUrl": "https://github.com/acme/gitops-cluster.git", "adminCidrs": ["203.0.113.0/24"]},
        "gitops-cluster:adminCidrs[0]",
        fix="curl -s https://checkip.amazonaws.com",
        kwargs={"preview": False},
    ),
    "api-test-net-2-on-up": Bad(
        {"gitopsRepoUrl": "https://github.com/acme/gitops-cluster.git", "apiCidrs": ["10.0.0.0/8", "198.51.100.7/32"]},
        "gitops-cluster:apiCidrs[1]",
        fix="nobody could reach the Kubernetes API",
        kwargs={"preview": False},
    ),
    "admin-test-net-1-on-up": Bad(
        {"gitopsRepoUrl": "https://github.com/acme/gitops-cluster.git", "adminCidrs": ["192.0.2.128/25"]},
        "gitops-cluster:adminCidrs[0]",
        fix="RFC 5737",
        kwargs={"preview": False},
    ),
    "revision-branch": Bad({"gitopsMode": "pin", "gitopsRevision": "main"}, "gitops-cluster:gitopsRevision"),
    "revision-branch-in-production": Bad(
        {"environment": "production", "gitopsRevision": "main"}, "gitops-cluster:gitopsMode"
    ),
    "revision-head": Bad({"gitopsRevision": "HEAD"}, "gitops-cluster:gitopsRevision"),
    "revision-newline": Bad({"gitopsRevision": "v0.1.0\n"}, "gitops-cluster:gitopsRevision"),
    "revision-float": Bad({"gitopsMode": "pin", "gitopsRevision": 1.0}, "gitops-cluster:gitopsRevision"),
    "path-dotdot": Bad({"gitopsPath": "../etc"}, "gitops-cluster:gitopsPath"),
    "path-absolute": Bad({"gitopsPath": "/manifests"}, "gitops-cluster:gitopsPath"),
    "path-dot": Bad({"gitopsPath": "./manifests/argocd/apps"}, "gitops-cluster:gitopsPath"),
    "path-double-slash": Bad({"gitopsPath": "manifests//apps"}, "gitops-cluster:gitopsPath"),
    "path-backslash": Bad({"gitopsPath": "manifests\\..\\secrets"}, "gitops-cluster:gitopsPath"),
    "path-space": Bad({"gitopsPath": "manifests/argocd apps"}, "gitops-cluster:gitopsPath"),
    "repo-dotdot": Bad({"gitopsRepoUrl": "https://github.com/acme/../evil/gitops.git"}, "gitops-cluster:gitopsRepoUrl"),
    "repo-query": Bad({"gitopsRepoUrl": "https://github.com/acme/gitops.git?ref=main"}, "gitops-cluster:gitopsRepoUrl"),
    "repo-no-host": Bad({"gitopsRepoUrl": "https:///acme/gitops.git"}, "gitops-cluster:gitopsRepoUrl"),
    # The retired SSH key settings (each run pushes its own key): refused, with `pulumi config rm`.
    "ssh-public-retired": Bad(
        lambda k: {"sshPublicKey": k.a_pub}, "gitops-cluster:sshPublicKey", fix="pulumi config rm sshPublicKey"
    ),
    "ssh-private-retired": Bad(
        {},
        "gitops-cluster:sshPrivateKey",
        fix="pulumi config rm sshPrivateKey",
        secrets=lambda k: {"sshPrivateKey": k.a_priv},
        hidden=lambda k: [k.a_priv.splitlines()[1]],
    ),
    "ssh-private-plaintext-retired": Bad(
        lambda k: {"sshPrivateKey": k.a_priv},
        "gitops-cluster:sshPrivateKey",
        hidden=lambda k: [k.a_priv.splitlines()[1]],
    ),
    "ssh-public-is-private": Bad(
        lambda k: {"sshPublicKey": k.a_priv},
        "gitops-cluster:sshPublicKey",
        hidden=lambda k: [k.a_priv.splitlines()[1]],
    ),
    # The public names (issue 19): one DNS label each, all different, not another backend's.
    "host-with-a-dot": Bad({**PUBLIC_DNS, "apiHost": "api.v2"}, "gitops-cluster:apiHost", fix="one DNS label"),
    "host-upper-case": Bad({"grafanaHost": "Grafana"}, "gitops-cluster:grafanaHost", fix="lower-case"),
    "host-empty": Bad({"argocdHost": ""}, "gitops-cluster:argocdHost"),
    "host-too-long": Bad({"imagesHost": "i" * 64}, "gitops-cluster:imagesHost", fix="at most 63"),
    "host-leading-dash": Bad({"apiHost": "-api"}, "gitops-cluster:apiHost"),
    "hosts-duplicate": Bad(
        {**PUBLIC_DNS, "grafanaHost": "admin", "argocdHost": "admin"},
        "gitops-cluster:grafanaHost",
        fix="the same name as argocdHost",
    ),
    "hosts-duplicate-cdn": Bad(
        {**PUBLIC_DNS, "imagesHost": "api"}, "gitops-cluster:imagesHost", fix="the same name as apiHost"
    ),
    "argocd-domain-is-the-api": Bad(
        {**PUBLIC_DNS, "apiHost": "www", "argocdDomain": "www.dev.example.com"},
        "gitops-cluster:argocdDomain",
        fix="that is the apiHost name (www.dev.example.com)",
    ),
    "domain-outside-the-zone": Bad(
        {"dnsZone": "example.com", "dnsDomain": "dev.example.org"}, "gitops-cluster:dnsDomain", fix="outside"
    ),
    "zone-without-domain": Bad({"dnsZone": "example.com"}, "gitops-cluster:dnsDomain"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_config_is_refused_naming_its_key(config_error, keys, case):
    bad = BAD[case]
    overrides = bad.overrides(keys) if callable(bad.overrides) else bad.overrides
    secrets = bad.secrets(keys) if bad.secrets else None
    err = config_error(overrides, secrets=secrets, **bad.kwargs)
    message = str(err)
    assert "nothing was created" in message
    lines = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(lines) <= MAX_LISTED_PROBLEMS and len(message) < 100_000
    assert any(line.startswith(f"  - {bad.key} = ") for line in lines), f"{bad.key} not named in:\n{message}"
    for line in lines:  # key = value: fix, each with a fix that says what to do
        head, _, fix = line.partition(": ")
        assert " = " in head and len(fix) > 15, f"vague problem line: {line}"
        assert "gitops-cluster:aws:" not in line and "gitops-cluster:gitops-cluster:" not in line
    assert bad.fix in message, f"{case}: the message does not say {bad.fix!r}:\n{message}"
    for text in bad.hidden(keys) if bad.hidden else []:
        assert text not in message, f"{case}: a secret or credential reached the message"


@pytest.fixture
def versions_file(tmp_path, monkeypatch) -> Callable[[Callable[[dict[str, Any]], object]], None]:
    """Swap versions.yaml for a changed copy (the file itself, so YAML's typing is what is tested)."""

    def write(change: Callable[[dict[str, Any]], object], text: str | None = None) -> None:
        path = tmp_path / "versions.yaml"
        if text is None:
            doc = yaml.safe_load(config_module.VERSIONS_FILE.read_text(encoding="utf-8"))
            change(doc)
            text = yaml.safe_dump(doc)
        path.write_text(text, encoding="utf-8")
        # No cache to clear: the program reads the file VERSIONS_FILE names, again when it changes.
        monkeypatch.setattr(config_module, "VERSIONS_FILE", path)

    return write


VERSIONS_TEXT = (ROOT / "versions.yaml").read_text(encoding="utf-8")


def _line(key: str, value: str | None) -> str:
    """versions.yaml with the line of `key` replaced by `key: value` (None: the line removed)."""
    return re.sub(rf"^{key}:.*\n", "" if value is None else f"{key}: {value}\n", VERSIONS_TEXT, count=1, flags=re.M)


_AMI = re.search(r"^ubuntuAmiName: (\S+)$", VERSIONS_TEXT, re.M)
assert _AMI is not None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (_line("kubernetes", "1.30"), "versions.yaml: kubernetes = 1.3"),
        (_line("argoCdChart", ""), "versions.yaml: argoCdChart = None"),
        (_line("calico", "yes"), "versions.yaml: calico = True"),
        (
            _line("ubuntuAmiName", re.sub(r"server-[0-9.]+$", "server-*", _AMI[1])),
            "versions.yaml: ubuntuAmiName = '" + re.sub(r"server-[0-9.]+$", "server-*", _AMI[1]) + "'",
        ),
        (
            VERSIONS_TEXT.replace("https://argoproj.github.io/argo-helm", "http://argoproj.github.io/argo-helm"),
            "versions.yaml: argoCdChartRepo",
        ),
        (_line("containerd", None), "versions.yaml: containerd = None: missing"),
    ],
    ids=["number", "null", "yaml-bool", "ami-wildcard", "http-repo", "missing-required"],
)
def test_bad_versions_yaml_is_refused_naming_the_file(config_error, versions_file, text, key):
    assert text != VERSIONS_TEXT, "the replacement did not apply; update the test with versions.yaml"
    versions_file(None, text)
    assert key in str(config_error({})), str(config_error({}))


# Access ranges outside the documentation ranges, for the cases that run as `pulumi up`.
REAL_ACCESS = {"adminCidrs": ["52.94.76.0/24"], "apiCidrs": ["52.94.76.0/24", "10.0.0.0/16"]}

GOOD: dict[str, Callable[[Keys], tuple[dict[str, Any], dict[str, Any]]]] = {
    "dev-as-committed-preview": lambda k: ({}, {}),
    "dev-with-real-repo-on-up": lambda k: ({"gitopsRepoUrl": REPO, **REAL_ACCESS}, {"preview": False}),
    "two-azs": lambda k: ({"azCount": 2}, {}),
    "ci-github-repository": lambda k: ({"ciGithubRepository": "example-org/gitops-cluster"}, {}),
    "api-server-oidc": lambda k: ({**PEOPLE_SSO, "apiServerOidcExtraScopes": ["groups"]}, {}),
    "own-public-names": lambda k: (
        {**PUBLIC_DNS, "apiHost": "www", "argocdHost": "cd", "grafanaHost": "metrics-1", "imagesHost": "media"},
        {},
    ),
    # The CDN's name is free to repeat another's while the CDN is off.
    "cdn-name-unused-without-media": lambda k: ({**PUBLIC_DNS, "media": False, "imagesHost": "api"}, {}),
    "nat-per-az": lambda k: ({"natGatewayPerAz": True}, {}),
    "postgresql-volume-snapshots": lambda k: ({"postgresqlVolumeSnapshots": True}, {}),
    "three-control-planes": lambda k: ({"nodes": row(0, count=3, instanceType="t3.medium")}, {}),
    "explicit-subnets": lambda k: (
        {
            "publicSubnetCidrs": ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"],
            "privateSubnetCidrs": ["10.0.64.0/20", "10.0.80.0/20", "10.0.96.0/20"],
        },
        {},
    ),
    "other-private-vpc": lambda k: ({"vpcCidr": "172.20.0.0/16", "serviceCidr": "10.100.0.0/16"}, {}),
    "several-admin-ranges": lambda k: (
        {"adminCidrs": ["198.51.100.7/32", "203.0.113.0/24", "192.0.2.128/25"], "apiCidrs": ["198.51.100.0/24"]},
        {},
    ),
    "private-vpn-slash8": lambda k: ({"apiCidrs": ["10.0.0.0/8"]}, {}),
    "private-and-office": lambda k: ({"apiCidrs": ["10.0.0.0/9", "203.0.113.0/24"]}, {}),
    "public-slash16": lambda k: ({"adminCidrs": ["8.8.0.0/16"]}, {}),
    "broad-with-override": lambda k: ({"apiCidrs": ["11.0.0.0/8"], "allowBroadAccessCidrs": True}, {}),
    "version-override": lambda k: ({"versions": {"kubernetes": "1.31.5", "argoCdChart": "7.7.15"}}, {}),
    "worker-pool-with-labels-and-taints": lambda k: (
        {
            "nodes": nodes(
                lambda t: t.append(
                    {
                        **pool("batch", 5),
                        "labels": {
                            "workload": "batch",
                            "example.com/team": "",
                            "node-role.kubernetes.io/worker": "batch",
                        },
                        "taints": [{"key": "dedicated", "effect": "PreferNoSchedule"}],
                    }
                )
            )
        },
        {},
    ),
    "arm64-everywhere": lambda k: (
        {
            "versions": {"ubuntuAmiName": ARM_AMI},
            "bastionInstanceType": "t4g.micro",
            "nodes": [
                {**n, "instanceType": "t4g.medium" if n["role"] == "control-plane" else "m7g.large"}
                for n in copy.deepcopy(DEV_NODES)
            ],
        },
        {},
    ),
    "other-region-and-sha": lambda k: (
        {"aws:region": "eu-west-1", "gitopsMode": "pin", "gitopsRevision": "0123456789abcdef0123456789abcdef01234567"},
        {},
    ),
    "longest-cluster-name-and-path": lambda k: (
        {"clusterName": "a" * 20, "gitopsPath": "clusters/dev/apps", "gitopsRepoUrl": REPO, **REAL_ACCESS},
        {"preview": False},
    ),
}


@pytest.mark.parametrize("case", list(GOOD), ids=list(GOOD))
def test_good_config_is_accepted(run_stack, keys, case):
    overrides, kwargs = GOOD[case](keys)
    recording = run_stack(overrides, **kwargs)
    assert recording.of_type("aws:ec2/instance:Instance"), f"{case}: nothing was built"


def test_the_placeholder_repository_only_warns_in_a_preview(run_stack, caplog):
    recording = run_stack({})  # a preview: the mock engine logs the program's warnings
    assert recording.stack_outputs["gitops"]["repoUrl"].startswith("https://github.com/example-org/")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("`pulumi up` refuses the placeholder repository; set gitopsRepoUrl" in w for w in warnings), warnings
    caplog.clear()
    run_stack({"gitopsRepoUrl": REPO})
    assert not any("placeholder" in r.getMessage() for r in caplog.records)


def test_documentation_ranges_only_warn_in_a_preview(run_stack, caplog):
    run_stack({})  # the committed dev stack: 203.0.113.0/24 in both lists
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    for key in ("adminCidrs[0]", "apiCidrs[0]"):
        assert any(f"gitops-cluster:{key} = '203.0.113.0/24': `pulumi up` refuses" in w for w in warnings), warnings
    caplog.clear()
    run_stack(REAL_ACCESS)
    assert not any("RFC 5737" in r.getMessage() for r in caplog.records)


def test_the_battery_is_large_enough():
    assert len(BAD) > 150 and len(GOOD) >= 18


def test_the_policies_name_no_shared_address_space_for_nodes_and_pods():
    """Why 100.64.0.0/10 is refused for the VPC and the pod network: every ipBlock that admits a
    node or pod address names RFC 1918 ranges only (100.64.0.0/10 appears only in `except` lists
    of the public-egress rules). Admitting it everywhere would be the other choice; then drop the
    refusal in components/settings/network.py."""
    import ipaddress

    shared = ipaddress.ip_network("100.64.0.0/10")
    policies = ROOT / "manifests" / "infrastructure" / "network-policies"
    for path in sorted(policies.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "NetworkPolicy":
                continue
            rules = [*doc["spec"].get("ingress", []), *doc["spec"].get("egress", [])]
            for peer in (p for r in rules for p in [*r.get("from", []), *r.get("to", [])]):
                block = peer.get("ipBlock")
                if block and block["cidr"] != "0.0.0.0/0":
                    assert not ipaddress.ip_network(block["cidr"]).overlaps(shared), (path, block)
