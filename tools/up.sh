#!/usr/bin/env bash
# `make up` / `make preview` / `make destroy`: check what a real deployment needs, say exactly
# what is missing and how to get it, then select (or create) the stack and run Pulumi.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=up
case "${1:-}" in
  --preview) mode=preview; shift ;;
  --destroy) mode=destroy; shift ;;
esac
stack="${1:-dev}"

missing=0
if ! command -v pulumi >/dev/null 2>&1; then
  echo "make $mode: the Pulumi CLI is not installed." >&2
  echo "  Install it (https://www.pulumi.com/docs/iac/download-install/), e.g." >&2
  echo "  'curl -fsSL https://get.pulumi.com | sh' on a workstation, then run 'make $mode' again." >&2
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

if [[ "$PULUMI_BACKEND_URL" == file://* ]]; then
  mkdir -p "${PULUMI_BACKEND_URL#file://}"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    echo "make $mode: the local backend encrypts secrets with a passphrase; Pulumi will ask for it" >&2
    echo "  (set PULUMI_CONFIG_PASSPHRASE_FILE to skip the prompt; keep the passphrase safe)." >&2
  fi
fi
pulumi login "$PULUMI_BACKEND_URL" >/dev/null

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
