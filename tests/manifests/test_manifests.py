"""Offline checks of everything ArgoCD syncs (manifests/) and of the root Application.

Every check runs on what `kubectl kustomize` renders (the build ArgoCD runs), never on the source
files alone, and the root's repo/revision patches are applied through the same overlay ArgoCD
builds (components.gitops.write_root_overlay). Schemas: core kinds with kubernetes-validate
(strict, the Kubernetes minor from versions.yaml); custom resources with the JSON schemas of the
pinned @kubernetes-models npm packages (tests/schemas/, `npm ci` there), made strict the way the
API server's strict field validation is (docs/app-of-apps.md, "Schemas").

Semantic checks include a small NetworkPolicy evaluator: given namespaces, pods and policies it
decides whether a flow src -> dst:port/proto is allowed, and the test enumerates the whole flow
matrix against DESIGN.md's list. The old system's manifest failures each have a test here
(search for "Regression").
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import gitops
from components.argocd import NAMESPACE as ARGOCD_NAMESPACE
from components.argocd import NAMESPACE_LABELS as ARGOCD_NAMESPACE_LABELS
from policy import gitops_rule
from tests.support.children import CHART_CRD_GROUPS, chart_crd_schemas, from_upstream_git
from tests.support.dev_stack import node_labels_and_taints
from tests.support.manifests import (
    APPS_DIR,
    KUBECTL,
    MANIFESTS,
    app_roots,
    kind_of,
    render,
    render_cached,
    strict_schema,
    validate_core,
)
from tests.support.netpol import Cluster, Doc, Endpoint, labels_match, pod_spec, pods_of, workloads
from tests.support.paths import ROOT, SCHEMAS
from tests.support.platform_pods import (
    ARGOCD_PODS,
    CERT_MANAGER_PODS,
    CNPG_PODS,
    EBS_CSI_PODS,
    ENVOY_GATEWAY_PODS,
    MONITORING_PODS,
    PROBE_PORTS,
    SNAPSHOT_CONTROLLER_PODS,
)
from tests.support.prereqs import missing, require_tool

SCHEMA_DIR = SCHEMAS
VERSIONS = yaml.safe_load((ROOT / "versions.yaml").read_text())


@pytest.fixture(scope="module", autouse=True)
def _kubectl() -> None:
    """Every test here renders manifests/ with kubectl's built-in kustomize: a failure on CI without it."""
    require_tool("kubectl", "kubectl with its built-in kustomize; .ci/run installs the Debian package kubectl")


DOMAINS = ("auth", "my", "scan", "character", "location", "info", "chat")
PHASES = {"auth": "1", "my": "1", "scan": "1", "character": "2", "location": "2", "info": "3", "chat": "3"}
PLATFORM_NAMESPACES = (
    "messaging",
    "data",
    "monitoring",
    "atlantis",
    "cert-manager",
    "cnpg-system",
    "envoy-gateway-system",
    "ebs-csi",
    "pod-identity-webhook",
    "snapshot-controller",
)

# Where pods can land: each node's labels and taints from Pulumi.dev.yaml's node table (the one
# table; tests/support/dev_stack.py), plus the taint kubeadm puts on the control plane.
NODES = node_labels_and_taints()

BUILTIN_GROUPS = {
    "",
    "apps",
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "policy",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
}
# Kinds without a namespace that children here deploy.
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "StorageClass",
    "GatewayClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
}
# Which child Application installs each custom resource group (its CRDs).
CRD_OWNERS = {
    "monitoring.coreos.com": "monitoring-crds",
    "argoproj.io": "<argo-cd release>",
    # Schemas for these come from the CRDs the charts ship (tests/support/children.py).
    **CHART_CRD_GROUPS,
}
CR_SCHEMA_IDS = {
    ("argoproj.io/v1alpha1", "Application"): "argoproj.io.v1alpha1.Application",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com.v1.ServiceMonitor",
}
NPM_CI = "npm ci --prefix tests/schemas --ignore-scripts --no-audit --no-fund"


# --------------------------------------------------------------------------------------------
# Rendering


def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in MANIFESTS.rglob("kustomization.yaml"))


def included_kustomizations(kdir: Path) -> set[Path]:
    """kdir and every kustomization it includes, transitively."""
    found = {kdir.resolve()}
    spec = yaml.safe_load((kdir / "kustomization.yaml").read_text())
    for entry in spec.get("resources", []) + spec.get("components", []):
        target = kdir / entry
        if (target / "kustomization.yaml").is_file():
            found |= included_kustomizations(target)
    return found


def root_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module", autouse=True)
def _render_roots_in_parallel() -> None:
    """Each kubectl call is mostly start-up time; running them side by side halves the wait."""
    if KUBECTL is None:
        return
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda root: render_cached(str(root)), app_roots()))


def monitoring_values(apps: Mapping[str, Doc]) -> Doc:
    values: Doc = apps["monitoring-stack"]["spec"]["source"]["helm"]["valuesObject"]
    return values


# --------------------------------------------------------------------------------------------
# Every kustomization renders; the tree is explicit


@pytest.mark.parametrize("path", app_roots(), ids=root_id)
def test_every_app_root_renders(path: Path) -> None:
    docs = render(path)
    assert docs, f"{path} renders no objects"


def test_every_kustomization_is_built_by_an_app_root() -> None:
    """Building the roots builds every kustomization (kustomize fails on any broken base), so
    rendering the roots renders them all, and none is dead code ArgoCD never syncs."""
    built: set[Path] = set()
    for root in app_roots():
        built |= included_kustomizations(root)
    unbuilt = [d.relative_to(ROOT) for d in kustomization_dirs() if d.resolve() not in built]
    assert not unbuilt, f"kustomizations no Application builds: {unbuilt}"


def test_every_manifest_file_is_listed_in_a_kustomization() -> None:
    listed: set[Path] = set()
    for kdir in kustomization_dirs():
        spec = yaml.safe_load((kdir / "kustomization.yaml").read_text())
        listed.update((kdir / r).resolve() for r in spec.get("resources", []))
        # Transformer configurations (kustomize `configurations:`) are read by kustomize too.
        listed.update((kdir / r).resolve() for r in spec.get("configurations", []))
    orphans = [
        p.relative_to(ROOT)
        for p in MANIFESTS.rglob("*.yaml")
        if p.name != "kustomization.yaml" and p.resolve() not in listed
    ]
    assert not orphans, f"manifest files no kustomization lists (ArgoCD would ignore them): {orphans}"


def test_every_app_path_is_a_kustomization(apps: dict[str, Doc]) -> None:
    for name, app in apps.items():
        path = app["spec"]["source"].get("path")
        if path is not None and not from_upstream_git(app):
            assert (ROOT / path / "kustomization.yaml").is_file(), f"{name}: {path}"


def test_regression_no_common_labels_and_labels_leave_selectors_alone() -> None:
    """Regression: `commonLabels` rewrote every NetworkPolicy podSelector to select no pod."""
    for kfile in MANIFESTS.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kfile.read_text())
        assert "commonLabels" not in spec, f"{kfile}: use `labels` with includeSelectors: false"
        for entry in spec.get("labels", []):
            assert entry.get("includeSelectors") is False, (
                f"{kfile}: every `labels` entry must say includeSelectors: false"
            )


def test_regression_policy_selectors_survive_the_render() -> None:
    """What the files say is what renders: no transformer adds labels to any selector."""
    policies = render(MANIFESTS / "infrastructure" / "network-policies")
    for src in (MANIFESTS / "infrastructure" / "network-policies").rglob("*.yaml"):
        if src.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(src.read_text()):
            rendered = [d for d in policies if d["metadata"]["name"] == doc["metadata"]["name"]]
            assert rendered, doc["metadata"]["name"]
            for policy in rendered:
                assert policy["spec"] == doc["spec"], kind_of(policy)


# --------------------------------------------------------------------------------------------
# Schemas


@pytest.fixture(scope="module")
def k8s_version() -> str:
    major, minor = str(VERSIONS["kubernetes"]).split(".")[:2]
    return f"{major}.{minor}.0"


