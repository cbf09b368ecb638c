# telshield — everything a fresh machine needs goes through these targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ./data

.PHONY: venv demo test lint typecheck layers pytest bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,spark]"
	touch $(STAMP)

demo: venv
	@echo "make demo: data directory $(DATA) (created by telshield init if absent; DATA=... for another)"
	$(BIN)/telshield init --data-dir $(DATA)
	$(BIN)/telshield demo --data-dir $(DATA)

lint: venv
	$(BIN)/ruff check src tests bench

typecheck: venv
	$(BIN)/mypy

layers: venv
	$(BIN)/lint-imports

pytest: venv
	$(BIN)/pytest -n 2 -q

test: lint typecheck layers pytest

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .mypy_cache .ruff_cache
