# Two commands for a fresh machine:  `make studio`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tierflow-installed

.PHONY: studio demo test test-sqlite test-postgres install bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch and torchvision as a matched pair (spandrel needs torchvision).
	$(BIN)/pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install -q -e ".[local,server,hosted,postgres,scale,credentials,dev]"
	touch $(STAMP)

install: $(STAMP)

studio: $(STAMP)  ## install, then run the web studio + REST API on http://127.0.0.1:8765
	$(BIN)/tierflow studio

demo: $(STAMP)  ## install, then run a scripted end-to-end session in the terminal
	$(BIN)/tierflow demo

test: $(STAMP)  ## install, then run the whole offline test suite on SQLite and on PostgreSQL
	bash scripts/system-deps.sh
	$(BIN)/python -m pytest
	PYTHON=$(BIN)/python bash scripts/test-postgres.sh

test-sqlite: $(STAMP)  ## the suite on SQLite only (the quick loop while developing)
	$(BIN)/python -m pytest

test-postgres: $(STAMP)  ## the suite on a throw-away PostgreSQL server only
	bash scripts/system-deps.sh
	PYTHON=$(BIN)/python bash scripts/test-postgres.sh

bench: $(STAMP)  ## the CPU benchmarks: persisted drafts/s, gallery latency, load (see docs/PERFORMANCE.md)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/export_sign.py

clean:
	rm -rf $(VENV) .pytest_cache