@pytest.fixture(scope="module")
def cr_validators() -> dict[str, Any]:
    """Strict jsonschema validators keyed by schema id, from the pinned npm packages."""
    from jsonschema import Draft7Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT7

    node = shutil.which("node")
    installed = (SCHEMA_DIR / "node_modules" / "@kubernetes-models").is_dir()
    if node is None or not installed:
        why = "node is not on PATH" if node is None else "tests/schemas/node_modules is missing"
        missing(f"custom resource schemas unavailable ({why}); run: {NPM_CI} (make test does)")
    out = subprocess.run(
        [node, "dump-crd-schemas.cjs"],
        cwd=SCHEMA_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    schemas = {sid: strict_schema(s) for sid, s in json.loads(out).items()}
    registry = Registry().with_resources((sid, DRAFT7.create_resource(s)) for sid, s in schemas.items())
    validators = {sid: Draft7Validator(s, registry=registry) for sid, s in schemas.items()}
    # Custom resources of the chart-installed operators: the CRDs' own schemas, made strict.
    for (api_version, kind), schema in chart_crd_schemas().items():
        validators[f"crd:{api_version}/{kind}"] = Draft7Validator(strict_schema(copy.deepcopy(schema)))
    return validators


def schema_errors(doc: Doc, version: str, cr_validators: Mapping[str, Any]) -> list[str]:
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
    if group in BUILTIN_GROUPS:
        return validate_core(doc, version)
    sid = CR_SCHEMA_IDS.get((doc["apiVersion"], doc["kind"]))
    if sid is None and f"crd:{doc['apiVersion']}/{doc['kind']}" in cr_validators:
        sid = f"crd:{doc['apiVersion']}/{doc['kind']}"
    if sid is None:
        return [f"no schema for {doc['apiVersion']} {doc['kind']}: add its package and id"]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in cr_validators[sid].iter_errors(doc)]


@pytest.mark.parametrize("path", app_roots(), ids=root_id)
def test_every_rendered_object_validates_strictly(path: Path, k8s_version: str, request: pytest.FixtureRequest) -> None:
    docs = render(path)
    # Only ask for the npm-provided schemas when there is a custom resource, so the core kinds
    # are still validated where node/npm are missing (that fixture skips or, under CI, fails).
    needs_crs = any(CRD_OWNERS.get(d["apiVersion"].split("/")[0]) for d in docs if "/" in d["apiVersion"])
    cr_validators = request.getfixturevalue("cr_validators") if needs_crs else {}
    failures = {kind_of(doc): errors for doc in docs if (errors := schema_errors(doc, k8s_version, cr_validators))}
    assert not failures, json.dumps(failures, indent=2)


def test_root_application_validates_strictly(k8s_version: str, cr_validators: Mapping[str, Any]) -> None:
    app = gitops.root_application(gitops.DEFAULT_REPO_URL, gitops.DEFAULT_REVISION, gitops.DEFAULT_APPS_PATH)
    assert schema_errors(app, k8s_version, cr_validators) == []


@pytest.mark.parametrize(
    ("path", "kind", "mutate", "expected"),
    [
        # Core kind: a typo'd container field.
        (
            "manifests/services",
            "Deployment",
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePullPolcy="x"),
            "imagePullPolcy",
        ),
        # Application: a typo in the sync policy (selfHeal).
        (
            "manifests/argocd/apps",
            "Application",
            lambda d: d["spec"]["syncPolicy"]["automated"].update(selfheal=True),
            "selfheal",
        ),
        # Application: a typo in metadata goes through the referenced ObjectMeta schema.
        (
            "manifests/argocd/apps",
            "Application",
            lambda d: d["metadata"].update(finalizer=["x"]),
            "finalizer",
        ),
        # ServiceMonitor: a typo in an endpoint.
        (
            "manifests/infrastructure/service-monitors",
            "ServiceMonitor",
            lambda d: d["spec"]["endpoints"][0].update(pth="/metrics"),
            "pth",
        ),
        # ServiceMonitor: wrong type.
        (
            "manifests/infrastructure/service-monitors",
            "ServiceMonitor",
            lambda d: d["spec"].update(endpoints={"port": "http"}),
            "endpoints",
        ),
    ],
    ids=["deployment-typo", "application-typo", "objectmeta-typo", "servicemonitor-typo", "servicemonitor-type"],
)
def test_strict_validation_rejects_bad_objects(
    path: str,
    kind: str,
    mutate: Any,
    expected: str,
    k8s_version: str,
    cr_validators: Mapping[str, Any],
) -> None:
    doc = next(d for d in render(ROOT / path) if d["kind"] == kind)
    assert schema_errors(doc, k8s_version, cr_validators) == []
    bad = copy.deepcopy(doc)
    mutate(bad)
    errors = schema_errors(bad, k8s_version, cr_validators)
    assert errors, f"a bad {kind} validated"
    assert expected in " ".join(errors)


def test_free_form_helm_values_stay_open(
    apps: dict[str, Doc], k8s_version: str, cr_validators: Mapping[str, Any]
) -> None:
    """valuesObject is x-kubernetes-preserve-unknown-fields in the CRD: any chart value is valid."""
    app = copy.deepcopy(apps["monitoring-stack"])
    app["spec"]["source"]["helm"]["valuesObject"]["anyChartKey"] = {"nested": [1, "two"]}
    assert schema_errors(app, k8s_version, cr_validators) == []


# --------------------------------------------------------------------------------------------
# Child Applications: finalizer, sync policy, waves, pins


