"""The backup bucket: where PostgreSQL base backups + WAL and RabbitMQ definitions leave the cluster.

Why here and not in the cluster: a backup that lives on the cluster's own disks is lost with the
cluster. The bucket sits beside the network in the graph and nothing in it depends on a node.

Credentials (docs/deployment.md, "Backups"): each backup writer is a pod whose ServiceAccount
assumes its own IAM role with a projected token (IRSA, components/identity.py), limited to its
prefix of this bucket by `writer_policy`. No node role can touch the bucket, and every node keeps
IMDS hop limit 1. Versioning keeps deleted objects for `NONCURRENT_DAYS`.

Defence in depth (issue 21): the objects are encrypted with the stack's own KMS key (rotated
yearly); the bucket policy denies every object operation to any principal but the three writer
roles and the account's admin path (its root user and the principal that runs `pulumi up`), so an
IAM policy elsewhere in the account that grants `s3:*` does not reach the backups; and Object Lock
in governance mode keeps every object version `LOCK_DAYS` days. barman, the etcd snapshot job and
the RabbitMQ export delete objects by key only (a delete marker), which Object Lock allows; the
lock stops anyone, a writer included, from removing a version for good before it ends
(docs/deployment.md, "Backups").

How the bucket name reaches Git-managed manifests (the manifests are static, the name is not):
the program passes `root_patches` to the root Application, which ArgoCD applies to the children
it renders — the same mechanism that sets every child's repoURL and revision (components/gitops.py).
The children in Git hold a placeholder (`PLACEHOLDER_BUCKET`), so they render and validate alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from components.bucket_policies import (
    admin_principal_patterns,
    backup_bucket_policy,
)

TYPE_TOKEN = "gitops-cluster:backup:BackupBucket"  # noqa: S105 (a Pulumi type token)

# What the children in Git carry until the root's patches replace it (never a real bucket:
# names with "placeholder" cannot be created by this stack's naming, so a child synced without
# the root fails loudly with NoSuchBucket instead of writing somewhere else).
PLACEHOLDER_BUCKET = "gitops-cluster-backups-placeholder"

# Old versions of objects (overwritten or deleted, e.g. by a backup retention run or by someone
# with the node's role) stay recoverable this long.
NONCURRENT_DAYS = 30
# Prefixes whose age-based expiry the bucket enforces. postgresql/ is not among them: barman's
# retention policy (the ObjectStore's `retentionPolicy`) deletes base backups together with the WAL
# they need; an age rule here could break a chain.
EXPIRE_DAYS = {"rabbitmq/": 30, "etcd/": 14}
INCOMPLETE_UPLOAD_DAYS = 2
# Object Lock (governance mode): every object version written is kept at least this long. Shorter
# than NONCURRENT_DAYS, so the lifecycle's expiry of old versions (which S3 defers while a version
# is locked) still runs on time; barman's retention policy and the prefixes' expiry delete by key
# (a delete marker, allowed under a lock), so neither is blocked. Bucket-wide: every object of this
# bucket is under a backup prefix (postgresql/, etcd/, rabbitmq/).
LOCK_DAYS = 14


@dataclass(frozen=True)
class BackupBucketArgs:
    cluster_name: str
    region: str
    # The IAM role names of the backup writers (components/identity.py, backup_writer_role_names):
    # known before the roles exist, so the bucket policy needs no dependency on them.
    writer_role_names: Sequence[str] = ()


class BackupBucket(pulumi.ComponentResource):
    """The stack's backup bucket.

    Creates: an S3 bucket (name prefixed with the cluster name, kept on `pulumi destroy` with all
    its settings and its key, so the backups outlive the stack and stay readable),
    bucket-owner-enforced ownership (no ACLs), versioning, default SSE-KMS encryption with the
    stack's customer-managed KMS key (rotation on) and an S3 bucket key, all four public-access
    blocks, a policy that denies any request not over TLS and any object operation by a principal
    other than the writer roles and the admin path, Object Lock (governance, `LOCK_DAYS`), and a
    lifecycle that expires noncurrent versions, aborted uploads and old objects under the prefixes
    nobody else prunes. The writers' roles are in components/identity.py.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: BackupBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        bucket = aws.s3.Bucket(
            f"{name}-backups",
            bucket_prefix=f"{args.cluster_name}-backups-",
            force_destroy=False,
            # Backups are what survives the cluster: `pulumi destroy` forgets the bucket instead of
            # deleting it (docs/deployment.md, "Destroy"). Deleting it is a deliberate `aws s3 rb`.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        # Kept with the bucket: without it the kept backups could not be read. Deleting it is a
        # deliberate `aws kms schedule-key-deletion` (30 days' notice), after the bucket is gone.
        key = aws.kms.Key(
            f"{name}-backups",
            description=f"{args.cluster_name}: encrypts the backup bucket's objects",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=kept,
        )
        self.key_arn = key.arn
        # The settings stay with the kept bucket: deleting them would leave it unencrypted by
        # choice, public-policy-able and with versioning suspended.
        self._create_bucket_settings(name, bucket, key, args, kept)
        self._region = args.region
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn, "key_arn": self.key_arn})

    def root_patches(
        self, extra: pulumi.Input[Mapping[str, Sequence[Mapping[str, Any]]]] | None = None
    ) -> pulumi.Output[list[dict[str, Any]]]:
        """The root Application's patches for the bucket, with `extra` patches per child merged in."""
        return pulumi.Output.all(self.bucket_name, extra or {}).apply(
            lambda v: _patches_or_warn(v[0], self._region, v[1])
        )

    def _create_bucket_settings(
        self,
        name: str,
        bucket: aws.s3.Bucket,
        key: aws.kms.Key,
        args: BackupBucketArgs,
        child: pulumi.ResourceOptions,
    ) -> None:
        """Ownership, public-access block, versioning, encryption, policy, Object Lock, lifecycle."""
        block, versioning = private_bucket_basics(f"{name}-backups", bucket, child, versioned=True, kms_key=key)
        assert versioning is not None  # versioned=True
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        admitted = pulumi.Output.all(caller.account_id, caller.arn).apply(
            lambda v: [
                *(f"arn:aws:iam::{v[0]}:role/{role}" for role in args.writer_role_names),
                *admin_principal_patterns(v[0], v[1]),
            ]
        )
        aws.s3.BucketPolicy(
            f"{name}-backups-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, admitted, key.arn).apply(
                lambda v: json.dumps(backup_bucket_policy(v[0], v[1], v[2]))
            ),
            # The public-access block first: a policy put before it could be judged public. The
            # alias keeps the TLS-only policy this replaces (one bucket policy per bucket).
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(depends_on=[block], aliases=[pulumi.Alias(name=f"{name}-backups-tls-only")]),
            ),
        )
        # Object Lock needs versioning first; on an existing bucket S3 turns it on in place
        # (PutObjectLockConfiguration with ObjectLockEnabled, AWS S3 User Guide "Enable Object Lock
        # on an existing S3 bucket"). Once on, it cannot be turned off.
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-backups-object-lock",
            bucket=bucket.id,
            object_lock_enabled="Enabled",
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode="GOVERNANCE", days=LOCK_DAYS
                )
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[versioning])),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-backups-lifecycle",
            bucket=bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(**rule) for rule in lifecycle_rules()],
            opts=child,
        )


