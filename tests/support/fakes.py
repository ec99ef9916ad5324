"""Fake secret values planted by tests; none may ever show up in plain text."""

from __future__ import annotations

# Fake secret values planted by tests; none may ever show up in plain text.
FAKE_SSH_PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-USER-SUPPLIED-KEY-7f3a\n-----END OPENSSH PRIVATE KEY-----\n"
)


# A real ED25519 public key (ssh-keygen -t ed25519; its private half was discarded): the settings
# read public keys with `cryptography`, which refuses key data that is cut short.
FAKE_SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFgGgCR2UXxKq5zWTUBNK/RHaEnVvpVxe63P+OqPWcjZ ops@example"
