"""A review of what the dev stack registers, as a careful reader of `pulumi preview` would do it."""

from __future__ import annotations

import base64
import ipaddress
import json
import re

import yaml
from pulumi.runtime import mocks as pulumi_mocks

from components.security import RULES
from components.stack import OUTPUT_KEYS, SECRET_OUTPUT_KEYS
from components.user_data import PREPARE_SCRIPT
from tests.support.paths import ROOT
from tools.mock_pki import FAKE_CLUSTER_CA_PEM, FAKE_MINTED_KUBECONFIG
from tools.mockrun import run_program

INSTANCE = "aws:ec2/instance:Instance"
SUBNET = "aws:ec2/subnet:Subnet"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
DEV_NODES = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["gitops-cluster:nodes"]


def nodes_of(rec):
    return [r for r in rec.of_type(INSTANCE) if r.inputs["tags"]["role"] != "bastion"]


def sg_names(rec):
    return {r.urn: r.name for r in rec.of_type(SG)}


def sg_id_to_name(rec):
    # The mock gives each resource the id "<name>-id".
    return {f"{r.name}-id": r.name for r in rec.of_type(SG)}


# The node table.


def test_one_instance_per_node_of_the_table(dev):
    nodes = {r.inputs["tags"]["node"]: r for r in nodes_of(dev)}
    assert sorted(nodes) == sorted(n["name"] for n in DEV_NODES)
    for row in DEV_NODES:
        inst = nodes[row["name"]]
        assert inst.name == f"gitops-dev-{row['name']}"
        assert inst.inputs["instanceType"] == row["instanceType"], inst.name
        assert inst.inputs["rootBlockDevice"]["volumeSize"] == row["rootVolumeGb"], inst.name
        assert inst.inputs["tags"]["role"] == row["role"], inst.name
        assert inst.inputs["tags"]["cluster"] == "gitops-dev"
        assert inst.inputs["tags"]["Name"] == f"gitops-dev-{row['name']}"


def test_nodes_are_spread_over_the_private_subnets_of_three_azs(dev):
    private = {f"{r.name}-id": r for r in dev.of_type(SUBNET) if r.inputs["tags"]["tier"] == "private"}
    used = [private[r.inputs["subnetId"]].inputs["availabilityZone"] for r in nodes_of(dev)]
    assert set(used) == {"ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"}
    counts = [used.count(az) for az in set(used)]
    assert max(counts) - min(counts) <= 1


def test_every_instance_requires_imdsv2_and_encrypts_gp3(dev):
    for inst in dev.of_type(INSTANCE):
        md = inst.inputs["metadataOptions"]
        assert md["httpTokens"] == "required", inst.name
        # Hop limit 1 everywhere: no pod reaches the instance credentials (tests/unit/test_node_iam.py).
        assert md["httpPutResponseHopLimit"] == 1, inst.name
        root = inst.inputs["rootBlockDevice"]
        assert root["encrypted"] is True, inst.name
        assert root["volumeType"] == "gp3", inst.name


def test_only_the_bastion_has_a_public_ip(dev):
    public = [r.name for r in dev.of_type(INSTANCE) if r.inputs.get("associatePublicIpAddress")]
    assert public == ["gitops-dev-bastion"]
    bastion = dev.one(INSTANCE, "gitops-dev-bastion")
    subnet = next(r for r in dev.of_type(SUBNET) if f"{r.name}-id" == bastion.inputs["subnetId"])
    assert subnet.inputs["tags"]["tier"] == "public"
    for s in dev.of_type(SUBNET):
        assert s.inputs["mapPublicIpOnLaunch"] is False, s.name


