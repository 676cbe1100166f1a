"""Content-addressed blob store on local disk: ``blobs/ab/cd/<sha256>.<ext>``, written atomically.

A blob is written to a temporary file in the same folder, flushed to disk, then renamed into
place, so a reader never sees half a file and a crash leaves at most a ``.tmp`` file that
:meth:`LocalBlobStore.sweep_temp` removes. A process killed between writing a blob and committing
its asset row leaves a complete but unreferenced blob: :meth:`LocalBlobStore.sweep_unreferenced`
removes those once they are older than a grace period.

Every read is verified: :meth:`LocalBlobStore.get` hashes what it read and raises
:class:`~tierflow.domain.errors.BlobCorrupt` (or ``BlobMissing``) instead of handing back bytes
that are not the recorded ones (:func:`tierflow.storage.blob_verify.verify`, shared by every
store); :func:`read_asset` is the one read the stages and exports use, and names the asset and the
fix. The studio's file route streams the file itself instead (:func:`asset_file`, Range requests):
:meth:`LocalBlobStore.verified_file` hashes it in chunks first, remembering recent passes
(:class:`~tierflow.storage.blob_verify.VerifiedFiles` says what that trusts). The interface and its guarantees:
:mod:`tierflow.storage.blob_store`; the object-store twin: :mod:`tierflow.storage.blobs_s3`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from typing import TYPE_CHECKING

from tierflow.domain.errors import BlobCorrupt, BlobMissing, InvalidInput
from tierflow.storage.blob_store import GRACE_SECONDS, BlobEntry
from tierflow.storage.blob_store import sweep_unreferenced as _sweep_unreferenced
from tierflow.storage.blob_verify import REPAIR_FIX, VerifiedFiles, missing, verify

if TYPE_CHECKING:
    from tierflow.domain.models import Asset

__all__ = ["GRACE_SECONDS", "LocalBlobStore", "asset_file", "read_asset", "verify"]

SWEEP_MARKER = ".last-orphan-sweep"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,5}$")


class LocalBlobStore:
    """Blobs on a local disk, addressed by sha256."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.location = str(self.root)
        self.verified = VerifiedFiles()

    def path_for(self, sha256: str, ext: str) -> Path:
        if not _SHA_RE.match(sha256):
            raise InvalidInput(f"{sha256!r} is not a sha256 digest", field="sha256", fix="pass 64 hex digits")
        if not _EXT_RE.match(ext):
            raise InvalidInput(f"{ext!r} is not a file extension", field="format", fix="use png, mp4, ...")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"

    def put(self, data: bytes, ext: str) -> tuple[str, bool]:
        """Store ``data``; return its sha256 and whether this call created the file.

        Safe from several threads and processes at once: the file is published with a hard link,
        which fails when the name exists, so of two writers of the same bytes exactly one creates
        it (as git publishes its objects); where links are not supported, a rename.
        """
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha, ext)
        if path.exists() and _digest(path) == sha:  # a damaged copy is rewritten, not trusted
            return sha, False
        try:
            fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
        except FileNotFoundError:  # the first blob in this folder
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            return sha, _publish(tmp, path, sha)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def get(self, sha256: str, ext: str) -> bytes:
        """The blob's bytes, verified against ``sha256`` (:class:`BlobMissing` / :class:`BlobCorrupt`)."""
        try:
            data = self.path_for(sha256, ext).read_bytes()
        except FileNotFoundError:
            raise missing(sha256, str(self.root)) from None
        return verify(sha256, data)

    def verified_file(self, sha256: str, ext: str) -> tuple[Path, os.stat_result]:
        """The blob's file and its stat, once its bytes hash to ``sha256`` (hashed in chunks, not read
        into memory; a recent pass on the unchanged file is remembered: :class:`VerifiedFiles`)."""
        path = self.path_for(sha256, ext)
        try:
            return path, self.verified.check(sha256, path)
        except FileNotFoundError:
            raise missing(sha256, str(self.root)) from None

    def presigned_url(self, sha256: str, ext: str, *, expires: int = 300) -> str | None:
        return None  # the studio streams the file itself

    def entries(self) -> Iterator[BlobEntry]:
        for path in self.all_blobs():
            sha, _, ext = path.name.partition(".")
            yield BlobEntry(sha, ext, _mtime(path))

    def last_sweep(self) -> float | None:
        marker = self.root / SWEEP_MARKER
        return _mtime(marker) if marker.exists() else None

    def mark_sweep(self) -> None:
        (self.root / SWEEP_MARKER).touch()

    def open_path(self, sha256: str, ext: str) -> Path:
        path = self.path_for(sha256, ext)
        if not path.exists():
            raise missing(sha256, str(self.root))
        return path

    def exists(self, sha256: str, ext: str) -> bool:
        return self.path_for(sha256, ext).exists()

    def delete(self, sha256: str, ext: str) -> None:
        self.path_for(sha256, ext).unlink(missing_ok=True)

    def sweep_temp(self, older_than: float = GRACE_SECONDS) -> int:
        """Remove temporary files a crash left mid-write; return how many.

        Only files older than ``older_than`` seconds: another live process (the studio, a
        worker) may be writing one right now.
        """
        cutoff = time.time() - older_than
        count = 0
        for tmp in self.root.glob("*/*/.*.tmp"):
            if _mtime(tmp) < cutoff:
                tmp.unlink(missing_ok=True)
                count += 1
        return count

    def sweep_unreferenced(self, referenced: set[str], older_than: float = GRACE_SECONDS) -> int:
        """Remove complete blobs no asset row names, older than ``older_than`` seconds (see blob_store)."""
        return _sweep_unreferenced(self, referenced, older_than)

    def all_blobs(self) -> list[Path]:
        return [p for p in self.root.glob("*/*/*") if not p.name.startswith(".")]


