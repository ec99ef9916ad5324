"""PostgreSQL on CloudNativePG with continuous backup (issue 11, item 2), checked on the render.

The operator, the Barman Cloud plugin and cert-manager are rendered from their packaged charts
with the values their Applications pass; the Cluster, ObjectStore, ScheduledBackup and the restore
drill are validated against the CRDs those charts ship (strict: unknown fields fail). The bucket
placeholder in Git is replaced through the root Application's patches exactly as ArgoCD does it
(rendered through the root overlay, then the child's own patches).
"""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import backup, gitops
from components.ebs import SNAPSHOT_BACKUP, volume_snapshot_backup_patches
from tests.support.children import (
    APPS_DIR,
    CHARTS,
    VERSIONS,
    Doc,
    applications,
    chart_crd_schemas,
    from_upstream_git,
    kustomize,
    render_child,
    sync_options,
)
from tests.support.manifests import strict_schema, validate_core
from tests.support.paths import ROOT
from tests.support.prereqs import require_tool
from tools.charts import chart_archive, unknown_value_keys

RESTORE = ROOT / "docs" / "restore" / "postgresql-pitr.yaml"
SNAPSHOT_RESTORE = ROOT / "docs" / "restore" / "postgresql-from-snapshot.yaml"
PLUGIN = "barman-cloud.cloudnative-pg.io"
CHART_CHILDREN = {
    "cert-manager": ("certManagerChart", "cert-manager"),
    "cloudnative-pg": ("cloudnativePgChart", "cnpg-system"),
    "plugin-barman-cloud": ("pluginBarmanCloudChart", "cnpg-system"),
}


def wave(app: Doc) -> int:
    return int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


@pytest.fixture(scope="module")
def apps() -> dict[str, Doc]:
    return applications()


@pytest.fixture(scope="module")
def postgresql() -> dict[str, Doc]:
    docs = kustomize(ROOT / "manifests/data/postgresql")
    # Two ScheduledBackups: the object-store one under its kind, the volume-snapshot one by name.
    return {
        ("SnapshotBackup" if d["metadata"]["name"] == SNAPSHOT_BACKUP["name"] else d["kind"]): d
        for d in docs
        if d["kind"] not in ("Service",)
    }


@pytest.fixture(scope="module")
def validators() -> dict[tuple[str, str], Any]:
    from jsonschema import Draft7Validator

    return {key: Draft7Validator(strict_schema(copy.deepcopy(s))) for key, s in chart_crd_schemas().items()}


def errors(doc: Doc, validators: dict[tuple[str, str], Any]) -> list[str]:
    validator = validators.get((doc["apiVersion"], doc["kind"]))
    assert validator is not None, f"no CRD ships {doc['apiVersion']} {doc['kind']}"
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


# --- the chart children -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHART_CHILDREN))
def test_chart_children_are_pinned_and_their_values_exist(apps: dict[str, Doc], name: str) -> None:
    key, namespace = CHART_CHILDREN[name]
    source = apps[name]["spec"]["source"]
    assert source["targetRevision"] == str(VERSIONS[key]) and source["repoURL"] == VERSIONS[f"{key}Repo"]
    assert apps[name]["spec"]["destination"]["namespace"] == namespace
    archive = chart_archive(source["chart"], source["targetRevision"], CHARTS)
    assert unknown_value_keys(archive, source["helm"]["valuesObject"]) == []
    assert "Prune=false" in sync_options(apps[name])


def test_waves_put_certificates_operator_plugin_cluster_in_order(apps: dict[str, Doc]) -> None:
    w = {n: wave(a) for n, a in apps.items()}
    assert w["namespaces"] < w["cert-manager"] < w["plugin-barman-cloud"]
    assert w["cloudnative-pg"] < w["plugin-barman-cloud"] < w["postgresql"] < w["api-services"]
    assert w["monitoring-crds"] < w["postgresql"]  # the ServiceMonitor's CRD (monitoring-crds owns them)


