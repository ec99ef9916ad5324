"""The root App-of-Apps Application, as a plain dict, and the overlay that reproduces its render.

Why a pure module: the Pulumi resource that applies the root Application (written elsewhere) only
wraps the dict returned here, so the manifest can be reviewed and tested without the Pulumi
runtime, and the tests can render exactly what ArgoCD renders from it.

One source of truth for the repository and revision: the child Applications in Git
(``manifests/argocd/apps``) hold ``DEFAULT_REPO_URL`` / ``DEFAULT_REVISION`` only so that they
render valid on their own. Every child whose source is this repository carries the label
``REPO_LABEL_KEY: REPO_LABEL_VALUE``, and the root Application's ``spec.source.kustomize.patches``
(ArgoCD >= 2.9) rewrites ``spec.source.repoURL`` and ``spec.source.targetRevision`` of exactly
those children to the root's values. Changing the stack's repo URL or revision therefore changes
every child at once; there is no second copy to edit. Children that install third-party charts
point at the chart repository with a pinned chart version and do not carry the label.

Two ways to follow Git (policy/gitops_rule.py holds the rule, shared with config validation and
the policy pack): a *tracking* root's revision is a branch, and because the patches above give
every labelled child the same revision, the whole tree follows that branch; a *pinned* root's
revision is a full 40-hex commit SHA, and so is every child's. The root carries the mode and the
environment as labels, so the policy pack can hold the resource to the same rule.

Three Argo CD projects (``app_projects``), none of them ``default``: the root alone in
``ROOT_PROJECT`` (it may create only Applications, in Argo CD's namespace, from the GitOps
repository); the platform children in ``PLATFORM_PROJECT`` (cluster-wide objects allowed, from the
GitOps repository and the pinned chart repositories, but never Argo CD's own kinds, so a child
cannot mint an Application in a wider project); the domain services in ``SERVICES_PROJECT``
(namespaced kinds only, into the domains' own namespaces, from the GitOps repository only). The
program creates the projects, so widening one takes a reviewed `pulumi up`, not only a merge.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from components import yaml_io
from policy import gitops_rule

API_VERSION = "argoproj.io/v1alpha1"
KIND = "Application"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
# A child Application whose health later sync waves wait for (it installs what they need: CRDs,
# namespaces, the StorageClass, the credentials). components/argocd.py's health check reports only
# these children's health to the root; docs/app-of-apps.md, "Health gates".
GATE_ANNOTATION = "gitops-cluster.io/gate"
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"

REPO_LABEL_KEY = "gitops-cluster.io/repo"
REPO_LABEL_VALUE = "platform"

# What the children in Git hold; the root always replaces both (repo_patches). The revision is a
# full SHA that is no commit: a child that ever escaped the root's patch fails to sync instead of
# resolving a name (a tag or branch) that anyone could move.
DEFAULT_REPO_URL = "https://github.com/example-org/gitops-cluster.git"
DEFAULT_REVISION = "0" * 40
DEFAULT_APPS_PATH = "manifests/argocd/apps"

ROOT_PROJECT = "gitops-root"
PLATFORM_PROJECT = "platform"
SERVICES_PROJECT = "services"
# Argo CD's own kinds: only the root creates Applications; no child creates projects or sets.
ARGOCD_KINDS = ("Application", "AppProject", "ApplicationSet")
SERVICES_DIR = Path("manifests/services")

# How often Argo CD re-reconciles an Application without an event (argocd-cm
# `timeout.reconciliation`, set by components/argocd.py): the longest a deletion step can sit
# unnoticed.
RECONCILIATION_SECONDS = 180
# The longest a pod of each wave may take to stop when its child is deleted, where it exceeds
# Kubernetes' default grace period (30 s): CloudNativePG's instance pods get the Cluster's
# `stopDelay` (default 1800 s, CloudNativePG docs "Instance pod configuration"); Prometheus pods
# the operator's default terminationGracePeriodSeconds (600 s, prometheus-operator API
# PrometheusSpec). tests/unit/test_gitops_delete_timeout.py holds these to the rendered children.
DEFAULT_POD_STOP_SECONDS = 30
SLOWEST_POD_STOP_SECONDS = {4: 1800, 5: 600}
APPS_DIR = Path("manifests/argocd/apps")


def child_waves(repo_root: Path) -> list[int]:
    """The sync wave of every child Application under manifests/argocd/apps (0 when unset)."""
    waves = []
    for path in sorted((repo_root / APPS_DIR).glob("*.yaml")):
        for doc in yaml_io.load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == KIND:
                annotations = (doc.get("metadata") or {}).get("annotations") or {}
                waves.append(int(annotations.get("argocd.argoproj.io/sync-wave", "0")))
    return waves


def root_delete_timeout_seconds(waves: Sequence[int]) -> int:
    """How long deleting the root may take: Argo CD deletes its children wave by wave, highest
    first, each wave after the previous one is gone. Per wave: one reconciliation to notice, the
    slowest pod of the wave to stop, one more reconciliation to see it gone; then the root's own
    finalizer pass."""
    per_wave = [
        2 * RECONCILIATION_SECONDS + SLOWEST_POD_STOP_SECONDS.get(wave, DEFAULT_POD_STOP_SECONDS)
        for wave in sorted(set(waves))
    ]
    return sum(per_wave) + RECONCILIATION_SECONDS


# Retry generously: children are created in waves and a child may wait for CRDs or nodes.
RETRY: dict[str, Any] = {
    "limit": 10,
    "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"},
}


def _require_rule(revision: str, mode: str, environment: str) -> None:
    found = gitops_rule.problems(mode, environment, revision)
    if found:
        values = {
            gitops_rule.MODE_KEY: mode,
            gitops_rule.ENVIRONMENT_KEY: environment,
            gitops_rule.REVISION_KEY: revision,
        }
        raise ValueError("; ".join(f"{key} = {values[key]!r}: {fix}" for key, fix in found))


def repo_patches(repo_url: str, revision: str) -> list[dict[str, Any]]:
    """Kustomize patches that point every labelled child at ``repo_url`` @ ``revision``.

    ``replace`` (not ``add``) on purpose: a child that lost its default ``repoURL`` is a bug in
    Git and should fail the render loudly instead of being silently completed.
    """
    operations = [
        {"op": "replace", "path": "/spec/source/repoURL", "value": repo_url},
        {"op": "replace", "path": "/spec/source/targetRevision", "value": revision},
    ]
    return [
        {
            "target": {
                "group": "argoproj.io",
                "version": "v1alpha1",
                "kind": KIND,
                "labelSelector": f"{REPO_LABEL_KEY}={REPO_LABEL_VALUE}",
            },
            "patch": yaml.safe_dump(operations, sort_keys=False),
        }
    ]


def root_application(
    repo_url: str,
    revision: str,
    path: str,
    *,
    mode: str = gitops_rule.PIN,
    environment: str = gitops_rule.PRODUCTION,
    name: str = "root-app",
    namespace: str = "argocd",
    project: str = ROOT_PROJECT,
    extra_patches: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The root Application manifest that syncs ``path`` (the child Applications).

    ``mode`` ``track`` follows the branch ``revision`` (automated sync picks up every merge);
    ``pin`` holds ``revision`` to a tag or commit SHA. Both sync automatically with prune and
    self-heal: the difference is only what Git revision they follow.

    ``extra_patches`` are appended to the repo patches: stack-specific values the children in Git
    cannot know, such as the backup bucket's name (components/backup.py).

    The finalizer makes deleting the root delete what it deployed (children first, whose own
    finalizers delete their resources), which is what ``pulumi destroy`` relies on.
    """
    if not repo_url.strip():
        raise ValueError("repo_url is empty; set it to the Git URL that holds manifests/")
    if not path.strip() or path.startswith("/"):
        raise ValueError(f"path {path!r} must be a relative path inside the repository")
    _require_rule(revision, mode, environment)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "finalizers": [RESOURCES_FINALIZER],
            "labels": {
                "app.kubernetes.io/part-of": "gitops-cluster",
                gitops_rule.MODE_LABEL: mode,
                gitops_rule.ENVIRONMENT_LABEL: environment,
            },
        },
        "spec": {
            "project": project,
            "source": {
                "repoURL": repo_url,
                "targetRevision": revision,
                "path": path,
                "kustomize": {"patches": repo_patches(repo_url, revision) + [dict(p) for p in extra_patches]},
            },
            # Child Applications live in ArgoCD's own namespace.
            "destination": {"server": IN_CLUSTER_SERVER, "namespace": namespace},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "retry": copy.deepcopy(RETRY),
                # PruneLast: a removed child is deleted only after the rest of the sync is
                # healthy, so a rename never leaves a gap. ApplyOutOfSyncOnly: a sync applies only
                # the children that changed, and gitops-engine waits only for the health of what it
                # applied (pkg/sync/sync_context.go), so an unchanged child in a bad state never
                # holds a later wave (tests/unit/test_gitops_health_gates.py).
                "syncOptions": ["PruneLast=true", "ApplyOutOfSyncOnly=true"],
            },
        },
    }


