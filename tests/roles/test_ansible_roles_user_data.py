"""Node preparation at first boot (components/user_data.py) and what it must never do later.

The user data is rendered by a pure function (tested here as text, as YAML and with bash and
shellcheck); under the mock runtime every node instance carries it, and a change of the versions
table (Kubernetes, containerd, Calico, the AMI) leaves every input that would stop, start or
replace a running node as it was, or in the instance's ignore_changes.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import jinja2
import pytest
import yaml

from components.playbooks import ANSIBLE_DIR
from components.settings.keys import default_versions
from components.settings.model import NodeRole
from components.user_data import PREPARE_SCRIPT, render_user_data
from tests.support.prereqs import require_tool
from tools.mockrun import FakeCloud

INSTANCE = "aws:ec2/instance:Instance"


def cloud_config(role: NodeRole) -> dict[str, Any]:
    text = render_user_data(default_versions(), role)
    assert text.startswith("#cloud-config\n"), "cloud-init reads a cloud-config only with this first line"
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def script(role: NodeRole) -> str:
    (entry,) = [f for f in cloud_config(role)["write_files"] if f["path"] == PREPARE_SCRIPT]
    assert entry["permissions"] == "0755"
    content: str = entry["content"]
    return content


def test_the_apt_timers_stop_at_first_boot_before_they_take_the_dpkg_lock():
    config = cloud_config(NodeRole.API)
    (command,) = config["bootcmd"]
    # bootcmd runs before network-online.target, which apt-daily*.service wait for; once only.
    assert command[:3] == ["cloud-init-per", "once", "gitops-cluster-stop-apt"]
    stop = command[-1]
    for unit in ("apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service", "apt-daily-upgrade.service"):
        assert unit in stop.split()
    assert config["runcmd"] == [[PREPARE_SCRIPT]]
    # ...and start again once preparation is over, whatever happened.
    assert script(NodeRole.API).rstrip().splitlines()[-2:] == [
        "systemctl start apt-daily.timer apt-daily-upgrade.timer || true",
        "exit 0",
    ]


def test_the_pinned_packages_are_installed_and_held():
    v = default_versions()
    package = f"{v['kubernetes']}-{v['kubernetesPackageRevision']}"
    text = script(NodeRole.WORKER)
    assert f"containerd=$(pinned_version containerd.io {v['containerd']})" in text
    assert '"containerd.io=${containerd:?' in text
    for name in ("kubeadm", "kubelet", "kubectl"):
        assert f"{name}={package}" in text
    assert "apt-mark hold containerd.io kubeadm kubelet kubectl" in text
    minor = ".".join(v["kubernetes"].split(".")[:2])
    assert f"https://pkgs.k8s.io/core:/stable:/v{minor}/deb/" in text
    assert "https://download.docker.com/linux/ubuntu" in text


def test_images_are_pre_pulled_by_role_and_none_from_docker_hub():
    v = default_versions()
    control_plane, worker = script(NodeRole.CONTROL_PLANE), script(NodeRole.INFRASTRUCTURE)
    assert f"kubeadm config images list --kubernetes-version v{v['kubernetes']} | cat)" in control_plane
    assert "grep -E '/(kube-proxy|pause):'" in worker
    for text in (control_plane, worker):
        assert f"quay.io/calico/node:{v['calico']}" in text and f"quay.io/calico/cni:{v['calico']}" in text
        assert re.search(rf" {re.escape(v['calicoOperatorImage'])}[;\"]", text), (
            "the tigera-operator image is not pre-pulled"
        )
        assert "docker.io" not in text
        assert "ctr --namespace k8s.io images pull" in text


@pytest.mark.parametrize("role", list(NodeRole), ids=lambda r: r.value)
def test_the_script_is_valid_bash_and_shellcheck_clean(role, tmp_path):
    path = tmp_path / "prepare.sh"
    path.write_text(script(role))
    bash = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert bash.returncode == 0, bash.stderr
    shellcheck = require_tool("shellcheck", "Debian package shellcheck; .ci/run installs it")
    result = subprocess.run([shellcheck, "-s", "bash", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_a_failed_step_stops_the_preparation_but_never_fails_cloud_init(tmp_path):
    # Never run the real preparation here (it writes apt sources and holds packages on this
    # machine): its body is replaced by a failing step and a step that must not run, and
    # systemctl by echo; what runs is the script's own control flow around it.
    text = script(NodeRole.WORKER)
    body = re.search(r"^prepare\(\) \{$.*?^\}$", text, re.MULTILINE | re.DOTALL)
    assert body is not None
    harness = text.replace(body.group(0), "prepare() {\n  set -e\n  false\n  echo STEP-AFTER-FAILURE\n}")
    harness = harness.replace("systemctl start", "echo would start")
    assert "apt-get" not in harness and "apt-mark" not in harness and "systemctl" not in harness
    path = tmp_path / "prepare.sh"
    path.write_text(harness)
    result = subprocess.run(["bash", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr  # cloud-init status stays clean
    assert "STEP-AFTER-FAILURE" not in result.stdout, "set -e must stop the preparation at the failed step"
    assert "preparation stopped early with status 1 (the playbook will finish it)" in result.stdout
    assert "would start apt-daily.timer apt-daily-upgrade.timer" in result.stdout


def test_images_are_pulled_all_at_once_and_a_failed_pull_is_logged_not_fatal(tmp_path):
    """The pre-pulls run in parallel: each stand-in `ctr` waits until every pull has started (a
    sequential loop would leave the first waiting alone until it gives up), one pull fails."""
    text = script(NodeRole.CONTROL_PLANE)
    loop = re.search(r"^  for image in .*?^  wait$", text, re.MULTILINE | re.DOTALL)
    assert loop is not None, "the pre-pull loop and its wait"
    images = ["registry.k8s.io/kube-apiserver:v1", "registry.k8s.io/etcd:3", "registry.k8s.io/pause:3"]
    expected = len(images) + len(re.findall(r"quay\.io/[^\s;]+", loop.group(0)))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubeadm").write_text("#!/bin/sh\nprintf '%s\\n' " + " ".join(images) + "\n")
    (bin_dir / "ctr").write_text(
        "#!/bin/bash\n"
        f'echo "$6" >> {tmp_path}/started\n'
        "for _ in $(seq 100); do\n"
        f'  [ "$(wc -l < {tmp_path}/started)" -ge {expected} ] && break\n'
        "  sleep 0.1\n"
        "done\n"
        f'[ "$(wc -l < {tmp_path}/started)" -ge {expected} ] || {{ echo alone >> {tmp_path}/alone; exit 1; }}\n'
        '[[ "$6" == *etcd* ]] && exit 1\n'
        f'echo "$6" >> {tmp_path}/pulled\n'
    )
    for tool in ("kubeadm", "ctr"):
        (bin_dir / tool).chmod(0o755)
    harness = f'log() {{ echo "gitops-cluster-prepare: $*"; }}\nrun() {{\n{loop.group(0)}\n}}\nrun\necho DONE\n'
    result = subprocess.run(
        ["bash", "-c", harness], capture_output=True, text=True, timeout=60, env={"PATH": f"{bin_dir}:/usr/bin:/bin"}
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "alone").exists(), "a pull waited alone: the pre-pulls ran one after another"
    assert result.stdout.rstrip().endswith("DONE"), "the loop must wait for every pull before it goes on"
    assert "could not pre-pull registry.k8s.io/etcd:3" in result.stdout
    pulled = (tmp_path / "pulled").read_text().split()
    assert len(pulled) == expected - 1 and "registry.k8s.io/etcd:3" not in pulled


def test_every_fetch_before_the_nat_route_has_a_bounded_connect_and_retry():
    """Until the NAT gateway routes, a connection gets no answer; without --connect-timeout each
    attempt would wait for the kernel's SYN retries, about two minutes, before the next retry."""
    text = script(NodeRole.WORKER)
    fetches = re.findall(r"curl [^\n]*(?:\\\n[^\n]*)*", text)
    assert len(fetches) == 2, fetches
    for fetch in fetches:
        assert re.search(r"--connect-timeout [1-9]\b", fetch), fetch
        assert re.search(r"--retry \d+", fetch) and "--retry-all-errors" in fetch, fetch
    assert "--retry-max-time 600" in fetches[0], "the first fetch waits for the route, for ten minutes at most"