def read_asset(blobs, asset: Asset) -> bytes:
    """An asset's stored bytes, verified; a missing or corrupt blob is an error naming the asset."""
    try:
        return blobs.get(asset.sha256, asset.format)
    except BlobCorrupt as e:
        raise _named(e, asset, asset.kind, asset.sha256) from None


def asset_file(blobs, asset: Asset, *, thumb: bool = False) -> tuple[Path, os.stat_result]:
    """An asset's stored file (or its thumbnail) on a local store and its stat, verified by streaming.

    For the studio to serve itself (``FileResponse``: Range requests, chunks); a missing or corrupt
    blob is an error naming the asset, like :func:`read_asset`. A store without local files (an
    object store) hands out presigned URLs instead and is not asked.
    """
    sha256, ext = (asset.thumb_sha256, "webp") if thumb else (asset.sha256, asset.format)
    try:
        found = blobs.verified_file(sha256, ext)
    except BlobCorrupt as e:
        raise _named(e, asset, "thumbnail" if thumb else asset.kind, sha256) from None
    if found is None:
        raise TypeError(f"{type(blobs).__name__} keeps no local files: serve its presigned_url instead")
    return found


def _named(e: BlobCorrupt, asset: Asset, what: str, sha256: str) -> BlobCorrupt:
    state = "missing" if isinstance(e, BlobMissing) else "corrupt"
    return type(e)(f"asset {asset.id}: its stored {what} (blob {sha256[:12]}) is {state}",
                   field="asset", fix=REPAIR_FIX)


def _publish(tmp: str, path: Path, sha: str) -> bool:
    """Give the complete file ``tmp`` the name ``path`` unless a good copy is there; True: this call made it."""
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        if _digest(path) == sha:
            return False  # another writer was first
    except OSError:  # a filesystem without hard links
        pass
    os.replace(tmp, path)  # a damaged copy is replaced
    return True


def _digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # removed meanwhile
        return float("inf")
