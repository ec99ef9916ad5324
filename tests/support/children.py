"""Render every child Application of the root the way ArgoCD does: kustomize or Helm.

Git children (`spec.source.path`) are built with `kubectl kustomize`; chart children
(`spec.source.chart`) with the pinned helm over the packaged chart in ../shared/charts and the
Application's own `valuesObject` (tools/charts.py), so a test sees every object each child would
create — CRDs included. Used by the data tests (retention, CloudNativePG, backups).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import ROOT
from tests.support.prereqs import MISSING_OUTCOMES, missing, require_helm, require_tool
from tools.charts import CHARTS_DIR, ChartError, application_helm_source, chart_archive
from tools.charts import render as helm_render

APPS_DIR = ROOT / "manifests" / "argocd" / "apps"
VERSIONS: dict[str, Any] = yaml.safe_load((ROOT / "versions.yaml").read_text())

Doc = dict[str, Any]

# API groups the charts' templates test for with .Capabilities (PodMonitor/ServiceMonitor
# templates): the cluster has them once monitoring-stack (wave 2) has synced.
API_VERSIONS = ("monitoring.coreos.com/v1",)

# Where the packaged charts are: ../shared/charts beside the checkout (tools/charts.py), or
# CHARTS_DIR when the checkout is a worktree that has no such sibling.
CHARTS = Path(os.environ.get("CHARTS_DIR") or CHARTS_DIR)

# Upstream Git repositories some children sync released manifests from (versions.yaml `*GitRepo`).
# Their files are not in this checkout or in ../shared (Argo CD fetches them at sync time), so
# those children render nothing here; tests/manifests/test_volume_snapshots.py checks what can be
# checked of them (pin, project, patches, namespace) and names them.
UPSTREAM_GIT_REPOS = frozenset(str(v) for k, v in VERSIONS.items() if k.endswith("GitRepo"))


def from_upstream_git(app: Mapping[str, Any]) -> bool:
    """Whether `app` syncs files of an upstream Git repository rather than of this one or a chart."""
    return str(app["spec"].get("source", {}).get("repoURL")) in UPSTREAM_GIT_REPOS


def kube_version() -> str:
    return str(VERSIONS["kubernetes"])


@functools.cache
def _kustomize(path: str) -> str:
    kubectl = require_tool("kubectl", "kubectl with its built-in kustomize; .ci/run installs it")
    result = subprocess.run([kubectl, "kustomize", path], capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed:\n{result.stderr}")
    return result.stdout


def kustomize(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(_kustomize(str(path))) if isinstance(d, dict)]


def applications() -> dict[str, Doc]:
    """The root's children as the root renders them (manifests/argocd/apps)."""
    return {a["metadata"]["name"]: a for a in kustomize(APPS_DIR) if a.get("kind") == "Application"}


@functools.cache
def _helm(chart: str, version: str, release: str, namespace: str, values_yaml: str) -> tuple[Doc, ...]:
    try:
        archive = chart_archive(chart, version, CHARTS)
    except ChartError as err:
        missing(str(err))
    helm = require_helm()
    return tuple(
        helm_render(
            archive,
            release=release,
            namespace=namespace,
            values=yaml.safe_load(values_yaml) or {},
            kube_version=kube_version(),
            helm=helm,
            api_versions=API_VERSIONS,
        )
    )


def render_child(app: Mapping[str, Any]) -> list[Doc]:
    """Every object the child Application `app` deploys, with its destination namespace filled in."""
    source = app["spec"]["source"]
    if from_upstream_git(app):
        return []  # not here to render (UPSTREAM_GIT_REPOS)
    if "path" in source:
        return kustomize(ROOT / source["path"])
    helm = application_helm_source(app)
    docs = _helm(
        helm["chart"],
        helm["targetRevision"],
        helm["releaseName"],
        helm["namespace"],
        yaml.safe_dump(helm["values"], sort_keys=True),
    )
    out = []
    for doc in docs:
        doc = dict(doc)
        if doc.get("kind") not in CLUSTER_SCOPED and not doc.get("metadata", {}).get("namespace"):
            doc["metadata"] = {**doc["metadata"], "namespace": helm["namespace"]}
        out.append(doc)
    return out


# Kinds without a namespace that the charts here render.
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "StorageClass",
        "VolumeSnapshotClass",
        "PersistentVolume",
        "ClusterIssuer",
        "PriorityClass",
    }
)


def render_all() -> tuple[dict[str, list[Doc]], dict[str, str]]:
    """(objects per child, why a child could not be rendered) — a missing chart stops only the
    tests that need that child (they call prereqs.missing with the reason)."""
    rendered: dict[str, list[Doc]] = {}
    unrenderable: dict[str, str] = {}
    for name, app in applications().items():
        try:
            rendered[name] = render_child(app)
        except MISSING_OUTCOMES as why:
            # prereqs.missing skips (or fails, on CI); the tests that need this child say so.
            unrenderable[name] = str(why).removeprefix("prerequisite missing on CI: ")
    return rendered, unrenderable


def sync_options(doc: Mapping[str, Any]) -> set[str]:
    raw = (doc.get("metadata", {}).get("annotations") or {}).get("argocd.argoproj.io/sync-options", "")
    return {o.strip() for o in raw.split(",") if o.strip()}


def kind_of(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata", {})
    return f"{doc['kind']}/{meta.get('namespace', '')}/{meta.get('name', '')}"


def have_kubectl() -> bool:
    return shutil.which("kubectl") is not None


# Custom resources whose schemas come from the CRDs a chart child ships (not from an npm package).
CHART_CRD_GROUPS = {
    "postgresql.cnpg.io": "cloudnative-pg",
    "barmancloud.cnpg.io": "plugin-barman-cloud",
    "cert-manager.io": "cert-manager",
    # Gateway API v1.6 and Envoy Gateway's own CRDs, shipped by the gateway-helm chart.
    "gateway.networking.k8s.io": "envoy-gateway",
    "gateway.envoyproxy.io": "envoy-gateway",
}


def chart_crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """{(apiVersion, kind): openAPIV3Schema} of every served version of the CRDs the chart children
    in CHART_CRD_GROUPS install, rendered with the values those Applications pass."""
    apps = applications()
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for app_name in sorted(set(CHART_CRD_GROUPS.values())):
        for doc in render_child(apps[app_name]):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if version.get("served", True):
                    api = f"{spec['group']}/{version['name']}"
                    schemas[(api, spec["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return schemas
