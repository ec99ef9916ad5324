"""What the stack reads from, or mints on, a control-plane node through the bastion.

Each is a script of the bastion command kit (components/bastion_commands.py: the SSH key on
stdin, a private work directory, the bastion reached first) that prints one thing and nothing
else, only once it arrived whole:

- the service-account public keys (the issuer's JWKS, components/identity.py);
- the cluster CA certificate (public; the exported kubeconfig carries it);
- a short-lived admin kubeconfig, minted by `kubeadm kubeconfig user` (the Kubernetes provider's
  per-run credential, and people's through tools/kube_credential.py).

admin.conf and its one-year key are never read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import yaml

from components import yaml_io
from components.bastion_commands import PREAMBLE, CommandSpec, command_environment
from components.cluster_auth import ADMIN_CREDENTIAL_VALIDITY, ADMIN_ORGANIZATION
from components.inventory import InventoryHost, SshJump
from components.security import API_PORT
from components.settings.model import NodeRole

# The certificate subject the stack's own provider gets (kubeadm:cluster-admins is the group).
PROVIDER_CLIENT_NAME = "gitops-cluster:pulumi"
_CLIENT_NAME = re.compile(r"[A-Za-z0-9._:@-]{1,64}")


def service_account_keys_script() -> str:
    """The bash script that prints the service-account public keys of the first control-plane node.

    kubeadm writes the signing key's public half to /etc/kubernetes/pki/sa.pub (PEM, PKIX). During
    a rotation the retired keys are kept as /etc/kubernetes/pki/sa-retired-*.pub and listed with
    --service-account-key-file, so tokens they signed still verify; all of them go into the JWKS
    (docs/deployment.md, "Service-account issuer"). Public keys only: nothing secret is read.
    """
    return (
        PREAMBLE
        + r"""alias_args=()
if [ -n "${GC_TARGET_HOST_KEY_ALIAS:-}" ]; then alias_args=(-o "HostKeyAlias=$GC_TARGET_HOST_KEY_ALIAS"); fi
ssh -F "$GC_SSH_CONFIG_FILE" -o "ProxyJump=$GC_BASTION_ALIAS" "${alias_args[@]}" -p "$GC_TARGET_PORT" \
  "$GC_TARGET_HOST" "sudo sh -c 'cat $GC_REMOTE_SA_PUB; for f in ${GC_REMOTE_SA_PUB%.pub}-retired-*.pub; \
  do [ -f \"\$f\" ] && cat \"\$f\"; done; true'" > "$work/sa.pub"
if ! grep -q '^-----BEGIN PUBLIC KEY-----' "$work/sa.pub"; then
  echo "bootstrap: $GC_REMOTE_SA_PUB on $GC_TARGET_HOST holds no PEM public key" >&2
  exit 4
fi
cat "$work/sa.pub"
"""
    )


def _target_command(
    create: str, target: InventoryHost, jump: SshJump, known_hosts: str, triggers: Sequence[str], **extra: str
) -> CommandSpec:
    """A script that reads something from `target` through the bastion (GC_TARGET_* names it)."""
    return CommandSpec(
        create=create,
        environment=command_environment(
            jump,
            known_hosts,
            GC_TARGET_HOST=target.address,
            GC_TARGET_PORT=str(target.port),
            GC_TARGET_HOST_KEY_ALIAS=target.host_key_alias or "",
            **extra,
        ),
        triggers=list(triggers),
    )


def service_account_keys_command(
    target: InventoryHost,
    jump: SshJump,
    known_hosts: str,
    triggers: Sequence[str],
    *,
    remote_path: str = "/etc/kubernetes/pki/sa.pub",
) -> CommandSpec:
    """The command that prints `target`'s service-account public keys (for the issuer's JWKS)."""
    return _target_command(
        service_account_keys_script(), target, jump, known_hosts, triggers, GC_REMOTE_SA_PUB=remote_path
    )


def cluster_ca_script() -> str:
    """The bash script that prints the cluster CA certificate of the first control-plane node.

    kubeadm writes it to /etc/kubernetes/pki/ca.crt (mode 0644, public): the exported kubeconfig
    carries it so clients verify the API server. Nothing secret is read.
    """
    return (
        PREAMBLE
        + r"""alias_args=()
if [ -n "${GC_TARGET_HOST_KEY_ALIAS:-}" ]; then alias_args=(-o "HostKeyAlias=$GC_TARGET_HOST_KEY_ALIAS"); fi
ssh -F "$GC_SSH_CONFIG_FILE" -o "ProxyJump=$GC_BASTION_ALIAS" "${alias_args[@]}" -p "$GC_TARGET_PORT" \
  "$GC_TARGET_HOST" cat "$GC_REMOTE_CA" > "$work/ca.crt"
