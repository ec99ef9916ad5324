"""The cluster-wide Pod Security default and the labels of the namespaces kubeadm creates.

The control_plane role writes an AdmissionConfiguration (--admission-control-config-file, read from
the read-only API server configuration mount) whose PodSecurity defaults apply to any namespace
without labels: enforce `baseline`, warn and audit `restricted`, all pinned to the cluster's minor;
only kube-system is exempt (kubeadm creates its pods during init, before a label can be set). The
format is pod-security.admission.config.k8s.io/v1, as in "Enforce Pod Security Standards by
Configuring the Built-in Admission Controller"
(kubernetes.io/docs/tasks/configure-pod-container/enforce-standards-admission-controller).
The node simulator (tests/simulator/test_node_simulator.py) checks the same files on a simulated
control plane and the labels in its cluster state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.playbooks import ANSIBLE_DIR
from components.settings.keys import default_versions
from tests.support.apiserver import api_args, render
from tests.support.psa import LEVELS

pytestmark = pytest.mark.ansible

DEFAULTS = yaml.safe_load((ANSIBLE_DIR / "roles/control_plane/defaults/main.yml").read_text())
MINOR = "v" + ".".join(default_versions()["kubernetes"].split(".")[:2])
MODES = ("enforce", "audit", "warn")


@pytest.fixture(scope="module")
def pinned(tmp_path_factory) -> dict[str, Any]:
    return render(Path(tmp_path_factory.mktemp("pinned")), default_versions()["kubernetes"])


def test_the_api_server_reads_the_admission_configuration_from_its_read_only_mount(pinned):
    config_dir = DEFAULTS["control_plane_apiserver_config_dir"]
    assert api_args(pinned["cluster"])["admission-control-config-file"] == f"{config_dir}/admission-config.yaml"
    mounts = [v for v in pinned["cluster"]["apiServer"]["extraVolumes"] if v["mountPath"] == config_dir]
    assert len(mounts) == 1 and mounts[0]["readOnly"] is True and mounts[0]["hostPath"] == config_dir


def test_the_cluster_wide_default_enforces_baseline_and_reports_restricted_at_the_clusters_minor(pinned):
    admission = pinned["admission"]
    assert admission["apiVersion"] == "apiserver.config.k8s.io/v1"
    assert admission["kind"] == "AdmissionConfiguration"
    (plugin,) = admission["plugins"]
    assert plugin["name"] == "PodSecurity"
    config = plugin["configuration"]
    assert config["apiVersion"] == "pod-security.admission.config.k8s.io/v1"
    assert config["kind"] == "PodSecurityConfiguration"
    defaults = config["defaults"]
    # Exactly the six keys the type has (an unknown key fails the API server's strict decoding).
    assert set(defaults) == set(MODES) | {f"{m}-version" for m in MODES}
    assert {m: defaults[m] for m in MODES} == {"enforce": "baseline", "audit": "restricted", "warn": "restricted"}
    assert all(defaults[m] in LEVELS for m in MODES)
    assert {defaults[f"{m}-version"] for m in MODES} == {MINOR}


def test_only_kube_system_is_exempt_and_nothing_by_user_or_runtime_class(pinned):
    exemptions = pinned["admission"]["plugins"][0]["configuration"]["exemptions"]
    assert exemptions == {"usernames": [], "runtimeClasses": [], "namespaces": ["kube-system"]}


def test_the_version_follows_the_kubernetes_pin(tmp_path):
    rendered = render(tmp_path, "1.37.1")
    defaults = rendered["admission"]["plugins"][0]["configuration"]["defaults"]
    assert {defaults[f"{m}-version"] for m in MODES} == {"v1.37"}
    assert {d["metadata"]["labels"]["pod-security.kubernetes.io/enforce-version"] for d in rendered["namespaces"]} == {
        "v1.37"
    }


def test_every_namespace_kubeadm_creates_is_labelled(pinned):
    labels = {d["metadata"]["name"]: d["metadata"]["labels"] for d in pinned["namespaces"]}
    assert set(labels) == {"default", "kube-system", "kube-public", "kube-node-lease"}
    assert {n: ls["pod-security.kubernetes.io/enforce"] for n, ls in labels.items()} == {
        "default": "restricted",
        "kube-public": "restricted",
        "kube-node-lease": "restricted",
        "kube-system": "privileged",
    }
    for name, ls in labels.items():
        assert ls["pod-security.kubernetes.io/enforce-version"] == MINOR, name
        if ls["pod-security.kubernetes.io/enforce"] != "restricted":
            assert ls["pod-security.kubernetes.io/warn"] == ls["pod-security.kubernetes.io/audit"] == "restricted"
            assert ls["pod-security.kubernetes.io/warn-version"] == MINOR


def test_a_changed_admission_configuration_restarts_the_api_server():
    tasks = yaml.safe_load((ANSIBLE_DIR / "roles/control_plane/tasks/apiserver_config.yml").read_text())
    restart = next(t for t in tasks if t["name"].startswith("Restart the API server"))
    assert any("control_plane_admission_config is changed" in str(c) for c in restart["when"])
