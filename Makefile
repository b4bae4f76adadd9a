# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH_VERSION := 2.13.0
DEMO_DIR ?= demo_output

.PHONY: venv demo test bench docs clean mutate

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

# Mutation check of the numerics modules (mutmut, in scratch copies; about an hour on 2 cores, not part of
# `make test`): writes benchmarks/results/mutation.json and the table in docs/benchmarks/mutation.md.
# One target: make mutate MUTATE_ARGS="--only poisson".
MUTATE_ARGS ?=
mutate: venv
	$(PIP) install -q -e '.[mutate]'
	$(PY) benchmarks/mutation.py $(MUTATE_ARGS)

# The documentation site: installs the `docs` extra once (stamp), builds site/ with
# warnings as errors. Figures: $(PY) docs/make_figures.py; CLI page: $(PY) docs/gen_cli.py.
$(VENV)/.docs-installed: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[docs]'
	touch $@

docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