# `apt-cache madison containerd.io` on Ubuntu 24.04 with Docker's repository (its format: package,
# version and source separated by " | "), versions as Docker publishes them for noble.
MADISON = """\
containerd.io | 2.3.5-1~ubuntu.24.04~noble | https://download.docker.com/linux/ubuntu noble/stable amd64 Packages
containerd.io | 2.3.4-1~ubuntu.24.04~noble | https://download.docker.com/linux/ubuntu noble/stable amd64 Packages
containerd.io | 2.3.4-10~ubuntu.24.04~noble | https://download.docker.com/linux/ubuntu noble/stable amd64 Packages
containerd.io | 2.2.1-1~ubuntu.24.04~noble | https://download.docker.com/linux/ubuntu noble/stable amd64 Packages
"""


@pytest.mark.parametrize(
    ("pin", "found"),
    [
        ("2.3.4-1", "2.3.4-1~ubuntu.24.04~noble"),
        ("2.2.1-1", "2.2.1-1~ubuntu.24.04~noble"),
        ("2.3.4", ""),
        ("2.9.9-1", ""),
    ],
)
def test_the_containerd_pin_picks_dockers_package_for_this_distribution(pin, found, tmp_path):
    text = script(NodeRole.WORKER)
    function = re.search(r"^pinned_version\(\) \{$.*?^\}$", text, re.MULTILINE | re.DOTALL)
    assert function is not None
    (tmp_path / "madison").write_text(MADISON)
    harness = (
        f"apt-cache() {{ cat {tmp_path / 'madison'}; }}\n{function.group(0)}\npinned_version containerd.io {pin}\n"
    )
    result = subprocess.run(["bash", "-c", harness], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == found


# --- on the stack ---------------------------------------------------------------------------------


class AmiByName(FakeCloud):
    """FakeCloud, with an AMI id that follows the AMI name (as AWS does)."""

    def call(self, args: Any) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "aws:ec2/getAmi:getAmi":
            name = args.args["filters"][0]["values"][0]
            ami = f"ami-{abs(hash(name)) % 10**12:012d}"
            return {"id": ami, "imageId": ami, "name": name}
        return super().call(args)


BUMPED = {
    "kubernetes": "1.37.1",
    "kubernetesPackageRevision": "1.1",
    "kubernetesPause": "3.10.3",
    "containerd": "2.3.5-1",
    "calico": "v3.33.2",
    "ubuntuAmiName": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20270101",
}


@pytest.fixture(scope="module")
def before_and_after(run_stack):
    before = run_stack(mocks=AmiByName())
    after = run_stack({"versions": BUMPED}, mocks=AmiByName())
    return before, after


def nodes(recording) -> dict[str, Any]:
    return {r.name: r for r in recording.of_type(INSTANCE) if "bastion" not in r.name}


def test_every_node_boots_with_its_user_data(before_and_after):
    before, _ = before_and_after
    found = nodes(before)
    assert len(found) == 14
    for name, reg in found.items():
        assert reg.inputs["userData"].startswith("#cloud-config\n"), name
        assert reg.inputs["userDataReplaceOnChange"] is False, name
    master = next(r for n, r in found.items() if n.endswith("-master"))
    assert "| cat)" in master.inputs["userData"], "the control plane pre-pulls every kubeadm image"


def test_a_versions_change_leaves_every_nodes_replace_forcing_inputs_alone(before_and_after):
    before, after = before_and_after
    old, new = nodes(before), nodes(after)
    assert old.keys() == new.keys()
    changed_somewhere = set()
    for name, reg in new.items():
        assert {"ami", "userData", "userDataBase64"} <= set(reg.ignore_changes), name
        keys = reg.inputs.keys() | old[name].inputs.keys()
        differing = {k for k in keys if reg.inputs.get(k) != old[name].inputs.get(k)}
        # Whatever differs is ignored by the engine after creation: no update, no stop/start, no replace.
        assert differing <= set(reg.ignore_changes), f"{name}: {sorted(differing - set(reg.ignore_changes))}"
        changed_somewhere |= differing
    # The bump did reach the inputs (so the test would see a change that is not ignored).
    assert changed_somewhere == {"ami", "userData"}


def test_each_role_and_pin_table_is_rendered_once_and_a_pin_change_renders_again():
    """The user data is cached per (pins, role): the same bytes for every node of a role, the new
    pin as soon as the table changes (a stale cache would boot new nodes with old pins)."""
    versions = dict(default_versions())
    first = render_user_data(versions, NodeRole.API)
    assert render_user_data(dict(versions), NodeRole.API) is first
    assert render_user_data(versions, NodeRole.CONTROL_PLANE) != first
    bumped = {**versions, "calico": "v9.9.9"}
    assert "quay.io/calico/node:v9.9.9" in render_user_data(bumped, NodeRole.API)
    assert "v9.9.9" not in render_user_data(versions, NodeRole.API)


# --- the same apt sources as the roles --------------------------------------------------------------


def _role_task(role: str, name: str) -> dict[str, Any]:
    tasks = yaml.safe_load((ANSIBLE_DIR / "roles" / role / "tasks" / "main.yml").read_text())
    task: dict[str, Any] = next(t for t in tasks if t.get("name") == name)
    return task


def _render(template: str, context: dict[str, Any]) -> str:
    # The role's defaults are templates too: render until nothing changes (Jinja, as Ansible does).
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701 - apt source lines, not HTML
    for _ in range(5):
        template = env.from_string(template).render(context)
    return template


def test_the_user_data_writes_the_apt_sources_the_roles_write_so_the_playbook_changes_nothing():
    versions = dict(default_versions())
    context: dict[str, Any] = {
        "versions": versions,
        "ansible_facts": {"architecture": "x86_64", "distribution_release": "noble"},
    }
    for role in ("containerd", "kubernetes_packages"):
        defaults = yaml.safe_load((ANSIBLE_DIR / "roles" / role / "defaults" / "main.yml").read_text())
        context.update({k: v for k, v in defaults.items() if isinstance(v, str)})
    for _ in range(3):  # defaults refer to each other; a few passes settle them
        for key in ("kubernetes_packages_version", "kubernetes_packages_minor", "kubernetes_packages_repo"):
            context[key] = _render(context[key], context)
    docker = _render(
        _role_task("containerd", "Add Docker's apt repository (it publishes containerd.io)")["ansible.builtin.copy"][
            "content"
        ],
        context,
    )
    kubernetes = _render(
        _role_task("kubernetes_packages", "Add the Kubernetes apt repository for this minor version")[
            "ansible.builtin.copy"
        ]["content"],
        context,
    )
    text = script(NodeRole.WORKER).replace("$arch", "amd64").replace("$codename", "noble")
    lines = {line.strip() for line in text.replace("\\\n", " ").splitlines()}
    for wanted in (docker.strip(), kubernetes.strip()):
        assert any(line.startswith(f'echo "{wanted}"') for line in lines), (wanted, sorted(lines))
