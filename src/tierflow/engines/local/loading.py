"""Loading diffusers pipelines from disk or the hub, with a clear error when offline.

Real presets and the tiny preset take the same path: ``from_pretrained(..., local_files_only=True)``
first; only when the files are missing and downloads are allowed is the hub asked (with a
progress bar). No network and no files is an :class:`EngineUnavailable` that says how to fix it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tierflow.domain.errors import EngineUnavailable


def is_local_path(repo: str) -> bool:
    return Path(repo).expanduser().is_dir()


def weights_present(repo: str, revision: str | None) -> bool:
    """True when the repo's files are already on disk (a local folder or the Hugging Face cache)."""
    if is_local_path(repo):
        return (Path(repo) / "model_index.json").exists() or any(Path(repo).glob("*.safetensors"))
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(repo, revision=revision, local_files_only=True)
        return True
    except Exception:  # noqa: BLE001 - any miss means "not cached"
        return False


CONFIG_FILES = ["*.json", "*.txt", "*.model", "*/*.json", "*/*.txt", "*/*.model", "*/*.tiktoken"]


def files_for(variant: str | None, filename: str | None = None) -> list[str]:
    """The files a preset loads, as ``allow_patterns``: one list for `tierflow models pull` and first use.

    Single-file weights: that file. Diffusers folders: configs, tokenizers and the safetensors of
    ``variant`` (sharded or not), never the other variants, ``.bin`` copies or the root-level
    single-file checkpoints some repos also carry.
    """
    if filename:
        return [filename]
    if variant:
        weights = [f"*/*.{variant}.safetensors", f"*/*.{variant}-*.safetensors", f"*/*.safetensors.index.{variant}.json"]
    else:
        weights = ["*/*.safetensors"]
    return CONFIG_FILES + weights + ["*/*.safetensors.index*.json"]


# An AutoencoderTiny repo (madebyollin/taesd, ...) keeps the diffusers model at its root beside
# the original .pth/.safetensors encoder and decoder files, which diffusers does not open.
TINY_DECODER_FILES = ["config.json", "diffusion_pytorch_model.safetensors"]


def download(repo: str, revision: str | None, *, allow_patterns: list[str] | None = None) -> str:
    """Download a repo snapshot into the Hugging Face cache (resumable, with tqdm progress)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return snapshot_download(repo, revision=revision, allow_patterns=allow_patterns)
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as e:
        raise offline_error(repo, revision) from e


def offline_error(repo: str, revision: str | None) -> EngineUnavailable:
    rev = f"@{revision[:12]}" if revision else ""
    return EngineUnavailable(
        f"the weights of {repo}{rev} are not on disk and the hub cannot be reached",
        field="engine",
        fix=(
            f"run `tierflow models pull` for this preset on a machine with network (or copy its "
            f"Hugging Face cache here and set HF_HOME), or use TIERFLOW_PRESET=tiny to run offline"
        ),
    )


# One engine load at a time per process. diffusers imports its pipeline modules lazily and
# builds models on the meta device through a process-wide context; neither is thread-safe, so
# two first loads on different threads (a draft and a final engine warming up together) can fail
# with an ImportError or leave meta tensors behind. Engines take this lock for their whole load.
LOAD_LOCK = threading.RLock()


def diffusers_class(name: str) -> Any:
    """A diffusers pipeline class by name; the first lookup imports its module (not thread-safe)."""
    with LOAD_LOCK:
        import diffusers

        return getattr(diffusers, name)


def from_pipe(name: str, pipe: Any) -> Any:
    """``<name>.from_pipe(pipe)``: a sibling pipeline sharing the loaded components."""
    with LOAD_LOCK:
        return diffusers_class(name).from_pipe(pipe)


def load_pipeline(pipeline_cls: Any, repo: str, revision: str | None, *, offline: bool,
                  allow_patterns: list[str] | None = None, **kwargs: Any) -> Any:
    """``pipeline_cls.from_pretrained`` from local files, downloading first when allowed.

    The download fetches only ``allow_patterns`` (:func:`files_for`): what ``from_pretrained``
    then opens, not the whole repository.
    """
    local = is_local_path(repo)
    if not local and not weights_present(repo, revision):
        if offline:
            raise offline_error(repo, revision)
        download(repo, revision, allow_patterns=allow_patterns)
    try:
        with LOAD_LOCK:
            return pipeline_cls.from_pretrained(
                repo, revision=None if local else revision, local_files_only=True, **kwargs
            )
    except OSError as e:
        raise offline_error(repo, revision) from e
