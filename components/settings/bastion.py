"""Rules of the bastion section: its instance type, and the retired SSH key settings.

The stack stores no SSH key: every command of the bastion kit makes its own key per run and pushes
it with EC2 Instance Connect (components/bastion_commands.py). `sshPublicKey` and the secret
`sshPrivateKey`, which once gave the stack a key pair, are refused when set, naming the key and the
`pulumi config rm` that removes it (a key that was in config has been in state too: replace it
wherever else it is used).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.settings.keys import SecretInput
from components.settings.schema import BastionKeys, section
from components.settings.values import Collector, check_instance_type, instance_type_fix

RETIRED_KEY_FIX = (
    "the stack no longer installs a stored SSH key: each run pushes its own short-lived key with EC2 Instance "
    'Connect (docs/bootstrap.md, "The SSH path"). Remove it with `pulumi config rm {key}`.'
)


@dataclass(frozen=True)
class Bastion:
    instance_type: str | None


def parse_bastion(c: Collector, values: Mapping[str, Any], private: SecretInput) -> Bastion:
    t = section(BastionKeys, values)
    bastion_type: str | None = None
    if not t.ok("bastionInstanceType"):
        c.add("bastionInstanceType", t["bastionInstanceType"], instance_type_fix("t3.micro"))
    else:
        bastion_type = check_instance_type(c, "bastionInstanceType", t["bastionInstanceType"], "t3.micro")
    # Any value but the declared default "" (a private key pasted here is not echoed).
    pub_key = t["sshPublicKey"]
    if pub_key not in ("", None):
        shown = "<not shown: a private key>" if "PRIVATE KEY" in str(pub_key) else pub_key
        c.add("sshPublicKey", shown, RETIRED_KEY_FIX.format(key="sshPublicKey"))
    if private.set or private.plaintext:
        c.add("sshPrivateKey", "<secret>", RETIRED_KEY_FIX.format(key="sshPrivateKey"))
    return Bastion(bastion_type)
