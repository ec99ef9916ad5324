"""Every file the bootstrap downloads is pinned by checksum, every apt key by fingerprint.

- The sha256 pins in versions.yaml equal the ones ../shared/upstream/README.md lists for the files
  of the pinned tags (the files the node simulator serves byte for byte), and the roles' get_url
  tasks check them.
- The apt key fingerprints are the published ones (Docker's install guide; `gpg` on pkgs.k8s.io's
  Release.key, kubernetes/kubernetes#128609), and only the node simulator's inventory names another
  (its own test key's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.playbooks import ANSIBLE_DIR
from components.settings.keys import default_versions
from components.settings.versions import _version_problem
from components.user_data import NodeRole, render_user_data
from tests.support.paths import ROOT
from tests.support.simulator.upstream import release

# versions.yaml sha256 key -> (the versions.yaml key of the release, the file's path at that tag).
CHECKSUMS = {
    "calicoOperatorCrdsSha256": ("calico", "manifests/operator-crds.yaml"),
    "calicoTigeraOperatorSha256": ("calico", "manifests/tigera-operator.yaml"),
    "localPathProvisionerSha256": ("localPathProvisioner", "deploy/local-path-storage.yaml"),
}
# The published fingerprints (versions.yaml says where each was checked).
PUBLISHED = {
    "dockerAptKeyFingerprint": "9DC858229FC7DD38854AE2D88D81803C0EBFCD88",
    "kubernetesAptKeyFingerprint": "DE15B14486CD377B9E876E1A234654DA9A296436",
}


def tasks(path: Path) -> list[dict[str, Any]]:
    """Every task of a task file, blocks opened."""
    found: list[dict[str, Any]] = []
    for task in yaml.safe_load(path.read_text()) or []:
        found.append(task)
        for key in ("block", "rescue", "always"):
            found += task.get(key, [])
    return found


def test_the_checksum_pins_are_the_upstream_files_checksums():
    versions = default_versions()
    for key, (release_key, path) in CHECKSUMS.items():
        (artifact,) = [a for a in release(release_key, versions) if a.path == path]
        assert versions[key] == artifact.sha256, f"versions.yaml {key} is not the sha256 of {artifact.url_path}"
    assert {k for k in versions if k.endswith("Sha256")} == set(CHECKSUMS)


def test_every_download_is_checked_by_checksum_or_is_an_apt_key_checked_by_fingerprint():
    downloads = 0
    for path in sorted((ANSIBLE_DIR / "roles").glob("*/tasks/*.yml")):
        for task in tasks(path):
            if "ansible.builtin.get_url" not in task:
                continue
            downloads += 1
            if path == ANSIBLE_DIR / "roles/common/tasks/apt_key.yml":
                continue  # the key's fingerprint is checked by the next tasks of that file
            checksum = str(task["ansible.builtin.get_url"].get("checksum", ""))
            assert checksum.startswith("sha256:{{"), f"{path.relative_to(ROOT)}: {task['name']} has no checksum"
    assert downloads == 3


def test_every_apt_key_goes_through_the_fingerprint_check():
    uses = []
    for path in sorted((ANSIBLE_DIR / "roles").glob("*/tasks/*.yml")):
        for task in tasks(path):
            included = task.get("ansible.builtin.include_role", {})
            if included.get("tasks_from") == "apt_key.yml":
                uses.append(task["vars"]["common_apt_key_fingerprint"])
    assert sorted(uses) == sorted(
        [
            "{{ containerd_apt_key_fingerprint }}",
            "{{ kubernetes_packages_key_fingerprint }}",
            "{{ kubernetes_upgrade_key_fingerprint }}",
        ]
    )


def test_the_fingerprint_pins_are_the_published_ones_and_the_roles_default_to_them():
    versions = default_versions()
    assert {k: versions[k] for k in PUBLISHED} == PUBLISHED
    defaults = {
        role: yaml.safe_load((ANSIBLE_DIR / f"roles/{role}/defaults/main.yml").read_text())
        for role in ("containerd", "kubernetes_packages", "kubernetes_upgrade")
    }
    assert defaults["containerd"]["containerd_apt_key_fingerprint"] == "{{ versions.dockerAptKeyFingerprint }}"
    for role, var in (
        ("kubernetes_packages", "kubernetes_packages_key_fingerprint"),
        ("kubernetes_upgrade", "kubernetes_upgrade_key_fingerprint"),
    ):
        assert defaults[role][var] == "{{ versions.kubernetesAptKeyFingerprint }}"


def test_only_the_simulator_overrides_the_fingerprints():
    names = (
        "containerd_apt_key_fingerprint",
        "kubernetes_packages_key_fingerprint",
        "kubernetes_upgrade_key_fingerprint",
    )
    for path in [*ANSIBLE_DIR.rglob("*.yml"), *(ROOT / "components").rglob("*.py")]:
        text = path.read_text()
        for name in names:
            if f"{name}:" in text and not path.match("*/defaults/main.yml"):
                raise AssertionError(
                    f"{path.relative_to(ROOT)} sets {name}: only the role default and the simulator may"
                )


def test_the_user_data_refuses_keys_with_another_fingerprint():
    versions = default_versions()
    script = render_user_data(versions, NodeRole.CONTROL_PLANE)
    for key in PUBLISHED:
        assert "check_key /etc/apt/keyrings/" in script and versions[key] in script, key
    # The check comes before any apt source names the keys.
    assert script.index("check_key /etc/apt/keyrings/docker.asc") < script.index("sources.list.d/docker.list")


def test_an_image_pin_may_carry_its_digest_beside_its_tag():
    """Images are tag-pinned today (docs/gitops-practices.md, "Images by digest: not yet"); the
    table already takes `name:tag@sha256:…`, the form a digest lookup would write."""
    digest = "sha256:" + "0" * 64
    assert _version_problem(f"docker.io/library/redis:7.4.1-alpine@{digest}", "redisImage") is None
    assert _version_problem(f"docker.io/library/redis@{digest}", "redisImage") is None
    assert _version_problem("docker.io/library/redis:7.4.1-alpine@sha256:abc", "redisImage") is not None
    assert _version_problem(f"docker.io/library/redis:latest@{digest}", "redisImage") is not None
