"""The blob-store contract, run against the local store and a real S3 server (moto) on loopback."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

from tierflow.domain.errors import BlobMissing, InvalidInput, NotFound
from tierflow.storage.blob_store import BlobStore, sweep_unreferenced
from tierflow.domain.errors import BlobCorrupt

PNG_LIKE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def _corrupt(store, sha: str, ext: str, data: bytes) -> None:
    """Overwrite a stored blob's bytes behind the store's back (a bit flip, a bad copy)."""
    if hasattr(store, "open_path"):
        store.open_path(sha, ext).write_bytes(data)
    else:
        store.client.put_object(Bucket=store.bucket, Key=store.key_for(sha, ext), Body=data)


def test_both_stores_implement_the_protocol(store):
    assert isinstance(store, BlobStore)


def test_put_get_round_trip_is_content_addressed(store):
    sha, created = store.put(PNG_LIKE, "png")
    assert sha == hashlib.sha256(PNG_LIKE).hexdigest() and created
    assert store.get(sha, "png") == PNG_LIKE
    assert store.exists(sha, "png") and not store.exists(sha, "mp4")
    [entry] = list(store.entries())
    assert (entry.sha256, entry.ext) == (sha, "png") and abs(entry.modified - time.time()) < 120


def test_an_existing_blob_is_not_written_twice(store):
    sha, _ = store.put(PNG_LIKE, "png")
    [before] = list(store.entries())
    time.sleep(1.1)  # S3 LastModified has one-second resolution: a rewrite would move it
    again, created = store.put(PNG_LIKE, "png")
    [after] = list(store.entries())
    assert (again, created) == (sha, False)
    assert after.modified == before.modified


def test_puts_from_several_threads_at_once(store):
    """The runner's encode threads share one store: of 8 threads putting the same bytes at once
    exactly one creates the blob (the others may not delete it on failure); different bytes all land."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(8)
    big = PNG_LIKE * 200  # 2 MiB: long enough to hash and write that the threads overlap

    def put(i: int):
        start.wait()
        return store.put(big, "png"), store.put(PNG_LIKE + bytes([i]), "png")

    with ThreadPoolExecutor(8) as pool:
        same, different = zip(*pool.map(put, range(8)))
    assert {sha for sha, _ in same} == {hashlib.sha256(big).hexdigest()}
    assert [created for _, created in same].count(True) == 1
    assert all(created for _, created in different) and len({sha for sha, _ in different}) == 8
    assert all(store.get(sha, "png") == PNG_LIKE + bytes([i]) for i, (sha, _) in enumerate(different))
    assert len(list(store.entries())) == 9


def test_a_missing_blob_is_not_found_naming_the_store(store):
    sha = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(BlobMissing, match=sha[:12]):
        store.get(sha, "png")


def test_every_read_is_checked_against_its_sha256(store):
    sha, _ = store.put(PNG_LIKE, "png")
    _corrupt(store, sha, "png", PNG_LIKE[:-1] + b"\x00")
    with pytest.raises(BlobCorrupt, match="corrupt"):
        store.get(sha, "png")


@pytest.mark.parametrize(("sha", "ext", "field"), [("abc", "png", "sha256"), ("0" * 64, "p/ng", "format")])
def test_bad_keys_name_the_field(store, sha, ext, field):
    with pytest.raises(InvalidInput) as e:
        store.put(b"x", ext) if sha == "0" * 64 else store.get(sha, ext)
    assert e.value.field == field


def test_the_sweep_spares_referenced_and_young_blobs(store, monkeypatch):
    kept, _ = store.put(b"kept by a row", "png")
    orphan, _ = store.put(b"left by a killed process", "png")
    assert sweep_unreferenced(store, {kept}, older_than=600) == 0  # younger than the grace period
    later = time.time() + 601
    monkeypatch.setattr("tierflow.storage.blob_store.time.time", lambda: later)
    assert sweep_unreferenced(store, {kept}, older_than=600) == 1
    assert store.exists(kept, "png") and not store.exists(orphan, "png")


def test_the_sweep_marker_records_when_it_ran(store):
    assert store.last_sweep() is None
    store.mark_sweep()
    assert abs(store.last_sweep() - time.time()) < 120
    assert list(store.entries()) == []  # the marker is not a blob


def test_delete_removes_and_is_idempotent(store):
    sha, _ = store.put(PNG_LIKE, "png")
    store.delete(sha, "png")
    store.delete(sha, "png")
    assert not store.exists(sha, "png")


def test_the_studio_gets_a_file_or_a_short_lived_url(store, store_kind):
    sha, _ = store.put(PNG_LIKE, "png")
    if store_kind == "local":
        path, stat = store.verified_file(sha, "png")
        assert store.presigned_url(sha, "png") is None and path.read_bytes() == PNG_LIKE
        assert stat.st_size == len(PNG_LIKE)
        return
    assert store.verified_file(sha, "png") is None
    url = store.presigned_url(sha, "png", expires=60)
    assert "X-Amz-Expires=60" in url
    got = httpx.get(url)
    assert got.status_code == 200 and got.content == PNG_LIKE and got.headers["content-type"] == "image/png"
    with pytest.raises(BlobMissing):
        store.presigned_url(hashlib.sha256(b"gone").hexdigest(), "png")


def test_an_unknown_bucket_fails_at_once_with_the_fix(s3_url):
    from tierflow.storage.blobs_s3 import S3BlobStore

    with pytest.raises(NotFound, match="does not exist") as e:
        S3BlobStore.from_url("s3://no-such-bucket-here/x")
    assert e.value.field == "TIERFLOW_BLOBS_URL"
    with pytest.raises(InvalidInput, match="not a blob store URL"):
        S3BlobStore.from_url("s4://bucket")


def test_large_blobs_are_looked_up_before_they_are_sent_again(s3_url, monkeypatch):
    from tierflow.storage import blobs_s3

    store = blobs_s3.S3BlobStore.from_url(s3_url)
    monkeypatch.setattr(blobs_s3, "HEAD_FIRST_BYTES", 100)
    sha, created = store.put(PNG_LIKE, "png")
    import obstore

    sent = []
    monkeypatch.setattr(obstore, "put", lambda *a, **kw: sent.append(a))  # the store's one PUT
    assert store.put(PNG_LIKE, "png") == (sha, False) and sent == []
    monkeypatch.setattr(blobs_s3, "HEAD_FIRST_BYTES", 1 << 30)  # small again: no HEAD, the conditional PUT
    store.put(PNG_LIKE, "png")
    assert len(sent) == 1
    assert created and store.get(sha, "png") == PNG_LIKE


def test_an_unreachable_endpoint_fails_at_once_with_the_fix(monkeypatch):
    from tests.pg import free_port
    from tierflow.storage.blobs_s3 import S3BlobStore

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    with pytest.raises(InvalidInput, match="cannot reach the object store") as e:
        S3BlobStore.from_url("s3://bucket/prefix")
    assert e.value.field == "AWS_ENDPOINT_URL"
