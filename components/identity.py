"""Workload identity (IRSA) on this self-managed cluster: pods get their own AWS role, nodes lend none.

How it works (the way kOps does it for self-managed clusters on AWS):

1. The cluster's service-account issuer is published where AWS IAM can read it: a private S3
   bucket served only through a CloudFront distribution (origin access control; the bucket policy
   lets that one distribution read exactly the discovery document and the JWKS). The issuer URL is
   `https://<distribution domain>`: stable for the life of the distribution, which nothing in an
   ordinary `pulumi up` replaces (docs/deployment.md, "Service-account issuer").
2. kube-apiserver signs projected service-account tokens as that issuer (`--service-account-issuer`,
   set in the kubeadm config by the bootstrap; `--service-account-jwks-uri` names the published JWKS).
3. The JWKS is derived from the cluster's own signing key: the bootstrap reads the public half
   (/etc/kubernetes/pki/sa.pub, plus any retired keys during a rotation) and this component
   uploads the JWKS made from it (`publish_keys`), so the object changes whenever the key does.
4. An IAM OIDC provider trusts the issuer for the audience `sts.amazonaws.com`.
5. One IAM role per ServiceAccount that needs AWS (WORKLOAD_ROLES): its trust policy names the exact
   `sub` (system:serviceaccount:<namespace>:<name>) and `aud`; its permission policy only its prefix
   or resources. The ServiceAccount carries the role's ARN in `eks.amazonaws.com/role-arn`, set by the
   root Application's patches (`role_root_patches`; Git holds a placeholder ARN).
6. The pod identity webhook (manifests/infrastructure/pod-identity-webhook, upstream's install)
   mutates each pod of an annotated ServiceAccount: a projected token for `sts.amazonaws.com` and
   AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE in every container. Chosen over writing the projected
   volume into each pod spec because two of the pods are not ours to write: the Barman Cloud sidecar
   is injected into the PostgreSQL pod by the CloudNativePG operator, and the EBS CSI controller
   comes from its chart; the webhook covers every container of every such pod the same way.

Nothing here touches a node: the nodes' own role (components/nodes.py) keeps no S3 or EBS rights.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from components import oidc_issuer
from components.backup import ETCD_PREFIX, WRITER_PREFIXES, private_bucket_basics, s3_origin_access_control
from components.bucket_policies import cloudfront_read_policy, writer_policy
from components.media import media_reader_policy

TYPE_TOKEN = "gitops-cluster:identity:WorkloadIdentity"  # noqa: S105 (a Pulumi type token)
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
# What Git carries until the root's patches replace it: an account that cannot exist (AWS account
# ids never start with 0000...), so a child synced without the root gets no credentials at all.
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/placeholder"
# AWS's managed "CachingDisabled" cache policy: a rotated JWKS is served at once.
CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


@dataclass(frozen=True)
class PolicyTargets:
    """The ARNs the permission policies are written against."""

    cluster_name: str
    backup_bucket_arn: str
    media_bucket_arn: str | None = None
    backup_key_arn: str = ""


@dataclass(frozen=True)
class WorkloadRole:
    """One ServiceAccount that assumes its own IAM role.

    `application` is the child Application that renders the ServiceAccount (or, for `postgresql`,
    the CloudNativePG Cluster whose operator creates it); `patch_target` is the object in that child
    whose role-arn annotation the root patches, and `patch_path` the JSON pointer to the annotation.
    """

    key: str
    namespace: str
    service_account: str
    application: str
    patch_target: Mapping[str, str]
    patch_path: str
    policy: Callable[[PolicyTargets], dict[str, Any]]
    needs_media: bool = False

    @property
    def subject(self) -> str:
        return oidc_issuer.service_account_subject(self.namespace, self.service_account)


_ANNOTATION = "/metadata/annotations/" + ROLE_ARN_ANNOTATION.replace("/", "~1")


def ebs_csi_policy(t: PolicyTargets) -> dict[str, Any]:
    """The EBS CSI controller's rights, from upstream's docs/example-iam-policy.json
    (kubernetes-sigs/aws-ebs-csi-driver, the policy AmazonEBSCSIDriverPolicy mirrors), narrowed to
    this cluster: volumes and snapshots it creates must carry `cluster=<name>` (the StorageClass
    and VolumeSnapshotClass tag them so), and it may attach, change or delete only volumes and
    snapshots with that tag, on instances with that tag (every node carries it). The Describe calls
    have no resource-level permissions in EC2, so they are on `*`.
    """
    tag = {"aws:ResourceTag/cluster": t.cluster_name}
    request_tag = {"aws:RequestTag/cluster": t.cluster_name}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Describe",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeInstances",
                    "ec2:DescribeSnapshots",
                    "ec2:DescribeTags",
                    "ec2:DescribeVolumes",
                    "ec2:DescribeVolumesModifications",
                ],
                "Resource": "*",
            },
            {
                "Sid": "CreateTaggedVolumesAndSnapshots",
                "Effect": "Allow",
                "Action": ["ec2:CreateVolume", "ec2:CreateSnapshot"],
                "Resource": ["arn:aws:ec2:*:*:volume/*", "arn:aws:ec2:*:*:snapshot/*"],
                "Condition": {"StringEquals": request_tag},
            },
            {
                "Sid": "CreateFromOwnSnapshotsOrVolumes",
                "Effect": "Allow",
                "Action": ["ec2:CreateVolume", "ec2:CreateSnapshot"],
                "Resource": ["arn:aws:ec2:*:*:snapshot/*", "arn:aws:ec2:*:*:volume/*"],
                "Condition": {"StringEquals": tag},
            },
            {
                "Sid": "TagOnCreate",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": ["arn:aws:ec2:*:*:volume/*", "arn:aws:ec2:*:*:snapshot/*"],
                "Condition": {"StringEquals": {"ec2:CreateAction": ["CreateVolume", "CreateSnapshot"]}},
            },
            {
                "Sid": "OwnVolumesOnOwnNodes",
                "Effect": "Allow",
                "Action": ["ec2:AttachVolume", "ec2:DetachVolume"],
                "Resource": ["arn:aws:ec2:*:*:volume/*", "arn:aws:ec2:*:*:instance/*"],
                "Condition": {"StringEquals": tag},
            },
            {
                "Sid": "ChangeOwnVolumesAndSnapshots",
                "Effect": "Allow",
                "Action": [
                    "ec2:ModifyVolume",
                    "ec2:DeleteVolume",
                    "ec2:DeleteSnapshot",
                    "ec2:CreateTags",
                    "ec2:DeleteTags",
                ],
                "Resource": ["arn:aws:ec2:*:*:volume/*", "arn:aws:ec2:*:*:snapshot/*"],
                "Condition": {"StringEquals": tag},
            },
        ],
    }


def _prefix(prefix: str) -> Callable[[PolicyTargets], dict[str, Any]]:
    def policy(t: PolicyTargets) -> dict[str, Any]:
        if not t.backup_key_arn:
            raise ValueError("the backup writers need the backup bucket's KMS key")
        return writer_policy(t.backup_bucket_arn, prefix, t.backup_key_arn)

    return policy


def media_read_policy(t: PolicyTargets) -> dict[str, Any]:
    """`scan` and `chat` sign the front end's uploads and read the images: Get and Put on the
    media bucket's objects only (components/media.py, media_reader_policy)."""
    if t.media_bucket_arn is None:
        raise ValueError("the media roles need the media bucket")
    return media_reader_policy(t.media_bucket_arn)