def wave(app: Mapping[str, Any]) -> int:
    return int(app["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


def test_expected_children(apps: dict[str, Doc]) -> None:
    assert set(apps) == {
        "namespaces",
        "credentials",
        "monitoring-crds",
        "data-storage",
        "cert-manager",
        "envoy-gateway",
        "gateway",
        "metrics-server",
        "kubelet-csr-approver",
        "cloudnative-pg",
        "plugin-barman-cloud",
        "etcd-backup",
        "monitoring-stack",
        "network-policies",
        "service-monitors",
        "postgresql",
        "redis",
        "rabbitmq",
        "api-services",
        "pod-identity-webhook",
        "aws-ebs-csi-driver",
        "volume-snapshot-crds",
        "snapshot-controller",
    }


def test_regression_every_child_has_finalizer_and_automated_sync(apps: dict[str, Doc]) -> None:
    """Regression: children had no finalizer, so deleting one orphaned its resources."""
    for name, app in apps.items():
        assert app["metadata"]["namespace"] == "argocd", name
        assert gitops.RESOURCES_FINALIZER in app["metadata"].get("finalizers", []), name
        policy = app["spec"]["syncPolicy"]
        assert policy["automated"] == {"prune": True, "selfHeal": True}, name
        retry = policy["retry"]
        assert retry["limit"] > 0 and {"duration", "factor", "maxDuration"} <= set(retry["backoff"]), name
        assert "argocd.argoproj.io/sync-wave" in app["metadata"]["annotations"], name
        assert app["spec"]["destination"]["server"] == gitops.IN_CLUSTER_SERVER, name


def test_waves_order_the_platform(apps: dict[str, Doc]) -> None:
    w = {name: wave(app) for name, app in apps.items()}
    assert w["namespaces"] < min(v for k, v in w.items() if k != "namespaces")
    assert w["credentials"] < w["monitoring-stack"]
    assert w["monitoring-crds"] < min(w["service-monitors"], w["postgresql"], w["redis"], w["rabbitmq"])
    # The full monitoring stack is last: nothing waits for Prometheus or Grafana to be Healthy.
    assert w["monitoring-stack"] == max(w.values())
    assert w["network-policies"] < min(w["postgresql"], w["redis"], w["rabbitmq"])
    assert max(w["postgresql"], w["redis"], w["rabbitmq"], w["service-monitors"]) < w["api-services"]


def test_regression_crd_owners_sync_before_their_users(apps: dict[str, Doc], app_objects: dict[str, list[Doc]]) -> None:
    """Regression: ServiceMonitors were applied before their CRD existed."""
    for name, docs in app_objects.items():
        for doc in docs:
            group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
            if group in BUILTIN_GROUPS:
                continue
            owner = CRD_OWNERS.get(group)
            assert owner is not None, f"{name}: no known owner of the CRDs of {group}"
            if owner in apps:
                assert wave(apps[owner]) < wave(apps[name]), (
                    f"{name} (wave {wave(apps[name])}) uses {group}, whose CRDs "
                    f"{owner} installs in wave {wave(apps[owner])}"
                )


def test_namespaces_exist_before_anything_uses_them(apps: dict[str, Doc], app_objects: dict[str, list[Doc]]) -> None:
    created = {d["metadata"]["name"] for d in app_objects["namespaces"]}
    for name, docs in app_objects.items():
        for doc in docs:
            if doc["kind"] in CLUSTER_SCOPED_KINDS:
                continue
            ns = doc["metadata"].get("namespace")
            assert ns, f"{name}: {kind_of(doc)} has no namespace (would land in argocd)"
            # kube-system exists in every cluster (the etcd snapshot CronJob runs there).
            # argocd is created by Pulumi before any Application (components/argocd.py).
            assert ns in created or ns in ("kube-system", ARGOCD_NAMESPACE), (
                f"{name}: {kind_of(doc)} targets unknown namespace {ns}"
            )
        if name != "namespaces":
            assert wave(apps["namespaces"]) < wave(apps[name])
        assert "CreateNamespace=true" not in apps[name]["spec"]["syncPolicy"].get("syncOptions", []), name
    chart_ns = apps["monitoring-stack"]["spec"]["destination"]["namespace"]
    assert chart_ns in created


def test_credentials_exist_before_their_consumers(apps: dict[str, Doc], app_objects: dict[str, list[Doc]]) -> None:
    generated: set[tuple[str, str]] = set()
    for job in (d for d in app_objects["credentials"] if d["kind"] == "Job"):
        env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        for spec in json.loads(env["SECRET_SPECS"]):
            generated.add((job["metadata"]["namespace"], spec["name"]))
    # Serving certificates cert-manager issues into a Secret of the same child (the pod identity webhook's).
    issued = {
        (d["metadata"]["namespace"], d["spec"]["secretName"])
        for docs in app_objects.values()
        for d in docs
        if d["kind"] == "Certificate"
    }
    consumers = 0
    for name, docs in app_objects.items():
        for doc in docs:
            for ref in secret_refs(doc):
                if (doc["metadata"]["namespace"], ref) in issued:
                    assert wave(apps["cert-manager"]) < wave(apps[name]), name
                    continue
                consumers += 1
                assert (doc["metadata"]["namespace"], ref) in generated, f"{name}: {ref}"
                assert wave(apps["credentials"]) < wave(apps[name]), name
    grafana = monitoring_values(apps)["grafana"]["admin"]["existingSecret"]
    assert ("monitoring", grafana) in generated
    assert wave(apps["credentials"]) < wave(apps["monitoring-stack"])
    # Redis (init container) and RabbitMQ (user, password); PostgreSQL's come from its operator.
    assert consumers >= 3


def secret_refs(doc: Doc) -> Iterator[str]:
    """Every Secret a pod reads: environment variables, `envFrom` and mounted Secret volumes."""
    spec = pod_spec(doc)
    if spec is None:
        return
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                yield ref["name"]
        for source in c.get("envFrom", []):
            if "secretRef" in source:
                yield source["secretRef"]["name"]
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            yield volume["secret"]["secretName"]


def test_regression_namespaces_and_crds_are_protected_from_git_deletion(
    apps: dict[str, Doc], app_objects: dict[str, list[Doc]]
) -> None:
    """Regression: Namespaces were prunable by a Git deletion."""
    for ns in app_objects["namespaces"]:
        options = ns["metadata"]["annotations"]["argocd.argoproj.io/sync-options"].split(",")
        assert {"Prune=false", "Delete=false"} <= {o.strip() for o in options}, ns["metadata"]
    # The CRD owner and the stateful children are not pruned when their file leaves Git, so
    # the finalizer cannot cascade into deleting CRDs (and every CR) or databases.
    for name in ("monitoring-crds", "monitoring-stack", "postgresql", "redis", "rabbitmq"):
        options = apps[name]["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
        assert "Prune=false" in options.split(","), name
    for name in ("monitoring-crds", "monitoring-stack"):
        assert "ServerSideApply=true" in apps[name]["spec"]["syncPolicy"]["syncOptions"], name


def test_regression_every_chart_is_pinned_to_versions_yaml(apps: dict[str, Doc]) -> None:
    """Regression: kube-prometheus-stack was unpinned."""
    charts = [a for a in apps.values() if "chart" in a["spec"]["source"]]
    assert charts, "expected at least the monitoring stack chart"
    for app in charts:
        source = app["spec"]["source"]
        key = re.sub(r"-(\w)", lambda m: m.group(1).upper(), source["chart"]) + "Chart"
        assert key in VERSIONS, f"versions.yaml lacks {key} for {app['metadata']['name']}"
        # cert-manager's chart versions carry a `v` (v1.21.1); still an exact version.
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", source["targetRevision"]), source
        assert source["targetRevision"] == str(VERSIONS[key]), app["metadata"]["name"]
        assert source["repoURL"] == VERSIONS[f"{key}Repo"], app["metadata"]["name"]
        assert gitops.REPO_LABEL_KEY not in app["metadata"].get("labels", {})


def test_git_children_are_labelled_and_hold_pinned_defaults(apps: dict[str, Doc]) -> None:
    for name, app in apps.items():
        source = app["spec"]["source"]
        if "chart" in source or from_upstream_git(app):
            continue  # upstream Git children: tests/manifests/test_volume_snapshots.py
        labels = app["metadata"].get("labels", {})
        assert labels.get(gitops.REPO_LABEL_KEY) == gitops.REPO_LABEL_VALUE, name
        assert source["repoURL"] == gitops.DEFAULT_REPO_URL, name
        assert source["targetRevision"] == gitops.DEFAULT_REVISION, name


def test_no_floating_target_revision(apps: dict[str, Doc]) -> None:
    for name, app in apps.items():
        source = app["spec"]["source"]
        rev = source["targetRevision"]
        # In Git every Git child holds the placeholder full SHA the root replaces (a tracking root
        # with its branch, a pinned one with its commit); a chart child holds an exact chart version.
        if "chart" in source:
            assert gitops_rule.GIT_TAG.match(rev), f"{name}: chart version {rev}"
        elif from_upstream_git(app):
            assert gitops_rule.GIT_TAG.match(rev), f"{name}: upstream release {rev}"
        else:
            assert rev == gitops.DEFAULT_REVISION and gitops_rule.is_pinned_revision(rev), f"{name}: {rev}"
        assert not re.search(r"[\^~<>=x]|\|\|", rev.split("-")[0]), f"{name}: range {rev}"


# --------------------------------------------------------------------------------------------
# Root Application and the one source of truth


def test_root_application_shape() -> None:
    app = gitops.root_application("https://git.example.test/platform.git", "1" * 40, "x/apps")
    assert app["apiVersion"] == "argoproj.io/v1alpha1" and app["kind"] == "Application"
    assert app["metadata"]["name"] == "root-app" and app["metadata"]["namespace"] == "argocd"
    assert app["metadata"]["finalizers"] == [gitops.RESOURCES_FINALIZER]
    assert app["spec"]["project"] == gitops.ROOT_PROJECT
    assert app["spec"]["source"]["repoURL"] == "https://git.example.test/platform.git"
    assert app["spec"]["source"]["targetRevision"] == "1" * 40
    assert app["spec"]["source"]["path"] == "x/apps"
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert app["spec"]["syncPolicy"]["retry"]["backoff"]["factor"] == 2
    other = gitops.root_application("u", "2" * 40, "p", name="r", namespace="ns", project="proj")
    assert (other["metadata"]["name"], other["metadata"]["namespace"]) == ("r", "ns")
    assert other["spec"]["project"] == "proj"
    # Each call returns its own dicts.
    other["spec"]["syncPolicy"]["retry"]["limit"] = 0
    assert app["spec"]["syncPolicy"]["retry"]["limit"] == gitops.RETRY["limit"] != 0


@pytest.mark.parametrize("revision", ["HEAD", "main", "master", "", "latest", "v1.2.3", "3f2a9c1"])
def test_root_application_rejects_floating_revisions(revision: str) -> None:
    # Pinned is the default mode; tests/unit/test_gitops_modes.py covers tracking.
    with pytest.raises(ValueError, match=r"gitopsRevision = .*a full 40-hex commit SHA"):
        gitops.root_application(gitops.DEFAULT_REPO_URL, revision, gitops.DEFAULT_APPS_PATH)


def test_root_application_rejects_bad_repo_and_path() -> None:
    with pytest.raises(ValueError, match="repo_url is empty"):
        gitops.root_application(" ", "v1", "p")
    with pytest.raises(ValueError, match="relative path"):
        gitops.root_application("u", "v1", "/abs")


def test_defaults_point_at_this_tree() -> None:
    assert (ROOT / gitops.DEFAULT_APPS_PATH / "kustomization.yaml").is_file()


def render_through_root(app: Doc, tmp_path: Path) -> list[Doc]:
    overlay = gitops.write_root_overlay(app, ROOT, tmp_path / "root-overlay")
    return render(overlay)


def test_root_patches_set_repo_and_revision_of_every_git_child(tmp_path: Path, apps: dict[str, Doc]) -> None:
    url = "https://git.example.test/acme/platform-fork.git"
    sha = "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b"
    children = {
        a["metadata"]["name"]: a
        for a in render_through_root(gitops.root_application(url, sha, gitops.DEFAULT_APPS_PATH), tmp_path)
    }
    assert set(children) == set(apps)
    for name, child in children.items():
        source = child["spec"]["source"]
        if "chart" in source or from_upstream_git(apps[name]):
            # Third-party charts and upstream Git releases keep their repository and pin.
            assert source == apps[name]["spec"]["source"], name
        else:
            assert (source["repoURL"], source["targetRevision"]) == (url, sha), name
            assert source["path"] == apps[name]["spec"]["source"]["path"], name
    # Nothing else changed.
    for name, child in children.items():
        expected = copy.deepcopy(apps[name])
        expected["spec"]["source"] = child["spec"]["source"]
        assert child == expected, name


def test_root_patch_fails_loudly_when_a_child_lost_its_default(tmp_path: Path) -> None:
    """`replace` needs the default in Git; a child missing it must not silently render."""
    tree = tmp_path / "repo" / "apps"
    shutil.copytree(APPS_DIR, tree)
    child = tree / "api-services.yaml"
    child.write_text(child.read_text().replace(f'targetRevision: "{gitops.DEFAULT_REVISION}"\n', ""))
    app = gitops.root_application("https://x.test/r.git", "9" * 39 + "a", "apps")
    overlay = gitops.write_root_overlay(app, tmp_path / "repo", tmp_path / "ov")
    assert KUBECTL is not None
    result = subprocess.run([KUBECTL, "kustomize", str(overlay)], capture_output=True, text=True)
    assert result.returncode != 0


def test_root_patch_shape_matches_crd() -> None:
    patches = gitops.repo_patches("u", "r")
    assert patches[0]["target"]["labelSelector"] == "gitops-cluster.io/repo=platform"
    ops = yaml.safe_load(patches[0]["patch"])
    assert ops == [
        {"op": "replace", "path": "/spec/source/repoURL", "value": "u"},
        {"op": "replace", "path": "/spec/source/targetRevision", "value": "r"},
    ]


# --------------------------------------------------------------------------------------------
# Namespaces


def test_namespaces_and_labels(app_objects: dict[str, list[Doc]]) -> None:
    ns = {d["metadata"]["name"]: d["metadata"]["labels"] for d in app_objects["namespaces"]}
    assert set(ns) == set(DOMAINS) | set(PLATFORM_NAMESPACES)
    assert len(ns) == 17
    for d in DOMAINS:
        assert ns[d]["domain"] == d
        assert ns[d]["tier"] == "business-logic"
        assert ns[d]["rollout-phase"] == PHASES[d]
    kube_minor = ".".join(str(VERSIONS["kubernetes"]).split(".")[:2])
    for name, labels in ns.items():
        if "pod-security.kubernetes.io/enforce" in labels:
            assert labels["pod-security.kubernetes.io/enforce-version"] == f"v{kube_minor}", name


# Cluster-scoped kinds this tree renders; every other object must name its namespace.
CLUSTER_SCOPED = {
    "Namespace",
    "StorageClass",
    "GatewayClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
}


def test_every_namespaced_object_names_its_namespace() -> None:
    """No rendered object lands in `default` by omission: the kustomization or overlay sets each one.

    The source files carry no namespace (their kustomization sets it), which is why checkov's
    CKV_K8S_21 is skipped for the repository in .checkov.yaml; this holds it on the rendered output.
    """
    for root in app_roots():
        for doc in render(root):
            if doc["kind"] in CLUSTER_SCOPED:
                assert "namespace" not in doc["metadata"], kind_of(doc)
            else:
                assert doc["metadata"].get("namespace") not in (None, "", "default"), f"{root}: {kind_of(doc)}"


# --------------------------------------------------------------------------------------------
# Workloads: placement, security, images, secrets


def schedulable_nodes(spec: Mapping[str, Any]) -> set[str]:
    selector = spec.get("nodeSelector", {})
    tolerations = spec.get("tolerations", [])

    def tolerated(taint: Mapping[str, str]) -> bool:
        return any(
            t.get("key") == taint["key"]
            and t.get("effect", taint["effect"]) == taint["effect"]
            and (t.get("operator") == "Exists" or t.get("value") == taint["value"])
            for t in tolerations
        )

    return {
        node
        for node, (labels, taints) in NODES.items()
        if all(labels.get(k) == v for k, v in selector.items()) and all(map(tolerated, taints))
    }


def test_domain_apis_run_on_their_domain_node(app_objects: dict[str, list[Doc]]) -> None:
    deployments = [d for d in app_objects["api-services"] if d["kind"] == "Deployment"]
    assert {d["metadata"]["namespace"] for d in deployments} == set(DOMAINS)
    for dep in deployments:
        ns = dep["metadata"]["namespace"]
        spec = pod_spec(dep)
        assert spec is not None
        assert schedulable_nodes(spec) == {f"api-{ns}"}, kind_of(dep)
        assert dep["spec"]["template"]["metadata"]["labels"]["domain"] == ns


@pytest.mark.parametrize(
    ("app", "node"),
    [("postgresql", "postgresql"), ("redis", "redis"), ("rabbitmq", "rabbitmq")],
)
def test_datastores_run_on_their_tainted_node(app: str, node: str, app_objects: dict[str, list[Doc]]) -> None:
    (owner,) = [d for d in app_objects[app] if d["kind"] in ("StatefulSet", "Cluster")]
    # A CloudNativePG Cluster places its instances with spec.affinity (nodeSelector, tolerations).
    spec = owner["spec"]["affinity"] if owner["kind"] == "Cluster" else pod_spec(owner)
    assert spec is not None
    assert schedulable_nodes(spec) == {node}


def test_monitoring_stack_runs_on_the_monitoring_node(apps: dict[str, Doc]) -> None:
    values = monitoring_values(apps)
    specs = {
        "operator": values["prometheusOperator"],
        "webhook-patch": values["prometheusOperator"]["admissionWebhooks"]["patch"],
        "prometheus": values["prometheus"]["prometheusSpec"],
        "alertmanager": values["alertmanager"]["alertmanagerSpec"],
        "grafana": values["grafana"],
        "kube-state-metrics": values["kube-state-metrics"],
    }
    for name, spec in specs.items():
        assert schedulable_nodes(spec) == {"monitoring"}, name


ROOT_WORKLOADS = {"CronJob/kube-system/etcd-snapshot"}


def test_pods_are_non_root_read_only_and_bounded(cluster_objects: list[Doc]) -> None:
    found = workloads(cluster_objects)
    # 7 APIs, Redis, RabbitMQ, 3 credentials Jobs (PostgreSQL's pods are the operator's).
    assert len(found) >= 7 + 2 + 3
    for doc in found:
        spec = pod_spec(doc)
        assert spec is not None
        psc = spec.get("securityContext", {})
        if kind_of(doc) in ROOT_WORKLOADS:
            # Reads etcd's root-owned 0600 client key from the host; still no capability at all.
            assert psc.get("runAsUser") == 0 and spec.get("hostNetwork") is True, kind_of(doc)
        else:
            assert psc.get("runAsNonRoot") is True, kind_of(doc)
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", kind_of(doc)
        for c in spec["containers"] + spec.get("initContainers", []):
            where = f"{kind_of(doc)} container {c['name']}"
            sc = c.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert "add" not in sc.get("capabilities", {}), where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c.get("resources", {}).get(kind, {})), where
            if doc["kind"] not in ("Job", "CronJob") and c in spec["containers"]:
                assert "readinessProbe" in c and "livenessProbe" in c, where


def test_domain_api_contract(app_objects: dict[str, list[Doc]]) -> None:
    for dep in (d for d in app_objects["api-services"] if d["kind"] == "Deployment"):
        (c,) = pod_spec(dep)["containers"]  # type: ignore[index]
        assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in c["ports"]
        assert c["readinessProbe"]["httpGet"]["port"] == "http"


def image_refs(objects: Iterable[Doc]) -> Iterator[tuple[str, str]]:
    for doc in workloads(objects):
        spec = pod_spec(doc)
        assert spec is not None
        for c in spec["containers"] + spec.get("initContainers", []):
            yield kind_of(doc), c["image"]


def test_images_are_pinned(cluster_objects: list[Doc]) -> None:
    for where, image in image_refs(cluster_objects):
        assert "@sha256:" in image or re.search(r":[\w][\w.-]*$", image.split("/")[-1]), (
            f"{where}: {image} has no tag or digest"
        )
        tag = image.rsplit(":", 1)[-1]
        assert tag not in {"latest", "stable", "main", "master"}, f"{where}: {image}"
        assert "/" in image and "." in image.split("/")[0], f"{where}: {image} not fully qualified"


def test_platform_images_equal_versions_yaml(app_objects: dict[str, list[Doc]]) -> None:
    (cluster,) = [d for d in app_objects["postgresql"] if d["kind"] == "Cluster"]
    assert cluster["spec"]["imageName"] == VERSIONS["postgresqlImage"]
    expected = {
        "redis": {VERSIONS["redisImage"], VERSIONS["redisExporterImage"]},
        # The definitions export reuses the pinned Python image and uploads with the AWS CLI.
        "rabbitmq": {VERSIONS["rabbitmqImage"], VERSIONS["credentialsGeneratorImage"], VERSIONS["awsCliImage"]},
        "credentials": {VERSIONS["credentialsGeneratorImage"]},
    }
    for app, images in expected.items():
        assert {image for _, image in image_refs(app_objects[app])} == images, app


def test_domain_images_are_per_domain(app_objects: dict[str, list[Doc]]) -> None:
    images = dict(image_refs(app_objects["api-services"]))
    for d in DOMAINS:
        # A placeholder tag until the promote workflow sets a digest (tools/ci/promote_image.py).
        assert re.fullmatch(rf".+/{d}-api(:\d+\.\d+\.\d+|@sha256:[0-9a-f]{{64}})", images[f"Deployment/{d}/{d}-api"])


def test_regression_no_default_or_inline_credentials(apps: dict[str, Doc], cluster_objects: list[Doc]) -> None:
    """Regression: passwords defaulted to `changeme`; secrets must never be in Git."""
    assert not [d for d in cluster_objects if d["kind"] == "Secret"], "Secrets in Git"
    for doc in workloads(cluster_objects):
        spec = pod_spec(doc)
        assert spec is not None
        for c in spec["containers"] + spec.get("initContainers", []):
            for e in c.get("env", []):
                if re.search(r"(PASS|PASSWORD|TOKEN|API_KEY|SECRET_KEY)$", e["name"]):
                    assert "value" not in e and "secretKeyRef" in e.get("valueFrom", {}), (
                        f"{kind_of(doc)}: {e['name']} must come from a Secret"
                    )
            assert not any("requirepass" in a and "$(" in a for a in c.get("args", []))
    text = "\n".join(p.read_text() for p in MANIFESTS.rglob("*.yaml")).lower()
    for default in ("changeme", "prom-operator", "guest:guest"):
        assert default not in text, default
    grafana_admin = monitoring_values(apps)["grafana"]["admin"]
    assert grafana_admin["existingSecret"] and "adminPassword" not in monitoring_values(apps)["grafana"]


def test_datastore_volumes_outlive_their_statefulset(app_objects: dict[str, list[Doc]]) -> None:
    """Issue 11: volumes used to go with their StatefulSet (`whenDeleted: Delete`, for cloud disks
    that blocked the VPC teardown). Local-path volumes live on the node's own disk, so that reason
    is gone and the data must survive; tests/manifests/test_data_retention.py follows every delete path."""
    for app in ("redis", "rabbitmq"):
        (sts,) = [d for d in app_objects[app] if d["kind"] == "StatefulSet"]
        assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_services_select_their_pods(cluster_objects: list[Doc]) -> None:
    pods = pods_of(cluster_objects)
    for svc in (d for d in cluster_objects if d["kind"] == "Service"):
        ns = svc["metadata"]["namespace"]
        targets = [p for p in pods if p.namespace == ns and labels_match(svc["spec"]["selector"], p.labels)]
        assert targets, f"{kind_of(svc)} selects no pod"
        for port in svc["spec"]["ports"]:
            for pod in targets:
                assert port["targetPort"] in pod.ports, f"{kind_of(svc)} port {port['name']}"


# --------------------------------------------------------------------------------------------
# NetworkPolicy evaluator


@pytest.fixture(scope="module")
def network(apps: dict[str, Doc], app_objects: dict[str, list[Doc]]) -> tuple[Cluster, dict[str, Endpoint]]:
    namespaces = {d["metadata"]["name"]: d["metadata"].get("labels", {}) for d in app_objects["namespaces"]}
    namespaces["kube-system"] = {}
    # Created by Pulumi (components/argocd.py), not by a Git child.
    namespaces[ARGOCD_NAMESPACE] = ARGOCD_NAMESPACE_LABELS
    policies = app_objects["network-policies"]
    prometheus_labels = monitoring_values(apps)["prometheus"]["prometheusSpec"]["podMetadata"]["labels"]
    endpoints = {p.name: p for p in pods_of(c for docs in app_objects.values() for c in docs)}
    extra = [
        Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}),
        # Prometheus pods carry the chart's own labels plus what podMetadata adds.
        Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus", **prometheus_labels}),
        # Another pod in monitoring, not Prometheus (e.g. Grafana): must not reach the APIs.
        Endpoint("grafana", "monitoring", {"app.kubernetes.io/name": "grafana"}, ports={"grafana": 3000}),
        *MONITORING_PODS,
        *ARGOCD_PODS,
        *CERT_MANAGER_PODS,
        *CNPG_PODS,
        *ENVOY_GATEWAY_PODS,
        *EBS_CSI_PODS,
        *SNAPSHOT_CONTROLLER_PODS,
        Endpoint("atlantis", "atlantis", {"app.kubernetes.io/name": "atlantis"}),
        Endpoint("internet", None, ip="203.0.113.10"),
        Endpoint("instance-metadata", None, ip="169.254.169.254"),
        Endpoint("vpc-host", None, ip="10.0.12.7"),
        # A node of a stack whose VPC is in another private range.
        Endpoint("vpc-host-172", None, ip="172.31.4.20"),
    ]
    endpoints.update({e.name: e for e in extra})
    return Cluster(namespaces, policies), endpoints


