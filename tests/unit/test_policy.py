"""The policy pack: each rule on bad and good resources, on everything the dev stack registers, and
the pack itself served over gRPC the way the Pulumi engine talks to it.

The rules are pure functions over pulumi-policy's own `ResourceValidationArgs`; the mock-runtime
adapter below builds exactly that object from a `tools.mockrun.Registration` (engine-shaped,
camelCase inputs; the resource's provider resolved from its reference), so "the dev stack passes"
means what `pulumi preview --policy-pack policy` would say about the same registrations.
"""

from __future__ import annotations

import copy
import inspect
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
)

from policy import gitops_rule
from tests.support.policy import EXPLICIT_K8S, POLICY_DIR, P, make_args, only, violations
from tools.mockrun import Recording, Registration, stack_config

TAGGED_AWS = PolicyProviderResource(
    "pulumi:providers:aws",
    {"region": "ap-northeast-2", "defaultTags": {"tags": {"cluster": "gitops-dev", "managed-by": "pulumi"}}},
    "urn:pulumi:dev::gitops-cluster::pulumi:providers:aws::aws",
    "aws",
)


# --- good resources, the baseline every bad case mutates -----------------------------------------


def good_instance(**changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "ami": "ami-0123",
        "instanceType": "t3.small",
        "associatePublicIpAddress": False,
        "metadataOptions": {"httpTokens": "required", "httpEndpoint": "enabled"},
        "rootBlockDevice": {"encrypted": True, "volumeType": "gp3", "volumeSize": 40},
        "tags": {"Name": "gitops-dev-redis", "cluster": "gitops-dev", "role": "infrastructure"},
        "userData": "#cloud-config\n",
    }
    props.update(changes)
    return props


def instance_args(props: Mapping[str, Any], **kw: Any) -> ResourceValidationArgs:
    return make_args("aws:ec2/instance:Instance", props, name="node", provider=TAGGED_AWS, **kw)


def test_good_instance_passes_every_policy() -> None:
    assert violations(instance_args(good_instance())) == {}


def test_policy_table_is_well_formed() -> None:
    names = [spec.name for spec in P.POLICIES]
    assert len(names) == len(set(names))
    for spec in P.POLICIES:
        assert spec.description, spec.name
        assert spec.remediation, spec.name


# --- no-internet-wide-ingress --------------------------------------------------------------------

SG = "aws:ec2/securityGroup:SecurityGroup"


def sg_args(*ingress: dict[str, Any]) -> ResourceValidationArgs:
    tags = {"Name": "sg", "cluster": "c", "managed-by": "pulumi"}
    return make_args(SG, {"ingress": list(ingress), "tags": tags}, name="bastion-sg")


