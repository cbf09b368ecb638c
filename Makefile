# telshield — everything a fresh machine needs goes through these targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ./data

.PHONY: venv demo test lint typecheck layers pytest bench audit-deps clean

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

# Known vulnerabilities in the pinned dependencies (constraints.txt), for the operator's CI; it
# needs PyPI's vulnerability data (or OSV: PIP_AUDIT_ARGS="--vulnerability-service osv"). Where
# that cannot be reached, every package is "not found" and this fails: it never passes unchecked.
audit-deps: venv
	@$(BIN)/pip-audit --strict --no-deps --disable-pip --progress-spinner off \
	    -r constraints.txt $(PIP_AUDIT_ARGS) || { \
	  echo "make audit-deps: FAILED. Either a pinned dependency has a known vulnerability" \
	       "(listed above), or the vulnerability database could not be reached from this" \
	       "machine and nothing was checked ('could not be audited' above). Run it where" \
	       "PyPI or OSV is reachable (the operator's CI)." >&2; exit 1; }

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .mypy_cache .ruff_cache
