"""The datastore Applications and the storage class their claims name."""

from __future__ import annotations

DATASTORE_APPS = ("postgresql", "redis", "rabbitmq")


# The StorageClass every claim that holds data uses (manifests/data/storage): EBS gp3, Retain.
EBS_CLASS = "gp3"
