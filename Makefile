# Two commands for a fresh machine:  `make studio`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tierflow-installed
LOCK   := requirements-lock.txt
EXTRAS := local,server,hosted,postgres,scale,credentials,dev

.PHONY: studio demo test test-sqlite test-postgres install lock doctor bench clean

# The environment comes from the lock (exact versions, sha256-checked), not from today's newest
# releases: pyproject.toml's lower bounds are for library installs. `make lock` refreshes it.
$(STAMP): pyproject.toml $(LOCK)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$$(sed -n 's/^# \(pip==.*\)/\1/p' $(LOCK))"
	$(BIN)/pip install -q --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

lock:  ## re-resolve every dependency (pyproject.toml ranges, newest allowed today) into requirements-lock.txt
	$(PYTHON) scripts/lock.py --extras $(EXTRAS) --out $(LOCK)

doctor: $(STAMP)  ## the installed environment against the lock
	$(BIN)/tierflow doctor

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
