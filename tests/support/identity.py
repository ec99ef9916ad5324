"""A service-account signing key pair as kubeadm writes it."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def kubeadm_service_account_key(stem: Path) -> tuple[Path, Path]:
    """A service-account key pair made the way kubeadm makes it (kubernetes/kubernetes
    cmd/kubeadm/app/phases/certs/certs.go CreateServiceAccountKeyAndPublicKeyFiles at v1.36: an RSA
    2048 key from pkiutil.NewPrivateKey, sa.key as PEM "RSA PRIVATE KEY" (PKCS #1), sa.pub as PEM
    "PUBLIC KEY" (PKIX)). Returns (public, private) paths."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = stem.with_suffix(".key")
    public = stem.with_suffix(".pub")
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return public, private
