"""The bastion command kit: run a script on this machine that reaches the nodes through the bastion.

Every command that talks to the nodes (the bootstrap and upgrade playbooks and the kubeconfig
fetch in components/bootstrap.py, the drain of components/node_removal.py) is a pulumi-command
`local.Command` built from these parts:

- :data:`PREAMBLE`, the first half of each script: strict bash, a private 0600 work directory
  removed on exit, the secrets split from stdin into files (:data:`SPLIT_BUNDLE`), the key checked,
  the rendered ssh_config and the stack's own known_hosts in place, and the bastion reached first,
  so a refused key or a changed host key is reported plainly.
- :func:`command_environment`, what the script gets in its environment: rendered files and paths
  only, nothing secret (Pulumi shows a command's environment).
- :func:`secret_bundle`, what it reads on stdin: the SSH key and any secret extra vars.
- :class:`CommandSpec` and :func:`command_inputs`: a command as plain values, and as the inputs of
  `local.Command`, so tests run the very same invocation against a local sshd.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.inventory import SshJump, render_ssh_config

SSH_USER = "ubuntu"


def default_known_hosts_file(project: str, stack: str) -> str:
    """The stack's own known_hosts file (outside the repository, per user, never the global one)."""
    return f"~/.ssh/known_hosts.d/{project}-{stack}"


def bastion_alias(cluster_name: str) -> str:
    return f"{cluster_name}-bastion"


def secret_bundle(ssh_private_key: str, extra_vars: Mapping[str, Any] | None = None) -> str:
    """What a command reads on stdin: the SSH key and (playbook only) the secret extra vars."""
    return json.dumps({"sshPrivateKey": ssh_private_key, "extraVars": dict(extra_vars or {})}, sort_keys=True)


# Splits stdin into files; reads nothing but stdin and prints nothing it read. A JSON bundle
# gives the key and the secret vars; anything else is taken as the bare key (the node-removal
# commands send only that), with no secret vars. It sits inside double quotes in the script, so
# it holds no `"`, `$`, backquote or backslash.
SPLIT_BUNDLE = (
    "import json,sys,os; w=sys.argv[1]; t=sys.stdin.read(); b=None\n"
    "try: b=json.loads(t)\n"
    "except ValueError: pass\n"
    "b=b if isinstance(b,dict) and 'sshPrivateKey' in b else {'sshPrivateKey': t}\n"
    "open(os.path.join(w,'id_ssh'),'w').write(b['sshPrivateKey'])\n"
    "json.dump(b.get('extraVars') or {}, open(os.path.join(w,'secret-vars.json'),'w'))"
)

