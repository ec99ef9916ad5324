"""The Ansible inventory and SSH client configuration of a stack, rendered from its node table.

Ansible never reads a hand-edited inventory: the bootstrap command renders both files from the
stack for every run, so the node table in Pulumi.<stack>.yaml is the one place a node, its role,
labels and taints are declared. These functions are pure (plain values in, text out) so the
output can be compared byte for byte with the golden files under tests/golden/ and hashed into
the command's triggers: the same stack renders the same bytes, and any change to a node shows.

Every node is reached through the bastion with ProxyJump. The jump hop cannot take `-i` or `-o`
options from the command line (OpenSSH passes only `-F` and `-v` to it), so the bastion, the
key, and host-key checking live in an ssh_config file given with `-F`; the key and known_hosts
paths in it are environment variables that the bootstrap script sets at run time (OpenSSH >= 8.4
expands `${VAR}` there), which keeps temporary paths out of the rendered text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from components import cluster_auth
from components.security import API_PORT
from components.settings.model import NodeRole, NodeSpec, StackSettings

# Inventory groups, one per role, all children of CLUSTER_GROUP (site.yml targets these names).
ROLE_GROUPS: Mapping[NodeRole, str] = {
    NodeRole.CONTROL_PLANE: "control_plane",
    NodeRole.API: "api",
    NodeRole.WORKER: "worker",
    NodeRole.INFRASTRUCTURE: "infrastructure",
}
CLUSTER_GROUP = "k8s_cluster"

# Environment variables the bootstrap script sets to the files it creates for one run.
SSH_CONFIG_ENV = "GC_SSH_CONFIG_FILE"
SSH_KEY_ENV = "GC_SSH_KEY_FILE"
KNOWN_HOSTS_ENV = "GC_KNOWN_HOSTS_FILE"
SSH_CONTROL_DIR_ENV = "GC_SSH_CONTROL_DIR"

# Ubuntu's python3; every play runs modules with it (no interpreter discovery round trip).
PYTHON_INTERPRETER = "/usr/bin/python3"


@dataclass(frozen=True)
class ClusterVars:
    """Cluster-wide facts the playbook reads as group vars of `all`.

    `api_endpoint` is what the nodes use: kubeadm's controlPlaneEndpoint (the internal load
    balancer). `api_public_endpoint` is the internet-facing, CIDR-limited one admins and CI use;
    it only has to be a certificate SAN of the API server.
    """

    name: str
    api_endpoint: str
    pod_cidr: ipaddress.IPv4Network
    service_cidr: ipaddress.IPv4Network
    api_port: int = API_PORT
    api_public_endpoint: str | None = None
    # The public service-account issuer (components/identity.py): kube-apiserver's
    # --service-account-issuer, so AWS IAM can verify the pods' projected tokens.
    service_account_issuer: str | None = None
    # The API server's `jwt` authenticators and the RBAC objects for their groups
    # (components/cluster_auth.py): CI's with ciGithubRepository, people's with apiServerOidc*; empty
    # without either.
    jwt_authenticators: tuple[Mapping[str, Any], ...] = ()
    ci_rbac_objects: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        api_endpoint: str,
        api_public_endpoint: str | None = None,
        service_account_issuer: str | None = None,
    ) -> ClusterVars:
        repository = settings.ci_github_repository
        people = settings.api_server_oidc
        authenticators = (
            [cluster_auth.jwt_authenticator(repository, settings.project, settings.stack)] if repository else []
        )
        rbac = list(cluster_auth.rbac_objects()) if repository else []
        if people is not None:
            authenticators.append(cluster_auth.people_authenticator(people))
            rbac += cluster_auth.people_rbac_objects(people)
        return cls(
            settings.cluster_name,
            api_endpoint,
            settings.pod_cidr,
            settings.service_cidr,
            api_public_endpoint=api_public_endpoint,
            service_account_issuer=service_account_issuer,
            jwt_authenticators=tuple(authenticators),
            ci_rbac_objects=tuple(rbac),
        )


@dataclass(frozen=True)
class InventoryHost:
    """A node as Ansible reaches it: its spec, its private address and its host-key identity.

    `host_key_alias` (the EC2 instance id) names the node's entry in known_hosts. Private IPs are
    reused when instances are replaced; keyed by instance id, a replacement is a new host that
    accept-new records, instead of a "host key changed" failure on a recycled address.
    """

    spec: NodeSpec
    address: str
    host_key_alias: str | None = None
    port: int = 22


@dataclass(frozen=True)
class SshJump:
    """The bastion every connection jumps through."""

    alias: str
    host: str
    port: int = 22
    host_key_alias: str | None = None
    user: str = "ubuntu"
    # The instances' AWS region: the kit pushes each run's SSH key there (EC2 Instance Connect,
    # components/bastion_commands.py). Empty: botocore's own (AWS_REGION, the profile's).
    region: str = ""


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key (as yamllint's default config wants)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)


def ssh_common_args(jump: SshJump) -> str:
    """The ssh options of every node connection: the stack's ssh_config and the jump through the bastion."""
    return f"-F {{{{ lookup('ansible.builtin.env', '{SSH_CONFIG_ENV}') }}}} -o ProxyJump={jump.alias}"


