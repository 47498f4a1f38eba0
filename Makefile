# modelfleet: `make demo` and `make test` work on a fresh clone (Python 3.11 required).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-ui stop status lint format bench venv clean lock

# The venv is (re)built whenever the lock file or the project metadata change. Bytecode
# is compiled at install: where PYTHONDONTWRITEBYTECODE is set (CI, containers) every
# process would otherwise recompile TensorFlow, GX and Airflow from source (measured:
# `import great_expectations` 29 s without, 4 s with).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv==0.13.9
	$(BIN)/uv pip sync -q --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

venv: $(STAMP)

# tritonclient for the integration test that runs it against the endpoint
# (tests/clients/triton_client.py), in a venv of its own: tritonclient pins older
# ml-dtypes, protobuf and greenlet than the platform's lock. Built once and cached (a
# test run needs no package index once it exists); rebuilt when its pins change.
TRITON_VENV := .venv-triton
TRITON_STAMP := $(TRITON_VENV)/.installed
$(TRITON_STAMP): tests/clients/requirements-triton.txt
	@test -x $(TRITON_VENV)/bin/python || $(BIN)/uv venv -q --python $(BIN)/python $(TRITON_VENV)
	$(BIN)/uv pip sync -q --python $(TRITON_VENV)/bin/python tests/clients/requirements-triton.txt
	@touch $@

.PHONY: triton-venv
triton-venv: $(TRITON_STAMP)

demo: venv
	$(BIN)/modelfleet demo

stop:
	@if [ -x $(BIN)/modelfleet ]; then $(BIN)/modelfleet stop; else echo "nothing to stop"; fi

status: venv
	$(BIN)/modelfleet status

# Everything but the browser tests, which need Debian's chromium (`make test-ui`).
test: venv $(TRITON_STAMP)
	$(BIN)/pytest --ignore=tests/integration/test_ui.py \
		--ignore=tests/integration/test_offline_pages.py \
		--ignore=tests/integration/up/test_gate_log_ui.py

# The Models UI in Airflow: its app, and the browser test that signs in to a real Airflow
# api-server in headless Chromium (Debian's /usr/bin/chromium: `apt-get install chromium`;
# screenshots in var/test-artifacts/ui/), and the pages with the internet blocked
# (var/test-artifacts/offline/), and the gate's task log of a run the scheduler ran, on a
# platform that `modelfleet up` started. CI (.ci/run) runs both targets.
test-ui: venv
	$(BIN)/pytest tests/unit/ui tests/integration/test_ui.py tests/integration/test_offline_pages.py \
		tests/integration/up/test_gate_log_ui.py

# ruff, the layers contract (.importlinter) and the type check (mypy, configured in
# pyproject.toml).
lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: venv
	$(BIN)/python bench/serving_batching.py

# A year of the fleet: every workflow retrained for every month through the Airflow
# scheduler while a load generator queries the endpoint; writes docs/year-report.md.
# Takes long (see the report for the last figure); `modelfleet simulate-year --help`.
.PHONY: year
year: venv
	$(BIN)/modelfleet simulate-year

# The CeleryExecutor profile end to end (docs/celery-profile.md): a fresh platform in
# var/celery-check (embedded Postgres, Redis DB 15) runs retrain__digits on an
# `airflow celery worker`; the evidence is printed and recorded in that doc.
.PHONY: celery-check
celery-check: venv
	$(BIN)/python -m modelfleet.harness.celery_check

# The KServe V2 gRPC modules from src/modelfleet/serving/grpc/grpc_predict_v2.proto
# (committed; grpcio-tools is in the lock). Handlers are registered by hand
# (serving/grpc/server.py), so no *_pb2_grpc module is generated.
.PHONY: grpc-stubs
grpc-stubs: venv
	cd src && ../$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. \
		modelfleet/serving/grpc/grpc_predict_v2.proto

# Re-pin every dependency (needs the package index).
lock: venv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean: stop
	rm -rf var