@pytest.mark.parametrize(
    ("rule", "opens"),
    [
        ({"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}, "tcp port 22 (SSH)"),
        ({"protocol": "tcp", "fromPort": 6443, "toPort": 6443, "ipv6CidrBlocks": ["::/0"]}, "tcp port 6443"),
        (
            {"protocol": "6", "fromPort": 6000, "toPort": 7000, "cidrBlocks": ["10.0.0.0/8", "0.0.0.0/0"]},
            "tcp ports 6000-7000 (including 6443 the Kubernetes API)",
        ),
        # The review's cases: the world written as two halves, IPv6 halves, any port, UDP too.
        ({"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}, "port 22"),
        ({"protocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6CidrBlocks": ["::/1", "8000::/1"]}, "port 22"),
        ({"protocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6CidrBlocks": ["::/1"]}, "port 22"),
        ({"protocol": "tcp", "fromPort": 10250, "toPort": 10250, "cidrBlocks": ["0.0.0.0/0"]}, "10250 (the kubelet)"),
        ({"protocol": "tcp", "fromPort": 2379, "toPort": 2380, "cidrBlocks": ["0.0.0.0/0"]}, "(including 2379 etcd)"),
        ({"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["0.0.0.0/0"]}, "tcp port 5432"),
        ({"protocol": "udp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}, "udp port 22"),
        ({"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["2.0.0.0/7"]}, "port 22"),
        ({"protocol": "tcp", "fromPort": 443, "toPort": 444, "cidrBlocks": ["0.0.0.0/0"]}, "ports 443-444"),
        ({"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}, "every port"),
        ({"protocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrBlocks": ["0.0.0.0/0"]}, "ports 0-65535"),
    ],
)
def test_internet_wide_ingress_is_a_violation(rule: dict[str, Any], opens: str) -> None:
    messages = only(sg_args(rule), "no-internet-wide-ingress")
    assert len(messages) == 1, messages
    assert messages[0].startswith("SecurityGroup 'bastion-sg' ingress[0] opens "), messages[0]
    assert opens in messages[0] and "to the Internet" in messages[0]
    assert "gitops-cluster:adminCidrs" in messages[0]


def test_narrow_rules_that_together_cover_the_internet_are_a_violation() -> None:
    halves = [
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": [cidr]}
        for cidr in ("0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2")
    ]
    # Each /2 alone is already more than a /8; many /9s are each less, together the world.
    ninths = [
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": [f"{i}.0.0.0/9"]} for i in range(1, 200, 1)
    ]
    assert len(only(sg_args(*halves), "no-internet-wide-ingress")) == 4
    [together] = only(sg_args(*ninths[:3]), "no-internet-wide-ingress")
    assert "ingress[0], ingress[1], ingress[2] together open tcp port 22 (SSH) to the Internet" in together


@pytest.mark.parametrize(
    "rule",
    [
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["203.0.113.0/24"]},
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["198.51.100.0/24", "10.0.0.0/8"]},
        # The public entry (ALB) may face the Internet on 80 and 443, nothing else.
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]},
        {"protocol": "tcp", "fromPort": 80, "toPort": 80, "ipv6CidrBlocks": ["::/0"]},
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "prefixListIds": ["pl-82a045eb"]},
        {"protocol": "tcp", "fromPort": 6443, "toPort": 6443, "securityGroups": ["sg-123"]},
        # Private ranges are not the Internet, however wide.
        {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["10.0.0.0/8", "100.64.0.0/10"]},
    ],
)
def test_limited_or_harmless_ingress_passes(rule: dict[str, Any]) -> None:
    assert only(sg_args(rule), "no-internet-wide-ingress") == []


def test_prefix_lists_are_refused_off_the_public_ports() -> None:
    rule = {"protocol": "tcp", "fromPort": 22, "toPort": 22, "prefixListIds": ["pl-0123456789abcdef0"]}
    assert only(sg_args(rule), "no-internet-wide-ingress") == [
        "SecurityGroup 'bastion-sg' ingress[0] admits prefix list(s) pl-0123456789abcdef0 on tcp port 22 (SSH); "
        "the pack cannot see a prefix list's entries: list the CIDRs instead (prefix lists only on 80/443)"
    ]
    vpc_rule = make_args(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"ipProtocol": "tcp", "fromPort": 10250, "toPort": 10250, "prefixListId": "pl-1"},
        name="kubelet",
    )
    assert "admits prefix list(s) pl-1 on tcp port 10250 (the kubelet)" in only(vpc_rule, "no-internet-wide-ingress")[0]


def test_the_default_security_group_has_no_rules() -> None:
    default_sg = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
    tags = {"Name": "default", "cluster": "c", "managed-by": "pulumi"}
    clean = make_args(default_sg, {"vpcId": "vpc-1", "ingress": [], "egress": [], "tags": tags}, name="default-sg")
    assert only(clean, "no-internet-wide-ingress") == []
    rules = {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}], "egress": [], "tags": tags}
    assert only(make_args(default_sg, {"vpcId": "vpc-1", **rules}, name="default-sg"), "no-internet-wide-ingress") == [
        "DefaultSecurityGroup 'default-sg' has rules; the VPC's default security group admits and sends nothing "
        "(every instance uses the program's own groups): set ingress=[] and egress=[]"
    ]


def test_standalone_ingress_rules_are_checked() -> None:
    vpc_rule = make_args(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"ipProtocol": "tcp", "fromPort": 6443, "toPort": 6443, "cidrIpv4": "0.0.0.0/0"},
        name="api-from-anywhere",
    )
    assert (
        "opens tcp port 6443 (the Kubernetes API) to the Internet (0.0.0.0/0)"
        in only(vpc_rule, "no-internet-wide-ingress")[0]
    )
    all_traffic = make_args(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"ipProtocol": "-1", "cidrIpv6": "::/0"},
        name="everything",
    )
    assert "opens every port of every protocol" in only(all_traffic, "no-internet-wide-ingress")[0]
    legacy = {"type": "ingress", "protocol": "tcp", "fromPort": 20, "toPort": 25, "cidrBlocks": ["0.0.0.0/0"]}
    rule = make_args("aws:ec2/securityGroupRule:SecurityGroupRule", legacy, name="legacy")
    assert "opens tcp ports 20-25 (including 22 SSH)" in only(rule, "no-internet-wide-ingress")[0]
    egress = make_args("aws:ec2/securityGroupRule:SecurityGroupRule", {**legacy, "type": "egress"}, name="out")
    assert only(egress, "no-internet-wide-ingress") == []
    limited = make_args(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "198.51.100.7/32"},
    )
    assert only(limited, "no-internet-wide-ingress") == []


# --- the stack as a whole ----------------------------------------------------------------------


@dataclass
class _Res:
    resource_type: str
    name: str
    props: dict[str, Any]


def test_a_second_instance_tagged_bastion_cannot_get_a_public_ip() -> None:
    bastion = _Res(
        "aws:ec2/instance:Instance", "bastion", good_instance(associatePublicIpAddress=True, tags={"role": "bastion"})
    )
    impostor = _Res(
        "aws:ec2/instance:Instance", "etcd", good_instance(associatePublicIpAddress=True, tags={"role": "bastion"})
    )
    node = _Res("aws:ec2/instance:Instance", "redis", good_instance())
    assert P.check_stack([bastion, node]) == []
    assert P.check_stack([bastion, impostor, node]) == [
        "2 instances may get a public IP: 'bastion' (role 'bastion'), 'etcd' (role 'bastion'); only the one "
        "bastion is reachable from outside: set associatePublicIpAddress=False on the others"
    ]


def test_elastic_ips_on_instances_and_public_launch_templates_are_refused() -> None:
    nat = _Res("aws:ec2/eip:Eip", "nat-a", {"domain": "vpc"})
    attached = _Res("aws:ec2/eip:Eip", "node-ip", {"domain": "vpc", "instance": "i-0123"})
    template = _Res(
        "aws:ec2/launchTemplate:LaunchTemplate", "nodes", {"networkInterfaces": [{"associatePublicIpAddress": "true"}]}
    )
    assert P.check_stack([nat]) == []
    found = P.check_stack([nat, attached, template])
    assert found[0].startswith("Eip 'node-ip' is attached to an instance")
    assert found[1] == (
        "LaunchTemplate 'nodes' networkInterfaces[0] associates a public IP; set associatePublicIpAddress='false'"
    )


def test_standalone_rules_of_one_group_are_judged_together() -> None:
    rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    halves = [
        _Res(rule, f"part-{i}", {"ipProtocol": "tcp", "fromPort": 10250, "toPort": 10250, "cidrIpv4": f"{i}.0.0.0/9",
                                 "securityGroupId": "sg-nodes"})
        for i in (1, 2, 3)
    ]  # fmt: skip
    [message] = P.check_stack(halves)
    assert message.startswith("security group sg-nodes: 'part-1', 'part-2', 'part-3' together open tcp port 10250")
    other_group = {**halves[2].props, "securityGroupId": "sg-other"}
    assert P.check_stack([*halves[:2], _Res(rule, "part-3", other_group)]) == []


def test_the_dev_stack_passes_the_stack_rules(dev: Any) -> None:
    resources = [_Res(r.type, r.name, r.inputs) for r in dev.resources if r.custom]
    assert P.check_stack(resources) == []


# --- instances and volumes -----------------------------------------------------------------------


@pytest.mark.parametrize("options", [None, {}, {"httpTokens": "optional"}])
def test_imdsv1_is_a_violation(options: dict[str, Any] | None) -> None:
    messages = only(instance_args(good_instance(metadataOptions=options)), "imdsv2-required")
    assert len(messages) == 1
    assert "Instance 'node' allows IMDSv1" in messages[0]
    assert "httpTokens='required'" in messages[0]


def test_unencrypted_volumes_are_violations() -> None:
    props = good_instance(
        rootBlockDevice={"volumeType": "gp3"},
        ebsBlockDevices=[
            {"deviceName": "/dev/sdf", "encrypted": True, "volumeType": "gp3"},
            {"deviceName": "/dev/sdg", "encrypted": False, "volumeType": "gp3"},
        ],
    )
    messages = only(instance_args(props), "encrypted-volumes")
    assert messages == [
        "Instance 'node' rootBlockDevice is not encrypted; set rootBlockDevice.encrypted=True",
        "Instance 'node' ebsBlockDevices[1] is not encrypted; set ebsBlockDevices[1].encrypted=True",
    ]
    volume = make_args("aws:ebs/volume:Volume", {"size": 10, "type": "gp3"}, name="data")
    assert only(volume, "encrypted-volumes") == ["Volume 'data' is not encrypted; set encrypted=True"]
    ok = make_args("aws:ebs/volume:Volume", {"size": 10, "type": "gp3", "encrypted": True}, name="data")
    assert only(ok, "encrypted-volumes") == []


def test_non_gp3_volumes_are_violations() -> None:
    props = good_instance(rootBlockDevice={"encrypted": True, "volumeType": "gp2"})
    assert only(instance_args(props), "gp3-volumes") == [
        "Instance 'node' rootBlockDevice has volumeType='gp2'; set rootBlockDevice.volumeType='gp3'"
    ]
    volume = make_args("aws:ebs/volume:Volume", {"encrypted": True, "type": "io1"}, name="data")
    assert only(volume, "gp3-volumes") == ["Volume 'data' has type='io1'; set type='gp3'"]


def test_instance_types_come_from_the_allowed_list() -> None:
    messages = only(instance_args(good_instance(instanceType="m5.large")), "allowed-instance-types")
    assert len(messages) == 1
    assert "uses instance type 'm5.large', which is not allowed" in messages[0]
    assert "t3.micro" in messages[0]
    for allowed in ("t3.micro", "t3.large", "m6i.xlarge", "m7i.2xlarge", "c6i.large"):
        assert only(instance_args(good_instance(instanceType=allowed)), "allowed-instance-types") == []


def test_allowed_instance_types_follow_pack_config() -> None:
    config = {"allowedInstanceTypes": ["m5.large"]}
    assert only(instance_args(good_instance(instanceType="m5.large"), config=config), "allowed-instance-types") == []
    narrowed = only(instance_args(good_instance(instanceType="t3.micro"), config=config), "allowed-instance-types")
    assert "'t3.micro', which is not allowed; use one of m5.large" in narrowed[0]


@pytest.mark.parametrize("public", [None, True])
def test_nodes_must_not_get_a_public_ip(public: bool | None) -> None:
    messages = only(instance_args(good_instance(associatePublicIpAddress=public)), "no-public-ip-on-nodes")
    assert len(messages) == 1
    assert "Instance 'node' (role 'infrastructure') may get a public IP" in messages[0]


def test_the_bastion_may_have_a_public_ip() -> None:
    tags = {"Name": "bastion", "cluster": "gitops-dev", "role": "bastion"}
    args = instance_args(good_instance(associatePublicIpAddress=True, tags=tags))
    assert only(args, "no-public-ip-on-nodes") == []


def test_private_keys_in_user_data_are_violations() -> None:
    user_data = "#!/bin/sh\ncat > /root/.ssh/id <<EOF\n-----BEGIN OPENSSH PRIVATE KEY-----\nabc\nEOF\n"
    messages = only(instance_args(good_instance(userData=user_data)), "no-private-key-in-user-data")
    assert len(messages) == 1
    assert "carries a private key in userData" in messages[0]


# --- tags ----------------------------------------------------------------------------------------


def test_required_tags_may_come_from_provider_default_tags() -> None:
    vpc = {"cidrBlock": "10.0.0.0/16", "tags": {"Name": "gitops-dev-vpc"}}
    assert only(make_args("aws:ec2/vpc:Vpc", vpc, provider=TAGGED_AWS), "required-tags") == []
    # Provider inputs that are objects reach the analyzer as JSON text in some SDK versions.
    json_provider = PolicyProviderResource(
        TAGGED_AWS.resource_type,
        {"defaultTags": json.dumps({"tags": {"cluster": "c", "managed-by": "pulumi"}})},
        TAGGED_AWS.urn,
        TAGGED_AWS.name,
    )
    assert only(make_args("aws:ec2/vpc:Vpc", vpc, provider=json_provider), "required-tags") == []


def test_missing_tags_are_violations() -> None:
    vpc = {"cidrBlock": "10.0.0.0/16", "tags": {"Name": "gitops-dev-vpc", "cluster": "gitops-dev"}}
    messages = only(make_args("aws:ec2/vpc:Vpc", vpc, name="vpc"), "required-tags")
    assert messages == [
        "Vpc 'vpc' lacks tag(s) managed-by (neither on the resource nor in the provider's defaultTags); "
        "tag every resource with cluster=<clusterName> and managed-by=pulumi"
    ]
    untaggable = make_args("aws:ec2/route:Route", {"destinationCidrBlock": "0.0.0.0/0"})
    assert only(untaggable, "required-tags") == []


def test_instances_carry_cluster_role_and_name_themselves() -> None:
    # Default tags satisfy `cluster` and `managed-by`, but not the instance's own tags.
    props = good_instance(tags={"Name": "gitops-dev-redis"})
    messages = only(instance_args(props), "required-tags")
    assert messages == [
        "Instance 'node' lacks explicit instance tag(s) cluster, role; instances carry cluster, role and Name "
        "in their own tags"
    ]


# --- load balancer, Kubernetes, Helm, Argo CD ----------------------------------------------------


def test_load_balancer_listeners_only_serve_the_api() -> None:
    tags = {"cluster": "c", "managed-by": "pulumi"}
    bad = make_args("aws:lb/listener:Listener", {"port": 443, "protocol": "TCP", "tags": tags}, name="https")
    assert only(bad, "lb-listeners-api-only") == [
        "Listener 'https' listens on TCP port 443; the load balancers expose only the Kubernetes API on 6443 "
        "and the public entry's HTTPS 443 / HTTP 80 (8081/8082 admin-only)"
    ]
    good = make_args("aws:lb/listener:Listener", {"port": 6443, "protocol": "TCP", "tags": tags})
    assert only(good, "lb-listeners-api-only") == []
    # The public entry (components/public_entry.py): HTTPS with a TLS 1.3/1.2 policy, and HTTP 80.
    https = {"port": 443, "protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"}
    assert only(make_args("aws:lb/listener:Listener", https), "lb-listeners-api-only") == []
    old = make_args("aws:lb/listener:Listener", {**https, "sslPolicy": "ELBSecurityPolicy-2016-08"}, name="old")
    assert only(old, "lb-listeners-api-only") == [
        "Listener 'old' uses TLS policy ELBSecurityPolicy-2016-08; use a TLS 1.3/1.2 policy"
    ]
    assert only(make_args("aws:lb/listener:Listener", {"port": 80, "protocol": "HTTP"}), "lb-listeners-api-only") == []


def test_only_the_public_entrys_443_and_80_may_be_world_open() -> None:
    rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    for port in (443, 80):
        ok = {"ipProtocol": "tcp", "fromPort": port, "toPort": port, "cidrIpv4": "0.0.0.0/0"}
        assert only(make_args(rule, ok), "no-internet-wide-ingress") == []
    wide = {"ipProtocol": "tcp", "fromPort": 80, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}
    assert only(make_args(rule, wide, name="wide"), "no-internet-wide-ingress")
    grafana = {"ipProtocol": "tcp", "fromPort": 8082, "toPort": 8082, "cidrIpv4": "0.0.0.0/0"}
    assert only(make_args(rule, grafana, name="ui"), "no-internet-wide-ingress")
    admin = {**grafana, "cidrIpv4": "203.0.113.0/24"}
    assert only(make_args(rule, admin), "no-internet-wide-ingress") == []


def test_kubernetes_resources_need_the_explicit_provider() -> None:
    ns = {"metadata": {"name": "argocd"}}
    none = only(make_args("kubernetes:core/v1:Namespace", ns, name="argocd"), "explicit-kubernetes-provider")
    assert none
    assert "Namespace 'argocd' uses no provider" in none[0]
    default = PolicyProviderResource("pulumi:providers:kubernetes", {}, "urn:x", "default_4_34_2")
    messages = only(
        make_args("kubernetes:core/v1:Namespace", ns, name="argocd", provider=default), "explicit-kubernetes-provider"
    )
    assert messages
    assert "uses the default provider 'default_4_34_2'" in messages[0]
    explicit = make_args("kubernetes:core/v1:Namespace", ns, provider=EXPLICIT_K8S)
    assert only(explicit, "explicit-kubernetes-provider") == []


RELEASE = "kubernetes:helm.sh/v3:Release"


def release_args(**props: Any) -> ResourceValidationArgs:
    base = {"chart": "argo-cd", "version": "7.7.14", "repositoryOpts": {"repo": "https://argoproj.github.io/argo-helm"}}
    base.update(props)
    return make_args(RELEASE, base, name="argocd", provider=EXPLICIT_K8S)


@pytest.mark.parametrize("version", [None, "", "latest", "^7.7.0", "~7.7", "7.x", "7", "7.7", ">=7.7.14", "7.7.*"])
def test_unpinned_chart_versions_are_violations(version: str | None) -> None:
    messages = only(release_args(version=version), "pinned-helm-charts")
    assert len(messages) == 1
    assert f"Release 'argocd' chart 'argo-cd' has version {version!r}; pin an exact chart version" in messages[0]


@pytest.mark.parametrize("version", ["7.7.14", "v1.16.2", "1.0.0-rc.1", "2.3.4+build.5"])
def test_exact_chart_versions_pass(version: str) -> None:
    assert only(release_args(version=version), "pinned-helm-charts") == []


def test_chart_repositories_are_https() -> None:
    messages = only(release_args(repositoryOpts={"repo": "http://charts.example.com"}), "pinned-helm-charts")
    assert messages
    assert "comes from repository 'http://charts.example.com'" in messages[0]
    assert only(release_args(repositoryOpts=None), "pinned-helm-charts")
    oci = release_args(chart="oci://ghcr.io/argoproj/argo-helm/argo-cd", repositoryOpts=None)
    assert only(oci, "pinned-helm-charts") == []


APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"


def root_app(**spec_changes: Any) -> dict[str, Any]:
    app: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "root", "namespace": "argocd", "finalizers": [P.ROOT_APP_FINALIZER]},
        "spec": {
            "project": "gitops-root",
            "source": {
                "repoURL": "https://github.com/example-org/gitops-cluster.git",
                "targetRevision": "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b",
                "path": "manifests/argocd/apps",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "argocd"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }
    app["spec"].update(spec_changes)
    return app


def app_args(app: Mapping[str, Any]) -> ResourceValidationArgs:
    return make_args(APPLICATION, app, name="root", provider=EXPLICIT_K8S)


def test_good_root_application_passes() -> None:
    assert violations(app_args(root_app())) == {}


def test_root_application_without_automated_sync_is_a_violation() -> None:
    messages = only(app_args(root_app(syncPolicy={})), "gitops-application-sync")
    assert messages == ["Application 'root' has no spec.syncPolicy.automated; Git would not be applied without a human"]
    half = only(app_args(root_app(syncPolicy={"automated": {"prune": True}})), "gitops-application-sync")
    assert half == ["Application 'root' sets spec.syncPolicy.automated.selfHeal=None; set it to true"]


@pytest.mark.parametrize("project", ["default", "", None])
def test_an_application_in_the_default_project_is_a_violation(project: str | None) -> None:
    messages = only(app_args(root_app(project=project)), "gitops-application-sync")
    assert messages == [
        "Application 'root' is in Argo CD's `default` project, which may deploy anything anywhere from any "
        "repository; put it in its own AppProject (components/gitops.py: the root in gitops-root)"
    ]


def test_root_application_without_finalizer_is_a_violation() -> None:
    app = root_app()
    app["metadata"]["finalizers"] = []
    messages = only(app_args(app), "gitops-application-sync")
    assert len(messages) == 1
    assert "lacks the finalizer resources-finalizer.argocd.argoproj.io" in messages[0]


@pytest.mark.parametrize("revision", ["HEAD", "main", "master", "", "v1.2.3", "3f2a9c1", "3f2a9c1d0b8e"])
def test_unlabelled_application_on_a_moving_revision_is_a_violation(revision: str) -> None:
    # Without the root's mode labels the strict reading applies: pinned, production.
    source = {"repoURL": "https://github.com/example-org/gitops-cluster.git", "targetRevision": revision}
    messages = only(app_args(root_app(source=source)), "gitops-application-sync")
    fix = (
        f"required: {gitops_rule.PIN_FIX}."
        if not revision
        else f"gitopsMode is 'pin': use {gitops_rule.PIN_FIX} (to follow a branch, set gitopsMode to 'track' on a "
        "development stack)."
    )
    assert messages == [f"Application 'root' violates gitops-cluster:gitopsRevision = {revision!r}: {fix}"]


# --- the dev stack under the mock runtime --------------------------------------------------------


def _split_provider_ref(ref: str) -> str:
    # A provider reference is "<provider urn>::<provider id>"; URNs contain "::" themselves.
    return ref.rsplit("::", 1)[0]


def _default_provider(reg: Registration, config: Mapping[str, Any]) -> PolicyProviderResource:
    # What the engine would hand the analyzer for a resource on a default provider: the package's
    # default provider, configured from the stack's `<package>:` keys.
    package = reg.type.split(":", 1)[0]
    props = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{package}:")}
    urn = f"urn:pulumi:dev::gitops-cluster::pulumi:providers:{package}::default"
    return PolicyProviderResource(f"pulumi:providers:{package}", props, urn, "default")


def adapt(reg: Registration, recording: Recording, config: Mapping[str, Any]) -> ResourceValidationArgs:
    """The `ResourceValidationArgs` pulumi-policy would build for this registration."""
    provider: PolicyProviderResource | None = None
    if reg.provider:
        prov = recording.by_urn(_split_provider_ref(reg.provider))
        provider = PolicyProviderResource(prov.type, prov.inputs, prov.urn, prov.name)
    elif reg.custom and not reg.type.startswith("pulumi:providers:"):
        provider = _default_provider(reg, config)
    opts = PolicyResourceOptions(
        reg.protect,
        reg.ignore_changes,
        reg.delete_before_replace,
        [],
        PolicyCustomTimeouts(0, 0, 0),
        reg.additional_secret_outputs,
        reg.parent or None,
    )
    return ResourceValidationArgs(reg.type, reg.inputs, reg.urn, reg.name, opts, provider, {})


@pytest.fixture(scope="module")
def dev_config() -> dict[str, Any]:
    return stack_config("dev")


def test_dev_stack_violates_no_policy(dev: Recording, dev_config: dict[str, Any]) -> None:
    found = {reg.urn: v for reg in dev.resources if (v := violations(adapt(reg, dev, dev_config)))}
    assert found == {}, json.dumps(found, indent=2)


@pytest.mark.parametrize("policy", [spec.name for spec in P.POLICIES])
def test_dev_stack_exercises_each_policy(dev: Recording, policy: str) -> None:
    # "No violation" only means something if the stack registers resources the policy inspects.
    spec = next(s for s in P.POLICIES if s.name == policy)
    in_scope = [reg.name for reg in dev.resources if spec.applies(reg.type)]
    assert in_scope, f"the dev stack registers nothing {policy} inspects"


def test_taggable_type_list_covers_what_the_program_creates(dev: Recording) -> None:
    import pulumi_aws

    missing = []
    for aws_type in sorted({r.type for r in dev.resources if r.type.startswith("aws:") and r.custom}):
        module_path, class_name = aws_type.split(":")[1].split("/")[0], aws_type.split(":")[2]
        module = getattr(pulumi_aws, module_path)
        cls = getattr(module, class_name)
        if "tags" in inspect.signature(cls._internal_init).parameters and aws_type not in P.TAGGABLE_AWS_TYPES:
            missing.append(aws_type)
    assert missing == [], f"add these taggable types to TAGGABLE_AWS_TYPES in policy/policies.py: {missing}"


def test_dev_stack_resources_turned_bad_are_caught(dev: Recording, dev_config: dict[str, Any]) -> None:
    # The same registrations, each broken in one way: proves the adapter feeds the rules the
    # shape they read, not just that they find nothing.
    node = next(
        r for r in dev.of_type("aws:ec2/instance:Instance") if r.inputs.get("tags", {}).get("role") != "bastion"
    )
    bad_node = copy.deepcopy(node)
    bad_node.inputs["metadataOptions"]["httpTokens"] = "optional"
    bad_node.inputs["rootBlockDevice"]["encrypted"] = False
    bad_node.inputs["associatePublicIpAddress"] = True
    found = violations(adapt(bad_node, dev, dev_config))
    assert set(found) == {"imdsv2-required", "encrypted-volumes", "no-public-ip-on-nodes"}
    assert all(node.name in m for ms in found.values() for m in ms)

    release = dev.one(RELEASE)
    bad_release = copy.deepcopy(release)
    bad_release.inputs["version"] = "7.x"
    bad_release.provider = ""
    assert set(violations(adapt(bad_release, dev, dev_config))) == {
        "pinned-helm-charts",
        "explicit-kubernetes-provider",
    }

    app = dev.one(APPLICATION)
    bad_app = copy.deepcopy(app)
    bad_app.inputs["spec"]["syncPolicy"]["automated"]["prune"] = False
    bad_app.inputs["metadata"]["finalizers"] = []
    assert len(violations(adapt(bad_app, dev, dev_config))["gitops-application-sync"]) == 2


# --- the pack as the engine runs it ---------------------------------------------------------------


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    # Pulumi starts `python policy/__main__.py` in the pack's virtualenv and reads the gRPC port
    # it prints; do the same with the project's interpreter (which has the pinned pulumi-policy).
    proc = subprocess.Popen(
        [sys.executable, "-u", str(POLICY_DIR / "__main__.py")],
        cwd=POLICY_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.isdigit():
            err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
            pytest.fail(f"policy pack did not start: {line!r} {err}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=10)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _request(resource_type: str, props: Mapping[str, Any], name: str) -> analyzer_pb2.AnalyzeRequest:
    struct = struct_pb2.Struct()
    struct.update(json.loads(json.dumps(props)))
    return analyzer_pb2.AnalyzeRequest(
        type=resource_type, properties=struct, urn=f"urn:pulumi:dev::gitops-cluster::{resource_type}::{name}", name=name
    )


def test_pack_declares_every_policy_as_mandatory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    from google.protobuf import empty_pb2

    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "gitops-cluster-policies"
    assert [p.name for p in info.policies] == [*(s.name for s in P.POLICIES), P.STACK_POLICY.name]
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}
    schema = next(p for p in info.policies if p.name == "allowed-instance-types").configSchema
    assert "allowedInstanceTypes" in json_format.MessageToDict(schema.properties)


def test_pack_reports_violations_over_grpc(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    bad = good_instance(metadataOptions={"httpTokens": "optional"}, instanceType="m5.large")
    response = analyzer.Analyze(_request("aws:ec2/instance:Instance", bad, "node"))
    by_policy = {d.policyName: d for d in response.diagnostics}
    assert {"imdsv2-required", "allowed-instance-types"} <= set(by_policy)
    assert "Instance 'node' allows IMDSv1" in by_policy["imdsv2-required"].message
    assert by_policy["imdsv2-required"].enforcementLevel == analyzer_pb2.MANDATORY
    assert analyzer.Analyze(_request(APPLICATION, root_app(), "root")).diagnostics[0].policyName == (
        "explicit-kubernetes-provider"
    )


def test_pack_config_widens_instance_types_over_grpc(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    props = struct_pb2.Struct()
    props.update({"allowedInstanceTypes": ["m5.large"]})
    config = analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY, properties=props)
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={"allowed-instance-types": config}))
    response = analyzer.Analyze(_request("aws:ec2/instance:Instance", good_instance(instanceType="m5.large"), "n"))
    assert [d.policyName for d in response.diagnostics if d.policyName == "allowed-instance-types"] == []