def test_operator_and_plugin_render_with_our_values() -> None:
    apps = applications()
    operator = render_child(apps["cloudnative-pg"])
    crds = {d["spec"]["names"]["kind"] for d in operator if d["kind"] == "CustomResourceDefinition"}
    assert {"Cluster", "ScheduledBackup", "Backup"} <= crds
    (deployment,) = [d for d in operator if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "512Mi"
    plugin = render_child(apps["plugin-barman-cloud"])
    kinds = {(d["kind"], d["metadata"]["name"]) for d in plugin}
    assert ("Certificate", "barman-cloud-server") in kinds and ("Certificate", "barman-cloud-client") in kinds
    assert any(d["kind"] == "CustomResourceDefinition" and d["spec"]["group"] == "barmancloud.cnpg.io" for d in plugin)
    cert_manager = render_child(apps["cert-manager"])
    groups = {d["spec"]["group"] for d in cert_manager if d["kind"] == "CustomResourceDefinition"}
    assert "cert-manager.io" in groups


@pytest.mark.parametrize("name", sorted(CHART_CHILDREN))
def test_every_object_a_chart_child_renders_validates_strictly(
    apps: dict[str, Doc], validators: dict[tuple[str, str], Any], name: str
) -> None:
    """Core kinds (CRDs and webhooks included) against kubernetes-validate's strict schemas for the
    pinned minor, custom resources (cert-manager Issuer/Certificate) against the shipped CRDs."""
    minor = ".".join(str(VERSIONS["kubernetes"]).split(".")[:2]) + ".0"
    failures = {}
    docs = render_child(apps[name])
    assert docs
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        found = errors(doc, validators) if key in validators else validate_core(doc, minor)
        if found:
            failures[f"{doc['kind']}/{doc['metadata']['name']}"] = found
    assert not failures, failures


# --- the Cluster ------------------------------------------------------------------------------


def test_postgresql_objects_validate_against_the_shipped_crds(
    postgresql: dict[str, Doc], validators: dict[tuple[str, str], Any]
) -> None:
    for kind in ("Cluster", "ObjectStore", "ScheduledBackup", "SnapshotBackup"):
        assert errors(postgresql[kind], validators) == [], kind


@pytest.mark.parametrize(
    ("kind", "mutate", "expected"),
    [
        ("Cluster", lambda d: d["spec"].update(instance=1), "instance"),
        ("Cluster", lambda d: d["spec"]["storage"].update(size=20), "size"),
        ("ObjectStore", lambda d: d["spec"]["configuration"].update(destinationPat="s3://x"), "destinationPat"),
        ("ScheduledBackup", lambda d: d["spec"].update(method="barman"), "method"),
        ("Cluster", lambda d: d["spec"]["backup"]["volumeSnapshot"].update(snapshotOwnerReference="pvc"), "pvc"),
    ],
    ids=["cluster-typo", "cluster-type", "objectstore-typo", "schedule-enum", "snapshot-owner-enum"],
)
def test_crd_validation_rejects_bad_objects(
    postgresql: dict[str, Doc], validators: dict[tuple[str, str], Any], kind: str, mutate: Any, expected: str
) -> None:
    bad = copy.deepcopy(postgresql[kind])
    mutate(bad)
    found = errors(bad, validators)
    assert found and expected in " ".join(found)


def test_cluster_is_pinned_protected_and_archived(postgresql: dict[str, Doc]) -> None:
    cluster = postgresql["Cluster"]["spec"]
    assert cluster["imageName"] == VERSIONS["postgresqlImage"]
    assert cluster["storage"]["storageClass"] == "gp3"
    assert cluster.get("enablePDB", True) is True
    assert {"Delete=false", "Prune=false"} <= sync_options(postgresql["Cluster"])
    (plugin,) = cluster["plugins"]
    assert plugin["name"] == PLUGIN and plugin["isWALArchiver"] is True
    assert plugin["parameters"]["barmanObjectName"] == postgresql["ObjectStore"]["metadata"]["name"]
    # Only the volume-snapshot settings: the in-tree barmanObjectStore is removed in CloudNativePG 1.32.
    assert set(cluster["backup"]) == {"volumeSnapshot"}, (
        "the in-tree barmanObjectStore is removed in CloudNativePG 1.32"
    )
    # Credentials come from the operator (postgresql-app), not the home-made generator.
    assert cluster["bootstrap"]["initdb"]["owner"] == "app"


def test_object_store_uses_the_node_role_and_a_retention(postgresql: dict[str, Doc]) -> None:
    store = postgresql["ObjectStore"]["spec"]
    assert store["configuration"]["s3Credentials"] == {"inheritFromIAMRole": True}
    assert store["configuration"]["destinationPath"] == backup.object_store_destination(backup.PLACEHOLDER_BUCKET)
    assert store["retentionPolicy"].endswith("d")


def test_a_base_backup_is_scheduled_through_the_plugin(postgresql: dict[str, Doc]) -> None:
    schedule = postgresql["ScheduledBackup"]["spec"]
    assert schedule["cluster"]["name"] == postgresql["Cluster"]["metadata"]["name"]
    assert schedule["method"] == "plugin" and schedule["pluginConfiguration"]["name"] == PLUGIN
    assert len(schedule["schedule"].split()) == 6  # CloudNativePG's cron has seconds
    assert schedule["immediate"] is True


def test_volume_snapshot_backups_are_configured_but_off_in_git(postgresql: dict[str, Doc]) -> None:
    """CloudNativePG's volume-snapshot method, beside the object-store one: the Cluster names the EBS
    chart's VolumeSnapshotClass, hot, waiting for the WAL archive; the schedule is suspended until the
    stack's `postgresqlVolumeSnapshots` says otherwise (components/ebs.py)."""
    snapshot = postgresql["Cluster"]["spec"]["backup"]["volumeSnapshot"]
    ebs = applications()["aws-ebs-csi-driver"]["spec"]["source"]["helm"]["valuesObject"]
    (vsc,) = ebs["volumeSnapshotClasses"]
    assert snapshot["className"] == vsc["name"] and vsc["deletionPolicy"] == "Retain"
    assert snapshot["online"] is True and snapshot["onlineConfiguration"]["waitForArchive"] is True
    assert snapshot["snapshotOwnerReference"] == "none"  # the snapshots outlive the Cluster
    schedule = postgresql["SnapshotBackup"]["spec"]
    assert schedule["method"] == "volumeSnapshot" and schedule["suspend"] is True
    assert schedule["cluster"]["name"] == postgresql["Cluster"]["metadata"]["name"]
    assert schedule["schedule"] != postgresql["ScheduledBackup"]["spec"]["schedule"]
    assert len(schedule["schedule"].split()) == 6


@pytest.mark.parametrize("enabled", [True, False])
def test_the_stack_key_un_suspends_the_snapshot_schedule(tmp_path: Path, enabled: bool) -> None:
    """The root's patch (volume_snapshot_backup_patches), applied to the child as Argo CD does."""
    root = gitops.root_application(
        gitops.DEFAULT_REPO_URL,
        gitops.DEFAULT_REVISION,
        gitops.DEFAULT_APPS_PATH,
        extra_patches=volume_snapshot_backup_patches(enabled),
    )
    overlay = gitops.write_root_overlay(root, ROOT, tmp_path / "root")
    kubectl = require_tool("kubectl", "kubectl with kustomize; .ci/run installs it")
    out = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=True).stdout
    (child,) = [d for d in yaml.safe_load_all(out) if d and d["metadata"]["name"] == "postgresql"]
    child_overlay = tmp_path / "child"
    child_overlay.mkdir()
    spec = {
        "resources": [os.path.relpath(ROOT / child["spec"]["source"]["path"], child_overlay.resolve())],
        "patches": child["spec"]["source"].get("kustomize", {}).get("patches", []),
    }
    (child_overlay / "kustomization.yaml").write_text(yaml.safe_dump(spec))
    rendered = subprocess.run([kubectl, "kustomize", str(child_overlay)], capture_output=True, text=True, check=True)
    (schedule,) = [
        d for d in yaml.safe_load_all(rendered.stdout) if d and d["metadata"]["name"] == SNAPSHOT_BACKUP["name"]
    ]
    assert schedule["spec"]["suspend"] is (not enabled)