def private_bucket_basics(
    prefix: str,
    bucket: aws.s3.Bucket,
    opts: pulumi.ResourceOptions,
    *,
    versioned: bool,
    kms_key: aws.kms.Key | None = None,
) -> tuple[aws.s3.BucketPublicAccessBlock, aws.s3.BucketVersioning | None]:
    """What every bucket of this stack has (backups, media, the issuer): owner-enforced ownership
    (no ACLs), all four public-access blocks, default encryption with a bucket key (SSE-KMS with
    `kms_key`, else SSE-S3, AES256), and versioning where asked; `<prefix>-ownership`,
    `-public-access`, `-encryption`, `-versioning`. Returns the public-access block, which a bucket
    policy must wait for (one put before it could be judged public), and the versioning resource."""
    aws.s3.BucketOwnershipControls(
        f"{prefix}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )
    block = aws.s3.BucketPublicAccessBlock(
        f"{prefix}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    versioning = None
    if versioned:
        versioning = aws.s3.BucketVersioning(
            f"{prefix}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=opts,
        )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{prefix}-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms" if kms_key is not None else "AES256",
                    kms_master_key_id=kms_key.arn if kms_key is not None else None,
                ),
                bucket_key_enabled=True,
            )
        ],
        opts=opts,
    )
    return block, versioning


# --- pure functions (tested without the runtime) -------------------------------------------------


