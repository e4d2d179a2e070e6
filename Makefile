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
# checkov (tests/test_checkov.py) pins boto3 1.35, older than the project's (whose SageMaker service model checks our
# requests), so it lives in its own venv, installed from its own hash-locked file. `make checkov-lock` re-resolves it.
CHECKOV_VENV := .venv-checkov

.PHONY: setup synth test lint lock checkov-lock bench clean diagram image eval-lock eval-smoke

setup: $(VENV)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed

# Exact versions with hashes from the lock, then the project itself (no dependency resolution at install time).
# requirements-contracts.txt: the HF inference image's serving code for the contract tests, without its declared
# dependencies (see the file).
$(VENV)/.installed: requirements.lock requirements-contracts.txt pyproject.toml
	@python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python3 >= 3.11 is required, found " + sys.version.split()[0])'
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes -r requirements.lock
	$(VENV)/bin/pip install -q --require-hashes --no-deps --no-build-isolation -r requirements-contracts.txt
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	@touch $@

# uv (the project venv's, pinned in its lock) installs the exact hashed pins without resolving; no pip in this venv.
$(CHECKOV_VENV)/.installed: requirements-checkov.lock $(VENV)/.installed
	rm -rf $(CHECKOV_VENV)
	python3 -m venv --without-pip $(CHECKOV_VENV)
	$(VENV)/bin/uv pip install -q --python $(CHECKOV_VENV)/bin/python --require-hashes --no-deps -r requirements-checkov.lock
	$(VENV)/bin/uv pip check -q --python $(CHECKOV_VENV)/bin/python
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@node --version | grep -q '^v2[2-9]' || { echo "project-local node 22 missing from node_modules/.bin"; exit 1; }
	@touch $@

# synth needs no checkov: only the tests run it.
synth: $(VENV)/.installed node_modules/.installed
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

# Re-resolve requirements-checkov.lock from requirements-checkov.in (the checkov pin) for the same Python and platform,
# with the project venv's uv (the same UV_VERSION, pinned in requirements.lock); commit both.
checkov-lock: $(VENV)/.installed
	$(VENV)/bin/uv pip compile requirements-checkov.in --generate-hashes --python-version $(LOCK_PYTHON) \
	  --python-platform $(LOCK_PLATFORM) --custom-compile-command 'make checkov-lock' --quiet -o requirements-checkov.lock

# --- The evaluation job's image (evaluation/, docs/evaluation.md "The job image") -----------------------------------
# Build it and run the offline smoke test in it with the network off: fmeval constructs from the baked-in caches and
# one record of every servable metric is scored against a stubbed endpoint. Needs a Docker daemon (and, for the
# build, PyPI, download.pytorch.org, the Hugging Face Hub and GitHub).
EVAL_IMAGE := neuron-genai-evaluation:local
image:
	@docker info > /dev/null 2>&1 || { echo "make image needs a running Docker daemon (docker info failed)"; exit 1; }
	docker build --platform linux/amd64 -t $(EVAL_IMAGE) evaluation
	docker run --rm --platform linux/amd64 --network none --entrypoint python $(EVAL_IMAGE) -m evaluation.smoke --all-metrics

# Re-resolve evaluation/requirements.lock after changing evaluation/requirements.in (the command is recorded in the
# lock's header; tests/test_evaluation_image.py re-runs it). Move --exclude-newer to today when re-locking on purpose.
eval-lock: setup
	cd evaluation && uv pip compile --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --exclude-newer $$(date -u +%Y-%m-%dT00:00:00Z) --excludes lock-excludes.txt requirements.in -o requirements.lock

# Without Docker: the job's main() offline against a stubbed endpoint, in a cached venv installed from the locks
# (Python 3.11, as in the image). Opt-in, not part of `make test`: the prefetch needs the Hugging Face Hub and GitHub,
# and CPU torch comes from download.pytorch.org (override EVAL_TORCH_SOURCE, e.g. "--no-index --find-links DIR").
# EVAL_CACHE keeps the prefetched models; EVAL_SMOKE_ARGS selects metrics (default: all the tgi server can serve).
EVAL_VENV := .venv-eval
EVAL_CACHE := .eval-cache
EVAL_TORCH_SOURCE := --index-url https://download.pytorch.org/whl/cpu
EVAL_SMOKE_ARGS := --all-metrics
# uv (from the dev extra) installs the same hashed pins as the image's pip, several times faster.
$(EVAL_VENV)/.installed: evaluation/requirements.lock evaluation/torch-cpu.lock
	python3.11 -m venv $(EVAL_VENV)
	uv pip install -q --python $(EVAL_VENV)/bin/python --require-hashes --no-deps $(EVAL_TORCH_SOURCE) \
	  -r evaluation/torch-cpu.lock
	uv pip install -q --python $(EVAL_VENV)/bin/python --require-hashes --no-deps -r evaluation/requirements.lock
	$(EVAL_VENV)/bin/pip check
	@touch $@

eval-smoke: setup $(EVAL_VENV)/.installed
	export HF_HOME=$(CURDIR)/$(EVAL_CACHE)/huggingface TORCH_HOME=$(CURDIR)/$(EVAL_CACHE)/torch; \
	  test -f $(EVAL_CACHE)/.prefetched || { $(EVAL_VENV)/bin/python -m evaluation.prefetch && touch $(EVAL_CACHE)/.prefetched; }; \
	  HF_HUB_OFFLINE=1 HF_EVALUATE_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(EVAL_VENV)/bin/python -m evaluation.smoke $(EVAL_SMOKE_ARGS)
	python -m tools.clarify_sdk_contract $(EVAL_VENV)/bin/python monitoring

bench: setup
	python -m tools.bench

clean:
	rm -rf $(VENV) $(UV_VENV) $(CHECKOV_VENV) $(EVAL_VENV) $(EVAL_CACHE) node_modules cdk.out .bench .pytest_cache .mypy_cache .ruff_cache

diagram: synth
	python -m tools.diagram cdk.out docs/stacks.md