def test_metrics_are_scraped_by_the_platform_prometheus() -> None:
    docs = kustomize(ROOT / "manifests/data/postgresql")
    (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    (service,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "postgresql-metrics"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert all(service["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert service["spec"]["selector"] == {"cnpg.io/cluster": "postgresql"}
    assert service["spec"]["ports"][0]["port"] == 9187


def test_the_old_service_name_reaches_the_primary() -> None:
    docs = kustomize(ROOT / "manifests/data/postgresql")
    (service,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "postgresql"]
    assert service["spec"]["selector"] == {"cnpg.io/cluster": "postgresql", "cnpg.io/instanceRole": "primary"}
    assert service["spec"]["ports"] == [
        {"name": "postgresql", "port": 5432, "targetPort": "postgresql", "protocol": "TCP"}
    ]


def test_the_generator_no_longer_makes_a_postgresql_password() -> None:
    text = (ROOT / "manifests/infrastructure/credentials/data/kustomization.yaml").read_text()
    assert "postgresql-credentials" not in text and "redis-credentials" in text


# --- the bucket reaches the child through the root ----------------------------------------------


BUCKET = "gitops-dev-backups-20261130abcd"


@pytest.fixture(scope="module")
def through_the_root(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Doc]]:
    """What ArgoCD builds for every child once the root carries the stack's backup patches: the
    root overlay renders the children, then each child's path is built with its own patches."""
    tmp = tmp_path_factory.mktemp("root")
    root = gitops.root_application(
        gitops.DEFAULT_REPO_URL,
        gitops.DEFAULT_REVISION,
        gitops.DEFAULT_APPS_PATH,
        extra_patches=backup.backup_root_patches(BUCKET, "eu-west-1"),
    )
    overlay = gitops.write_root_overlay(root, ROOT, tmp / "root")
    kubectl = require_tool("kubectl", "kubectl with kustomize; .ci/run installs it")
    out = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=True).stdout
    children = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out) if d}
    built: dict[str, list[Doc]] = {}
    for name, child in children.items():
        source = child["spec"]["source"]
        if "path" not in source or from_upstream_git(child):
            continue
        child_overlay = tmp / name
        child_overlay.mkdir()
        spec = {"resources": [os.path.relpath(ROOT / source["path"], child_overlay.resolve())]}
        spec["patches"] = source.get("kustomize", {}).get("patches", [])
        (child_overlay / "kustomization.yaml").write_text(yaml.safe_dump(spec))
        rendered = subprocess.run(
            [kubectl, "kustomize", str(child_overlay)], capture_output=True, text=True, check=True
        ).stdout
        built[name] = [d for d in yaml.safe_load_all(rendered) if d]
    # Only the three backup writers get patches; every other child renders as in Git.
    assert {n for n, c in children.items() if "kustomize" in c["spec"]["source"] and not from_upstream_git(c)} == {
        "postgresql",
        "rabbitmq",
        "etcd-backup",
    }
    return built


