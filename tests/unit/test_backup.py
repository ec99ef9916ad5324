"""The backup bucket under the mock runtime (components/backup.py), read like a review of `pulumi preview`."""

from __future__ import annotations

import json

from components import backup, bucket_policies, identity
from components.iam_policy import Request, evaluate, load_calls

BUCKET = "aws:s3/bucket:Bucket"


def _one(dev, type_):
    (found,) = [r for r in dev.of_type(type_) if r.name.startswith("gitops-dev-backups")]
    return found


def test_the_stack_creates_one_backup_bucket_named_after_the_cluster(dev):
    (bucket,) = [b for b in dev.of_type(BUCKET) if b.name == "gitops-dev-backups"]
    assert bucket.inputs["bucketPrefix"] == "gitops-dev-backups-"
    assert bucket.inputs.get("forceDestroy") is False
    # A plain output (CI reads it), never a secret.
    assert dev.stack_outputs["backupBucket"] == "gitops-dev-backups-20261130mock"
    assert not any(path.startswith("backupBucket") for path in dev.stack_output_secret_paths)


def test_the_bucket_and_its_settings_outlive_a_destroy(dev):
    backups = [r for r in dev.resources if r.type.startswith("aws:s3/") and r.name.startswith("gitops-dev-backups")]
    kept = [r for r in backups if r.retain_on_delete]
    assert {r.type.split(":")[-1] for r in kept} == {
        "Bucket",
        "BucketOwnershipControls",
        "BucketPublicAccessBlock",
        "BucketVersioning",
        "BucketServerSideEncryptionConfiguration",
        "BucketPolicy",
        "BucketObjectLockConfiguration",
        "BucketLifecycleConfiguration",
    }
    assert len(kept) == len(backups)
    # And the key: without it the kept objects could not be read.
    assert _one(dev, "aws:kms/key:Key").retain_on_delete


