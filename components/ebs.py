"""The stack-specific values of the AWS EBS CSI driver child (manifests/argocd/apps/aws-ebs-csi-driver.yaml).

The child in Git carries placeholders for what only the stack knows: the region (the controller
cannot read it from IMDS: hop limit 1) and the cluster name, which tags every volume
(`cluster=<name>`, `kubernetes.io/cluster/<name>=owned`) and which the controller's IAM role is
limited to (components/identity.py, ebs_csi_policy). The root Application patches the child
Application itself with the real values; the role's ARN arrives the same way
(identity.role_root_patches).

It also turns on CloudNativePG's volume-snapshot backups when the stack asks for them
(`postgresqlVolumeSnapshots`): the ScheduledBackup `postgresql-snapshots` in Git is suspended, and
the root un-suspends it (volume_snapshot_backup_patches).
"""

from __future__ import annotations

from typing import Any

import yaml

APPLICATION = "aws-ebs-csi-driver"
# The snapshot schedule of manifests/data/postgresql/scheduledbackup.yaml and its child.
SNAPSHOT_BACKUP = {
    "group": "postgresql.cnpg.io",
    "version": "v1",
    "kind": "ScheduledBackup",
    "name": "postgresql-snapshots",
}
POSTGRESQL_APPLICATION = "postgresql"
_VALUES = "/spec/source/helm/valuesObject/controller"


def ebs_csi_root_patches(cluster_name: str, region: str) -> list[dict[str, Any]]:
    """Root patches of the driver's Application: region and cluster tag."""
    operations = [
        {"op": "replace", "path": f"{_VALUES}/region", "value": region},
        {"op": "replace", "path": f"{_VALUES}/k8sTagClusterId", "value": cluster_name},
        {"op": "replace", "path": f"{_VALUES}/extraVolumeTags/cluster", "value": cluster_name},
    ]
    return [
        {"target": {"kind": "Application", "name": APPLICATION}, "patch": yaml.safe_dump(operations, sort_keys=False)}
    ]


def volume_snapshot_backup_patches(enabled: bool) -> list[dict[str, Any]]:
    """Root patches that un-suspend the PostgreSQL volume-snapshot schedule; none when off."""
    if not enabled:
        return []
    inner = {
        "target": dict(SNAPSHOT_BACKUP),
        "patch": yaml.safe_dump([{"op": "replace", "path": "/spec/suspend", "value": False}]),
    }
    operations = [{"op": "add", "path": "/spec/source/kustomize", "value": {"patches": [inner]}}]
    return [
        {
            "target": {
                "group": "argoproj.io",
                "version": "v1alpha1",
                "kind": "Application",
                "name": POSTGRESQL_APPLICATION,
            },
            "patch": yaml.safe_dump(operations, sort_keys=False),
        }
    ]
