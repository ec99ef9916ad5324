"""The kubeconfig exec plugin: a credential for the stack's API server, fetched when a client asks.

kubectl (client-go), the Kubernetes provider and the status tool run it (through the wrapper
tools/kube-credential) whenever they need a credential, and read an ExecCredential
(client.authentication.k8s.io/v1) from its stdout: kubernetes.io/docs/reference/access-authn-authz/
authentication/#client-go-credential-plugins. Nothing is stored: each answer expires on its own.

Two sources (`--source`, default `auto`: GitHub inside an Actions job that may ask for a token,
else the bastion):

- `github`: the job's GitHub Actions OIDC token for this stack's audience. The runner hands a job
  granted `id-token: write` a request URL and bearer token (ACTIONS_ID_TOKEN_REQUEST_URL,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN); a GET of the URL with `&audience=<aud>` answers
  `{"value": "<JWT>"}` (actions/toolkit packages/core src/oidc-utils.ts). The API server's `jwt`
  authenticator maps it to a group (components/cluster_auth.py).
- `bastion`: a cluster-admin client certificate valid for one hour, minted for the caller's user
  name on the first control-plane node (`kubeadm kubeconfig user`, components/bootstrap.py)
  through the bastion with a key pushed for the run (EC2 Instance Connect), the hosts read from
  the stack outputs. The key and the certificate are held in memory and a private temp directory
  only.

Nothing it reads or writes reaches stderr; errors name what is missing.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import getpass
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509

EXEC_API_VERSION = "client.authentication.k8s.io/v1"
ROOT = Path(__file__).resolve().parent.parent


class CredentialError(Exception):
    """What went wrong, in words that never carry a credential."""


def exec_credential(status: Mapping[str, Any]) -> str:
    return json.dumps({"apiVersion": EXEC_API_VERSION, "kind": "ExecCredential", "status": dict(status)})


def _rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jwt_expiry(token: str) -> dt.datetime:
    """The `exp` of a JWT (not verified: the API server verifies; this only tells client-go when to ask again)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC)
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise CredentialError("the GitHub token is not a JWT with an exp claim") from exc


Opener = Callable[[urllib.request.Request], Any]


