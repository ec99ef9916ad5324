"""ArgoCD under the mock runtime: provider, release, password, health check, root Application."""

from __future__ import annotations

from components.argocd import APPLICATION_HEALTH_LUA, POD_COMPONENTS, helm_values
from components.gitops import RESOURCES_FINALIZER
from tests.support.paths import ROOT

RELEASE = "kubernetes:helm.sh/v3:Release"
APP = "kubernetes:argoproj.io/v1alpha1:Application"


def test_release_is_pinned_from_the_versions_table(dev):
    import yaml

    versions = yaml.safe_load((ROOT / "versions.yaml").read_text())
    release = dev.one(RELEASE)
    assert release.inputs["chart"] == "argo-cd"
    assert release.inputs["version"] == versions["argoCdChart"]
    assert release.inputs["repositoryOpts"]["repo"] == versions["argoCdChartRepo"]
    assert release.inputs["namespace"] == "argocd"
    assert release.inputs["atomic"] is True


def test_release_uses_the_explicit_provider_built_from_the_bootstrap_kubeconfig(dev):
    (provider,) = dev.of_type("pulumi:providers:kubernetes")
    release = dev.one(RELEASE)
    assert release.provider.startswith(provider.urn)
    assert provider.is_secret("kubeconfig")
    bootstrap = dev.one("gitops-cluster:bootstrap:AnsibleBootstrap")
    kubeconfig_deps = provider.property_dependencies.get("kubeconfig", [])
    sources = [dev.by_urn(u) for u in kubeconfig_deps]
    assert sources, "the provider's kubeconfig comes from nowhere"
    assert dev.depends_on(release, dev.one("command:local:Command", "gitops-dev-cluster-ca"))
    from_bootstrap = [s for s in sources if bootstrap in [s, *dev.ancestors(s)]]
    assert from_bootstrap, f"the kubeconfig does not come from the bootstrap: {[s.short for s in sources]}"
    assert all(s.type == "command:local:Command" for s in from_bootstrap)


def test_admin_password_is_generated_hashed_and_secret(dev):
    # The hash is Secret data created by Pulumi; the Helm values carry nothing secret, so a
    # preview shows them in full (issue 12's low item).
    release = dev.one(RELEASE)
    assert not release.is_secret("values"), "nothing secret belongs in the Helm values"
    assert release.inputs["values"]["configs"]["secret"] == {"createSecret": False}
    secret = dev.one("kubernetes:core/v1:Secret", "gitops-dev-argocd-secret")
    assert secret.inputs["metadata"]["name"] == "argocd-secret"
    assert secret.is_secret("stringData")
    assert secret.inputs["stringData"]["admin.password"].startswith("$2a$")
    assert dev.depends_on(release, secret)
    assert "argocdAdminPassword" in dev.stack_output_secret_paths
    assert dev.one("random:index/randomPassword:RandomPassword").inputs["length"] >= 24


def values() -> dict:
    return helm_values("argocd.example.com")


def test_application_health_makes_waves_gate():
    cm = values()["configs"]["cm"]
    lua = cm["resource.customizations.health.argoproj.io_Application"]
    assert lua == APPLICATION_HEALTH_LUA
    # What it returns per child and state: tests/unit/test_gitops_health_gates.py runs it in Lua 5.1.
    assert "obj.status.health.status" in lua and 'hs = {status = "Progressing"' in lua


def test_nothing_insecure_by_default():
    v = values()
    # TLS ends at the ALB; the Gateway speaks HTTP to argocd-server (components/argocd.py).
    assert v["configs"]["params"]["server.insecure"] is True
    assert v["configs"]["cm"]["users.anonymous.enabled"] is False
    assert v["configs"]["cm"]["exec.enabled"] is False
    for component in ("controller", "server", "repoServer", "redis", "applicationSet"):
        requests = v[component]["resources"]["requests"]
        assert requests["cpu"] and requests["memory"], component


def test_every_pod_keeps_off_the_api_and_infrastructure_nodes():
    v = values()
    for component in POD_COMPONENTS:
        terms = v[component]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        keys = {e["key"] for t in terms["nodeSelectorTerms"] for e in t["matchExpressions"]}
        assert keys == {"node-role.kubernetes.io/worker", "node-role.kubernetes.io/control-plane"}, component
    # Only the control-plane taint is tolerated: the infrastructure taint keeps it off those nodes.
    assert [t["key"] for t in v["global"]["tolerations"]] == ["node-role.kubernetes.io/control-plane"]