def test_root_patches_point_the_object_store_at_the_stack_bucket(through_the_root: dict[str, list[Doc]]) -> None:
    (store,) = [d for d in through_the_root["postgresql"] if d["kind"] == "ObjectStore"]
    assert store["spec"]["configuration"]["destinationPath"] == f"s3://{BUCKET}/postgresql"
    assert store["spec"]["instanceSidecarConfiguration"]["env"] == [
        {"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"}
    ]


@pytest.mark.parametrize(
    ("child", "config_map"), [("rabbitmq", "backup-target"), ("etcd-backup", "etcd-backup-target")]
)
def test_root_patches_point_the_exports_at_the_stack_bucket(
    through_the_root: dict[str, list[Doc]], child: str, config_map: str
) -> None:
    (target,) = [d for d in through_the_root[child] if d["kind"] == "ConfigMap" and d["metadata"]["name"] == config_map]
    assert target["data"] == {"BUCKET": BUCKET, "AWS_REGION": "eu-west-1"}


def test_root_patches_reject_a_non_bucket() -> None:
    with pytest.raises(ValueError, match="is not a bucket name"):
        backup.backup_root_patches("", "eu-west-1")
    with pytest.raises(ValueError, match="is not a bucket name"):
        backup.backup_root_patches("a/b", "eu-west-1")


