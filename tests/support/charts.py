"""The charts of /work/shared/charts, rendered offline with tools/charts.py as ArgoCD's Helm would."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.argocd import NAMESPACE, helm_values
from tests.support.paths import ROOT
from tests.support.prereqs import require, require_helm
from tools.charts import CHARTS_DIR, application_helm_source, chart_archive, render


def kube_version() -> str:
    major, minor = str(VERSIONS["kubernetes"]).split(".")[:2]
    return f"{major}.{minor}.0"


def sources() -> list[Source]:
    found = [Source("release:argocd", "argo-cd", str(VERSIONS["argoCdChart"]), "argocd", NAMESPACE, argocd_values())]
    for name, app in helm_applications().items():
        src = application_helm_source(app)
        found.append(
            Source(
                f"app:{name}",
                src["chart"],
                src["targetRevision"],
                src["releaseName"],
                src["namespace"],
                src["values"],
                int(app["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0")),
            )
        )
    return found


def archive(source: Source) -> Path:
    require(CHARTS_DIR.is_dir(), f"the packaged charts are not at {CHARTS_DIR} (shared/charts beside the checkout)")
    return chart_archive(source.chart, source.version)


def rendered(source_id: str) -> list[Doc]:
    return copy.deepcopy(list(_rendered(source_id)))


VERSIONS: dict[str, Any] = yaml.safe_load((ROOT / "versions.yaml").read_text())
# The kubeadm configuration template the control-plane role renders (rendered by the chart tests).
KUBEADM_CONFIG = ROOT / "ansible" / "roles" / "control_plane" / "templates" / "kubeadm-config.yaml.j2"


Doc = dict[str, Any]


@dataclass(frozen=True)
class Source:
    id: str
    chart: str
    version: str
    release: str
    namespace: str
    values: Mapping[str, Any]
    # The Application's sync wave; None for the release Pulumi installs before any Application.
    wave: int | None = None


@functools.cache
def _rendered(source_id: str) -> tuple[Doc, ...]:
    source = SOURCES[source_id]
    objects = render(
        archive(source),
        release=source.release,
        namespace=source.namespace,
        values=source.values,
        kube_version=kube_version(),
        helm=require_helm(),
        api_versions=served_before(source),
    )
    return tuple(objects)


def argocd_values() -> dict[str, Any]:
    return helm_values(FAKE_DOMAIN)


def helm_applications() -> dict[str, Doc]:
    """Every Application file under manifests/argocd/apps/ with a chart source (single or multi)."""
    apps = {}
    for path in sorted(APPS_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "Application":
                continue
            spec = doc["spec"]
            if any("chart" in s for s in [spec.get("source") or {}, *spec.get("sources", [])]):
                apps[doc["metadata"]["name"]] = doc
    return apps


def served_before(source: Source) -> list[str]:
    """The custom API versions the cluster serves when ArgoCD renders `source`.

    ArgoCD renders a chart with the cluster's API versions (`Capabilities.APIVersions`), and charts
    switch objects on them: by an Application's wave, ArgoCD's own CRDs and those of every earlier
    wave are served. The release Pulumi installs sees none.
    """
    if source.wave is None:
        return []
    earlier = [s for s in SOURCES.values() if s.wave is None or s.wave < source.wave]
    served = []
    for other in earlier:
        for crd in (o for o in _rendered(other.id) if o["kind"] == "CustomResourceDefinition"):
            for version in crd["spec"]["versions"]:
                group_version = f"{crd['spec']['group']}/{version['name']}"
                served += [group_version, f"{group_version}/{crd['spec']['names']['kind']}"]
    return sorted(set(served))


APPS_DIR = ROOT / "manifests" / "argocd" / "apps"


# The one custom resource a chart here renders whose CRD no chart ships: the EBS chart's
# VolumeSnapshotClass (its CRD comes from kubernetes-csi/external-snapshotter, synced by
# volume-snapshot-crds and not held here). Written from that CRD's v1 schema
# (client/config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml, read at commit 0e047595 of
# kubernetes-csi/external-snapshotter through the search tool): driver and deletionPolicy
# (Delete|Retain) required, parameters a map of strings, the alpha allowedTopologies left out.
VOLUME_SNAPSHOT_CLASS_V1 = {
    "type": "object",
    "required": ["deletionPolicy", "driver"],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "driver": {"type": "string"},
        "deletionPolicy": {"type": "string", "enum": ["Delete", "Retain"]},
        "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


FAKE_DOMAIN = "argocd.example.com"


SOURCES = {s.id: s for s in sources()}
