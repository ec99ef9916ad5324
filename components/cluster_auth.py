"""Who may call the API server, and with what: no stored credential anywhere.

Four ways in, none of them a long-lived key (docs/gitops-practices.md, "CI to the API server"):

- **CI** presents the job's GitHub Actions OIDC token. The API server trusts the issuer
  https://token.actions.githubusercontent.com through a `jwt` authenticator of its structured
  AuthenticationConfiguration (`--authentication-config`; apiserver.config.k8s.io/v1, GA in
  Kubernetes 1.34: kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/apis/apiserver/v1
  types.go, JWTAuthenticator, ClaimValidationRule, ClaimMappings). :func:`jwt_authenticator`
  writes it: the audience is this stack's own (:func:`audience`), so a token minted for AWS STS
  or for another stack is refused; only the subjects :func:`ci_subjects` lists authenticate at all;
  the username is `github-actions:<sub>`; `environment:<stack>` (apply and bootstrap jobs) gets
  DEPLOY_GROUP, every other listed subject (PR previews, `pull_request`, the drift run on `main`)
  READ_GROUP. :func:`rbac_objects` binds the groups (the control_plane role applies them).
- **The stack's own Kubernetes provider** uses the same token in CI (an exec credential, nothing in
  state), and elsewhere a client certificate minted for one hour on the first control plane
  (components/bootstrap.py, `kubeadm kubeconfig user --validity-period`).
- **People** with their SSO (apiServerOidc* keys): a second `jwt` authenticator for the issuer
  they name (:func:`people_authenticator`); every username and group is prefixed PEOPLE_PREFIX so
  no token names a `system:` user or group, and :func:`people_rbac_objects` binds the groups given
  to cluster-admin, edit and view. Their kubeconfig context runs int128/kubelogin
  (`kubectl oidc-login get-token`, :func:`sso_user`).
- **Break-glass** (and people without SSO): an exec-credential kubeconfig user (:func:`exec_kubeconfig`,
  the `kubeconfig` stack output; `make kubeconfig` writes it): tools/kube_credential.py mints a
  one-hour admin certificate through the bastion each time kubectl asks, or hands over the GitHub
  token inside Actions.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from components import yaml_io

if TYPE_CHECKING:
    from components.settings.model import ApiServerOidc

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# Every CI identity is prefixed, so no token can name itself system:* or a kubeadm user.
USERNAME_PREFIX = "github-actions:"
DEPLOY_GROUP = "gitops-cluster:ci-deploy"
READ_GROUP = "gitops-cluster:ci-read"
# The branch whose runs (drift) read the cluster; the workflows run from it (docs/gitops-practices.md).
DEFAULT_BRANCH_REF = "refs/heads/main"
# The one environment whose jobs run a pull request's code (pr.yml, after a maintainer's approval).
PREVIEW_ENVIRONMENT = "preview"
# The exec plugin, relative to the project root: a wrapper that runs tools/kube_credential.py with the
# project's virtualenv.
PLUGIN = "tools/kube-credential"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXEC_API_VERSION = "client.authentication.k8s.io/v1"
# How long a minted admin certificate lives (kubeadm kubeconfig user --validity-period).
ADMIN_CREDENTIAL_VALIDITY = "1h"
# kubeadm binds this group to cluster-admin (kubeadm >= 1.29: the kubeadm:cluster-admins
# ClusterRoleBinding), and it is what admin.conf carries; super-admin.conf's system:masters is never used.
ADMIN_ORGANIZATION = "kubeadm:cluster-admins"
# People's usernames and groups from their SSO all start with this (never `system:`).
PEOPLE_PREFIX = "oidc:"
# The built-in ClusterRoles each configured group list is bound to (apiServerOidc*Groups).
PEOPLE_ROLES = (("admin", "cluster-admin"), ("edit", "edit"), ("view", "view"))
# int128/kubelogin as a kubectl plugin (versions.yaml `kubelogin`: the flags used are that release's).
KUBELOGIN_COMMAND = ("kubectl", "oidc-login", "get-token")
# CEL reserved words cannot follow `claims.`; such claims are read as claims["name"].
_CEL_RESERVED = frozenset(
    {
        "as",
        "break",
        "const",
        "continue",
        "else",
        "false",
        "for",
        "function",
        "if",
        "import",
        "in",
        "let",
        "loop",
        "package",
        "namespace",
        "null",
        "return",
        "true",
        "var",
        "void",
        "while",
    }
)


def audience(project: str, stack: str) -> str:
    """The `aud` this stack's API server accepts: its own, so no other relying party's token passes."""
    return f"kubernetes/{project}/{stack}"


def ci_subjects(repository: str, stack: str) -> dict[str, tuple[str, ...]]:
    """The token subjects (GitHub's `sub` claim formats) that authenticate, by group."""
    prefix = f"repo:{repository}"
    return {
        DEPLOY_GROUP: (f"{prefix}:environment:{stack}",),
        READ_GROUP: (
            f"{prefix}:environment:{PREVIEW_ENVIRONMENT}",
            f"{prefix}:pull_request",
            f"{prefix}:ref:{DEFAULT_BRANCH_REF}",
        ),
    }


def _cel_list(values: Sequence[str]) -> str:
    # A JSON list of strings is a CEL list literal; the names are validated (settings/ci.py), so no
    # quote or backslash reaches the expression.
    return json.dumps(list(values))


def jwt_authenticator(repository: str, project: str, stack: str) -> dict[str, Any]:
    """The AuthenticationConfiguration `jwt` entry for this stack's GitHub Actions jobs."""
    subjects = ci_subjects(repository, stack)
    deploy, read = subjects[DEPLOY_GROUP], subjects[READ_GROUP]
    return {
        "issuer": {
            "url": GITHUB_ISSUER,
            "audiences": [audience(project, stack)],
            "audienceMatchPolicy": "MatchAny",
        },
        "claimValidationRules": [
            {
                "expression": f"claims.repository == {json.dumps(repository)}",
                "message": f"only {repository}'s workflows may use this cluster",
            },
            {
                "expression": f"claims.sub in {_cel_list([*deploy, *read])}",
                "message": "this job's subject is neither the stack's environment nor a preview",
            },
        ],
        "claimMappings": {
            "username": {"expression": f"{json.dumps(USERNAME_PREFIX)} + claims.sub"},
            "groups": {
                "expression": f"claims.sub in {_cel_list(deploy)} ? [{json.dumps(DEPLOY_GROUP)}] "
                f": [{json.dumps(READ_GROUP)}]"
            },
        },
        "userValidationRules": [
            {
                "expression": "!user.username.startsWith('system:')",
                "message": "a CI identity never names a system user",
            }
        ],
    }


def _claim(name: str) -> str:
    """`claims.<name>` (what the API server's email_verified check recognises), or claims["<name>"]."""
    if name.isidentifier() and name.isascii() and name not in _CEL_RESERVED:
        return f"claims.{name}"
    return f"claims[{json.dumps(name)}]"


def people_authenticator(oidc: ApiServerOidc) -> dict[str, Any]:
    """The AuthenticationConfiguration `jwt` entry for people's OIDC issuer (ID tokens for kubectl).

    The username is PEOPLE_PREFIX + the username claim; with `email` the token must also say
    email_verified (the API server refuses a configuration that maps claims.email without reading
    claims.email_verified: validation.go validateClaimMappings). The groups claim may be a list or
    one string, or absent (no group); each group gets the prefix.
    """
    prefix = json.dumps(PEOPLE_PREFIX)
    groups_name = json.dumps(oidc.groups_claim)
    groups = _claim(oidc.groups_claim)
    rules: list[dict[str, str]] = []
    if oidc.username_claim == "email":
        rules.append(
            {
                "expression": "claims.email_verified == true",
                "message": "the provider has not verified this e-mail address",
            }
        )
    return {
        "issuer": {"url": oidc.issuer_url, "audiences": [oidc.client_id], "audienceMatchPolicy": "MatchAny"},
        **({"claimValidationRules": rules} if rules else {}),
        "claimMappings": {
            "username": {"expression": f"{prefix} + {_claim(oidc.username_claim)}"},
            "groups": {
                "expression": f"!({groups_name} in claims) ? [] : type({groups}) == string ? [{prefix} + {groups}] "
                f": {groups}.map(g, {prefix} + g)"
            },
        },
        "userValidationRules": [
            {
                "expression": "!user.username.startsWith('system:')",
                "message": "a person's SSO identity never names a system user",
            },
            {
                "expression": "user.groups.all(g, !g.startsWith('system:'))",
                "message": "a person's SSO identity never carries a system group",
            },
        ],
    }


def people_groups(oidc: ApiServerOidc) -> dict[str, tuple[str, ...]]:
    """The prefixed groups bound to each role (what RBAC sees), by role name."""
    given = {"admin": oidc.admin_groups, "edit": oidc.edit_groups, "view": oidc.view_groups}
    return {role: tuple(PEOPLE_PREFIX + g for g in given[role]) for role, _ in PEOPLE_ROLES}


def people_rbac_objects(oidc: ApiServerOidc) -> list[dict[str, Any]]:
    """One ClusterRoleBinding per role that has groups: cluster-admin, edit and view."""
    objects = []
    bound = people_groups(oidc)
    for role, cluster_role in PEOPLE_ROLES:
        groups = bound[role]
        if groups:
            binding = _binding(f"gitops-cluster:people-{role}", cluster_role, groups[0])
            binding["subjects"] = [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups
            ]
            objects.append(binding)
    return objects


def sso_user(oidc: ApiServerOidc) -> dict[str, Any]:
    """A kubeconfig user running int128/kubelogin: an ID token from the person's provider, cached by it."""
    args = [*KUBELOGIN_COMMAND[1:], f"--oidc-issuer-url={oidc.issuer_url}", f"--oidc-client-id={oidc.client_id}"]
    if oidc.username_claim == "email":
        args.append("--oidc-extra-scope=email")
    args += [f"--oidc-extra-scope={scope}" for scope in oidc.extra_scopes]
    return {
        "exec": {
            "apiVersion": EXEC_API_VERSION,
            "command": KUBELOGIN_COMMAND[0],
            "args": args,
            "interactiveMode": "IfAvailable",
            "provideClusterInfo": False,
            "installHint": "install int128/kubelogin as the kubectl plugin oidc-login "
            "(`kubectl krew install oidc-login` or `brew install kubelogin`; versions.yaml `kubelogin`); "
            'docs/gitops-practices.md, "CI to the API server, and people too"',
        }
    }


def _binding(name: str, role: str, group: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }


def rbac_objects() -> list[dict[str, Any]]:
    """The groups' rights: deploy is cluster-admin (the provider installs CRDs and ClusterRoles);
    read is the built-in `view` (no Secrets) plus reading CRDs and Argo CD's Applications and
    AppProjects, what a preview and the drift check compare."""
    read_extra = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": READ_GROUP},
        "rules": [
            {
                "apiGroups": ["apiextensions.k8s.io"],
                "resources": ["customresourcedefinitions"],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": ["argoproj.io"],
                "resources": ["applications", "appprojects"],
                "verbs": ["get", "list", "watch"],
            },
        ],
    }
    return [
        read_extra,
        _binding(f"{READ_GROUP}:view", "view", READ_GROUP),
        _binding(READ_GROUP, READ_GROUP, READ_GROUP),
        _binding(DEPLOY_GROUP, "cluster-admin", DEPLOY_GROUP),
    ]


