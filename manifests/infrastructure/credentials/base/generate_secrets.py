"""Create each listed Secret with random values, only if it does not exist yet.

Runs in-cluster as a Job (one per namespace, see kustomization.yaml) before the services that read
the Secrets. Why a Job and not Git or Pulumi: the passwords then exist only in the cluster (never
in Git, in Pulumi state, on a command line or in a log), and no service ever starts with a
default password.

Idempotent and race-free: it only ever POSTs a new Secret; the API server answers 409 Conflict
when the Secret exists, which counts as success, so a re-run never rotates a live password.
Its RBAC is `create` on Secrets in its own namespace, nothing else (no get/list: it never reads
a Secret). Standard library only, so the pinned python image is all it needs.

SECRET_SPECS (JSON): [{"name": "...", "random": ["password"], "literal": {"username": "app"}}]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
MANAGED_BY = "credentials-generator"

# (request) -> HTTP status; raises urllib.error.HTTPError for non-2xx like urlopen does.
Sender = Callable[[urllib.request.Request], int]


def parse_specs(raw: str) -> list[dict[str, Any]]:
    """Validate SECRET_SPECS so a typo fails the Job with a clear message, not a half-done run."""
    specs = json.loads(raw)
    if not isinstance(specs, list) or not specs:
        raise ValueError("SECRET_SPECS must be a non-empty JSON list")
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ValueError(f"each spec needs a string 'name': {spec!r}")
        unknown = set(spec) - {"name", "random", "literal"}
        if unknown:
            raise ValueError(f"spec {spec['name']!r} has unknown keys {sorted(unknown)}")
        if not spec.get("random"):
            raise ValueError(f"spec {spec['name']!r} lists no 'random' key to generate")
    return specs


def secret_body(spec: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    data = {str(k): str(v) for k, v in spec.get("literal", {}).items()}
    for key in spec["random"]:
        # 32 bytes of entropy, URL-safe so it survives connection strings unescaped.
        data[str(key)] = secrets.token_urlsafe(32)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": spec["name"],
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY},
        },
        "stringData": data,
    }


def ensure_secrets(
    specs: Sequence[Mapping[str, Any]], namespace: str, api_url: str, token: str, send: Sender
) -> list[str]:
    """POST every Secret; return one log line per Secret (names only, never values)."""
    lines = []
    for spec in specs:
        body = json.dumps(secret_body(spec, namespace)).encode()
        # api_url is always https:// to the in-cluster API server (main), never user input.
        request = urllib.request.Request(  # noqa: S310
            f"{api_url}/api/v1/namespaces/{namespace}/secrets",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            send(request)
            lines.append(f"created secret {namespace}/{spec['name']}")
        except urllib.error.HTTPError as err:
            if err.code != 409:
                raise RuntimeError(f"creating secret {namespace}/{spec['name']} failed: HTTP {err.code}") from None
            lines.append(f"secret {namespace}/{spec['name']} exists; left unchanged")
    return lines


def _in_cluster_sender(ca_file: str) -> Sender:
    context = ssl.create_default_context(cafile=ca_file)

    def send(request: urllib.request.Request) -> int:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
            return int(response.status)

    return send


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--service-account-dir",
        default=SERVICE_ACCOUNT_DIR,
        help="directory holding the mounted token, ca.crt and namespace",
    )
    args = parser.parse_args(argv)
    try:
        specs = parse_specs(os.environ.get("SECRET_SPECS", ""))
    except ValueError as err:  # json.JSONDecodeError is a ValueError too
        print(f"SECRET_SPECS invalid: {err}", file=sys.stderr)
        return 2
    sa_dir = args.service_account_dir
    with open(os.path.join(sa_dir, "namespace"), encoding="utf-8") as fh:
        namespace = fh.read().strip()
    with open(os.path.join(sa_dir, "token"), encoding="utf-8") as fh:
        token = fh.read().strip()
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ["KUBERNETES_SERVICE_PORT"]
    api_url = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    try:
        for line in ensure_secrets(
            specs, namespace, api_url, token, _in_cluster_sender(os.path.join(sa_dir, "ca.crt"))
        ):
            print(line)
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
