# Two commands on a fresh machine (python3 >= 3.11, node and npm): `make synth` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
# The project-local Node.js 22 (npm package `node`) comes first, so jsii never runs on an end-of-life node.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true

# `make lock` resolves pyproject.toml ([project] dependencies + the dev extra) into requirements.lock with this uv,
# for the Python and platform CI runs on. uv lives in its own small venv, not in the project's.
UV_VERSION := 0.13.9
LOCK_PYTHON := 3.11
LOCK_PLATFORM := x86_64-unknown-linux-gnu
UV_VENV := .venv-uv

.PHONY: setup synth test lint lock bench clean diagram

setup: $(VENV)/.installed node_modules/.installed

# Exact versions with hashes from the lock, then the project itself (no dependency resolution at install time).
$(VENV)/.installed: requirements.lock pyproject.toml
	@python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python3 >= 3.11 is required, found " + sys.version.split()[0])'
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@node --version | grep -q '^v2[2-9]' || { echo "project-local node 22 missing from node_modules/.bin"; exit 1; }
	@touch $@

synth: setup
	cdk synth --quiet
	python -m tools.synth_summary cdk.out

# Static checks first, so a lint or layering error fails in seconds instead of after the whole suite.
lint: setup
	ruff check .
	ruff format --check .
	mypy
	lint-imports

test: lint
	python -m pytest

# Re-resolve requirements.lock after changing dependencies in pyproject.toml (needs the package index; commit both).
lock:
	@test -x $(UV_VENV)/bin/uv && $(UV_VENV)/bin/uv --version | grep -qx 'uv $(UV_VERSION)' || { \
	  python3 -m venv $(UV_VENV) && $(UV_VENV)/bin/pip install -q uv==$(UV_VERSION); }
	$(UV_VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version $(LOCK_PYTHON) \
	  --python-platform $(LOCK_PLATFORM) --custom-compile-command 'make lock' --quiet -o requirements.lock

bench: setup
	python -m tools.bench

clean:
	rm -rf $(VENV) $(UV_VENV) node_modules cdk.out .bench .pytest_cache .mypy_cache .ruff_cache

diagram: synth
	python -m tools.diagram cdk.out docs/stacks.md
