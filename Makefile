# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH_VERSION := 2.13.0
DEMO_DIR ?= demo_output

.PHONY: venv demo test bench clean

# The stamp is rebuilt whenever the package metadata changes.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: its CPU wheel lies on disk; a bare `torch` would pull CUDA.
	$(PIP) install -q torch==$(TORCH_VERSION)
	$(PIP) install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q

demo: venv
	$(PY) -m graphops.demo --out $(DEMO_DIR)

bench: venv
	$(PY) benchmarks/graph_build.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
