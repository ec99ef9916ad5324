"""Kubelet serving certificates from the cluster CA, approved by rule, verified by metrics-server.

- the kubeadm KubeletConfiguration turns on serverTLSBootstrap (every node gets it through the
  kubelet-config ConfigMap);
- kubelet-csr-approver, rendered from ../shared/charts with our values and the root Application's
  patch for this stack's VPC, decides good and forged requests the way its v1.2.14 source does
  (tests/support/kubelet_csr_approver.py): real PKCS#10 requests, built like the kubelet's;
- metrics-server runs without --kubelet-insecure-tls and reaches kubelets on the address the
  approver checks (InternalIP).
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

import jinja2
import pytest
import yaml

from tests.support.charts import KUBEADM_CONFIG, VERSIONS
from tests.support.children import applications, render_child
from tests.support.dev_stack import dev_settings
from tests.support.kubelet_csr_approver import (
    ApproverConfig,
    approver_application,
    decide,
    kubelet_serving_csr,
    rendered_approver,
)

VPC = dev_settings().vpc_cidr


def node_ip(i: int) -> str:
    return str(VPC.network_address + 16 * 256 + 10 + i)


def rendered(app_name: str, patch_root: bool = True) -> list[dict[str, Any]]:
    if patch_root and app_name == "kubelet-csr-approver":
        return render_child(approver_application(VPC))
    return render_child(applications()[app_name])


@functools.cache
def approver() -> ApproverConfig:
    return rendered_approver(VPC)


def test_the_kubelets_request_serving_certificates_from_the_cluster_ca() -> None:
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined, autoescape=False)  # noqa: S701 - YAML, ours
    text = env.from_string(KUBEADM_CONFIG.read_text()).render(
        groups={"control_plane": []}, hostvars={}, versions=VERSIONS, control_plane_tls_cipher_suites=[]
    )
    kubelet = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "KubeletConfiguration")
    assert kubelet["serverTLSBootstrap"] is True
    assert kubelet["rotateCertificates"] is True


def test_the_approver_runs_with_the_stacks_vpc_as_the_only_address_range() -> None:
    config = approver()
    assert config.ip_prefixes == (VPC,)
    assert config.allowed_dns_names == 1
    # Node names are not in the VPC's DNS (kubeadm registers the table's names), so resolution is
    # bypassed; upstream then skips the name checks too (tests/support/kubelet_csr_approver.py, step 5).
    assert config.bypass_dns_resolution is True
    # Without the root patch the chart's default is the dev VPC written in Git.
    (deployment,) = [d for d in rendered("kubelet-csr-approver", patch_root=False) if d["kind"] == "Deployment"]
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PROVIDER_IP_PREFIXES"] == "10.0.0.0/16"


@pytest.mark.parametrize("i", range(3))
def test_a_kubelets_own_request_is_approved(i: int) -> None:
    node = [n.name for n in dev_settings().nodes][i]
    assert decide(approver(), kubelet_serving_csr(node, [node], [node_ip(i)])) == ("approved", "")


FORGED = [
    (
        "another identity",
        {"node": "api-auth", "dns_names": ["api-auth"], "ips": ["10.0.16.20"], "username": "system:serviceaccount:x:y"},
        "CSR Spec.Username is not prefixed with system:node:",
    ),
    (
        "another node's name in the subject",
        {"node": "api-auth", "dns_names": ["api-auth"], "ips": ["10.0.16.20"], "common_name": "system:node:master"},
        "CSR username does not match the parsed x509 certificate request commonname",
    ),
    (
        "a second DNS name",
        {"node": "api-auth", "dns_names": ["api-auth", "kubernetes.default.svc"], "ips": ["10.0.16.20"]},
        "The x509 Cert Request contains more DNS names than allowed through the config flag",
    ),
    (
        "an address outside the VPC",
        {"node": "api-auth", "dns_names": ["api-auth"], "ips": ["10.0.16.20", "203.0.113.7"]},
        "One of the SAN IP addresses, 203.0.113.7, is not partof the allowed IP Prefixes/Subnets, denying the CSR.",
    ),
    (
        "the instance metadata address",
        {"node": "api-auth", "dns_names": [], "ips": ["169.254.169.254"]},
        "One of the SAN IP addresses, 169.254.169.254, is not partof the allowed IP Prefixes/Subnets, denying the CSR.",
    ),
    (
        "no names at all",
        {"node": "api-auth", "dns_names": [], "ips": []},
        "The x509 Cert Request SAN contains neither an IP address nor a DNS name",
    ),
    (
        "a certificate for longer than the approver allows",
        {"node": "api-auth", "dns_names": ["api-auth"], "ips": ["10.0.16.20"], "expiration_seconds": 10 * 365 * 86400},
        "CSR spec.expirationSeconds is longer than the maximum allowed expiration second",
    ),
]


@pytest.mark.parametrize(("why", "kwargs", "reason"), FORGED, ids=[f[0] for f in FORGED])
def test_a_forged_request_is_denied(why: str, kwargs: dict[str, Any], reason: str) -> None:
    assert decide(approver(), kubelet_serving_csr(**kwargs)) == ("denied", reason), why


def test_other_signers_are_left_to_kube_controller_manager() -> None:
    csr = kubelet_serving_csr("api-auth", ["api-auth"], ["10.0.16.20"])
    csr["spec"]["signerName"] = "kubernetes.io/kube-apiserver-client-kubelet"
    assert decide(approver(), csr)[0] == "ignored"


def test_with_dns_resolution_the_name_must_be_the_nodes_and_resolve_to_its_addresses() -> None:
    """The checks the approver runs when DNS is not bypassed (our model of them, on a config that turns them on)."""
    strict = ApproverConfig(provider_regex=r"^[a-z0-9-]+$", ip_prefixes=(VPC,))
    good = kubelet_serving_csr("api-auth", ["api-auth"], ["10.0.16.20"])
    assert decide(strict, good, resolve=lambda _n: ["10.0.16.20"]) == ("approved", "")
    other = kubelet_serving_csr("api-auth", ["master"], ["10.0.16.20"])
    assert decide(strict, other, resolve=lambda _n: ["10.0.16.20"])[1].startswith(
        "The SAN DNS Name in the x509 CSR is not prefixed"
    )
    assert decide(strict, good, resolve=lambda _n: [])[1] == "The SAN DNS Name could not be resolved, denying the CSR"
    assert decide(strict, good, resolve=lambda _n: ["10.0.16.99"])[1].startswith(
        "One of the SAN IP addresses, 10.0.16.20"
    )


def test_metrics_server_verifies_the_kubelets() -> None:
    (deployment,) = [d for d in rendered("metrics-server") if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert not [a for a in args if a.startswith("--kubelet-insecure-tls")]
    assert "--kubelet-preferred-address-types=InternalIP" in args
    assert ipaddress.ip_address(node_ip(0)) in VPC
