"""Every Application lives in its own AppProject and keeps to that project's rules.

The projects are components/gitops.py's `app_projects` (the program registers them before the
root): the root alone in `gitops-root`, the platform children in `platform`, the domain services in
`services` (namespaced kinds only, into the domains' namespaces, from the GitOps repository). The
test renders the root the way Argo CD does (its kustomize patches over manifests/argocd/apps),
then every child, and holds each to its project the way Argo CD's project checks do
(argo-cd v3.4 pkg/apis/application/v1alpha1/app_project_types.go: `IsSourcePermitted`,
`IsDestinationPermitted`, `IsGroupKindPermitted` - glob patterns; an empty
clusterResourceWhitelist admits no cluster-scoped kind; a blacklist entry refuses its kind).
A pinned root hands every Git child its full 40-hex SHA; nothing is in `default`.
"""

from __future__ import annotations

import fnmatch
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import gitops
from components.argocd import root_application_resource_args
from components.settings.model import GitOpsSource
from policy import gitops_rule
from tests.support.children import CLUSTER_SCOPED, render_child
from tests.support.paths import ROOT
from tests.support.prereqs import require_tool

VERSIONS: dict[str, Any] = yaml.safe_load((ROOT / "versions.yaml").read_text(encoding="utf-8"))
CHART_REPOS = gitops.upstream_repos(VERSIONS)
# Upstream Git repositories (versions.yaml `<name>GitRepo`) -> the revision pinned as `<name>`.
UPSTREAM_PINS = {str(v): str(VERSIONS[k.removesuffix("GitRepo")]) for k, v in VERSIONS.items() if k.endswith("GitRepo")}
SHA = "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b"
Doc = dict[str, Any]


def projects(repo_url: str = gitops.DEFAULT_REPO_URL) -> dict[str, Doc]:
    return {
        p["metadata"]["name"]: p for p in gitops.app_projects(repo_url, CHART_REPOS, gitops.service_namespaces(ROOT))
    }


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _kind_listed(entries: Sequence[Mapping[str, str]], group: str, kind: str) -> bool:
    return any(_glob(e["group"], group) and _glob(e["kind"], kind) for e in entries)


def application_problems(app: Mapping[str, Any], known: Mapping[str, Doc], *, pinned: bool) -> list[str]:
    """Why Argo CD would refuse `app` in its project (or the project is `default`/unknown)."""
    name = app["metadata"]["name"]
    project_name = app["spec"].get("project")
    if project_name in (None, "", "default") or project_name not in known:
        return [f"{name}: project {project_name!r} is not one of {sorted(known)} (never `default`)"]
    spec = known[project_name]["spec"]
    source, destination = app["spec"]["source"], app["spec"]["destination"]
    out = []
    if not any(_glob(repo, source["repoURL"]) for repo in spec["sourceRepos"]):
        out.append(f"{name}: source {source['repoURL']} is not in project {project_name}'s sourceRepos")
    if not any(
        _glob(d["server"], destination.get("server", "")) and _glob(d["namespace"], destination.get("namespace", ""))
        for d in spec["destinations"]
    ):
        out.append(f"{name}: destination namespace {destination.get('namespace')!r} is outside project {project_name}")
    upstream_pin = UPSTREAM_PINS.get(source["repoURL"])
    if upstream_pin is not None:
        # Released upstream manifests: at exactly versions.yaml's pin, whatever the root's mode.
        if source["targetRevision"] != upstream_pin:
            out.append(f"{name}: targetRevision {source['targetRevision']!r} is not versions.yaml's {upstream_pin!r}")
    elif "chart" not in source and pinned and not gitops_rule.is_pinned_revision(source["targetRevision"]):
        out.append(f"{name}: targetRevision {source['targetRevision']!r} is not a full 40-hex commit SHA")
    return out