ENVOY = "envoy-gateway-system/envoy"
# The Gateway's listener ports (manifests/infrastructure/gateway/gateway.yaml), reached from the ALB.
GATEWAY_LISTENER_PORTS = (8080, 8081, 8082)


def api(domain: str) -> str:
    return f"{domain}/{domain}-api"


# The nodes, in either of the private ranges a VPC may use.
VPC_HOSTS = ("vpc-host", "vpc-host-172")

# What Prometheus may open towards any pod (monitoring/policies.yaml); a pod in a namespace
# without ingress policies (kube-system) admits it there.
SCRAPE_PORTS = {8000, 8080, 8081, 8082, 8083, 8084, 3000, 9090, 9093, 9121, 9153, 9187, 15692}


def expected_flows(endpoints: Mapping[str, Endpoint]) -> set[tuple[str, str, int, str]]:
    """DESIGN.md's flows, and nothing else, among the endpoints the policies govern."""
    flows: set[tuple[str, str, int, str]] = set()
    flows |= {
        ("prometheus", e.name, port, "TCP")
        for e in endpoints.values()
        if e.namespace is not None and e.namespace not in GOVERNED
        for port, proto in PROBE_PORTS
        if proto == "TCP" and port in SCRAPE_PORTS
    }
    for d in DOMAINS:
        flows |= {
            (api(d), "kube-dns", 53, "UDP"),
            (api(d), "kube-dns", 53, "TCP"),
            (api(d), "data/postgresql", 5432, "TCP"),
            (api(d), "data/redis", 6379, "TCP"),
            ("prometheus", api(d), 8000, "TCP"),
        }
    flows.add((api("scan"), "messaging/rabbitmq", 5672, "TCP"))
    # Issue 11: the datastores are scraped by Prometheus on their metrics ports, and the
    # CloudNativePG operator manages PostgreSQL through the instance status API (8000).
    flows |= {
        ("prometheus", "data/postgresql", 9187, "TCP"),
        ("prometheus", "data/redis", 9121, "TCP"),
        ("prometheus", "messaging/rabbitmq", 15692, "TCP"),
        ("cnpg-system/operator", "data/postgresql", 8000, "TCP"),
        ("messaging/rabbitmq-definitions-export", "messaging/rabbitmq", 15672, "TCP"),
    }
    flows |= {(api(d), "internet", 443, "TCP") for d in ("scan", "chat")}
    # Issue 21: data and messaging are fenced both ways. Every pod there resolves names and reaches
    # the API server; PostgreSQL's instances reach each other and S3 (443, public addresses); the
    # definitions export reads RabbitMQ's management API and uploads to S3.
    for e in endpoints.values():
        if e.namespace in ("data", "messaging") or e.name.endswith("/credentials-generator"):
            flows |= {(e.name, "kube-dns", 53, "UDP"), (e.name, "kube-dns", 53, "TCP")}
            flows |= {(e.name, node, 6443, "TCP") for node in VPC_HOSTS}
    flows.add(("data/postgresql", "internet", 443, "TCP"))
    flows.add(("messaging/rabbitmq-definitions-export", "internet", 443, "TCP"))
    # Issue 12: argocd and monitoring are fenced. Every pod there resolves names and reaches the
    # API server (on the control-plane nodes, `vpc-host`).
    fenced = [e.name for e in ARGOCD_PODS + MONITORING_PODS] + ["prometheus", "grafana"]
    for src in fenced:
        flows |= {(src, "kube-dns", 53, "UDP"), (src, "kube-dns", 53, "TCP")}
        flows |= {(src, node, 6443, "TCP") for node in VPC_HOSTS}
    # ArgoCD: Git over 443 from the repo-server; its components talk to the repo-server and redis.
    flows.add(("argocd/repo-server", "internet", 443, "TCP"))
    for src in ("argocd/server", "argocd/application-controller", "argocd/applicationset-controller"):
        flows.add((src, "argocd/repo-server", 8081, "TCP"))
    for src in ("argocd/server", "argocd/application-controller", "argocd/repo-server"):
        flows.add((src, "argocd/redis", 6379, "TCP"))
    # Prometheus scrapes every ArgoCD component's metrics port, and the monitoring components'.
    # (Dex's metrics have no ServiceMonitor: tests/unit/test_flows_rendered.py derives the scrapes.)
    flows |= {
        ("prometheus", e.name, e.ports["metrics"], "TCP")
        for e in ARGOCD_PODS
        if "metrics" in e.ports and e.name != "argocd/dex-server"
    }
    # SSO: argocd-server -> Dex (HTTP and gRPC), Dex -> GitHub.
    flows |= {("argocd/server", "argocd/dex-server", port, "TCP") for port in (5556, 5557)}
    flows.add(("argocd/dex-server", "internet", 443, "TCP"))
    flows |= {
        ("prometheus", "grafana", 3000, "TCP"),
        ("prometheus", "kube-state-metrics", 8080, "TCP"),
        ("prometheus", "alertmanager", 9093, "TCP"),
        # Alertmanager's config-reloader (its ServiceMonitor's reloader-web endpoint).
        ("prometheus", "alertmanager", 8080, "TCP"),
        # Grafana queries Prometheus and Alertmanager; Prometheus sends alerts; Alertmanager
        # notifies receivers on the internet and gossips with its peers.
        ("grafana", "prometheus", 9090, "TCP"),
        ("grafana", "alertmanager", 9093, "TCP"),
        ("alertmanager", "internet", 443, "TCP"),
    }
    for node in VPC_HOSTS:
        # Node targets (node-exporter, kubelet) and the API server calling the operator's webhook.
        flows |= {("prometheus", node, 9100, "TCP"), ("prometheus", node, 10250, "TCP")}
        flows.add((node, "prometheus-operator", 10250, "TCP"))
    # Issue 12, the data stack's namespaces: every pod in cert-manager and cnpg-system resolves
    # names and reaches the API server; the API server calls both webhooks.
    for src in [e.name for e in CERT_MANAGER_PODS + CNPG_PODS]:
        flows |= {(src, "kube-dns", 53, "UDP"), (src, "kube-dns", 53, "TCP")}
        flows |= {(src, node, 6443, "TCP") for node in VPC_HOSTS}
    flows |= {(node, "cert-manager/webhook", 10250, "TCP") for node in VPC_HOSTS}
    flows |= {(node, "cnpg-system/operator", 9443, "TCP") for node in VPC_HOSTS}
    # The webhook rule names the private ranges (the API server's node address is per stack), and
    # pod addresses are in them too: a pod whose own egress is open (data, messaging, kube-system)
    # reaches 9443 as well; no pod of a fenced namespace does.
    flows |= {
        (e.name, "cnpg-system/operator", 9443, "TCP")
        for e in endpoints.values()
        if e.namespace is not None and e.namespace not in FENCED_EGRESS and "credentials-generator" not in e.name
    }
    # The operator drives the Barman Cloud plugin over gRPC (its Service barman-cloud:9090).
    flows.add(("cnpg-system/operator", "cnpg-system/plugin-barman-cloud", 9090, "TCP"))
    # Issue 20: the EBS CSI controller and the pod identity webhook resolve names and reach the API
    # server; the controller calls the EC2 API and STS through the NAT on 443; the API server calls
    # the webhook on 443 (by the private ranges, so pods with open egress reach it too, as above).
    # The snapshot controller (its own namespace) does the same and nothing else.
    webhook = "pod-identity-webhook/pod-identity-webhook"
    for src in ("ebs-csi/controller", webhook, "snapshot-controller/snapshot-controller"):
        flows |= {(src, "kube-dns", 53, "UDP"), (src, "kube-dns", 53, "TCP")}
        flows |= {(src, node, 6443, "TCP") for node in VPC_HOSTS}
    flows.add(("ebs-csi/controller", "internet", 443, "TCP"))
    flows |= {(node, webhook, 443, "TCP") for node in VPC_HOSTS}
    flows |= {
        (e.name, webhook, 443, "TCP")
        for e in endpoints.values()
        if e.namespace is not None and e.namespace not in FENCED_EGRESS and "credentials-generator" not in e.name
    }
    # Issue 19, the public entry: the ALB (a VPC address) reaches Envoy's listeners; Envoy reaches
    # each domain API on 8000, the admin UIs, and its controller's xDS; nothing else.
    for src in [e.name for e in ENVOY_GATEWAY_PODS]:
        flows |= {(src, "kube-dns", 53, "UDP"), (src, "kube-dns", 53, "TCP")}
        flows |= {(src, node, 6443, "TCP") for node in VPC_HOSTS}
    flows |= {(node, ENVOY, port, "TCP") for node in VPC_HOSTS for port in GATEWAY_LISTENER_PORTS}
    flows |= {(ENVOY, api(d), 8000, "TCP") for d in DOMAINS}
    flows |= {(ENVOY, "argocd/server", 8080, "TCP"), (ENVOY, "grafana", 3000, "TCP")}
    flows.add((ENVOY, "envoy-gateway-system/controller", 18000, "TCP"))
    # The listener rule names the private ranges (the ALB's address is per stack), which hold the
    # pod network too: a pod whose own egress is open reaches the listeners as well (as the
    # webhook above); no pod of a fenced namespace does but Prometheus, whose scrape ports include
    # 8080-8082.
    flows |= {
        (e.name, ENVOY, port, "TCP")
        for e in endpoints.values()
        if e.namespace is not None
        and (e.namespace not in FENCED_EGRESS or e.name == "prometheus")
        and "credentials-generator" not in e.name
        and e.name != ENVOY
        for port in GATEWAY_LISTENER_PORTS
    }
    return flows


