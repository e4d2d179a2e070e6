# Two commands on a fresh machine (python3 >= 3.11, node and npm): `make synth` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
# The project-local Node.js 22 (npm package `node`) comes first, so jsii never runs on an end-of-life node.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: setup synth test lint bench clean diagram

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python3 >= 3.11 is required, found " + sys.version.split()[0])'
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@node --version | grep -q '^v2[2-9]' || { echo "project-local node 22 missing from node_modules/.bin"; exit 1; }
	@touch $@

synth: setup
	cdk synth --quiet
	python -m tools.synth_summary cdk.out

test: setup
	python -m pytest
	ruff check .
	mypy

bench: setup
	python -m tools.bench

clean:
	rm -rf $(VENV) node_modules cdk.out .bench .pytest_cache .mypy_cache .ruff_cache

diagram: synth
	python -m tools.diagram cdk.out docs/stacks.md
