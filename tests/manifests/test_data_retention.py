"""No ordinary delete reaches a datastore's volume (issue 11, item 1).

Every child Application of the root is rendered (kustomize and Helm, tests/support/children.py) and a
small model of Kubernetes and ArgoCD deletion follows every path from "delete this Application"
(or the root, which deletes every child) down to PersistentVolumeClaims and PersistentVolumes:

- an Application with the resources finalizer deletes each object it deployed, except those
  marked `argocd.argoproj.io/sync-options: Delete=false` or `helm.sh/resource-policy: keep`
  (ArgoCD >= 2.8 treats both the same); without the finalizer it deletes nothing;
- a deleted Application (a child of the root) runs its own cascade;
- a deleted Namespace deletes everything in it; a deleted CRD deletes every object of its kind;
- a deleted StatefulSet deletes its claims when `persistentVolumeClaimRetentionPolicy.whenDeleted`
  is `Delete`; a deleted CloudNativePG `Cluster` always deletes its claims (they carry its
  ownerReference); a Prometheus/Alertmanager with storage deletes its claims when its
  retention policy says Delete;
- a deleted claim deletes its PersistentVolume when its StorageClass reclaims with `Delete`.

The test fails on any path that ends at a claim or a volume, and names the path.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.children import Doc, applications, kind_of, render_all, sync_options
from tests.support.paths import ROOT
from tests.support.prereqs import missing
from tests.support.storage import DATASTORE_APPS, EBS_CLASS

RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
DEFAULT_CLASS_TEMPLATE = ROOT / "ansible" / "roles" / "storage" / "templates" / "storage-class.yaml.j2"
DEFAULT_MARK = "storageclass.kubernetes.io/is-default-class"
PROMETHEUS_KINDS = {"Prometheus", "Alertmanager", "ThanosRuler"}


def protected(doc: Mapping[str, Any]) -> bool:
    annotations = doc.get("metadata", {}).get("annotations") or {}
    return "Delete=false" in sync_options(doc) or annotations.get("helm.sh/resource-policy") == "keep"


def default_class_reclaim_policy() -> str:
    """What the Ansible-installed local-path class does with a released volume (the cluster's default
    until ArgoCD has synced gp3)."""
    text = "\n".join(line for line in DEFAULT_CLASS_TEMPLATE.read_text().splitlines() if "{{" not in line)
    (doc,) = [d for d in yaml.safe_load_all(text) if d]
    return str(doc.get("reclaimPolicy", "Delete"))


class World:
    """Every rendered object, which Application deployed it, and what deleting something does."""

    def __init__(
        self, apps: Mapping[str, Doc], objects: Mapping[str, list[Doc]], root: Doc, unrenderable: Mapping[str, str] = {}
    ) -> None:
        self.apps = dict(apps)
        self.unrenderable = dict(unrenderable)
        self.objects = {name: list(docs) for name, docs in objects.items()}
        self.root = root
        self.classes = {
            d["metadata"]["name"]: str(d.get("reclaimPolicy", "Delete"))
            for docs in objects.values()
            for d in docs
            if d["kind"] == "StorageClass"
        }
        # The default class: the one Git marks default (gp3), else the Ansible-installed local-path.
        git_defaults = [
            str(d.get("reclaimPolicy", "Delete"))
            for docs in objects.values()
            for d in docs
            if d["kind"] == "StorageClass"
            and (d["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"
        ]
        self.default_reclaim = git_defaults[0] if len(git_defaults) == 1 else default_class_reclaim_policy()

    def all_objects(self) -> Iterator[Doc]:
        for docs in self.objects.values():
            yield from docs

    # -- claims a workload owns -----------------------------------------------------------------

    def claim_classes(self, doc: Mapping[str, Any]) -> list[tuple[str, str | None]]:
        """(claim name, storageClassName) of every claim `doc` creates."""
        kind, spec = doc["kind"], doc.get("spec", {})
        name = doc["metadata"]["name"]
        if kind == "StatefulSet":
            return [
                (f"{t['metadata']['name']}-{name}-N", t.get("spec", {}).get("storageClassName"))
                for t in spec.get("volumeClaimTemplates", [])
            ]
        if kind == "Cluster" and doc["apiVersion"].startswith("postgresql.cnpg.io/"):
            claims = [(f"{name}-N", spec.get("storage", {}).get("storageClass"))]
            if "walStorage" in spec:
                claims.append((f"{name}-N-wal", spec["walStorage"].get("storageClass")))
            return claims
        if kind in PROMETHEUS_KINDS:
            template = (spec.get("storage") or {}).get("volumeClaimTemplate")
            if template:
                return [(f"{name}-db", template.get("spec", {}).get("storageClassName"))]
        if kind == "PersistentVolumeClaim":
            return [(name, spec.get("storageClassName"))]
        return []

    def reclaim_policy(self, storage_class: str | None) -> str:
        if storage_class is None:
            return self.default_reclaim
        return self.classes.get(storage_class, "Delete")

    # -- the cascade ----------------------------------------------------------------------------

    def delete_application(self, app: Mapping[str, Any], path: tuple[str, ...]) -> Iterator[str]:
        here = (*path, f"delete Application {app['metadata']['name']}")
        if RESOURCES_FINALIZER not in app["metadata"].get("finalizers", []):
            return
        deployed = self.objects.get(app["metadata"]["name"], []) if app is not self.root else list(self.apps.values())
        for doc in deployed:
            if protected(doc):
                continue
            yield from self.delete(doc, here)

    def delete(self, doc: Mapping[str, Any], path: tuple[str, ...]) -> Iterator[str]:
        here = (*path, f"delete {kind_of(doc)}")
        kind = doc["kind"]
        if kind == "Application":
            yield from self.delete_application(doc, path)
        elif kind == "Namespace":
            for other in self.all_objects():
                if other.get("metadata", {}).get("namespace") == doc["metadata"]["name"]:
                    yield from self.delete(other, here)
        elif kind == "CustomResourceDefinition":
            group, kind_name = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for other in self.all_objects():
                if other["kind"] == kind_name and other["apiVersion"].split("/")[0] == group:
                    yield from self.delete(other, here)
        elif kind == "StatefulSet" or kind in PROMETHEUS_KINDS:
            policy = (doc["spec"].get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted", "Retain")
            if policy == "Delete":
                yield from self.claims_deleted(doc, here)
        elif (kind == "Cluster" and doc["apiVersion"].startswith("postgresql.cnpg.io/")) or kind in (
            "PersistentVolumeClaim",
        ):
            yield from self.claims_deleted(doc, here)
        elif kind == "PersistentVolume":
            yield " -> ".join(here)

    def claims_deleted(self, owner: Mapping[str, Any], path: tuple[str, ...]) -> Iterator[str]:
        for claim, storage_class in self.claim_classes(owner):
            step = f"PersistentVolumeClaim {claim} deleted"
            yield " -> ".join((*path, step))
            if self.reclaim_policy(storage_class) == "Delete":
                yield " -> ".join((*path, step, f"its PersistentVolume deleted (class {storage_class or 'default'})"))


ROOT_APP: Doc = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "root-app", "finalizers": [RESOURCES_FINALIZER]},
}


@pytest.fixture(scope="module")
def world() -> World:
    objects, unrenderable = render_all()
    return World(applications(), objects, ROOT_APP, unrenderable)


def test_deleting_the_root_reaches_no_claim_or_volume(world: World) -> None:
    assert world.apps, "no children rendered"
    if world.unrenderable:
        missing("; ".join(world.unrenderable.values()))
    paths = list(world.delete_application(world.root, ()))
    assert not paths, "deleting the root Application deletes data:\n" + "\n".join(paths)


@pytest.mark.parametrize("app", sorted(p.stem for p in (ROOT / "manifests/argocd/apps").glob("*.yaml")))
def test_deleting_a_child_reaches_no_claim_or_volume(world: World, app: str) -> None:
    if app == "kustomization":
        return
    (child,) = [a for a in world.apps.values() if a["metadata"]["name"] == app] or [None]
    assert child is not None, f"{app}.yaml renders no Application named {app}"
    if app in world.unrenderable:
        missing(world.unrenderable[app])
    paths = list(world.delete_application(child, ()))
    assert not paths, f"deleting the {app} Application deletes data:\n" + "\n".join(paths)


def data_claims(world: World) -> list[tuple[str, str, str | None]]:
    """(application, claim, class) of every claim that holds data: the datastores', Prometheus's
    and Alertmanager's (each rendered from its Application, the charts included)."""
    found = []
    for app in (*DATASTORE_APPS, "monitoring-stack"):
        if app in world.unrenderable:
            missing(world.unrenderable[app])
        for doc in world.objects[app]:
            found += [(app, claim, storage_class) for claim, storage_class in world.claim_classes(doc)]
    return found


