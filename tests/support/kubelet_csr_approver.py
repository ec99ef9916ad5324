"""kubelet-csr-approver's decision, as a stand-in derived from its source (it cannot run here).

Follows postfinance/kubelet-csr-approver v1.2.14 (the chart ../shared/charts/kubelet-csr-approver-
1.2.14.tgz packages that tag): internal/controller/csr_controller.go `Reconcile` and
internal/controller/regex_ip_checks.go `DNSCheck`/`WhitelistedIPCheck`, in their order:

1. only signer kubernetes.io/kubelet-serving, not yet approved, denied or signed, is considered;
2. spec.username must start with `system:node:` (else denied, or ignored with IGNORE_NON_SYSTEM_NODE);
3. the request must name at least one DNS name or IP address;
4. the request's CommonName must equal spec.username;
5. DNSCheck: at most ALLOWED_DNS_NAMES DNS names; with BYPASS_DNS_RESOLUTION the DNS check ends
   here (approved) - upstream skips the hostname-prefix and regex checks then; otherwise each name
   must start with the node name (unless BYPASS_HOSTNAME_CHECK), match PROVIDER_REGEX and resolve,
   every resolved address must be in PROVIDER_IP_PREFIXES and every SAN IP among the resolved ones;
6. WhitelistedIPCheck: every SAN IP address inside PROVIDER_IP_PREFIXES;
7. spec.expirationSeconds, if set, at most MAX_EXPIRATION_SEC (the binary's default: 367 days);
8. ProviderChecks: none upstream (always valid).

The configuration is read from the Deployment the chart renders (its env), so what is tested is
what the cluster would run. Deny reasons are upstream's strings.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

KUBELET_SERVING = "kubernetes.io/kubelet-serving"
DEFAULT_MAX_EXPIRATION_SEC = 367 * 24 * 3600


@dataclass(frozen=True)
class ApproverConfig:
    provider_regex: str
    ip_prefixes: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    bypass_dns_resolution: bool = False
    allowed_dns_names: int = 1
    bypass_hostname_check: bool = False
    ignore_non_system_node: bool = False
    max_expiration_seconds: int = DEFAULT_MAX_EXPIRATION_SEC

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApproverConfig:
        prefixes = [p for p in env.get("PROVIDER_IP_PREFIXES", "").split(",") if p]
        return cls(
            provider_regex=env["PROVIDER_REGEX"],
            ip_prefixes=tuple(ipaddress.ip_network(p.strip()) for p in prefixes),
            bypass_dns_resolution=env.get("BYPASS_DNS_RESOLUTION") == "true",
            allowed_dns_names=int(env.get("ALLOWED_DNS_NAMES", "1")),
            bypass_hostname_check=env.get("BYPASS_HOSTNAME_CHECK") == "true",
            ignore_non_system_node=env.get("IGNORE_NON_SYSTEM_NODE") == "true",
            max_expiration_seconds=int(env.get("MAX_EXPIRATION_SEC", str(DEFAULT_MAX_EXPIRATION_SEC))),
        )


def _in_prefixes(ip: Any, config: ApproverConfig) -> bool:
    return any(ip in net for net in config.ip_prefixes)


def _dns_check(
    config: ApproverConfig, username: str, request: x509.CertificateSigningRequest, resolve: Callable[[str], list[str]]
) -> tuple[bool, str]:
    dns, ips = _sans(request)
    if len(dns) > config.allowed_dns_names:
        return False, "The x509 Cert Request contains more DNS names than allowed through the config flag"
    if not dns or config.bypass_dns_resolution:
        return True, ""
    hostname = username.removeprefix("system:node:")
    resolved: list[Any] = []
    for name in dns:
        if not name.startswith(hostname) and not config.bypass_hostname_check:
            return False, "The SAN DNS Name in the x509 CSR is not prefixed by the node name (hostname)"
        if not re.search(config.provider_regex, name):
            return False, "The SAN DNS name in the x509 CR is not allowed by the Cloud provider regex"
        addresses = resolve(name)
        if not addresses:
            return False, "The SAN DNS Name could not be resolved, denying the CSR"
        resolved += [ipaddress.ip_address(a) for a in addresses]
    for address in resolved:
        if not _in_prefixes(address, config):
            return False, f"One of the resolved IP addresses, {address},isn't part of the provider-specified set"
    for ip in ips:
        if ip not in resolved:
            return False, f"One of the SAN IP addresses, {ip}, is not contained in the set of resolved IP addresses"
    return True, ""


def _sans(request: x509.CertificateSigningRequest) -> tuple[list[str], list[Any]]:
    try:
        ext = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return ext.get_values_for_type(x509.DNSName), ext.get_values_for_type(x509.IPAddress)


def decide(
    config: ApproverConfig,
    csr: Mapping[str, Any],
    resolve: Callable[[str], list[str]] = lambda _name: [],
) -> tuple[str, str]:
    """("approved" | "denied" | "ignored", reason) for a CertificateSigningRequest object."""
    spec = csr["spec"]
    if spec.get("signerName") != KUBELET_SERVING:
        return "ignored", "Ignoring non-kubelet-serving CSR."
    request = x509.load_pem_x509_csr(_pem(spec["request"]))
    username = str(spec.get("username", ""))
    dns, ips = _sans(request)
    common_names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(common_names[0].value) if common_names else ""
    if not username.startswith("system:node:"):
        if config.ignore_non_system_node:
            return "ignored", "Ignoring a CSR with username different than system:node:"
        return "denied", "CSR Spec.Username is not prefixed with system:node:"
    if not dns and not ips:
        return "denied", "The x509 Cert Request SAN contains neither an IP address nor a DNS name"
    if common_name != username:
        return "denied", "CSR username does not match the parsed x509 certificate request commonname"
    ok, reason = _dns_check(config, username, request, resolve)
    if not ok:
        return "denied", reason
    for ip in ips:
        if not _in_prefixes(ip, config):
            return (
                "denied",
                f"One of the SAN IP addresses, {ip}, is not partof the allowed IP Prefixes/Subnets, denying the CSR.",
            )
    expiration = spec.get("expirationSeconds")
    if expiration is not None and int(expiration) > config.max_expiration_seconds:
        return "denied", "CSR spec.expirationSeconds is longer than the maximum allowed expiration second"
    return "approved", ""


def _pem(request: str | bytes) -> bytes:
    """spec.request is base64 of the PEM in the API's JSON; accept the PEM too."""
    import base64

    raw = request.encode() if isinstance(request, str) else request
    return raw if raw.lstrip().startswith(b"-----BEGIN") else base64.b64decode(raw)


