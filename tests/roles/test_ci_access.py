"""CI reaches the API server with its GitHub OIDC token: the `jwt` authenticator and the groups' RBAC.

The authenticator is rendered by the real control_plane template from what the stack passes
(components/cluster_auth.py through the inventory), and ci_access.yml runs with the real
ansible-playbook against a kubectl stand-in that records the call and keeps the file it applied.
The fields are the apiserver.config.k8s.io/v1 ones (kubernetes/kubernetes staging/src/k8s.io/
apiserver/pkg/apis/apiserver/v1/types.go: JWTAuthenticator issuer/audiences/audienceMatchPolicy,
claimValidationRules expression/message, claimMappings username/groups expression,
userValidationRules), GA since 1.34, the pinned minor being 1.36.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import cluster_auth
from components.inventory import ClusterVars, render_inventory
from components.playbooks import render_extra_vars
from components.settings.keys import default_versions
from tests.support.apiserver import render, run_play
from tests.support.settings import FIXED_JUMP, dev_settings, fixed_hosts

pytestmark = pytest.mark.ansible

REPOSITORY = "example-org/gitops-cluster"


SSO = {
    "apiServerOidcIssuerUrl": "https://sso.example.com",
    "apiServerOidcClientId": "kubectl",
    "apiServerOidcAdminGroups": ["platform-admins"],
}


def inventory_vars(repository: str | None, **extra: Any) -> dict[str, Any]:
    settings = dev_settings(ciGithubRepository=repository or "", **extra)
    cluster = ClusterVars.from_settings(settings, "internal-api.example.internal", "api.example.com")
    rendered = render_inventory(cluster, fixed_hosts(settings.nodes), FIXED_JUMP)
    return yaml.safe_load(rendered.split("---\n", 1)[1])["all"]["vars"]


def test_without_a_repository_there_is_no_issuer_and_no_rbac(tmp_path):
    assert "cluster_jwt_authenticators" not in inventory_vars(None)
    rendered = render(tmp_path, default_versions()["kubernetes"])
    assert "jwt" not in rendered["authn"]


def test_the_api_server_trusts_github_for_this_stack_only(tmp_path):
    given = inventory_vars(REPOSITORY)
    rendered = render(tmp_path, default_versions()["kubernetes"], extra=given)
    authn = rendered["authn"]
    assert authn["apiVersion"] == "apiserver.config.k8s.io/v1"
    (jwt,) = authn["jwt"]
    assert jwt == cluster_auth.jwt_authenticator(REPOSITORY, "gitops-cluster", "dev")
    assert jwt["issuer"]["url"] == "https://token.actions.githubusercontent.com"
    # Not sts.amazonaws.com (the AWS roles' audience): a token minted for AWS is refused here.
    assert jwt["issuer"]["audiences"] == ["kubernetes/gitops-cluster/dev"]
    rules = [r["expression"] for r in jwt["claimValidationRules"]]
    assert 'claims.repository == "example-org/gitops-cluster"' in rules
    allowed = json.loads(rules[1].removeprefix("claims.sub in "))
    assert allowed == [
        "repo:example-org/gitops-cluster:environment:dev",
        "repo:example-org/gitops-cluster:environment:preview",
        "repo:example-org/gitops-cluster:pull_request",
        "repo:example-org/gitops-cluster:ref:refs/heads/main",
    ]
    groups = jwt["claimMappings"]["groups"]["expression"]
    deploy = json.loads(groups.split(" ? ")[0].removeprefix("claims.sub in "))
    assert deploy == ["repo:example-org/gitops-cluster:environment:dev"], "only the stack's environment deploys"
    assert groups.endswith('? ["gitops-cluster:ci-deploy"] : ["gitops-cluster:ci-read"]')
    assert jwt["claimMappings"]["username"]["expression"] == '"github-actions:" + claims.sub'
    # The anonymous health paths stay as they were.
    assert authn["anonymous"]["enabled"] is True


def test_peoples_sso_is_a_second_jwt_authenticator_with_its_own_issuer(tmp_path):
    rendered = render(tmp_path, default_versions()["kubernetes"], extra=inventory_vars(REPOSITORY, **SSO))
    ci, people = rendered["authn"]["jwt"]
    assert ci["issuer"]["url"] == cluster_auth.GITHUB_ISSUER
    assert people["issuer"] == {
        "url": "https://sso.example.com",
        "audiences": ["kubectl"],
        "audienceMatchPolicy": "MatchAny",
    }
    assert people["claimMappings"]["username"]["expression"] == '"oidc:" + claims.email'
    # People alone (no CI repository) still get their authenticator and bindings.
    alone = inventory_vars(None, **SSO)
    assert [a["issuer"]["url"] for a in alone["cluster_jwt_authenticators"]] == ["https://sso.example.com"]
    assert [o["roleRef"]["name"] for o in alone["cluster_ci_rbac_objects"]] == ["cluster-admin"]


def test_the_groups_get_deploy_and_read_rights_and_read_sees_no_secrets():
    objects = {(o["kind"], o["metadata"]["name"]): o for o in cluster_auth.rbac_objects()}
    deploy = objects[("ClusterRoleBinding", "gitops-cluster:ci-deploy")]
    assert deploy["roleRef"]["name"] == "cluster-admin"
    assert deploy["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "gitops-cluster:ci-deploy"}
    ]
    view = objects[("ClusterRoleBinding", "gitops-cluster:ci-read:view")]
    assert view["roleRef"]["name"] == "view"  # Kubernetes' view role reads no Secrets
    read = objects[("ClusterRole", "gitops-cluster:ci-read")]
    for rule in read["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"]


def test_the_pr_previews_read_group_is_bound_to_view_and_reads_only_what_it_names():
    # docs/gitops-practices.md "What a read-only PR preview reads": the helm.v3 Release's preview
    # renders client-only and diffs state, so the group needs no Secret (no Helm release record) and
    # no write verb (a forbidden server-side dry run falls back to the input diff).
    people = dev_settings(**SSO).api_server_oidc
    assert people is not None
    objects = [*cluster_auth.rbac_objects(), *cluster_auth.people_rbac_objects(people)]
    bound = [
        o["roleRef"]
        for o in objects
        if o["kind"] in {"ClusterRoleBinding", "RoleBinding"}
        and any(s["name"] == cluster_auth.READ_GROUP for s in o["subjects"])
    ]
    assert {(r["kind"], r["name"]) for r in bound} == {
        ("ClusterRole", "view"),
        ("ClusterRole", cluster_auth.READ_GROUP),
    }
    (own,) = [o for o in objects if o["kind"] in {"ClusterRole", "Role"}]
    assert own["metadata"]["name"] == cluster_auth.READ_GROUP
    assert [(r["apiGroups"], r["resources"]) for r in own["rules"]] == [
        (["apiextensions.k8s.io"], ["customresourcedefinitions"]),
        (["argoproj.io"], ["applications", "appprojects"]),
    ]
    assert all(r["verbs"] == ["get", "list", "watch"] and "resourceNames" not in r for r in own["rules"])


KUBECTL = """#!/bin/sh
echo "kubectl $*" >> "$STANDIN_LOG"
for a in "$@"; do [ -f "$a" ] && cp "$a" "$STANDIN_LOG.applied"; done
exit 0
"""

PLAY = """
- name: Give the CI groups their rights as the first control plane does
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Apply
      ansible.builtin.include_role:
        name: control_plane
        tasks_from: ci_access.yml
