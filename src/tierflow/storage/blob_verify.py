"""The one check every blob read goes through: the bytes must hash to the sha256 that names them.

Both blob stores (:mod:`tierflow.storage.blobs`, :mod:`tierflow.storage.blobs_s3`) call
:func:`verify` on every ``get``, so a bit flipped on disk or an object overwritten in a bucket is
reported as such (:class:`~tierflow.domain.errors.BlobCorrupt`) instead of being served, decoded
or built upon.
"""

from __future__ import annotations

import hashlib

from tierflow.domain.errors import BlobCorrupt, BlobMissing

REPAIR_FIX = ("run `tierflow fsck --repair` to re-render it from its recorded settings, "
              "or restore the blob store from a backup")


def verify(sha256: str, data: bytes) -> bytes:
    """``data`` if it hashes to ``sha256``; otherwise :class:`BlobCorrupt`. Every store's reads end here."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BlobCorrupt(f"blob {sha256[:12]} is corrupt (its bytes hash to {actual[:12]})", field="blob",
                          fix=REPAIR_FIX)
    return data


def missing(sha256: str, where: str) -> BlobMissing:
    """The error for a blob its row names but the store does not hold."""
    return BlobMissing(f"blob {sha256[:12]} is missing from {where}", field="blob", fix=REPAIR_FIX)
