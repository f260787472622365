# critmix: every target sets up .venv itself on first use: the CPU install of requirements.lock, every
# package pinned and hash-checked (a GPU host installs as the README's "GPU hosts" says).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
STAMP := $(VENV)/.installed
CONFIG ?= configs/demo.yaml
RUN_NAME := $(shell sed -n 's/^name: *//p' $(CONFIG) 2>/dev/null | head -1)
RUN ?= runs/$(RUN_NAME)
CRITMIX := $(PY) -m pipeline

.PHONY: venv corpus curate plan train test test-slow test-all chromium lint bench sql report lock clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes --no-deps -r requirements.lock
	$(PIP) --no-deps -e .
	@touch $(STAMP)

corpus: $(STAMP)
	$(CRITMIX) corpus

curate: corpus
	$(CRITMIX) curate --config $(CONFIG)

plan: $(RUN)/plan/curriculum.yaml

$(RUN)/plan/curriculum.yaml: $(STAMP) $(CONFIG) $(RUN)/manifest.json
	$(CRITMIX) plan --config $(CONFIG)

$(RUN)/manifest.json:
	$(MAKE) curate CONFIG=$(CONFIG)

# A CONFIG that is not there: critmix's one line for it, as `make curate` gives, not make's "No rule to make target".
$(CONFIG):
	@$(CRITMIX) plan --config $(CONFIG)

train: plan
	$(CRITMIX) train --config $(CONFIG)

report: $(STAMP)
	$(CRITMIX) report --config $(CONFIG)

# Two pytest workers (pytest-xdist), one per core of the 2-core CI machine; a module's tests stay in one
# worker, so that a module-scoped fixture (test_flow's whole flow) is built once. TEST_WORKERS=0 runs
# in this process (a debugger, -x on the first failure in order).
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

# The fast tier: everything but the `slow` end-to-end checks, with the slowest tests listed.
test: $(STAMP)
	$(PYTEST) -m "not slow"

# The slow tier alone: what CI runs after the fast tier (so that CI runs no test twice). Its report-layout
# tests lay the report out in a headless Chromium, which `make chromium` installs when there is none.
test-slow: $(STAMP) chromium
	$(PYTEST) -m slow

# Every test, both tiers.
test-all: $(STAMP) chromium
	$(PYTEST)

# The system's Chromium (Debian's package; no browser download): with apt-get, as root or with sudo.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "make: the report's layout tests need Chromium: install it so that \`chromium\` is on PATH" >&2; exit 1; }; \
	  as_root=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "make: installing chromium (the report's layout tests) with $${as_root:-root} apt-get" >&2; \
	  $$as_root apt-get update -qq && $$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(PY) -m ruff check core pipeline stages trainer tests bench
	$(PY) -m ruff format --check core pipeline stages trainer tests bench
	$(PY) -m mypy

# `make bench BENCH=minhash BENCH_ARGS="--docs 100000"` runs one script with its options
# (the whole set takes well over an hour on 2 cores: BENCH=scale curates 100k, 400k and 1.6M documents
# twice and runs datatrove's pipeline once; the curricula bench trains three 300k-token runs).
BENCH ?= *
bench: $(STAMP)
	@for script in bench/bench_$(BENCH).py; do echo "== $$script"; $(PY) $$script $(BENCH_ARGS) || exit 1; done

sql: $(STAMP)
	$(CRITMIX) sql --config $(CONFIG) "$(Q)"

# Re-pin after changing dependencies in pyproject.toml: every extra installed, then every package pinned
# with the sha256 of its wheel (the lock holds the extras too, so `make venv` installs them all).
lock: $(STAMP)
	$(PIP) -e '.[test,bench,lint]'
	$(PY) .ci/lock.py

clean:
	rm -rf $(VENV) runs