def test_nodes_share_the_node_instance_profile_and_no_stored_key(dev):
    profile = dev.one("aws:iam/instanceProfile:InstanceProfile", "gitops-dev-node")
    # No key pair, no generated key: the kit pushes a key per run (EC2 Instance Connect).
    assert dev.of_type("aws:ec2/keyPair:KeyPair") == []
    assert dev.of_type("tls:index/privateKey:PrivateKey") == []
    for inst in [*nodes_of(dev), dev.one(INSTANCE, "gitops-dev-bastion")]:
        # Every node, the datastore nodes included: their pods have their own roles (IRSA).
        if inst.name != "gitops-dev-bastion":
            assert inst.inputs["iamInstanceProfile"] == profile.name, inst.name
        assert "keyName" not in inst.inputs, inst.name
        # An older instance keeps the key name it was created with (replace-on-change).
        assert "keyName" in inst.ignore_changes, inst.name
    assert "iamInstanceProfile" not in dev.one(INSTANCE, "gitops-dev-bastion").inputs
    # No managed policy at all (AmazonSSMManagedInstanceCore reads every parameter).
    assert dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []


def test_every_instance_installs_instance_connect_at_first_boot_and_keeps_its_user_data(dev):
    # Runs reach the bastion and the nodes only with keys pushed by EC2 Instance Connect: sshd must
    # have the package's AuthorizedKeysCommand, which not every AMI carries.
    bastion = dev.one(INSTANCE, "gitops-dev-bastion")
    config = yaml.safe_load(bastion.inputs["userData"].removeprefix("#cloud-config\n"))
    assert config == {"package_update": True, "packages": ["ec2-instance-connect"]}
    for inst in [*nodes_of(dev), bastion]:
        # A change would stop and start an older instance (and move the bastion's public IP).
        assert "userData" in inst.ignore_changes, inst.name
        if inst is not bastion:
            files = yaml.safe_load(inst.inputs["userData"].removeprefix("#cloud-config\n"))["write_files"]
            script = next(f["content"] for f in files if f["path"] == PREPARE_SCRIPT)
            install = script.split("apt-get -o Acquire::Retries=5 install", 1)[1].split("\n  apt-mark", 1)[0]
            assert "ec2-instance-connect" in install.split(), inst.name


# Network.


def test_subnets_follow_the_plan(dev):
    got = {(r.inputs["tags"]["tier"], r.inputs["availabilityZone"]): r.inputs["cidrBlock"] for r in dev.of_type(SUBNET)}
    assert got == {
        ("public", "ap-northeast-2a"): "10.0.0.0/24",
        ("public", "ap-northeast-2b"): "10.0.1.0/24",
        ("public", "ap-northeast-2c"): "10.0.2.0/24",
        ("private", "ap-northeast-2a"): "10.0.16.0/20",
        ("private", "ap-northeast-2b"): "10.0.32.0/20",
        ("private", "ap-northeast-2c"): "10.0.48.0/20",
    }
    vpc = dev.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"


def test_one_nat_by_default_and_one_per_az_on_request(dev, run_stack):
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1
    per_az = run_stack({"natGatewayPerAz": True})
    nats = per_az.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 3
    tables = [r for r in per_az.of_type("aws:ec2/routeTable:RouteTable") if "private" in r.name]
    assert len({t.inputs["routes"][0]["natGatewayId"] for t in tables}) == 3


def test_private_subnets_route_through_nat_and_public_through_the_igw(dev):
    for table in dev.of_type("aws:ec2/routeTable:RouteTable"):
        (route,) = table.inputs["routes"]
        assert route["cidrBlock"] == "0.0.0.0/0"
        if "private" in table.name:
            assert "natGatewayId" in route and "gatewayId" not in route, table.name
        else:
            assert route["gatewayId"].endswith("-igw-id"), table.name


# Security groups.


def ingress(rec):
    names = sg_id_to_name(rec)
    for r in rec.of_type(INGRESS):
        yield (
            names[r.inputs["securityGroupId"]].removeprefix("gitops-dev-"),
            r.inputs.get("fromPort"),
            r.inputs.get("toPort"),
            r.inputs.get("cidrIpv4") or names[r.inputs["referencedSecurityGroupId"]].removeprefix("gitops-dev-"),
            r,
        )


def test_no_ingress_is_open_to_the_world(dev):
    for _group, _lo, _hi, peer, r in ingress(dev):
        assert peer not in ("0.0.0.0/0", "::/0"), r.name
        if re.match(r"^[\d.]+/\d+$", peer):
            assert ipaddress.IPv4Network(peer).prefixlen >= 8, r.name


