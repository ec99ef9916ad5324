"""Push one run's SSH public key to instances with EC2 Instance Connect (SendSSHPublicKey).

The bastion kit (components/bastion_commands.py) makes a fresh ed25519 key per run and calls this
before its first connection, then again every `--every` seconds in the background until the run
ends: AWS keeps a pushed key for 60 seconds, for new connections only ("Pushes an SSH public key to
the specified EC2 instance for use by the specified user. The key remains for 60 seconds.", API
reference: https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSSHPublicKey.html),
so a long playbook, a new ControlMaster or a reconnect after a reboot still authenticates.

    .cache/eic/bin/python tools/eic_push.py --user ubuntu --public-key KEY.pub [--region R]
        [--every SECONDS --parent PID] INSTANCE_ID...

Runs under .cache/eic/bin/python (botocore, tools/eic/requirements.txt). Credentials and region
are botocore's (the environment, AWS_PROFILE, the shared config) like the AWS provider's, with
--region (the stack's aws:region) first. AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT points the client
at another endpoint (botocore's service-specific endpoint variable; the tests' stand-in).

Exit 0: every instance took the key. Exit 3: a push was refused (the message names the permission
`ec2-instance-connect:SendSSHPublicKey` or the instance); the run stops before any connection.
With --every it never exits on a refused refresh (it says so on stderr) and ends when PID does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

PERMISSION = "ec2-instance-connect:SendSSHPublicKey"


class PushError(Exception):
    pass


# botocore is not in .venv (tools/eic/requirements.txt says why): its client class, generated at
# runtime, is Any here.
def client(region: str | None) -> Any:
    import botocore.session

    session = botocore.session.get_session()
    return session.create_client("ec2-instance-connect", region_name=region or None)


def push(eic: Any, instance_ids: Sequence[str], user: str, public_key: str) -> None:
    """SendSSHPublicKey for each instance; the first refusal raises PushError with its fix."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    for instance_id in instance_ids:
        try:
            answer = eic.send_ssh_public_key(InstanceId=instance_id, InstanceOSUser=user, SSHPublicKey=public_key)
        except NoCredentialsError as e:
            raise PushError(
                f"no AWS credentials to push the run's SSH key with ({e}); sign in as for `pulumi up` "
                f"(AWS_PROFILE or the AWS_* variables) with a role that may {PERMISSION}"
            ) from e
        except ClientError as e:
            error = e.response.get("Error", {})
            code, message = error.get("Code", "?"), error.get("Message", "")
            if code in ("AccessDeniedException", "AccessDenied", "AuthException", "UnauthorizedOperation"):
                fix = (
                    f"the caller may not {PERMISSION} on {instance_id} as {user}: give the role that runs "
                    "`pulumi up` that permission for the stack's instances (docs/gitops-practices.md, "
                    '"Who may push SSH keys")'
                )
            elif code in ("EC2InstanceNotFoundException", "EC2InstanceStateInvalidException"):
                fix = f"instance {instance_id} does not exist or is not running in this region (is aws:region right?)"
            else:
                fix = f"EC2 Instance Connect refused the key for {instance_id}"
            raise PushError(f"{fix}. AWS said: {code}: {message}") from e
        except BotoCoreError as e:
            raise PushError(
                f"could not reach EC2 Instance Connect to push the run's SSH key to {instance_id}: {e}"
            ) from e
        if not answer.get("Success"):
            raise PushError(
                f"EC2 Instance Connect did not take the key for {instance_id} (RequestId {answer.get('RequestId')})"
            )


def refresh(eic: Any, instance_ids: Sequence[str], user: str, public_key: str, every: float, parent: int) -> None:
    """Push again every `every` seconds while `parent` lives (the kit's script)."""
    due = time.monotonic() + every
    while os.getppid() == parent:
        if time.monotonic() >= due:
            due = time.monotonic() + every
            try:
                push(eic, instance_ids, user, public_key)
            except PushError as e:
                print(
                    f"bootstrap: refreshing the run's SSH key failed (new connections may be refused): {e}",
                    file=sys.stderr,
                )
        time.sleep(min(1.0, every))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", required=True)
    parser.add_argument("--public-key", required=True, help="the .pub file of the run's key")
    parser.add_argument("--region", default="")
    parser.add_argument("--every", type=float, default=0.0, help="refresh period in seconds (0: push once)")
    parser.add_argument("--parent", type=int, default=0, help="with --every: stop when this process is gone")
    parser.add_argument("instance_ids", nargs="+")
    args = parser.parse_args(argv)
    with open(args.public_key) as f:
        public_key = f.read().strip()
    from botocore.exceptions import BotoCoreError

    try:
        eic = client(args.region)
    except BotoCoreError as e:
        print(f"bootstrap: no EC2 Instance Connect client to push the run's SSH key with: {e}", file=sys.stderr)
        return 3
    if args.every > 0:
        refresh(eic, args.instance_ids, args.user, public_key, args.every, args.parent or os.getppid())
        return 0
    try:
        push(eic, args.instance_ids, args.user, public_key)
    except PushError as e:
        print(f"bootstrap: could not push the run's SSH key with EC2 Instance Connect: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
