"""The bootstrap executes before AWS does: the component's two commands, unmodified, against simulated hosts.

The first-run scenario. One simulated cluster for the module (tests/support/simulator/cluster.py):
a bastion and a control plane, a worker and a tainted infrastructure node of the dev stack's node
table, each with its own root, sshd and process namespace, inside a network namespace where nodes
answer only through the bastion. Each run is what `pulumi up` runs (`SimCluster.up`): the prepare
command (`prepare_command`: ansible/prepare.yml with the component's fingerprint) and then the
cluster command (`playbook_command(..., playbook=CLUSTER_PLAYBOOK)`), each the component's own
script, inventory, ssh_config and ansible.cfg (the key on stdin); the admin kubeconfig comes back
through `admin_credential_command` and `rewrite_kubeconfig_server`. Stand-ins play kubeadm, kubectl,
kubelet, containerd and the node's system tools; apt and dpkg are real. The simulated hosts run no
cloud-init, so the first prepare command installs the packages user data would have (the same
roles, which user data's packages leave unchanged: tests/roles/test_ansible_roles_user_data.py).
ansible/site.yml (both halves in one run, the manual path) is run by the faults and the upgrade
scenarios and by the third run here (`--tags node_config`).

**Reading the scenario** (new assertions go here as test functions taking `first_run`; never
build another cluster for them). The `first_run` fixture runs, once for the module:

1. `first_run.first`: both commands on the fresh hosts (must succeed; each node's marker written);
2. `first_run.second`: both commands again, as after a change of both commands' triggers: the
   prepare command leaves every node out (its marker holds the fingerprint) and the cluster command
   changes nothing. Preparing the nodes again is the upgrade scenario's `bootstrap_after` (every
   node, with a fingerprint the markers do not hold);
3. `first_run.restored`: site.yml `--tags node_config` after the labels and taints were removed by hand.

`first_run.first` and `.second` are `Up` runs: one Run of both commands (outputs in order, recaps
summed), with `.prepare` and `.cluster` the two.

`first_run.sim` is the cluster, still running: `sim.hosts[name].read(path)` reads a node's file
as it is now (runs 2 and 3 change no host file), `sim.cluster_state()` the cluster's state (the
API objects, joins, tokens, kubectl calls) as it is now; `first_run.state` is that state as it
was right after run 1. `first_run.settings` is the stack as parsed from Pulumi.dev.yaml;
`first_run.nodes` the node table's rows simulated, in table order.

What is asserted comes from the stack file (Pulumi.dev.yaml through `parse_settings`) and
versions.yaml, never from copies: after the first run, every host's containerd config, swap (now
and in fstab), modules, sysctls, pinned and held packages, the kubeadm config as rendered, every
join's token / CA hash / certificate key, the table's labels and taints applied through kubectl,
Calico's Installation and local-path objects, the Pod Security labels and the API server's
admission default, and the kubeconfig's server; the serving certificate requests the kubelets
filed (serverTLSBootstrap) judged by the approver's rule; the JWKS built from the control plane's
own service-account key; the second run prepares no node again and changes nothing (PLAY RECAP). The faults of issue 8
are tests/simulator/test_node_simulator_faults.py, three control planes and the upgrade
tests/simulator/test_node_simulator_upgrade.py.

Needs root (namespaces, mounts), sshd, sudo, iproute2, util-linux, gpg, openssl, dpkg-dev and
python3-apt: `.ci/run` installs them; under CI=true a missing one fails (tests/support/prereqs.py).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from components import oidc_issuer
from components.control_plane_reads import first_control_plane, service_account_keys_command
from components.settings.model import NodeRole, NodeSpec, StackSettings
from tests.support.identity import sign_like_kube_apiserver, verify_with_jwks
from tests.support.node_simulator import FAST, assert_recap
from tests.support.paths import ROOT
from tests.support.simulator.checks import (
    assert_cluster_built,
    assert_labels_and_taints,
    dev_settings,
    simulate,
    table_subset,
)
from tests.support.simulator.cluster import Run, SimCluster, Up
from tests.support.simulator.world import ubuntu_release

pytestmark = pytest.mark.simulator


@dataclass
class FirstRun:
    sim: SimCluster
    settings: StackSettings
    nodes: list[NodeSpec]
    first: Up
    state: dict[str, Any]
    second: Up
    restored: Run


@pytest.fixture(scope="module")
def first_run(world) -> Iterator[FirstRun]:
    """A control plane, a worker and a tainted infrastructure node of the dev table, taken through
    the first `pulumi up`'s two commands, both again, and a site.yml run of `--tags node_config`
    after labels were removed by hand."""
    settings = dev_settings()
    nodes = table_subset(settings, (NodeRole.CONTROL_PLANE, NodeRole.WORKER, NodeRole.INFRASTRUCTURE))
    for sim in simulate(world, settings, nodes):
        first = sim.up(FAST)
        state = sim.cluster_state()
        second = sim.up(FAST)

        # Labels and taints removed by hand, and the record of kubectl calls emptied.
        changed = sim.cluster_state()
        for node in nodes:
            live = changed["nodes"][node.name]
            for key in node.labels:
                live["metadata"]["labels"].pop(key)
            live.get("spec", {}).pop("taints", None)
        changed["kubectl"] = []
        (sim.dir / "cluster-state" / "cluster.json").write_text(json.dumps(changed))
        restored = sim.playbook(FAST, ["--tags", "node_config"])
        yield FirstRun(sim, settings, nodes, first, state, second, restored)


# --- the tests ---------------------------------------------------------------------------------------


def test_the_first_run_builds_the_cluster(first_run):
    assert_cluster_built(first_run.sim, first_run.settings, first_run.first, first_run.state)


def test_runs_authenticate_with_pushed_keys_and_the_old_stack_key_is_forgotten(first_run):
    """Each run pushed its own key to the bastion and every node (the EC2 Instance Connect
    stand-in recorded them); prepare.yml's last play removed the key an older stack registered
    (in ubuntu's authorized_keys since the hosts were made) from every node, and the prepare
    command's last line from the bastion."""
    sim = first_run.sim
    pushed = {r["InstanceId"] for r in sim.eic.requests}
    assert {sim.bastion.key_alias, *(h.key_alias for h in sim.hosts.values())} <= pushed
    assert {r["InstanceOSUser"] for r in sim.eic.requests} == {"ubuntu"}
    for name, host in {"bastion": sim.bastion, **sim.hosts}.items():
        assert not host.path("/home/ubuntu/.ssh/authorized_keys").exists(), f"{name} still accepts the old key"


def test_apt_ran_on_the_nodes_against_the_simulated_repositories_over_https(first_run):
    sim = first_run.sim
    assert first_run.first.returncode == 0, first_run.first.output[-6000:]
    sources = sim.hosts[sim.nodes[1].name].read("/etc/apt/sources.list.d/kubernetes.list")
    assert "https://pkgs.k8s.io/core:/stable:/v" in sources
    served = (sim.dir / "https.log").read_text()
    codename = ubuntu_release(first_run.settings.versions)[1]
    assert f"GET /linux/ubuntu/dists/{codename}/InRelease" in served and "/deb/InRelease" in served


def test_the_second_run_changes_nothing(first_run):
    second = first_run.second
    assert second.returncode == 0, second.output[-6000:]
    assert_recap(second, [n.name for n in first_run.nodes], changed=0, failed=0, unreachable=0)


def test_the_first_run_marks_every_node_and_the_second_prepares_none_again(first_run):
    """The prepare command's fingerprint: the first run prepared and marked every node, the second
    (same fingerprint) sorted each into `prepare_done`, so no prepare play ran on any host."""
    first, second = first_run.first.prepare, first_run.second.prepare
    assert first is not None and second is not None
    marked = first.task("Record what the node was prepared for")
    assert all(f"changed: [{n.name}]" in marked for n in first_run.nodes), marked
    for play in ("Check that the nodes to prepare can run Kubernetes", "Prepare the nodes (kernel settings"):
        block = second.output.split(f"PLAY [{play}")[1].split("\nPLAY [")[0]
        assert "skipping: no hosts matched" in block, f"{play} ran on a prepared node:\n{block[:3000]}"
    assert first_run.second.cluster is not None and "PLAY [Initialise the control plane" in first_run.second.output


def test_labels_and_taints_removed_by_hand_come_back_through_kubectl(first_run):
    restored, sim = first_run.restored, first_run.sim
    assert restored.returncode == 0, restored.output[-6000:]
    assert_labels_and_taints(sim, sim.cluster_state())
    tainted = [c for c in sim.cluster_state()["kubectl"] if "taint" in c]
    assert sorted(c[c.index("taint") + 2] for c in tainted) == sorted(n.name for n in first_run.nodes if n.taints)


def test_the_issuer_documents_come_from_the_control_planes_key(first_run, tmp_path):
    """The JWKS made from the simulated control plane's own service-account key (kubeadm's certs
    phase in the stand-in), read the way the bootstrap's `<name>-service-account-keys` command reads
    it (its script, through the bastion), built and checked with the program's code."""
    sim, tmp = first_run.sim, tmp_path
    cp = first_control_plane(sim.inventory_hosts())
    spec = service_account_keys_command(cp, sim.jump(), str(sim.known_hosts), [])
    read = subprocess.run(
        spec.argv, input="", env=sim.environment(spec), cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert read.returncode == 0, read.stderr[-2000:]
    pems = oidc_issuer.public_key_blocks(read.stdout)
    assert len(pems) == 1, read.stdout
    # As kubeadm writes them: PKCS #1 private key, PKIX public key, both 0600.
    host = sim.hosts[sim.nodes[0].name]
    for name in ("sa.key", "sa.pub"):
        assert host.path(f"/etc/kubernetes/pki/{name}").stat().st_mode & 0o777 == 0o600, name
    private = tmp / "sa.key"
    private.write_text(host.read("/etc/kubernetes/pki/sa.key"))
    assert private.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    document = json.loads(json.dumps(oidc_issuer.jwks(pems)))  # as published: JSON
    (entry,) = document["keys"]
    # kube-apiserver's kid (pkg/serviceaccount/jwt.go keyIDFromPublicKey): SHA-256 of the PKIX DER of
    # the signing key's public half, computed here from sa.key, not from what was read.
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert (entry["kid"], entry["alg"], entry["kty"], entry["use"]) == (kid, "RS256", "RSA", "sig")
    issuer = "https://d111111abcdef8.cloudfront.net"
    discovery = oidc_issuer.discovery_document(issuer)
    assert discovery["jwks_uri"] == f"{issuer}/{oidc_issuer.JWKS_PATH}"
    assert discovery["id_token_signing_alg_values_supported"] == [entry["alg"]]
    sub = oidc_issuer.service_account_subject("data", "postgresql")
    token = sign_like_kube_apiserver(private, kid, {"iss": issuer, "sub": sub, "aud": [oidc_issuer.STS_AUDIENCE]})
    assert verify_with_jwks(token, document)["sub"] == sub
    # Every control plane signs with the same key (download-certs): the JWKS holds it for all.
    for node in sim.nodes:
        if node.role is NodeRole.CONTROL_PLANE:
            assert sim.hosts[node.name].read("/etc/kubernetes/pki/sa.pub") == pems[0], node.name


def test_the_kubelets_serving_requests_are_judged_by_the_approvers_rule(first_run):
    """With serverTLSBootstrap (the kubeadm template), every kubelet asked the cluster for its serving
    certificate, and the approver, as our chart configures it for this VPC, approves each real request
    and denies the forged ones.

    The simulated VPC is the cluster's namespace, 127.X.Y.0/24 (tests/support/simulator/cluster.py);
    the approver is rendered from ../shared/charts with the root Application's patch for that range
    (rendered_approver), and its rule is the model written from kubelet-csr-approver v1.2.14
    (tests/support/kubelet_csr_approver.py).
    """
    import base64

    from cryptography import x509

    from tests.support.kubelet_csr_approver import decide, kubelet_serving_csr, rendered_approver

    sim, state = first_run.sim, first_run.state
    requests = [
        o for k, o in state["objects"].items() if k.startswith("certificates.k8s.io/CertificateSigningRequest/")
    ]
    config = rendered_approver(ipaddress.ip_network(f"{sim.prefix}.0/24"))
    assert config.bypass_dns_resolution and config.allowed_dns_names == 1
    names = [n.name for n in sim.nodes]
    by_node: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for csr in requests:
        spec = csr["spec"]
        assert spec["signerName"] == "kubernetes.io/kubelet-serving" and spec["usages"] == [
            "digital signature",
            "server auth",
        ]
        node = spec["username"].removeprefix("system:node:")
        request = x509.load_pem_x509_csr(base64.b64decode(spec["request"]))
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [node], csr["metadata"]["name"]
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [sim.hosts[node].address], node
        assert decide(config, csr) == ("approved", ""), f"{node}'s own request"
        by_node[node].append(csr)
    silent = [n for n, filed in by_node.items() if not filed]
    assert not silent, f"kubelets that never asked for a serving certificate: {silent}"
    # Nothing issues certificates in the simulation (no kube-controller-manager, no approver pod).
    assert all(not csr.get("status") for csr in requests)

    first, other = names[0], names[1]
    own, theirs = sim.hosts[first].address, sim.hosts[other].address
    real = by_node[first][0]
    stolen = json.loads(json.dumps(real))
    stolen["spec"]["username"] = "system:serviceaccount:kube-system:default"
    assert decide(config, stolen) == ("denied", "CSR Spec.Username is not prefixed with system:node:")
    forged = {
        "another node's identity in the subject": (
            kubelet_serving_csr(first, [first], [own], common_name=f"system:node:{other}"),
            "CSR username does not match the parsed x509 certificate request commonname",
        ),
        "an address outside the VPC": (
            kubelet_serving_csr(first, [first], [own, "10.0.16.20"]),
            "One of the SAN IP addresses, 10.0.16.20, is not partof the allowed IP Prefixes/Subnets, denying the CSR.",
        ),
        "a second name": (
            kubelet_serving_csr(first, [first, "kubernetes.default.svc"], [own]),
            "The x509 Cert Request contains more DNS names than allowed through the config flag",
        ),
    }
    for why, (csr, reason) in forged.items():
        assert decide(config, csr) == ("denied", reason), why
    # What v1.2.14 cannot see with bypassDnsResolution (node names are not in the VPC's DNS): a name
    # and an address of another node, each inside the rules. docs/reaching-the-apis.md states it; when
    # a check for it lands, this turns into a denial.
    for csr in (kubelet_serving_csr(first, [other], [own]), kubelet_serving_csr(first, [first], [theirs])):
        assert decide(config, csr) == ("approved", "")


def test_the_simulator_leaves_nothing_behind(world):
    settings = dev_settings()
    sim = SimCluster(
        world,
        table_subset(settings, (NodeRole.CONTROL_PLANE,)),
        settings.versions,
        settings.cluster_name,
        settings.pod_cidr,
        settings.service_cidr,
    )
    pids = [h.process.pid for h in (sim.bastion, *sim.hosts.values()) if h.process is not None]
    netns, directory, veth = sim.netns, sim.dir, sim.veth
    sim.close()
    assert not Path(f"/run/netns/{netns}").exists()
    assert not directory.exists()
    assert not any(
        Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text() for pid in pids
    )
    assert subprocess.run(["ip", "link", "show", f"{veth}h"], capture_output=True).returncode != 0
    assert shutil.which("ip")