# Every platform namespace but data and messaging (their Jobs keep egress open), and argocd.
FENCED = (set(PLATFORM_NAMESPACES) - {"data", "messaging"}) | {"argocd"}
GOVERNED = set(DOMAINS) | {"data", "messaging"} | FENCED
# Namespaces whose egress is fenced too: all of them (data and messaging since issue 21).
FENCED_EGRESS = set(DOMAINS) | FENCED | {"data", "messaging"}
# Ports on the nodes (the API server, the kubelet, node-exporter, and the webhook the API server calls from a
# node): the policies allow them by the private address ranges, which also hold the pod network
# (its CIDR is per stack, so a Git manifest cannot exclude it). They are checked between a pod
# and the nodes only; no pod listens on 6443, and 10250 is the Prometheus operator's and
# cert-manager's webhook (TLS). cnpg's webhook (9443) is checked between pods as well.
NODE_PORTS = {6443, 10250, 9100}


def test_flow_matrix_is_exactly_the_design(network: tuple[Cluster, dict[str, Endpoint]]) -> None:
    """Every allowed flow in DESIGN.md is allowed, and nothing else is (both directions)."""
    cluster, endpoints = network
    assert {api(d) for d in DOMAINS} <= set(endpoints)
    actual = set()
    for src in endpoints.values():
        for dst in endpoints.values():
            if src == dst:
                continue
            governed = src.namespace in FENCED_EGRESS or dst.namespace in GOVERNED
            if not governed:
                continue
            for port, proto in PROBE_PORTS:
                if port in NODE_PORTS and src.namespace is not None and dst.namespace is not None:
                    continue
                if cluster.allowed(src, dst, port, proto):
                    actual.add((src.name, dst.name, port, proto))
    missing = expected_flows(endpoints) - actual
    extra = actual - expected_flows(endpoints)
    assert not missing, f"DESIGN.md flows blocked: {sorted(missing)}"
    assert not extra, f"flows allowed beyond DESIGN.md: {sorted(extra)}"


