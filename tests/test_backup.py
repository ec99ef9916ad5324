"""The backup bucket under the mock runtime (components/backup.py), read like a review of `pulumi preview`."""

from __future__ import annotations

import json

import pytest

from components import backup
from components.settings.model import NodeRole, NodeSpec

BUCKET = "aws:s3/bucket:Bucket"
INSTANCE = "aws:ec2/instance:Instance"


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
    kept = [r for r in dev.resources if r.type.startswith("aws:s3/") and r.retain_on_delete and "backups" in r.name]
    assert {r.type.split(":")[-1] for r in kept} == {
        "Bucket",
        "BucketOwnershipControls",
        "BucketPublicAccessBlock",
        "BucketVersioning",
        "BucketServerSideEncryptionConfiguration",
        "BucketPolicy",
        "BucketLifecycleConfiguration",
    }
    assert len(kept) == len([r for r in dev.resources if r.type.startswith("aws:s3/") and "backups" in r.name])


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


def test_only_the_writer_nodes_get_bucket_access_and_hop_limit_two(dev):
    by_name = {r.name: r for r in dev.of_type(INSTANCE)}
    writers = {"gitops-dev-postgresql": "postgresql/", "gitops-dev-rabbitmq": "rabbitmq/"}
    for name, inst in by_name.items():
        hop = inst.inputs["metadataOptions"]["httpPutResponseHopLimit"]
        # (the media readers api-scan/api-chat: tests/test_public_entry.py)
        assert hop == (2 if name in writers else 1) or name in ("gitops-dev-api-scan", "gitops-dev-api-chat"), name
    policies = {
        r.name: json.loads(r.inputs["policy"])
        for r in dev.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.endswith("-backup")
    }
    # The control plane writes etcd snapshots from the host network: own profile, hop limit 1.
    assert set(policies) == {f"{n}-backup" for n in [*writers, "gitops-dev-master"]}
    assert by_name["gitops-dev-master"].inputs["iamInstanceProfile"] == "gitops-dev-master-backup"
    for node, prefix in {**writers, "gitops-dev-master": "etcd/"}.items():
        statements = policies[f"{node}-backup"]["Statement"]
        objects = next(s for s in statements if s["Sid"] == "ObjectsUnderOwnPrefix")
        assert objects["Resource"].endswith(f"/{prefix}*")
        # What each role lets the real clients do is tested call by call in tests/test_backup_iam.py.
        assert by_name[node].inputs["iamInstanceProfile"] == f"{node}-backup"


def test_root_application_carries_the_bucket_patches(dev):
    (root,) = dev.of_type("kubernetes:argoproj.io/v1alpha1:Application")
    patches = root.inputs["spec"]["source"]["kustomize"]["patches"]
    targets = [p["target"].get("name") for p in patches]
    assert {"postgresql", "rabbitmq", "etcd-backup"} <= set(targets)
    text = json.dumps(patches)
    assert "s3://gitops-dev-backups-20261130mock/postgresql" in text


def test_writers_come_from_the_node_table_workloads():
    nodes = [
        NodeSpec("cp", NodeRole.CONTROL_PLANE, "t3.large", 80),
        NodeSpec("db", NodeRole.INFRASTRUCTURE, "t3.medium", 80, labels={"workload": "database"}),
        NodeSpec("mq", NodeRole.INFRASTRUCTURE, "t3.small", 40, labels={"workload": "message-queue"}),
        NodeSpec("api", NodeRole.API, "t3.micro", 20, labels={"workload": "api"}),
    ]
    assert backup.backup_writers(nodes) == (
        backup.BackupWriter("cp", "etcd/", pod_network=False),
        backup.BackupWriter("db", "postgresql/"),
        backup.BackupWriter("mq", "rabbitmq/"),
    )


@pytest.mark.parametrize("prefix", ["", "/abs/", "no-slash"])
def test_a_writer_prefix_must_be_relative_and_end_with_a_slash(prefix):
    with pytest.raises(ValueError, match="must be relative and end with '/'"):
        backup.BackupWriter("db", prefix)
