"""The stack-specific values of the AWS EBS CSI driver child (manifests/argocd/apps/aws-ebs-csi-driver.yaml).

The child in Git carries placeholders for what only the stack knows: the region (the controller
cannot read it from IMDS: hop limit 1) and the cluster name, which tags every volume
(`cluster=<name>`, `kubernetes.io/cluster/<name>=owned`) and which the controller's IAM role is
limited to (components/identity.py, ebs_csi_policy). The root Application patches the child
Application itself with the real values; the role's ARN arrives the same way
(identity.role_root_patches).
"""

from __future__ import annotations

from typing import Any

import yaml

APPLICATION = "aws-ebs-csi-driver"
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
