"""Which index each gallery query uses, and its execution time inside PostgreSQL (EXPLAIN ANALYZE).

    python bench/explain_gallery.py --assets 1000000      # a throw-away PostgreSQL (tests/pg.py)

Seeds the same gallery as bench/api.py, sends each of its queries through the real API once,
captures the SQL the gallery ran, and prints the server's execution time and the indexes the
plan used. Server-side time does not depend on how busy the client's cores are, so it shows
whether a query shape stays flat as the gallery grows even on a loaded machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "src"), str(ROOT)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=200_000)
    args = parser.parse_args()

    import api
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from tests import pg
    from tierflow.bootstrap import build
    from tierflow.config import Settings
    from tierflow.delivery.api.app import create_app
    from tierflow.stages.guard import OpenGuard

    server = pg.PostgresServer().start()
    try:
        url = server.url(server.new_database())
        svc = build(Settings(home=Path(tempfile.mkdtemp()), preset="tiny", database_url=url), guard=OpenGuard())
        gallery = api.seed(svc, api.new_gallery(svc), args.assets, random.Random(7))
        captured: list[tuple[str, object]] = []

        @event.listens_for(svc.db.engine, "before_cursor_execute")
        def grab(conn, cursor, statement, parameters, context, executemany):
            if "FROM assets" in statement and "ORDER BY assets.created_at DESC" in statement:
                captured.append((statement, parameters))

        print(f"{args.assets:,} assets on PostgreSQL {server.version}")
        with TestClient(create_app(svc)) as client:
            for label, params in api.cases(svc, gallery):
                captured.clear()
                client.get("/api/v1/assets", params=params)
                statement, parameters = captured[-1]
                with svc.db.engine.connect() as conn:
                    plan = [r[0] for r in conn.connection.dbapi_connection.execute(
                        "EXPLAIN (ANALYZE) " + statement, parameters).fetchall()]
                used = sorted({w for line in plan for w in line.replace("(", " ").split() if w.startswith("ix_assets")})
                print(f"{label:32} {plan[-1].strip():28} {', '.join(used)}")
        svc.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