# Every ServiceAccount that needs AWS. tests/unit/test_identity.py renders each child and checks that
# the ServiceAccount exists where its role trusts it, and evaluates every trust policy.
WORKLOAD_ROLES: tuple[WorkloadRole, ...] = (
    WorkloadRole(
        key="ebs-csi-controller",
        namespace="ebs-csi",
        service_account="ebs-csi-controller-sa",
        application="aws-ebs-csi-driver",
        patch_target={"kind": "Application", "name": "aws-ebs-csi-driver"},
        patch_path="/spec/source/helm/valuesObject/controller/serviceAccount/annotations/"
        + ROLE_ARN_ANNOTATION.replace("/", "~1"),
        policy=ebs_csi_policy,
    ),
    WorkloadRole(
        key="postgresql-backup",
        namespace="data",
        service_account="postgresql",
        application="postgresql",
        patch_target={"group": "postgresql.cnpg.io", "kind": "Cluster", "name": "postgresql"},
        patch_path="/spec/serviceAccountTemplate" + _ANNOTATION,
        policy=_prefix(WRITER_PREFIXES["database"]),
    ),
    WorkloadRole(
        key="etcd-backup",
        namespace="kube-system",
        service_account="etcd-backup",
        application="etcd-backup",
        patch_target={"kind": "ServiceAccount", "name": "etcd-backup"},
        patch_path=_ANNOTATION,
        policy=_prefix(ETCD_PREFIX),
    ),
    WorkloadRole(
        key="rabbitmq-export",
        namespace="messaging",
        service_account="rabbitmq-definitions-export",
        application="rabbitmq",
        patch_target={"kind": "ServiceAccount", "name": "rabbitmq-definitions-export"},
        patch_path=_ANNOTATION,
        policy=_prefix(WRITER_PREFIXES["message-queue"]),
    ),
    WorkloadRole(
        key="scan-media",
        namespace="scan",
        service_account="scan-api",
        application="api-services",
        patch_target={"kind": "ServiceAccount", "name": "scan-api", "namespace": "scan"},
        patch_path=_ANNOTATION,
        policy=media_read_policy,
        needs_media=True,
    ),
    WorkloadRole(
        key="chat-media",
        namespace="chat",
        service_account="chat-api",
        application="api-services",
        patch_target={"kind": "ServiceAccount", "name": "chat-api", "namespace": "chat"},
        patch_path=_ANNOTATION,
        policy=media_read_policy,
        needs_media=True,
    ),
)


