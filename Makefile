# Rampart — the two commands a new user needs: `make run` and `make test`.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test lint fmt build release openapi

## Start the server on embedded defaults (SQLite and keys in ./data, http://127.0.0.1:8080).
run:
	$(CARGO) run -p rampart-server --bin rampart -- serve

## Run every test. The PostgreSQL half runs when RAMPART_TEST_POSTGRES_URL is set
## (e.g. postgres://postgres@127.0.0.1:5432/test); without it those tests print SKIPPED.
## Likewise RAMPART_TEST_NATS_URL (scale-out) and RAMPART_TEST_REDIS_URL (shared rate limits).
## The official OpenAI Python SDK (a real client of /v1/chat/completions) is installed into a
## venv under target/ once.
PYENV := target/pyenv
test: $(PYENV)/.openai-sdk
	RAMPART_TEST_PYTHON=$(CURDIR)/$(PYENV)/bin/python $(CARGO) test --workspace --all-targets

$(PYENV)/.openai-sdk:
	python3 -m venv $(PYENV)
	$(PYENV)/bin/pip install --quiet --disable-pip-version-check 'openai>=1.40,<4'
	touch $@

## Formatting and lints, as CI checks them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

build:
	$(CARGO) build -p rampart-server

release:
	$(CARGO) build --release -p rampart-server

## Print the OpenAPI document.
openapi:
	$(CARGO) run -q -p rampart-server --bin rampart -- openapi
