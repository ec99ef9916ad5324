"""A small NetworkPolicy evaluator: given namespaces, pods and policies, whether a flow
src -> dst:port/proto is allowed (Kubernetes NetworkPolicy semantics, networking.k8s.io/v1).

Its own tests: tests/support/test_netpol.py; the platform's flow matrix: tests/manifests/test_manifests.py."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.manifests import Doc, pod_spec, pod_template, workloads


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace set) or an address outside the cluster (namespace None)."""

    name: str
    namespace: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = "192.168.0.10"
    ports: Mapping[str, int] = field(default_factory=dict)  # container port name -> number

    def __hash__(self) -> int:
        return hash((self.name, self.namespace))


def labels_match(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels + matchExpressions; {} matches all)."""
    if "matchLabels" in selector or "matchExpressions" in selector:
        match_labels = selector.get("matchLabels", {})
        expressions = selector.get("matchExpressions", [])
    else:  # a Service selector is a plain map
        match_labels, expressions = selector, []
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in expressions:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


class Cluster:
    """Namespaces (with their labels) and policies, enough to decide NetworkPolicy flows."""

    def __init__(self, namespaces: Mapping[str, Mapping[str, str]], policies: list[Doc]):
        # The API server adds kubernetes.io/metadata.name to every namespace.
        self.ns_labels = {n: {**labels, "kubernetes.io/metadata.name": n} for n, labels in namespaces.items()}
        self.policies = policies

    def selecting(self, pod: Endpoint, direction: str) -> list[Doc]:
        if pod.namespace is None:
            return []
        return [
            p
            for p in self.policies
            if p["metadata"]["namespace"] == pod.namespace
            and direction in p["spec"].get("policyTypes", ["Ingress"])
            and labels_match(p["spec"]["podSelector"], pod.labels)
        ]

    def peer_matches(self, peer: Mapping[str, Any], policy_ns: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            addr = ipaddress.ip_address(other.ip)
            block = peer["ipBlock"]
            return addr in ipaddress.ip_network(block["cidr"]) and not any(
                addr in ipaddress.ip_network(e) for e in block.get("except", [])
            )
        if other.namespace is None:
            return False
        if "namespaceSelector" in peer:
            if not labels_match(peer["namespaceSelector"], self.ns_labels[other.namespace]):
                return False
        elif other.namespace != policy_ns:
            return False
        return labels_match(peer.get("podSelector", {}), other.labels)

    @staticmethod
    def port_matches(rule: Mapping[str, Any], port: int, proto: str, target: Endpoint) -> bool:
        if not rule.get("ports"):
            return True
        for p in rule["ports"]:
            if p.get("protocol", "TCP") != proto:
                continue
            if "port" not in p:
                return True
            number = target.ports.get(p["port"]) if isinstance(p["port"], str) else p["port"]
            if number is not None and number <= port <= p.get("endPort", number):
                return True
        return False

    def allowed(self, src: Endpoint, dst: Endpoint, port: int, proto: str) -> bool:
        egress = self.selecting(src, "Egress")
        if egress and not any(
            self.port_matches(rule, port, proto, dst)
            and (
                not rule.get("to")
                or any(self.peer_matches(peer, p["metadata"]["namespace"], dst) for peer in rule["to"])
            )
            for p in egress
            for rule in p["spec"].get("egress", [])
        ):
            return False
        ingress = self.selecting(dst, "Ingress")
        return not ingress or any(
            self.port_matches(rule, port, proto, dst)
            and (
                not rule.get("from")
                or any(self.peer_matches(peer, p["metadata"]["namespace"], src) for peer in rule["from"])
            )
            for p in ingress
            for rule in p["spec"].get("ingress", [])
        )


# The instance pods a CloudNativePG Cluster gets: its inheritedMetadata labels plus the operator's,
# and the instance manager's ports (PostgreSQL, the status API the operator calls, metrics).
CNPG_INSTANCE_PORTS = {"postgresql": 5432, "status": 8000, "metrics": 9187}


def container_ports(spec: Mapping[str, Any]) -> dict[str, int]:
    """Container port name -> number. An unnamed port is keyed by its number as a string ('9090'),
    which cannot collide with a name (a port name needs a letter)."""
    return {
        p.get("name") or str(p["containerPort"]): p["containerPort"]
        for c in spec["containers"]
        for p in c.get("ports", [])
    }


def pods_of(objects: Iterable[Doc]) -> list[Endpoint]:
    pods = []
    objects = list(objects)
    for doc in objects:
        if doc["kind"] == "Cluster" and doc["apiVersion"].startswith("postgresql.cnpg.io/"):
            labels = {
                **doc["spec"].get("inheritedMetadata", {}).get("labels", {}),
                "cnpg.io/cluster": doc["metadata"]["name"],
                "cnpg.io/podRole": "instance",
                # The single instance is the primary (the operator moves this label on failover).
                "cnpg.io/instanceRole": "primary",
            }
            pods.append(
                Endpoint(
                    name=f"{doc['metadata']['namespace']}/{doc['metadata']['name']}",
                    namespace=doc["metadata"]["namespace"],
                    labels=labels,
                    ports=CNPG_INSTANCE_PORTS,
                )
            )
    for doc in workloads(objects):
        spec = pod_spec(doc)
        assert spec is not None
        pods.append(
            Endpoint(
                name=f"{doc['metadata']['namespace']}/{doc['metadata']['name']}",
                namespace=doc["metadata"]["namespace"],
                labels=pod_template(doc)["metadata"]["labels"],  # type: ignore[index]
                ports=container_ports(spec),
            )
        )
    return pods
