"""The node simulator's stand-ins print what the real tools print and keep state as they do.

Each stand-in runs as a program (tests/support/simulator/standins.py under the tool's name) against a
temporary root (GITOPS_SIM_ROOT), and its output is compared with the recorded real outputs under
tests/fixtures/standins/ (README there says where each came from): the same lines and spacing,
with values of the same shape where the real ones are random (tokens, hashes, keys).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import tomllib

import pytest
import yaml

from tests.support.paths import ROOT
from tests.support.simulator.cluster import os_release
from tests.support.simulator.standins import JsonPath
from tests.support.simulator.upstream import UpstreamError, artifacts, release, release_file
from tests.support.simulator.world import containerd_default_config, containerd_package_version, ubuntu_release
from tests.support.standins_scenario import FIXTURES, INIT, VERSIONS, Node

ROLES = ROOT / "ansible" / "roles"


def shape(text: str) -> str:
    """The output with its random values replaced by their kind, so two real runs compare equal."""
    text = re.sub(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b", "<token>", text)
    text = re.sub(r"sha256:[a-f0-9]{64}", "<ca-hash>", text)
    text = re.sub(r"\b[a-f0-9]{64}\b", "<key>", text)
    return re.sub(r"kubeadm join \S+:\d+ ", "kubeadm join <endpoint> ", text)


def join_config(token: str, ca_hash: str, key: str | None = None, name: str = "worker") -> str:
    text = (
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n"
        f'    apiServerEndpoint: api.example:6443\n    token: "{token}"\n    caCertHashes: ["{ca_hash}"]\n'
        f"nodeRegistration:\n  name: {name}\n  taints:\n    - {{key: dedicated, value: db, effect: NoSchedule}}\n"
    )
    if key is not None:
        text += f'controlPlane:\n  localAPIEndpoint: {{advertiseAddress: 10.0.1.11}}\n  certificateKey: "{key}"\n'
    return text


@pytest.fixture
def cp(tmp_path) -> Node:
    node = Node(tmp_path / "cp")
    result = node.run(
        "kubeadm", "init", "--config", node.write("/etc/kubernetes/kubeadm-config.yaml", INIT), "--skip-token-print"
    )
    assert result.returncode == 0, result.stderr
    return node


def test_print_join_command_matches_the_recorded_output(cp):
    recorded = (FIXTURES / "kubeadm-token-create-print-join-command.txt").read_text()
    printed = cp.run("kubeadm", "token", "create", "--ttl", "30m", "--print-join-command")
    assert printed.returncode == 0, printed.stderr
    assert (
        shape(printed.stdout)
        == shape(recorded)
        == ("kubeadm join <endpoint> --token <token> --discovery-token-ca-cert-hash <ca-hash> \n")
    )
    assert printed.stdout.startswith("kubeadm join api.example:6443 --token ")


def test_upload_certs_matches_the_recorded_output(cp):
    recorded = (FIXTURES / "kubeadm-init-phase-upload-certs.txt").read_text()
    printed = cp.run("kubeadm", "init", "phase", "upload-certs", "--upload-certs")
    assert printed.returncode == 0, printed.stderr
    assert shape(printed.stdout) == shape(recorded)
    assert printed.stdout.splitlines()[-1] == cp.cluster()["certificateKey"]


def test_a_second_init_fails_like_kubeadm(cp):
    again = cp.run("kubeadm", "init", "--config", "/etc/kubernetes/kubeadm-config.yaml")
    assert again.returncode == 1
    assert (
        "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: "
        "/etc/kubernetes/manifests/kube-apiserver.yaml already exists" in again.stderr
    )
    assert "To see the stack trace of this error execute with --v=5 or higher" in again.stderr


def test_joins_need_the_issued_token_hash_and_key_and_happen_once(cp, tmp_path):
    token = cp.run("kubeadm", "token", "create", "--print-join-command").stdout.split()[4]
    key = cp.run("kubeadm", "init", "phase", "upload-certs", "--upload-certs").stdout.split()[-1]
    ca_hash = cp.cluster()["caCertHash"]
    worker = Node(tmp_path / "worker")  # its own files, the same cluster
    (worker.root / "var/lib/gitops-sim-cluster").symlink_to(cp.root / "var/lib/gitops-sim-cluster")

    wrong_hash = worker.run(
        "kubeadm", "join", "--config", worker.write("/j.yaml", join_config(token, "sha256:" + "0" * 64))
    )
    assert wrong_hash.returncode == 1 and "none of the public keys" in wrong_hash.stderr
    wrong_key = worker.run(
        "kubeadm", "join", "--config", worker.write("/j.yaml", join_config(token, ca_hash, "1" * 64, "cp-2"))
    )
    assert wrong_key.returncode == 1 and "error downloading certs" in wrong_key.stderr

    joined = worker.run(
        "kubeadm", "join", "--config", worker.write("/j.yaml", join_config(token, ca_hash, key, "cp-2"))
    )
    assert joined.returncode == 0, joined.stderr
    state = cp.cluster()
    assert state["joins"] == [
        {
            "node": "cp-2",
            "token": token,
            "caCertHashes": [ca_hash],
            "controlPlane": True,
            "certificateKey": key,
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
        }
    ]
    assert (worker.root / "etc/kubernetes/kubelet.conf").exists()
    twice = worker.run("kubeadm", "join", "--config", worker.write("/j.yaml", join_config(token, ca_hash, key, "cp-2")))
    assert twice.returncode == 1 and "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]" in twice.stderr


def test_init_writes_the_service_account_key_pair_as_kubeadm_does_and_control_planes_share_it(cp, tmp_path):
    """kubeadm's certs phase (v1.36 CreateServiceAccountKeyAndPublicKeyFiles, pkiutil.WriteKey and
    WritePublicKey): RSA 2048, sa.key PEM "RSA PRIVATE KEY" (PKCS #1), sa.pub PEM "PUBLIC KEY"
    (PKIX) of the same key, both 0600; a joining control plane downloads the same pair."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pki = cp.root / "etc/kubernetes/pki"
    private_text, public_text = (pki / "sa.key").read_text(), (pki / "sa.pub").read_text()
    assert private_text.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert public_text.startswith("-----BEGIN PUBLIC KEY-----\n")
    for name in ("sa.key", "sa.pub"):
        assert (pki / name).stat().st_mode & 0o777 == 0o600, name
    key = serialization.load_pem_private_key(private_text.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.PEM, spki).decode() == public_text

    token = cp.run("kubeadm", "token", "create", "--print-join-command").stdout.split()[4]
    certificate_key = cp.run("kubeadm", "init", "phase", "upload-certs", "--upload-certs").stdout.split()[-1]
    second = Node(tmp_path / "cp-2")
    (second.root / "var/lib/gitops-sim-cluster").symlink_to(cp.root / "var/lib/gitops-sim-cluster")
    config = join_config(token, cp.cluster()["caCertHash"], certificate_key, "cp-2")
    assert second.run("kubeadm", "join", "--config", second.write("/j.yaml", config)).returncode == 0
    assert (second.root / "etc/kubernetes/pki/sa.pub").read_text() == public_text
    assert (second.root / "etc/kubernetes/pki/sa.key").stat().st_mode & 0o777 == 0o600


def test_config_validate_names_the_field_like_kubeadm(cp):
    bad = cp.run("kubeadm", "config", "validate", "--config", cp.write("/bad.yaml", join_config("", "sha256:xyz")))
    assert bad.returncode == 1
    assert 'discovery.bootstrapToken.token: Invalid value: "": the bootstrap token is invalid' in bad.stderr
    assert 'discovery.bootstrapToken.caCertHashes: Invalid value: "sha256:xyz"' in bad.stderr
    empty_key = cp.run(
        "kubeadm",
        "config",
        "validate",
        "--config",
        cp.write("/k.yaml", join_config("abcdef.0123456789abcdef", "sha256:" + "a" * 64, "")),
    )
    assert 'controlPlane.certificateKey: Invalid value: ""' in empty_key.stderr
    good = cp.run("kubeadm", "config", "validate", "--config", "/etc/kubernetes/kubeadm-config.yaml")
    assert (good.returncode, good.stdout) == (0, "ok\n")


def test_a_timed_out_init_leaves_admin_conf_and_no_api(tmp_path):
    node = Node(tmp_path / "cp")
    node.write("/etc/gitops-sim/faults/init-timeout", "")
    failed = node.run("kubeadm", "init", "--config", node.write("/etc/kubernetes/kubeadm-config.yaml", INIT))
    assert failed.returncode == 1 and "wait-control-plane" in failed.stderr
    assert (node.root / "etc/kubernetes/admin.conf").exists()
    down = node.run("kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes")
    assert down.returncode == 1
    assert (
        down.stderr == "The connection to the server api.example:6443 was refused - did you specify the right "
        "host or port?\n"
    )
    assert node.run("kubeadm", "reset", "-f").returncode == 0
    assert node.run("kubeadm", "init", "--config", "/etc/kubernetes/kubeadm-config.yaml").returncode == 0


def test_kubectl_answers_the_playbooks_queries_from_the_cluster_state(cp):
    kubeconfig = "/etc/kubernetes/admin.conf"

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return cp.run("kubectl", "--kubeconfig", kubeconfig, *args)

    ready = yaml.safe_load((ROLES / "cluster_ready/defaults/main.yml").read_text())["cluster_ready_jsonpath"]
    assert kubectl("get", "nodes", f"--output=jsonpath={ready}").stdout == "master False\n"
    installation = cp.write(
        "/installation.yaml",
        ("apiVersion: operator.tigera.io/v1\nkind: Installation\nmetadata: {name: default}\nspec: {}\n"),
    )
    crds = cp.install_upstream("calico", "manifests/operator-crds.yaml")
    assert kubectl("apply", "--server-side", "-f", crds).returncode == 0
    assert (
        kubectl("get", "installations.operator.tigera.io", "default", "--ignore-not-found", "--output=name").stdout
        == ""
    )
    created = kubectl("create", "--field-manager=x", "-f", installation)
    assert created.stdout == "installation.operator.tigera.io/default created\n"
    again = kubectl("create", "-f", installation)
    assert again.returncode == 1 and "(AlreadyExists)" in again.stderr and '"default" already exists' in again.stderr
    assert kubectl("get", "nodes", f"--output=jsonpath={ready}").stdout == "master True\n"

    assert kubectl("label", "node", "master", "--overwrite", "workload=db").stdout == "node/master labeled\n"
    assert (
        kubectl("taint", "node", "master", "--overwrite", "dedicated=db:NoSchedule").stdout == "node/master tainted\n"
    )
    nodes = json.loads(kubectl("get", "nodes", "--output=json").stdout)
    assert nodes["kind"] == "List" and nodes["items"][0]["metadata"]["labels"]["workload"] == "db"
    assert {"key": "dedicated", "value": "db", "effect": "NoSchedule"} in nodes["items"][0]["spec"]["taints"]
    missing = kubectl("get", "namespace", "tigera-operator")
    assert missing.stderr == 'Error from server (NotFound): namespaces "tigera-operator" not found\n'


def test_jsonpath_reads_escaped_keys_like_kubectl():
    template = yaml.safe_load((ROLES / "storage/defaults/main.yml").read_text())["storage_default_jsonpath"]
    data = {
        "items": [
            {
                "metadata": {
                    "name": "local-path",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                }
            },
            {"metadata": {"name": "gp2"}},
        ]
    }
    assert JsonPath(template).render(data) == "local-path true\ngp2 \n"


def test_node_tools_keep_state_per_host(tmp_path):
    node = Node(tmp_path / "n")
    node.write("/etc/fstab", "/swap.img none swap sw 0 0\n")
    node.write("/var/lib/gitops-sim/swap.json", '["/swap.img"]')
    assert node.run("swapon", "--show=NAME", "--noheadings").stdout == "/swap.img\n"
    assert node.run("swapoff", "--all").returncode == 0
    assert node.run("swapon", "--show=NAME", "--noheadings").stdout == ""
    node.write("/usr/lib/systemd/system/containerd.service", "[Unit]\n")
    assert node.run("systemctl", "is-enabled", "containerd").returncode == 1
    node.run("systemctl", "enable", "containerd")
    node.run("systemctl", "restart", "containerd")
    show = node.run("systemctl", "show", "containerd").stdout
    assert "LoadState=loaded" in show and "ActiveState=active" in show and "UnitFileState=enabled" in show
    assert "LoadState=not-found" in node.run("systemctl", "show", "nothing").stdout
    node.write("/etc/sysctl.d/90-kubernetes.conf", "net.ipv4.ip_forward = 1\n")
    assert node.run("sysctl", "--load", "/etc/sysctl.d/90-kubernetes.conf").stdout == "net.ipv4.ip_forward = 1\n"
    assert node.run("sysctl", "-n", "net.ipv4.ip_forward").stdout == "1\n"


def test_containerd_prints_the_recorded_default_config_of_its_line(tmp_path):
    node = Node(tmp_path / "n")
    recorded = containerd_default_config("1.7.25-1")
    node.write("/usr/share/gitops-sim/containerd-config-default.toml", recorded.read_text())
    printed = node.run("containerd", "config", "default").stdout
    assert printed == recorded.read_text()
    config = tomllib.loads(printed)
    assert config["version"] == 2
    assert (
        config["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"]
        is False
    )
    with pytest.raises(FileNotFoundError, match=r"no recorded `containerd config default` for containerd 9\.9"):
        containerd_default_config("9.9.0-1")


def test_the_host_image_is_the_ubuntu_of_the_ami_pin_and_the_preflight_accepts_it():
    versions = yaml.safe_load((ROOT / "versions.yaml").read_text())
    release, codename = ubuntu_release(versions)
    assert f"-{release}-" in versions["ubuntuAmiName"] and f"ubuntu-{codename}-" in versions["ubuntuAmiName"]
    wanted = yaml.safe_load((ROLES / "preflight/defaults/main.yml").read_text())["preflight_supported_systems"]
    fields = dict(line.split("=", 1) for line in os_release(release, codename).splitlines())
    system = f"{fields['NAME'].strip(chr(34))} {fields['VERSION_ID'].strip(chr(34))}"
    assert any(re.search(pattern, system) for pattern in wanted), system


def test_containerd_package_versions_follow_dockers_naming():
    jammy = {"ubuntuAmiName": "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20251015"}
    noble = {"ubuntuAmiName": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20260904"}
    assert containerd_package_version({**jammy, "containerd": "1.7.25-1"}) == "1.7.25-1"
    assert containerd_package_version({**noble, "containerd": "2.3.4-1"}) == "2.3.4-1~ubuntu.24.04~noble"


# --- what the API server serves: the kinds the applied documents really create --------------------


def test_the_served_release_files_are_the_published_ones_at_the_pinned_tags():
    """Every file the roles download is in ../shared/upstream at the tag versions.yaml pins, sha256 as listed."""
    for key, project in (
        ("calico", "projectcalico/calico"),
        ("localPathProvisioner", "rancher/local-path-provisioner"),
    ):
        files = release(key, VERSIONS)
        assert {a.project for a in files} == {project} and {a.tag for a in files} == {VERSIONS[key]}
    served = {a.url_path for a in artifacts()}
    calico = VERSIONS["calico"]
    assert f"projectcalico/calico/{calico}/manifests/operator-crds.yaml" in served
    assert f"projectcalico/calico/{calico}/manifests/tigera-operator.yaml" in served
    with pytest.raises(UpstreamError, match=r"versions.yaml calico: 'v9.9.9', but .* holds projectcalico/calico at v"):
        release("calico", {**VERSIONS, "calico": "v9.9.9"})


def test_an_altered_release_file_is_refused(tmp_path):
    source = release_file("calico", VERSIONS, "manifests/custom-resources.yaml")
    directory = tmp_path / "upstream"
    shutil.copytree(source.parent.parent, directory)
    (directory / source.parent.name / source.name).chmod(0o644)
    (directory / source.parent.name / source.name).write_text("# edited\n")
    with pytest.raises(UpstreamError, match=r"custom-resources.yaml: sha256 is [0-9a-f]{64}, but .* lists"):
        artifacts(directory)


def test_a_custom_resource_of_an_unknown_kind_fails_like_kubectl_apply(cp):
    """No CRD, no kind: the message of k8s.io/cli-runtime's mapper (pkg/resource/mapper.go), exit 1."""
    kubectl = functools.partial(cp.run, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf")
    installation = cp.write(
        "/installation.yaml", "apiVersion: operator.tigera.io/v1\nkind: Installation\nmetadata: {name: default}\n"
    )
    refused = kubectl("create", "-f", installation)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        'error: resource mapping not found for name: "default" namespace: "" from "/installation.yaml": '
        'no matches for kind "Installation" in version "operator.tigera.io/v1"\nensure CRDs are installed first\n'
    )
    unknown = kubectl("get", "installations.operator.tigera.io", "default", "--ignore-not-found")
    assert (unknown.returncode, unknown.stderr) == (
        1,
        'error: the server doesn\'t have a resource type "installations"\n',
    )
    assert kubectl("diff", "--server-side", "-f", installation).returncode == 2


def test_the_old_calico_order_fails_and_the_released_one_works(cp):
    """Since Calico 3.30 tigera-operator.yaml holds no CRD: applying it alone leaves the Installation unknown."""
    kubectl = functools.partial(cp.run, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf")
    operator = cp.install_upstream("calico", "manifests/tigera-operator.yaml")
    applied = kubectl("apply", "--server-side", "--force-conflicts", "-f", operator)
    assert applied.returncode == 0, applied.stderr
    assert "namespace/tigera-operator serverside-applied\n" in applied.stdout
    assert "customresourcedefinition" not in applied.stdout
    waited = kubectl("wait", "--for=condition=Established", "--timeout=5s", "crd/installations.operator.tigera.io")
    assert waited.returncode == 1
    assert waited.stderr == (
        "Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "
        '"installations.operator.tigera.io" not found\n'
    )

    crds = cp.install_upstream("calico", "manifests/operator-crds.yaml")
    applied = kubectl("apply", "--server-side", "--force-conflicts", "-f", crds)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("customresourcedefinition.apiextensions.k8s.io/") == 32
    waited = kubectl("wait", "--for=condition=Established", "--timeout=5s", "crd/installations.operator.tigera.io")
    assert (
        waited.stdout
        == "customresourcedefinition.apiextensions.k8s.io/installations.operator.tigera.io condition met\n"
    )
    assert kubectl("diff", "--server-side", "-f", crds).returncode == 0
    assert kubectl("diff", "--server-side", "-f", operator).returncode == 0


def test_a_namespaced_object_needs_its_namespace(cp):
    kubectl = functools.partial(cp.run, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf")
    config_map = cp.write("/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: nowhere}\n")
    refused = kubectl("apply", "--server-side", "-f", config_map)
    assert refused.returncode == 1 and 'namespaces "nowhere" not found' in refused.stderr


def test_kubectl_reaches_the_endpoint_and_each_control_planes_own_api_server_only(cp):
    def get(server: str) -> subprocess.CompletedProcess[str]:
        return cp.run("kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", f"--server={server}", "get", "nodes")

    assert get("https://10.0.1.10:6443").returncode == 0
    assert get("https://api.example:6443").returncode == 0
    refused = get("https://10.0.1.99:6443")
    assert refused.returncode == 1 and "The connection to the server 10.0.1.99:6443 was refused" in refused.stderr


# --- the kubelet's serving certificate (issue 19) ----------------------------------------------------

SERVING_INIT = INIT.replace(
    "nodeRegistration: {name: master}",
    "nodeRegistration:\n  name: master\n  kubeletExtraArgs:\n    - {name: node-ip, value: 10.0.1.10}",
) + ("---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserverTLSBootstrap: true\n")


def _serving_csrs(state: dict) -> list[dict]:
    return [o for k, o in state["objects"].items() if k.startswith("certificates.k8s.io/CertificateSigningRequest/")]


def test_with_server_tls_bootstrap_each_kubelet_files_a_serving_request_like_the_kubelet(tmp_path):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from tests.support.kubelet_csr_approver import ApproverConfig, decide, kubelet_serving_csr

    node = Node(tmp_path / "cp")
    init = node.run("kubeadm", "init", "--config", node.write("/etc/kubernetes/kubeadm-config.yaml", SERVING_INIT))
    assert init.returncode == 0, init.stderr
    # kubeadm's kubelet-start phase wrote the kubelet's configuration and flags.
    assert yaml.safe_load((node.root / "var/lib/kubelet/config.yaml").read_text())["serverTLSBootstrap"] is True
    assert "--node-ip=10.0.1.10" in (node.root / "var/lib/kubelet/kubeadm-flags.env").read_text()
    state = node.cluster()
    assert state["nodes"]["master"]["status"]["addresses"] == [
        {"type": "InternalIP", "address": "10.0.1.10"},
        {"type": "Hostname", "address": "master"},
    ]
    (csr,) = _serving_csrs(state)
    spec = csr["spec"]
    assert re.fullmatch(r"csr-[a-z0-9]{5}", csr["metadata"]["name"])
    assert spec["signerName"] == "kubernetes.io/kubelet-serving"
    assert spec["username"] == "system:node:master"
    assert spec["groups"] == ["system:nodes", "system:authenticated"]
    assert spec["usages"] == ["digital signature", "server auth"]
    # A real PKCS#10 request, shaped as the approver model's builder shapes the kubelet's.
    import base64

    request = x509.load_pem_x509_csr(base64.b64decode(spec["request"]))
    model = x509.load_pem_x509_csr(
        base64.b64decode(kubelet_serving_csr("master", ["master"], ["10.0.1.10"])["spec"]["request"])
    )
    assert request.is_signature_valid
    assert request.subject == model.subject
    assert request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:master"
    san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["master"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.1.10")]
    assert [e.oid for e in request.extensions] == [e.oid for e in model.extensions]
    key = request.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert "PRIVATE KEY" not in json.dumps(state), "the kubelet's key left its host"
    config = ApproverConfig(
        provider_regex=".*", ip_prefixes=(ipaddress.ip_network("10.0.1.0/24"),), bypass_dns_resolution=True
    )
    assert decide(config, csr) == ("approved", "")

    kubectl = node.run("kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "csr")
    header, row = kubectl.stdout.splitlines()
    assert header.split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    assert row.split()[0] == csr["metadata"]["name"]
    assert row.split()[2:] == ["kubernetes.io/kubelet-serving", "system:node:master", "<none>", "Pending"]
    selected = node.run(
        "kubectl",
        "--kubeconfig",
        "/etc/kubernetes/admin.conf",
        "get",
        "csr",
        "--field-selector",
        "spec.signerName=kubernetes.io/kube-apiserver-client-kubelet",
        "-o",
        "json",
    )
    assert json.loads(selected.stdout)["items"] == []

    # Without a certificate issued, a restarted kubelet asks again, with a new key.
    (node.root / "usr/lib/systemd/system/kubelet.service").write_text("[Service]\n")
    (node.root / "usr/share/gitops-sim/kubelet.version").write_text("1.31.4-1.1\n")
    assert node.run("systemctl", "restart", "kubelet").returncode == 0
    first, second = sorted(_serving_csrs(node.cluster()), key=lambda o: o["spec"]["request"] != spec["request"])
    assert first["spec"]["request"] == spec["request"] and second["spec"]["request"] != spec["request"]


def test_without_server_tls_bootstrap_no_request_is_filed(cp):
    assert _serving_csrs(cp.cluster()) == []
    assert cp.cluster()["nodes"]["master"]["status"]["addresses"][-1] == {"type": "Hostname", "address": "master"}