def test_every_data_claim_is_on_ebs_and_retained_by_its_class(world: World) -> None:
    """Every claim that holds data is an EBS volume (it outlives its node) and survives its claim's
    deletion: the gp3 class, never the node-local local-path classes."""
    claims = data_claims(world)
    assert {app for app, _, _ in claims} == {*DATASTORE_APPS, "monitoring-stack"}
    assert len([c for c in claims if c[0] == "monitoring-stack"]) == 2  # Prometheus and Alertmanager
    for app, claim, storage_class in claims:
        assert storage_class is not None, f"{app}: {claim} uses the default class (node-local, reclaimPolicy Delete)"
        assert storage_class == EBS_CLASS, f"{app}: {claim} is on {storage_class}, not on EBS ({EBS_CLASS})"
        assert world.reclaim_policy(storage_class) == "Retain", f"{app}: {claim} class {storage_class}"


def test_datastore_statefulsets_retain_claims_on_delete_and_scale_down(world: World) -> None:
    for app in DATASTORE_APPS:
        for sts in (d for d in world.objects[app] if d["kind"] == "StatefulSet"):
            policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy")
            assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}, kind_of(sts)
            for template in sts["spec"]["volumeClaimTemplates"]:
                assert protected(template), f"{kind_of(sts)}: claim template {template['metadata']['name']}"


