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
TIERFLOW_TEST_POSTGRES=1 exec "$PY" -m pytest "$@"