# The data stack's namespaces, row by row (the matrix above holds them too; these name the reason,
# and reach the webhook on 10250, which the matrix checks from the nodes only).
DATA_STACK_ROWS = [
    # (source, destination, port, protocol, allowed, why)
    ("vpc-host", "cert-manager/webhook", 10250, "TCP", True, "the API server calls cert-manager's webhook"),
    ("vpc-host-172", "cnpg-system/operator", 9443, "TCP", True, "the API server calls the CloudNativePG webhook"),
    ("cert-manager/startupapicheck", "vpc-host", 6443, "TCP", True, "cert-manager's pods reach the API server"),
    ("cnpg-system/plugin-barman-cloud", "vpc-host", 6443, "TCP", True, "the plugin reaches the API server"),
    ("cnpg-system/operator", "cnpg-system/plugin-barman-cloud", 9090, "TCP", True, "operator -> plugin gRPC"),
    ("cnpg-system/operator", "data/postgresql", 8000, "TCP", True, "operator -> instance manager"),
    (api("auth"), "cnpg-system/operator", 9443, "TCP", False, "a domain pod never calls the cnpg webhook"),
    (api("auth"), "cert-manager/webhook", 10250, "TCP", False, "a domain pod never calls cert-manager's webhook"),
    ("atlantis", "cnpg-system/operator", 9443, "TCP", False, "atlantis egress is closed"),
    ("cert-manager/controller", "data/postgresql", 5432, "TCP", False, "cert-manager has no business in data"),
    ("cert-manager/controller", "internet", 443, "TCP", False, "no ACME issuer, no internet"),
    ("cnpg-system/operator", "data/postgresql", 5432, "TCP", False, "the operator uses the status API only"),
    ("cnpg-system/plugin-barman-cloud", "data/postgresql", 8000, "TCP", False, "only the operator drives instances"),
    ("cnpg-system/operator", "internet", 443, "TCP", False, "the operator needs no internet"),
    ("data/postgresql", "cnpg-system/plugin-barman-cloud", 9090, "TCP", False, "only the operator calls the plugin"),
    ("prometheus", "cnpg-system/operator", 8080, "TCP", False, "no PodMonitor scrapes the operator"),
    ("prometheus", "cert-manager/controller", 9402, "TCP", False, "no monitor scrapes cert-manager"),
    # Issue 20: storage and identity.
    ("ebs-csi/controller", "internet", 443, "TCP", True, "the controller calls EC2 and STS through the NAT"),
    ("ebs-csi/controller", "instance-metadata", 80, "TCP", False, "no pod reaches IMDS"),
    ("ebs-csi/controller", "data/postgresql", 5432, "TCP", False, "the controller talks to AWS only"),
    ("vpc-host", "pod-identity-webhook/pod-identity-webhook", 443, "TCP", True, "the API server calls the webhook"),
    (api("auth"), "pod-identity-webhook/pod-identity-webhook", 443, "TCP", False, "domain egress is fenced"),
    ("pod-identity-webhook/pod-identity-webhook", "internet", 443, "TCP", False, "the webhook needs no internet"),
    (
        "snapshot-controller/snapshot-controller",
        "vpc-host",
        6443,
        "TCP",
        True,
        "the snapshot controller calls the API server",
    ),
    (
        "snapshot-controller/snapshot-controller",
        "internet",
        443,
        "TCP",
        False,
        "the snapshot controller needs no internet",
    ),
    ("snapshot-controller/snapshot-controller", "instance-metadata", 80, "TCP", False, "nor IMDS"),
    (
        api("auth"),
        "snapshot-controller/snapshot-controller",
        8080,
        "TCP",
        False,
        "nothing calls the snapshot controller",
    ),
]