def _patches_or_warn(
    bucket: str | None, region: str, extra: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    if not bucket:
        # Only a test double answers without a name; AWS always returns one.
        pulumi.log.warn("the backup bucket has no name; the children keep their placeholder bucket")
        return []
    return backup_root_patches(bucket, region, extra)


def s3_origin_access_control(
    name: str, description: str, opts: pulumi.ResourceOptions
) -> aws.cloudfront.OriginAccessControl:
    """CloudFront's origin access control for a private S3 origin: every request signed (SigV4)."""
    return aws.cloudfront.OriginAccessControl(
        name,
        description=description,
        origin_access_control_origin_type="s3",
        signing_behavior="always",
        signing_protocol="sigv4",
        opts=opts,
    )


def abort_uploads(days: int) -> aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs:
    return aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(days_after_initiation=days)


def lifecycle_rules() -> list[dict[str, Any]]:
    """Keyword arguments of each lifecycle rule (plain data, so tests read them directly)."""
    rules: list[dict[str, Any]] = [
        {
            "id": "noncurrent-versions",
            "status": "Enabled",
            "filter": aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            "noncurrent_version_expiration": aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=NONCURRENT_DAYS
            ),
            "abort_incomplete_multipart_upload": abort_uploads(INCOMPLETE_UPLOAD_DAYS),
        }
    ]
    for prefix, days in EXPIRE_DAYS.items():
        rules.append(
            {
                "id": f"expire-{prefix.rstrip('/')}",
                "status": "Enabled",
                "filter": aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=prefix),
                "expiration": aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
            }
        )
    return rules


# The children whose manifests name the bucket, and how to point them at the real one.
def object_store_destination(bucket: str) -> str:
    return f"s3://{bucket}/postgresql"


def backup_root_patches(
    bucket: str, region: str, extra: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """Kustomize patches for the root Application: point the backup-writing children at `bucket`.

    Each patch sets the child Application's own `spec.source.kustomize.patches`, which ArgoCD
    then applies when it renders that child: the ObjectStore's destinationPath (postgresql) and
    the bucket of the RabbitMQ definitions export (rabbitmq). `add` replaces a value that is there.
    `extra` adds more patches per child (the ServiceAccounts' role ARNs, components/identity.py); its
    entry under "" holds patches of the root's own objects (the child Applications themselves).
    """
    if not bucket or "/" in bucket:
        raise ValueError(f"bucket name {bucket!r} is not a bucket name")
    children = {
        "postgresql": [
            {
                "target": {"group": "barmancloud.cnpg.io", "kind": "ObjectStore", "name": "backups"},
                "patch": yaml.safe_dump(
                    [
                        {
                            "op": "replace",
                            "path": "/spec/configuration/destinationPath",
                            "value": object_store_destination(bucket),
                        },
                        {"op": "replace", "path": "/spec/instanceSidecarConfiguration/env/0/value", "value": region},
                    ]
                ),
            }
        ],
        "etcd-backup": [
            {
                "target": {"kind": "ConfigMap", "name": "etcd-backup-target"},
                "patch": yaml.safe_dump(
                    [
                        {"op": "replace", "path": "/data/BUCKET", "value": bucket},
                        {"op": "replace", "path": "/data/AWS_REGION", "value": region},
                    ]
                ),
            }
        ],
        "rabbitmq": [
            {
                "target": {"kind": "ConfigMap", "name": "backup-target"},
                "patch": yaml.safe_dump(
                    [
                        {"op": "replace", "path": "/data/BUCKET", "value": bucket},
                        {"op": "replace", "path": "/data/AWS_REGION", "value": region},
                    ]
                ),
            }
        ],
    }
    extra = extra or {}
    for child, patches in extra.items():
        if child:
            children[child] = [*children.get(child, []), *(dict(p) for p in patches)]
    own = [
        {
            "target": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application", "name": child},
            "patch": yaml.safe_dump(
                [{"op": "add", "path": "/spec/source/kustomize", "value": {"patches": patches}}], sort_keys=False
            ),
        }
        for child, patches in children.items()
    ]
    # Patches of the child Applications themselves (a Helm child's values), applied by the root.
    return own + [
        {**p, "target": {"group": "argoproj.io", "version": "v1alpha1", **p["target"]}} for p in extra.get("", [])
    ]


# The prefix of each datastore's backups, by the `workload` label of the node it runs on.
WRITER_PREFIXES: Mapping[str, str] = {"database": "postgresql/", "message-queue": "rabbitmq/"}


ETCD_PREFIX = "etcd/"
