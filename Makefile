# The two commands a newcomer needs: `make run` and `make test`. Both install what is missing
# (Python venv, PostgreSQL, RabbitMQ, a CJK font) on a Debian machine first.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST := $(BIN)/python -m pytest
# Each checkout tests on a RabbitMQ vhost of its own, emptied before every run: two checkouts
# testing on one broker never see each other's events, and queues an interrupted run left
# behind never pile up (a few hundred quorum queues exhaust a broker's file handles).
TEST_VHOST := fengqiao_test_$(shell pwd | sha1sum | cut -c1-8)
TEST_ENV := FENGQIAO_AMQP_URI=amqp://guest:guest@127.0.0.1:5672/$(TEST_VHOST)

.PHONY: run demo test test-unit test-integration test-e2e servers test-tools fonts setup bench clean

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

## A synthetic month of cases through the running services' APIs (start `make run` first).
DEMO_CASES ?= 300
demo: $(STAMP)
	$(BIN)/python -m scripts.demo --cases $(DEMO_CASES)

## The whole suite: unit, integration (real broker and database), end to end (processes).
test: $(STAMP) test-tools
	scripts/ensure-servers.sh --fresh-vhost $(TEST_VHOST)
	$(TEST_ENV) $(PYTEST) tests

test-unit: $(STAMP) test-tools
	$(PYTEST) tests/unit

test-integration: $(STAMP) fonts
	scripts/ensure-servers.sh --fresh-vhost $(TEST_VHOST)
	$(TEST_ENV) $(PYTEST) tests/integration

test-e2e: $(STAMP) fonts
	scripts/ensure-servers.sh --fresh-vhost $(TEST_VHOST)
	$(TEST_ENV) $(PYTEST) tests/e2e

## End-to-end throughput and latency beside a raw kombu + psycopg baseline (see README).
bench: $(STAMP) servers
	$(BIN)/python bench/e2e_throughput.py

clean:
	rm -rf $(VENV) run .pytest_cache
