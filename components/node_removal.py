"""Removing a row of the node table drains the node and deletes its Node object before the instance goes.

One `local.Command` per node (`<name>-<node>-remove`) whose `create` and `update` do nothing and
whose `delete` runs, through the bastion on a control plane (the first of the table that is not
the node itself): refuse if the node is
the last control plane or if removing it would leave etcd without a healthy majority; `kubectl
drain` (PodDisruptionBudgets respected, bounded by a timeout that fails the run with the node's
name); for a control-plane node, `etcdctl member remove`; `kubectl delete node`. The command
depends on the node's instance, so Pulumi deletes it — runs the drain — before it terminates the
instance; a failed drain stops the run with the instance still there.

Why a delete step on a per-node resource rather than a playbook run: the order "drain, then
terminate" is then a dependency of the graph, visible in `pulumi preview` and tested under the
mock runtime, and a node that leaves the table is exactly a resource that is deleted.

`pulumi destroy` removes every node; draining them one by one would be slow and a datastore's
PodDisruptionBudget would block it. `make destroy` (or `GITOPS_CLUSTER_DESTROY=1 pulumi destroy`)
tells the step to skip; without it the step drains (docs/deployment.md, "Destroy").

No trigger: an input that changes (a new bastion address) updates the stored inputs with the
no-op `update`, never replaces the command, because a replacement would run the delete step on
a node that is still in the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi_command import local

from components.bastion_commands import (
    PREAMBLE,
    SSH_USER,
    bastion_alias,
    command_environment,
    default_known_hosts_file,
)
from components.inventory import SshJump
from components.settings.model import NodeRole, NodeSpec

TYPE_TOKEN = "gitops-cluster:node_removal:NodeRemoval"  # noqa: S105 (a Pulumi type token)
# The token it had before it named its own module: an alias, so a stack created with it keeps its
# removal steps. Without it the engine would replace them, and deleting a step drains its node.
PREVIOUS_TYPE_TOKEN = "gitops-cluster:nodes:NodeRemoval"  # noqa: S105
DRAIN_TIMEOUT_SECONDS = 600
SKIP_VARIABLE = "GITOPS_CLUSTER_DESTROY"

# Runs as root on another control-plane node (bash -s -- <node> <role> <timeout> [<kubectl>]).
REMOTE_SCRIPT = r"""set -euo pipefail
node="$1"; role="$2"; timeout="$3"; kubectl="${4:-kubectl}"
kc() { "$kubectl" --kubeconfig=/etc/kubernetes/admin.conf "$@"; }
if ! kc get node "$node" >/dev/null 2>&1; then
  echo "remove-node: $node is not registered in the cluster; nothing to drain"
  exit 0
fi
if [ "$role" = control-plane ]; then
  others="$(kc get nodes -l node-role.kubernetes.io/control-plane \
    -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
    | awk -v n="$node" '$1 != n')"
  count="$(printf '%s\n' "$others" | awk 'NF' | wc -l)"
  ready="$(printf '%s\n' "$others" | awk '$2 == "True"' | wc -l)"
  if [ "$count" -lt 1 ]; then
    echo "remove-node: refusing to remove $node: it is the last control plane" >&2
    exit 6
  fi
  if [ $((2 * ready)) -le "$count" ]; then
    echo "remove-node: refusing to remove $node: only $ready of the $count other control planes are Ready," \
      "so etcd would lose its majority; fix them first" >&2
    exit 6
  fi
fi
echo "remove-node: draining $node (timeout ${timeout}s)"
if ! kc drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout="${timeout}s"; then
  echo "remove-node: draining $node did not finish within ${timeout}s; a PodDisruptionBudget or a" \
    "stuck pod holds it (kubectl get pdb -A). The instance was NOT terminated. Move that workload" \
    "or lift its budget on purpose, then run pulumi up again." >&2
  exit 5
fi
if [ "$role" = control-plane ]; then
  etcd_pod="$(kc -n kube-system get pods -l component=etcd \
    -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}' \
    | awk -v n="$node" '$2 != n {print $1; exit}')"
  etcdctl=(kc -n kube-system exec "$etcd_pod" -- etcdctl --endpoints=https://127.0.0.1:2379
    --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt
    --key=/etc/kubernetes/pki/etcd/server.key)
  member="$("${etcdctl[@]}" member list | awk -F', ' -v n="$node" '$3 == n {print $1}')"
  if [ -n "$member" ]; then
    "${etcdctl[@]}" member remove "$member"
    echo "remove-node: removed etcd member $member ($node)"
  fi
fi
kc delete node "$node" --wait=true
echo "remove-node: $node drained and deleted"
"""


def removal_script() -> str:
    """The local delete script: reach the runner control plane through the bastion, run REMOTE_SCRIPT there."""
    return (
        f'if [ "${{{SKIP_VARIABLE}:-}}" = 1 ]; then\n'
        f'  echo "remove-node: {SKIP_VARIABLE}=1 (the whole stack is being destroyed); not draining $GC_NODE"\n'
        "  exit 0\n"
        "fi\n"
        + PREAMBLE
        + r"""printf '%s' "$GC_REMOTE_SCRIPT" > "$work/remove-node.sh"
