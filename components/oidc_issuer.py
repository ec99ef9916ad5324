"""The cluster's service-account issuer documents: the OIDC discovery document and the JWKS.

AWS IAM verifies a pod's projected service-account token (IRSA) by fetching
`<issuer>/.well-known/openid-configuration` and the `jwks_uri` it names, then checking the token's
signature with the key whose `kid` the token carries. kube-apiserver signs those tokens with the
cluster's service-account key (kubeadm: /etc/kubernetes/pki/sa.key, RSA 2048; its public half
sa.pub, PEM "PUBLIC KEY", i.e. PKIX) and puts into each token's header:

- `alg: RS256` for an RSA key;
- `kid`: the unpadded base64url of the SHA-256 of the public key's PKIX DER encoding
  (kubernetes/kubernetes#78502, pkg/serviceaccount/jwt.go `keyIDFromPublicKey`).

The JWKS here is made exactly as upstream's self-hosted helper makes it
(aws/amazon-eks-pod-identity-webhook@v0.6.17 hack/self-hosted/main.go, in
../shared/upstream/amazon-eks-pod-identity-webhook-v0.6.17/main.go): one entry per public key with
that `kid`, `alg: RS256`, `use: sig`, and the RSA modulus and exponent (RFC 7518 6.3.1: unsigned
big-endian, base64url without padding). Upstream's extra empty-`kid` copy is for API servers older
than 1.16 and is left out. The discovery document is upstream's SELF_HOSTED_SETUP.md example.

Several keys may be published at once (rotation: the new key signs, the old one still verifies
tokens issued before the switch; docs/deployment.md, "Service-account issuer").
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# Where the documents live under the issuer URL (the bucket's object keys, without the leading /).
DISCOVERY_PATH = ".well-known/openid-configuration"
JWKS_PATH = "keys.json"
# The audience of the tokens the pods present to AWS STS: the IAM OIDC provider's client id, the
# webhook's --token-audience and every trust policy's `aud` condition.
STS_AUDIENCE = "sts.amazonaws.com"
# The issuer kubeadm configures by default. It stays accepted (a second --service-account-issuer)
# and stays the audience of in-cluster tokens (--api-audiences), so tokens minted before the
# public issuer was set keep working and an AWS token is never accepted by the API server.
IN_CLUSTER_ISSUER = "https://kubernetes.default.svc.cluster.local"
SIGNING_ALGORITHM = "RS256"
# Kubernetes refuses service-account keys below this size; kubeadm makes 2048-bit ones.
MIN_RSA_BITS = 2048

_PEM_BLOCK = re.compile(r"-----BEGIN PUBLIC KEY-----\s.*?-----END PUBLIC KEY-----", re.DOTALL)


class IssuerKeyError(ValueError):
    """A public key that cannot verify the API server's tokens (wrong type, size or format)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def _load(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as err:
        raise IssuerKeyError(f"not a PEM public key: {err}") from err
    if not isinstance(key, rsa.RSAPublicKey):
        raise IssuerKeyError(f"the service-account key is {type(key).__name__}, not RSA (kubeadm makes RSA keys)")
    if key.key_size < MIN_RSA_BITS:
        raise IssuerKeyError(f"the service-account key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed")
    return key


def key_id(pem: str) -> str:
    """The `kid` kube-apiserver puts in the tokens it signs with this key."""
    der = _load(pem).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64url(hashlib.sha256(der).digest())


def public_key_blocks(text: str) -> list[str]:
    """The PEM public-key blocks in `text` (what the bootstrap reads from the control plane), in order."""
    return [m.group(0) + "\n" for m in _PEM_BLOCK.finditer(text)]


def jwks(pems: Sequence[str]) -> dict[str, Any]:
    """The JWKS document for these public keys (duplicates removed, order kept)."""
    keys: list[dict[str, Any]] = []
    seen: set[str] = set()
    for pem in pems:
        kid = key_id(pem)
        if kid in seen:
            continue
        seen.add(kid)
        numbers = _load(pem).public_numbers()
        keys.append(
            {
                "use": "sig",
                "kty": "RSA",
                "kid": kid,
                "alg": SIGNING_ALGORITHM,
                "n": _uint(numbers.n),
                "e": _uint(numbers.e),
            }
        )
    if not keys:
        raise IssuerKeyError("no service-account public key to publish")
    return {"keys": keys}


def discovery_document(issuer: str) -> dict[str, Any]:
    """The OIDC discovery document for `issuer` (https://<host>, no trailing slash)."""
    if not issuer.startswith("https://") or issuer.endswith("/"):
        raise ValueError(f"issuer {issuer!r} must be an https:// URL without a trailing slash")
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/{JWKS_PATH}",
        "authorization_endpoint": "urn:kubernetes:programmatic_authorization",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [SIGNING_ALGORITHM],
        "claims_supported": ["sub", "iss"],
    }


def issuer_host(issuer: str) -> str:
    """The issuer without its scheme: the prefix of the `sub`/`aud` condition keys in trust policies."""
    return issuer.removeprefix("https://")


def service_account_subject(namespace: str, service_account: str) -> str:
    """The `sub` claim of a token of this ServiceAccount."""
    return f"system:serviceaccount:{namespace}:{service_account}"