def object_problems(app: Mapping[str, Any], obj: Mapping[str, Any], known: Mapping[str, Doc]) -> list[str]:
    """Why Argo CD would refuse to sync `obj` (one object `app` renders) in `app`'s project."""
    spec = known[app["spec"]["project"]]["spec"]
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    kind = obj["kind"]
    where = f"{app['metadata']['name']}: {kind}/{obj['metadata'].get('name')}"
    if kind in CLUSTER_SCOPED:
        if not _kind_listed(spec.get("clusterResourceWhitelist", []), group, kind):
            return [f"{where} is cluster-scoped, which project {app['spec']['project']} does not admit"]
        return []
    out = []
    if "namespaceResourceWhitelist" in spec and not _kind_listed(spec["namespaceResourceWhitelist"], group, kind):
        out.append(f"{where} is not in project {app['spec']['project']}'s namespaceResourceWhitelist")
    if _kind_listed(spec.get("namespaceResourceBlacklist", []), group, kind):
        out.append(f"{where} is a kind project {app['spec']['project']} refuses")
    namespace = obj["metadata"].get("namespace") or app["spec"]["destination"].get("namespace", "")
    if not any(_glob(d["namespace"], namespace) for d in spec["destinations"]):
        out.append(f"{where} goes to namespace {namespace!r}, outside project {app['spec']['project']}")
    return out


def render_root(tmp_path: Path, mode: str, environment: str, revision: str) -> tuple[Doc, dict[str, Doc]]:
    kubectl = require_tool("kubectl", "kubectl with its built-in kustomize; .ci/run installs it")
    source = GitOpsSource(gitops.DEFAULT_REPO_URL, revision, gitops.DEFAULT_APPS_PATH, mode, environment)
    args = root_application_resource_args(source)
    root = {"apiVersion": args["api_version"], "kind": args["kind"], "metadata": args["metadata"], "spec": args["spec"]}
    overlay = gitops.write_root_overlay(root, ROOT, tmp_path / "overlay")
    out = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=True, timeout=60)
    return root, {d["metadata"]["name"]: d for d in yaml.safe_load_all(out.stdout) if d}


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Doc, dict[str, Doc]]:
    return render_root(tmp_path_factory.mktemp("pinned"), "pin", "production", SHA)


def test_the_three_projects_and_none_is_default() -> None:
    known = projects()
    assert sorted(known) == [gitops.ROOT_PROJECT, gitops.PLATFORM_PROJECT, gitops.SERVICES_PROJECT]
    services = known[gitops.SERVICES_PROJECT]["spec"]
    assert services["sourceRepos"] == [gitops.DEFAULT_REPO_URL]
    assert services["clusterResourceWhitelist"] == []
    assert sorted(d["namespace"] for d in services["destinations"]) == sorted(gitops.service_namespaces(ROOT))
    assert len(services["destinations"]) == 7
    root = known[gitops.ROOT_PROJECT]["spec"]
    assert root["namespaceResourceWhitelist"] == [{"group": "argoproj.io", "kind": "Application"}]
    assert root["destinations"] == [{"server": gitops.IN_CLUSTER_SERVER, "namespace": "argocd"}]
    platform = known[gitops.PLATFORM_PROJECT]["spec"]
    assert {"group": "argoproj.io", "kind": "Application"} in platform["namespaceResourceBlacklist"]
    assert set(platform["sourceRepos"]) == {gitops.DEFAULT_REPO_URL, *CHART_REPOS}


def test_the_root_keeps_to_its_project(pinned: tuple[Doc, dict[str, Doc]]) -> None:
    root, children = pinned
    known = projects()
    assert root["spec"]["project"] == gitops.ROOT_PROJECT
    assert application_problems(root, known, pinned=True) == []
    for child in children.values():
        assert object_problems(root, child, known) == [], child["metadata"]["name"]


def test_every_rendered_application_keeps_to_its_project(pinned: tuple[Doc, dict[str, Doc]]) -> None:
    _, children = pinned
    known = projects()
    assert len(children) >= 10
    problems = [p for child in children.values() for p in application_problems(child, known, pinned=True)]
    assert problems == []
    assert {c["spec"]["project"] for c in children.values()} == {gitops.PLATFORM_PROJECT, gitops.SERVICES_PROJECT}
    assert [n for n, c in children.items() if c["spec"]["project"] == gitops.SERVICES_PROJECT] == ["api-services"]


