"""ArgoCD on the cluster (Helm) and the root App-of-Apps Application that hands over to Git.

Why `helm.v3.Release` and not `helm.v4.Chart`: the argo-cd chart ships its CRDs and relies on
Helm's install ordering for them; a Release installs CRDs before the templates, keeps Helm's own
release record (so `helm list/rollback` keep working during an incident) and uninstalls as one
unit on destroy, after the root Application that depends on it. A Chart would render ~60
resources into the diff and leave CRD ordering to us. The price, a coarser diff (values only),
is paid back by the values being a pure, tested function below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from components import PROJECT_ROOT
from components.gitops import (
    RECONCILIATION_SECONDS,
    app_projects,
    child_waves,
    root_application,
    root_delete_timeout_seconds,
    service_namespaces,
)
from components.settings.model import ArgoCdSso, GitOpsSource

TYPE_TOKEN = "gitops-cluster:argocd:ArgoCd"  # noqa: S105 (a Pulumi type token)

NAMESPACE = "argocd"

# ArgoCD reports child Applications Healthy as soon as they exist (since 1.8, and still in 3.x: the
# "Argocd App" section of the 3.3 and 3.5 health docs), so sync waves between Applications do not wait for
# anything. This health check makes an Application's health its own status.health, so a later
# wave starts only when the earlier apps are Healthy.
# The root's view of a child Application (Argo CD assesses no health for argoproj.io/Application
# by default). gitops-engine gates each sync wave on the resources it applied in the earlier
# waves (gitops-engine pkg/sync/sync_context.go, Sync: Healthy -> done, Degraded -> the operation
# fails, anything else -> it waits). Only a child that later waves need (annotation
# gitops-cluster.io/gate: "true": it installs CRDs, namespaces, the StorageClass or credentials)
# is reported as it is, its Suspended/Missing/Unknown as Progressing; every other child is Healthy
# to the root, its real health in the message, so it never holds or fails a later wave. Lua 5.1
# (gopher-lua); tests/unit/test_gitops_health_gates.py runs it.
APPLICATION_HEALTH_LUA = """\
hs = {status = "Progressing", message = "waiting for the child's first health report"}
local child = nil
if obj.status ~= nil and obj.status.health ~= nil and obj.status.health.status ~= nil then
  child = obj.status.health.status
  hs.message = obj.status.health.message or ""
end
local gate = obj.metadata ~= nil and obj.metadata.annotations ~= nil
  and obj.metadata.annotations["gitops-cluster.io/gate"] == "true"
if not gate then
  hs.status = "Healthy"
  hs.message = "not a gate of later waves; the child reports " .. (child or "no health yet")
    .. (hs.message ~= "" and (": " .. hs.message) or "")
  return hs
end
if child == "Healthy" or child == "Degraded" then
  hs.status = child
elseif child ~= nil then
  hs.message = child .. (hs.message ~= "" and (": " .. hs.message) or "")
