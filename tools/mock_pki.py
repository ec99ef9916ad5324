"""The mock runtime's cluster PKI: a CA and a certificate minted for an hour with it.

Real X.509 (made with `cryptography`), so the state scan (tests/unit/test_state_credentials.py)
judges lifetimes as it would a cluster's: the CA is what `cat /etc/kubernetes/pki/ca.crt` prints
(ten years, as kubeadm's), the kubeconfig what `kubeadm kubeconfig user --validity-period 1h`
prints (components/control_plane_reads.py). Made once per process.
"""

from __future__ import annotations

import base64
import datetime


def _fake_pki() -> tuple[str, str]:
    """A cluster CA (ten years, as kubeadm's) and what `kubeadm kubeconfig user --validity-period 1h`
    prints with it: real certificates, so the state scan (tests/unit/test_state_credentials.py)
    judges their lifetimes as it would a cluster's. Made once per process."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, user_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    user = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kubeadm:cluster-admins"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "gitops-cluster:pulumi"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(user_key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem).decode()
    key_pem = user_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    minted = (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {b64(ca_pem)}\n    server: https://10.0.16.10:6443\n  name: kubernetes\n"
        "contexts:\n- context:\n    cluster: kubernetes\n    user: gitops-cluster:pulumi\n"
        "  name: gitops-cluster:pulumi@kubernetes\ncurrent-context: gitops-cluster:pulumi@kubernetes\n"
        "users:\n- name: gitops-cluster:pulumi\n  user:\n"
        f"    client-certificate-data: {b64(user.public_bytes(pem).decode())}\n"
        f"    client-key-data: {b64(key_pem)}\n"
    )
    return ca_pem, minted


FAKE_CLUSTER_CA_PEM, FAKE_MINTED_KUBECONFIG = _fake_pki()