def test_ssh_only_from_admins_to_bastion_and_from_bastion_to_nodes(dev):
    ssh = {(group, peer) for group, lo, hi, peer, _ in ingress(dev) if lo is not None and lo <= 22 <= hi}
    assert ssh == {("bastion", "203.0.113.0/24"), ("cluster", "bastion")}


def test_api_port_only_from_api_cidrs_to_the_public_lb_and_from_nodes_to_the_internal_lb(dev):
    api = {(group, peer) for group, lo, hi, peer, _ in ingress(dev) if lo is not None and lo <= 6443 <= hi}
    assert api == {
        ("api-lb", "203.0.113.0/24"),  # apiCidrs: admins and CI
        ("api-internal-lb", "cluster"),  # the nodes, inside the VPC
        ("control-plane", "api-lb"),
        ("control-plane", "api-internal-lb"),
        ("control-plane", "cluster"),
    }
    # The nodes no longer come back in through the public endpoint: no NAT address is admitted.
    nat_ips = {f"{r.outputs.get('publicIp') or '198.51.100.20'}/32" for r in dev.of_type("aws:ec2/eip:Eip")}
    assert not nat_ips & {peer for _, _, _, peer, _ in ingress(dev)}


def test_etcd_only_between_control_plane_nodes(dev):
    etcd = [(group, peer) for group, lo, hi, peer, _ in ingress(dev) if lo == 2379]
    assert etcd == [("control-plane", "control-plane")]


def test_calico_vxlan_and_kubelet_only_inside_the_cluster(dev):
    rules = {(lo, r.inputs["ipProtocol"]): (group, peer) for group, lo, hi, peer, r in ingress(dev)}
    assert rules[(4789, "udp")] == ("cluster", "cluster")
    assert rules[(10250, "tcp")] == ("cluster", "cluster")
    assert not any(lo == 179 for _, lo, _, _, _ in ingress(dev)), "BGP is not needed in VXLAN mode"


def test_rule_table_and_registrations_agree(dev):
    assert len(dev.of_type(INGRESS)) == sum(1 for r in RULES if r.direction == "ingress")
    for _, _, _, _, r in ingress(dev):
        assert r.inputs["description"], r.name


def test_control_plane_nodes_carry_the_control_plane_group(dev):
    names = sg_id_to_name(dev)
    for inst in nodes_of(dev):
        groups = {names[g].removeprefix("gitops-dev-") for g in inst.inputs["vpcSecurityGroupIds"]}
        expected = {"cluster", "control-plane"} if inst.inputs["tags"]["role"] == "control-plane" else {"cluster"}
        assert groups == expected, inst.name


# API endpoint.


LB = "aws:lb/loadBalancer:LoadBalancer"
TG = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"


def endpoint(rec, lb_name):
    """The load balancer `lb_name` with its listener, target group and attachments."""
    # Wired by ARN; the mock's ARNs carry the resource name (tools/mockrun.py FakeCloud).
    lb = rec.one(LB, lb_name)
    (listener,) = [r for r in rec.of_type(LISTENER) if f"/net/{lb.name}/" in r.inputs["loadBalancerArn"]]
    tg_arn = listener.inputs["defaultActions"][0]["targetGroupArn"]
    (tg,) = [r for r in rec.of_type(TG) if tg_arn.endswith(f":{r.name}")]
    attachments = [r for r in rec.of_type(ATTACHMENT) if r.inputs["targetGroupArn"] == tg_arn]
    return lb, listener, tg, attachments


def subnet_tiers(rec, ids):
    subnets = {f"{r.name}-id": r for r in rec.of_type(SUBNET)}
    return [(subnets[i].inputs["tags"]["tier"], subnets[i].inputs["availabilityZone"]) for i in ids]


