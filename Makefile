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
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)
TEST_ENV := FENGQIAO_AMQP_URI=amqp://guest:guest@127.0.0.1:5672/$(TEST_VHOST)

.PHONY: screenshots run demo test test-unit test-integration test-e2e servers test-tools fonts setup bench bench-replicas bench-http bench-soak bench-profile clean

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

## The README's screenshots of the web console, taken by its browser test.
screenshots: $(STAMP) test-tools
	scripts/ensure-servers.sh --fresh-vhost $(TEST_VHOST)
	FENGQIAO_SCREENSHOTS=docs/screenshots $(TEST_ENV) $(PYTEST) tests/e2e/test_web_console.py

## End-to-end throughput and latency beside a raw kombu + psycopg baseline (see README).
bench: $(STAMP) servers
	$(BIN)/python bench/e2e_throughput.py

## The same with two processes of every service.
bench-replicas: $(STAMP) servers
	$(BIN)/python bench/e2e_throughput.py --replicas 2 --only services

## Intake's HTTP registrations per second at 10 and 100 connections (wrk, from Debian).
bench-http: $(STAMP) servers
	command -v wrk >/dev/null || $(AS_ROOT) sh -c 'apt-get update -qq && apt-get install -y -qq wrk'
	$(BIN)/python bench/http_intake.py

## Ten minutes of steady load: memory flat, no queue growing (exit 1 otherwise).
bench-soak: $(STAMP) servers
	$(BIN)/python bench/soak.py

## Where each service spends its time (py-spy; speedscope files in run/profile).
bench-profile: $(STAMP) servers
	$(BIN)/pip install -q py-spy
	$(BIN)/python bench/e2e_throughput.py --only services --profile run/profile

clean:
	rm -rf $(VENV) run .pytest_cache
