"""The Hugging Face cache as tierflow sees it: pull a pinned preset, list what is on disk, remove it.

All three go through ``huggingface_hub`` (resumable downloads with tqdm progress, the cache
scanner and its deletion strategy); nothing here walks the cache by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tierflow.domain.errors import NotFound
from tierflow.engines.local import loading


@dataclass(frozen=True)
class CachedModel:
    repo: str
    revision: str  # commit hash
    size_bytes: int
    refs: tuple[str, ...]
    path: str

    def to_dict(self) -> dict:
        return {"repo": self.repo, "revision": self.revision, "size_bytes": self.size_bytes,
                "refs": list(self.refs), "path": self.path}


def pull(repo: str, revision: str | None, progress: bool = True, *, allow_patterns: list[str] | None = None,
         cache_dir: str | Path | None = None) -> Path:
    """Download (or resume) ``repo@revision`` into the cache; EngineUnavailable when offline."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    if progress and was_disabled:
        enable_progress_bars()
    elif not progress and not was_disabled:
        disable_progress_bars()
    try:
        return Path(snapshot_download(repo, revision=revision, allow_patterns=allow_patterns, cache_dir=cache_dir))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, HfHubHTTPError, OSError) as e:
        raise loading.offline_error(repo, revision) from e
    finally:
        if was_disabled:
            disable_progress_bars()
        else:
            enable_progress_bars()


def list_cached(cache_dir: str | Path | None = None) -> list[CachedModel]:
    """Every cached model revision, largest first."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return []
    out = [
        CachedModel(repo.repo_id, rev.commit_hash, rev.size_on_disk, tuple(sorted(rev.refs)), str(rev.snapshot_path))
        for repo in info.repos
        if repo.repo_type == "model"
        for rev in repo.revisions
    ]
    return sorted(out, key=lambda m: (-m.size_bytes, m.repo))


def remove(repo: str, revision: str | None = None, cache_dir: str | Path | None = None) -> int:
    """Delete ``repo`` (one revision, or all) from the cache; return the bytes freed."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        info = None
    hashes = [
        rev.commit_hash
        for cached in (info.repos if info else ())
        if cached.repo_id == repo and cached.repo_type == "model"
        for rev in cached.revisions
        if revision is None or rev.commit_hash == revision
    ]
    if not hashes:
        what = f"{repo}@{revision}" if revision else repo
        raise NotFound(f"{what} is not in the model cache", field="repo", fix="see `tierflow models list`")
    strategy = info.delete_revisions(*hashes)
    freed = strategy.expected_freed_size
    strategy.execute()
    return freed
