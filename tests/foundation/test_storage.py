"""Database migrations and the content-addressed blob store."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import inspect

from tierflow.domain.errors import InvalidInput, NotFound
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


def test_blob_store_rejects_paths_and_reports_missing(tmp_path):
    store = LocalBlobStore(tmp_path)
    with pytest.raises(InvalidInput):
        store.path_for("../../etc/passwd", "png")
    with pytest.raises(InvalidInput):
        store.path_for("a" * 64, "../x")
    with pytest.raises(NotFound):
        store.get("b" * 64, "png")


def test_a_crash_mid_write_leaves_only_a_temp_file_that_is_swept(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path)
    import os

    def crash(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.put(b"data", "png")
    monkeypatch.undo()
    assert store.all_blobs() == []
    assert list(tmp_path.glob("*/*/.*.tmp")) == []  # the writer removed its temp file
    (tmp_path / "aa" / "bb").mkdir(parents=True)
    (tmp_path / "aa" / "bb" / ".leftover.tmp").write_bytes(b"x")
    assert store.sweep_temp() == 1
