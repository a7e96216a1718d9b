# Entry points, each creating .venv and installing what it needs on a fresh machine:
#   make demo   mixes the built-in sample images and writes hsmix_demo.png
#   make test   lint + the test suite (CI runs it)
#   make docs   the documentation site in docs/_build/html, warnings as errors, and the
#               tests that read the built pages (CI runs it)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint docs notebook clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	@# torch 2.14.1 / torchvision 0.29.1 come from the local wheel store (no multi-GB download).
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	@# fast-slic (optional CPU backend) only builds without build isolation.
	$(BIN)/pip install -q cython numpy setuptools wheel
	$(BIN)/pip install -q --no-build-isolation fast-slic
	$(BIN)/pip install -q --no-build-isolation -e ".[all,test,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m hsmix_torch demo --out hsmix_demo.png

lint: $(STAMP)
	$(BIN)/ruff check hsmix_torch tests benchmarks notebooks docs
	$(BIN)/ruff format --check hsmix_torch tests benchmarks notebooks docs

# One pytest worker per core (pytest-xdist); each worker takes one torch thread. loadgroup
# keeps a group on one worker (the nnU-Net tests plan their data set once). A worker that
# crashes ends the run with a failure naming its test (no restart: a restarted worker left
# its group unscheduled and the run waiting); pyproject.toml sets the per-test time limit.
test: lint
	$(BIN)/python -m pytest -n auto --dist loadgroup --max-worker-restart=0

# Sphinx runs the gallery (docs/examples) on the CPU and writes the API pages from the
# docstrings; -W: a warning fails the build. docs/tests then read the built pages.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	$(BIN)/python -m pytest -q -p no:cacheprovider docs/tests

# The tour notebook is stored with its outputs; rerun it after a change that alters them.
notebook: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter-execute --inplace hsmix_tour.ipynb

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache hsmix_demo.png dist build docs/_build docs/api \
		docs/auto_examples docs/_generated docs/sg_execution_times.rst
