"""EC2 Instance Connect on loopback: the SendSSHPublicKey endpoint and the instances' key lookup.

Two halves of the real service, each written from its source, so the kit runs with the real
botocore client (tools/eic_push.py) and a real sshd:

- :class:`EicEndpoint`, the API: an HTTP server speaking the service's JSON 1.1 protocol as the
  API reference gives it (API_SendSSHPublicKey, "This document was last published on September 20,
  2025", https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSSHPublicKey.html,
  and botocore 1.44.18's data/ec2-instance-connect/2018-04-02/service-2.json, which the client
  itself reads: target `AWSEC2InstanceConnectService.SendSSHPublicKey`, members InstanceId
  (pattern `^i-[a-f0-9]+$`, 10-32 characters), InstanceOSUser, SSHPublicKey (80-4096
  characters), optional AvailabilityZone; response `{"RequestId", "Success": true}`; errors
  AuthException, InvalidArgsException, EC2InstanceNotFoundException, ... as `__type`). A request
  for an instance it was not told of is EC2InstanceNotFoundException; for one in `denied`, the
  IAM refusal every AWS JSON service returns (AccessDeniedException, "User: ... is not
  authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: ..."). A taken key is
  recorded as `<records>/<instance id>/<user>` lines `<unix time> <key>`.
- :func:`authorized_keys_command`, the instance side: the AuthorizedKeysCommand the
  ec2-instance-connect package gives sshd (aws/aws-ec2-instance-connect-config 1.1-18,
  src/bin/eic_run_authorized_keys at c156e7b8 wraps src/bin/eic_curl_authorized_keys at 06265f6e,
  `AuthorizedKeysCommand .../eic_run_authorized_keys %u %f`): it prints the keys IMDS serves under
  managed-ssh-keys/active-keys/<user>/, which are those pushed less than 60 seconds ago. The
  stand-in prints the recorded keys of its instances younger than the `ttl` file of the records
  (60 unless a test shortens it), for the user sshd names; no signature check (the real one checks
  the signer certificate: nothing here forges one).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.bastion_commands import EIC_KEY_SECONDS

TARGET = "AWSEC2InstanceConnectService.SendSSHPublicKey"
PERMISSION = "ec2-instance-connect:SendSSHPublicKey"


class EicEndpoint:
    """SendSSHPublicKey on 127.0.0.1; `url` goes into AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT."""

    def __init__(self, records: Path, instances: Iterable[str] = ()) -> None:
        self.records = records
        self.records.mkdir(parents=True, exist_ok=True)
        self.instances: set[str] = set(instances)
        self.denied: set[str] = set()
        self.requests: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = endpoint.answer(self.headers.get("X-Amz-Target", ""), body, self.headers)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def environment(self) -> dict[str, str]:
        """What a run needs to reach this endpoint with botocore: the endpoint and dummy credentials."""
        return {
            "AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT": self.url,
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    @staticmethod
    def _error(status: int, kind: str, message: str) -> tuple[int, dict[str, str]]:
        return status, {"__type": kind, "Message": message}

    def answer(self, target: str, body: bytes, headers: object) -> tuple[int, dict[str, object]]:
        if target != TARGET:
            return self._error(400, "UnknownOperationException", f"unknown operation {target!r}")
        if "AWS4-HMAC-SHA256" not in str(getattr(headers, "get", lambda _k, _d=None: "")("Authorization", "")):
            return self._error(400, "MissingAuthenticationTokenException", "Missing Authentication Token")
        try:
            request = json.loads(body)
        except ValueError:
            return self._error(400, "SerializationException", "the body is not JSON")
        instance, user, key = request.get("InstanceId"), request.get("InstanceOSUser"), request.get("SSHPublicKey")
        self.requests.append(dict(request))
        if not isinstance(instance, str) or not (10 <= len(instance) <= 32) or not _is_instance_id(instance):
            return self._error(400, "InvalidArgsException", "InstanceId must match ^i-[a-f0-9]+$ (10-32 characters)")
        if not isinstance(user, str) or not (1 <= len(user) <= 32):
            return self._error(400, "InvalidArgsException", "InstanceOSUser must be 1-32 characters")
        if not isinstance(key, str) or not (80 <= len(key) <= 4096):
            return self._error(400, "InvalidArgsException", "SSHPublicKey must be 80-4096 characters")
        if instance in self.denied:
            return self._error(
                400,
                "AccessDeniedException",
                f"User: arn:aws:sts::123456789012:assumed-role/preview/ci is not authorized to perform: "
                f"{PERMISSION} on resource: arn:aws:ec2:eu-west-1:123456789012:instance/{instance}",
            )
        if instance not in self.instances:
            return self._error(400, "EC2InstanceNotFoundException", f"Instance not found: {instance}")
        path = self.records / instance / user
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(f"{time.time():.3f} {key.strip()}\n")
        return 200, {"RequestId": str(uuid.uuid4()), "Success": True}

    def pushed(self, instance: str, user: str) -> list[tuple[float, str]]:
        path = self.records / instance / user
        if not path.exists():
            return []
        return [(float(t), k) for t, k in (line.split(" ", 1) for line in path.read_text().splitlines() if line)]

    def age_all(self, seconds: float) -> None:
        """Make every recorded push `seconds` older (a key pushed long ago, without waiting)."""
        for path in self.records.glob("*/*"):
            if path.is_file() and path.name != "ttl":
                lines = [line.split(" ", 1) for line in path.read_text().splitlines() if line]
                path.write_text("".join(f"{float(t) - seconds:.3f} {k}\n" for t, k in lines))

    def set_ttl(self, seconds: int) -> None:
        (self.records / "ttl").write_text(f"{seconds}\n")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _is_instance_id(text: str) -> bool:
    return text.startswith("i-") and len(text) > 2 and all(c in "0123456789abcdef" for c in text[2:])


def authorized_keys_command(path: Path, records: str, instances: Iterable[str]) -> Path:
    """Write the AuthorizedKeysCommand stand-in (see the module docstring) to `path`, 0755.

    `records` is the directory as the sshd sees it; `instances` the instance ids this sshd is.
    sshd runs it as `path %u %f` (AuthorizedKeysCommandUser root here; the package's own user,
    ec2-instance-connect, on an instance). The program must be root-owned and not group- or
    world-writable, as sshd requires of an AuthorizedKeysCommand.
    """
    ids = " ".join(instances)
    path.write_text(
        f"""#!/bin/sh
# Stand-in of ec2-instance-connect's eic_run_authorized_keys %u %f (tests/support/eic.py).
[ -n "$1" ] || exit 1
case "$1" in */*) exit 1 ;; esac
records='{records}'
ttl={EIC_KEY_SECONDS}
[ -f "$records/ttl" ] && ttl=$(cat "$records/ttl")
now=$(date +%s)
for id in {ids}; do
  f="$records/$id/$1"
  [ -f "$f" ] || continue
  awk -v now="$now" -v ttl="$ttl" '{{ if (now - $1 < ttl) {{ sub(/^[^ ]+ /, ""); print }} }}' "$f"
done
exit 0
"""
    )
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def eic_endpoint(tmp_path_factory) -> Iterator[EicEndpoint]:
    endpoint = EicEndpoint(Path(tmp_path_factory.mktemp("eic")) / "records")
    try:
        yield endpoint
    finally:
        endpoint.close()
