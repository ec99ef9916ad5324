"""A service-account signing key pair as kubeadm writes it, tokens as kube-apiserver signs them,
and the check an OIDC verifier (AWS STS) makes with the published JWKS."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


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


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_like_kube_apiserver(private: Path, kid: str, claims: Mapping[str, Any]) -> str:
    """A JWT as kube-apiserver's token generator writes it (pkg/serviceaccount/jwt.go: RS256 for
    an RSA key, the key's `kid` in the header)."""
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)

    def part(obj: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'RS256', 'kid': kid})}.{part(claims)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def verify_with_jwks(token: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """What an OIDC verifier (AWS STS) does: pick the JWKS entry by `kid`, check alg and signature."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(_b64url_decode(header_b64))
    (entry,) = [k for k in document["keys"] if k["kid"] == header["kid"]]
    assert entry["alg"] == header["alg"] == "RS256" and entry["kty"] == "RSA" and entry["use"] == "sig"
    public = rsa.RSAPublicNumbers(
        int.from_bytes(_b64url_decode(entry["e"]), "big"), int.from_bytes(_b64url_decode(entry["n"]), "big")
    ).public_key()
    public.verify(
        _b64url_decode(signature_b64), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return dict(json.loads(_b64url_decode(claims_b64)))