# The first half of every script of the kit. Everything dynamic arrives in GC_* environment variables
# (none secret) and the secrets on stdin.
PREAMBLE = (
    r"""set -euo pipefail
umask 077
if [ ! -f ansible/site.yml ]; then
  echo "bootstrap: run from the project root (ansible/site.yml not found in $PWD)" >&2
  exit 2
fi
if [ -x .venv/bin/ansible-playbook ]; then PATH="$PWD/.venv/bin:$PATH"; fi
# A short directory: ssh control sockets must fit in 104 bytes. GC_WORK_PARENT (default /tmp) lets
# a test give each run a parent of its own and check that nothing is left behind in it.
work="$(mktemp -d "${GC_WORK_PARENT:-/tmp}/gc-bootstrap.XXXXXX")"
cleanup() {
  ssh -F "$work/ssh_config" -O exit "$GC_BASTION_ALIAS" >/dev/null 2>&1 || true
  rm -rf -- "$work"
}
trap cleanup EXIT
# The secrets come on stdin only (a JSON bundle): never in argv, the environment or the output.
# umask 077 makes both files 0600; chmod says so for a reader.
if ! python3 -c "<<SPLIT>>" "$work" 2>/dev/null; then
  echo "bootstrap: could not write the secrets read on stdin to $work" >&2
  exit 2
fi
chmod 600 "$work/id_ssh" "$work/secret-vars.json"
if ! ssh-keygen -y -P '' -f "$work/id_ssh" >/dev/null 2>&1; then
  echo "bootstrap: the SSH private key is not an unencrypted OpenSSH private key; set sshPrivateKey to one." >&2
  exit 2
fi
printf '%s' "$GC_SSH_CONFIG" > "$work/ssh_config"
known_hosts="${GC_KNOWN_HOSTS/#\~/$HOME}"
mkdir -p "$(dirname "$known_hosts")"
touch "$known_hosts"
export GC_SSH_KEY_FILE="$work/id_ssh" GC_SSH_CONFIG_FILE="$work/ssh_config"
export GC_KNOWN_HOSTS_FILE="$known_hosts" GC_SSH_CONTROL_DIR="$work"
# OpenSSH < 8.4 reads ${VAR} in ssh_config literally and would fail later with a confusing error.
if ! ssh -T -F "$GC_SSH_CONFIG_FILE" -G "$GC_BASTION_ALIAS" | grep -qxF "userknownhostsfile $GC_KNOWN_HOSTS_FILE"; then
  echo "bootstrap: this ssh does not expand \${VAR} in ssh_config; install OpenSSH 8.4 or newer." >&2
  exit 2
fi
# Reach the bastion first: a refused key or a changed host key is reported plainly instead of as
# 14 unreachable nodes; a bastion still booting is waited for (bounded).
attempt=0
until out="$(ssh -F "$GC_SSH_CONFIG_FILE" "$GC_BASTION_ALIAS" true 2>&1)"; do
  attempt=$((attempt + 1))
  case "$out" in
    *"Permission denied"*)
      echo "bootstrap: the bastion refused the stack's SSH key (Permission denied): sshPrivateKey does" \
        "not match the key the instances were given. ssh said: $out" >&2
      exit 3 ;;
    *"Host key verification failed"*|*"IDENTIFICATION HAS CHANGED"*)
      echo "bootstrap: the bastion's host key differs from the one recorded in $GC_KNOWN_HOSTS_FILE." \
        "If the bastion was replaced, remove its entry with:" \
        "ssh-keygen -R $GC_BASTION_ALIAS -f $GC_KNOWN_HOSTS_FILE" >&2
      exit 3 ;;
  esac
  if [ "$attempt" -ge "${GC_BASTION_ATTEMPTS:-60}" ]; then
    echo "bootstrap: the bastion did not answer SSH after $attempt attempts: $out" >&2
    exit 3
  fi
  sleep 5
done
"""
).replace("<<SPLIT>>", SPLIT_BUNDLE)


@dataclass(frozen=True)
class CommandSpec:
    """Everything a local.Command runs with, as plain values (stdin, the key, is given apart)."""

    create: str
    environment: Mapping[str, str]
    triggers: Sequence[str]
    interpreter: Sequence[str] = ("/bin/bash", "-c")

    @property
    def argv(self) -> list[str]:
        return [*self.interpreter, self.create]


def command_environment(jump: SshJump, known_hosts: str, **extra: str) -> dict[str, str]:
    # Rendered files and paths only, nothing secret: Pulumi shows a command's environment.
    return {
        "GC_SSH_CONFIG": render_ssh_config(jump),
        "GC_KNOWN_HOSTS": known_hosts,
        "GC_BASTION_ALIAS": jump.alias,
        **extra,
    }


def command_inputs(spec: pulumi.Output[CommandSpec]) -> dict[str, pulumi.Output[Any]]:
    """A resolved CommandSpec as local.Command inputs (the key goes apart, on stdin)."""
    return {
        "create": spec.apply(lambda s: s.create),
        "interpreter": spec.apply(lambda s: list(s.interpreter)),
        "environment": spec.apply(lambda s: dict(s.environment)),
        "triggers": spec.apply(lambda s: list(s.triggers)),
    }
