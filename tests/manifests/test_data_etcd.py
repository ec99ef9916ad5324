"""etcd snapshots on a schedule, from a control plane to the backup bucket (issue 11, item 3).

The issue allows a systemd timer laid down by Ansible or a CronJob on the control plane; this is
the CronJob (manifests/data/etcd-backup), so it is checked on the render: it runs on a control
plane with the host network, reads kubeadm's etcd client certificate read-only, runs the etcdctl
that kubeadm's etcd image for the pinned Kubernetes minor ships, and uploads under the prefix the
control plane's instance profile may write and the bucket expires.
"""

from __future__ import annotations

import re

import pytest

from components import backup
from tests.support.children import VERSIONS, Doc, kustomize
from tests.support.paths import ROOT

# kubeadm's etcd minor per Kubernetes minor (cmd/kubeadm/app/constants: SupportedEtcdVersion).
KUBEADM_ETCD_MINOR = {29: "3.5", 30: "3.5", 31: "3.5", 32: "3.5", 33: "3.5", 34: "3.6", 35: "3.6", 36: "3.6"}
# The client certificate kubeadm creates for etcd's own health checks, trusted by etcd's CA.
KUBEADM_ETCD_PKI = "/etc/kubernetes/pki/etcd"


@pytest.fixture(scope="module")
def cron() -> Doc:
    (found,) = [d for d in kustomize(ROOT / "manifests/data/etcd-backup") if d["kind"] == "CronJob"]
    return found


def pod(cron: Doc) -> Doc:
    spec: Doc = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def test_etcd_image_matches_what_kubeadm_runs_for_the_pinned_kubernetes(cron: Doc) -> None:
    (snapshot,) = pod(cron)["initContainers"]
    assert snapshot["image"] == VERSIONS["etcdImage"]
    minor = int(str(VERSIONS["kubernetes"]).split(".")[1])
    tag = snapshot["image"].rsplit(":", 1)[1]
    assert re.fullmatch(r"\d+\.\d+\.\d+-\d+", tag), tag
    assert tag.startswith(KUBEADM_ETCD_MINOR[minor] + "."), (
        f"Kubernetes 1.{minor} runs etcd {KUBEADM_ETCD_MINOR[minor]}; bump etcdImage with kubernetes"
    )


def test_snapshot_runs_on_a_control_plane_against_the_local_member(cron: Doc) -> None:
    spec = pod(cron)
    assert spec["hostNetwork"] is True
    assert spec["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert any(t["key"] == "node-role.kubernetes.io/control-plane" for t in spec["tolerations"])
    (snapshot,) = spec["initContainers"]
    command = snapshot["command"]
    assert command[0] == "etcdctl" and command[-3:-1] == ["snapshot", "save"]
    flags = dict(a.split("=", 1) for a in command if a.startswith("--"))
    assert flags["--endpoints"] == "https://127.0.0.1:2379"
    assert {flags["--cacert"], flags["--cert"], flags["--key"]} == {
        f"{KUBEADM_ETCD_PKI}/ca.crt",
        f"{KUBEADM_ETCD_PKI}/healthcheck-client.crt",
        f"{KUBEADM_ETCD_PKI}/healthcheck-client.key",
    }
    (pki,) = [m for m in snapshot["volumeMounts"] if m["mountPath"] == KUBEADM_ETCD_PKI]
    assert pki["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == pki["name"]]
    assert volume["hostPath"]["path"] == KUBEADM_ETCD_PKI
    # The file it writes is the one the upload reads.
    work = command[-1].rsplit("/", 1)[0]
    (upload,) = spec["containers"]
    assert command[-1] in " ".join(upload["command"])
    assert any(m["mountPath"] == work for m in upload["volumeMounts"])


def test_upload_goes_to_the_prefix_the_control_plane_may_write_and_the_bucket_expires(cron: Doc) -> None:
    (upload,) = pod(cron)["containers"]
    assert upload["image"] == VERSIONS["awsCliImage"]
    script = " ".join(upload["command"])
    assert f"s3://${{BUCKET}}/{backup.ETCD_PREFIX}" in script
    # No --sse: the bucket's default (SSE-KMS with the stack's key) encrypts it; an explicit AES256 or
    # aws:kms without a key id would pick another key, and the bucket policy refuses either.
    assert "--sse" not in script
    assert backup.EXPIRE_DAYS[backup.ETCD_PREFIX] >= 7
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    hours = cron["spec"]["schedule"].split()[1]
    assert hours.startswith("*/") and int(hours[2:]) <= 12  # several snapshots inside the retention


def test_root_patches_point_the_snapshot_at_the_stack_bucket() -> None:
    import yaml

    (patch,) = [p for p in backup.backup_root_patches("b-1", "us-east-2") if p["target"]["name"] == "etcd-backup"]
    (op,) = yaml.safe_load(patch["patch"])
    (inner,) = op["value"]["patches"]
    assert inner["target"] == {"kind": "ConfigMap", "name": "etcd-backup-target"}
    docs = kustomize(ROOT / "manifests/data/etcd-backup")
    (target,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert target["metadata"]["name"] == "etcd-backup-target" and target["data"]["BUCKET"] == backup.PLACEHOLDER_BUCKET
