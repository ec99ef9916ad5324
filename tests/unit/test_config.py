"""Bad config stops the program with one message naming every key, value and fix; nothing is registered.

Each case runs the real program (`__main__.py`) under the mock runtime with the dev stack's
config plus one override, exactly as `pulumi up` would receive it.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re

import pytest
import yaml

from components.settings.glue import config_in_use
from components.settings.keys import with_defaults
from components.settings.messages import ConfigError
from components.settings.model import NodeRole
from components.settings.parse import parse_settings
from components.subnets import SubnetPlanError, derive_subnet_plan
from tests.support.fakes import FAKE_SSH_PRIVATE_KEY, FAKE_SSH_PUBLIC_KEY
from tests.support.paths import ROOT

DEV = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
DEV_NODES = DEV["gitops-cluster:nodes"]


def nodes_with(change) -> list[dict]:
    nodes = copy.deepcopy(DEV_NODES)
    change(nodes)
    return nodes


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"vpcCidr": "10.0.0/16"}, r"vpcCidr = '10\.0\.0/16': not a CIDR"),
        (
            {"vpcCidr": "10.0.0.1/16"},
            r"vpcCidr = '10\.0\.0\.1/16': host bits are set; use the network address '10\.0\.0\.0/16'",
        ),
        ({"vpcCidr": "10.0.0.0/26"}, r"vpcCidr = '10\.0\.0\.0/26'.*use /16 to /24"),
        (
            {"publicSubnetCidrs": ["10.1.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]},
            r"publicSubnetCidrs = '10\.1\.0\.0/24': outside the VPC 10\.0\.0\.0/16",
        ),
        (
            {"privateSubnetCidrs": ["10.0.16.0/20", "10.0.16.0/21", "10.0.48.0/20"]},
            r"privateSubnetCidrs = '10\.0\.16\.0/21': overlaps privateSubnetCidrs \(10\.0\.16\.0/20\)",
        ),
        (
            {"publicSubnetCidrs": ["10.0.0.0/24"]},
            r"publicSubnetCidrs = \['10\.0\.0\.0/24'\]: give exactly one subnet per AZ \(3\)",
        ),
        ({"podCidr": "10.0.128.0/17"}, r"podCidr = '10\.0\.128\.0/17': overlaps vpcCidr"),
        ({"serviceCidr": "192.168.0.0/20"}, r"serviceCidr = '192\.168\.0\.0/20': overlaps podCidr"),
        ({"azCount": 1}, r"azCount = 1: at least 2 availability zones"),
        ({"adminCidrs": ["0.0.0.0/0"]}, r"adminCidrs\[0\] = '0\.0\.0\.0/0': SSH open to the world"),
        ({"adminCidrs": ["::/0"]}, r"adminCidrs\[0\] = '::/0': SSH open to the world"),
        ({"apiCidrs": ["0.0.0.0/0"]}, r"apiCidrs\[0\] = '0\.0\.0\.0/0': the Kubernetes API open to the world"),
        ({"adminCidrs": []}, r"adminCidrs = \[\]: must list at least one CIDR"),
        (
            {"gitopsRepoUrl": "git@github.com:example-org/gitops-cluster.git"},
            r"gitopsRepoUrl = 'git@github\.com:.*must be an https:// URL",
        ),
        (
            {"gitopsRepoUrl": "http://github.com/example-org/gitops-cluster.git"},
            r"gitopsRepoUrl = 'http://.*must be an https:// URL",
        ),
        ({"gitopsRepoUrl": ""}, r"gitopsRepoUrl = '': required"),
        # The dev stack tracks main; pinned stacks refuse branches (tests/unit/test_gitops_modes.py has the rest).
        (
            {"gitopsMode": "pin", "gitopsRevision": "main"},
            r"gitopsRevision = 'main': gitopsMode is 'pin': use a full 40-hex commit SHA",
        ),
        ({"gitopsRevision": "HEAD"}, r"gitopsRevision = 'HEAD': gitopsMode is 'track': name the branch"),
        (
            {"versions": {"kubernetes": "latest"}},
            r"versions\.kubernetes = 'latest': 'latest' moves; pin an exact version",
        ),
        ({"versions": {"argoCdChart": "stable"}}, r"versions\.argoCdChart = 'stable': 'stable' moves"),
        ({"versions": {"calico": "^3.29"}}, r"versions\.calico = '\^3\.29': a range or wildcard"),
        ({"versions": {"kubernetes": "1.31.x"}}, r"versions\.kubernetes = '1\.31\.x': a range or wildcard"),
        ({"versions": {"kubernetes": ""}}, r"versions\.kubernetes = '': empty; pin an exact version"),
        ({"versions": {"kubernetess": "1.31.4"}}, r"versions\.kubernetess = '1\.31\.4': unknown version key"),
        ({"clusterName": "Gitops_Dev"}, r"clusterName = 'Gitops_Dev': a DNS label"),
        ({"bastionInstanceType": "t3micro"}, r"bastionInstanceType = 't3micro': not an EC2 instance type"),
        ({"aws:region": None}, r"aws:region = None: set the AWS region"),
        ({"natGatewayPerAz": "yes"}, r"natGatewayPerAz = 'yes': expected true or false"),
    ],
)
def test_bad_value_is_named_with_its_fix(config_error, overrides, expected):
    err = config_error(overrides)
    assert len(err.problems) == 1, str(err)
    assert re.search(expected, str(err)), str(err)
    assert "nothing was created" in str(err)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda n: n.pop(0), r"no node has role 'control-plane'"),
        (lambda n: n.insert(1, {**n[0], "name": "master-2"}), r"2 control-plane nodes: etcd needs an odd number"),
        (
            lambda n: n[1].__setitem__("count", 0),
            r"nodes\[api-auth\]\.count = 0: a pool count is a whole number of at least 1",
        ),
        (
            lambda n: n[2].__setitem__("name", "api-auth"),
            r"nodes\[api-auth\]\.name = 'api-auth': node names must be unique",
        ),
        (
            lambda n: n[1].__setitem__("instanceType", "t3.huge"),
            r"nodes\[api-auth\]\.instanceType = 't3\.huge': not an EC2 instance type",
        ),
        (lambda n: n[1].__setitem__("instanceType", "micro"), r"instanceType = 'micro': not an EC2 instance type"),
        (
            lambda n: n[1]["labels"].__setitem__("bad key!", "x"),
            r"nodes\[api-auth\]\.labels = 'bad key!': invalid label key",
        ),
        (
            lambda n: n[1]["labels"].__setitem__("domain", "-auth"),
            r"nodes\[api-auth\]\.labels\.domain = '-auth': invalid label value",
        ),
        (
            lambda n: n[1]["labels"].__setitem__("Example.COM/x", "y"),
            r"invalid label key: its prefix must be a DNS subdomain",
        ),
        (
            lambda n: n[-1]["taints"][0].__setitem__("effect", "NoScheduel"),
            r"nodes\[monitoring\]\.taints\[0\]\.effect = 'NoScheduel': "
            r"the effect must be one of NoSchedule, PreferNoSchedule, NoExecute",
        ),
        (
            lambda n: n[-1]["taints"][0].__setitem__("key", "bad key"),
            r"taints\[0\]\.key = 'bad key': invalid taint key",
        ),
        (
            lambda n: n[1].__setitem__("rootVolumeGb", 4),
            r"nodes\[api-auth\]\.rootVolumeGb = 4: the root volume is a whole number of GiB from 20",
        ),
        (
            lambda n: n[1].__setitem__("role", "database"),
            r"nodes\[api-auth\]\.role = 'database': the role must be one of control-plane, api, worker, infrastructure",
        ),
        (lambda n: n[1].__setitem__("instancetype", "t3.micro"), r"nodes\[1\] = \['instancetype'\]: unknown keys"),
    ],
)
def test_bad_node_table_is_named_with_its_fix(config_error, change, expected):
    err = config_error({"nodes": nodes_with(change)})
    assert re.search(expected, str(err)), str(err)


def test_every_problem_is_reported_at_once(config_error):
    err = config_error(
        {
            "vpcCidr": "10.0.0.1/16",
            "adminCidrs": ["0.0.0.0/0"],
            "gitopsRevision": "HEAD",
            "versions": {"kubernetes": "latest"},
            "nodes": nodes_with(lambda n: n[1].__setitem__("count", 0)),
        }
    )
    keys = sorted(p.key for p in err.problems)
    assert keys == ["adminCidrs[0]", "gitopsRevision", "nodes[api-auth].count", "versions.kubernetes", "vpcCidr"]
    assert str(err).count("\n  - gitops-cluster:") == 5


def test_missing_node_table_says_where_its_shape_is(config_error):
    err = config_error({"nodes": None})
    assert "nodes = None: the node table is required; see Pulumi.dev.yaml" in str(err)


def test_the_retired_ssh_keys_are_refused_with_their_removal(config_error):
    err = config_error({"sshPublicKey": FAKE_SSH_PUBLIC_KEY})
    assert f"sshPublicKey = '{FAKE_SSH_PUBLIC_KEY}': the stack no longer installs a stored SSH key" in str(err)
    assert "Remove it with `pulumi config rm sshPublicKey`" in str(err)
    err = config_error(secrets={"sshPrivateKey": FAKE_SSH_PRIVATE_KEY})
    assert "sshPrivateKey = '<secret>': the stack no longer installs a stored SSH key" in str(err)
    assert "Remove it with `pulumi config rm sshPrivateKey`" in str(err)
    # The secret value itself never appears in the message.
    assert "FAKE-USER-SUPPLIED-KEY" not in str(err)


def test_malformed_structured_value_is_reported_not_crashed(config_error):
    err = config_error({"nodes": "master,api-auth"})
    assert "nodes = 'master,api-auth': expected a non-empty list" in str(err)


# Pure parsing: the pieces behind the messages.


def dev_values(**changes):
    values = {k.split(":", 1)[1]: v for k, v in DEV.items() if k.startswith("gitops-cluster:")}
    values["awsRegion"] = DEV["aws:region"]
    values.update(changes)
    return with_defaults(values)


def test_dev_settings_match_the_design_table():
    s = parse_settings(dev_values())
    assert s.region == "ap-northeast-2"
    assert s.vpc_cidr == ipaddress.IPv4Network("10.0.0.0/16")
    assert len(s.nodes) == 14
    table = {n.name: (n.role, n.instance_type, n.root_volume_gb) for n in s.nodes}
    assert table["master"] == (NodeRole.CONTROL_PLANE, "t3.large", 80)
    for d in ("auth", "my", "character", "location", "info"):
        assert table[f"api-{d}"] == (NodeRole.API, "t3.micro", 20)
    for d in ("scan", "chat"):
        assert table[f"api-{d}"] == (NodeRole.API, "t3.small", 30)
    assert table["postgresql"] == (NodeRole.INFRASTRUCTURE, "t3.medium", 80)
    assert table["monitoring"] == (NodeRole.INFRASTRUCTURE, "t3.medium", 60)
    infra = [n for n in s.nodes if n.role is NodeRole.INFRASTRUCTURE]
    assert {n.name for n in infra} == {"rabbitmq", "postgresql", "redis", "monitoring"}
    for n in infra:
        assert [str(t) for t in n.taints] == ["node-role.kubernetes.io/infrastructure=true:NoSchedule"]
    api_auth = next(n for n in s.nodes if n.name == "api-auth")
    assert dict(api_auth.labels) == {"node-role.kubernetes.io/api": "auth", "workload": "api", "domain": "auth"}
    assert s.nodes[0].role is NodeRole.CONTROL_PLANE


def test_pools_expand_with_numbered_names():
    nodes = nodes_with(
        lambda n: n.append(
            {"name": "worker", "role": "worker", "instanceType": "t3.small", "rootVolumeGb": 40, "count": 3}
        )
    )
    s = parse_settings(dev_values(nodes=nodes))
    assert [n.name for n in s.nodes if n.name.startswith("worker-") and n.name[-1].isdigit()] == [
        "worker-1",
        "worker-2",
        "worker-3",
    ]


def test_three_control_planes_are_accepted_and_first():
    nodes = nodes_with(lambda n: n.__setitem__(0, {**n[0], "count": 3}))
    s = parse_settings(dev_values(nodes=nodes))
    assert [n.name for n in s.control_plane] == ["master-1", "master-2", "master-3"]
    assert all(n.role is NodeRole.CONTROL_PLANE for n in s.nodes[:3])


def test_defaults_come_from_pulumi_yaml_only():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    s = parse_settings(dev_values())
    assert str(s.pod_cidr) == project["podCidr"]["default"]
    assert str(s.service_cidr) == project["serviceCidr"]["default"]
    assert s.gitops.path == project["gitopsPath"]["default"]
    # Falsy values are values, not "unset": false stays false.
    assert parse_settings(dev_values(natGatewayPerAz=False)).nat_gateway_per_az is False


def test_every_declared_key_has_type_description_and_default():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    for key, decl in project.items():
        if ":" in key:
            assert set(decl) == {"value"}, f"{key} sets another namespace's value only"
            continue
        assert decl.get("type") in ("string", "integer", "boolean", "array"), key
        assert decl.get("description"), key
        # The CLI demands a stack value for a declared key without a default (tools/cli_config.py).
        assert "default" in decl, f"{key} has no default"
        assert not decl.get("secret"), f"{key}: an optional secret is read undeclared (components/settings/keys.py)"


def test_derived_subnet_plan():
    plan = derive_subnet_plan(ipaddress.IPv4Network("10.0.0.0/16"), 3)
    assert [str(n) for n in plan.public] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    assert [str(n) for n in plan.private] == ["10.0.16.0/20", "10.0.32.0/20", "10.0.48.0/20"]
    with pytest.raises(SubnetPlanError, match="too small"):
        derive_subnet_plan(ipaddress.IPv4Network("10.0.0.0/24"), 2)


def test_config_error_is_an_exception_with_all_problems():
    with pytest.raises(ConfigError) as info:
        parse_settings(dev_values(azCount=0, podCidr="nope"))
    assert {p.key for p in info.value.problems} == {"azCount", "podCidr"}


def test_config_in_use_sees_every_key_however_the_engine_passed_it(monkeypatch):
    """The CLI's language host passes PULUMI_CONFIG (and the secret keys); mocks call set_all_config."""
    from pulumi.runtime import config as runtime_config

    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"gitops-cluster:natGatewayPerAZ": "true"}))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["gitops-cluster:sshPrivateKey"]))
    token = runtime_config.CONFIG.set({"gitops-cluster:sshPrivateKey": "x", "aws:region": "ap-northeast-2"})
    try:
        in_use = config_in_use()
    finally:
        runtime_config.CONFIG.reset(token)
    assert in_use == {
        "gitops-cluster:natGatewayPerAZ": False,
        "gitops-cluster:sshPrivateKey": True,
        "aws:region": False,
    }


def test_unknown_keys_are_named_in_every_form_the_cli_accepts():
    keys = {"gitops-cluster:config:gitopsRevison": "v1.0.0", "gitops-cluster:clusterName": "x", "pulumi:tags": "{}"}
    with pytest.raises(ConfigError) as info:
        parse_settings(dev_values(), config_keys=keys)
    assert [str(p) for p in info.value.problems] == [
        "gitopsRevison = 'v1.0.0': unknown key of this stack; did you mean 'gitopsRevision'?"
    ]


def test_unknown_keys_handed_to_parse_settings_directly_are_refused_too():
    with pytest.raises(ConfigError) as info:
        parse_settings(dev_values(natGatewayPerAZ=True))
    assert [p.key for p in info.value.problems] == ["natGatewayPerAZ"]
    assert "did you mean 'natGatewayPerAz'?" in str(info.value)