def test_bucket_is_versioned_encrypted_private_and_tls_only(dev):
    versioning = _one(dev, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    encryption = _one(dev, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    (rule,) = encryption.inputs["rules"]
    key = _one(dev, "aws:kms/key:Key")
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": f"arn:aws:mock:ap-northeast-2:123456789012:{key.name}",
    }
    assert rule["bucketKeyEnabled"] is True
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    block = _one(dev, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block.inputs[key] is True, key
    ownership = _one(dev, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    policy = json.loads(_one(dev, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert block.urn in _one(dev, "aws:s3/bucketPolicy:BucketPolicy").dependencies


# --- the bucket policy: only the writers and the admin path reach the objects ------------------

ACCOUNT = "123456789012"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/someone-with-s3-star"


def _policy(dev) -> dict:
    return json.loads(_one(dev, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])


def _writer_roles(dev) -> dict[str, str]:
    """IRSA role key -> its ARN as aws:PrincipalArn carries it (the role's name, no path)."""
    roles = {r.name.removeprefix("gitops-dev-"): r for r in dev.of_type("aws:iam/role:Role")}
    return {key: f"arn:aws:iam::{ACCOUNT}:role/{roles[key].inputs['name']}" for key in identity.BACKUP_WRITERS}


def test_the_policy_keeps_the_tls_only_policy_identity(dev):
    policy = _one(dev, "aws:s3/bucketPolicy:BucketPolicy")
    assert policy.name == "gitops-dev-backups-policy"
    # Aliased to the TLS-only policy it replaces: updated in place, never two policies for one bucket.
    assert [a["spec"]["name"] for a in policy.aliases] == ["gitops-dev-backups-tls-only"]


def test_each_writer_role_may_do_its_calls_and_any_other_principal_is_denied(dev):
    bucket_policy = _policy(dev)
    bucket_arn = bucket_policy["Statement"][0]["Resource"][0]
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/k"
    prefixes = {"postgresql-backup": "postgresql/", "etcd-backup": "etcd/", "rabbitmq-export": "rabbitmq/"}
    calls = load_calls(bucket_arn)
    assert calls
    for role_key, arn in _writer_roles(dev).items():
        writer = bucket_policies.writer_policy(bucket_arn, prefixes[role_key], key)
        mine = [c for c in calls if c.request.resource in (bucket_arn,) or prefixes[role_key] in c.request.resource]
        for call in mine:
            request = Request(
                call.request.action, call.request.resource, {**call.request.context, "aws:PrincipalArn": arn}
            )
            assert evaluate([writer, bucket_policy], request) == "Allow", (role_key, call.api)
    star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    for call in calls:
        request = Request(
            call.request.action, call.request.resource, {**call.request.context, "aws:PrincipalArn": OTHER_ROLE}
        )
        assert evaluate([star, bucket_policy], request) == "Deny", call.api
    # A request without a principal (anonymous) is denied too.
    anonymous = Request("s3:GetObject", f"{bucket_arn}/postgresql/x", {"aws:SecureTransport": "true"})
    assert evaluate([star, bucket_policy], anonymous) == "Deny"


def test_the_admin_path_and_the_deployer_keep_the_objects_and_everyone_keeps_the_configuration(dev):
    policy = _policy(dev)
    bucket_arn = policy["Statement"][0]["Resource"][0]
    star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    tls = {"aws:SecureTransport": "true"}
    # The mock's caller is arn:aws:iam::123456789012:user/mock (tools/mockrun.py).
    for principal in (f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:user/mock"):
        request = Request("s3:GetObject", f"{bucket_arn}/postgresql/base", {**tls, "aws:PrincipalArn": principal})
        assert evaluate([star, policy], request) == "Allow", principal
    # Bucket configuration stays with IAM: the preview role's refresh and the deploy role's updates.
    for action in ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:GetLifecycleConfiguration"):
        request = Request(action, bucket_arn, {**tls, "aws:PrincipalArn": OTHER_ROLE})
        assert evaluate([star, policy], request) == "Allow", action


def test_an_assumed_role_deployer_is_admitted_as_its_role_under_any_path():
    patterns = bucket_policies.admin_principal_patterns(
        ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_1/me"
    )
    assert patterns == [
        f"arn:aws:iam::{ACCOUNT}:root",
        f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Admin_1",
        f"arn:aws:iam::{ACCOUNT}:role/*/AWSReservedSSO_Admin_1",
    ]
    policy = bucket_policies.backup_bucket_policy("arn:aws:s3:::b", patterns, "arn:aws:kms:r:1:key/k")
    sso = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1"
    request = Request("s3:GetObject", "arn:aws:s3:::b/x", {"aws:SecureTransport": "true", "aws:PrincipalArn": sso})
    assert evaluate([policy], request) == "ImplicitDeny"  # not denied: IAM decides
    root = f"arn:aws:iam::{ACCOUNT}:root"
    assert bucket_policies.admin_principal_patterns(ACCOUNT, root) == [root]


def test_the_writers_may_use_the_key_only_through_s3(dev):
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/k"
    policy = bucket_policies.writer_policy("arn:aws:s3:::b", "etcd/", key)
    via_s3 = {"kms:ViaService": "s3.ap-northeast-2.amazonaws.com"}
    assert evaluate([policy], Request("kms:GenerateDataKey", key, via_s3)) == "Allow"
    assert evaluate([policy], Request("kms:Decrypt", key, via_s3)) == "Allow"
    assert evaluate([policy], Request("kms:Decrypt", key, {})) == "ImplicitDeny"
    assert evaluate([policy], Request("kms:ScheduleKeyDeletion", key, via_s3)) == "ImplicitDeny"
    # Each writer role's inline policy carries the stack's key.
    for role_policy in dev.of_type("aws:iam/rolePolicy:RolePolicy"):
        if role_policy.name.removeprefix("gitops-dev-") in identity.BACKUP_WRITERS:
            doc = json.loads(role_policy.inputs["policy"])
            (kms,) = [s for s in doc["Statement"] if s["Sid"] == "TheBucketsKeyThroughS3"]
            assert kms["Resource"].endswith(_one(dev, "aws:kms/key:Key").name)


def test_an_upload_asking_for_other_encryption_is_denied(dev):
    policy = _policy(dev)
    bucket_arn = policy["Statement"][0]["Resource"][0]
    key = f"arn:aws:mock:ap-northeast-2:123456789012:{_one(dev, 'aws:kms/key:Key').name}"
    writer = {"aws:SecureTransport": "true", **{"aws:PrincipalArn": next(iter(_writer_roles(dev).values()))}}
    star = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    put = f"{bucket_arn}/postgresql/x"
    for extra, decision in [
        ({}, "Allow"),
        ({"s3:x-amz-server-side-encryption": "aws:kms"}, "Allow"),
        (
            {"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": key},
            "Allow",
        ),
        ({"s3:x-amz-server-side-encryption": "AES256"}, "Deny"),
        (
            {"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": "other"},
            "Deny",
        ),
    ]:
        assert evaluate([star, policy], Request("s3:PutObject", put, {**writer, **extra})) == decision, extra


# --- Object Lock ---------------------------------------------------------------------------------


def test_object_lock_keeps_every_version_in_governance_mode_shorter_than_the_version_expiry(dev):
    lock = _one(dev, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["objectLockEnabled"] == "Enabled"
    retention = lock.inputs["rule"]["defaultRetention"]
    assert retention == {"mode": "GOVERNANCE", "days": backup.LOCK_DAYS}
    # Object Lock needs versioning on first.
    assert _one(dev, "aws:s3/bucketVersioning:BucketVersioning").urn in lock.dependencies
    # Locked versions are kept past the lifecycle's expiry of noncurrent versions only if the lock
    # were longer; it is not, so old versions still go after NONCURRENT_DAYS.
    assert backup.LOCK_DAYS <= backup.NONCURRENT_DAYS
    assert min(backup.EXPIRE_DAYS.values()) >= backup.LOCK_DAYS


def test_no_writer_may_remove_a_version_or_bypass_the_lock():
    """barman and the jobs delete by key (a delete marker, which Object Lock allows:
    barman/cloud_providers/aws_s3.py delete_objects sends Keys without VersionId); removing a version
    or bypassing governance is not granted to them."""
    policy = bucket_policies.writer_policy("arn:aws:s3:::b", "postgresql/", "arn:aws:kms:r:1:key/k")
    for action in ("s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutObjectRetention"):
        assert evaluate([policy], Request(action, "arn:aws:s3:::b/postgresql/x")) == "ImplicitDeny", action


def test_lifecycle_expires_old_versions_and_unowned_prefixes_but_not_postgresql(dev):
    lifecycle = _one(dev, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert rules["noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == backup.NONCURRENT_DAYS
    assert rules["noncurrent-versions"]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] >= 1
    assert rules["expire-rabbitmq"]["filter"]["prefix"] == "rabbitmq/"
    # barman's retention prunes PostgreSQL backups with their WAL; an age rule could break a chain.
    assert not any(r.get("filter", {}).get("prefix", "").startswith("postgresql") for r in rules.values())


def test_root_application_carries_the_bucket_patches(dev):
    (root,) = dev.of_type("kubernetes:argoproj.io/v1alpha1:Application")
    patches = root.inputs["spec"]["source"]["kustomize"]["patches"]
    targets = [p["target"].get("name") for p in patches]
    assert {"postgresql", "rabbitmq", "etcd-backup"} <= set(targets)
    text = json.dumps(patches)
    assert "s3://gitops-dev-backups-20261130mock/postgresql" in text
