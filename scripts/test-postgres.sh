#!/usr/bin/env bash
# The whole test suite again, on a real PostgreSQL server that tests/pg.py starts on a loopback
# port in a temporary folder (Debian's `postgresql` package; scripts/system-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  echo "PostgreSQL server binaries not found: the PostgreSQL pass is skipped" \
       "(install them with: apt-get install -y postgresql)" >&2
  exit 0
fi
echo "== the test suite on PostgreSQL ==" >&2
# Every test that opens a database runs again here. These folders never do (engines, hosted
# engines against loopback fakes, pure domain rules, imaging): a second run would repeat the
# first one exactly, so it is skipped to keep CI short. Nor do these files: the import graph and
# the door table read source files; CLI usage errors are raised by the argument parser before a
# command opens a database (the test sets no TIERFLOW_HOME); /docs and /redoc are the OpenAPI
# document and its viewer's static assets.
TIERFLOW_TEST_POSTGRES=1 exec "$PY" -m pytest \
  --ignore=tests/engines --ignore=tests/engines_hosted --ignore=tests/guardrails \
  --ignore=tests/stages_cleanup --ignore=tests/stages_media \
  --ignore=tests/test_import_graph.py --ignore=tests/test_door_parity.py \
  --ignore=tests/foundation/test_cli_usage_errors.py --ignore=tests/web/test_api_docs.py "$@"
