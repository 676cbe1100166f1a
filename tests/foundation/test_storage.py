"""Database migrations and the content-addressed blob store."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import inspect

from tierflow.domain.errors import BlobMissing, InvalidInput
from tierflow.storage.blobs import LocalBlobStore
from tierflow.storage.database import Database


def test_migrations_create_every_table_and_are_idempotent(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.migrate()
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert {"projects", "assets", "asset_parents", "generations", "reviews", "prompts", "milestones",
            "ledger_entries", "audit_log", "users", "alembic_version"} <= tables


def test_blob_store_is_content_addressed_and_deduplicates(tmp_path):
    store = LocalBlobStore(tmp_path)
    sha, created = store.put(b"hello", "png")
    assert sha == hashlib.sha256(b"hello").hexdigest() and created
    assert store.put(b"hello", "png") == (sha, False)
    assert store.get(sha, "png") == b"hello"
    assert store.path_for(sha, "png").relative_to(tmp_path).parts[:2] == (sha[:2], sha[2:4])


def test_of_two_writers_of_the_same_bytes_only_one_creates_the_blob(tmp_path, monkeypatch):
    from pathlib import Path

    store = LocalBlobStore(tmp_path)
    sha, created = store.put(b"same bytes", "png")
    assert created
    # A second writer (another encode thread) that looked before the first one published: it must not
    # report the blob as its own, or its failure would delete what the first writer's row names.
    monkeypatch.setattr(Path, "exists", lambda self: False)
    assert store.put(b"same bytes", "png") == (sha, False)
    store.path_for(sha, "png").write_bytes(b"damaged")  # a damaged copy is replaced, not trusted
    assert store.put(b"same bytes", "png") == (sha, True)
    monkeypatch.undo()
    assert store.get(sha, "png") == b"same bytes" and list(tmp_path.glob("*/*/.*.tmp")) == []


def test_blob_store_rejects_paths_and_reports_missing(tmp_path):
    store = LocalBlobStore(tmp_path)
    with pytest.raises(InvalidInput):
        store.path_for("../../etc/passwd", "png")
    with pytest.raises(InvalidInput):
        store.path_for("a" * 64, "../x")
    with pytest.raises(BlobMissing):  # a row without its file is damage (409, fsck), not an unknown id (404)
        store.get("b" * 64, "png")


def test_a_crash_mid_write_leaves_only_a_temp_file_that_is_swept(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path)
    import os

    def crash(fd):
        raise OSError("power cut")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        store.put(b"data", "png")
    monkeypatch.undo()
    assert store.all_blobs() == []
    assert list(tmp_path.glob("*/*/.*.tmp")) == []  # the writer removed its temp file
    (tmp_path / "aa" / "bb").mkdir(parents=True)
    leftover = tmp_path / "aa" / "bb" / ".leftover.tmp"
    leftover.write_bytes(b"x")
    assert store.sweep_temp() == 0, "a fresh temp file may be a live writer's in another process"
    _age(leftover, 3600)
    assert store.sweep_temp() == 1 and not leftover.exists()


def _age(path, seconds: float) -> None:
    import os
    import time

    past = time.time() - seconds
    os.utime(path, (past, past))


def test_blobs_no_asset_names_are_swept_after_the_grace_period(tmp_path):
    store = LocalBlobStore(tmp_path)
    kept, _ = store.put(b"an asset's image", "png")
    orphan, _ = store.put(b"written just before a SIGKILL, its row never committed", "png")
    assert store.sweep_unreferenced({kept}) == 0  # young: maybe a render in flight elsewhere
    _age(store.path_for(orphan, "png"), 3600)
    _age(store.path_for(kept, "png"), 3600)
    assert store.sweep_unreferenced({kept}) == 1
    assert store.exists(kept, "png") and not store.exists(orphan, "png")


def test_postgresql_sessions_plan_every_query_with_its_values(database_url):
    """A generic plan is blind to the search words (34 ms instead of 1 ms at a million assets): every
    pooled PostgreSQL connection plans with the values, also after a rolled-back transaction."""
    if not database_url:
        pytest.skip("PostgreSQL only (the PostgreSQL pass of `make test`)")
    from sqlalchemy import text

    db = Database(database_url)
    try:
        for _ in range(3):  # reused connections keep it: the pool's rollback does not undo it
            with db.read() as s:
                assert s.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
    finally:
        db.dispose()