def test_two_api_endpoints_in_front_of_the_control_plane_checking_readyz(dev):
    # (gitops-dev-web is the public ALB of tests/unit/test_public_entry.py.)
    assert sorted(r.name for r in dev.of_type(LB)) == ["gitops-dev-api", "gitops-dev-int", "gitops-dev-web"]
    names = sg_id_to_name(dev)
    for lb_name, internal, tier, group in (
        ("gitops-dev-api", False, "public", "gitops-dev-api-lb"),
        ("gitops-dev-int", True, "private", "gitops-dev-api-internal-lb"),
    ):
        lb, listener, tg, attachments = endpoint(dev, lb_name)
        assert lb.inputs["loadBalancerType"] == "network" and lb.inputs["internal"] is internal, lb_name
        # The first two zones only, so azCount changes never replace it (tests/unit/test_cluster_identity.py).
        assert subnet_tiers(dev, lb.inputs["subnets"]) == [
            (tier, az) for az in ("ap-northeast-2a", "ap-northeast-2b")
        ], lb_name
        assert [names[g] for g in lb.inputs["securityGroups"]] == [group], lb_name
        assert lb.inputs["enableCrossZoneLoadBalancing"] is True, lb_name
        assert (listener.inputs["port"], listener.inputs["protocol"]) == (6443, "TCP"), lb_name
        assert tg.inputs["port"] == 6443 and tg.inputs["preserveClientIp"] == "false", lb_name
        # Ready, not just listening: kubeadm's RBAC lets anonymous requests read /readyz.
        check = tg.inputs["healthCheck"]
        assert (check["protocol"], check["port"], check["path"], check["matcher"]) == (
            "HTTPS",
            "6443",
            "/readyz",
            "200",
        ), lb_name
        assert [a.inputs["targetId"] for a in attachments] == ["gitops-dev-master-id"], lb_name


