"""The calico role installs the release as its own files say: operator CRDs first, then the operator.

Read from the published release files (../shared/upstream, tests/support/simulator/upstream.py), not
from memory: since Calico 3.30 `tigera-operator.yaml` holds no CustomResourceDefinition and
`operator-crds.yaml` holds the operator's (Installation among them), so the role must apply the
second before the first and wait for the CRD it creates an instance of. The node simulator runs
the role against these files (tests/simulator/test_node_simulator*.py); this checks the role's own tables.
"""

from __future__ import annotations

import yaml

from components.settings.keys import default_versions
from components.settings.model import NodeRole
from components.user_data import render_user_data
from tests.support.paths import ROOT
from tests.support.simulator.upstream import release_file

ROLE = ROOT / "ansible" / "roles" / "calico"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
VERSIONS = default_versions()


def docs(path: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(release_file("calico", VERSIONS, path).read_text()) if d]


def test_the_crds_file_is_applied_before_the_operator_and_holds_the_installation_crd():
    order = DEFAULTS["calico_operator_manifests"]
    assert order == ["operator-crds", "tigera-operator"]
    crds = {
        d["metadata"]["name"] for d in docs("manifests/operator-crds.yaml") if d["kind"] == "CustomResourceDefinition"
    }
    assert DEFAULTS["calico_installation_crd"] in crds
    operator = docs("manifests/tigera-operator.yaml")
    assert not [d for d in operator if d["kind"] == "CustomResourceDefinition"], "the operator file ships CRDs again"
    # Every file the role downloads is one the release publishes under manifests/.
    for name in order:
        assert release_file("calico", VERSIONS, f"manifests/{name}.yaml").is_file()
    assert DEFAULTS["calico_manifest_base_url"].endswith("/projectcalico/calico/{{ calico_version }}/manifests")


def test_the_operator_image_pin_is_the_image_of_the_pinned_manifest_and_every_node_pre_pulls_it():
    deployment = next(d for d in docs("manifests/tigera-operator.yaml") if d["kind"] == "Deployment")
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images == [VERSIONS["calicoOperatorImage"]], "bump calicoOperatorImage with calico (versions.yaml)"
    for role in NodeRole:
        assert VERSIONS["calicoOperatorImage"] in render_user_data(VERSIONS, role)


def test_the_wait_is_bounded_and_its_failure_names_the_crd_and_the_file():
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())
    names = [t["name"] for t in tasks]
    assert names.index("Apply the operator manifests") < names.index("Wait until the Installation CRD is served")
    wait = next(t for t in tasks if t["name"] == "Wait until the Installation CRD is served")
    assert "--timeout={{ calico_crd_timeout }}" in wait["block"][0]["ansible.builtin.command"]["cmd"]
    message = wait["rescue"][0]["ansible.builtin.fail"]["msg"]
    assert "crd/{{ calico_installation_crd }}" in message and "/operator-crds.yaml" in message


def test_post_init_kubectl_calls_go_to_the_nodes_own_api_server():
    """The roles that run kubectl after init on the first control plane use its advertise address."""
    local = "--server=https://{{ ansible_host }}:6443"
    for role, key in (
        ("calico", "calico_kubectl"),
        ("node_config", "node_config_kubectl"),
        ("storage", "storage_kubectl"),
    ):
        defaults = yaml.safe_load((ROOT / "ansible" / "roles" / role / "defaults" / "main.yml").read_text())
        assert local in defaults[key], role
    ready = yaml.safe_load((ROOT / "ansible/roles/cluster_ready/defaults/main.yml").read_text())
    assert ready["cluster_ready_server"] == "https://{{ ansible_host }}:6443"
    template = (ROOT / "ansible/roles/control_plane/templates/kubeadm-config.yaml.j2").read_text()
    assert 'advertiseAddress: "{{ ansible_host }}"' in template, "the local server must be the advertise address"