end
return hs
"""

# The argo-cd chart's components that run pods (the secret-init Job included).
# The argocd namespace's labels. Pod Security `restricted` is the strictest level every pod the
# chart renders passes (tests/manifests/test_pod_security.py evaluates them); the version is pinned so a
# Kubernetes upgrade does not change the rules under a running ArgoCD.
NAMESPACE_LABELS = {
    "app.kubernetes.io/part-of": "gitops-cluster",
    "tier": "platform",
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.36",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}

POD_COMPONENTS = ("controller", "server", "repoServer", "applicationSet", "redis", "redisSecretInit")

# Where ArgoCD runs: on the worker nodes (untainted, and idle in the default node table), else on
# a control-plane node (the t3.large has room), never on the 1 GiB API nodes nor the tainted
# infrastructure nodes (the monitoring node is full with Prometheus). docs/app-of-apps.md.
WORKER_LABEL = "node-role.kubernetes.io/worker"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
PLACEMENT_AFFINITY: dict[str, Any] = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": WORKER_LABEL, "operator": "Exists"}]},
                {"matchExpressions": [{"key": CONTROL_PLANE_LABEL, "operator": "Exists"}]},
            ]
        },
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "preference": {"matchExpressions": [{"key": WORKER_LABEL, "operator": "Exists"}]}}
        ],
    }
}
PLACEMENT_TOLERATIONS: list[dict[str, str]] = [
    {"key": CONTROL_PLANE_LABEL, "operator": "Exists", "effect": "NoSchedule"},
]

# Metrics Services of the components Prometheus scrapes (manifests/infrastructure/service-monitors/
# argocd.yaml selects them). The chart's own `metrics.serviceMonitor` switches are left off: its
# templates render a ServiceMonitor only when the cluster already serves monitoring.coreos.com/v1,
# which on the first `pulumi up` it does not (ArgoCD installs the CRDs later), so they would appear
# only on some later upgrade (docs/monitoring.md).
METRICS_COMPONENTS = ("controller", "server", "repoServer", "applicationSet")


def _resources(cpu: str, memory: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}}


# argocd-secret is created by Pulumi (argocd_secret_data), not the chart, so the Helm values hold
# nothing secret and a preview shows them in full instead of `[secret]`.
ARGOCD_SECRET = "argocd-secret"  # noqa: S105 (a Secret's name, not a secret)
# Dex's GitHub connector reads its client secret from this argocd-secret key (`$key` in dex.config).
DEX_CLIENT_SECRET_KEY = "dex.github.clientSecret"  # noqa: S105 (a key name, not a secret)


def dex_config(sso: ArgoCdSso) -> str:
    """argocd-cm `dex.config`: one GitHub connector limited to the organisation; teams by slug."""
    return yaml.safe_dump(
        {
            "connectors": [
                {
                    "type": "github",
                    "id": "github",
                    "name": "GitHub",
                    "config": {
                        "clientID": sso.client_id,
                        "clientSecret": f"${DEX_CLIENT_SECRET_KEY}",
                        "orgs": [{"name": sso.github_org}],
                        # Groups are "<org>:<team slug>", what policy.csv maps.
                        "teamNameField": "slug",
                    },
                }
            ]
        },
        sort_keys=False,
    )


def rbac_values(sso: ArgoCdSso | None) -> dict[str, str]:
    """argocd-rbac-cm: everyone read-only unless mapped; the SSO admin team is admin."""
    values = {"policy.default": "role:readonly", "scopes": "[groups]"}
    if sso is not None:
        values["policy.csv"] = f"g, {sso.github_org}:{sso.admin_team}, role:admin\n"
    return values


def argocd_secret_data(
    admin_password_bcrypt: pulumi.Input[str],
    admin_password_mtime: pulumi.Input[str],
    dex_client_secret: pulumi.Input[str] | None = None,
) -> dict[str, pulumi.Input[str]]:
    """stringData of argocd-secret: the admin password's bcrypt hash and mtime, Dex's client secret.

    ArgoCD adds `server.secretkey` itself at start; server-side apply leaves that field to it.
    """
    data: dict[str, pulumi.Input[str]] = {
        "admin.password": admin_password_bcrypt,
        "admin.passwordMtime": admin_password_mtime,
    }
    if dex_client_secret is not None:
        data[DEX_CLIENT_SECRET_KEY] = dex_client_secret
    return data


def helm_values(domain: str, sso: ArgoCdSso | None = None) -> dict[str, Any]:
    """Values for the argo-cd chart (10.x, Argo CD 3.4): plain, nothing secret in them.

    The public domain (`global.domain`, from which the chart sets argocd-cm `url`); the
    Application health check; RBAC (read-only by default); with SSO, Dex's GitHub connector and
    the local admin off; placement; metrics Services; requests. The admin password and Dex's
    client secret live in argocd-secret, which Pulumi creates (`configs.secret.createSecret:
    false`).
    """
    components: dict[str, dict[str, Any]] = {
        "controller": {"resources": _resources("250m", "512Mi", "1Gi")},
        "server": {"resources": _resources("50m", "128Mi", "256Mi")},
        "repoServer": {"resources": _resources("50m", "128Mi", "512Mi")},
        "applicationSet": {"resources": _resources("25m", "64Mi", "128Mi")},
        "redis": {"resources": _resources("25m", "64Mi", "128Mi")},
        "redisSecretInit": {},
    }
    for name in POD_COMPONENTS:
        components[name]["affinity"] = PLACEMENT_AFFINITY
    for name in METRICS_COMPONENTS:
        components[name]["metrics"] = {"enabled": True}
    cm: dict[str, Any] = {
        # With SSO the local admin is off: people log in through GitHub, by team.
        "admin.enabled": sso is None,
        "users.anonymous.enabled": False,
        "exec.enabled": False,
        "resource.customizations.health.argoproj.io_Application": APPLICATION_HEALTH_LUA,
        "timeout.reconciliation": f"{RECONCILIATION_SECONDS}s",
    }
    dex: dict[str, Any] = {"enabled": False}
    if sso is not None:
        cm["dex.config"] = dex_config(sso)
        dex = {"enabled": True, "resources": _resources("10m", "32Mi", "64Mi"), "affinity": PLACEMENT_AFFINITY}
    return {
        # The chart's own NetworkPolicies (on by default in 10.x: argocd-server open to every
        # source, metrics to every namespace) are off: the argocd namespace is fenced by the Git
        # tree's policies alone (manifests/infrastructure/network-policies/argocd;
        # tests/unit/test_flows_rendered.py derives what they must admit from the rendered pods).
        "global": {"domain": domain, "tolerations": PLACEMENT_TOLERATIONS, "networkPolicy": {"create": False}},
        "crds": {"install": True, "keep": True},
        "configs": {
            "cm": cm,
            "rbac": rbac_values(sso),
            # TLS ends at the public ALB (ACM certificate, components/public_entry.py); the Gateway
            # reaches argocd-server over the pod network in plain HTTP, as the ALB reaches the
            # Gateway inside the VPC. Without it argocd-server redirects every request to HTTPS
            # with its self-signed certificate, which nothing in front of it could verify.
            "params": {"server.insecure": True},
            "secret": {"createSecret": False},
            # Envoy Gateway's chart is published as an OCI artifact (manifests/argocd/apps/
            # envoy-gateway.yaml): ArgoCD reads an OCI Helm repository only once it is registered
            # with enableOCI. Public, no credentials.
            "repositories": {
                "envoy-gateway-oci": {
                    "name": "envoyproxy",
                    "type": "helm",
                    "url": "registry-1.docker.io/envoyproxy",
                    "enableOCI": "true",
                }
            },
        },
        "dex": dex,
        "notifications": {"enabled": False},
        **components,
    }


@dataclass(frozen=True)
class ArgoCdArgs:
    kubeconfig: pulumi.Input[str]
    chart_version: str
    chart_repo: str
    gitops: GitOpsSource
    # `global.domain` of the chart: the host people reach the UI at (argocd-cm `url` is
    # https://<domain>); Pulumi.yaml `argocdDomain`.
    domain: str
    # What must be finished before anything is installed (the bootstrap that produced the
    # kubeconfig): explicit, so the order does not rest on the provider reference alone.
    after: Sequence[pulumi.Resource] = ()
    # Extra kustomize patches of the root Application (stack-specific values for the children,
    # e.g. the backup bucket: components/backup.py).
    root_patches: pulumi.Input[Sequence[Mapping[str, Any]]] = ()
    # A keeper of the admin password: bumping it generates a new one (Pulumi.yaml
    # `argocdAdminPasswordVersion`).
    admin_password_version: int = 1
    # Chart and upstream Git repositories the platform children may install from
    # (gitops.upstream_repos): the platform project's sourceRepos beside the GitOps repository.
    chart_repos: Sequence[str] = ()
    # GitHub SSO through Dex, and its client secret (a Pulumi secret); None: local admin only.
    sso: ArgoCdSso | None = None
    dex_client_secret: pulumi.Input[str] | None = None
    # The Kubernetes provider's clusterIdentifier: a name fixed for the cluster's life, so a new
    # kubeconfig (re-fetched after an upgrade, a renewed certificate, a changed endpoint) is an
    # update of the provider, never a replacement of everything it manages (pulumi-kubernetes: "the
    # provider will _only_ be replaced when clusterIdentifier changes"). "" keeps the component's name.
    cluster_identifier: str = ""

    def __post_init__(self) -> None:
        if (self.sso is None) != (self.dex_client_secret is None):
            raise ValueError("ArgoCdArgs: sso and dex_client_secret go together")


class ArgoCd(pulumi.ComponentResource):
    """ArgoCD and the root Application.

    Creates: an explicit Kubernetes provider from the (secret) kubeconfig; a random admin
    password (its bcrypt hash goes to the chart, the password is a secret output) and the time it
    was set (a local `date` run once, and again only when the password is replaced); the `argocd`
    Namespace with Pod Security labels (NAMESPACE_LABELS); the argo-cd Helm release in it,
    pinned; the root Application (argoproj.io/v1alpha1), which depends on the release (so its CRD
    exists) and is therefore deleted first on destroy, letting its
    finalizer remove everything ArgoCD deployed while ArgoCD still runs.
    """

    provider: k8s.Provider
    admin_password: pulumi.Output[str]
    release_status: pulumi.Output[Any]
    root_application_name: pulumi.Output[str]

    def __init__(self, name: str, args: ArgoCdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.secret(args.kubeconfig),
            cluster_identifier=args.cluster_identifier or name,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        password = random.RandomPassword(
            f"{name}-admin",
            length=32,
            special=False,
            keepers={"version": str(args.admin_password_version)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.admin_password = pulumi.Output.secret(password.result)
        # ArgoCD logs out every session issued before admin.passwordMtime, and the chart sets it to
        # the render time unless given: fix it to when this password was created, so a `pulumi up`
        # keeps sessions and a new password (a replaced RandomPassword) still ends the old ones.
        password_set_at = command.local.Command(
            f"{name}-admin-mtime",
            create="date -u +%Y-%m-%dT%H:%M:%SZ",
            opts=pulumi.ResourceOptions(parent=self, replace_with=[password]),
        )

        # Created here, not by the release (`create_namespace`), so it carries Pod Security labels
        # from the first pod on. Server-side apply adopts the namespace an older stack's release
        # created instead of failing on it.
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE, labels=NAMESPACE_LABELS),
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=list(args.after)),
        )

        # The chart's argocd-secret, created here so the Helm values stay free of secrets (a
        # preview shows them) and the password hash and Dex's client secret are Secret data only.
        argocd_secret = k8s.core.v1.Secret(
            f"{name}-argocd-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ARGOCD_SECRET,
                namespace=NAMESPACE,
                labels={"app.kubernetes.io/name": ARGOCD_SECRET, "app.kubernetes.io/part-of": "argocd"},
            ),
            type="Opaque",
            # Every value secret, the mtime included (it is part of the credential's record).
            string_data={
                key: pulumi.Output.secret(value)
                for key, value in argocd_secret_data(
                    password.bcrypt_hash,
                    # `date` always prints; None only under a test double that returns no state.
                    password_set_at.stdout.apply(lambda out: (out or "").strip()),
                    args.dex_client_secret,
                ).items()
            },
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[namespace]),
        )

        release = k8s.helm.v3.Release(
            f"{name}-argocd",
            name="argocd",
            chart="argo-cd",
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=args.chart_repo),
            namespace=NAMESPACE,
            create_namespace=False,
            values=helm_values(args.domain, args.sso),
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            opts=pulumi.ResourceOptions(
                parent=self, provider=self.provider, depends_on=[*args.after, namespace, argocd_secret]
            ),
        )
        self.release_status = release.status

        # The projects the root and its children live in (components/gitops.py): none is `default`.
        projects = [
            k8s.apiextensions.CustomResource(
                f"{name}-project-{manifest['metadata']['name']}",
                api_version=manifest["apiVersion"],
                kind=manifest["kind"],
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[release]),
            )
            for manifest in app_projects(
                args.gitops.repo_url, args.chart_repos, service_namespaces(PROJECT_ROOT), namespace=NAMESPACE
            )
        ]

        root_args = root_application_resource_args(args.gitops)
        spec = pulumi.Output.from_input(args.root_patches).apply(
            lambda patches: root_application_resource_args(args.gitops, patches)["spec"]
        )
        # Protected: deleting the root Application deletes (its finalizer) everything ArgoCD
        # deployed, data included. Only `make destroy` lifts this, on purpose (tools/up.sh).
        k8s.apiextensions.CustomResource(
            f"{name}-root-app",
            **{**root_args, "spec": spec},
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=self.provider,
                depends_on=[release, *projects],
                protect=True,
                # Deleting the root waits for Argo CD to delete every child, wave by wave
                # (components/gitops.py root_delete_timeout_seconds); pulumi-kubernetes' default
                # (10 minutes) is shorter than that cascade.
                custom_timeouts=pulumi.CustomTimeouts(delete=root_delete_timeout()),
            ),
        )
        self.root_application_name = pulumi.Output.from_input(str(root_args["metadata"]["name"]))
        self.register_outputs(
            {
                "admin_password": self.admin_password,
                "release_status": self.release_status,
                "root_application_name": self.root_application_name,
            }
        )


def root_delete_timeout() -> str:
    """The root Application's delete timeout, in whole minutes, from the children's waves."""
    seconds = root_delete_timeout_seconds(child_waves(PROJECT_ROOT))
    return f"{-(-seconds // 60)}m"


def root_application_resource_args(
    gitops: GitOpsSource, extra_patches: Sequence[Mapping[str, Any]] = ()
) -> Mapping[str, Any]:
    """The root Application manifest split into CustomResource arguments."""
    manifest = root_application(
        gitops.repo_url,
        gitops.revision,
        gitops.path,
        mode=gitops.mode,
        environment=gitops.environment,
        namespace=NAMESPACE,
        extra_patches=extra_patches,
    )
    return {
        "api_version": manifest["apiVersion"],
        "kind": manifest["kind"],
        "metadata": manifest["metadata"],
        "spec": manifest["spec"],
    }