def test_the_ebs_class_is_encrypted_retained_expandable_and_not_removed_with_its_application(world: World) -> None:
    classes = {d["metadata"]["name"]: d for d in world.objects["data-storage"] if d["kind"] == "StorageClass"}
    # gp3 for data; local-path-retain only so a cluster still on it keeps its volumes until it moves them.
    assert sorted(classes) == [EBS_CLASS, "local-path-retain"]
    sc = classes[EBS_CLASS]
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"] == {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"}
    assert sc["reclaimPolicy"] == "Retain" and sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["allowVolumeExpansion"] is True
    # The one default class: a claim that names none gets a retained EBS volume too.
    defaults = [c for c in classes.values() if (c["metadata"].get("annotations") or {}).get(DEFAULT_MARK) == "true"]
    assert [c["metadata"]["name"] for c in defaults] == [EBS_CLASS]
    assert world.reclaim_policy(None) == "Retain"
    for c in classes.values():
        assert {"Prune=false", "Delete=false"} <= sync_options(c), c["metadata"]["name"]
    # The driver that serves it tags each volume with its claim and the cluster.
    values = world.apps["aws-ebs-csi-driver"]["spec"]["source"]["helm"]["valuesObject"]["controller"]
    assert values["extraCreateMetadata"] is True and "cluster" in values["extraVolumeTags"]
    # The old class is still served by the provisioner the storage role installs.
    role = (ROOT / "ansible/roles/storage/defaults/main.yml").read_text()
    assert "local-path-provisioner" in role and classes["local-path-retain"]["provisioner"] == "rancher.io/local-path"


# --- the model itself: each rule fires on an object built to trigger it ------------------------


def _sts(when_deleted: str, storage_class: str | None = "local-path-retain") -> Doc:
    template: Doc = {"metadata": {"name": "data"}, "spec": {}}
    if storage_class:
        template["spec"]["storageClassName"] = storage_class
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "data"},
        "spec": {
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": when_deleted},
            "volumeClaimTemplates": [template],
        },
    }


def _world(objects: list[Doc], finalizer: bool = True) -> tuple[World, Doc]:
    app: Doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "x", "finalizers": [RESOURCES_FINALIZER] if finalizer else []},
    }
    sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-path-retain"}}
    return World({"x": app}, {"x": objects, "sc": [{**sc, "reclaimPolicy": "Retain"}]}, ROOT_APP), app


@pytest.mark.parametrize(
    ("objects", "finalizer", "expect"),
    [
        ([_sts("Delete")], True, ["PersistentVolumeClaim data-db-N deleted"]),
        ([_sts("Retain")], True, []),
        ([_sts("Delete")], False, []),
        ([_sts("Delete", None)], True, ["PersistentVolume deleted (class default)"]),
        (
            [
                {
                    "apiVersion": "postgresql.cnpg.io/v1",
                    "kind": "Cluster",
                    "metadata": {"name": "pg", "namespace": "data"},
                    "spec": {"storage": {"storageClass": "local-path-retain"}},
                }
            ],
            True,
            ["PersistentVolumeClaim pg-N deleted"],
        ),
        (
            [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": "data"},
                },
                {**_sts("Retain"), "kind": "PersistentVolumeClaim", "spec": {"storageClassName": "local-path-retain"}},
            ],
            True,
            ["delete Namespace//data -> delete PersistentVolumeClaim/data/db"],
        ),
    ],
    ids=["sts-delete", "sts-retain", "no-finalizer", "default-class", "cnpg-cluster", "namespace"],
)
def test_the_cascade_model_finds_each_path(objects: list[Doc], finalizer: bool, expect: list[str]) -> None:
    world, app = _world(copy.deepcopy(objects), finalizer)
    paths = list(world.delete_application(app, ()))
    for fragment in expect:
        assert any(fragment in p for p in paths), (fragment, paths)
    if not expect:
        assert paths == []


def test_protection_annotations_stop_the_cascade() -> None:
    sts = _sts("Delete")
    for mark in (
        {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"},
        {"helm.sh/resource-policy": "keep"},
    ):
        sts["metadata"]["annotations"] = mark
        world, app = _world([sts])
        assert list(world.delete_application(app, ())) == []


def test_a_crd_delete_reaches_its_custom_resources() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "clusters.postgresql.cnpg.io"},
        "spec": {"group": "postgresql.cnpg.io", "names": {"kind": "Cluster"}},
    }
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {
            "name": "pg",
            "namespace": "data",
            "annotations": {"argocd.argoproj.io/sync-options": "Delete=false"},
        },
        "spec": {"storage": {"storageClass": "local-path-retain"}},
    }
    world, app = _world([crd, cluster])
    paths = list(world.delete_application(app, ()))
    assert any("delete CustomResourceDefinition" in p and "pg-N deleted" in p for p in paths), paths


def ansible_storage_class() -> Doc:
    """The StorageClass the storage role installs, rendered from its template with the role's defaults."""
    import jinja2

    defaults = yaml.safe_load((DEFAULT_CLASS_TEMPLATE.parents[1] / "defaults" / "main.yml").read_text())
    text = jinja2.Template(DEFAULT_CLASS_TEMPLATE.read_text(), undefined=jinja2.StrictUndefined).render(
        ansible_managed="managed by Ansible", storage_class_name=defaults["storage_class_name"]
    )
    (doc,) = [d for d in yaml.safe_load_all(text) if d]
    return doc


def default_classes(objects: Iterator[Doc]) -> list[str]:
    """The StorageClasses marked default (the annotation's value "true", as the API server reads it)."""
    return sorted(
        d["metadata"]["name"]
        for d in objects
        if d["kind"] == "StorageClass" and (d["metadata"].get("annotations") or {}).get(DEFAULT_MARK) == "true"
    )


def test_only_gp3_is_a_default_class_in_everything_the_cluster_gets(world: World) -> None:
    """Two default classes make a claim without storageClassName ambiguous (the newest wins). What
    the cluster gets: every child's objects (Git and charts: the EBS chart's own optional default
    class included) and the storage role's local-path class. The role asserts the same on a live
    cluster (ansible/roles/storage/tasks/main.yml); this is its offline twin for `make test-fast`."""
    if world.unrenderable:
        missing("; ".join(world.unrenderable.values()))
    local_path = ansible_storage_class()
    assert local_path["kind"] == "StorageClass"
    assert default_classes(iter([*world.all_objects(), local_path])) == [EBS_CLASS]


def test_a_second_default_class_is_caught() -> None:
    gp3 = {"kind": "StorageClass", "metadata": {"name": EBS_CLASS, "annotations": {DEFAULT_MARK: "true"}}}
    other = copy.deepcopy(ansible_storage_class())
    other["metadata"]["annotations"][DEFAULT_MARK] = "true"
    assert default_classes(iter([gp3, other])) == [EBS_CLASS, "local-path"]


def test_default_class_policy_is_read_from_the_role() -> None:
    assert default_class_reclaim_policy() in ("Delete", "Retain")
    assert Path(DEFAULT_CLASS_TEMPLATE).is_file()
