# LedgerLink — the two commands are `make demo` and `make test`; both set everything up on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
ARCH      ?= arm64

help:
	@echo "needs        Python 3.12 and Node.js 22 or 24 (LTS) with npm; 18 and 20 are past end of life (README.md)"
	@echo "make demo    run the whole pipeline locally (moto + Beancount book) and print a summary"
	@echo "make test    unit, functional, infra (CDK synth + cdk-nag) and end-to-end tests"
	@echo "make synth   synthesize the CDK app (cdk.out/) with the pinned CDK CLI (ARCH=, STAGE=dev|prod)"
	@echo "make test-calendar  the date-sensitive tests with the clock moved (month-end, leap day, DST, years ahead)"
	@echo "make readme  rewrite the generated sections of README.md and docs/ (demo summary, test count, bench table)"
	@echo "make bench   benchmarks (cold start, ingest latency, throughput, AWS calls, reconciliation cost, ERP calls per"
	@echo "             10,000 events line-level vs summarized, a rate-limited ERP connection) → bench/results.json"
	@echo "make chaos   the chaos suite with more seeded rounds (ROUNDS=20)"
	@echo "make fuzz    the webhook and ops API fuzz suites with more cases (EXAMPLES=1500 per property)"
	@echo "make deploy  cdk deploy to the account/region of your AWS credentials (STAGE=dev|prod, CDK_ARGS=...)"
	@echo "make layer   build the core Lambda layer without Docker (ARCH=arm64|x86_64)"
	@echo "make up      keep the local stack running (ledgerlink local up)"
	@echo "make lint    ruff"
	@echo "make gates   ruff, mypy --strict (layers/ledgerlink) and the complexity gate (xenon: no block worse than C)"
	@echo "make clean   remove build outputs and local state (keeps .venv and node_modules)"

# The virtualenv is rebuilt whenever the lock file or pyproject.toml changes.
$(STAMP): requirements.lock pyproject.toml
	@set -e; PY312="$$(tools/find-python312.sh)"; \
	  if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; assert sys.version_info[:2]==(3,12)' 2>/dev/null; then \
	    rm -rf $(VENV); echo "creating $(VENV) with $$PY312"; "$$PY312" -m venv $(VENV); fi
	$(PY) -m pip install --quiet --disable-pip-version-check --require-virtualenv -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

env: $(STAMP)
node: $(NODE_STAMP)

demo: $(STAMP)
	$(VENV)/bin/ledgerlink demo

up: $(STAMP)
	$(VENV)/bin/ledgerlink local up

test: $(STAMP) $(NODE_STAMP) browser gates
	$(PY) -m pytest -n 2 --dist loadfile

# The console's browser tests drive Debian's Chromium with its matching chromedriver (the registries' own browser
# downloads are not reachable from CI). Installed with apt when missing (as root); otherwise a message names what
# is missing and make stops: the browser tests never skip.
CHROMIUM_VERSION := 156.0.8078.129-1~deb12u1
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver with apt-get (the console's browser tests)"; \
	    apt-get update -qq && { apt-get install -y -qq --no-install-recommends chromium=$(CHROMIUM_VERSION) \
	      chromium-driver=$(CHROMIUM_VERSION) || apt-get install -y -qq --no-install-recommends chromium \
	      chromium-driver; }; \
	  else echo "missing: chromium and chromedriver (Debian: apt-get install chromium chromium-driver) for the" \
	    "console's browser tests" >&2; exit 1; fi

# The gates make test runs first: ruff, mypy --strict over the library (pydantic plugin; config in pyproject.toml),
# and the complexity gate (no block worse than C by radon's cyclomatic complexity).
gates: $(STAMP)
	$(VENV)/bin/ruff check layers functions infra tests bench tools
	cd layers && ../$(VENV)/bin/mypy --config-file ../pyproject.toml --cache-dir ../.mypy_cache -p ledgerlink
	$(VENV)/bin/xenon --max-absolute C layers/ledgerlink functions infra bench tools

test-calendar: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile tests/calendar

readme: $(STAMP)
	$(PY) tools/readme.py

synth: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx --no-install cdk synth --quiet -c arch=$(ARCH) $(if $(STAGE),-c stage=$(STAGE))
	$(PY) -m infra.summary cdk.out

bench: $(STAMP)
	$(PY) -m bench

chaos: $(STAMP)
	CHAOS_ROUNDS=$(or $(ROUNDS),20) $(PY) -m pytest -n 2 tests/acceptance/test_chaos.py

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(or $(EXAMPLES),1500) $(PY) -m pytest -n 2 tests/fuzz

deploy: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx --no-install cdk deploy -c arch=$(ARCH) -c stage=$(or $(STAGE),dev) $(CDK_ARGS)

layer: $(STAMP)
	$(PY) -m layers.build --arch $(ARCH)

lint: $(STAMP)
	$(VENV)/bin/ruff check layers functions infra tests bench tools

clean:
	rm -rf build cdk.out .ledgerlink .pytest_cache

.PHONY: gates browser help env node demo up test test-calendar readme synth bench chaos fuzz deploy layer lint clean
