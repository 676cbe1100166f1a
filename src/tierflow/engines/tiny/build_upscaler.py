"""Build the tiny cleanup and upscale models (random weights, real classes), once per models folder.

``tiny-sd-inpaint`` is a ``StableDiffusionInpaintPipeline`` with a 9-channel UNet (image latents +
mask + masked-image latents, like the real inpainting checkpoints), saved with ``save_pretrained``.
``tiny-esrgan`` is spandrel's ESRGAN (RRDBNet) at toy width, saved as a safetensors state dict that
spandrel recognises by its keys, the way real Real-ESRGAN files are loaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tierflow.engines.tiny.build import (
    SEED,
    TEXT_DIM,
    _save_atomically,
    _text_encoder,
    _vae,
    is_current,
    write_clip_tokenizer,
)

ESRGAN_FILE = "model.safetensors"
ESRGAN_SCALE = 4


def build_tiny_sd_inpaint(folder: Path) -> None:
    """A ``StableDiffusionInpaintPipeline`` shaped like SD 2 inpainting, at toy width."""
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTokenizer

    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        vocab = write_clip_tokenizer(tmp / "tok")
        tokenizer = CLIPTokenizer.from_pretrained(tmp / "tok", local_files_only=True)
        torch.manual_seed(SEED)
        unet = UNet2DConditionModel(
            block_out_channels=(16, 32),
            layers_per_block=1,
            sample_size=64,
            in_channels=9,  # 4 noisy latents + 1 mask + 4 masked-image latents
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=TEXT_DIM,
            attention_head_dim=(2, 4),
            norm_num_groups=8,
            use_linear_projection=True,
        )
        scheduler = EulerAncestralDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", timestep_spacing="trailing",
            steps_offset=1,
        )
        pipe = StableDiffusionInpaintPipeline(
            unet=unet,
            vae=_vae(),
            text_encoder=_text_encoder(vocab),
            tokenizer=tokenizer,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        _save_atomically(pipe, tmp / "pipe", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_tiny_esrgan(folder: Path) -> None:
    """An x4 ESRGAN (RRDBNet, 8 filters, 1 block) saved as ``model.safetensors`` in ``folder``."""
    import torch
    from safetensors.torch import save_file
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(SEED)
    model = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=ESRGAN_SCALE)
    # Random init leaves the output near 0 (almost black after clamping); centre it on mid-grey
    # with some spread so tests compare real values, not clamped zeros.
    with torch.no_grad():
        last = model.model[-1]
        last.weight.mul_(4.0)
        last.bias.fill_(0.5)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".model-", suffix=".safetensors", dir=folder)
    os.close(fd)
    try:
        save_file(state, tmp)
        os.replace(tmp, folder / ESRGAN_FILE)  # atomic: readers never see half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


BUILDERS = {"tiny-sd-inpaint": build_tiny_sd_inpaint, "tiny-esrgan": build_tiny_esrgan}


def _is_built(folder: Path) -> bool:
    # The inpainting pipeline shares build.py's VAE/text encoder, so it follows build.py's version.
    if folder.name == "tiny-esrgan":
        return (folder / ESRGAN_FILE).exists()
    return is_current(folder)


def ensure_built_extra(models_dir: Path, name: str) -> Path:
    """The folder of tiny model ``name`` (``tiny-sd-inpaint`` or ``tiny-esrgan``), built on first use."""
    folder = models_dir / name
    if not _is_built(folder):
        models_dir.mkdir(parents=True, exist_ok=True)
        from filelock import FileLock

        with FileLock(str(models_dir / f".{name}.lock")):
            if not _is_built(folder):
                BUILDERS[name](folder)
    return folder
