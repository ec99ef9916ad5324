"""ansible/ checked with the real tools: syntax check, ansible-lint (production), yamllint, and
the kubeadm/Calico templates rendered by Ansible itself and read back.

The original playbook shipped as invalid YAML; here every file must parse, lint clean on the
production profile with no global skip list, and render the configuration kubeadm will validate.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.playbooks import ANSIBLE_DIR, PLAYBOOKS, playbook_roles
from components.settings.keys import default_versions
from tests.support.paths import GOLDEN, ROOT
from tests.support.playbook import helper_pod_as_created, one, run, tool

# The golden inventory's endpoints: the internal one the nodes use, the public one for admins/CI.
ENDPOINT = "internal-gitops-dev-int-0123456789.elb.ap-northeast-2.amazonaws.com"
PUBLIC_ENDPOINT = "gitops-dev-api-0123456789.elb.ap-northeast-2.amazonaws.com"


@pytest.mark.ansible
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbooks_pass_the_syntax_check(extra_vars, playbook):
    # The 3-control-plane inventory: every play of site.yml targets a non-empty group there.
    inventory = GOLDEN / "inventory-3cp.yml"
    result = run([tool("ansible-playbook"), "-i", str(inventory), "-e", f"@{extra_vars}", "--syntax-check", playbook])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.ansible
def test_ansible_lint_production_profile_without_a_skip_list():
    config = yaml.safe_load((ANSIBLE_DIR / ".ansible-lint").read_text())
    assert config["profile"] == "production"
    for key in ("skip_list", "warn_list", "exclude_paths", "enable_list"):
        assert key not in config, f".ansible-lint must not carry a global {key}"
    # site.yml and upgrade.yml bring in every role (checked below); linting them rather than the
    # directory halves the run time. yamllint covers every YAML file of the tree.
    result = run([tool("ansible-lint"), "--offline", "-c", ".ansible-lint", "--profile", "production", *PLAYBOOKS])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


def test_the_playbooks_use_every_role():
    used = {
        r["role"]
        for playbook in PLAYBOOKS
        for play in yaml.safe_load((ANSIBLE_DIR / playbook).read_text())
        for r in play.get("roles", [])
    }
    assert used == {p.name for p in role_dirs()}, "a role that no playbook uses is neither run nor linted"


def test_storage_runs_on_the_first_control_plane_once_tainted_before_the_wait_for_every_node():
    plays = yaml.safe_load((ANSIBLE_DIR / "cluster.yml").read_text())
    index = {r["role"]: i for i, play in enumerate(plays) for r in play.get("roles", [])}
    # Its pod must not land on a node about to be tainted, and its helper pods tolerate the taints
    # node_config applies; it needs one schedulable node (its rollout waits for it), not every node
    # Ready, so it rolls out while the others become Ready (issue 25, docs/bootstrap.md).
    assert index["cluster_ready"] > index["storage"] > index["node_config"] > index["calico"]
    play = plays[index["storage"]]
    assert play["hosts"] == "control_plane[0]" and play["become"] is True
    assert "storage" in play["tags"]


def test_lint_exceptions_are_local_and_give_a_reason():
    for path in ANSIBLE_DIR.rglob("*.yml"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "noqa" in line:
                assert re.search(r"# noqa[: ]\s*[\w\[\]-]+\s+\S.{10,}", line), (
                    f"{path.relative_to(ROOT)}:{number}: a `# noqa <rule>` needs its reason on the same line"
                )


def test_yamllint():
    result = run([tool("yamllint"), "-c", ".yamllint", "--strict", "."])
    assert result.returncode == 0, result.stdout + result.stderr


def role_dirs() -> list[Path]:
    return sorted(p for p in (ANSIBLE_DIR / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", role_dirs(), ids=lambda p: p.name)
def test_role_defaults_are_prefixed_and_commented(role):
    defaults = role / "defaults" / "main.yml"
    assert defaults.exists(), f"{role.name} has no defaults/main.yml"
    keys = yaml.safe_load(defaults.read_text()) or {}
    for key in keys:
        assert key.startswith(f"{role.name}_"), f"{role.name}: variable {key} lacks the role prefix"
    # A variable follows its comment, or belongs to a group of variables under one comment.
    previous = ""
    for line in defaults.read_text().splitlines():
        if re.match(r"^[a-z_]+:", line):
            assert previous.startswith(("#", " ")) or re.match(r"^[a-z_]+:", previous), (
                f"{role.name}: {line.split(':')[0]} has no comment above it (or above its group)"
            )
        previous = line


def test_handlers_are_named_role_pipe_action():
    for handlers in (ANSIBLE_DIR / "roles").glob("*/handlers/main.yml"):
        for handler in yaml.safe_load(handlers.read_text()):
            assert re.match(r"^[A-Z][a-z_]+ \| [a-z]", handler["name"]), handler["name"]


def all_tasks(data: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for task in data or []:
        out.append(task)
        for key in ("block", "rescue", "always"):
            out.extend(all_tasks(task.get(key)))
    return out


def test_secrets_are_handled_under_no_log():
    tasks = {
        t["name"]: t
        for f in (ANSIBLE_DIR / "roles").glob("*/tasks/*.yml")
        for t in all_tasks(yaml.safe_load(f.read_text()))
    }
    for name in (
        "Run kubeadm init",
        "Create a short-lived join token on the first control-plane node",
        "Upload the control-plane certificates for the joining node",
        "Write the join configuration",
        "Validate the join configuration",
        "Run kubeadm join",
    ):
        assert tasks[name].get("no_log") is True, f"task {name!r} handles a token or key without no_log"


def test_a_node_failing_the_preflight_play_stops_every_host_before_kubeadm():
    # Behaviour: the node simulator's unreachable-node fault; here, that the first plays say so.
    plays = yaml.safe_load((ANSIBLE_DIR / "prepare.yml").read_text())
    wait, preflight = plays[0], plays[1]
    assert [r["role"] for r in wait["roles"]] == ["wait_for_nodes", "prepare_marker"]
    assert wait["hosts"] == "k8s_cluster" and wait["any_errors_fatal"] is True
    # Every node not prepared for this run's fingerprint (all of them on a new cluster).
    assert [r["role"] for r in preflight["roles"]] == ["preflight"]
    assert preflight["hosts"] == "k8s_cluster:!prepare_done" and preflight["any_errors_fatal"] is True
    # site.yml is both halves in order; kubeadm is in the second only.
    site = yaml.safe_load((ANSIBLE_DIR / "site.yml").read_text())
    assert [p["ansible.builtin.import_playbook"] for p in site] == ["prepare.yml", "cluster.yml"]
    assert "control_plane" not in playbook_roles(ANSIBLE_DIR, "prepare.yml")


def test_the_prepare_plays_mark_a_node_last_and_skip_only_marked_nodes():
    plays = yaml.safe_load((ANSIBLE_DIR / "prepare.yml").read_text())
    prepare = plays[2]
    assert prepare["hosts"] == "k8s_cluster:!prepare_done"
    # Roles run before a play's tasks; the handlers (containerd's restart) are flushed before the marker.
    assert prepare["tasks"][0].get("ansible.builtin.meta") == "flush_handlers"
    assert prepare["tasks"][-1]["ansible.builtin.import_role"] == {"name": "prepare_marker", "tasks_from": "write"}


def test_each_playbooks_files_are_its_roles_and_the_roles_they_include():
    """playbook_files (each command's `ansible:` trigger) lists a playbook's roles and the roles
    their tasks include: that is all a run can read while no role has meta dependencies or reads
    files by path."""
    for role in role_dirs():
        assert not (role / "meta").exists(), f"{role.name}: meta dependencies would escape playbook_files"
        for path in role.rglob("*.yml"):
            text = path.read_text()
            for key in ("role_path", "playbook_dir"):
                assert key not in text, f"{path.relative_to(ANSIBLE_DIR)} uses {key}"
    # containerd and kubernetes_packages run common's apt key tasks; so does the upgrade.
    for playbook in ("prepare.yml", "upgrade.yml"):
        assert "common" in playbook_roles(ANSIBLE_DIR, playbook), playbook
    for playbook in PLAYBOOKS:
        roles = playbook_roles(ANSIBLE_DIR, playbook)
        for name in roles:
            for path in (ANSIBLE_DIR / "roles" / name / "tasks").glob("*.yml"):
                for included in re.findall(r"(?:include|import)_role:\s*\n\s*name: (\w+)", path.read_text()):
                    assert included in roles, f"{playbook}: {name} includes {included}, missing from its files"


def test_the_prepare_roles_read_nothing_the_prepare_inventory_leaves_out():
    """The prepare command's inventory (render_inventory(None, ...)) has no cluster values: no
    endpoint, network, label or taint, so it can run before the load balancers exist."""
    cluster_only = ("cluster_api", "cluster_pod_cidr", "cluster_service", "cluster_name", "node_labels", "node_taints")
    for name in playbook_roles(ANSIBLE_DIR, "prepare.yml"):
        for path in (ANSIBLE_DIR / "roles" / name).rglob("*"):
            if path.is_file():
                used = [v for v in cluster_only if v in path.read_text()]
                assert not used, f"{path.relative_to(ANSIBLE_DIR)} reads {used}, which the prepare inventory lacks"


def test_init_and_join_are_guarded_by_what_a_finished_run_leaves():
    # The behaviour (a timed-out init or join recovers on the next run) is exercised in
    # tests/roles/test_ansible_roles_guards.py; here: the guards are not the files kubeadm writes early.
    init = yaml.safe_load((ANSIBLE_DIR / "roles/control_plane/tasks/init.yml").read_text())
    block = next(t for t in init if t.get("name") == "Initialise the control plane")
    assert block["when"] == "not control_plane_initialised | bool"
    names = [t["name"] for t in block["block"]]
    assert names.index("Run kubeadm init") < names.index("Mark the control plane initialised")
    init_task = next(t for t in block["block"] if t["name"] == "Run kubeadm init")
    assert "creates" not in init_task["ansible.builtin.command"]
    join = yaml.safe_load((ANSIBLE_DIR / "roles/node_join/tasks/main.yml").read_text())
    join_block = next(t for t in join if t.get("name") == "Join the node")
    assert join_block["when"] == "not node_join_done | bool"


# --- templates rendered by Ansible ------------------------------------------------------------

# Templates are rendered by Ansible's own templating (the lookup the template module uses),
# per host with the rendered inventory's vars; the tree callback writes each host's result.
RENDER_PLAY = """
- name: Render the bootstrap templates with each host's inventory vars
  hosts: k8s_cluster
  gather_facts: false
  vars_files:
    - {roles}/control_plane/defaults/main.yml
    - {roles}/node_join/defaults/main.yml
    - {roles}/calico/defaults/main.yml
    - {roles}/common/defaults/main.yml
  tasks:
    - name: Render the templates
      vars:
        node_join_control_plane: "{{{{ 'control_plane' in group_names }}}}"
        node_join_token: abcdef.0123456789abcdef
        node_join_ca_cert_hash: "sha256:{hash}"
        node_join_certificate_key: "{key}"
      ansible.builtin.debug:
        msg:
          init: "{{{{ lookup('ansible.builtin.template', '{roles}/control_plane/templates/kubeadm-config.yaml.j2') }}}}"
          join: "{{{{ lookup('ansible.builtin.template', '{roles}/node_join/templates/kubeadm-join.yaml.j2') }}}}"
          calico: "{{{{ lookup('ansible.builtin.template', '{roles}/calico/templates/installation.yaml.j2') }}}}"
          audit: "{{{{ lookup('ansible.builtin.template', '{roles}/control_plane/templates/audit-policy.yaml.j2') }}}}"
          sysctl: "{{{{ lookup('ansible.builtin.template', '{roles}/common/templates/sysctl.conf.j2') }}}}"
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, extra_vars) -> Path:
    """The rendered templates as files: <kind>-<host>.yaml under a temporary directory."""
    out = Path(tmp_path_factory.mktemp("rendered"))
    play = out / "render.yml"
    play.write_text(RENDER_PLAY.format(roles=ANSIBLE_DIR / "roles", hash="a" * 64, key="b" * 64))
    result = run(
        [
            *(tool("ansible-playbook"), "-i", str(GOLDEN / "inventory-3cp.yml"), "-e", f"@{extra_vars}"),
            *("--limit", "master-1,master-2,api-auth,redis", str(play)),
        ],
        extra_env={
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree",
            "ANSIBLE_CALLBACK_TREE_DIR": str(out / "tree"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for host_file in (out / "tree").iterdir():
        for kind, text in json.loads(host_file.read_text())["msg"].items():
            (out / f"{kind}-{host_file.name}.yaml").write_text(text)
    return out


def docs(path: Path) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all(path.read_text()) if d}


def args(component: dict[str, Any]) -> dict[str, str]:
    return {a["name"]: a["value"] for a in component["extraArgs"]}


def test_kubeadm_config_uses_the_endpoint_and_the_stack_networks(rendered):
    d = docs(rendered / "init-master-1.yaml")
    assert set(d) == {"InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"}
    init, cluster = d["InitConfiguration"], d["ClusterConfiguration"]
    # Metrics reachable from Prometheus on the monitoring node (tests/manifests/test_charts.py checks the
    # security groups against these too).
    every_address = "0.0.0.0"  # noqa: S104 - on purpose: the ports are open to the nodes only
    assert args(cluster["controllerManager"])["bind-address"] == every_address
    assert args(cluster["scheduler"])["bind-address"] == every_address
    assert args(cluster["etcd"]["local"])["listen-metrics-urls"] == "http://0.0.0.0:2381"
    assert d["KubeProxyConfiguration"]["metricsBindAddress"] == "0.0.0.0:10249"
    assert init["apiVersion"] == cluster["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert init["nodeRegistration"]["name"] == "master-1"
    assert init["localAPIEndpoint"]["advertiseAddress"] == "10.0.16.10"
    assert "bootstrapTokens" not in init and "certificateKey" not in init
    assert cluster["controlPlaneEndpoint"] == f"{ENDPOINT}:6443"
    sans = cluster["apiServer"]["certSANs"]
    assert ENDPOINT in sans and {"10.0.16.10", "10.0.16.11", "10.0.16.12"} <= set(sans)
    assert PUBLIC_ENDPOINT in sans, "admins and CI reach the API by the public endpoint's name"
    assert cluster["networking"] == {
        "podSubnet": "192.168.0.0/16",
        "serviceSubnet": "10.96.0.0/12",
        "dnsDomain": "cluster.local",
    }
    assert cluster["kubernetesVersion"] == f"v{default_versions()['kubernetes']}"
    assert cluster["clusterName"] == "gitops-dev"


def test_kubeadm_config_addresses_the_cis_items(rendered):
    d = docs(rendered / "init-master-1.yaml")
    cluster, kubelet = d["ClusterConfiguration"], d["KubeletConfiguration"]
    api = args(cluster["apiServer"])
    assert api["profiling"] == "false"
    assert api["audit-log-path"] == "/var/log/kubernetes/audit/audit.log"
    assert api["audit-policy-file"] == "/etc/kubernetes/audit/policy.yaml"
    assert int(api["audit-log-maxage"]) >= 30 and int(api["audit-log-maxbackup"]) >= 10
    assert int(api["audit-log-maxsize"]) >= 100
    assert api["tls-min-version"] == "VersionTLS12"
    assert all("GCM" in s or "CHACHA20" in s for s in api["tls-cipher-suites"].split(","))
    assert args(cluster["controllerManager"])["profiling"] == "false"
    assert args(cluster["controllerManager"])["terminated-pod-gc-threshold"] == "10"
    assert args(cluster["scheduler"])["profiling"] == "false"
    mounts = {v["mountPath"]: v for v in cluster["apiServer"]["extraVolumes"]}
    assert mounts["/etc/kubernetes/audit"]["readOnly"] is True
    assert mounts["/var/log/kubernetes/audit"]["readOnly"] is False
    assert kubelet["cgroupDriver"] == "systemd"
    assert kubelet["authentication"]["anonymous"]["enabled"] is False
    assert kubelet["authorization"]["mode"] == "Webhook"
    assert kubelet["protectKernelDefaults"] is True
    assert kubelet["readOnlyPort"] == 0
    assert kubelet["eventRecordQPS"] > 0 and kubelet["podPidsLimit"] > 0
    assert kubelet["tlsCipherSuites"] == api["tls-cipher-suites"].split(",")


def test_protect_kernel_defaults_has_its_sysctls(rendered):
    sysctl = dict(
        line.split(" = ") for line in (rendered / "sysctl-redis.yaml").read_text().splitlines() if " = " in line
    )
    # The values the kubelet checks when protectKernelDefaults is on.
    assert sysctl["vm.overcommit_memory"] == "1"
    assert sysctl["vm.panic_on_oom"] == "0"
    assert sysctl["kernel.panic"] == "10"
    assert sysctl["kernel.panic_on_oops"] == "1"
    assert sysctl["kernel.keys.root_maxkeys"] == "1000000"
    assert sysctl["kernel.keys.root_maxbytes"] == "25000000"
    assert sysctl["net.ipv4.ip_forward"] == "1"


def test_join_configurations(rendered):
    cp = docs(rendered / "join-master-2.yaml")["JoinConfiguration"]
    assert cp["controlPlane"]["certificateKey"] == "b" * 64
    assert cp["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] == "10.0.16.11"
    assert "taints" not in cp["nodeRegistration"], "control-plane nodes keep kubeadm's default taint"
    assert cp["discovery"]["bootstrapToken"]["apiServerEndpoint"] == f"{ENDPOINT}:6443"
    assert cp["discovery"]["bootstrapToken"]["caCertHashes"] == ["sha256:" + "a" * 64]

    redis = docs(rendered / "join-redis.yaml")["JoinConfiguration"]
    assert "controlPlane" not in redis
    assert redis["nodeRegistration"]["name"] == "redis"
    assert redis["nodeRegistration"]["taints"] == [
        {"key": "node-role.kubernetes.io/infrastructure", "value": "true", "effect": "NoSchedule"}
    ]
    api = docs(rendered / "join-api-auth.yaml")["JoinConfiguration"]
    assert api["nodeRegistration"]["taints"] == []


def test_calico_installation_is_vxlan_over_the_pod_cidr_with_images_from_quay(rendered):
    installation = docs(rendered / "calico-master-1.yaml")["Installation"]
    # Calico's images from quay.io, not the operator's default Docker Hub (anonymous pull limit
    # for 14 nodes behind one NAT address).
    assert installation["spec"]["registry"] == "quay.io/"
    network = installation["spec"]["calicoNetwork"]
    assert network["bgp"] == "Disabled"
    (pool,) = network["ipPools"]
    assert pool["cidr"] == "192.168.0.0/16"
    assert pool["encapsulation"] == "VXLAN"
    assert pool["natOutgoing"] == "Enabled"


def test_audit_policy_keeps_secret_values_out_of_the_log(rendered):
    policy = docs(rendered / "audit-master-1.yaml")["Policy"]
    secrets_rule = next(r for r in policy["rules"] if any("secrets" in g["resources"] for g in r.get("resources", [])))
    assert secrets_rule["level"] == "Metadata"


# --- the storage role's kustomization, rendered by Ansible and built by kustomize --------------


def test_storage_class_is_not_the_default_and_waits_for_the_first_consumer(storage):
    classes = [o for o in storage["default"] if o["kind"] == "StorageClass"]
    assert len(classes) == 1, "the kustomization must not add a second StorageClass"
    (sc,) = classes
    assert sc["metadata"]["name"] == "local-path"
    # gp3 (EBS, manifests/data/storage) is the default; local-path stays for data not yet moved.
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "false"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["reclaimPolicy"] == "Delete"
    assert sc["provisioner"] == "rancher.io/local-path"


def test_storage_manifest_is_the_pinned_release(storage):
    version = default_versions()["localPathProvisioner"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", version), f"localPathProvisioner must be an exact tag, not {version!r}"
    assert storage["url"] == (
        f"https://raw.githubusercontent.com/rancher/local-path-provisioner/{version}/deploy/local-path-storage.yaml"
    )


def test_storage_helper_pod_tolerates_the_node_tables_taints_with_a_pinned_image(storage):
    config = one(storage["default"], "ConfigMap")
    assert config["metadata"]["name"] == "local-path-config", "the provisioner mounts the ConfigMap by this name"
    assert {"setup", "teardown"} <= set(config["data"]), "upstream's scripts must survive the merge"
    paths = json.loads(config["data"]["config.json"])["nodePathMap"]
    assert paths == [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["/var/lib/local-path-provisioner"]}]

    helper = yaml.safe_load(config["data"]["helperPod.yaml"])
    assert helper["kind"] == "Pod"
    (container,) = helper["spec"]["containers"]
    assert container["image"] == default_versions()["localPathHelperImage"]
    assert re.search(r":[\w.-]+$", container["image"]) and not container["image"].endswith(":latest")
    # Every taint of the node table (read from the rendered inventory), tolerated exactly.
    inventory = yaml.safe_load((GOLDEN / "inventory-3cp.yml").read_text())
    table_taints = {
        (t["key"], t["value"], t["effect"])
        for group in inventory["all"]["children"]["k8s_cluster"]["children"].values()
        for host in group["hosts"].values()
        for t in host["node_taints"]
    }
    assert ("node-role.kubernetes.io/infrastructure", "true", "NoSchedule") in table_taints
    tolerated = {(t["key"], t.get("value"), t.get("effect")) for t in helper["spec"]["tolerations"]}
    assert table_taints <= tolerated
    assert len(helper["spec"]["tolerations"]) == len(tolerated), "each taint is tolerated once"


def test_storage_objects_validate_against_the_kubernetes_schemas(storage):
    import kubernetes_validate  # a dev dependency (pyproject.toml): missing means a broken install

    version = default_versions()["kubernetes"]
    config = one(storage["default"], "ConfigMap")
    for doc in (*storage["default"], yaml.safe_load(config["data"]["helperPod.yaml"])):
        kubernetes_validate.validate(doc, version, strict=True)


def test_storage_config_change_rolls_the_provisioner(storage):
    annotation = "gitops-cluster.io/config-checksum"
    default = one(storage["default"], "Deployment")["spec"]["template"]["metadata"]["annotations"][annotation]
    bumped = one(storage["bumped"], "Deployment")["spec"]["template"]["metadata"]["annotations"][annotation]
    assert re.fullmatch(r"[0-9a-f]{64}", default)
    assert bumped != default


def test_storage_namespace_carries_pod_security_labels_pinned_to_the_cluster_minor(storage):
    (namespace,) = [o for o in storage["default"] if o["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "local-path-storage"
    minor = "v" + ".".join(default_versions()["kubernetes"].split(".")[:2])
    prefix = "pod-security.kubernetes.io/"
    labels = {k: v for k, v in namespace["metadata"].get("labels", {}).items() if k.startswith(prefix)}
    # privileged: the helper pods mount a hostPath (tests/manifests/test_pod_security.py evaluates them).
    assert labels == {
        f"{prefix}enforce": "privileged",
        f"{prefix}enforce-version": minor,
        f"{prefix}warn": "restricted",
        f"{prefix}warn-version": minor,
        f"{prefix}audit": "restricted",
        f"{prefix}audit-version": minor,
    }


def test_storage_namespace_is_fenced_but_for_the_provisioners_dns_and_api_server(storage):
    policies = {p["metadata"]["name"]: p for p in storage["default"] if p["kind"] == "NetworkPolicy"}
    assert {p["metadata"]["namespace"] for p in policies.values()} == {"local-path-storage"}
    assert policies.pop("default-deny")["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    (allow,) = policies.values()
    spec = allow["spec"]
    assert spec["policyTypes"] == ["Egress"] and "ingress" not in spec
    provisioner = one(storage["default"], "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"]["matchLabels"].items() <= provisioner.items(), "the allow must select the provisioner"
    helper = helper_pod_as_created(storage["default"])
    assert not spec["podSelector"]["matchLabels"].items() <= helper["metadata"].get("labels", {}).items()
    # Exactly the DNS and API server egress every platform namespace gets (kube-dns by the label kube-system
    # really carries, UDP and TCP; 6443 on the private ranges the control-plane nodes are in).
    platform = ROOT / "manifests" / "infrastructure" / "network-policies" / "platform-base" / "policies.yaml"
    (same,) = [
        p for p in yaml.safe_load_all(platform.read_text()) if p["metadata"]["name"] == "allow-dns-and-api-server"
    ]
    assert spec["egress"] == same["spec"]["egress"]
    opened = {(p["protocol"], p["port"]) for rule in spec["egress"] for p in rule["ports"]}
    assert opened == {("UDP", 53), ("TCP", 53), ("TCP", 6443)}
