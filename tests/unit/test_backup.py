"""The backup bucket under the mock runtime (components/backup.py), read like a review of `pulumi preview`."""

from __future__ import annotations

import json

from components import backup

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
        "BucketLifecycleConfiguration",
    }
    assert len(kept) == len(backups)


def test_bucket_is_versioned_encrypted_private_and_tls_only(dev):
    versioning = _one(dev, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    encryption = _one(dev, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    (rule,) = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    block = _one(dev, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block.inputs[key] is True, key
    ownership = _one(dev, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    policy = json.loads(_one(dev, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert block.urn in _one(dev, "aws:s3/bucketPolicy:BucketPolicy").dependencies


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
