# Front doors: `make run` (the API on 127.0.0.1:3000) and `make test` (every check).
# Each target installs what it needs: uv into .tools/, the locked environment into .venv/.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synced-stamp
# checkov pins its own boto3 and clashes with the function's: its own locked environment.
CHECKOV_ENV := $(TOOLS)/checkov
CHECKOV := $(CHECKOV_ENV)/bin/checkov

export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help run test browser-test lint typecheck unit integration infra-test synth load bench openapi requirements clean

help:
	@echo "make run    - run the API locally on http://127.0.0.1:3000 (sandbox + AWS emulator)"
	@echo "             and the demo page on http://localhost:3001/demo/"
	@echo "make test   - lint, type-check and run every test"
	@echo "make synth  - synthesise every environment into cdk.out/"
	@echo "make load   - bounded Locust run against the local server (figures, CSV, HTML report)"
	@echo "make bench  - benchmark against the vendor-style baseline (prints figures)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

$(CHECKOV): tools/checkov/uv.lock tools/checkov/pyproject.toml | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(CHECKOV_ENV) $(UV) sync --frozen --project tools/checkov --python $(PYTHON)
	@touch $@

run: $(STAMP)
	$(PY) -m local.dev

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: lint typecheck
	$(PY) -m local.openapi --check
	$(PY) -m local.requirements --check
	$(VENV)/bin/pytest -n 2 --dist loadgroup --ignore=tests/browser
	@$(MAKE) --no-print-directory browser-test

# Browser tests (tests/browser): the demo page in headless Chromium against make run's stack.
# They need a Chromium (Debian's `chromium`, or CHROMIUM=/path); without one they are not
# run, and this says so loudly (a skip is not a pass). .ci/run installs Chromium first.
CHROMIUM ?= $(shell command -v chromium 2>/dev/null)
browser-test: $(STAMP)
	@if [ -n "$(CHROMIUM)" ] && [ -x "$(CHROMIUM)" ]; then \
		echo "Browser tests with $(CHROMIUM)"; \
		CHROMIUM="$(CHROMIUM)" $(VENV)/bin/pytest -p no:xdist tests/browser; \
	else \
		echo ""; \
		echo "*** SKIPPED: the browser tests (tests/browser) did NOT run: no Chromium found."; \
		echo "*** Install it (apt-get install chromium) or set CHROMIUM=/path/to/chromium."; \
		echo ""; \
	fi

# Synthesise every environment in cdk.json into cdk.out/ (offline: no AWS account, no Docker;
# the function's aarch64 dependencies are installed locally, cached in .build/) and lint the
# templates with cfn-lint and checkov (suppressions and their reasons: .checkov.yaml; cdk-nag
# runs inside the synth). The first synth downloads the wheels from PyPI; later ones reuse
# the cache.
synth: $(STAMP) $(CHECKOV)
	rm -rf cdk.out
	$(PY) -m infra.synth_all --outdir cdk.out
	$(VENV)/bin/cfn-lint cdk.out/TelephoneStatus-*.template.json
	$(CHECKOV) --config-file .checkov.yaml --directory cdk.out

# bench: our function against a vendor-style baseline, all on 127.0.0.1 (bench/run.py), and
# the cold start as shipped (an x86_64 twin of the asset, built by infra/bundling.py for the
# interpreter at hand, read-only), and what a correct PIN costs for its token (bench/signing.py,
# its own process). Prints the table and the targets, writes bench/results.json and
# bench/RESULTS.md (before/after beside bench/results-v1.json); under 5 minutes.
bench: $(STAMP)
	$(PY) -m bench.run

# load: a bounded Locust run, headless (8 users, 3000 requests, 60 s cap), against the local
# server with moto and the sandbox, all on 127.0.0.1 (bench/load.py, bench/locustfile.py).
# Prints figures and targets; Locust's CSV and HTML report go to bench/. Not a test.
load: $(STAMP)
	$(PY) -m bench.load

openapi: $(STAMP)
	$(PY) -m local.openapi

requirements: $(STAMP)
	$(PY) -m local.requirements

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache
