"""Build and save the tiny pipelines (random weights, real classes), once per ``$TIERFLOW_HOME``."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tierflow.engines.tiny.tokenizer import write_clip_tokenizer

SEED = 20261122  # fixed: every machine builds identical tiny weights
BUILD_VERSION = "2"  # bump when a builder changes: older folders are rebuilt
MARKER = "tierflow-build.txt"
TEXT_DIM = 32


def _text_encoder(vocab_size: int, projection: bool = False):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        hidden_size=TEXT_DIM,
        intermediate_size=64,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        projection_dim=TEXT_DIM,
        max_position_embeddings=77,
    )
    torch.manual_seed(SEED)
    return CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)


def _vae(latent_channels: int = 4, **config):
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(SEED)
    # Four blocks: the real 8x spatial factor, so a 512 px image has a 64x64 latent.
    return AutoencoderKL(
        block_out_channels=(8, 16, 16, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=latent_channels,
        norm_num_groups=8,
        layers_per_block=1,
        sample_size=64,
        **config,
    )


def build_tiny_sd(folder: Path) -> None:
    """A ``StableDiffusionPipeline`` shaped like SD-Turbo, at toy width."""
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel

    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        vocab = write_clip_tokenizer(tmp / "tok")
        from transformers import CLIPTokenizer

        tokenizer = CLIPTokenizer.from_pretrained(tmp / "tok", local_files_only=True)
        torch.manual_seed(SEED)
        unet = UNet2DConditionModel(
            block_out_channels=(16, 32),
            layers_per_block=1,
            sample_size=64,
            in_channels=4,
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
        pipe = StableDiffusionPipeline(
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


def build_tiny_sdxl(folder: Path) -> None:
    """A ``StableDiffusionXLPipeline`` with both text encoders and size conditioning, at toy width."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        vocab = write_clip_tokenizer(tmp / "tok")
        from transformers import CLIPTokenizer

        tokenizer = CLIPTokenizer.from_pretrained(tmp / "tok", local_files_only=True)
        torch.manual_seed(SEED)
        unet = UNet2DConditionModel(
            block_out_channels=(16, 32),
            layers_per_block=1,
            sample_size=64,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 2),
            projection_class_embeddings_input_dim=6 * 8 + TEXT_DIM,
            cross_attention_dim=2 * TEXT_DIM,
            norm_num_groups=8,
        )
        scheduler = EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", timestep_spacing="leading",
            steps_offset=1,
        )
        pipe = StableDiffusionXLPipeline(
            vae=_vae(),
            text_encoder=_text_encoder(vocab),
            text_encoder_2=_text_encoder(vocab, projection=True),
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=scheduler,
        )
        _save_atomically(pipe, tmp / "pipe", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_tiny_flux(folder: Path) -> None:
    """A ``FluxPipeline`` shaped like FLUX.1-schnell, at toy width.

    Its parts: a 16-channel VAE with FLUX's scaling and shift factors (no quant convs), latents
    packed in 2x2 patches for a transformer of double and single blocks with 3-axis RoPE, CLIP's
    pooled and T5's sequence embeddings, and schnell's flow-matching scheduler (no dynamic shift).
    """
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTokenizer, T5Config, T5EncoderModel, T5Tokenizer

    from tierflow.engines.tiny.build_video import write_t5_tokenizer

    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        vocab = write_clip_tokenizer(tmp / "tok")
        tokenizer = CLIPTokenizer.from_pretrained(tmp / "tok", local_files_only=True)
        t5_vocab = write_t5_tokenizer(tmp / "tok2")
        tokenizer_2 = T5Tokenizer.from_pretrained(tmp / "tok2", local_files_only=True)
        torch.manual_seed(SEED)
        text_encoder_2 = T5EncoderModel(T5Config(vocab_size=t5_vocab, d_model=TEXT_DIM, d_kv=8, d_ff=64, num_layers=2,
                                                 num_heads=4, relative_attention_num_buckets=8, pad_token_id=0,
                                                 eos_token_id=1, decoder_start_token_id=0))
        torch.manual_seed(SEED)
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=16 * 4, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=TEXT_DIM, pooled_projection_dim=TEXT_DIM,
            guidance_embeds=False, axes_dims_rope=(4, 6, 6),
        )
        scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False, base_shift=0.5,
                                                    max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096)
        pipe = FluxPipeline(
            scheduler=scheduler,
            vae=_vae(16, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False, use_post_quant_conv=False),
            text_encoder=_text_encoder(vocab),
            tokenizer=tokenizer,
            text_encoder_2=text_encoder_2,
            tokenizer_2=tokenizer_2,
            transformer=transformer,
        )
        _save_atomically(pipe, tmp / "pipe", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_tiny_autoencoder(folder: Path, latent_channels: int) -> None:
    """An ``AutoencoderTiny`` (the TAESD layout at toy width) for ``latent_channels``-channel latents."""
    import torch
    from diffusers import AutoencoderTiny

    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        torch.manual_seed(SEED)
        # scaling 1.0 and shift 0.0, as TAESD's and TAEF1's own configs: they decode the pipeline's scaled latents
        tiny = AutoencoderTiny(
            in_channels=3, out_channels=3, latent_channels=latent_channels,
            encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
            num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1), upsampling_scaling_factor=2,
        )
        _save_atomically(tiny, tmp / "model", folder, marker_file="config.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_tiny_taesd(folder: Path) -> None:
    """TAESD's stand-in (4 latent channels): the tiny SD/SDXL pipelines' preview decoder."""
    build_tiny_autoencoder(folder, 4)


def build_tiny_taef1(folder: Path) -> None:
    """TAEF1's stand-in (16 latent channels): the tiny FLUX pipeline's preview decoder."""
    build_tiny_autoencoder(folder, 16)


def _save_atomically(pipe, staging: Path, folder: Path, marker_file: str = "model_index.json") -> None:
    """``save_pretrained`` into a staging folder, then rename: a crash never leaves half a model."""
    pipe.save_pretrained(staging, safe_serialization=True)
    (staging / MARKER).write_text(BUILD_VERSION)
    if folder.exists():
        shutil.rmtree(folder)  # an outdated build (the lock is held by the caller)
    try:
        os.replace(staging, folder)
    except OSError:
        if not (folder / marker_file).exists():
            raise  # another process won the race only if the folder is complete


BUILDERS = {"tiny-sd": build_tiny_sd, "tiny-sdxl": build_tiny_sdxl, "tiny-flux": build_tiny_flux,
            "tiny-taesd": build_tiny_taesd, "tiny-taef1": build_tiny_taef1}


def ensure_built(models_dir: Path, name: str) -> Path:
    """The folder of tiny model ``name``, building it on first use."""
    folder = models_dir / name
    if not is_current(folder):
        models_dir.mkdir(parents=True, exist_ok=True)
        from filelock import FileLock

        with FileLock(str(models_dir / f".{name}.lock")):
            if not is_current(folder):
                BUILDERS[name](folder)
    return folder


def is_current(folder: Path) -> bool:
    """Built completely, by this version of the builders."""
    marker = folder / MARKER
    complete = (folder / "model_index.json").exists() or (folder / "config.json").exists()
    return complete and marker.exists() and marker.read_text() == BUILD_VERSION
