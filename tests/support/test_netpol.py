"""The NetworkPolicy evaluator (tests/support/netpol.py) on its own, on hand-written policies.

Each case is a rule of networking.k8s.io/v1 NetworkPolicy as the Kubernetes documentation states
it (concepts/services-networking/network-policies): a pod no policy selects is open; policyTypes
defaults to Ingress; a peer with namespaceSelector and podSelector needs both, two peers either;
ipBlock with except; named ports resolve on the destination; endPort; protocol defaults to TCP;
egress and ingress must both allow.
"""

from __future__ import annotations

from typing import Any

from tests.support.netpol import Cluster, Endpoint, labels_match

NAMESPACES = {"web": {"team": "web"}, "db": {"team": "data"}, "ops": {}}
FRONT = Endpoint("front", "web", {"app": "front"})
DB = Endpoint("db", "db", {"app": "postgres"}, ports={"pg": 5432})
OPS = Endpoint("ops", "ops", {"app": "front"})
OUTSIDE = Endpoint("outside", None, ip="203.0.113.77")


def policy(namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": {"podSelector": {}, **spec}}


DENY_DB_INGRESS = policy("db", {"policyTypes": ["Ingress"]})


def test_a_pod_no_policy_selects_is_open():
    assert Cluster(NAMESPACES, []).allowed(FRONT, DB, 1234, "TCP")


def test_default_deny_ingress_closes_ingress_only():
    cluster = Cluster(NAMESPACES, [DENY_DB_INGRESS])
    assert not cluster.allowed(FRONT, DB, 5432, "TCP")
    assert cluster.allowed(DB, FRONT, 80, "TCP")  # egress of db is not governed


def test_policy_types_default_to_ingress():
    cluster = Cluster(NAMESPACES, [policy("web", {})])  # no policyTypes, no rules: deny ingress
    assert not cluster.allowed(DB, FRONT, 80, "TCP")
    assert cluster.allowed(FRONT, DB, 5432, "TCP")


def test_namespace_and_pod_selector_in_one_peer_need_both():
    peer = {"namespaceSelector": {"matchLabels": {"team": "web"}}, "podSelector": {"matchLabels": {"app": "front"}}}
    cluster = Cluster(NAMESPACES, [policy("db", {"policyTypes": ["Ingress"], "ingress": [{"from": [peer]}]})])
    assert cluster.allowed(FRONT, DB, 5432, "TCP")
    assert not cluster.allowed(OPS, DB, 5432, "TCP")  # right pod labels, wrong namespace


def test_two_peers_allow_either():
    peers = [{"namespaceSelector": {"matchLabels": {"team": "web"}}}, {"podSelector": {"matchLabels": {"app": "x"}}}]
    cluster = Cluster(NAMESPACES, [policy("db", {"policyTypes": ["Ingress"], "ingress": [{"from": peers}]})])
    assert cluster.allowed(FRONT, DB, 5432, "TCP")
    assert not cluster.allowed(OPS, DB, 5432, "TCP")
    # A podSelector alone selects pods of the policy's own namespace only.
    assert not cluster.allowed(Endpoint("x", "ops", {"app": "x"}), DB, 5432, "TCP")
    assert cluster.allowed(Endpoint("x", "db", {"app": "x"}), DB, 5432, "TCP")


def test_named_ports_end_port_and_protocol():
    rule = {"ports": [{"port": "pg"}, {"port": 9000, "endPort": 9002, "protocol": "UDP"}]}
    cluster = Cluster(NAMESPACES, [policy("db", {"policyTypes": ["Ingress"], "ingress": [rule]})])
    assert cluster.allowed(FRONT, DB, 5432, "TCP")
    assert not cluster.allowed(FRONT, DB, 5433, "TCP")
    assert cluster.allowed(FRONT, DB, 9002, "UDP")
    assert not cluster.allowed(FRONT, DB, 9002, "TCP")  # the range is UDP
    assert not cluster.allowed(FRONT, DB, 9003, "UDP")


def test_ip_block_with_except():
    to = [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.0/29"]}}]
    cluster = Cluster(NAMESPACES, [policy("web", {"policyTypes": ["Egress"], "egress": [{"to": to}]})])
    assert cluster.allowed(FRONT, OUTSIDE, 443, "TCP")
    assert not cluster.allowed(FRONT, Endpoint("near", None, ip="203.0.113.3"), 443, "TCP")
    assert not cluster.allowed(FRONT, DB, 5432, "TCP")  # a pod is no ipBlock here


def test_egress_and_ingress_must_both_allow():
    allow_in = policy("db", {"policyTypes": ["Ingress"], "ingress": [{}]})
    deny_out = policy("web", {"policyTypes": ["Egress"]})
    assert Cluster(NAMESPACES, [allow_in]).allowed(FRONT, DB, 5432, "TCP")
    assert not Cluster(NAMESPACES, [allow_in, deny_out]).allowed(FRONT, DB, 5432, "TCP")


def test_the_namespace_name_label_is_added_as_the_api_server_does():
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}}
    cluster = Cluster(NAMESPACES, [policy("db", {"policyTypes": ["Ingress"], "ingress": [{"from": [peer]}]})])
    assert cluster.allowed(OPS, DB, 5432, "TCP") and not cluster.allowed(FRONT, DB, 5432, "TCP")


def test_label_selector_operators():
    labels = {"tier": "db", "zone": "a"}
    assert labels_match({}, labels) and labels_match({"matchLabels": {}}, labels)
    assert labels_match({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db", "x"]}]}, labels)
    assert not labels_match({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}, labels)
    assert labels_match({"matchExpressions": [{"key": "gone", "operator": "DoesNotExist"}]}, labels)
    assert not labels_match({"matchExpressions": [{"key": "gone", "operator": "Exists"}]}, labels)
    assert labels_match({"tier": "db"}, labels)  # a Service selector is a plain map
