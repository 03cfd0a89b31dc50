# The two commands a new user needs: `make train` and `make test`.
# Both create the virtual environment in .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: train test lint bench clean clean-runs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-cli: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[cli]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed-cli

train: $(VENV)/.installed-cli
	$(BIN)/nanocnn train

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

# Speed against PyTorch (when torch is installed: pip install torch==2.13.0) and naive loops;
# then data-parallel scaling, 1 process x 2 threads against 2 MPI ranks x 1 thread.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.scaling

# What make rebuilds; never runs/, where every trained model is (make clean-runs deletes it).
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

clean-runs:
	rm -rf runs
