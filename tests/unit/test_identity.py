"""Workload identity (IRSA) as it will run: issuer documents from a real key, trust policies against
the ServiceAccounts that render, the API server flags in the rendered kubeadm config, the webhook
from upstream's files (components/identity.py, components/oidc_issuer.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from components import identity, oidc_issuer
from components.gitops import write_root_overlay
from tests.support.children import applications, kustomize, render_child
from tests.support.identity import kubeadm_service_account_key, sign_like_kube_apiserver, verify_with_jwks
from tests.support.paths import ROOT
from tests.support.prereqs import require_tool
from tools.mockrun import FAKE_SERVICE_ACCOUNT_PUBLIC_KEY, Recording

ROLE = "aws:iam/role:Role"
UPSTREAM = ROOT.parent / "shared" / "upstream" / "amazon-eks-pod-identity-webhook-v0.6.17"
WEBHOOK_DIR = ROOT / "manifests" / "infrastructure" / "pod-identity-webhook"


# --- the issuer documents ------------------------------------------------------------------------


def test_the_jwks_verifies_a_token_signed_like_kube_apiserver_with_a_kubeadm_key(tmp_path):
    public, private = kubeadm_service_account_key(tmp_path / "sa")
    document = json.loads(json.dumps(oidc_issuer.jwks([public.read_text()])))  # as published: JSON
    # kid as upstream's main.go derives it: SHA-256 of the PKIX DER (the PEM body), base64url unpadded.
    der = base64.b64decode("".join(public.read_text().splitlines()[1:-1]))
    expected_kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    (entry,) = document["keys"]
    assert entry["kid"] == expected_kid == oidc_issuer.key_id(public.read_text())
    issuer = "https://d111111abcdef8.cloudfront.net"
    sub = oidc_issuer.service_account_subject("data", "postgresql")
    token = sign_like_kube_apiserver(private, expected_kid, {"iss": issuer, "sub": sub, "aud": ["sts.amazonaws.com"]})
    assert verify_with_jwks(token, document)["sub"] == sub
    # A token signed by another key (a restored cluster with a new key) does not verify.
    _, other = kubeadm_service_account_key(tmp_path / "other")
    forged = sign_like_kube_apiserver(other, expected_kid, {"iss": issuer, "sub": sub})
    with pytest.raises(InvalidSignature):
        verify_with_jwks(forged, document)


def test_rotation_publishes_both_keys_and_drops_duplicates(tmp_path):
    new, _ = kubeadm_service_account_key(tmp_path / "sa")
    old, _ = kubeadm_service_account_key(tmp_path / "sa-retired-1")
    text = new.read_text() + old.read_text() + new.read_text()
    keys = oidc_issuer.jwks(oidc_issuer.public_key_blocks(text))["keys"]
    assert [k["kid"] for k in keys] == [oidc_issuer.key_id(new.read_text()), oidc_issuer.key_id(old.read_text())]


def test_keys_kube_apiserver_would_refuse_are_refused(tmp_path):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505 (refused on purpose)
    pem = small.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(oidc_issuer.IssuerKeyError, match="1024 bits"):
        oidc_issuer.jwks([pem])
    with pytest.raises(oidc_issuer.IssuerKeyError, match="no service-account public key"):
        oidc_issuer.jwks([])


def test_the_discovery_document_names_the_issuer_and_its_jwks():
    doc = oidc_issuer.discovery_document("https://d1.cloudfront.net")
    assert doc["issuer"] == "https://d1.cloudfront.net"
    assert doc["jwks_uri"] == "https://d1.cloudfront.net/keys.json"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    with pytest.raises(ValueError, match="https://"):
        oidc_issuer.discovery_document("http://d1.cloudfront.net")


def _objects(dev: Recording) -> dict[str, Any]:
    return {r.inputs["key"]: r for r in dev.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if "issuer" in r.name}


def test_the_stack_publishes_exactly_the_two_documents_through_cloudfront_only(dev):
    distribution = dev.one("aws:cloudfront/distribution:Distribution", "gitops-dev-issuer")
    behaviour = distribution.inputs["defaultCacheBehavior"]
    assert behaviour["viewerProtocolPolicy"] == "https-only"
    assert sorted(behaviour["allowedMethods"]) == ["GET", "HEAD"]
    objects = _objects(dev)
    assert set(objects) == {".well-known/openid-configuration", "keys.json"}
    issuer = dev.stack_outputs["serviceAccountIssuer"]
    assert re.fullmatch(r"https://d[0-9a-f]+\.cloudfront\.net", issuer)
    discovery = json.loads(objects[".well-known/openid-configuration"].inputs["content"])
    assert discovery == oidc_issuer.discovery_document(issuer)
    # The JWKS is made from what the bootstrap read off the control plane (the mock: a real key).
    published = json.loads(objects["keys.json"].inputs["content"])
    assert [k["kid"] for k in published["keys"]] == [oidc_issuer.key_id(FAKE_SERVICE_ACCOUNT_PUBLIC_KEY)]
    keys_command = dev.one("command:local:Command", "gitops-dev-service-account-keys")
    assert objects["keys.json"].dependencies and keys_command.urn in objects["keys.json"].dependencies
    # The bucket is private: every public-access block on, and only the distribution may read, only those keys.
    (block,) = [r for r in dev.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock") if "issuer" in r.name]
    assert all(
        block.inputs[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (policy,) = [r for r in dev.of_type("aws:s3/bucketPolicy:BucketPolicy") if "issuer" in r.name]
    allows = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Allow"]
    (read,) = allows
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert sorted(r.rsplit("/", 2)[-2:][-1] for r in read["Resource"]) == ["keys.json", "openid-configuration"]
    assert read["Condition"]["StringEquals"]["AWS:SourceArn"].startswith("arn:aws:cloudfront::")
    (provider,) = dev.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == issuer and provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]


def test_the_bootstrap_tells_the_api_server_the_issuer(dev):
    playbook = dev.one("command:local:Command", "gitops-dev-playbook")
    inventory = yaml.safe_load(playbook.inputs["environment"]["GC_INVENTORY"].split("---\n", 1)[1])
    assert inventory["all"]["vars"]["cluster_service_account_issuer"] == dev.stack_outputs["serviceAccountIssuer"]


# --- the API server's flags in the rendered kubeadm config ----------------------------------------


@pytest.mark.ansible  # renders the role's template with ansible-playbook
def test_the_rendered_kubeadm_config_signs_as_the_public_issuer_and_keeps_the_old_one(tmp_path):
    from tests.support.apiserver import api_args, render

    issuer = "https://d111111abcdef8.cloudfront.net"
    cluster = render(tmp_path, "1.36.4", extra={"cluster_service_account_issuer": issuer})["cluster"]
    args = cluster["apiServer"]["extraArgs"]
    issuers = [a["value"] for a in args if a["name"] == "service-account-issuer"]
    # The first signs (what AWS verifies); kubeadm's default stays accepted for older tokens.
    assert issuers == [issuer, oidc_issuer.IN_CLUSTER_ISSUER]
    flags = api_args(cluster)
    assert flags["service-account-jwks-uri"] == oidc_issuer.discovery_document(issuer)["jwks_uri"]
    # In-cluster tokens keep their audience, which is not STS's: an AWS token never authenticates here.
    assert flags["api-audiences"] == oidc_issuer.IN_CLUSTER_ISSUER != oidc_issuer.STS_AUDIENCE
    # Without an issuer (a cluster bootstrapped by hand) kubeadm's defaults stay.
    plain = render(tmp_path / "plain", "1.36.4")["cluster"]
    assert not [a for a in plain["apiServer"]["extraArgs"] if a["name"].startswith("service-account")]


# --- trust policies against the ServiceAccounts that render -------------------------------------


def _root_children(dev: Recording, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The child Applications as the root renders them, with the stack's patches applied."""
    require_tool("kubectl", "kubectl (with kustomize) renders the manifests")
    (root,) = dev.of_type("kubernetes:argoproj.io/v1alpha1:Application")
    overlay = write_root_overlay({"spec": root.inputs["spec"]}, ROOT, tmp_path / "root")
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True).stdout
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(out) if d}