def kubelet_serving_csr(
    node: str,
    dns_names: Sequence[str],
    ips: Sequence[str],
    *,
    username: str | None = None,
    common_name: str | None = None,
    expiration_seconds: int | None = None,
) -> dict[str, Any]:
    """The CertificateSigningRequest a kubelet with serverTLSBootstrap files (kubernetes v1.36,
    pkg/kubelet/certificate/kubelet.go NewKubeletServerCertificateManager: an ECDSA P-256 key,
    subject O=system:nodes CN=system:node:<name>, the node's Hostname/InternalDNS addresses as DNS
    names and its InternalIP/ExternalIP addresses as IPs, usages digital signature + server auth,
    signer kubernetes.io/kubelet-serving). The keyword arguments forge it."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    cn = common_name if common_name is not None else f"system:node:{node}"
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        )
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    pem = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    spec: dict[str, Any] = {
        "signerName": KUBELET_SERVING,
        "request": base64.b64encode(pem).decode(),
        "username": username if username is not None else f"system:node:{node}",
        "groups": ["system:nodes", "system:authenticated"],
        "usages": ["digital signature", "server auth"],
    }
    if expiration_seconds is not None:
        spec["expirationSeconds"] = expiration_seconds
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": f"csr-{node}"},
        "spec": spec,
    }


def approver_application(vpc: ipaddress.IPv4Network) -> dict[str, Any]:
    """The kubelet-csr-approver Application with the root Application's patch for a stack whose VPC
    is `vpc` (components/cluster_patches.py csr_approver_patches) applied."""
    import copy

    import yaml

    from components.cluster_patches import csr_approver_patches
    from tests.support.children import applications

    app = copy.deepcopy(applications()["kubelet-csr-approver"])
    (patch,) = csr_approver_patches(vpc)
    for op in yaml.safe_load(patch["patch"]):
        assert op["op"] == "replace" and op["path"] == "/spec/source/helm/valuesObject/providerIpPrefixes"
        assert "providerIpPrefixes" in app["spec"]["source"]["helm"]["valuesObject"]
        app["spec"]["source"]["helm"]["valuesObject"]["providerIpPrefixes"] = op["value"]
    return app


def rendered_approver(vpc: ipaddress.IPv4Network) -> ApproverConfig:
    """The approver's configuration as the cluster runs it for a stack whose VPC is `vpc`: the chart
    (../shared/charts, pinned helm) rendered with the Application's values and the root patch."""
    from tests.support.children import render_child

    (deployment,) = [d for d in render_child(approver_application(vpc)) if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return ApproverConfig.from_env({e["name"]: str(e["value"]) for e in container["env"]})
