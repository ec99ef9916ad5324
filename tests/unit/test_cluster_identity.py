"""Nothing routine replaces what the cluster's identity depends on.

What must hold, and why:
- the AMI lookup asks for deprecated images too: EC2's DescribeImages leaves deprecated AMIs out
  unless `IncludeDeprecated` is set (EC2 API Reference, DescribeImages), and a public AMI is
  deprecated at most two years after its creation, so the exact pinned name would stop resolving
  and fail every preview and up;
- the Kubernetes provider has a clusterIdentifier that is known in a preview and does not depend on
  the kubeconfig: pulumi-kubernetes replaces its provider (and so every resource it manages: the
  argocd Namespace, argocd-secret, the Helm release, root-app, whose finalizer deletes everything
  ArgoCD deployed) when the kubeconfig changes, "the provider will _only_ be replaced when
  clusterIdentifier changes" when one is set (pulumi_kubernetes 4.34.2 ProviderArgs docstring);
- both API load balancers keep their subnets when azCount changes (AWS replaces an NLB when a
  subnet is removed from it; its DNS name is in every kubeconfig and the API certificate);
- root-app and both NLBs are protected; `make destroy` lifts that on purpose (tests/unit/test_up.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tools.mockrun import FakeCloud, Recording

LB = "aws:lb/loadBalancer:LoadBalancer"
API_NLBS = ("gitops-dev-api", "gitops-dev-int")
MANAGED = (
    ("kubernetes:core/v1:Namespace", "gitops-dev-namespace"),
    ("kubernetes:core/v1:Secret", "gitops-dev-argocd-secret"),
    ("kubernetes:helm.sh/v3:Release", "gitops-dev-argocd"),
    ("kubernetes:argoproj.io/v1alpha1:Application", "gitops-dev-root-app"),
)


class DeprecatedAmi(FakeCloud):
    """FakeCloud, where the pinned AMI is deprecated: AWS returns it only when deprecated images are
    asked for (DescribeImages IncludeDeprecated); pulumi-aws's getAmi then fails with its
    "Your query returned no results" error."""

    def call(self, args: Any) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "aws:ec2/getAmi:getAmi" and not args.args.get("includeDeprecated"):
            raise Exception("Your query returned no results. Please change your search criteria and try again.")
        return super().call(args)


class NextRunsCredential(FakeCloud):
    """FakeCloud on the next run: the provider's credential is minted again for every run
    (components/bootstrap.py), so its kubeconfig differs from the last run's."""

    def call(self, args: Any) -> dict[str, Any]:  # type: ignore[override]
        answer = super().call(args)
        if args.token == "command:local:run":
            answer = {**answer, "stdout": answer["stdout"].replace("gitops-cluster:pulumi@", "next-run@")}
        return answer


def _one(rec: Recording, typ: str, name: str) -> Any:
    (found,) = [r for r in rec.of_type(typ) if r.name == name]
    return found


def test_the_ami_is_found_even_when_aws_has_deprecated_it(run_stack: Any) -> None:
    rec = run_stack(mocks=DeprecatedAmi())
    (args,) = [a for token, a in rec.invokes if token == "aws:ec2/getAmi:getAmi"]
    assert args["includeDeprecated"] is True
    assert rec.of_type("aws:ec2/instance:Instance")


def test_a_new_kubeconfig_never_replaces_the_kubernetes_provider(dev: Recording, run_stack: Any) -> None:
    unknown = run_stack(mocks=NextRunsCredential())
    (provider,) = unknown.of_type("pulumi:providers:kubernetes")
    (known,) = dev.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] != known.inputs["kubeconfig"], "the next run should mint a new credential"
    identifier = provider.inputs.get("clusterIdentifier")
    assert isinstance(identifier, str) and identifier, (
        "the provider has no clusterIdentifier: a new kubeconfig replaces it"
    )
    assert identifier == known.inputs["clusterIdentifier"] == "gitops-cluster/dev/gitops-dev"
    assert not provider.is_secret("clusterIdentifier")
    # Everything the provider manages hangs on it: the same provider, hence no replacement.
    for typ, name in MANAGED:
        assert _one(unknown, typ, name).provider.startswith(provider.urn), (typ, name)


def test_the_api_load_balancers_keep_their_subnets_when_az_count_changes(dev: Recording, run_stack: Any) -> None:
    def subnets_of(rec: Recording) -> dict[str, list[str]]:
        return {n: _one(rec, LB, n).inputs["subnets"] for n in API_NLBS}

    three = subnets_of(dev)
    assert all(len(s) == 2 for s in three.values())
    assert subnets_of(run_stack({"azCount": 2})) == three
    assert subnets_of(run_stack({"azCount": 4})) == three


@pytest.mark.parametrize(("typ", "name"), [*((LB, n) for n in API_NLBS), MANAGED[3]])
def test_root_app_and_the_api_load_balancers_are_protected(dev: Recording, typ: str, name: str) -> None:
    assert _one(dev, typ, name).protect, f"{name} can be deleted by a routine run"
