"""A real PostgreSQL server for the test session (opt-in: ``TIERFLOW_TEST_POSTGRES=1``).

The server runs from Debian's binaries (``/usr/lib/postgresql/<version>/bin``) in a temporary
folder, listens on a free loopback port, and is stopped at session end. The schema is migrated
once into a template database; each test gets its own copy (``CREATE DATABASE ... TEMPLATE``),
so tests stay isolated without paying for migrations every time.

Install on Debian/Ubuntu: ``apt-get install -y postgresql`` (the server need not be running).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

ENV_FLAG = "TIERFLOW_TEST_POSTGRES"
TEMPLATE = "tierflow_template"
SUPERUSER = "tierflow"
INSTALL_HINT = "install it with `apt-get update && apt-get install -y postgresql`"


def enabled() -> bool:
    return os.environ.get(ENV_FLAG, "") in ("1", "true", "yes")


def find_bindir() -> Path:
    """The newest PostgreSQL server binaries on this machine."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise RuntimeError(f"{ENV_FLAG}=1 but no PostgreSQL server binaries (initdb) were found; {INSTALL_HINT}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One throw-away PostgreSQL cluster: ``start()``, ``new_database()`` per test, ``stop()``."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="tierflow-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._names = itertools.count(1)
        self.version = int(self.bindir.parent.name) if self.bindir.parent.name.isdigit() else 0
        # initdb refuses to run as root: run the server as the `postgres` system user then.
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        out = subprocess.run([*self.run_as, *args], capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({out.returncode}): {out.stderr or out.stdout}")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        if self.run_as:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")
        # Durability is pointless for a test cluster; turning it off makes CREATE DATABASE fast.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        self._admin(f"CREATE DATABASE {TEMPLATE}")
        from tierflow.storage.database import Database

        db = Database(self.url(TEMPLATE))
        try:
            db.migrate()
        finally:
            db.dispose()  # a template cannot be copied while anyone is connected to it
        return self

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self) -> str:
        """A fresh, migrated database; returns its SQLAlchemy URL."""
        name = f"t_{os.getpid()}_{next(self._names)}"
        # FILE_COPY (PostgreSQL 15+) copies the small template faster than WAL-logging it.
        strategy = " STRATEGY FILE_COPY" if self.version >= 15 else ""
        self._admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}{strategy}")
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
