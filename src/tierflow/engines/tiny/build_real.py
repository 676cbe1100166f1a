"""Architecture-exact snapshots of the real draft presets, with random weights, in a Hugging Face cache.

The configs are those of the released checkpoints (``architectures.json``, copied from the
project's reference notes): the compute equals the real model's, only the weights are random. A
snapshot is laid out as the hub would leave it — ``models--<org>--<name>/snapshots/<pinned
revision>/`` with the preset's variant files — so the preset's own loading code (offline,
``local_files_only``) runs on it unchanged: tests and ``bench/draft_speed.py`` use it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from tierflow.engines.tiny.build import SEED
from tierflow.engines.tiny.tokenizer import write_clip_tokenizer

ARCHITECTURES = Path(__file__).with_name("architectures.json")
MARKER = "tierflow-arch-build.txt"


def architectures() -> dict[str, Any]:
    return json.loads(ARCHITECTURES.read_text())


def resolve(arch: dict[str, Any], key: str) -> dict[str, Any]:
    """``arch[key]`` with ``same_as`` references expanded (``"sdxl.unet"`` → that entry, then overrides)."""
    model, part = key.split(".")
    entry = dict(arch[model][part])
    base = entry.pop("same_as", None)
    if base:
        entry = {**resolve(arch, base), **entry}
    return entry


def _text_encoder(config: dict[str, Any], vocab: int):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    kwargs = {k: v for k, v in config.items() if k != "class"}
    kwargs.update(bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1)
    cls = CLIPTextModelWithProjection if config.get("class") == "CLIPTextModelWithProjection" else CLIPTextModel
    return cls(CLIPTextConfig(**kwargs))


def build_pipeline(model: str, folder: Path) -> Any:
    """The diffusers pipeline of ``model`` ("sd-turbo" or "sdxl-turbo") at real size, random weights."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTokenizer

    arch = architectures()
    base = "sdxl" if model == "sdxl-turbo" else model
    vocab = write_clip_tokenizer(folder / ".tok")
    tokenizer = CLIPTokenizer.from_pretrained(folder / ".tok", local_files_only=True)
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(**resolve(arch, f"{model}.unet"))
    vae = AutoencoderKL(**resolve(arch, f"{model}.vae"))
    scheduler = EulerDiscreteScheduler(**{k: v for k, v in resolve(arch, f"{model}.scheduler").items() if k != "class"})
    if model == "sd-turbo":
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=_text_encoder(arch[base]["text_encoder"], vocab),
                                       tokenizer=tokenizer, scheduler=scheduler, safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
    elif model == "sdxl-turbo":
        from diffusers import StableDiffusionXLPipeline

        pipe = StableDiffusionXLPipeline(unet=unet, vae=vae, scheduler=scheduler, tokenizer=tokenizer,
                                         tokenizer_2=tokenizer,
                                         text_encoder=_text_encoder(arch[base]["text_encoder"], vocab),
                                         text_encoder_2=_text_encoder(arch[base]["text_encoder_2"], vocab))
    else:
        raise ValueError(f"no architecture-exact builder for {model!r}")
    shutil.rmtree(folder / ".tok", ignore_errors=True)
    return pipe


def snapshot_dir(cache_dir: Path, repo: str, revision: str) -> Path:
    return Path(cache_dir) / f"models--{repo.replace('/', '--')}" / "snapshots" / revision


def _ref(cache_dir: Path, repo: str, revision: str) -> None:
    refs = Path(cache_dir) / f"models--{repo.replace('/', '--')}" / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(revision)


def build_preset_snapshot(preset_id: str, cache_dir: Path, *, dtype: str = "float16") -> Path:
    """The preset's repo at its pinned revision (and its tiny decoder's) in ``cache_dir``; kept once built."""
    import torch

    from tierflow.engines.local.presets import get

    spec = get(preset_id)
    p = spec.preset
    folder = snapshot_dir(cache_dir, p.repo, p.revision)
    if not (folder / MARKER).exists():
        staging = folder.with_name(folder.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        pipe = build_pipeline(preset_id, staging)
        pipe.to(getattr(torch, dtype))
        pipe.save_pretrained(staging, safe_serialization=True, variant=p.variant)
        (staging / MARKER).write_text(preset_id)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
        _ref(cache_dir, p.repo, p.revision)
        del pipe
    if p.tiny_decoder:
        build_tiny_decoder_snapshot(p.tiny_decoder, p.tiny_decoder_revision or "main", cache_dir, dtype=dtype)
    return folder


def build_tiny_decoder_snapshot(repo: str, revision: str, cache_dir: Path, *, dtype: str = "float16") -> Path:
    """An AutoencoderTiny of the TAESD layout (``architectures.json``), random weights, at ``repo@revision``."""
    import torch
    from diffusers import AutoencoderTiny

    folder = snapshot_dir(cache_dir, repo, revision)
    if not (folder / MARKER).exists():
        config = {k: v for k, v in architectures()["taesd"].items() if k != "class"}
        torch.manual_seed(SEED)
        tiny = AutoencoderTiny(**config).to(getattr(torch, dtype))
        tiny.save_pretrained(folder, safe_serialization=True)
        (folder / MARKER).write_text(repo)
        _ref(cache_dir, repo, revision)
    return folder