alias_args=()
if [ -n "${GC_TARGET_HOST_KEY_ALIAS:-}" ]; then alias_args=(-o "HostKeyAlias=$GC_TARGET_HOST_KEY_ALIAS"); fi
ssh -F "$GC_SSH_CONFIG_FILE" -o "ProxyJump=$GC_BASTION_ALIAS" "${alias_args[@]}" -p "$GC_TARGET_PORT" \
  "$GC_TARGET_HOST" sudo bash -s -- "$GC_NODE" "$GC_NODE_ROLE" "$GC_DRAIN_TIMEOUT" "${GC_KUBECTL:-kubectl}" \
  < "$work/remove-node.sh"
"""
    )


def removal_environment(
    node: NodeSpec,
    target_host: str,
    jump: SshJump,
    known_hosts: str,
    *,
    target_port: int = 22,
    target_host_key_alias: str | None = None,
    timeout_seconds: int = DRAIN_TIMEOUT_SECONDS,
) -> dict[str, str]:
    """Plain values only (Pulumi shows a command's environment); the run makes its own key."""
    if timeout_seconds < 1:
        raise ValueError("the drain timeout must be at least one second")
    return command_environment(
        jump,
        known_hosts,
        GC_NODE=node.name,
        GC_NODE_ROLE=node.role.value,
        GC_DRAIN_TIMEOUT=str(timeout_seconds),
        GC_TARGET_HOST=target_host,
        GC_TARGET_PORT=str(target_port),
        GC_TARGET_HOST_KEY_ALIAS=target_host_key_alias or "",
        GC_REMOTE_SCRIPT=REMOTE_SCRIPT,
    )


@dataclass(frozen=True)
class RemovableNode:
    spec: NodeSpec
    instance: aws.ec2.Instance


@dataclass(frozen=True)
class NodeRemovalArgs:
    """nodes: every node with its instance, in table order. A node's step runs on the first control
    plane of the table that is not that node; a single control plane has no step (it is the last
    one, which the script would refuse anyway)."""

    project: str
    stack: str
    cluster_name: str
    nodes: Sequence[RemovableNode]
    bastion_host: pulumi.Input[str]
    bastion_instance_id: pulumi.Input[str]
    # The instances' region, where each step pushes its run's SSH key (EC2 Instance Connect).
    region: str = ""
    # Must still exist while a step runs: the bastion, the bootstrap (the cluster itself).
    after: Sequence[pulumi.Resource] = ()
    ssh_user: str = SSH_USER


def _environment_of(spec: NodeSpec, args: NodeRemovalArgs, known_hosts: str, values: list[Any]) -> dict[str, str]:
    target_ip, target_id, bastion, bastion_id = values
    jump = SshJump(
        bastion_alias(args.cluster_name),
        str(bastion),
        host_key_alias=bastion_id,
        user=args.ssh_user,
        region=args.region,
    )
    return removal_environment(spec, str(target_ip), jump, known_hosts, target_host_key_alias=target_id)


class NodeRemoval(pulumi.ComponentResource):
    """One delete-time drain step per node.

    Creates: `<name>-<node>-remove` (command.local.Command) for every node that has another control
    plane to run on, depending on that node's instance and on `after`; its delete drains the node
    and deletes its Node object (and its etcd member for a control plane) before the instance is
    terminated.
    """

    steps: Mapping[str, local.Command]

    def __init__(self, name: str, args: NodeRemovalArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        aliased = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=PREVIOUS_TYPE_TOKEN)])
        super().__init__(TYPE_TOKEN, name, None, pulumi.ResourceOptions.merge(opts, aliased))
        known_hosts = default_known_hosts_file(args.project, args.stack)
        control_planes = [n for n in args.nodes if n.spec.role is NodeRole.CONTROL_PLANE]
        steps: dict[str, local.Command] = {}
        for node in args.nodes:
            runner = next((cp for cp in control_planes if cp is not node), None)
            if runner is None:
                continue
            environment = pulumi.Output.all(
                runner.instance.private_ip, runner.instance.id, args.bastion_host, args.bastion_instance_id
            ).apply(partial(_environment_of, node.spec, args, known_hosts))
            steps[node.spec.name] = local.Command(
                f"{name}-{node.spec.name}-remove",
                create="true",
                update="true",
                delete=removal_script(),
                interpreter=["/bin/bash", "-c"],
                environment=environment,
                add_previous_output_in_env=False,
                logging=local.Logging.STDOUT,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # The runner must outlive the step too (two control-plane rows removed at once).
                    depends_on=[node.instance, runner.instance, *args.after],
                    additional_secret_outputs=["stdout", "stderr"],
                ),
            )
        self.steps = steps
        self.register_outputs({"steps": sorted(steps)})
