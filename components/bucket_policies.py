"""The S3 bucket policies and IAM policy documents the stack's buckets share, as plain JSON.

Pure functions, no resources: the backup bucket (components/backup.py), the media bucket and the
issuer bucket build their policies here, and tests evaluate them with components/iam_policy.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The object operations the bucket policy keeps to the writers and the admin path. Bucket
# configuration (Get/PutBucket*) stays with IAM, so the stack's own deploy and preview roles can
# read and update the bucket's settings.
OBJECT_ACTIONS = [
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:ListBucket*",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
    "s3:RestoreObject",
    "s3:ReplicateObject",
    "s3:BypassGovernanceRetention",
]


def tls_only_policy(bucket_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def admin_principal_patterns(account_id: str, caller_arn: str | None) -> list[str]:
    """The account's admin path, as `aws:PrincipalArn` patterns: the root user, and the principal that
    runs `pulumi up` (an assumed role's session is judged as the role, which may sit under a path)."""
    patterns = [f"arn:aws:iam::{account_id}:root"]
    arn = caller_arn or ""  # unknown under a bare test double
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        patterns += [f"arn:aws:iam::{account_id}:role/{role}", f"arn:aws:iam::{account_id}:role/*/{role}"]
    elif len(parts) == 6 and parts[2] == "iam" and parts[5] != "root":
        patterns.append(arn)
    return patterns


def backup_bucket_policy(bucket_arn: str, admitted: Sequence[str], key_arn: str) -> dict[str, Any]:
    """TLS only; no object operation by any principal whose ARN matches none of `admitted` (the
    writer roles and the admin path), a Deny, so no Allow elsewhere in the account overrides it; and
    no upload that asks for other encryption than the bucket's default (SSE-KMS with `key_arn`)."""
    policy = tls_only_policy(bucket_arn)
    objects = f"{bucket_arn}/*"
    policy["Statement"] += [
        {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "Null": {"s3:x-amz-server-side-encryption": "false"},
                "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
            },
        },
        {
            "Sid": "DenyOtherKmsKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
            },
        },
    ]
    policy["Statement"].append(
        {
            "Sid": "DenyObjectsToAllButWritersAndAdmins",
            "Effect": "Deny",
            "Principal": "*",
            "Action": OBJECT_ACTIONS,
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"StringNotLike": {"aws:PrincipalArn": list(admitted)}},
        }
    )
    return policy


def cloudfront_read_policy(
    bucket_arn: str, distribution_arn: str, sid: str, resource: str | list[str]
) -> dict[str, Any]:
    """TLS only, and s3:GetObject on `resource` for one CloudFront distribution (origin access
    control: the service principal, limited to that distribution by AWS:SourceArn)."""
    policy = tls_only_policy(bucket_arn)
    policy["Statement"].append(
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": resource,
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
        }
    )
    return policy


def writer_policy(bucket_arn: str, prefix: str, key_arn: str) -> dict[str, Any]:
    """What the backup clients call (components/backup_s3_calls.yaml, tests/unit/test_backup_iam.py):
    objects only under `prefix`; s3:ListBucket on the bucket without a prefix condition.

    Why ListBucket is not limited to the prefix: barman checks the bucket with HeadBucket before
    every WAL archive and backup and treats anything but 404 as fatal; S3 authorizes HeadBucket by
    s3:ListBucket, and the request carries no s3:prefix, so a prefix condition refuses it (403).
    IAM cannot tell HeadBucket from a listing without a prefix, so a writer may list the names and
    sizes of the whole bucket; reading, writing and deleting stay within its prefix.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "FindTheBucketAndListIt",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
            },
            {
                "Sid": "ObjectsUnderOwnPrefix",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": f"{bucket_arn}/{prefix}*",
            },
            {
                # SSE-KMS: S3 asks KMS for a data key on a write and to decrypt it on a read, on the
                # caller's behalf (the bucket key makes that rare). Only through S3.
                "Sid": "TheBucketsKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key_arn,
                "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
            },
        ],
    }
