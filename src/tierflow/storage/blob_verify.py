"""The one check every blob read goes through: the bytes must hash to the sha256 that names them.

Both blob stores (:mod:`tierflow.storage.blobs`, :mod:`tierflow.storage.blobs_s3`) call
:func:`verify_blob` on every ``get``, so a bit flipped on disk or an object overwritten in a bucket
is reported as such instead of being served, decoded or built upon.
"""

from __future__ import annotations

import hashlib

from tierflow.domain.errors import TierflowError


class BlobCorrupted(TierflowError):
    """A stored blob's bytes no longer match the digest its asset row records."""

    exit_code = 10
    http_status = 500
    kind = "blob_corrupted"


def verify_blob(sha256: str, data: bytes) -> bytes:
    """Return ``data`` when it hashes to ``sha256``; raise :class:`BlobCorrupted` otherwise."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BlobCorrupted(f"blob {sha256[:12]} is corrupted (its bytes hash to {actual[:12]})", field="asset",
                            fix="restore the blob from a backup, or delete the asset")
    return data