def exec_user(
    stack: str, *, audience_value: str | None, command: str = PLUGIN, github_only: bool = False
) -> dict[str, Any]:
    """A kubeconfig user whose credential tools/kube_credential.py fetches when a client asks."""
    args = ["--stack", stack]
    if audience_value:
        args += ["--audience", audience_value]
    if github_only:
        args += ["--source", "github"]
    return {
        "exec": {
            "apiVersion": EXEC_API_VERSION,
            "command": command,
            "args": args,
            "interactiveMode": "Never",
            "provideClusterInfo": False,
            "installHint": "run from a checkout of the gitops-cluster repository after `make venv` "
            '(tools/kube_credential.py; docs/gitops-practices.md, "CI to the API server, and people too")',
        }
    }


def exec_kubeconfig(
    server: str,
    ca_pem: str,
    stack: str,
    cluster_name: str,
    *,
    audience_value: str | None,
    command: str = PLUGIN,
    github_only: bool = False,
    sso: ApiServerOidc | None = None,
) -> str:
    """A kubeconfig with the cluster's CA and exec users: it holds no credential.

    With `sso` its current context is the person's SSO (`<cluster>-<stack>-sso`, kubelogin) and the
    minted admin certificate stays as the break-glass context `<cluster>-<stack>`.
    """
    user = f"{cluster_name}-{stack}"
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": exec_user(stack, audience_value=audience_value, command=command, github_only=github_only),
            }
        ],
        "contexts": [{"name": user, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": user,
    }
    if sso is not None:
        sso_name = f"{user}-sso"
        data["users"] = [{"name": sso_name, "user": sso_user(sso)}, *data["users"]]
        data["contexts"] = [
            {"name": sso_name, "context": {"cluster": cluster_name, "user": sso_name}},
            *data["contexts"],
        ]
        data["current-context"] = sso_name
    return str(yaml.safe_dump(data, sort_keys=False))


def with_absolute_plugin(kubeconfig: str, root: Path = PROJECT_ROOT) -> str:
    """The kubeconfig with the relative plugin path made absolute (kubectl runs from anywhere)."""
    data = yaml_io.load(kubeconfig)
    for user in data.get("users") or []:
        exec_config = (user.get("user") or {}).get("exec")
        if exec_config and exec_config.get("command") == PLUGIN:
            exec_config["command"] = str(root / PLUGIN)
    return str(yaml.safe_dump(data, sort_keys=False))


def github_token_available(environ: Mapping[str, str] | None = None) -> bool:
    """True inside a GitHub Actions job granted `id-token: write` (the runner sets both variables)."""
    env = os.environ if environ is None else environ
    return bool(env.get("ACTIONS_ID_TOKEN_REQUEST_URL") and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
