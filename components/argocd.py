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
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import GitOpsSource
from components.gitops import root_application

NAMESPACE = "argocd"

# ArgoCD (since 1.8) reports child Applications Healthy as soon as they exist, so sync waves
# between Applications do not wait for anything. This health check makes an Application's
# health its own status.health, so a later wave starts only when the earlier apps are Healthy.
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


def _resources(cpu: str, memory: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}}


def helm_values(admin_password_bcrypt: pulumi.Input[str]) -> dict[str, Any]:
    """Values for the argo-cd chart: stack-generated admin password, health checks, requests."""
    return {
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
            },
        },
        "dex": {"enabled": False},
        "notifications": {"enabled": False},
        "controller": {"resources": _resources("250m", "512Mi", "1Gi")},
        "server": {"resources": _resources("50m", "128Mi", "256Mi")},
        "repoServer": {"resources": _resources("50m", "128Mi", "512Mi")},
        "applicationSet": {"resources": _resources("25m", "64Mi", "128Mi")},
        "redis": {"resources": _resources("25m", "64Mi", "128Mi")},
    }


@dataclass(frozen=True)
class ArgoCdArgs:
    kubeconfig: pulumi.Input[str]
    chart_version: str
    chart_repo: str
    gitops: GitOpsSource
    # What must be finished before anything is installed (the bootstrap that produced the
    # kubeconfig): explicit, so the order does not rest on the provider reference alone.
    after: Sequence[pulumi.Resource] = ()
    # Extra kustomize patches of the root Application (stack-specific values for the children,
    # e.g. the backup bucket: components/backup.py).
    root_patches: pulumi.Input[Sequence[Mapping[str, Any]]] = ()


class ArgoCd(pulumi.ComponentResource):
    """ArgoCD and the root Application.

    Creates: an explicit Kubernetes provider from the (secret) kubeconfig; a random admin
    password (its bcrypt hash goes to the chart, the password is a secret output); the argo-cd
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

        release = k8s.helm.v3.Release(
            f"{name}-argocd",
            name="argocd",
            chart="argo-cd",
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=args.chart_repo),
            namespace=NAMESPACE,
            create_namespace=True,
            values=helm_values(pulumi.Output.secret(password.bcrypt_hash)),
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
        gitops.repo_url, gitops.revision, gitops.path, namespace=NAMESPACE, extra_patches=extra_patches
    )
    return {
        "api_version": manifest["apiVersion"],
        "kind": manifest["kind"],
        "metadata": manifest["metadata"],
        "spec": manifest["spec"],
    }
