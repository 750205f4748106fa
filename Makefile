# The two commands of a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hubver-installed
# Offline and quiet: no telemetry, no Xet, no auto-conversion calls to external hosts.
export HF_HUB_DISABLE_TELEMETRY := 1
export DISABLE_SAFETENSORS_CONVERSION := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test test-fast demo bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first and alone: `torch==2.13.0` is a CPU wheel; anything looser pulls a CUDA build.
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[train,dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Everything, as CI runs it: the real hub, real training (minutes).
test: lint
	$(VENV)/bin/pytest -q

# The loop for every edit: unit tests of the pure modules and the CLI's parsing (seconds, no hub).
test-fast: $(STAMP)
	$(VENV)/bin/pytest -q -m fast tests/unit

demo: $(STAMP)
	$(PY) examples/demo.py

# `make bench BENCH=push_vs_hf,checkout_vs_hf` runs only those cases (names: benchmarks/README.md).
bench: $(STAMP)
	$(PY) benchmarks/run.py $(if $(BENCH),--only $(BENCH))

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