def test_what_the_services_and_git_platform_children_render_keeps_to_their_project(
    pinned: tuple[Doc, dict[str, Doc]],
) -> None:
    _, children = pinned
    known = projects()
    problems = []
    for child in children.values():
        if "chart" in child["spec"]["source"]:
            continue  # charts: the platform project admits every kind but Argo CD's own (below)
        for obj in render_child(child):
            problems.extend(object_problems(child, obj, known))
    assert problems == []


def test_a_tracking_root_passes_on_its_branch(tmp_path: Path) -> None:
    _, children = render_root(tmp_path, "track", "development", "main")
    known = projects()
    assert [p for c in children.values() for p in application_problems(c, known, pinned=False)] == []


# --- what the rules refuse ---------------------------------------------------------------------


def _child(pinned: tuple[Doc, dict[str, Doc]], name: str) -> Doc:
    return yaml.safe_load(yaml.safe_dump(pinned[1][name]))


def test_a_child_in_default_is_refused(pinned: tuple[Doc, dict[str, Doc]]) -> None:
    child = _child(pinned, "redis")
    child["spec"]["project"] = "default"
    assert application_problems(child, projects(), pinned=True) == [
        "redis: project 'default' is not one of ['gitops-root', 'platform', 'services'] (never `default`)"
    ]


def test_a_service_child_outside_its_namespaces_is_refused(pinned: tuple[Doc, dict[str, Doc]]) -> None:
    child = _child(pinned, "api-services")
    child["spec"]["destination"]["namespace"] = "kube-system"
    assert application_problems(child, projects(), pinned=True) == [
        "api-services: destination namespace 'kube-system' is outside project services"
    ]
    child = _child(pinned, "api-services")
    child["spec"]["source"]["repoURL"] = "https://github.com/someone/else.git"
    assert "not in project services's sourceRepos" in application_problems(child, projects(), pinned=True)[0]


def test_a_service_child_cannot_create_cluster_wide_objects_or_argo_cd_kinds(
    pinned: tuple[Doc, dict[str, Doc]],
) -> None:
    child = _child(pinned, "api-services")
    known = projects()
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"}}
    assert object_problems(child, binding, known) == [
        "api-services: ClusterRoleBinding/x is cluster-scoped, which project services does not admit"
    ]
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "y", "namespace": "auth"}}
    assert object_problems(child, app, known) == ["api-services: Application/y is a kind project services refuses"]
    elsewhere = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "z", "namespace": "data"}}
    assert object_problems(child, elsewhere, known) == [
        "api-services: ConfigMap/z goes to namespace 'data', outside project services"
    ]


def test_a_platform_child_cannot_mint_applications(pinned: tuple[Doc, dict[str, Doc]]) -> None:
    child = _child(pinned, "namespaces")
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "y", "namespace": "argocd"},
    }
    assert object_problems(child, app, projects()) == ["namespaces: Application/y is a kind project platform refuses"]


@pytest.mark.parametrize("revision", ["v1.2.3", SHA[:12], "main"])
def test_a_short_sha_or_a_name_on_a_pinned_child_is_refused(pinned: tuple[Doc, dict[str, Doc]], revision: str) -> None:
    child = _child(pinned, "redis")
    child["spec"]["source"]["targetRevision"] = revision
    assert application_problems(child, projects(), pinned=True) == [
        f"redis: targetRevision {revision!r} is not a full 40-hex commit SHA"
    ]
    # ... and the root itself never renders with one: validation refuses it first.
    with pytest.raises(ValueError, match="a full 40-hex commit SHA"):
        gitops.root_application(gitops.DEFAULT_REPO_URL, revision, gitops.DEFAULT_APPS_PATH)


def test_the_program_registers_the_projects_before_the_root(dev: Any) -> None:
    registered = {r.inputs["metadata"]["name"]: r for r in dev.of_type("kubernetes:argoproj.io/v1alpha1:AppProject")}
    assert sorted(registered) == sorted(projects())
    for name, reg in registered.items():
        assert reg.inputs["spec"] == projects()[name]["spec"], name
    [root] = dev.of_type("kubernetes:argoproj.io/v1alpha1:Application")
    assert root.inputs["spec"]["project"] == gitops.ROOT_PROJECT
    # The root syncs only once its project (and its children's) exist.
    assert {r.urn for r in registered.values()} <= set(root.dependencies)
