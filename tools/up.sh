#!/usr/bin/env bash
# `make up` / `make preview` / `make refresh` / `make destroy`: check what a real deployment needs,
# say exactly what is missing and how to get it, then check the stack and its state, then run Pulumi.
#
#   tools/up.sh --check MODE     only the checks (the Makefile runs this before installing anything)
#   tools/up.sh MODE [STACK]     the checks again, then Pulumi     (MODE: up | preview | refresh | destroy)
#
# The backend is the Pulumi CLI's own choice, so `make` and every plain `pulumi` command in the
# project directory use the same one: PULUMI_BACKEND_URL when set, else Pulumi.yaml `backend.url`
# (a file backend in .pulumi-state/), never the user's `pulumi login` (which is never changed).
# Only `make up` creates a stack, and only on purpose: when Pulumi.<stack>.yaml exists or CREATE=1.
# A stack with pending operations (an interrupted run) stops `make up` and `make destroy` with the
# recovery steps (tools/stack_state.py, docs/deployment.md).
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=0
if [ "${1:-}" = --check ]; then check_only=1; shift; fi
mode="${1:-}"
case "$mode" in
  up | preview | refresh | destroy) ;;
  *) echo "usage: tools/up.sh [--check] up|preview|refresh|destroy [STACK]" >&2; exit 64 ;;
esac
stack="${2:-dev}"

# The CLI version that speaks the SDK's protocol: the `pulumi==` pin of pyproject.toml (its policy
# group pins the same one; tests/unit/test_dependencies.py checks).
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

PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

# The backend the CLI will use (sdk/go/common/workspace/creds.go: PULUMI_BACKEND_URL, then the
# project's backend.url, then the stored login), for the messages and for the file backend's folder.
if [ -n "${PULUMI_BACKEND_URL:-}" ]; then
  backend="$PULUMI_BACKEND_URL"
else
  backend="$("$PY" -c 'import yaml; print((yaml.safe_load(open("Pulumi.yaml")).get("backend") or {}).get("url", ""))')"
fi
if [ -z "$backend" ]; then
  echo "make $mode: no backend: set PULUMI_BACKEND_URL or backend.url in Pulumi.yaml (README, State backends)." >&2
  exit 2
fi
if [[ "$backend" == file://* ]]; then
  state_dir="${backend#file://}"
  state_dir="${state_dir%%\?*}"
  mkdir -p "$state_dir"
  # A relative path is the CLI's working directory's, this one (pkg/backend/diy/backend.go).
  [[ "$state_dir" == /* ]] || backend="file://$PWD/${state_dir#./}"
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

# The stack: it must exist, except for a `make up` that creates it on purpose. The CLI's own errors
# (no credentials for the backend, a wrong passphrase, ...) reach the terminal unchanged.
listing="$(pulumi stack ls --json)"
if ! printf '%s' "$listing" | "$PY" -m tools.stack_state exists "$stack" --mode "$mode" --backend "$backend"; then
  if [ "$mode" = up ] && { [ -f "Pulumi.$stack.yaml" ] || [ "${CREATE:-0}" = 1 ]; }; then
    echo "make up: creating stack '$stack' in $backend (Pulumi.$stack.yaml holds its configuration)." >&2
    pulumi stack init "$stack"
  else
    exit 1
  fi
fi
pulumi stack select "$stack"

# An interrupted run leaves pending operations; `up` would only warn and create duplicates.
if [ "$mode" != refresh ]; then
  if ! pulumi stack export --stack "$stack" | "$PY" -m tools.stack_state pending "$stack"; then
    [ "$mode" = preview ] || exit 1
    echo "make preview: previewing anyway; \`make up\` refuses until the recovery above is done." >&2
  fi
fi

if [ "$mode" = preview ] && [ ! -x policy/venv/bin/python ]; then
  # The policy pack runs in its own virtualenv (policy/PulumiPolicy.yaml), from its pinned requirements.
  python3 -m venv policy/venv && policy/venv/bin/pip install -q -r policy/requirements.txt
fi

case "$mode" in
  up) exec pulumi up --stack "$stack" ;;
  preview) exec pulumi preview --stack "$stack" --diff --policy-pack policy ;;
  # --run-program: the Kubernetes provider's credential is minted by the program for each run
  # (components/bootstrap.py); the one in state expired an hour after the run that wrote it.
  refresh) exec pulumi refresh --stack "$stack" --run-program ;;
  destroy)
    # root-app and both API load balancers are protected (a routine `up` can never delete them;
    # components/argocd.py, components/network.py): a destroy lifts that on purpose, after asking.
    if [ "${CONFIRM:-}" != "$stack" ]; then
      if [ ! -t 0 ]; then
        echo "make destroy: deletes every resource of stack '$stack'; run it in a terminal, or with CONFIRM=$stack." >&2
        exit 1
      fi
      read -r -p "make destroy: this deletes every resource of stack '$stack' in $backend. Type the stack name to go on: " answer
      [ "$answer" = "$stack" ] || { echo "make destroy: not confirmed; nothing was changed." >&2; exit 1; }
    fi
    pulumi state unprotect --all --yes --stack "$stack"
    # The per-node removal steps skip their drain when the whole cluster goes (components/node_removal.py).
    export GITOPS_CLUSTER_DESTROY=1
    if ! pulumi destroy --stack "$stack" --run-program; then
      echo "make destroy: the destroy did not finish; the protection it lifted comes back with \`make up STACK=$stack\`." >&2
      exit 1
    fi
    ;;
esac
