# Front doors: `make run` (the API on 127.0.0.1:3000) and `make test` (every check).
# Each target installs what it needs: uv into .tools/, the locked environment into .venv/.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
# Two workers; loadgroup keeps each xdist_group (the CDK synth, say) on one worker.
PYTEST_ARGS ?= -n 2 --dist loadgroup
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

.PHONY: help run test lint typecheck unit integration infra synth load bench openapi requirements
.PHONY: mutate
.PHONY: browser-test events clean bootstrap preflight deploy put-key smoke env-given

# Deploying: the CDK CLI pinned in package.json, installed by `npm ci` into node_modules/.
CDK := npx --no-install cdk
NODE_MODULES := node_modules/.package-lock.json
ENV ?=

help:
	@echo "make run    - run the API locally on http://127.0.0.1:3000 (sandbox + AWS emulator)"
	@echo "             and the demo page on http://localhost:3001/demo/"
	@echo "make test   - lint, type-check and run every test"
	@echo "make unit / make integration / make infra - one test folder (tests/unit, ...)"
	@echo "make synth  - synthesise every environment into cdk.out/"
	@echo "make load   - bounded Locust run against the local server (figures, CSV, HTML report)"
	@echo "make bench  - warm overhead, cold start as shipped, token cost (figures and targets)"
	@echo "make mutate [MODULE=request] - mutation scores per module and the surviving mutants"
	@echo "make bootstrap|preflight|deploy|put-key|smoke ENV=<name> - deploying (docs/deploy.md)"

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
	$(PY) -m tools.generate.openapi --check
	$(PY) -m tools.generate.requirements --check
	$(PY) -m tools.generate.events --check
	$(VENV)/bin/pytest $(PYTEST_ARGS) --ignore=tests/browser
	@$(MAKE) --no-print-directory browser-test

# One folder of the suite each: pure logic; real HTTP to the sandbox and moto; the synthesized
# templates.
unit: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/unit

integration: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/integration

infra: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/infra

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

# bench: the function's warm overhead per scenario (bench/scenarios.py), its cold start as
# shipped (a read-only twin of the asset for the interpreter at hand, built by
# infra/bundling.py) and what a correct PIN's token costs, all on 127.0.0.1. Prints the
# figures beside the targets (bench/targets.py); writes only under bench/.work/ (ignored).
# Under 5 minutes; how to read it: bench/README.md.
bench: $(STAMP)
	$(PY) -m bench.run

# load: a bounded Locust run, headless (8 users, 3000 requests, 60 s cap), against the local
# server with moto and the sandbox, all on 127.0.0.1 (bench/load.py, bench/locustfile.py).
# Prints figures and targets; Locust's CSV and HTML report go to bench/.work/. Not a test.
load: $(STAMP)
	$(PY) -m bench.load

# mutate: mutmut on the security modules (or MODULE=<name>), each against the unit and
# integration tests that exercise it (tools/mutate.py); prints the surviving mutants' diffs
# and a score table, fails below a module's target. Slow, so not part of `make test`;
# timings per module: docs/development.md. Work folders: .mutation/ (ignored).
MODULE ?=
JOBS ?= 2
mutate: $(STAMP)
	$(PY) -m tools.mutate --jobs $(JOBS) $(MODULE)

openapi: $(STAMP)
	$(PY) -m tools.generate.openapi

requirements: $(STAMP)
	$(PY) -m tools.generate.requirements

# The sample API Gateway events in events/ (what the local server builds for each request).
events: $(STAMP)
	$(PY) -m tools.generate.events

# First prerequisite of the deploy targets: stops before anything is installed or run.
env-given:
	@test -n "$(ENV)" || { echo "usage: make $(MAKECMDGOALS) ENV=<environment in cdk.json>" >&2; exit 2; }

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund

# The CLI runs the app even to bootstrap, and the app needs to know its environment.
bootstrap: env-given $(STAMP) $(NODE_MODULES)
	$(CDK) bootstrap -c env=$(ENV)

# Reads the account (nothing is changed): quotas, bootstrap, API Gateway role, the secret.
preflight: env-given $(STAMP)
	$(PY) -m tools.deploy.preflight --env $(ENV)

# preflight, `cdk deploy -c env=$(ENV)` (CDK_ARGS go to cdk deploy), then the smoke test.
deploy: env-given $(STAMP) $(NODE_MODULES)
	CDK="$(CDK)" $(PY) -m tools.deploy.deploy --env $(ENV) -- $(CDK_ARGS)

# The key is read without echo and piped to the tool: never in history, argv or a file.
put-key: env-given $(STAMP)
	@read -rs -p 'ProxStop API key for $(ENV) (not echoed): ' key; echo; \
	printf '%s' "$$key" | $(PY) -m tools.deploy.put_key --env $(ENV)

smoke: env-given $(STAMP)
	$(PY) -m tools.deploy.smoke --env $(ENV) $(SMOKE_ARGS)

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache
