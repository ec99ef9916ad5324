"""Volume snapshots: the VolumeSnapshot API, its controller, the EBS class, PostgreSQL's option.

The CRDs and the snapshot controller are kubernetes-csi/external-snapshotter's released files, which
Argo CD fetches at sync time (manifests/argocd/apps/volume-snapshot-crds.yaml and
snapshot-controller.yaml); they are not in this checkout or in ../shared, so what is checked here is
everything this repository adds to them: the pin (versions.yaml), the project, the waves, the
deletion protection of the CRDs, and the kustomize changes of the controller (its namespace, its
image, its placement, its security context against Pod Security `restricted`, its NetworkPolicies).
The EBS chart is rendered for real (../shared/charts, the pinned helm) with our values: the
csi-snapshotter sidecar and the VolumeSnapshotClass, with and without the API served.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.ebs import SNAPSHOT_BACKUP, volume_snapshot_backup_patches
from components.gitops import upstream_repos
from tests.support import psa
from tests.support.charts import SOURCES, VOLUME_SNAPSHOT_CLASS_V1, archive, kube_version
from tests.support.children import UPSTREAM_GIT_REPOS, applications, from_upstream_git, kustomize
from tests.support.manifests import strict_schema
from tests.support.paths import ROOT
from tests.support.prereqs import require_helm
from tools.charts import application_helm_source, render

VERSIONS: dict[str, Any] = yaml.safe_load((ROOT / "versions.yaml").read_text(encoding="utf-8"))
Doc = dict[str, Any]
REPO = VERSIONS["externalSnapshotterGitRepo"]
SNAPSHOT_API = "snapshot.storage.k8s.io/v1"
DELETE_PROTECTED = "Delete=false,Prune=false"


def vsc_errors(doc: Doc) -> list[str]:
    from jsonschema import Draft7Validator

    validator = Draft7Validator(strict_schema(yaml.safe_load(yaml.safe_dump(VOLUME_SNAPSHOT_CLASS_V1))))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def wave(app: Doc) -> int:
    return int(app["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


@pytest.fixture(scope="module")
def apps() -> dict[str, Doc]:
    return applications()


def controller_patches(app: Doc) -> list[dict[str, Any]]:
    (patch,) = app["spec"]["source"]["kustomize"]["patches"]
    assert patch["target"]["kind"] == "Deployment" and patch["target"]["name"] == "snapshot-controller"
    return list(yaml.safe_load(patch["patch"]))


def test_the_upstream_children_are_exactly_these_and_at_the_pin(apps: dict[str, Doc]) -> None:
    upstream = {name for name, app in apps.items() if from_upstream_git(app)}
    assert upstream == {"volume-snapshot-crds", "snapshot-controller"}
    assert {REPO} == UPSTREAM_GIT_REPOS
    paths = {}
    for name in upstream:
        source = apps[name]["spec"]["source"]
        assert source["repoURL"] == REPO and source["targetRevision"] == VERSIONS["externalSnapshotter"], name
        assert apps[name]["spec"]["project"] == "platform", name
        paths[name] = source["path"]
    assert paths == {
        "volume-snapshot-crds": "client/config/crd",
        "snapshot-controller": "deploy/kubernetes/snapshot-controller",
    }
    # The platform project admits the repository (and only the program's list feeds it).
    assert REPO in upstream_repos(VERSIONS)


def test_the_api_comes_before_its_controller_the_driver_and_the_database(apps: dict[str, Doc]) -> None:
    crds, controller = apps["volume-snapshot-crds"], apps["snapshot-controller"]
    assert wave(crds) < wave(controller) < wave(apps["aws-ebs-csi-driver"]) < wave(apps["postgresql"])
    # The CRDs gate later waves (docs/app-of-apps.md, "Health gates").
    assert crds["metadata"]["annotations"]["gitops-cluster.io/gate"] == "true"


def test_no_ordinary_action_deletes_the_crds(apps: dict[str, Doc]) -> None:
    """A deleted CRD deletes every VolumeSnapshot; each CRD is kept on Application delete and prune."""
    crds = apps["volume-snapshot-crds"]
    annotations = crds["spec"]["source"]["kustomize"]["commonAnnotations"]
    assert annotations["argocd.argoproj.io/sync-options"] == DELETE_PROTECTED
    assert "Prune=false" in crds["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]


def test_the_controller_runs_the_pinned_image_in_its_own_namespace(apps: dict[str, Doc]) -> None:
    kustomize_spec = apps["snapshot-controller"]["spec"]["source"]["kustomize"]
    assert kustomize_spec["namespace"] == "snapshot-controller"
    assert apps["snapshot-controller"]["spec"]["destination"]["namespace"] == "snapshot-controller"
    assert kustomize_spec["images"] == [VERSIONS["snapshotControllerImage"]]
    assert VERSIONS["snapshotControllerImage"].endswith(":" + VERSIONS["externalSnapshotter"])


def test_the_controller_is_placed_like_the_other_platform_pods_off_the_api_nodes(apps: dict[str, Doc]) -> None:
    ops = {op["path"]: op["value"] for op in controller_patches(apps["snapshot-controller"])}
    metrics = apps["metrics-server"]["spec"]["source"]["helm"]["valuesObject"]
    assert ops["/spec/template/spec/affinity"] == metrics["affinity"]
    assert ops["/spec/template/spec/tolerations"] == metrics["tolerations"]
    terms = ops["/spec/template/spec/affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    keys = {e["key"] for t in terms["nodeSelectorTerms"] for e in t["matchExpressions"]}
    assert keys == {"node-role.kubernetes.io/worker", "node-role.kubernetes.io/control-plane"}


def test_the_controller_passes_restricted_and_its_namespace_enforces_it(apps: dict[str, Doc]) -> None:
    ops = {op["path"]: op["value"] for op in controller_patches(apps["snapshot-controller"])}
    # The pod as upstream writes it (one container) with our patches over it.
    container = {
        "name": "snapshot-controller",
        "image": VERSIONS["snapshotControllerImage"],
        "securityContext": ops["/spec/template/spec/containers/0/securityContext"],
    }
    spec = {"securityContext": ops["/spec/template/spec/securityContext"], "containers": [container]}
    assert psa.violations(spec, "restricted") == []
    namespaces = {d["metadata"]["name"]: d for d in kustomize(ROOT / "manifests/infrastructure/namespaces")}
    labels = namespaces["snapshot-controller"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_controller_namespace_is_fenced(apps: dict[str, Doc]) -> None:
    policies = [
        d
        for d in kustomize(ROOT / "manifests/infrastructure/network-policies")
        if d["metadata"].get("namespace") == "snapshot-controller"
    ]
    deny = [p for p in policies if p["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}]
    assert len(deny) == 1, "default deny both ways in snapshot-controller"
    # No policy admits ingress (tests/manifests/test_manifests.py's flow matrix checks the rest).
    assert not any(p["spec"].get("ingress") for p in policies)


# --- the EBS chart's side ---------------------------------------------------------------------


def ebs_render(api_versions: list[str], values_change: Any = None) -> list[Doc]:
    src = application_helm_source(applications()["aws-ebs-csi-driver"])
    values = yaml.safe_load(yaml.safe_dump(src["values"]))
    if values_change is not None:
        values_change(values)
    return render(
        archive(SOURCES["app:aws-ebs-csi-driver"]),
        release=src["releaseName"],
        namespace=src["namespace"],
        values=values,
        kube_version=kube_version(),
        helm=require_helm(),
        api_versions=api_versions,
    )


def snapshotter_and_classes(objects: list[Doc]) -> tuple[list[str], list[Doc]]:
    (controller,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "ebs-csi-controller"]
    names = [c["name"] for c in controller["spec"]["template"]["spec"]["containers"]]
    return names, [o for o in objects if o["kind"] == "VolumeSnapshotClass"]


@pytest.mark.parametrize("api_versions", [[SNAPSHOT_API], []], ids=["api-served", "api-not-yet-read"])
def test_the_driver_cuts_snapshots_with_a_retained_default_class(api_versions: list[str]) -> None:
    containers, classes = snapshotter_and_classes(ebs_render(api_versions))
    assert "csi-snapshotter" in containers
    (vsc,) = classes
    assert vsc["apiVersion"] == SNAPSHOT_API and vsc["driver"] == "ebs.csi.aws.com"
    assert vsc["deletionPolicy"] == "Retain"
    annotations = vsc["metadata"]["annotations"]
    assert annotations["snapshot.storage.kubernetes.io/is-default-class"] == "true"
    assert annotations["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
    assert vsc_errors(vsc) == []


def test_the_volume_snapshot_class_schema_refuses_a_bad_policy() -> None:
    (vsc,) = snapshotter_and_classes(ebs_render([SNAPSHOT_API]))[1]
    vsc["deletionPolicy"] = "Keep"
    assert "Keep" in " ".join(vsc_errors(vsc))


def test_without_force_enable_the_render_would_depend_on_argo_cds_api_cache() -> None:
    """Why forceEnable is set: before Argo CD has read the new API, the chart would drop both."""

    def off(values: dict[str, Any]) -> None:
        values["sidecars"]["snapshotter"]["forceEnable"] = False

    containers, classes = snapshotter_and_classes(ebs_render([], off))
    assert "csi-snapshotter" not in containers and classes == []


# --- PostgreSQL's option ----------------------------------------------------------------------


def test_the_option_patches_only_the_snapshot_schedule_of_the_postgresql_child() -> None:
    assert volume_snapshot_backup_patches(False) == []
    (patch,) = volume_snapshot_backup_patches(True)
    assert patch["target"]["name"] == "postgresql" and patch["target"]["kind"] == "Application"
    (op,) = yaml.safe_load(patch["patch"])
    (inner,) = op["value"]["patches"]
    assert inner["target"] == SNAPSHOT_BACKUP
    assert yaml.safe_load(inner["patch"]) == [{"op": "replace", "path": "/spec/suspend", "value": False}]