@pytest.mark.parametrize(
    ("src", "dst", "port", "proto", "allowed", "why"), DATA_STACK_ROWS, ids=[r[-1] for r in DATA_STACK_ROWS]
)
def test_the_data_stack_namespaces_allow_and_deny_row_by_row(
    network: tuple[Cluster, dict[str, Endpoint]], src: str, dst: str, port: int, proto: str, allowed: bool, why: str
) -> None:
    cluster, ep = network
    assert cluster.allowed(ep[src], ep[dst], port, proto) is allowed, f"{src} -> {dst}:{port}/{proto}: {why}"


def test_evaluator_denies_and_allows_for_the_right_reason(
    network: tuple[Cluster, dict[str, Endpoint]],
) -> None:
    """The evaluator itself: a policy-free namespace is open, a deny-all one is closed."""
    cluster, ep = network
    assert cluster.allowed(ep["prometheus"], ep["grafana"], 3000, "TCP")  # no policy there
    assert not cluster.allowed(ep["atlantis"], ep[api("auth")], 8000, "TCP")
    assert not cluster.allowed(ep["grafana"], ep[api("auth")], 8000, "TCP")
    assert not cluster.allowed(ep[api("auth")], ep["messaging/rabbitmq"], 5672, "TCP")
    assert not cluster.allowed(ep[api("scan")], ep["instance-metadata"], 443, "TCP")
    assert not cluster.allowed(ep[api("auth")], ep["internet"], 443, "TCP")
    empty = Cluster(cluster.ns_labels, [])
    assert empty.allowed(ep[api("auth")], ep["data/postgresql"], 1234, "TCP")


def test_regression_dns_egress_targets_real_kube_system_label_udp_and_tcp(
    app_objects: dict[str, list[Doc]], network: tuple[Cluster, dict[str, Endpoint]]
) -> None:
    """Regression: DNS egress used `name: kube-system` (absent) and UDP only."""
    cluster, ep = network
    for d in DOMAINS:
        for proto in ("UDP", "TCP"):
            assert cluster.allowed(ep[api(d)], ep["kube-dns"], 53, proto), (d, proto)
        # A kube-system namespace labelled only `name: kube-system` would not match.
        old = Cluster(dict(cluster.ns_labels), cluster.policies)
        old.ns_labels["kube-system"] = {"name": "kube-system"}
        assert not old.allowed(ep[api(d)], ep["kube-dns"], 53, "UDP")
    policies = app_objects["network-policies"]
    for d in DOMAINS:
        names = {p["metadata"]["name"] for p in policies if p["metadata"]["namespace"] == d}
        assert {"default-deny-all", "allow-dns-egress"} <= names, d
        deny = next(
            p for p in policies if p["metadata"]["namespace"] == d and p["metadata"]["name"] == "default-deny-all"
        )
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_regression_rabbitmq_egress_points_at_messaging(
    network: tuple[Cluster, dict[str, Endpoint]],
) -> None:
    """Regression: scan's RabbitMQ egress pointed at `data`, where RabbitMQ does not run."""
    cluster, ep = network
    assert ep["messaging/rabbitmq"].namespace == "messaging"
    assert cluster.allowed(ep[api("scan")], ep["messaging/rabbitmq"], 5672, "TCP")