if [ ! -s "$work/ca.crt" ]; then
  echo "bootstrap: $GC_REMOTE_CA on $GC_TARGET_HOST is empty" >&2
  exit 4
fi
cat "$work/ca.crt"
"""
    )


def cluster_ca_command(
    target: InventoryHost,
    jump: SshJump,
    known_hosts: str,
    triggers: Sequence[str],
    *,
    remote_path: str = "/etc/kubernetes/pki/ca.crt",
) -> CommandSpec:
    """The command that prints `target`'s cluster CA certificate (the first control-plane node)."""
    return _target_command(cluster_ca_script(), target, jump, known_hosts, triggers, GC_REMOTE_CA=remote_path)


def admin_credential_script() -> str:
    """The bash script that mints a short-lived admin kubeconfig on a control-plane node.

    `kubeadm kubeconfig user` signs a new client certificate with the cluster CA for the name and
    group given, valid for `--validity-period` (kubernetes/kubernetes cmd/kubeadm/app/cmd/
    kubeconfig.go, tag v1.36.4; without --config it uses kubeadm's defaults, which only set the
    server, rewritten afterwards). admin.conf and its one-year key are never read. The kubeconfig
    is held in the private temp directory and printed only once complete.
    """
    return (
        PREAMBLE
        + r"""alias_args=()
if [ -n "${GC_TARGET_HOST_KEY_ALIAS:-}" ]; then alias_args=(-o "HostKeyAlias=$GC_TARGET_HOST_KEY_ALIAS"); fi
ssh -F "$GC_SSH_CONFIG_FILE" -o "ProxyJump=$GC_BASTION_ALIAS" "${alias_args[@]}" -p "$GC_TARGET_PORT" \
  "$GC_TARGET_HOST" sudo kubeadm kubeconfig user --client-name "$GC_CLIENT_NAME" --org "$GC_CLIENT_ORG" \
  --validity-period "$GC_VALIDITY" > "$work/user.conf"
if ! grep -q '^kind: Config' "$work/user.conf"; then
  echo "bootstrap: kubeadm on $GC_TARGET_HOST printed no kubeconfig" >&2
  exit 4
fi
cat "$work/user.conf"
"""
    )


def admin_credential_command(
    target: InventoryHost,
    jump: SshJump,
    known_hosts: str,
    *,
    client_name: str,
    validity: str = ADMIN_CREDENTIAL_VALIDITY,
) -> CommandSpec:
    """The command that mints a `validity`-long cluster-admin kubeconfig for `client_name` on `target`."""
    if not _CLIENT_NAME.fullmatch(client_name):
        raise ValueError(f"client name {client_name!r}: letters, digits and . _ : @ - only")
    return _target_command(
        admin_credential_script(),
        target,
        jump,
        known_hosts,
        [],
        GC_CLIENT_NAME=client_name,
        GC_CLIENT_ORG=ADMIN_ORGANIZATION,
        GC_VALIDITY=validity,
    )


def rewrite_kubeconfig_server(kubeconfig: str, host: str, port: int = API_PORT) -> str:
    """Point every cluster of a kubeconfig at https://<host>:<port> (the API load balancer)."""
    data = yaml_io.load(kubeconfig)
    if not isinstance(data, dict) or data.get("kind") != "Config" or not data.get("clusters"):
        raise ValueError("not a kubeconfig with clusters")
    for cluster in data["clusters"]:
        cluster["cluster"]["server"] = f"https://{host}:{port}"
    return str(yaml.safe_dump(data, sort_keys=False))


def first_control_plane(hosts: Sequence[InventoryHost]) -> InventoryHost:
    """The node that runs `kubeadm init` and holds admin.conf."""
    return next(h for h in hosts if h.spec.role is NodeRole.CONTROL_PLANE)


def read_triggers(hosts: Sequence[InventoryHost], upgrade_triggers: Sequence[str]) -> list[str]:
    """The triggers of the cluster-CA and service-account-key reads: only what changes what they read.

    kubeadm writes the CA and sa.key/sa.pub on the first control-plane node at `kubeadm init`,
    once: a new first control plane (another instance or address) is a new cluster, and the
    upgrade step (`kubeadm upgrade`, which renews certificates) is re-read after to be sure. Not
    the playbook's inventory: a worker row added, a label or a taint changes neither file, so
    those runs do not read them again (issue 25).
    """
    first = first_control_plane(hosts)
    identity = f"{first.spec.name} {first.address} {first.host_key_alias or ''} {first.port}"
    return [f"control-plane:{hashlib.sha256(identity.encode()).hexdigest()}", *upgrade_triggers]
