# The two commands a newcomer needs: `make run` and `make test`. Both install what is missing
# (Python venv, PostgreSQL, RabbitMQ, a CJK font) on a Debian machine first.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST := $(BIN)/python -m pytest

.PHONY: run test test-unit test-integration test-e2e servers test-tools fonts setup bench clean

$(STAMP): pyproject.toml
	scripts/ensure-python.sh
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

test-tools: fonts
	scripts/ensure-test-tools.sh

fonts:
	scripts/ensure-fonts.sh

servers:
	scripts/ensure-servers.sh

setup: $(STAMP) servers fonts
	$(BIN)/python -m fengqiao.cli setup

## Run every service as a process against local RabbitMQ and PostgreSQL (Ctrl-C stops them).
run: setup
	$(BIN)/python -m fengqiao.launcher

## The whole suite: unit, integration (real broker and database), end to end (processes).
test: $(STAMP) test-tools
	scripts/ensure-servers.sh --fresh-test-vhost
	$(PYTEST) tests

test-unit: $(STAMP) test-tools
	$(PYTEST) tests/unit

test-integration: $(STAMP) fonts
	scripts/ensure-servers.sh --fresh-test-vhost
	$(PYTEST) tests/integration

test-e2e: $(STAMP) fonts
	scripts/ensure-servers.sh --fresh-test-vhost
	$(PYTEST) tests/e2e

## End-to-end throughput and latency beside a raw kombu + psycopg baseline (see README).
bench: $(STAMP) servers
	$(BIN)/python bench/e2e_throughput.py

clean:
	rm -rf $(VENV) run .pytest_cache