def service_namespaces(repo_root: Path) -> tuple[str, ...]:
    """The domains' namespaces: those of the overlays manifests/services/kustomization.yaml lists."""
    services = repo_root / SERVICES_DIR
    listed = yaml_io.load((services / "kustomization.yaml").read_text(encoding="utf-8"))["resources"]
    out = []
    for entry in listed:
        overlay = services / str(entry) / "kustomization.yaml"
        if overlay.is_file():
            out.append(str(yaml_io.load(overlay.read_text(encoding="utf-8"))["namespace"]))
    return tuple(out)


def upstream_repos(versions: Mapping[str, Any]) -> list[str]:
    """The repositories platform children may install from besides the GitOps repository: the pinned
    chart repositories (versions.yaml `*ChartRepo`) and upstream Git repositories (`*GitRepo`, e.g.
    the external-snapshotter whose released manifests two children sync)."""
    return sorted({str(v) for k, v in versions.items() if k.endswith(("ChartRepo", "GitRepo"))})


def app_projects(
    repo_url: str, chart_repos: Sequence[str], namespaces: Sequence[str], *, namespace: str = "argocd"
) -> list[dict[str, Any]]:
    """The three AppProjects (root, platform, services) as manifests."""
    argocd_kinds = [{"group": "argoproj.io", "kind": kind} for kind in ARGOCD_KINDS]

    def project(name: str, description: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": "AppProject",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": "gitops-cluster"},
                # Deleting a project some Application still uses waits for it (Argo CD's finalizer).
                "finalizers": ["resources-finalizer.argocd.argoproj.io"],
            },
            "spec": {"description": description, **spec},
        }

    return [
        project(
            ROOT_PROJECT,
            "The root Application alone: child Applications into Argo CD's namespace, from the GitOps repository.",
            {
                "sourceRepos": [repo_url],
                "destinations": [{"server": IN_CLUSTER_SERVER, "namespace": namespace}],
                "clusterResourceWhitelist": [],
                "namespaceResourceWhitelist": [{"group": "argoproj.io", "kind": "Application"}],
            },
        ),
        project(
            PLATFORM_PROJECT,
            "Platform children: cluster-wide objects allowed, from the GitOps repository and the pinned chart "
            "repositories; never Argo CD's own kinds.",
            {
                "sourceRepos": [repo_url, *sorted(set(chart_repos))],
                "destinations": [{"server": IN_CLUSTER_SERVER, "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                "namespaceResourceBlacklist": argocd_kinds,
            },
        ),
        project(
            SERVICES_PROJECT,
            "Domain services: namespaced kinds only, into the domains' own namespaces, from the GitOps repository.",
            {
                "sourceRepos": [repo_url],
                "destinations": [{"server": IN_CLUSTER_SERVER, "namespace": ns} for ns in namespaces],
                "clusterResourceWhitelist": [],
                # The namespaces' guard rails are the platform's (namespaces and network-policies children).
                "namespaceResourceBlacklist": [
                    *argocd_kinds,
                    {"group": "", "kind": "ResourceQuota"},
                    {"group": "", "kind": "LimitRange"},
                    {"group": "networking.k8s.io", "kind": "NetworkPolicy"},
                ],
            },
        ),
    ]


def write_root_overlay(app: Mapping[str, Any], repo_root: Path, out_dir: Path) -> Path:
    """Write a kustomization that renders what ArgoCD renders from the root Application ``app``.

    ArgoCD adds ``spec.source.kustomize.patches`` to the kustomization at ``spec.source.path``
    before building it; an overlay whose only resource is that directory and whose ``patches``
    are the root's is the same build, without copying or editing the tree. Returns the overlay
    directory (``kubectl kustomize <it>`` renders it).
    """
    source = app["spec"]["source"]
    apps_dir = (repo_root / source["path"]).resolve()
    if not (apps_dir / "kustomization.yaml").is_file():
        raise FileNotFoundError(f"{apps_dir} has no kustomization.yaml")
    out_dir.mkdir(parents=True, exist_ok=True)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(apps_dir, out_dir.resolve())],
        "patches": [dict(p) for p in source.get("kustomize", {}).get("patches", [])],
    }
    (out_dir / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return out_dir
