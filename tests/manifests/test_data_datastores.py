"""Redis and RabbitMQ respect their limits, are monitored, kept through drains, and backed up (issue 11, item 4).

Read from the rendered children: the engine's own memory limit must sit well under the container
limit (so the engine, not the kernel's OOM killer, decides what happens when memory runs out),
every datastore has a PodDisruptionBudget that selects its pod, a ServiceMonitor the platform
Prometheus picks up over a Service whose port exists on the pod, and RabbitMQ's definitions leave
the cluster on a schedule from the node allowed to write them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components import backup
from tests.support.children import VERSIONS, Doc, kustomize
from tests.support.paths import ROOT

UNITS = {"": 1, "b": 1, "kb": 1000, "k": 1000, "mb": 1000**2, "m": 1000**2, "gb": 1000**3, "g": 1000**3}
K8S_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1000, "M": 1000**2, "G": 1000**3, "": 1}


def k8s_bytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMG]i?|)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * K8S_UNITS[unit]


def redis_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([a-z]*)", value.lower()).groups()  # type: ignore[union-attr]
    return int(number) * UNITS[unit]


def rabbitmq_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(KiB|MiB|GiB|KB|MB|GB|)", value).groups()  # type: ignore[union-attr]
    return (
        int(number) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "": 1}[unit]
    )


@pytest.fixture(scope="module")
def redis() -> list[Doc]:
    return kustomize(ROOT / "manifests/data/redis")


@pytest.fixture(scope="module")
def rabbitmq() -> list[Doc]:
    return kustomize(ROOT / "manifests/messaging/rabbitmq")


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    (found,) = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    return found


def container(sts: Doc, name: str) -> Doc:
    spec = sts["spec"]["template"]["spec"]
    (found,) = [c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name]
    return found


def redis_config(sts: Doc) -> dict[str, str]:
    """The redis.conf the init container writes (its printf format, one directive per line)."""
    script = " ".join(container(sts, "config")["command"])
    fmt = re.search(r"printf '([^']*)'", script).group(1)  # type: ignore[union-attr]
    lines = [line for line in fmt.split("\\n") if line]
    return dict(line.split(" ", 1) for line in lines)


def test_redis_evicts_before_the_container_limit(redis: list[Doc]) -> None:
    sts = one(redis, "StatefulSet")
    config = redis_config(sts)
    limit = k8s_bytes(container(sts, "redis")["resources"]["limits"]["memory"])
    maxmemory = redis_bytes(config["maxmemory"])
    # An AOF rewrite forks: copy-on-write pages need headroom above maxmemory.
    assert 0 < maxmemory <= limit * 0.6, (config["maxmemory"], limit)
    assert config["maxmemory-policy"] in {"allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu"}
    assert config["appendonly"] == "yes"


def test_rabbitmq_watermark_is_absolute_and_under_the_limit(rabbitmq: list[Doc]) -> None:
    sts = one(rabbitmq, "StatefulSet")
    (config_map,) = [
        d for d in rabbitmq if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("rabbitmq-config")
    ]
    conf = {
        k.strip(): v.strip()
        for k, v in (
            line.split("=", 1)
            for line in config_map["data"]["20-platform.conf"].splitlines()
            if "=" in line and not line.startswith("#")
        )
    }
    assert "vm_memory_high_watermark.relative" not in conf
    limit = k8s_bytes(container(sts, "rabbitmq")["resources"]["limits"]["memory"])
    watermark = rabbitmq_bytes(conf["vm_memory_high_watermark.absolute"])
    assert 0 < watermark <= limit * 0.6
    assert "rabbitmq_prometheus" in config_map["data"]["enabled_plugins"]
    env = {e["name"]: e.get("value") for e in container(sts, "rabbitmq")["env"]}
    mounts = {m["mountPath"] for m in container(sts, "rabbitmq")["volumeMounts"]}
    assert env["RABBITMQ_ENABLED_PLUGINS_FILE"].rsplit("/", 1)[0] in mounts
    assert "/etc/rabbitmq/conf.d/20-platform.conf" in mounts
    # The mount refers to the generated (hash-suffixed) ConfigMap.
    (volume,) = [v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]


@pytest.mark.parametrize("app", ["redis", "rabbitmq"])
def test_each_datastore_has_a_pdb_that_keeps_its_pod(app: str, redis: list[Doc], rabbitmq: list[Doc]) -> None:
    docs = {"redis": redis, "rabbitmq": rabbitmq}[app]
    sts = one(docs, "StatefulSet")
    pdb = one(docs, "PodDisruptionBudget")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items())
    assert pdb["spec"].get("minAvailable") == sts["spec"]["replicas"]


@pytest.mark.parametrize(("app", "port"), [("redis", 9121), ("rabbitmq", 15692)])
def test_metrics_are_scraped_by_the_platform_prometheus(
    app: str, port: int, redis: list[Doc], rabbitmq: list[Doc]
) -> None:
    docs = {"redis": redis, "rabbitmq": rabbitmq}[app]
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (service,) = [
        d
        for d in docs
        if d["kind"] == "Service"
        and all(d["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    ]
    (endpoint,) = monitor["spec"]["endpoints"]
    (svc_port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    sts = one(docs, "StatefulSet")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in service["spec"]["selector"].items())
    pod_ports = {
        p["name"]: p["containerPort"] for c in sts["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])
    }
    assert pod_ports[svc_port["targetPort"]] == port


def test_redis_exporter_is_pinned_and_reads_the_generated_password(redis: list[Doc]) -> None:
    exporter = container(one(redis, "StatefulSet"), "exporter")
    assert exporter["image"] == VERSIONS["redisExporterImage"]
    (password,) = [e for e in exporter["env"] if e["name"] == "REDIS_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"]["name"] == "redis-credentials"


def test_rabbitmq_definitions_leave_the_cluster_on_a_schedule(rabbitmq: list[Doc]) -> None:
    cron = one(rabbitmq, "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid" and len(cron["spec"]["schedule"].split()) == 5
    # On the rabbitmq node: only its instance profile may write rabbitmq/ in the bucket.
    assert pod["nodeSelector"] == {"node-role.kubernetes.io/infrastructure": "rabbitmq", "workload": "message-queue"}
    (export,) = pod["initContainers"]
    url = re.search(r"http://([a-z0-9-]+):(\d+)/api/definitions", " ".join(export["command"]))
    assert url, export["command"]
    # The URL names a Service of this namespace and a port it has, backed by the broker's port.
    service = one(rabbitmq, "Service", url.group(1))
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == int(url.group(2))]
    broker = container(one(rabbitmq, "StatefulSet"), "rabbitmq")
    assert {p["name"]: p["containerPort"] for p in broker["ports"]}[port["targetPort"]] == 15672
    (upload,) = pod["containers"]
    assert upload["image"] == VERSIONS["awsCliImage"]
    script = " ".join(upload["command"])
    prefix = backup.WRITER_PREFIXES["message-queue"]
    assert f"s3://${{BUCKET}}/{prefix}" in script
    # No --sse: the bucket's default (SSE-KMS with the stack's key) encrypts it; an explicit AES256 or
    # aws:kms without a key id would pick another key, and the bucket policy refuses either.
    assert "--sse" not in script
    target = one(rabbitmq, "ConfigMap", "backup-target")
    assert target["data"]["BUCKET"] == backup.PLACEHOLDER_BUCKET
    assert [e["configMapRef"]["name"] for e in upload["envFrom"]] == ["backup-target"]
    # Nothing else may delete under that prefix by age sooner than the bucket's rule keeps it.
    assert backup.EXPIRE_DAYS[prefix] >= 7


def test_root_patches_point_the_export_at_the_stack_bucket(tmp_path: Path) -> None:
    patches = backup.backup_root_patches("gitops-dev-backups-x", "eu-west-1")
    (rabbit,) = [p for p in patches if p["target"]["name"] == "rabbitmq"]
    (op,) = yaml.safe_load(rabbit["patch"])
    (inner,) = op["value"]["patches"]
    assert inner["target"] == {"kind": "ConfigMap", "name": "backup-target"}
    values = {o["path"]: o["value"] for o in yaml.safe_load(inner["patch"])}
    assert values == {"/data/BUCKET": "gitops-dev-backups-x", "/data/AWS_REGION": "eu-west-1"}