# --- the restore drill --------------------------------------------------------------------------


def test_restore_drill_validates_and_recovers_from_the_same_backups(
    postgresql: dict[str, Doc], validators: dict[tuple[str, str], Any]
) -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all(RESTORE.read_text()) if d}
    for doc in docs.values():
        assert errors(doc, validators) == [], doc["kind"]
    cluster = docs["Cluster"]["spec"]
    recovery = cluster["bootstrap"]["recovery"]
    (origin,) = [c for c in cluster["externalClusters"] if c["name"] == recovery["source"]]
    assert origin["plugin"]["name"] == PLUGIN
    assert origin["plugin"]["parameters"]["barmanObjectName"] == docs["ObjectStore"]["metadata"]["name"]
    # It reads the folder the running Cluster writes: same path, server = the Cluster's name.
    assert origin["plugin"]["parameters"]["serverName"] == postgresql["Cluster"]["metadata"]["name"]
    assert docs["ObjectStore"]["spec"]["configuration"]["destinationPath"] == backup.object_store_destination("BUCKET")
    assert "targetTime" in recovery["recoveryTarget"]
    assert cluster["imageName"] == VERSIONS["postgresqlImage"]
    assert cluster["storage"]["storageClass"] == postgresql["Cluster"]["spec"]["storage"]["storageClass"]
    assert docs["Cluster"]["metadata"]["name"] != postgresql["Cluster"]["metadata"]["name"]
    # Never synced by ArgoCD.
    assert not RESTORE.is_relative_to(APPS_DIR.parent.parent)


def test_snapshot_restore_drill_validates_and_starts_from_a_volume_snapshot(
    postgresql: dict[str, Doc], validators: dict[tuple[str, str], Any]
) -> None:
    """The volume-snapshot drill (postgresqlVolumeSnapshots): a new Cluster from a VolumeSnapshot of
    the class the running one snapshots with, WAL replayed from the same object-store folder."""
    docs = {d["kind"]: d for d in yaml.safe_load_all(SNAPSHOT_RESTORE.read_text()) if d}
    for doc in docs.values():
        assert errors(doc, validators) == [], doc["kind"]
    cluster = docs["Cluster"]["spec"]
    recovery = cluster["bootstrap"]["recovery"]
    storage = recovery["volumeSnapshots"]["storage"]
    assert (storage["kind"], storage["apiGroup"]) == ("VolumeSnapshot", "snapshot.storage.k8s.io")
    (origin,) = [c for c in cluster["externalClusters"] if c["name"] == recovery["source"]]
    assert origin["plugin"]["parameters"]["serverName"] == postgresql["Cluster"]["metadata"]["name"]
    assert origin["plugin"]["parameters"]["barmanObjectName"] == docs["ObjectStore"]["metadata"]["name"]
    running = postgresql["Cluster"]["spec"]
    assert cluster["storage"]["storageClass"] == running["storage"]["storageClass"]
    assert cluster["imageName"] == VERSIONS["postgresqlImage"]
    assert docs["Cluster"]["metadata"]["name"] != postgresql["Cluster"]["metadata"]["name"]
    assert not SNAPSHOT_RESTORE.is_relative_to(APPS_DIR.parent.parent)