def _host_vars(host: InventoryHost, *, table: bool = True) -> dict[str, Any]:
    spec = host.spec
    hv: dict[str, Any] = {"ansible_host": host.address, "ansible_port": host.port}
    if host.host_key_alias is not None:
        hv["ansible_ssh_extra_args"] = f"-o HostKeyAlias={host.host_key_alias}"
    hv["node_role"] = spec.role.value
    if table:
        hv["node_labels"] = dict(sorted(spec.labels.items()))
        hv["node_taints"] = [{"key": t.key, "value": t.value, "effect": t.effect} for t in spec.taints]
    return hv


def render_inventory(
    cluster: ClusterVars | None,
    hosts: Sequence[InventoryHost],
    jump: SshJump,
    *,
    python_interpreter: str = PYTHON_INTERPRETER,
) -> str:
    """The YAML inventory: `all` vars for the cluster, a group per role under `k8s_cluster`.

    Hosts keep the node table's order inside each group (the first control-plane node runs
    `kubeadm init`). Empty role groups are still declared so plays that target them match nothing
    instead of warning about an unknown group.

    cluster=None renders the prepare playbook's inventory (ansible/prepare.yml): how to reach each
    node and its role, without the cluster's endpoints, networks, labels and taints, which the
    prepare roles do not read. So the prepare command needs no load balancer's name (it runs
    while they are created), and a label or an endpoint change does not re-run it.
    """
    names = [h.spec.name for h in hosts]
    if len(set(names)) != len(names):
        raise ValueError(
            f"duplicate node names in the inventory: {sorted(n for n in set(names) if names.count(n) > 1)}"
        )
    if not any(h.spec.role is NodeRole.CONTROL_PLANE for h in hosts):
        raise ValueError("the inventory needs at least one control-plane node")
    groups: dict[str, Any] = {}
    for role, group in ROLE_GROUPS.items():
        members = {h.spec.name: _host_vars(h, table=cluster is not None) for h in hosts if h.spec.role is role}
        groups[group] = {"hosts": members}
    connection = {
        "ansible_user": jump.user,
        "ansible_python_interpreter": python_interpreter,
        "ansible_ssh_common_args": ssh_common_args(jump),
    }
    header = (
        "# Rendered by components/inventory.py from the stack's node table for one bootstrap run.\n"
        "# Do not edit: change the node table (Pulumi.<stack>.yaml) and run `pulumi up`.\n"
    )
    if cluster is None:
        prepare = {"all": {"vars": connection, "children": {CLUSTER_GROUP: {"children": groups}}}}
        return header + "---\n" + _dump(prepare)
    inventory = {
        "all": {
            "vars": {
                **connection,
                "cluster_name": cluster.name,
                "cluster_api_endpoint": cluster.api_endpoint,
                **(
                    {"cluster_api_public_endpoint": cluster.api_public_endpoint}
                    if cluster.api_public_endpoint is not None
                    else {}
                ),
                "cluster_api_port": cluster.api_port,
                "cluster_pod_cidr": str(cluster.pod_cidr),
                "cluster_service_cidr": str(cluster.service_cidr),
                **(
                    {"cluster_service_account_issuer": cluster.service_account_issuer}
                    if cluster.service_account_issuer
                    else {}
                ),
                **(
                    {
                        "cluster_jwt_authenticators": [dict(a) for a in cluster.jwt_authenticators],
                        "cluster_ci_rbac_objects": [dict(o) for o in cluster.ci_rbac_objects],
                    }
                    if cluster.jwt_authenticators
                    else {}
                ),
            },
            "children": {CLUSTER_GROUP: {"children": groups}},
        }
    }
    return header + "---\n" + _dump(inventory)


def render_ssh_config(jump: SshJump) -> str:
    """The ssh_config every connection (and the ProxyJump hop) uses, given with `ssh -F`.

    Host keys: unknown hosts are accepted once into the stack's own known_hosts file
    (StrictHostKeyChecking=accept-new), a changed key stops the connection, and neither the
    user's nor the system's known_hosts is read or written. BatchMode never prompts.
    """
    lines = [
        "# Rendered by components/inventory.py; the bootstrap script sets the ${GC_*} variables.",
        f"Host {jump.alias}",
        f"  HostName {jump.host}",
        f"  Port {jump.port}",
    ]
    if jump.host_key_alias is not None:
        lines.append(f"  HostKeyAlias {jump.host_key_alias}")
    lines += [
        # Every node connection jumps through here: share one authenticated session.
        "  ControlMaster auto",
        f"  ControlPath ${{{SSH_CONTROL_DIR_ENV}}}/%C",
        "  ControlPersist 60",
        "Host *",
        f"  User {jump.user}",
        f"  IdentityFile ${{{SSH_KEY_ENV}}}",
        "  IdentitiesOnly yes",
        "  IdentityAgent none",
        f"  UserKnownHostsFile ${{{KNOWN_HOSTS_ENV}}}",
        "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking accept-new",
        "  HashKnownHosts no",
        "  BatchMode yes",
        "  ConnectTimeout 15",
        "  ServerAliveInterval 15",
        "  ServerAliveCountMax 4",
    ]
    return "\n".join(lines) + "\n"
