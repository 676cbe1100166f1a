"""What every blob store offers: content-addressed put/get, listing by age, and the orphan sweep.

    BlobStore (protocol)
    ├── LocalBlobStore   storage/blobs.py     blobs/ab/cd/<sha256>.<ext> under TIERFLOW_HOME (default)
    └── S3BlobStore      storage/blobs_s3.py  s3://bucket/prefix/ab/cd/<sha256>.<ext> (TIERFLOW_BLOBS_URL)

The guarantees are the same on both, and tests/blobs runs one contract suite against each:

- **content addressing**: the key is the sha256 of the bytes; ``put`` of bytes already stored
  writes nothing and returns ``created=False``; ``put`` is safe from several threads at once, and
  of concurrent writers of the same bytes exactly one gets ``created=True``;
- **write, then commit the row**: a stage writes the blob (on the runner's encode threads), then
  its asset row; if the row fails, the blob it created is deleted again (stages/persist.py);
- **checksum on read**: ``get`` hands back bytes only after :func:`~tierflow.storage.blob_verify.verify`,
  and ``verified_file`` a local file only after hashing it (in chunks; recent passes remembered,
  :class:`~tierflow.storage.blob_verify.VerifiedFiles`);
- **no orphans after a killed process**: ``entries()`` lists every blob with its age, and
  :func:`sweep_unreferenced` removes those no asset row names once they are older than the grace
  period (a live writer's blob is milliseconds from its row).

:func:`open_blob_store` picks the store from the settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tierflow.config import Settings

GRACE_SECONDS = 600.0  # what a sweep never touches: younger blobs may belong to a live writer


@dataclass(frozen=True)
class BlobEntry:
    """One stored blob as a listing sees it."""

    sha256: str
    ext: str
    modified: float  # seconds since the epoch


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed bytes; see the module docstring for the guarantees."""

    location: str  # where the blobs live, for messages: a folder or s3://bucket/prefix

    def put(self, data: bytes, ext: str) -> tuple[str, bool]:
        """Store ``data``; return its sha256 and whether this call created the blob."""

    def get(self, sha256: str, ext: str) -> bytes:
        """The verified bytes; BlobMissing when missing, BlobCorrupt when they do not match."""

    def exists(self, sha256: str, ext: str) -> bool: ...

    def delete(self, sha256: str, ext: str) -> None: ...

    def entries(self) -> Iterator[BlobEntry]:
        """Every complete blob with its last-modified time."""

    def sweep_temp(self, older_than: float = GRACE_SECONDS) -> int:
        """Remove half-written leftovers of crashed writers (none on a store whose writes are atomic)."""

    def verified_file(self, sha256: str, ext: str) -> tuple[Path, os.stat_result] | None:
        """A local file the studio may stream itself (Range requests) and its stat, once its bytes are
        checked; None for a store that hands out presigned URLs instead."""

    def presigned_url(self, sha256: str, ext: str, *, expires: int = 300) -> str | None:
        """A short-lived URL a browser may fetch the blob from directly, or None."""

    def last_sweep(self) -> float | None:
        """When the orphan sweep last ran on this store (epoch seconds), or None."""

    def mark_sweep(self) -> None: ...


def sweep_unreferenced(store: BlobStore, referenced: Iterable[str] | set[str],
                       older_than: float = GRACE_SECONDS) -> int:
    """Remove blobs no asset row names that are older than ``older_than`` seconds; return how many.

    A process killed between writing a blob and committing its asset row leaves such a blob. The
    grace period spares the blobs of renders in flight in other processes (or on other hosts).
    """
    keep = referenced if isinstance(referenced, set) else set(referenced)
    cutoff = time.time() - older_than
    removed = 0
    for entry in list(store.entries()):
        if entry.sha256 not in keep and entry.modified < cutoff:
            store.delete(entry.sha256, entry.ext)
            removed += 1
    return removed


def open_blob_store(settings: Settings) -> BlobStore:
    """The store the settings name: ``TIERFLOW_BLOBS_URL=s3://bucket/prefix``, else the local folder."""
    url = settings.blobs_url
    if url and not url.startswith("file://"):
        from tierflow.storage.blobs_s3 import S3BlobStore

        return S3BlobStore.from_url(url)
    from tierflow.storage.blobs import LocalBlobStore

    root = Path(url[len("file://"):]) if url else settings.blob_dir
    return LocalBlobStore(root)
