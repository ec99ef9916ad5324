"""Rules of the bastion section: its instance type and the SSH key pair (or none: one is generated).

The public key is one OpenSSH line EC2 imports (an RSA key has at least 2048 bits); the secret
private key is an unencrypted OpenSSH key that matches it, and is never stored in plain text. Both
are read with `cryptography` (pinned in pyproject.toml), not by hand.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from components.settings.keys import SecretInput
from components.settings.schema import BastionKeys, section
from components.settings.values import Collector, check_instance_type, instance_type_fix

PUBLIC_KEY_FIX = "expected an OpenSSH public key ('ssh-ed25519 AAAA... comment')."
_SSH_PUBLIC_KEY = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+={0,2})( [ -~]*)?")


@dataclass(frozen=True)
class Bastion:
    instance_type: str | None
    ssh_public_key: str | None


def parse_bastion(c: Collector, values: Mapping[str, Any], private: SecretInput) -> Bastion:
    t = section(BastionKeys, values)
    bastion_type: str | None = None
    if not t.ok("bastionInstanceType"):
        c.add("bastionInstanceType", t["bastionInstanceType"], instance_type_fix("t3.micro"))
    else:
        bastion_type = check_instance_type(c, "bastionInstanceType", t["bastionInstanceType"], "t3.micro")

    pub_key = t["sshPublicKey"] or None
    has_private = private.set
    if not t.ok("sshPublicKey"):
        c.add("sshPublicKey", t["sshPublicKey"], PUBLIC_KEY_FIX)
    elif pub_key is not None and (why := public_key_problem(pub_key)) is not None:
        c.add("sshPublicKey", pub_key, why)
    if bool(pub_key) != has_private:
        c.add(
            "sshPublicKey" if has_private else "sshPrivateKey",
            "<unset>",
            "set sshPublicKey and the secret sshPrivateKey together, or neither (the stack then generates a key).",
        )
    if private.plaintext:
        c.add(
            "sshPrivateKey",
            "<not shown>",
            "stored in plain text: remove it from Pulumi.<stack>.yaml and set it with "
            "`pulumi config set --secret sshPrivateKey < key`, then replace the key (it has been exposed).",
        )
    typed_key = pub_key if t.ok("sshPublicKey") else None
    if private.value is not None and (why := private_key_problem(private.value, typed_key)) is not None:
        c.add("sshPrivateKey", "<secret>", why)
    return Bastion(bastion_type, pub_key)


def _ssh_key_blob(public_key: str) -> tuple[str, bytes | None] | None:
    """(type, key data) of one public key line; data None when it is not whole base64."""
    m = _SSH_PUBLIC_KEY.fullmatch(public_key)
    if m is None:
        return None
    try:
        return m[1], base64.b64decode(m[2], validate=True)
    except (binascii.Error, ValueError):
        return m[1], None


def public_key_problem(value: str) -> str | None:
    """Why a public key line of text is not one EC2 imports, or None."""
    if "PRIVATE KEY" in value:
        return "this is a private key: never put it in plain config. Set sshPublicKey to the .pub file's line."
    parsed = _ssh_key_blob(value)
    if parsed is None:
        return "not one OpenSSH public key line ('ssh-ed25519 AAAA... comment', no line breaks)."
    kind, blob = parsed
    if blob is None:
        return None  # not decodable (a placeholder): EC2's key import names it, before any instance
    try:
        key = serialization.load_ssh_public_key(f"{kind} {base64.b64encode(blob).decode()}".encode())
    except (ValueError, UnsupportedAlgorithm):
        # The data begins with its own type's name (RFC 4253, 6.6): another type's key under this
        # name, or this type's key cut short or damaged.
        if not blob[4:].startswith(kind.encode()):
            return f"the key data is not a {kind} key; paste the whole line of the .pub file."
        return f"the {kind} key data is cut short or damaged; paste the whole line of the .pub file."
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        return "an RSA key shorter than 2048 bits; EC2 refuses it. Use an ED25519 key."
    return None


def private_key_problem(private_key: str, public_key: str | None) -> str | None:
    """Why the secret sshPrivateKey cannot be used (its value is never part of the message)."""
    text = private_key.strip()
    begin, end = "-----BEGIN OPENSSH PRIVATE KEY-----", "-----END OPENSSH PRIVATE KEY-----"
    if not (text.startswith(begin) and text.endswith(end)):
        if "BEGIN" in text and "PRIVATE KEY" in text:
            return "convert it to the OpenSSH format: `ssh-keygen -p -N '' -f <file>` (unencrypted)."
        return "not an OpenSSH private key; set it from the file: `pulumi config set --secret sshPrivateKey < key`."
    try:
        base64.b64decode("".join(text[len(begin) : -len(end)].split()), validate=True)
    except (binascii.Error, ValueError):
        # Not base64: a placeholder (tests use such) or a damaged paste. The bootstrap checks the
        # key again before it connects (components/bastion_commands.py) and says so.
        return None
    try:
        key = serialization.load_ssh_private_key(text.encode(), password=None)
    except TypeError:  # cryptography: "Key is password-protected, but password was not provided."
        return "the key has a passphrase; Ansible runs unattended. Use an unencrypted key for the stack."
    except UnsupportedAlgorithm:
        return "a key type this program cannot read; use an ED25519 key (`ssh-keygen -t ed25519`)."
    except ValueError:
        return "the key data is damaged; set it again from the key file."
    embedded = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    expected = _ssh_key_blob(public_key.strip()) if public_key else None
    if expected is not None and expected[1] is not None and _ssh_key_blob(embedded.decode()) != expected:
        return "does not match sshPublicKey; set the two halves of one key pair."
    return None
