"""Who may use ArgoCD: read-only by default, GitHub SSO through Dex with a team mapped to admin, the
local admin off with SSO, a rotatable admin password without it, and Helm values with no secret.

The program runs under the mock runtime (tests/conftest.py); the chart is rendered with the pinned
helm to see that what we set lands in argocd-cm / argocd-rbac-cm and that Dex's pod passes the
argocd namespace's `restricted` Pod Security level.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from components.argocd import DEX_CLIENT_SECRET_KEY, helm_values
from components.settings.model import ArgoCdSso
from tests.support.charts import SOURCES, archive, kube_version
from tests.support.manifests import pod_spec
from tests.support.plain_text import assert_nowhere_in_plain_text
from tests.support.prereqs import require_helm
from tests.support.psa import strictest, violations
from tools.charts import render

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
FAKE_CLIENT_SECRET = "FAKE-DEX-CLIENT-SECRET-5b1e"
SSO = {
    "argocdGithubOrg": "example-org",
    "argocdGithubAdminTeam": "platform-admins",
    "argocdGithubClientId": "Ov23liEXAMPLE",
}


@pytest.fixture(scope="module")
def sso_stack(run_stack):
    return run_stack(SSO, secrets={"argocdGithubClientSecret": FAKE_CLIENT_SECRET})


def cm(rec) -> dict[str, Any]:
    return rec.one(RELEASE).inputs["values"]["configs"]


def test_without_sso_the_local_admin_is_on_and_everyone_else_read_only(dev):
    values = dev.one(RELEASE).inputs["values"]
    assert values["configs"]["cm"]["admin.enabled"] is True
    assert "dex.config" not in values["configs"]["cm"]
    assert values["dex"] == {"enabled": False}
    assert values["configs"]["rbac"] == {"policy.default": "role:readonly", "scopes": "[groups]"}


def test_with_sso_dex_logs_in_through_github_and_the_team_is_admin(sso_stack):
    values = sso_stack.one(RELEASE).inputs["values"]
    configs = values["configs"]
    assert configs["cm"]["admin.enabled"] is False, "with SSO the local admin must be off"
    assert values["dex"]["enabled"] is True
    (connector,) = yaml.safe_load(configs["cm"]["dex.config"])["connectors"]
    assert connector["type"] == "github"
    assert connector["config"]["clientID"] == "Ov23liEXAMPLE"
    assert connector["config"]["clientSecret"] == f"${DEX_CLIENT_SECRET_KEY}"
    assert connector["config"]["orgs"] == [{"name": "example-org"}]
    assert configs["rbac"]["policy.default"] == "role:readonly"
    assert configs["rbac"]["policy.csv"] == "g, example-org:platform-admins, role:admin\n"


def test_the_client_secret_is_secret_data_and_nowhere_in_plain_text(sso_stack):
    secret = sso_stack.one(SECRET, "gitops-dev-argocd-secret")
    assert secret.is_secret("stringData")
    assert secret.inputs["stringData"][DEX_CLIENT_SECRET_KEY] == FAKE_CLIENT_SECRET
    release = sso_stack.one(RELEASE)
    assert not release.is_secret("values"), "the values must stay plain so previews show them"
    assert_nowhere_in_plain_text(sso_stack, FAKE_CLIENT_SECRET)


def test_bumping_the_password_version_replaces_the_password(dev, run_stack):
    before = dev.one("random:index/randomPassword:RandomPassword").inputs["keepers"]
    after = run_stack({"argocdAdminPasswordVersion": 2}).one("random:index/randomPassword:RandomPassword")
    assert before == {"version": "1"}
    assert after.inputs["keepers"] == {"version": "2"}


@pytest.mark.parametrize(
    ("overrides", "secrets", "key", "fix"),
    [
        ({"argocdGithubOrg": "example-org"}, {}, "argocdGithubAdminTeam", "together"),
        ({**SSO}, {}, "argocdGithubClientSecret", "together"),
        ({}, {"argocdGithubClientSecret": FAKE_CLIENT_SECRET}, "argocdGithubOrg", "together"),
        ({**SSO, "argocdGithubOrg": "https://github.com/example-org"}, "secret", "argocdGithubOrg", "organisation"),
        ({**SSO, "argocdGithubAdminTeam": "example-org/admins"}, "secret", "argocdGithubAdminTeam", "team slug"),
        ({**SSO, "argocdGithubClientId": "with space"}, "secret", "argocdGithubClientId", "client ID"),
        ({"argocdAdminPasswordVersion": 0}, {}, "argocdAdminPasswordVersion", "whole number from 1"),
    ],
)
def test_bad_access_config_is_rejected_with_key_and_fix(config_error, overrides, secrets, key, fix):
    if secrets == "secret":
        secrets = {"argocdGithubClientSecret": FAKE_CLIENT_SECRET}
    error = str(config_error(overrides, secrets=secrets))
    assert f"gitops-cluster:{key}" in error
    assert fix in error
    assert FAKE_CLIENT_SECRET not in error


def test_sso_settings_parse_into_the_settings_object(sso_stack):
    # What the stack passed on is what the config said (one source of truth for the keys).
    configs = cm(sso_stack)
    assert "example-org:platform-admins" in configs["rbac"]["policy.csv"]
    assert ArgoCdSso("example-org", "platform-admins", "Ov23liEXAMPLE")


# --- the chart rendered with SSO ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sso_render() -> list[dict[str, Any]]:
    source = SOURCES["release:argocd"]
    sso = ArgoCdSso("example-org", "platform-admins", "Ov23liEXAMPLE")
    return render(
        archive(source),
        release=source.release,
        namespace=source.namespace,
        values=helm_values("argocd.example.com", sso),
        kube_version=kube_version(),
        helm=require_helm(),
    )


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_the_chart_puts_sso_and_rbac_where_argocd_reads_them(sso_render):
    data = one(sso_render, "ConfigMap", "argocd-cm")["data"]
    assert data["admin.enabled"] == "false"
    assert "$dex.github.clientSecret" in data["dex.config"]
    rbac = one(sso_render, "ConfigMap", "argocd-rbac-cm")["data"]
    assert rbac["policy.default"] == "role:readonly"
    assert rbac["policy.csv"].strip() == "g, example-org:platform-admins, role:admin"
    # Pulumi owns argocd-secret; the chart must not render one over it.
    assert not [o for o in sso_render if o["kind"] == "Secret" and o["metadata"]["name"] == "argocd-secret"]
    for o in sso_render:
        if o["kind"] == "Secret":
            for value in (o.get("data") or {}).values():
                assert FAKE_CLIENT_SECRET not in base64.b64decode(value).decode(errors="replace")


def test_dex_runs_restricted_like_the_rest_of_argocd(sso_render):
    dex = one(sso_render, "Deployment", "argocd-dex-server")
    spec = pod_spec(dex)
    assert spec is not None
    assert strictest(spec) == "restricted", violations(spec, "restricted")
