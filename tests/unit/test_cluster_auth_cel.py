"""The CEL of the API server's `jwt` authenticators, evaluated against real token claims.

Every expression components/cluster_auth.py writes (claimValidationRules, claimMappings,
userValidationRules) is compiled and run by a real CEL implementation (cel-cpp through
cel-expr-python) in the steps the API server takes (tests/support/jwt_authenticator.py, from
kubernetes' oidc.go and cel/compile.go), over GitHub's documented example token turned into each
subject of the table in docs/gitops-practices.md, and over an OpenID Connect ID token for people.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from components import cluster_auth
from components.settings.model import ApiServerOidc
from tests.support import jwt_authenticator as apiserver
from tests.support.jwt_authenticator import Refused, example_claims

REPOSITORY = "example-org/gitops-cluster"
STACK = "dev"
AUDIENCE = cluster_auth.audience("gitops-cluster", STACK)


def ci() -> dict[str, Any]:
    return cluster_auth.jwt_authenticator(REPOSITORY, "gitops-cluster", STACK)


def github_token(subject: str, repository: str = REPOSITORY, audience: str = AUDIENCE) -> dict[str, Any]:
    """GitHub's example token as a job of `repository` with `subject` (GitHub's subject formats) gets it."""
    claims = example_claims("github-actions-example-token.json")
    owner = repository.split("/")[0]
    claims |= {"repository": repository, "repository_owner": owner, "aud": audience}
    claims.pop("environment")
    if subject.startswith("environment:"):
        claims["environment"] = subject.removeprefix("environment:")
    elif subject == "pull_request":
        claims |= {"event_name": "pull_request", "ref": "refs/pull/7/merge", "head_ref": "feature", "base_ref": "main"}
    elif subject.startswith("ref:"):
        claims |= {"event_name": "schedule", "ref": subject.removeprefix("ref:")}
    claims["sub"] = f"repo:{repository}:{subject}"
    return claims


def test_every_expression_compiles_and_every_rule_is_a_bool():
    expressions = apiserver.validation_expressions(ci())
    assert len(expressions) == 5  # two claim rules, username, groups, one user rule
    apiserver.check_compiles(ci())


def test_the_example_token_unchanged_is_refused():
    # octo-org/octo-repo's token, minted for GitHub's default audience: neither the audience nor
    # the repository is this stack's.
    with pytest.raises(Refused, match="expected audience"):
        apiserver.authenticate(ci(), example_claims("github-actions-example-token.json"))


def test_the_deploy_subject_maps_to_the_deploy_group():
    user = apiserver.authenticate(ci(), github_token(f"environment:{STACK}"))
    assert user.groups == (cluster_auth.DEPLOY_GROUP,)
    assert user.username == f"github-actions:repo:{REPOSITORY}:environment:{STACK}"


@pytest.mark.parametrize("subject", ["pull_request", "environment:preview", "ref:refs/heads/main"])
def test_previews_pull_requests_and_drift_map_to_the_read_group(subject):
    user = apiserver.authenticate(ci(), github_token(subject))
    assert user.groups == (cluster_auth.READ_GROUP,)
    assert user.username == f"github-actions:repo:{REPOSITORY}:{subject}"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        # Another repository's job, even one with an environment named like this stack.
        (github_token(f"environment:{STACK}", repository="someone/gitops-cluster"), "only example-org/gitops-cluster"),
        # The right repository but a branch, tag or environment that is not in the table.
        (github_token("ref:refs/heads/feature"), "neither the stack's environment nor a preview"),
        (github_token("ref:refs/tags/v1"), "neither the stack's environment nor a preview"),
        (github_token("environment:prod"), "neither the stack's environment nor a preview"),
        # The token a job gets for AWS (sts.amazonaws.com), and another stack's.
        (github_token(f"environment:{STACK}", audience="sts.amazonaws.com"), "expected audience"),
        (github_token(f"environment:{STACK}", audience="kubernetes/gitops-cluster/prod"), "expected audience"),
    ],
)
def test_tokens_outside_the_table_are_refused(claims, reason):
    with pytest.raises(Refused, match=reason):
        apiserver.authenticate(ci(), claims)


def test_a_subject_naming_the_repository_in_its_own_claims_cannot_borrow_the_deploy_group():
    # A token whose `sub` says this repository but whose `repository` claim is another one (GitHub
    # never mints that; the rule holds even so).
    claims = github_token(f"environment:{STACK}") | {"repository": "someone/else"}
    with pytest.raises(Refused, match="only example-org/gitops-cluster"):
        apiserver.authenticate(ci(), claims)


def test_a_token_without_a_subject_is_refused_not_mapped():
    claims = github_token(f"environment:{STACK}")
    del claims["sub"]
    with pytest.raises(Refused, match="error evaluating"):
        apiserver.authenticate(ci(), claims)


# People's SSO: a second authenticator for the issuer the stack names (apiServerOidc*).
PEOPLE = ApiServerOidc(
    issuer_url="https://sso.example.com",
    client_id="s6BhdRkqt3",
    username_claim="email",
    groups_claim="groups",
    admin_groups=("platform-admins",),
)


def id_token(**changes: Any) -> dict[str, Any]:
    claims = example_claims("id-token-example.json") | changes
    return {k: v for k, v in claims.items() if v is not None}


def people(**changes: Any) -> dict[str, Any]:
    return cluster_auth.people_authenticator(dataclasses.replace(PEOPLE, **changes))


def test_every_people_expression_compiles_and_every_rule_is_a_bool():
    apiserver.check_compiles(people())
    apiserver.check_compiles(people(username_claim="preferred_username", groups_claim="cognito:groups"))


def test_a_person_gets_the_prefixed_username_and_groups():
    user = apiserver.authenticate(people(), id_token())
    assert user.username == "oidc:janedoe@example.com"
    assert user.groups == ("oidc:platform-admins", "oidc:developers")


def test_a_token_naming_system_masters_gets_only_the_prefixed_group():
    user = apiserver.authenticate(people(), id_token(groups=["system:masters", "system:nodes"]))
    assert user.groups == ("oidc:system:masters", "oidc:system:nodes")
    user = apiserver.authenticate(people(), id_token(groups="system:masters"))  # one string, not a list
    assert user.groups == ("oidc:system:masters",)
    assert not any(g.startswith("system:") for g in user.groups)


def test_a_username_claim_naming_a_system_user_is_prefixed_too():
    user = apiserver.authenticate(
        people(username_claim="preferred_username"), id_token(preferred_username="system:admin")
    )
    assert user.username == "oidc:system:admin"


def test_no_groups_claim_means_no_group_not_a_refusal():
    assert apiserver.authenticate(people(), id_token(groups=None)).groups == ()


def test_a_groups_claim_with_a_colon_in_its_name_is_read():
    claims = id_token(groups=None) | {"cognito:groups": ["platform-admins"]}
    assert apiserver.authenticate(people(groups_claim="cognito:groups"), claims).groups == ("oidc:platform-admins",)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (id_token(email_verified=False), "has not verified this e-mail address"),
        (id_token(email_verified=None), "error evaluating"),
        (id_token(email=None), "error evaluating"),
        (id_token(aud="another-client"), "expected audience"),
        (id_token(groups=[1, 2]), "error evaluating|a string or a list of strings"),
    ],
)
def test_people_tokens_that_are_refused(claims, reason):
    with pytest.raises(Refused, match=reason):
        apiserver.authenticate(people(), claims)


def test_the_api_server_picks_the_authenticator_by_issuer_and_each_keeps_its_own_rules():
    both = [ci(), people()]
    assert len({a["issuer"]["url"] for a in both}) == 2  # the API server refuses two with one issuer
    assert apiserver.authenticate_any(both, github_token("pull_request")).groups == (cluster_auth.READ_GROUP,)
    assert apiserver.authenticate_any(both, id_token()).username == "oidc:janedoe@example.com"
    # A GitHub token carrying a groups claim still gets only what CI's mapping gives.
    forged = github_token("pull_request") | {"groups": ["platform-admins"]}
    assert apiserver.authenticate_any(both, forged).groups == (cluster_auth.READ_GROUP,)