def test_domain_and_password_mtime_come_from_the_stack(run_stack):
    rec = run_stack({"argocdDomain": "argocd.example.org"})
    release = rec.one(RELEASE)
    assert release.inputs["values"]["global"]["domain"] == "argocd.example.org"
    mtime = rec.one("command:local:Command", "gitops-dev-admin-mtime")
    assert mtime.inputs["create"] == "date -u +%Y-%m-%dT%H:%M:%SZ"
    # The mtime is what that command printed when it ran (once; again only with a new password),
    # not the time of each render, which would log out every session on every `pulumi up`.
    secret = rec.one("kubernetes:core/v1:Secret", "gitops-dev-argocd-secret")
    assert secret.inputs["stringData"]["admin.passwordMtime"] == "2026-11-30T12:00:00Z"
    assert not mtime.inputs.get("triggers"), "nothing secret (or anything else) re-runs it"


def test_a_bad_domain_is_rejected_before_anything_is_registered(config_error):
    error = config_error({"argocdDomain": "https://argocd.example.org/"})
    assert "gitops-cluster:argocdDomain = 'https://argocd.example.org/'" in str(error)
    assert "no scheme or path" in str(error)


def test_root_application_follows_the_stack_config(run_stack):
    rec = run_stack(
        {
            "gitopsRepoUrl": "https://git.example.com/platform/cluster.git",
            "gitopsMode": "pin",
            "gitopsRevision": "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b",
        }
    )
    app = rec.one(APP)
    source = app.inputs["spec"]["source"]
    assert source["repoURL"] == "https://git.example.com/platform/cluster.git"
    assert source["targetRevision"] == "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b"
    assert source["path"] == "manifests/argocd/apps"
    patch = source["kustomize"]["patches"][0]["patch"]
    assert (
        "https://git.example.com/platform/cluster.git" in patch and "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b" in patch
    )


def test_root_application_is_automated_finalized_and_after_the_release(dev):
    app = dev.one(APP)
    assert RESOURCES_FINALIZER in app.inputs["metadata"]["finalizers"]
    policy = app.inputs["spec"]["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True}
    assert policy["retry"]["backoff"]["factor"] >= 2
    release = dev.one(RELEASE)
    assert release.urn in app.dependencies, "the root Application must wait for the chart's CRDs"
    (provider,) = dev.of_type("pulumi:providers:kubernetes")
    assert app.provider.startswith(provider.urn)


def _schedulable(pod: dict, labels: dict[str, str], taints: list[dict[str, str]]) -> bool:
    """nodeAffinity (required terms, ORed; expressions ANDed; Exists/DoesNotExist) and NoSchedule taints."""
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]

    def holds(expr: dict) -> bool:
        present = expr["key"] in labels
        return {"Exists": present, "DoesNotExist": not present}[expr["operator"]]

    if not any(all(holds(e) for e in term["matchExpressions"]) for term in terms):
        return False
    tolerated = {(t["key"], t["effect"]) for t in pod["tolerations"] if t["operator"] == "Exists"}
    return all((t["key"], t["effect"]) in tolerated for t in taints if t["effect"] == "NoSchedule")


def test_argocd_lands_on_the_workers_or_the_control_plane_of_the_stack_table():
    """Against Pulumi.dev.yaml's node table, plus what kubeadm adds to control-plane nodes."""
    from components.settings.model import NodeRole
    from tests.support.settings import dev_settings

    v = values()
    pod = {"affinity": v["controller"]["affinity"], "tolerations": v["global"]["tolerations"]}
    control_plane = {"key": "node-role.kubernetes.io/control-plane", "value": "", "effect": "NoSchedule"}
    fits = set()
    for node in dev_settings().nodes:
        labels = dict(node.labels)
        taints = [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.taints]
        if node.role is NodeRole.CONTROL_PLANE:
            labels["node-role.kubernetes.io/control-plane"] = ""
            taints.append(control_plane)
        if _schedulable(pod, labels, taints):
            fits.add(node.name)
    assert fits == {"master", "worker-storage", "worker-ai"}
    # Preferred: the workers, so the control plane only takes ArgoCD when no worker can.
    preferred = v["controller"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["preference"]["matchExpressions"] == [
        {"key": "node-role.kubernetes.io/worker", "operator": "Exists"}
    ]


def test_argocd_namespace_pins_pod_security_to_the_deployed_kubernetes_minor():
    """Like every namespace under manifests/ (tests/manifests/test_manifests.py): the rules of the version that runs."""
    from components.argocd import NAMESPACE_LABELS
    from components.settings.keys import default_versions

    minor = ".".join(default_versions()["kubernetes"].split(".")[:2])
    assert NAMESPACE_LABELS["pod-security.kubernetes.io/enforce-version"] == f"v{minor}"
