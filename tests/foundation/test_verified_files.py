"""The streamed check of a local blob file and what its cache of recent passes trusts (storage/blob_verify.py)."""

from __future__ import annotations

import hashlib
import os

import pytest

from tierflow.domain.errors import BlobCorrupt, BlobMissing
from tierflow.storage.blob_verify import VerifiedFiles
from tierflow.storage.blobs import LocalBlobStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _blob(tmp_path, data: bytes):
    path = tmp_path / hashlib.sha256(data).hexdigest()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest(), path


def test_a_file_is_hashed_in_chunks_and_an_unchanged_one_only_once(tmp_path):
    data = os.urandom(3 << 20)  # larger than file_digest's buffer: read in chunks
    sha, path = _blob(tmp_path, data)
    files = VerifiedFiles()
    stat = files.check(sha, path)
    assert stat.st_size == len(data) and files.hashed == 1
    assert files.check(sha, path).st_ino == stat.st_ino and files.hashed == 1
    with pytest.raises(BlobCorrupt, match="fsck --repair"):
        files.check(hashlib.sha256(b"other").hexdigest(), path)  # the same file under another name
    assert files.hashed == 2


def test_a_rewritten_file_is_hashed_again(tmp_path):
    data = b"x" * 5000
    sha, path = _blob(tmp_path, data)
    files = VerifiedFiles()
    before = files.check(sha, path)
    path.write_bytes(b"y" * 5000)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1))  # a different mtime, same size
    with pytest.raises(BlobCorrupt):
        files.check(sha, path)
    path.write_bytes(data)
    files.check(sha, path)
    path.write_bytes(data[:-1])
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the old mtime, another size
    with pytest.raises(BlobCorrupt):
        files.check(sha, path)
    replaced = path.with_suffix(".new")  # put() replaces a file by rename: another inode
    replaced.write_bytes(data)
    os.replace(replaced, path)
    assert files.check(sha, path).st_size == len(data) and files.hashed == 5


def test_a_pass_is_trusted_for_max_age_seconds_and_the_cache_is_bounded(tmp_path):
    clock = Clock()
    files = VerifiedFiles(size=2, max_age=60.0, clock=clock)
    blobs = [_blob(tmp_path, bytes([i]) * 100) for i in range(3)]
    for sha, path in blobs:
        files.check(sha, path)
    assert files.hashed == 3
    files.check(*blobs[2])
    files.check(*blobs[1])
    assert files.hashed == 3  # the two newest are remembered
    files.check(*blobs[0])
    assert files.hashed == 4  # the oldest was dropped (size=2)
    clock.now += 60.0
    files.check(*blobs[0])
    assert files.hashed == 5  # too old to trust: damage below the filesystem is caught within max_age


def test_the_local_store_names_a_missing_file(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs", fsync=False)
    sha, _ = store.put(b"pixels", "png")
    path, stat = store.verified_file(sha, "png")
    assert path.read_bytes() == b"pixels" and stat.st_size == 6
    path.unlink()
    with pytest.raises(BlobMissing, match="missing"):
        store.verified_file(sha, "png")
