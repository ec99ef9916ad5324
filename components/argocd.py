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

from components.config import GitOpsSource
from components.gitops import root_application

NAMESPACE = "argocd"

# ArgoCD reports child Applications Healthy as soon as they exist (since 1.8, and still in 3.x: the
# "Argocd App" section of the 3.3 and 3.5 health docs), so sync waves between Applications do not wait for
# anything. This health check makes an Application's health its own status.health, so a later
# wave starts only when the earlier apps are Healthy.
APPLICATION_HEALTH_LUA = """\
hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil and obj.status.health ~= nil then
  hs.status = obj.status.health.status
  if obj.status.health.message ~= nil then
    hs.message = obj.status.health.message
  end
end
return hs
"""

# The argo-cd chart's components that run pods (the secret-init Job included).
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


def helm_values(
    admin_password_bcrypt: pulumi.Input[str],
    admin_password_mtime: pulumi.Input[str],
    domain: str,
) -> dict[str, Any]:
    """Values for the argo-cd chart (10.x, Argo CD 3.4).

    The stack-generated admin password (bcrypt hash) and its modification time, which must stay
    the same across upgrades (the chart defaults it to "now", and ArgoCD rejects every session
    issued before it); the public domain (`global.domain`, from which the chart sets argocd-cm
    `url`); the Application health check; placement; metrics Services; requests.
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
    return {
        "global": {"domain": domain, "tolerations": PLACEMENT_TOLERATIONS},
        "crds": {"install": True, "keep": True},
        "configs": {
            "cm": {
                "admin.enabled": True,
                "users.anonymous.enabled": False,
                "exec.enabled": False,
                "resource.customizations.health.argoproj.io_Application": APPLICATION_HEALTH_LUA,
                "timeout.reconciliation": "180s",
            },
            "params": {"server.insecure": False},
            "secret": {
                # A bcrypt hash only; the password itself is a stack secret output. Setting it
                # means ArgoCD never creates argocd-initial-admin-secret.
                "argocdServerAdminPassword": admin_password_bcrypt,
                "argocdServerAdminPasswordMtime": admin_password_mtime,
            },
        },
        "dex": {"enabled": False},
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


class ArgoCd(pulumi.ComponentResource):
    """ArgoCD and the root Application.

    Creates: an explicit Kubernetes provider from the (secret) kubeconfig; a random admin
    password (its bcrypt hash goes to the chart, the password is a secret output) and the time it
    was set (a local `date` run once, and again only when the password is replaced); the argo-cd
    Helm release in `argocd`, pinned; the root Application (argoproj.io/v1alpha1), which depends
    on the release (so its CRD exists) and is therefore deleted first on destroy, letting its
    finalizer remove everything ArgoCD deployed while ArgoCD still runs.
    """

    provider: k8s.Provider
    admin_password: pulumi.Output[str]
    release_status: pulumi.Output[Any]
    root_application_name: pulumi.Output[str]

    def __init__(self, name: str, args: ArgoCdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gitops-cluster:argocd:ArgoCd", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.secret(args.kubeconfig),
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        password = random.RandomPassword(
            f"{name}-admin", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
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

        release = k8s.helm.v3.Release(
            f"{name}-argocd",
            name="argocd",
            chart="argo-cd",
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=args.chart_repo),
            namespace=NAMESPACE,
            create_namespace=True,
            values=helm_values(
                pulumi.Output.secret(password.bcrypt_hash),
                # `date` always prints; None only under a test double that returns no state.
                password_set_at.stdout.apply(lambda out: (out or "").strip()),
                args.domain,
            ),
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=list(args.after)),
        )
        self.release_status = release.status

        root_args = root_application_resource_args(args.gitops)
        spec = pulumi.Output.from_input(args.root_patches).apply(
            lambda patches: root_application_resource_args(args.gitops, patches)["spec"]
        )
        k8s.apiextensions.CustomResource(
            f"{name}-root-app",
            **{**root_args, "spec": spec},
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[release]),
        )
        self.root_application_name = pulumi.Output.from_input(str(root_args["metadata"]["name"]))
        self.register_outputs(
            {
                "admin_password": self.admin_password,
                "release_status": self.release_status,
                "root_application_name": self.root_application_name,
            }
        )


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
