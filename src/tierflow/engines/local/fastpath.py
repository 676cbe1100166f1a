"""The draft engine's fast path: each step switchable, each falling back cleanly, same code on every device.

``TIERFLOW_FAST`` lists the steps to use (comma-separated), ``TIERFLOW_FAST=off`` none of them;
unset means the device's defaults below. A step that fails to apply (an old torch, a pipeline
without fused projections, a compiler error) is logged once and skipped: the render goes on
unoptimised rather than failing.

- ``cache``: prompt embeddings cached per (engine, prompt, negative prompt, guidance on/off)
- ``tiny``: draft previews from the family's tiny decoder; the latent is kept for the full decode
- ``batch``: variations in one forward pass, ``TIERFLOW_DRAFT_BATCH`` at a time (default 16 on
  accelerators; 1 on the CPU, where a batch barely raises throughput but delays every preview
  until the whole batch is done — set it to batch anyway)
- ``fuse``: fused QKV projections in the UNet and VAE attention
- ``channels_last``: NHWC memory format for the convolution-heavy UNet and decoders
- ``compile``: ``torch.compile`` with a persistent on-disk cache; on CUDA ``reduce-overhead``
  (CUDA graphs) with the batch padded to fixed buckets so each bucket's graph is reused
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ALL = ("cache", "tiny", "batch", "fuse", "channels_last", "compile")
CPU_DEFAULT = ("cache", "tiny", "batch")
ACCEL_DEFAULT = ALL
BUCKETS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class FastPath:
    steps: frozenset[str]
    batch: int
    compile_mode: str

    def on(self, step: str) -> bool:
        return step in self.steps

    @classmethod
    def for_device(cls, device: str, env: dict[str, str] | None = None) -> FastPath:
        env = os.environ if env is None else env
        raw = env.get("TIERFLOW_FAST")
        if raw is None or raw.strip() == "":
            steps = CPU_DEFAULT if device == "cpu" else ACCEL_DEFAULT
        elif raw.strip().lower() in ("off", "none", "0"):
            steps = ()
        else:
            steps = tuple(s.strip() for s in raw.split(",") if s.strip())
            unknown = [s for s in steps if s not in ALL]
            if unknown:
                from tierflow.domain.errors import InvalidInput

                raise InvalidInput(f"unknown fast-path step {unknown[0]!r}", field="TIERFLOW_FAST",
                                   fix=f"use a comma list of {', '.join(ALL)}, or off")
        batch = int(env.get("TIERFLOW_DRAFT_BATCH") or (1 if device == "cpu" else 16))
        mode = "reduce-overhead" if device == "cuda" else "default"
        return cls(frozenset(steps), max(1, batch), env.get("TIERFLOW_COMPILE_MODE") or mode)


def bucket(n: int) -> int:
    """The fixed batch size ``n`` outputs are padded to under CUDA graphs."""
    return next((b for b in BUCKETS if b >= n), n)


def compile_cache_dir() -> Path:
    """Where torch.compile keeps its artefacts between processes (FX graph and autotune caches)."""
    home = Path(os.environ.get("TIERFLOW_HOME") or Path.home() / ".tierflow")
    return Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or home / "cache" / "torch-compile")


def _try(step: str, fn, *args: Any) -> bool:
    try:
        fn(*args)
        return True
    except Exception as e:  # noqa: BLE001 - an optimisation must never break a render
        log.warning("fast path: %s skipped (%s)", step, str(e).splitlines()[0] if str(e) else type(e).__name__)
        return False


def apply(pipe: Any, decoder: Any, fast: FastPath, device: str) -> list[str]:
    """Apply the switched-on module-level steps to a loaded pipeline; return those that took."""
    import torch

    applied: list[str] = []
    if fast.on("fuse") and hasattr(pipe, "fuse_qkv_projections"):
        if _try("fuse", pipe.fuse_qkv_projections):
            applied.append("fuse")
    if fast.on("channels_last"):
        mods = [m for m in (getattr(pipe, "unet", None), getattr(pipe, "vae", None), decoder) if m is not None]
        if _try("channels_last", lambda: [m.to(memory_format=torch.channels_last) for m in mods]):
            applied.append("channels_last")
    if fast.on("compile") and hasattr(torch, "compile"):
        cache = compile_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache))

        def compile_modules() -> None:
            import torch._inductor.config as inductor_config

            inductor_config.fx_graph_cache = True
            if hasattr(pipe, "unet"):
                pipe.unet = torch.compile(pipe.unet, mode=fast.compile_mode, fullgraph=False)
            if decoder is not None:
                decoder.decoder = torch.compile(decoder.decoder, mode=fast.compile_mode, fullgraph=False)

        if _try("compile", compile_modules):
            applied.append("compile")
    return applied
