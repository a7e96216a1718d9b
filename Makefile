# Two entry points, each creating .venv and installing what it needs on a fresh machine:
#   make demo   mixes the built-in sample images and writes hsmix_demo.png
#   make test   lint + the test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint notebook clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	@# torch 2.14.1 / torchvision 0.29.1 come from the local wheel store (no multi-GB download).
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	@# fast-slic (optional CPU backend) only builds without build isolation.
	$(BIN)/pip install -q cython numpy setuptools wheel
	$(BIN)/pip install -q --no-build-isolation fast-slic
	$(BIN)/pip install -q --no-build-isolation -e ".[all,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m hsmix_torch demo --out hsmix_demo.png

lint: $(STAMP)
	$(BIN)/ruff check hsmix_torch tests benchmarks notebooks
	$(BIN)/ruff format --check hsmix_torch tests benchmarks notebooks

# One pytest worker per core (pytest-xdist); each worker takes one torch thread. loadgroup
# keeps a group on one worker (the nnU-Net tests plan their data set once). A worker that
# crashes ends the run with a failure naming its test (no restart: a restarted worker left
# its group unscheduled and the run waiting); pyproject.toml sets the per-test time limit.
test: lint
	$(BIN)/python -m pytest -n auto --dist loadgroup --max-worker-restart=0

# The tour notebook is stored with its outputs; rerun it after a change that alters them.
notebook: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter-execute --inplace hsmix_tour.ipynb

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache hsmix_demo.png
