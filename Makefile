# Switchboard: the two commands of the README, and the tools around them.
#   make demo   set up, start a server, replay a real day of a bank's calls, print the report
#   make test   set up and run the whole test suite (what CI runs)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DAY    ?= examples/bank/anonbank-1999-08-01.csv
CONFIG ?= examples/bank/switchboard.yaml

.PHONY: install demo test protos check-protos serve bench clean

install: $(STAMP)

# Re-install whenever the project's dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/switchboard replay $(DAY) --config $(CONFIG)

test: $(STAMP) check-protos
	$(BIN)/python -m pytest

check-protos: $(STAMP)
	$(BIN)/python protos/generate.py --check

protos: $(STAMP)
	$(BIN)/python protos/generate.py

serve: $(STAMP)
	$(BIN)/switchboard serve --config $(CONFIG)

bench: $(STAMP)
	$(BIN)/python bench/capacity.py --out bench/results/capacity-latest.json

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