"""


def test_the_first_control_plane_applies_the_rbac_objects_server_side(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "kubectl").write_text(KUBECTL)
    (bindir / "kubectl").chmod(0o755)
    log = tmp_path / "kubectl.log"
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    extra = tmp_path / "vars.json"
    overrides = {
        **inventory_vars(REPOSITORY, **SSO),
        "control_plane_ci_rbac_file": str(tmp_path / "ci-rbac.yaml"),
        "control_plane_admin_kubeconfig": str(tmp_path / "admin.conf"),
        "ansible_python_interpreter": sys.executable,
    }
    extra.write_text(json.dumps({**json.loads(render_extra_vars(default_versions())), **overrides}))
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "STANDIN_LOG": str(log)}
    result = run_play(play, "-e", f"@{extra}", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    (call,) = log.read_text().splitlines()
    assert call.startswith(f"kubectl --kubeconfig {tmp_path / 'admin.conf'} apply --server-side")
    assert "--field-manager=gitops-cluster-bootstrap" in call
    applied = [d for d in yaml.safe_load_all(Path(f"{log}.applied").read_text()) if d]
    people = dev_settings(**SSO).api_server_oidc
    assert people is not None
    assert applied == [*cluster_auth.rbac_objects(), *cluster_auth.people_rbac_objects(people)]
    assert oct((tmp_path / "ci-rbac.yaml").stat().st_mode & 0o777) == "0o600"