def _render_patched_child(app: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    source = app["spec"]["source"]
    if "path" not in source:
        return render_child(app)
    name = app["metadata"]["name"]
    overlay = write_root_overlay(app, ROOT, tmp_path / f"child-{name}")
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def service_accounts(
    objects: Sequence[Mapping[str, Any]], namespace: str | None
) -> dict[tuple[str, str], dict[str, str]]:
    """(namespace, name) -> annotations of every ServiceAccount a child creates, including the one
    CloudNativePG creates for a Cluster (named after it, annotated from serviceAccountTemplate)."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for o in objects:
        ns = o.get("metadata", {}).get("namespace") or namespace or "default"
        if o.get("kind") == "ServiceAccount":
            found[(ns, o["metadata"]["name"])] = dict(o["metadata"].get("annotations") or {})
        elif o.get("kind") == "Cluster" and str(o.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            template = (o["spec"].get("serviceAccountTemplate") or {}).get("metadata") or {}
            found[(ns, o["metadata"]["name"])] = dict(template.get("annotations") or {})
    return found


def trust_problems(policy: Mapping[str, Any], issuer: str, rendered: Mapping[tuple[str, str], Any]) -> list[str]:
    """Why a role's trust policy is not exactly one rendered ServiceAccount's, minted for STS."""
    host = oidc_issuer.issuer_host(issuer)
    problems = []
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        conditions = statement.get("Condition") or {}
        if set(conditions) != {"StringEquals"}:
            problems.append(f"conditions {sorted(conditions)}: only StringEquals (an exact match) is allowed")
        exact = conditions.get("StringEquals") or {}
        sub, aud = exact.get(f"{host}:sub"), exact.get(f"{host}:aud")
        if aud != oidc_issuer.STS_AUDIENCE:
            problems.append(f"aud {aud!r}: must be exactly {oidc_issuer.STS_AUDIENCE}")
        if not isinstance(sub, str) or any(c in sub for c in "*?") or not sub.startswith("system:serviceaccount:"):
            problems.append(f"sub {sub!r}: must name exactly one ServiceAccount")
            continue
        _, _, namespace, name = sub.split(":", 3)
        if (namespace, name) not in rendered:
            problems.append(f"sub {sub!r}: no such ServiceAccount renders in namespace {namespace}")
    return problems


@pytest.fixture(scope="module")
def rendered_service_accounts(dev, tmp_path_factory) -> dict[tuple[str, str], dict[str, str]]:
    tmp = Path(tmp_path_factory.mktemp("identity"))
    children = _root_children(dev, tmp)
    found: dict[tuple[str, str], dict[str, str]] = {}
    for name in {r.application for r in identity.WORKLOAD_ROLES}:
        app = children[name]
        found.update(service_accounts(_render_patched_child(app, tmp), app["spec"]["destination"].get("namespace")))
    return found


def _irsa_roles(dev: Recording) -> list[Any]:
    return [r for r in dev.of_type(ROLE) if "Federated" in r.inputs["assumeRolePolicy"]]


def test_every_trust_policy_names_exactly_a_service_account_that_renders(dev, rendered_service_accounts):
    issuer = dev.stack_outputs["serviceAccountIssuer"]
    roles = _irsa_roles(dev)
    # One role per ServiceAccount that needs AWS (the dev stack has the media bucket).
    assert {r.inputs["name"].removeprefix("gitops-dev-") for r in roles} == {r.key for r in identity.WORKLOAD_ROLES}
    for role in roles:
        policy = json.loads(role.inputs["assumeRolePolicy"])
        assert trust_problems(policy, issuer, rendered_service_accounts) == [], role.name


def test_each_service_account_carries_its_roles_arn_after_the_root_patches(dev, rendered_service_accounts):
    arns = {r.inputs["name"]: f"arn:aws:mock:ap-northeast-2:123456789012:{r.name}" for r in _irsa_roles(dev)}
    for spec in identity.WORKLOAD_ROLES:
        key = (spec.namespace, spec.service_account)
        if spec.application == "aws-ebs-csi-driver":
            continue  # a Helm child: checked on its patched Application below
        assert rendered_service_accounts[key].get(identity.ROLE_ARN_ANNOTATION) == arns[f"gitops-dev-{spec.key}"], key


def test_the_ebs_csi_controller_gets_its_role_region_and_cluster_tag(dev, tmp_path):
    app = _root_children(dev, tmp_path)["aws-ebs-csi-driver"]
    controller = app["spec"]["source"]["helm"]["valuesObject"]["controller"]
    arn = controller["serviceAccount"]["annotations"][identity.ROLE_ARN_ANNOTATION]
    assert arn.endswith(":gitops-dev-ebs-csi-controller")
    assert controller["region"] == "ap-northeast-2"
    assert controller["extraVolumeTags"] == {"cluster": "gitops-dev"} and controller["k8sTagClusterId"] == "gitops-dev"
    objects = render_child(app)
    (sa,) = [o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "ebs-csi-controller-sa"]
    assert (
        sa["metadata"]["namespace"] == "ebs-csi" and sa["metadata"]["annotations"][identity.ROLE_ARN_ANNOTATION] == arn
    )


@pytest.mark.parametrize(
    ("sub", "aud", "operator", "expected"),
    [
        ("system:serviceaccount:*:*", "sts.amazonaws.com", "StringEquals", "must name exactly one"),
        ("system:serviceaccount:data:*", "sts.amazonaws.com", "StringEquals", "must name exactly one"),
        ("system:serviceaccount:default:postgresql", "sts.amazonaws.com", "StringEquals", "no such ServiceAccount"),
        ("system:serviceaccount:data:postgresql", "kubernetes", "StringEquals", "aud"),
        ("system:serviceaccount:data:postgresql", "sts.amazonaws.com", "StringLike", "only StringEquals"),
    ],
)
def test_a_loose_or_misplaced_trust_policy_is_caught(rendered_service_accounts, sub, aud, operator, expected):
    issuer = "https://d1.cloudfront.net"
    host = oidc_issuer.issuer_host(issuer)
    policy = {"Statement": [{"Effect": "Allow", "Condition": {operator: {f"{host}:sub": sub, f"{host}:aud": aud}}}]}
    assert any(expected in p for p in trust_problems(policy, issuer, rendered_service_accounts))


def test_the_component_writes_exact_trust_policies():
    spec = next(r for r in identity.WORKLOAD_ROLES if r.key == "postgresql-backup")
    policy = identity.trust_policy("arn:aws:iam::1:oidc-provider/d1.cloudfront.net", "https://d1.cloudfront.net", spec)
    assert policy["Statement"][0]["Condition"] == {
        "StringEquals": {
            "d1.cloudfront.net:sub": "system:serviceaccount:data:postgresql",
            "d1.cloudfront.net:aud": "sts.amazonaws.com",
        }
    }


# --- permission policies: exactly their prefix or resources ---------------------------------------


def test_each_backup_role_reaches_only_its_prefix(dev):
    policies = {r.name: json.loads(r.inputs["policy"]) for r in dev.of_type("aws:iam/rolePolicy:RolePolicy")}
    for key, prefix in {
        "postgresql-backup": "postgresql/",
        "etcd-backup": "etcd/",
        "rabbitmq-export": "rabbitmq/",
    }.items():
        statements = policies[f"gitops-dev-{key}"]["Statement"]
        objects = next(s for s in statements if s["Sid"] == "ObjectsUnderOwnPrefix")
        assert objects["Resource"].endswith(f"/{prefix}*"), key


def test_the_ebs_role_touches_only_this_clusters_volumes():
    policy = identity.ebs_csi_policy(identity.PolicyTargets("gitops-dev", "arn:aws:s3:::b"))
    for statement in policy["Statement"]:
        if statement["Sid"] == "Describe":
            assert all(a.startswith("ec2:Describe") for a in statement["Action"])
            continue
        if statement["Sid"] == "TagOnCreate":
            assert statement["Condition"]["StringEquals"]["ec2:CreateAction"] == ["CreateVolume", "CreateSnapshot"]
            continue
        (values,) = statement["Condition"].values()
        assert set(values.values()) == {"gitops-dev"}, statement["Sid"]


# --- the webhook: upstream's files, the namespace changed everywhere -----------------------------


@pytest.mark.parametrize(
    "name", ["auth.yaml", "deployment-base.yaml", "mutatingwebhook.yaml", "service.yaml", "LICENSE"]
)
def test_the_webhook_files_are_upstreams_byte_for_byte(name):
    ours = (WEBHOOK_DIR / "upstream" / name).read_bytes()
    readme = (UPSTREAM.parent / "README.md").read_text()
    (digest,) = re.findall(
        rf"`amazon-eks-pod-identity-webhook-v0\.6\.17/{re.escape(name)}` .*? `([0-9a-f]{{64}})`", readme
    )
    assert hashlib.sha256(ours).hexdigest() == digest, f"{name} differs from upstream v0.6.17"


def test_the_webhook_renders_in_its_namespace_with_no_default_left():
    require_tool("kubectl", "kubectl (with kustomize) renders the manifests")
    objects = kustomize(WEBHOOK_DIR)
    text = yaml.safe_dump_all(objects)
    assert "default" not in text.replace("DoesNotExist", "")
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--namespace=pod-identity-webhook" in container["command"]
    assert "--token-audience=sts.amazonaws.com" in container["command"]
    versions = yaml.safe_load((ROOT / "versions.yaml").read_text())
    assert container["image"] == versions["podIdentityWebhookImage"]
    (hook,) = [o for o in objects if o["kind"] == "MutatingWebhookConfiguration"]
    assert hook["webhooks"][0]["clientConfig"]["service"]["namespace"] == "pod-identity-webhook"
    assert (
        hook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "pod-identity-webhook/pod-identity-webhook"
    )
    for binding in (o for o in objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        assert {s["namespace"] for s in binding["subjects"]} == {"pod-identity-webhook"}


def test_the_webhook_comes_before_every_pod_that_needs_aws():
    apps = applications()

    def wave(name: str) -> int:
        return int(apps[name]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])

    assert wave("cert-manager") < wave("pod-identity-webhook")
    for role in identity.WORKLOAD_ROLES:
        assert wave("pod-identity-webhook") < wave(role.application), role.application


def test_without_the_media_bucket_there_are_no_media_roles_and_no_annotation(run_stack):
    off = run_stack({"media": False})
    names = {r.inputs["name"] for r in _irsa_roles(off)}
    assert names == {f"gitops-dev-{r.key}" for r in identity.WORKLOAD_ROLES if not r.needs_media}
    (root,) = off.of_type("kubernetes:argoproj.io/v1alpha1:Application")
    assert "scan-api" not in json.dumps(root.inputs["spec"]["source"]["kustomize"]["patches"])
