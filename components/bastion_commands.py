"""The bastion command kit: run a script on this machine that reaches the nodes through the bastion.

Every command that talks to the nodes (the bootstrap and upgrade playbooks and the kubeconfig
fetch in components/bootstrap.py, the drain of components/node_removal.py) is a pulumi-command
`local.Command` built from these parts:

- :data:`PREAMBLE`, the first half of each script: strict bash, a private 0600 work directory
  removed on exit, the secret extra vars split from stdin into a file (:data:`SPLIT_BUNDLE`), the
  run's own ed25519 key made there and pushed with EC2 Instance Connect to the bastion and every
  instance the command reaches (tools/eic_push.py; renewed in the background while the run lasts),
  the rendered ssh_config and the stack's own known_hosts in place, and the bastion reached first,
  so a refused key or a changed host key is reported plainly. No private key is stored anywhere.
- :func:`command_environment`, what the script gets in its environment: rendered files and paths
  only, nothing secret (Pulumi shows a command's environment).
- :func:`secret_bundle`, what a playbook reads on stdin: the secret extra vars.
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


def secret_bundle(extra_vars: Mapping[str, Any] | None = None) -> str:
    """What a playbook command reads on stdin: the secret extra vars (no key: each run makes its own)."""
    return json.dumps({"extraVars": dict(extra_vars or {})}, sort_keys=True)


# Writes the secret extra vars read on stdin to a file; reads nothing but stdin and prints nothing
# it read. Anything but a JSON bundle (the commands that get no secrets read an empty stdin) gives
# no secret vars. It sits inside double quotes in the script, so it holds no `"`, `$`, backquote or
# backslash.
SPLIT_BUNDLE = (
    "import json,sys,os; w=sys.argv[1]; t=sys.stdin.read(); b=None\n"
    "try: b=json.loads(t)\n"
    "except ValueError: pass\n"
    "b=b if isinstance(b,dict) else {}\n"
    "json.dump(b.get('extraVars') or {}, open(os.path.join(w,'secret-vars.json'),'w'))"
)

# How long AWS keeps a pushed key, and how often the kit pushes it again ("The key remains for 60
# seconds", SendSSHPublicKey, EC2 Instance Connect API reference; tools/eic_push.py).
EIC_KEY_SECONDS = 60
EIC_REFRESH_SECONDS = 40

# The first half of every script of the kit. Everything dynamic arrives in GC_* environment variables
# (none secret) and the secrets on stdin.
PREAMBLE = (
    (
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
eic_refresher=""
cleanup() {
  if [ -n "$eic_refresher" ]; then kill "$eic_refresher" 2>/dev/null || true; fi
  ssh -F "$work/ssh_config" -O exit "$GC_BASTION_ALIAS" >/dev/null 2>&1 || true
  rm -rf -- "$work"
}
trap cleanup EXIT
# The secrets come on stdin only (a JSON bundle): never in argv, the environment or the output.
# umask 077 makes the file 0600; chmod says so for a reader.
if ! python3 -c "<<SPLIT>>" "$work" 2>/dev/null; then
  echo "bootstrap: could not write the secrets read on stdin to $work" >&2
  exit 2
fi
chmod 600 "$work/secret-vars.json"
# No stored key: this run's own ed25519 key, in the private directory and gone with it. EC2 Instance
# Connect gives its public half to the bastion and every instance the command reaches, for 60 s of
# new connections; a background push renews it every GC_EIC_REFRESH_SECONDS until the script ends.
ssh-keygen -q -t ed25519 -N '' -C "gitops-cluster-run" -f "$work/id_ssh"
eic_python="$PWD/.cache/eic/bin/python"
if [ ! -x "$eic_python" ]; then
  echo "bootstrap: $eic_python is missing: run \`make venv\` (it installs botocore for EC2 Instance Connect)." >&2
  exit 2
fi
read -r -a eic_instances <<< "${GC_EIC_INSTANCES:-}"
if [ "${#eic_instances[@]}" -eq 0 ]; then
  echo "bootstrap: no instance to push this run's SSH key to (GC_EIC_INSTANCES is empty)." >&2
  exit 2
fi
eic_args=(--user "$GC_EIC_USER" --public-key "$work/id_ssh.pub" --region "${GC_EIC_REGION:-}")
"$eic_python" tools/eic_push.py "${eic_args[@]}" "${eic_instances[@]}" || exit 3
"$eic_python" tools/eic_push.py "${eic_args[@]}" --every "${GC_EIC_REFRESH_SECONDS:-<<REFRESH>>}" --parent $$ \
  "${eic_instances[@]}" </dev/null >/dev/null &
eic_refresher=$!
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
      echo "bootstrap: the bastion refused this run's SSH key (Permission denied) although EC2 Instance" \
        "Connect took it: the bastion's sshd must run the ec2-instance-connect AuthorizedKeysCommand" \
        "(docs/bootstrap.md, \"The SSH path\"). ssh said: $out" >&2
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
    )
    .replace("<<SPLIT>>", SPLIT_BUNDLE)
    .replace("<<REFRESH>>", str(EIC_REFRESH_SECONDS))
)


@dataclass(frozen=True)
class CommandSpec:
    """Everything a local.Command runs with, as plain values (stdin, the secret vars, is given apart)."""

    create: str
    environment: Mapping[str, str]
    triggers: Sequence[str]
    interpreter: Sequence[str] = ("/bin/bash", "-c")

    @property
    def argv(self) -> list[str]:
        return [*self.interpreter, self.create]


def command_environment(
    jump: SshJump, known_hosts: str, *, instances: Sequence[str | None] = (), **extra: str
) -> dict[str, str]:
    """Rendered files, paths and IDs only, nothing secret: Pulumi shows a command's environment.

    GC_EIC_INSTANCES: the instances the run's key is pushed to: the bastion (the jump's
    host_key_alias, its instance id), `instances` and the GC_TARGET_HOST_KEY_ALIAS of `extra`.
    """
    pushed = [jump.host_key_alias, *instances, extra.get("GC_TARGET_HOST_KEY_ALIAS")]
    ids = list(dict.fromkeys(i for i in pushed if i))
    return {
        "GC_SSH_CONFIG": render_ssh_config(jump),
        "GC_KNOWN_HOSTS": known_hosts,
        "GC_BASTION_ALIAS": jump.alias,
        "GC_EIC_INSTANCES": " ".join(ids),
        "GC_EIC_USER": jump.user,
        "GC_EIC_REGION": jump.region,
        **extra,
    }


def command_inputs(spec: pulumi.Output[CommandSpec]) -> dict[str, pulumi.Output[Any]]:
    """A resolved CommandSpec as local.Command inputs (secret extra vars go apart, on stdin)."""
    return {
        "create": spec.apply(lambda s: s.create),
        "interpreter": spec.apply(lambda s: list(s.interpreter)),
        "environment": spec.apply(lambda s: dict(s.environment)),
        "triggers": spec.apply(lambda s: list(s.triggers)),
    }