def test_nodes_use_the_internal_endpoint_and_people_the_public_one(dev):
    access = dev.one("gitops-cluster:access:ClusterAccess").outputs
    public, internal = access["api_endpoint_host"], access["internal_api_endpoint_host"]
    # The mock, like AWS, names only an internal load balancer `internal-...`.
    assert internal == "internal-gitops-dev-int-0123456789.elb.ap-northeast-2.amazonaws.com"
    assert public == "gitops-dev-api-0123456789.elb.ap-northeast-2.amazonaws.com"
    playbook = dev.one("command:local:Command", "gitops-dev-playbook")
    inventory = yaml.safe_load(playbook.inputs["environment"]["GC_INVENTORY"])["all"]["vars"]
    # controlPlaneEndpoint (kubelets, kube-proxy, joins) is the internal load balancer ...
    assert inventory["cluster_api_endpoint"] == internal
    # ... and the public one is a certificate SAN for admins and CI.
    assert inventory["cluster_api_public_endpoint"] == public
    assert dev.stack_outputs["apiEndpoint"] == f"https://{public}:6443"
    kubeconfig = yaml.safe_load(dev.stack_outputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://{public}:6443"


def test_one_nat_is_not_on_the_nodes_path_to_the_api(dev):
    """With natGatewayPerAz off (one NAT), the API path stays inside the VPC: the internal endpoint
    has its addresses in private subnets (of the first two AZs, which every node reaches over the
    VPC's local route), and no NAT is on the way."""
    lb = dev.one(LB, "gitops-dev-int")
    private = sorted(r.inputs["availabilityZone"] for r in dev.of_type(SUBNET) if r.inputs["tags"]["tier"] == "private")
    assert [az for tier, az in subnet_tiers(dev, lb.inputs["subnets"])] == private[:2]
    assert all(tier == "private" for tier, _ in subnet_tiers(dev, lb.inputs["subnets"]))
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1


def test_three_control_planes_are_all_behind_both_endpoints(run_stack):
    nodes = [dict(DEV_NODES[0], count=3), *DEV_NODES[1:]]
    rec = run_stack({"nodes": nodes})
    for lb_name in ("gitops-dev-api", "gitops-dev-int"):
        _, _, _, attachments = endpoint(rec, lb_name)
        targets = sorted(a.inputs["targetId"] for a in attachments)
        assert targets == ["gitops-dev-master-1-id", "gitops-dev-master-2-id", "gitops-dev-master-3-id"], lb_name


def test_load_balancer_names_fit_aws_limits_for_the_longest_cluster_name(run_stack):
    from components.access import AUTONAME_SUFFIX_LEN, AWS_LB_NAME_MAX

    rec = run_stack({"clusterName": "a" * 20})
    for r in [*rec.of_type(LB), *rec.of_type(TG)]:
        assert len(r.name) + AUTONAME_SUFFIX_LEN <= AWS_LB_NAME_MAX, f"{r.short} cannot be autonamed"


# The bootstrap waits for everything it uses.

COMMAND = "command:local:Command"
USED_BY_THE_PLAYBOOK = {
    "gitops-cluster:network:Network": (
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
    ),
    "gitops-cluster:security:ClusterSecurity": (
        INGRESS,
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    ),
    "gitops-cluster:nodes:ClusterNodes": (INSTANCE,),
    "gitops-cluster:access:ClusterAccess": (INSTANCE, LISTENER, ATTACHMENT),
}


def test_the_playbook_waits_for_everything_it_uses(dev, run_stack):
    for rec in (dev, run_stack({"natGatewayPerAz": True, "nodes": [dict(DEV_NODES[0], count=3), *DEV_NODES[1:]]})):
        playbook = rec.one(COMMAND, "gitops-dev-playbook")
        deps = set(playbook.dependencies)
        for component_type, kinds in USED_BY_THE_PLAYBOOK.items():
            component = rec.one(component_type)
            inside = [r for r in rec.descendants(component) if r.custom]
            for kind in kinds:
                assert any(r.type == kind for r in inside), f"{component.name} has no {kind}"
            # Direct dependencies of the command: the engine orders it after each of them.
            missing = [r.short for r in inside if r.urn not in deps]
            assert not missing, f"the playbook does not wait for {missing}"
    # The provider's credential is minted after the playbook and the upgrade step (an invoke that
    # depends on both), and ArgoCD is installed after them.
    provider = dev.one("pulumi:providers:kubernetes")
    for step in ("gitops-dev-playbook", "gitops-dev-upgrade"):
        assert dev.depends_on(provider, dev.one(COMMAND, step)), f"the provider's credential is minted before {step}"
    release = dev.one("kubernetes:helm.sh/v3:Release")
    assert dev.depends_on(release, dev.one(COMMAND, "gitops-dev-cluster-ca"))


# Structure: names, parents, providers.


def test_every_resource_is_named_from_its_component_and_parented(dev):
    components = {r.urn: r for r in dev.resources if not r.custom}
    for r in dev.resources:
        if r.type.startswith("pulumi:providers:") and r.name == "aws":
            continue
        if r.custom:
            assert r.parent in components, f"{r.short} has no component parent"
            assert r.name.startswith(components[r.parent].name), (
                f"{r.short} is not named from {components[r.parent].name}"
            )


def test_aws_resources_use_the_explicit_provider_with_default_tags(dev):
    provider = dev.one("pulumi:providers:aws", "aws")
    assert provider.inputs["region"] == "ap-northeast-2"
    tags = (
        json.loads(provider.inputs["defaultTags"])["tags"]
        if isinstance(provider.inputs["defaultTags"], str)
        else provider.inputs["defaultTags"]["tags"]
    )
    assert tags["cluster"] == "gitops-dev" and tags["managed-by"] == "pulumi"
    for r in dev.resources:
        if r.custom and r.type.startswith("aws:"):
            assert r.provider.startswith(provider.urn), r.short


def test_kubernetes_resources_use_the_explicit_cluster_provider(dev):
    (provider,) = dev.of_type("pulumi:providers:kubernetes")
    assert provider.is_secret("kubeconfig")
    k8s = [r for r in dev.resources if r.type.startswith("kubernetes:")]
    assert k8s, "no Kubernetes resources registered"
    for r in k8s:
        assert r.provider.startswith(provider.urn), f"{r.short} uses {r.provider or 'the default provider'}"


def test_default_kubernetes_provider_is_disabled_for_every_stack():
    config = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert config["pulumi:disable-default-providers"] == {"value": ["kubernetes"]}
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        stack = yaml.safe_load(stack_file.read_text())["config"]
        assert "pulumi:disable-default-providers" not in stack, f"{stack_file.name} overrides it"


# Outputs and secrets.


def test_outputs_contract(dev):
    assert set(dev.stack_outputs) == set(OUTPUT_KEYS) | set(SECRET_OUTPUT_KEYS)
    assert set(dev.stack_output_secret_paths) == set(SECRET_OUTPUT_KEYS)
    nodes = dev.stack_outputs["nodes"]
    assert [n["name"] for n in nodes] == [r["name"] for r in DEV_NODES]
    assert set(nodes[0]) == {"name", "role", "instanceType", "availabilityZone", "instanceId", "privateIp"}
    assert all(ipaddress.IPv4Address(n["privateIp"]) in ipaddress.IPv4Network("10.0.0.0/8") for n in nodes)
    assert dev.stack_outputs["gitops"] == {
        "repoUrl": "https://github.com/example-org/gitops-cluster.git",
        # What Pulumi.dev.yaml says ArgoCD follows (the dev stack tracks a branch).
        "revision": yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["gitops-cluster:gitopsRevision"],
        "path": "manifests/argocd/apps",
    }


def test_readme_documents_every_output_key():
    readme = (ROOT / "README.md").read_text()
    for key in (*OUTPUT_KEYS, *SECRET_OUTPUT_KEYS):
        assert f'"{key}"' in readme, f"README.md does not document output {key}"


def _plain_text(rec) -> str:
    """Everything a log or `pulumi stack output` (without --show-secrets) could show."""
    parts = []
    for r in rec.resources:
        plain_inputs = {k: v for k, v in r.inputs.items() if not r.is_secret(k)}
        parts.append(json.dumps(plain_inputs, default=str))
        plain_outputs = {k: v for k, v in r.outputs.items() if not any(p.startswith(k) for p in r.output_secret_paths)}
        parts.append(json.dumps(plain_outputs, default=str))
    parts.append(
        json.dumps({k: v for k, v in rec.stack_outputs.items() if k not in rec.stack_output_secret_paths}, default=str)
    )
    return "\n".join(parts)


def test_generated_secrets_never_appear_in_plain_text(dev):
    text = _plain_text(dev)
    minted_key = yaml.safe_load(FAKE_MINTED_KUBECONFIG)["users"][0]["user"]["client-key-data"]
    for secret in ("MOCK-GENERATED-KEY", "mock-generated-password", "$2a$10$mock", minted_key):
        assert secret not in text, f"{secret!r} leaked into a plain input or output"


def test_kubeconfig_output_points_at_the_api_endpoint_with_an_exec_user_and_no_credential(dev):
    assert "kubeconfig" in dev.stack_output_secret_paths
    kubeconfig = yaml.safe_load(dev.stack_outputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == dev.stack_outputs["apiEndpoint"]
    ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    assert ca == FAKE_CLUSTER_CA_PEM
    (user,) = kubeconfig["users"]
    assert set(user["user"]) == {"exec"}, "the exported kubeconfig must hold no client key, certificate or token"
    assert user["user"]["exec"]["command"] == "tools/kube-credential"
    assert user["user"]["exec"]["args"][:2] == ["--stack", "dev"]


def test_private_ips_are_the_same_on_every_run(dev, run_stack):
    again = run_stack()
    assert again.stack_outputs["nodes"] == dev.stack_outputs["nodes"]


class _BareMocks(pulumi_mocks.Mocks):
    """The test double most harnesses write: inputs echoed back, invokes answered with nothing."""

    def new_resource(self, args):
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args):
        return {}


def test_program_runs_under_a_bare_test_double():
    rec = run_program("dev", mocks=_BareMocks())
    subnets = {r.inputs["availabilityZone"] for r in rec.of_type(SUBNET)}
    assert subnets == {"ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"}
    assert len(nodes_of(rec)) == len(DEV_NODES)
    assert set(rec.stack_output_secret_paths) == set(SECRET_OUTPUT_KEYS)
