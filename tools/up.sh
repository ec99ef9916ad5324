#!/usr/bin/env bash
# `make up` / `make preview` / `make destroy`: check what a real deployment needs, say exactly what
# is missing and how to get it, then select (or create) the stack and run Pulumi.
#
#   tools/up.sh --check MODE     only the checks (the Makefile runs this before installing anything)
#   tools/up.sh MODE [STACK]     the checks again, then Pulumi       (MODE: up | preview | destroy)
#
# The backend comes from PULUMI_BACKEND_URL (the Makefile defaults it to a file backend in the
# checkout) for these invocations only: the user's own `pulumi login` is never changed.
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=0
if [ "${1:-}" = --check ]; then check_only=1; shift; fi
mode="${1:-}"
case "$mode" in
  up | preview | destroy) ;;
  *) echo "usage: tools/up.sh [--check] up|preview|destroy [STACK]" >&2; exit 64 ;;
esac
stack="${2:-dev}"

# The CLI version that speaks the SDK's protocol: the `pulumi==` pin of pyproject.toml (its policy
# group pins the same one; tests/test_dependencies.py checks).
sdk_version="$(sed -n 's/^ *"pulumi==\([0-9][0-9.]*\)",\{0,1\}$/\1/p' pyproject.toml | head -n 1)"

missing=0
if ! command -v pulumi >/dev/null 2>&1; then
  echo "make $mode: the Pulumi CLI is not installed (nothing was installed or changed)." >&2
  echo "  Install the version the SDK pins, then run 'make $mode' again:" >&2
  echo "    curl -fsSL https://get.pulumi.com | sh -s -- --version $sdk_version" >&2
  echo "  (or see https://www.pulumi.com/docs/iac/download-install/; it installs to ~/.pulumi/bin, put that on PATH)." >&2
  missing=1
fi
if [ -z "${AWS_ACCESS_KEY_ID:-}${AWS_PROFILE:-}${AWS_WEB_IDENTITY_TOKEN_FILE:-}${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:-}" ] \
   && [ ! -f "${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" ] \
   && [ ! -f "${AWS_CONFIG_FILE:-$HOME/.aws/config}" ]; then
  echo "make $mode: no AWS credentials found (no AWS_ACCESS_KEY_ID/AWS_PROFILE, no ~/.aws/credentials or ~/.aws/config)." >&2
  echo "  Run 'aws configure sso' or 'aws configure', or export AWS_PROFILE, then run 'make $mode' again." >&2
  missing=1
fi
[ "$missing" -eq 0 ] || exit 2
[ "$check_only" -eq 0 ] || exit 0

: "${PULUMI_BACKEND_URL:?PULUMI_BACKEND_URL is not set (the Makefile sets it; run make $mode)}"
export PULUMI_BACKEND_URL
if [[ "$PULUMI_BACKEND_URL" == file://* ]]; then
  mkdir -p "${PULUMI_BACKEND_URL#file://}"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    echo "make $mode: the local backend encrypts secrets with a passphrase; Pulumi will ask for it" >&2
    echo "  (set PULUMI_CONFIG_PASSPHRASE_FILE to skip the prompt; keep the passphrase safe)." >&2
  fi
fi

# Pulumi.yaml's runtime (toolchain: uv) runs the program through `uv`: the pinned one `make venv`
# installed comes first on PATH.
if [ -n "${UV:-}" ] && [ -x "$UV" ]; then
  PATH="$(cd "$(dirname "$UV")" && pwd):$PATH"
  export PATH
fi

if ! pulumi stack select "$stack" 2>/dev/null; then
  pulumi stack init "$stack"
fi

if [ "$mode" = preview ] && [ ! -x policy/venv/bin/python ]; then
  # The policy pack runs in its own virtualenv (policy/PulumiPolicy.yaml), from its pinned requirements.
  python3 -m venv policy/venv && policy/venv/bin/pip install -q -r policy/requirements.txt
fi

case "$mode" in
  up) exec pulumi up --stack "$stack" ;;
  preview) exec pulumi preview --stack "$stack" --diff --policy-pack policy ;;
  # The per-node removal steps skip their drain when the whole cluster goes (components/node_removal.py).
  destroy) export GITOPS_CLUSTER_DESTROY=1; exec pulumi destroy --stack "$stack" ;;
esac