def github_token(audience: str, environ: Mapping[str, str], opener: Opener = urllib.request.urlopen) -> str:
    url, bearer = environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"), environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        raise CredentialError(
            "no GitHub Actions OIDC token: the job needs `permissions: id-token: write` "
            "(ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN are unset)"
        )
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "https":
        raise CredentialError("ACTIONS_ID_TOKEN_REQUEST_URL is not an https URL")
    separator = "&" if parsed.query else "?"
    request = urllib.request.Request(  # noqa: S310 (https only, checked above)
        f"{url}{separator}audience={urllib.parse.quote(audience, safe='')}",
        headers={"Authorization": f"bearer {bearer}", "Accept": "application/json"},
    )
    try:
        with opener(request) as response:
            value = json.loads(response.read())["value"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # The URL carries a per-job secret in its query: never print it.
        raise CredentialError(f"the GitHub token request failed ({type(exc).__name__})") from exc
    if not isinstance(value, str) or not value:
        raise CredentialError("the GitHub token response held no token")
    return value


def github_credential(audience: str, environ: Mapping[str, str], opener: Opener = urllib.request.urlopen) -> str:
    token = github_token(audience, environ, opener)
    return exec_credential({"token": token, "expirationTimestamp": _rfc3339(jwt_expiry(token))})


def kubeconfig_credential(kubeconfig: str) -> str:
    """The ExecCredential of a minted kubeconfig's client certificate (PEM, with its expiry)."""
    try:
        user = yaml.safe_load(kubeconfig)["users"][0]["user"]
        cert = base64.b64decode(user["client-certificate-data"], validate=True).decode()
        key = base64.b64decode(user["client-key-data"], validate=True).decode()
        not_after = x509.load_pem_x509_certificate(cert.encode()).not_valid_after_utc
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise CredentialError("the control plane printed no kubeconfig with a client certificate") from exc
    return exec_credential(
        {"clientCertificateData": cert, "clientKeyData": key, "expirationTimestamp": _rfc3339(not_after)}
    )


OutputsLoader = Callable[[str, Path], Mapping[str, Any]]


def load_outputs(stack: str, work_dir: Path) -> Mapping[str, Any]:
    """The stack's outputs, secrets included, as plain values (the Automation API)."""
    from pulumi import automation as auto

    return {k: v.value for k, v in auto.select_stack(stack_name=stack, work_dir=str(work_dir)).outputs().items()}


def client_name(user: str) -> str:
    """The certificate's CN: `admin:<login>`, so the audit log names the person."""
    return "admin:" + (re.sub(r"[^A-Za-z0-9._@-]", "-", user)[:50] or "unknown")


def bastion_credential(
    stack: str,
    work_dir: Path,
    loader: OutputsLoader = load_outputs,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> str:
    """Mint a one-hour admin certificate on the first control plane through the bastion."""
    from components.bastion_commands import bastion_alias, default_known_hosts_file
    from components.control_plane_reads import admin_credential_command
    from components.inventory import InventoryHost, SshJump
    from components.settings.model import NodeRole, NodeSpec

    outputs = loader(stack, work_dir)
    missing = [k for k in ("clusterName", "bastionPublicIp", "bastionInstanceId", "nodes") if not outputs.get(k)]
    if missing:
        raise CredentialError(f"stack {stack} has no output {', '.join(missing)}; has `pulumi up` finished?")
    first = next((n for n in outputs["nodes"] if n.get("role") == NodeRole.CONTROL_PLANE.value), None)
    if first is None:
        raise CredentialError(f"stack {stack}'s nodes output lists no control-plane node")
    project = str(yaml.safe_load((work_dir / "Pulumi.yaml").read_text())["name"])
    target = InventoryHost(
        NodeSpec(first["name"], NodeRole.CONTROL_PLANE, str(first.get("instanceType", "")), 0),
        first["privateIp"],
        first.get("instanceId"),
    )
    # The run pushes its own key to the bastion and this node (EC2 Instance Connect): the caller's
    # AWS credentials need ec2-instance-connect:SendSSHPublicKey (docs/gitops-practices.md).
    jump = SshJump(
        bastion_alias(str(outputs["clusterName"])),
        str(outputs["bastionPublicIp"]),
        host_key_alias=str(outputs["bastionInstanceId"]),
        region=str(outputs.get("region") or ""),
    )
    spec = admin_credential_command(
        target, jump, default_known_hosts_file(project, stack), client_name=client_name(getpass.getuser())
    )
    done = run(
        spec.argv,
        input="",
        env={**os.environ, **spec.environment},
        cwd=work_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        # The script's own messages name the failure; they never hold the key or the certificate.
        raise CredentialError(f"minting through the bastion failed: {done.stderr.strip()[-400:]}")
    return kubeconfig_credential(done.stdout)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev")
    parser.add_argument("--audience", default="", help="the stack's OIDC audience (the GitHub source needs it)")
    parser.add_argument("--source", choices=("auto", "github", "bastion"), default="auto")
    parser.add_argument("--work-dir", type=Path, default=ROOT, help="directory holding Pulumi.yaml")
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    source = args.source
    if source == "auto":
        in_actions = env.get("ACTIONS_ID_TOKEN_REQUEST_URL") and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        source = "github" if in_actions and args.audience else "bastion"
    try:
        if source == "github":
            if not args.audience:
                raise CredentialError("--audience is required for the GitHub source (set ciGithubRepository)")
            out = github_credential(args.audience, env)
        else:
            out = bastion_credential(args.stack, args.work_dir)
    except CredentialError as exc:
        print(f"kube-credential: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(out + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
