"""ArgoCD under the mock runtime: provider, release, password, health check, root Application."""

from __future__ import annotations

from components.argocd import APPLICATION_HEALTH_LUA, helm_values
from components.gitops import RESOURCES_FINALIZER

RELEASE = "kubernetes:helm.sh/v3:Release"
APP = "kubernetes:argoproj.io/v1alpha1:Application"


def test_release_is_pinned_from_the_versions_table(dev):
    import yaml

    from tests.conftest import ROOT

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
    assert dev.depends_on(release, dev.one("command:local:Command", "gitops-dev-kubeconfig"))
    from_bootstrap = [s for s in sources if bootstrap in [s, *dev.ancestors(s)]]
    assert from_bootstrap, f"the kubeconfig does not come from the bootstrap: {[s.short for s in sources]}"
    assert all(s.type == "command:local:Command" for s in from_bootstrap)


def test_admin_password_is_generated_hashed_and_secret(dev):
    release = dev.one(RELEASE)
    assert release.is_secret("values"), "the bcrypt hash must travel as a secret"
    secret_values = release.inputs["values"]["configs"]["secret"]
    assert secret_values["argocdServerAdminPassword"].startswith("$2a$")
    assert "argocdAdminPassword" in dev.stack_output_secret_paths
    assert dev.one("random:index/randomPassword:RandomPassword").inputs["length"] >= 24


def test_application_health_makes_waves_gate():
    cm = helm_values("hash")["configs"]["cm"]
    lua = cm["resource.customizations.health.argoproj.io_Application"]
    assert lua == APPLICATION_HEALTH_LUA
    assert "obj.status.health.status" in lua and 'hs.status = "Progressing"' in lua


def test_nothing_insecure_by_default():
    values = helm_values("hash")
    assert values["configs"]["params"]["server.insecure"] is False
    assert values["configs"]["cm"]["users.anonymous.enabled"] is False
    assert values["configs"]["cm"]["exec.enabled"] is False
    for component in ("controller", "server", "repoServer", "redis", "applicationSet"):
        requests = values[component]["resources"]["requests"]
        assert requests["cpu"] and requests["memory"], component


def test_root_application_follows_the_stack_config(run_stack):
    rec = run_stack(
        {
            "gitopsRepoUrl": "https://git.example.com/platform/cluster.git",
            "gitopsMode": "pin",
            "gitopsRevision": "v2.3.4",
        }
    )
    app = rec.one(APP)
    source = app.inputs["spec"]["source"]
    assert source["repoURL"] == "https://git.example.com/platform/cluster.git"
    assert source["targetRevision"] == "v2.3.4"
    assert source["path"] == "manifests/argocd/apps"
    patch = source["kustomize"]["patches"][0]["patch"]
    assert "https://git.example.com/platform/cluster.git" in patch and "v2.3.4" in patch


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
