"""The node_join role reads token, CA hash and certificate key from kubeadm's real output formats.

The role's own task file (ansible/roles/node_join/tasks/credentials.yml) runs under the real
ansible-playbook on recorded outputs (tests/fixtures/kubeadm, sources in its README). The first
version of these expressions sat in `>-` blocks with doubled backslashes: regex_search found
nothing and every join failed on the first real cluster, while the whole suite stayed green.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from tests.support import paths
from tests.support.local_play import run_play

# Runs ansible-playbook for real: `make test` and CI run it, `make test-fast` leaves it out.
pytestmark = pytest.mark.ansible

FIXTURES = paths.FIXTURES / "kubeadm"

# The values inside the recorded outputs, written out here (the test never derives them from the
# files it checks the role against).
PRINT_JOIN_TOKEN = "w37rfx.mrraoddmtire16pk"
PRINT_JOIN_HASH = "sha256:c839d253719282c5a70157d4e5b8578e15299abd7cb5cf529ead33b3b7061c1e"
UPLOAD_CERTS_KEY = "40833105c9803addc4594cdcf85cb7c320ca3950315e03999dbf82088141777b"
INIT_TOKEN = "9vr73a.a8uxyaju799qwdjv"
INIT_HASH = "sha256:7c2e69131a36ae2a042a339b33381c6d0d43887e2de83720eff5359e26aec866"

# One play per case: the registered results the role's main.yml would hold, then the role's
# credentials tasks, then the facts they set, written to a file (the tasks run under no_log).
CASE = """
- name: "Extract the join credentials: {case}"
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    node_join_control_plane: {control_plane}
    node_join_first_control_plane: master-1
    node_join_command: {{stdout: "{{{{ lookup('ansible.builtin.file', '{command}') }}}}"}}
    node_join_upload_certs:
      stdout: "{{{{ lookup('ansible.builtin.file', '{certs}') if '{certs}' else '' }}}}"
      stdout_lines: "{{{{ (lookup('ansible.builtin.file', '{certs}') if '{certs}' else '').splitlines() }}}}"
  tasks:
    - name: Run the role's extraction
      block:
        - name: Include the role's credentials tasks
          ansible.builtin.include_role:
            name: node_join
            tasks_from: credentials
        - name: Write what the role read
          ansible.builtin.copy:
            content: "{{{{ {{'token': node_join_token, 'hash': node_join_ca_cert_hash,
                          'key': node_join_certificate_key}} | to_json }}}}"
            dest: "{out}/{case}.json"
            mode: "0600"
      rescue:
        - name: Write the error the operator would see
          ansible.builtin.copy:
            content: "{{{{ {{'error': ansible_failed_result.msg}} | to_json }}}}"
            dest: "{out}/{case}.json"
            mode: "0600"
"""

CASES: dict[str, tuple[bool, str, str]] = {
    # case: (control plane?, join command output, upload-certs output)
    "worker": (False, "token-create-print-join-command.stdout", ""),
    "control-plane": (True, "token-create-print-join-command.stdout", "upload-certs.stdout"),
    "init-output": (False, "init-join-commands.stdout", ""),
    "garbled": (True, "upload-certs.stderr", "upload-certs.stderr"),
}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("credentials")
    play = out / "play.yml"
    play.write_text(
        "".join(
            CASE.format(
                case=case,
                control_plane=str(cp).lower(),
                command=FIXTURES / command,
                certs=FIXTURES / certs if certs else "",
                out=out,
            )
            for case, (cp, command, certs) in CASES.items()
        )
    )
    result = run_play(["-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}", str(play)])
    assert result.returncode == 0, result.stdout + result.stderr
    return {case: json.loads((out / f"{case}.json").read_text()) for case in CASES}


def test_worker_join_reads_token_and_ca_hash_from_print_join_command(extracted):
    assert extracted["worker"] == {"token": PRINT_JOIN_TOKEN, "hash": PRINT_JOIN_HASH, "key": ""}


def test_control_plane_join_also_reads_the_certificate_key_from_upload_certs(extracted):
    assert extracted["control-plane"] == {"token": PRINT_JOIN_TOKEN, "hash": PRINT_JOIN_HASH, "key": UPLOAD_CERTS_KEY}


def test_the_multi_line_join_command_of_kubeadm_init_reads_the_same(extracted):
    # `\`, newline and tab between the flags, as kubeadm init prints them.
    assert extracted["init-output"] == {"token": INIT_TOKEN, "hash": INIT_HASH, "key": ""}


def test_output_without_credentials_stops_with_the_node_and_what_is_missing(extracted):
    error = extracted["garbled"]["error"]
    assert "Cannot join localhost" in error
    assert "on master-1 has no join token, CA certificate hash, certificate key" in error
    assert "tests/fixtures/kubeadm" in error