def trust_policy(provider_arn: str, issuer: str, role: WorkloadRole) -> dict[str, Any]:
    """Only tokens of exactly this ServiceAccount, minted for STS, may assume the role."""
    host = oidc_issuer.issuer_host(issuer)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{host}:sub": role.subject, f"{host}:aud": oidc_issuer.STS_AUDIENCE}},
            }
        ],
    }


def issuer_bucket_policy(bucket_arn: str, distribution_arn: str) -> dict[str, Any]:
    """The distribution, and nothing else, reads the two documents; nothing else is readable."""
    documents = [f"{bucket_arn}/{oidc_issuer.DISCOVERY_PATH}", f"{bucket_arn}/{oidc_issuer.JWKS_PATH}"]
    return cloudfront_read_policy(bucket_arn, distribution_arn, "CloudFrontReadsTheIssuerDocuments", documents)


def role_name(cluster_name: str, role: WorkloadRole) -> str:
    name = f"{cluster_name}-{role.key}"
    if len(name) > 64:
        raise ValueError(f"IAM role name {name!r} is longer than 64 characters; shorten clusterName")
    return name


# The roles that write the backup bucket (its policy admits them by name).
BACKUP_WRITERS = ("postgresql-backup", "etcd-backup", "rabbitmq-export")


def backup_writer_role_names(cluster_name: str) -> list[str]:
    return [role_name(cluster_name, r) for r in WORKLOAD_ROLES if r.key in BACKUP_WRITERS]


