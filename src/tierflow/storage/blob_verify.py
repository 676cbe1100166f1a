"""The one check every blob read goes through: the bytes must hash to the sha256 that names them.

Both blob stores (:mod:`tierflow.storage.blobs`, :mod:`tierflow.storage.blobs_s3`) call
:func:`verify` on every ``get``, so a bit flipped on disk or an object overwritten in a bucket is
reported as such (:class:`~tierflow.domain.errors.BlobCorrupt`) instead of being served, decoded
or built upon. A local file the studio streams itself (Range requests: video scrubbing, large
PNGs) is checked by :class:`VerifiedFiles` instead, which hashes it in chunks rather than holding
it in memory.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from tierflow.domain.errors import BlobCorrupt, BlobMissing

REPAIR_FIX = ("run `tierflow fsck --repair` to re-render it from its recorded settings, "
              "or restore the blob store from a backup")


def verify(sha256: str, data: bytes) -> bytes:
    """``data`` if it hashes to ``sha256``; otherwise :class:`BlobCorrupt`. Every store's reads end here."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise _corrupt(sha256, actual)
    return data


def missing(sha256: str, where: str) -> BlobMissing:
    """The error for a blob its row names but the store does not hold."""
    return BlobMissing(f"blob {sha256[:12]} is missing from {where}", field="blob", fix=REPAIR_FIX)


class VerifiedFiles:
    """Checks a local blob file against its sha256 by streaming it, remembering recent passes.

    :meth:`check` hashes the open file in chunks (``hashlib.file_digest``), so a 2 GB video costs
    no more memory than a thumbnail. A pass is remembered in a small LRU (``size`` entries) keyed
    by ``(sha256, device, inode, size, mtime_ns, ctime_ns)``, so the many Range requests a video
    player makes while scrubbing hash the file once, not once per request.

    What the cache trusts: that a file whose device, inode, size, modification time and change
    time are all unchanged still holds the bytes that were hashed. Any write through the
    filesystem (an edit, a truncation, ``put`` replacing the file, a restore from backup, even a
    ``touch`` or a reset of the mtime, which moves ctime) changes that key and the file is hashed
    again. What it cannot see is damage below the filesystem (a bit flipped on the disk) or a
    same-size rewrite inside one tick of the filesystem's clock; such a file is caught when its
    entry is older than ``max_age`` seconds (then it is hashed again), by every ``get``, and by
    ``tierflow fsck``. The cache lives in this process only and is cleared with it.
    """

    def __init__(self, size: int = 256, max_age: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.max_age = max_age
        self.clock = clock
        self.hashed = 0  # files hashed so far (a cache miss each), for tests and diagnostics
        self._seen: OrderedDict[tuple, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, sha256: str, path: Path) -> os.stat_result:
        """The stat of ``path`` once its bytes hash to ``sha256``; :class:`BlobCorrupt` otherwise.

        ``FileNotFoundError`` passes through: the store names where it looked.
        """
        with path.open("rb") as f:
            before = os.fstat(f.fileno())
            key = _key(sha256, before)
            if self._fresh(key):
                return before
            actual = hashlib.file_digest(f, "sha256").hexdigest()
            after = os.fstat(f.fileno())
        with self._lock:
            self.hashed += 1
        if actual != sha256:
            raise _corrupt(sha256, actual)
        if _key(sha256, after) != key:
            return after  # written to while it was read: these bytes were checked, but not remembered
        with self._lock:
            self._seen[key] = self.clock()
            self._seen.move_to_end(key)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
        return after

    def _fresh(self, key: tuple) -> bool:
        with self._lock:
            when = self._seen.get(key)
            if when is None:
                return False
            if self.clock() - when >= self.max_age:
                del self._seen[key]
                return False
            self._seen.move_to_end(key)
            return True


def _key(sha256: str, st: os.stat_result) -> tuple:
    return sha256, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _corrupt(sha256: str, actual: str) -> BlobCorrupt:
    return BlobCorrupt(f"blob {sha256[:12]} is corrupt (its bytes hash to {actual[:12]})", field="blob",
                       fix=REPAIR_FIX)
