"""Hosted outputs that arrive with their own Content Credentials keep them.

tierflow re-encodes every output (the PNG gets its provenance chunks), which drops a provider's
C2PA manifest from the stored blob. So when a hosted engine's file as delivered carries a
manifest, persist keeps that file under ``$TIERFLOW_HOME/sources/`` (content-addressed, outside
the blob store, whose sweep only spares files an asset row names) and records it in the asset's
params as ``c2pa_source``; an export adds it as the asset's ``parentOf`` ingredient, so the
provider's own manifest stays in the chain.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

FOLDER = "sources"
MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"RIFF", "webp"), (b"GIF8", "gif"))


def carries_manifest(data: bytes | None) -> bool:
    """A cheap test (no c2pa import): a C2PA manifest store is a JUMBF box labelled ``c2pa``."""
    return bool(data) and b"jumb" in data and b"c2pa" in data


def sniff_format(data: bytes) -> str:
    for magic, fmt in MAGIC:
        if data.startswith(magic):
            return fmt
    if data[4:8] == b"ftyp":
        return "mp4"
    return "bin"


def keep(home: Path, data: bytes | None, provider: str | None) -> dict[str, Any] | None:
    """Store ``data`` when it carries a manifest; the reference to record in the asset's params."""
    if not carries_manifest(data):
        return None
    fmt = sniff_format(data)
    sha = hashlib.sha256(data).hexdigest()
    path = source_path(home, sha, fmt)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return {"sha256": sha, "format": fmt, "provider": provider or "hosted", "bytes": len(data)}


def load(home: Path, ref: Any) -> tuple[bytes, str] | None:
    """The kept file of a ``c2pa_source`` reference (None when absent or not one)."""
    if not isinstance(ref, dict) or not isinstance(ref.get("sha256"), str) or len(ref["sha256"]) != 64:
        return None
    fmt = str(ref.get("format") or "png")
    if not fmt.isalnum():
        return None
    path = source_path(home, ref["sha256"], fmt)
    if not path.is_file():
        return None
    data = path.read_bytes()
    return (data, fmt) if hashlib.sha256(data).hexdigest() == ref["sha256"] else None


def source_path(home: Path, sha: str, fmt: str) -> Path:
    return Path(home) / FOLDER / sha[:2] / f"{sha}.{fmt}"