def test_every_policy_and_peer_selects_something(
    app_objects: dict[str, list[Doc]], network: tuple[Cluster, dict[str, Endpoint]]
) -> None:
    """Regression: the old domain policies selected no pods. Every policy and every peer in it
    must match at least one endpoint, so no rule is dead."""
    cluster, ep = network
    for policy in app_objects["network-policies"]:
        ns = policy["metadata"]["namespace"]
        selected = [
            e for e in ep.values() if e.namespace == ns and labels_match(policy["spec"]["podSelector"], e.labels)
        ]
        assert selected, f"{kind_of(policy)} selects no pod"
        for direction, key in (("egress", "to"), ("ingress", "from")):
            for rule in policy["spec"].get(direction, []):
                for peer in rule.get(key, []):
                    assert any(cluster.peer_matches(peer, ns, e) for e in ep.values()), (
                        f"{kind_of(policy)}: {direction} peer {peer} matches nothing"
                    )
    for d in DOMAINS:
        names = {
            p["metadata"]["name"]
            for p in app_objects["network-policies"]
            if p["metadata"]["namespace"] == d and labels_match(p["spec"]["podSelector"], ep[api(d)].labels)
        }
        assert {
            "default-deny-all",
            "allow-dns-egress",
            "allow-datastores-egress",
            "allow-prometheus-ingress",
        } <= names, d


# --------------------------------------------------------------------------------------------
# ServiceMonitors


def test_regression_service_monitors_select_services_and_are_picked_up(
    apps: dict[str, Doc], app_objects: dict[str, list[Doc]]
) -> None:
    """Regression: ServiceMonitors lacked the operator's label and one matched no Service."""
    spec = monitoring_values(apps)["prometheus"]["prometheusSpec"]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    selector = spec["serviceMonitorSelector"]
    ns_selector = spec["serviceMonitorNamespaceSelector"]
    namespaces = {
        d["metadata"]["name"]: {**d["metadata"].get("labels", {}), "kubernetes.io/metadata.name": d["metadata"]["name"]}
        for d in app_objects["namespaces"]
    }
    services = [d for d in app_objects["api-services"] if d["kind"] == "Service"]
    pods = pods_of(app_objects["api-services"])
    # ArgoCD's monitor (in monitoring) selects the argo-cd chart's Services: tests/manifests/test_charts.py.
    argocd = [m for m in app_objects["service-monitors"] if m["metadata"]["name"] == "argocd"]
    assert [labels_match(selector, m["metadata"]["labels"]) for m in argocd] == [True]
    monitors = [m for m in app_objects["service-monitors"] if m["metadata"]["name"] != "argocd"]
    assert {m["metadata"]["namespace"] for m in monitors} == set(DOMAINS)
    for sm in monitors:
        ns = sm["metadata"]["namespace"]
        assert labels_match(selector, sm["metadata"]["labels"]), f"{kind_of(sm)} not selected"
        assert labels_match(ns_selector, namespaces[ns]), f"{ns} not watched"
        targets = [
            s
            for s in services
            if s["metadata"]["namespace"] == ns and labels_match(sm["spec"]["selector"], s["metadata"]["labels"])
        ]
        assert len(targets) == 1, f"{kind_of(sm)} selects {len(targets)} Services"
        (svc,) = targets
        for endpoint in sm["spec"]["endpoints"]:
            assert endpoint["path"] == "/metrics"
            (port,) = [p for p in svc["spec"]["ports"] if p["name"] == endpoint["port"]]
            backing = [p for p in pods if p.namespace == ns and labels_match(svc["spec"]["selector"], p.labels)]
            assert backing and all(p.ports.get(port["targetPort"]) == 8000 for p in backing)


# --------------------------------------------------------------------------------------------
# The public entry (issue 19): one route per domain, the data plane where the node table says


def domain_routes(objects: Iterable[Doc]) -> dict[str, list[Doc]]:
    routes: dict[str, list[Doc]] = {d: [] for d in DOMAINS}
    for doc in objects:
        if doc["kind"] == "HTTPRoute" and doc["metadata"].get("namespace") in routes:
            routes[doc["metadata"]["namespace"]].append(doc)
    return routes


def route_problems(objects: list[Doc]) -> list[str]:
    problems = []
    services = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in objects if d["kind"] == "Service"}
    for domain, routes in domain_routes(objects).items():
        if len(routes) != 1:
            problems.append(f"{domain}: {len(routes)} HTTPRoutes (expected exactly one)")
            continue
        spec = routes[0]["spec"]
        (parent,) = spec["parentRefs"]
        (rule,) = spec["rules"]
        (match,) = rule["matches"]
        (backend,) = rule["backendRefs"]
        if (parent["name"], parent["namespace"], parent["sectionName"]) != ("public", "envoy-gateway-system", "api"):
            problems.append(f"{domain}: attached to {parent}")
        if match["path"] != {"type": "PathPrefix", "value": f"/{domain}"}:
            problems.append(f"{domain}: path {match['path']}")
        if (domain, backend["name"]) not in services or backend["port"] != 8000:
            problems.append(f"{domain}: backend {backend['name']}:{backend['port']} is not its API Service on 8000")
    return problems


def test_every_domain_has_exactly_one_route_to_its_api(app_objects: dict[str, list[Doc]]) -> None:
    objects = app_objects["api-services"]
    assert route_problems(objects) == []
    # A second route, or none, is caught.
    auth = next(o for o in objects if o["kind"] == "HTTPRoute" and o["metadata"]["namespace"] == "auth")
    assert route_problems([*objects, auth]) == ["auth: 2 HTTPRoutes (expected exactly one)"]
    assert route_problems([o for o in objects if o is not auth]) == ["auth: 0 HTTPRoutes (expected exactly one)"]


def test_a_new_domain_in_the_list_gets_its_route(tmp_path: Path) -> None:
    """A domain added the way the others are (its overlay, listed in services/kustomization.yaml)."""
    import shutil as _shutil

    tree = tmp_path / "services"
    _shutil.copytree(MANIFESTS / "services", tree)
    overlay = (tree / "auth" / "kustomization.yaml").read_text().replace("auth", "shop")
    (tree / "shop").mkdir()
    (tree / "shop" / "kustomization.yaml").write_text(overlay)
    listing = tree / "kustomization.yaml"
    listing.write_text(listing.read_text().replace("  - chat\n", "  - chat\n  - shop\n"))
    assert KUBECTL is not None
    out = subprocess.run([KUBECTL, "kustomize", str(tree)], capture_output=True, text=True, check=True).stdout
    routes = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "HTTPRoute"]
    shop = [r for r in routes if r["metadata"]["namespace"] == "shop"]
    assert len(routes) == len(DOMAINS) + 1 and len(shop) == 1
    assert shop[0]["spec"]["rules"][0]["matches"][0]["path"]["value"] == "/shop"
    assert shop[0]["spec"]["rules"][0]["backendRefs"][0]["name"] == "shop-api"


def test_the_data_plane_runs_on_the_gateway_nodes_of_the_node_table(app_objects: dict[str, list[Doc]]) -> None:
    (proxy,) = [o for o in app_objects["gateway"] if o["kind"] == "EnvoyProxy"]
    kube = proxy["spec"]["provider"]["kubernetes"]
    selector = kube["envoyDaemonSet"]["pod"]["nodeSelector"]
    placed = {name for name, (labels, taints) in NODES.items() if selector.items() <= labels.items() and not taints}
    assert placed == {"worker-storage", "worker-ai"}
    from components.public_entry import BACKENDS, GATEWAY_NODE_LABEL

    assert selector == dict([GATEWAY_NODE_LABEL])
    # The NodePorts the ALB's target groups name are the ones the Service patch fixes.
    ports = {p["port"]: p["nodePort"] for p in kube["envoyService"]["patch"]["value"]["spec"]["ports"]}
    (gateway,) = [o for o in app_objects["gateway"] if o["kind"] == "Gateway"]
    listeners = {listener["name"]: listener["port"] for listener in gateway["spec"]["listeners"]}
    assert {b.key: b.node_port for b in BACKENDS} == {name: ports[port] for name, port in listeners.items()}
    assert kube["envoyService"]["type"] == "NodePort" and kube["envoyService"]["externalTrafficPolicy"] == "Local"