def role_root_patches(
    role_arns: Mapping[str, str], roles: Sequence[WorkloadRole] = WORKLOAD_ROLES
) -> dict[str, list[dict[str, Any]]]:
    """Per child Application, the kustomize patches that put each role's ARN on its ServiceAccount.

    Helm-sourced children (the EBS CSI driver) are patched on the Application itself: their entry
    is under the key "" with the child Application as the target.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for role in roles:
        if role.key not in role_arns:
            continue
        patch = yaml.safe_dump([{"op": "add", "path": role.patch_path, "value": role_arns[role.key]}])
        child = "" if role.patch_target.get("kind") == "Application" else role.application
        out.setdefault(child, []).append({"target": dict(role.patch_target), "patch": patch})
    return out


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    cluster_name: str
    backup_bucket_arn: pulumi.Input[str]
    media_bucket_arn: pulumi.Input[str] | None = None
    backup_key_arn: pulumi.Input[str] = ""


class WorkloadIdentity(pulumi.ComponentResource):
    """The published issuer, the IAM OIDC provider and one role per ServiceAccount that needs AWS.

    Creates: the issuer bucket (private: owner-enforced, all public-access blocks, SSE-S3, TLS only),
    a CloudFront origin access control and distribution (HTTPS only, GET/HEAD, no caching), the
    bucket policy that lets only that distribution read the two documents, the discovery document,
    the IAM OIDC provider (audience sts.amazonaws.com), and per WORKLOAD_ROLES entry an IAM role
    (trust: exact sub + aud) with its inline permission policy. `publish_keys` adds the JWKS object.
    """

    issuer_url: pulumi.Output[str]
    provider_arn: pulumi.Output[str]
    role_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-issuer", bucket_prefix=f"{args.cluster_name}-oidc-", force_destroy=True, opts=child
        )
        self._bucket = bucket
        # Two small documents, rewritten from the cluster's key: no versioning needed.
        block, _ = private_bucket_basics(f"{name}-issuer", bucket, child, versioned=False)
        oac = s3_origin_access_control(f"{name}-issuer", f"{args.cluster_name} service-account issuer", child)
        origin_id = "issuer-bucket"
        distribution = aws.cloudfront.Distribution(
            f"{name}-issuer",
            comment=f"{args.cluster_name} service-account issuer (IRSA)",
            enabled=True,
            is_ipv6_enabled=True,
            price_class="PriceClass_100",
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    domain_name=bucket.bucket_regional_domain_name,
                    origin_id=origin_id,
                    origin_access_control_id=oac.id,
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=origin_id,
                viewer_protocol_policy="https-only",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_DISABLED_POLICY_ID,
                compress=True,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-issuer-read",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, distribution.arn).apply(
                lambda v: json.dumps(issuer_bucket_policy(v[0], v[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        self.issuer_url = distribution.domain_name.apply(lambda d: f"https://{d}")
        aws.s3.BucketObjectv2(
            f"{name}-issuer-discovery",
            bucket=bucket.id,
            key=oidc_issuer.DISCOVERY_PATH,
            content=self.issuer_url.apply(lambda u: json.dumps(oidc_issuer.discovery_document(u), indent=2)),
            content_type="application/json",
            opts=child,
        )
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-issuer",
            url=self.issuer_url,
            client_id_lists=[oidc_issuer.STS_AUDIENCE],
            opts=child,
        )
        self.provider_arn = provider.arn
        self.role_arns = {}
        for role in WORKLOAD_ROLES:
            if role.needs_media and args.media_bucket_arn is None:
                continue
            self.role_arns[role.key] = self._create_role(name, args, role, provider.arn)
        self.register_outputs(
            {"issuer_url": self.issuer_url, "provider_arn": self.provider_arn, "role_arns": self.role_arns}
        )

    def _create_role(
        self, name: str, args: WorkloadIdentityArgs, role: WorkloadRole, provider_arn: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        iam_role = aws.iam.Role(
            f"{name}-{role.key}",
            name=role_name(args.cluster_name, role),
            description=f"IRSA: {role.subject}",
            assume_role_policy=pulumi.Output.all(provider_arn, self.issuer_url).apply(
                lambda v: json.dumps(trust_policy(v[0], v[1], role))
            ),
            max_session_duration=3600,
            opts=child,
        )
        targets = pulumi.Output.all(args.backup_bucket_arn, args.media_bucket_arn, args.backup_key_arn).apply(
            lambda v: PolicyTargets(args.cluster_name, v[0], v[1], v[2])
        )
        aws.iam.RolePolicy(
            f"{name}-{role.key}",
            role=iam_role.id,
            policy=targets.apply(lambda t: json.dumps(role.policy(t))),
            opts=child,
        )
        return iam_role.arn

    def publish_keys(self, name: str, public_keys: pulumi.Input[str]) -> aws.s3.BucketObjectv2:
        """The JWKS object, from the public keys the bootstrap read off the control plane."""
        return aws.s3.BucketObjectv2(
            f"{name}-issuer-jwks",
            bucket=self._bucket.id,
            key=oidc_issuer.JWKS_PATH,
            content=pulumi.Output.from_input(public_keys).apply(_jwks_or_placeholder),
            content_type="application/json",
            opts=pulumi.ResourceOptions(parent=self),
        )


def _jwks_or_placeholder(text: str) -> str:
    blocks = oidc_issuer.public_key_blocks(text or "")
    if not blocks:
        # Only the mock runtime runs no command; the bootstrap script itself fails on an empty read.
        pulumi.log.warn("the bootstrap returned no service-account public key; the JWKS is left empty")
        return json.dumps({"keys": []})
    return json.dumps(oidc_issuer.jwks(blocks), indent=2)
