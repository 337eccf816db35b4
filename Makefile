# Two commands for a fresh machine (see README.md):
#   make run  [FILE=path/to/audio.ext] [OUT=dir]   set up, then transcribe through the local pipeline
#   make test                                       set up, then run the whole test suite
#   make serve [PORT=8080]                          the local stack with its HTTP API
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FILE ?= samples/sample.flac
OUT ?= transcripts
ENV ?= dev
CDK_CLI_VERSION := 2.1148.1

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/.cache/jsii
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run serve openapi test lint synth bench quality clean browser test-js screenshots

# CDK's jsii runtime (every synth, so make run and make serve too) needs Node.js 20+ on PATH.
NODE_MAJOR := 20
define need_node
	@node_version=$$(node --version 2>/dev/null); major=$${node_version#v}; major=$${major%%.*}; \
	[[ "$$major" =~ ^[0-9]+$$ ]] && (( major >= $(NODE_MAJOR) )) || { \
		echo "error: Node.js $(NODE_MAJOR) or newer must be on PATH (CDK's jsii runtime runs on it);" \
			"found: $${node_version:-no node}. Install Node.js $(NODE_MAJOR)+ (with npm), then run make again." >&2; \
		exit 1; }
endef

$(STAMP): pyproject.toml requirements.lock
	$(need_node)
	@echo "Setting up $(VENV) (first run only: dependencies, Whisper weights, CDK cache)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade "pip>=24"
	@$(PY) -m pip install --quiet -c requirements.lock -e ".[engines,local,infra,dev,search]"
	@$(PY) -m pip install --quiet --no-deps resemblyzer==0.1.4
	@$(PY) -m transcriber.engines.weights >/dev/null
	@out=$$($(PY) -c "import aws_cdk" 2>&1) || { echo "$$out" | tail -n 15 >&2; \
		echo "error: the CDK/jsii runtime did not start (above: its last lines). It needs Node.js" \
			"$(NODE_MAJOR)+ on PATH; found: $$(node --version 2>/dev/null || echo no node)." >&2; exit 1; }
	@touch $@

setup: $(STAMP)

run: setup
	@$(PY) -m localrun.cli "$(FILE)" --out "$(OUT)"

# The local stack with its HTTP API on 127.0.0.1 (prints the base URL and a development key)
PORT ?= 8080
serve: setup
	@$(PY) -m localrun.serve --port $(PORT)

# The HTTP API's OpenAPI document, committed as docs/openapi.json (a test checks it is current)
openapi: setup
	@$(PY) -m functions.api.openapi > docs/openapi.json

test: setup browser
	@command -v npm >/dev/null || { echo "error: npm must be on PATH: the suite runs the JavaScript" \
		"SDK's tests (npm test in sdk-js). It comes with Node.js $(NODE_MAJOR)+." >&2; exit 1; }
	@$(PY) -m ruff check .
	@$(PY) -m mypy transcriber functions infra localrun layers bench client tests
	@$(PY) -m pytest

# Debian's chromium for the web app's browser tests (Playwright drives it; its own browser download
# does not work offline). Installed only when missing.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null || { echo "Installing chromium (Debian) for the browser tests..."; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The JavaScript SDK's tests: offline ones, plus live ones when TRANSCRIBER_API_URL and
# TRANSCRIBER_API_KEY name a stack (make serve prints both; pytest runs them against its own stack)
test-js:
	@npm test --prefix sdk-js

# The README's screenshots of the web app (docs/screenshots/), from the browser tests
screenshots: setup browser
	@UPDATE_SCREENSHOTS=1 $(PY) -m pytest tests/integration/test_webapp.py -q

lint: setup
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy transcriber functions infra localrun layers bench client tests

# The CDK CLI (from npm) for synth/diff/deploy against a real account: make synth ENV=prod
synth: setup
	@test -x .cache/node/node_modules/.bin/cdk || npm install --silent --prefix .cache/node aws-cdk@$(CDK_CLI_VERSION)
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" .cache/node/node_modules/.bin/cdk synth --no-notices -c env=$(ENV) -q

# Pipeline against faster-whisper direct, 1 and 10 minutes (BENCH_ARGS="--long" adds 60 minutes)
bench: setup
	@$(PY) -m bench.compare $(BENCH_ARGS)

# Transcript quality over ../shared/eval through the local pipeline (~6 min; QUALITY_ARGS="--skip-seams" ~3 min)
quality: setup
	@$(PY) -m bench.quality $(QUALITY_ARGS)

clean:
	rm -rf .local cdk.out transcripts
