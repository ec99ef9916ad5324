"""People's SSO at the API server: settings, the groups' RBAC, and the kubeconfig that runs kubelogin.

The authenticator's CEL is evaluated in tests/unit/test_cluster_auth_cel.py; the rendered API server
configuration and the RBAC apply are the control_plane role's (tests/roles/test_ci_access.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components import cluster_auth
from components.inventory import ClusterVars
from components.settings.keys import default_versions
from components.settings.messages import ConfigError
from tests.support.settings import dev_settings

SSO = {
    "apiServerOidcIssuerUrl": "https://sso.example.com",
    "apiServerOidcClientId": "kubectl",
    "apiServerOidcAdminGroups": ["platform-admins"],
    "apiServerOidcEditGroups": ["developers", "on-call"],
    "apiServerOidcViewGroups": ["auditors"],
}


def test_unset_means_no_authenticator_and_no_binding():
    settings = dev_settings()
    assert settings.api_server_oidc is None
    cluster = ClusterVars.from_settings(settings, "internal-api.example.internal")
    assert cluster.jwt_authenticators == () and cluster.ci_rbac_objects == ()


def test_set_adds_a_second_authenticator_beside_ci_with_its_own_issuer():
    settings = dev_settings(ciGithubRepository="example-org/gitops-cluster", **SSO)
    cluster = ClusterVars.from_settings(settings, "internal-api.example.internal")
    issuers = [a["issuer"]["url"] for a in cluster.jwt_authenticators]
    assert issuers == [cluster_auth.GITHUB_ISSUER, "https://sso.example.com"]
    people = cluster.jwt_authenticators[1]
    assert people["issuer"]["audiences"] == ["kubectl"]
    assert people == cluster_auth.people_authenticator(settings.api_server_oidc)
    names = [o["metadata"]["name"] for o in cluster.ci_rbac_objects]
    assert names[-3:] == ["gitops-cluster:people-admin", "gitops-cluster:people-edit", "gitops-cluster:people-view"]


def test_people_alone_need_no_ci_repository():
    cluster = ClusterVars.from_settings(dev_settings(**SSO), "internal-api.example.internal")
    assert [a["issuer"]["url"] for a in cluster.jwt_authenticators] == ["https://sso.example.com"]
    assert {o["roleRef"]["name"] for o in cluster.ci_rbac_objects} == {"cluster-admin", "edit", "view"}


def test_each_group_list_is_bound_to_its_role_with_the_prefix_only():
    oidc = dev_settings(**SSO).api_server_oidc
    assert oidc is not None
    bindings = {o["roleRef"]["name"]: o for o in cluster_auth.people_rbac_objects(oidc)}
    subjects = {role: [s["name"] for s in b["subjects"]] for role, b in bindings.items()}
    assert subjects == {
        "cluster-admin": ["oidc:platform-admins"],
        "edit": ["oidc:developers", "oidc:on-call"],
        "view": ["oidc:auditors"],
    }
    for binding in bindings.values():
        assert binding["kind"] == "ClusterRoleBinding"
        assert all(
            s["kind"] == "Group" and s["name"].startswith(cluster_auth.PEOPLE_PREFIX) for s in binding["subjects"]
        )


def test_a_role_without_groups_gets_no_binding():
    oidc = dev_settings(**{**SSO, "apiServerOidcEditGroups": [], "apiServerOidcViewGroups": []}).api_server_oidc
    assert oidc is not None
    assert [o["roleRef"]["name"] for o in cluster_auth.people_rbac_objects(oidc)] == ["cluster-admin"]


def kubeconfig(**extra: Any) -> dict[str, Any]:
    oidc = dev_settings(**SSO, **extra).api_server_oidc
    text = cluster_auth.exec_kubeconfig(
        "https://api.example.com:6443", "CA PEM", "dev", "gitops-dev", audience_value=None, sso=oidc
    )
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def test_the_kubeconfig_offers_sso_first_and_keeps_the_break_glass_context():
    doc = kubeconfig()
    assert doc["current-context"] == "gitops-dev-dev-sso"
    contexts = {c["name"]: c["context"]["user"] for c in doc["contexts"]}
    assert contexts == {"gitops-dev-dev-sso": "gitops-dev-dev-sso", "gitops-dev-dev": "gitops-dev-dev"}
    users = {u["name"]: u["user"]["exec"] for u in doc["users"]}
    sso = users["gitops-dev-dev-sso"]
    # int128/kubelogin's documented exec user (README "Setup", docs/usage.md flags).
    assert sso["command"] == "kubectl"
    assert sso["args"] == [
        "oidc-login",
        "get-token",
        "--oidc-issuer-url=https://sso.example.com",
        "--oidc-client-id=kubectl",
        "--oidc-extra-scope=email",
    ]
    assert sso["apiVersion"] == "client.authentication.k8s.io/v1"
    assert sso["interactiveMode"] == "IfAvailable"  # the browser login needs a terminal or a browser
    assert "versions.yaml `kubelogin`" in sso["installHint"] and default_versions()["kubelogin"]
    # The break-glass user is the minted certificate's plugin, unchanged.
    assert users["gitops-dev-dev"]["command"] == cluster_auth.PLUGIN
    assert all(set(u["user"]) == {"exec"} for u in doc["users"])  # no key, certificate or token stored


def test_extra_scopes_reach_kubelogin_and_other_username_claims_ask_for_no_email():
    sso = kubeconfig(apiServerOidcExtraScopes=["groups"], apiServerOidcUsernameClaim="preferred_username")
    args = sso["users"][0]["user"]["exec"]["args"]
    assert args[-1:] == ["--oidc-extra-scope=groups"] and "--oidc-extra-scope=email" not in args


def test_without_sso_the_kubeconfig_is_as_before():
    text = cluster_auth.exec_kubeconfig("https://api.example.com:6443", "CA", "dev", "gitops-dev", audience_value=None)
    doc = yaml.safe_load(text)
    assert doc["current-context"] == "gitops-dev-dev" and len(doc["users"]) == 1


@pytest.mark.parametrize(
    ("given", "key", "fix"),
    [
        ({"apiServerOidcIssuerUrl": "https://token.actions.githubusercontent.com"}, "apiServerOidcIssuerUrl", "GitHub"),
        ({"apiServerOidcIssuerUrl": "https://sso.example.com/?tenant=1"}, "apiServerOidcIssuerUrl", "query"),
        ({"apiServerOidcIssuerUrl": "https://user:pw@sso.example.com"}, "apiServerOidcIssuerUrl", "password"),
        ({"apiServerOidcClientId": ""}, "apiServerOidcClientId", "needs apiServerOidcIssuerUrl"),
        ({"apiServerOidcUsernameClaim": "e mail"}, "apiServerOidcUsernameClaim", "claim name"),
        ({"apiServerOidcExtraScopes": ["openid"]}, "apiServerOidcExtraScopes", "always asked for"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(given, key, fix):
    with pytest.raises(ConfigError) as exc:
        dev_settings(**{**SSO, **given})
    message = str(exc.value)
    assert f"gitops-cluster:{key}" in message and fix in message
