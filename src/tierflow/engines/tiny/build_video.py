"""Build and save a tiny Wan 2.2 TI2V image-to-video pipeline (random weights, real classes), offline.

The layout is Wan2.2-TI2V-5B's: a 48-channel residual VAE with 16x spatial and 4x temporal
compression, one transformer with ``expand_timesteps`` (the first latent frame is the image),
a UMT5 text encoder and a T5 (Unigram) tokenizer. Only the widths are toy-sized. The tokenizer's
vocabulary is written here, so nothing is fetched from the hub.
"""

from __future__ import annotations

import shutil
import string
import tempfile
from pathlib import Path

from tierflow.engines.tiny.build import SEED, _save_atomically

NAME = "tiny-wan-i2v"
TEXT_DIM = 32
# Frequent prompt words get their own piece, so prompts are not spelled letter by letter.
_WORDS = (
    "the a an of and in on with at to camera slow slowly pan zoom move moving motion wind light "
    "water sky cloud clouds city night day sun walk walking turn turns hair smile wave waves"
).split()


def write_t5_tokenizer(folder: Path) -> int:
    """Save a T5 (SentencePiece Unigram) tokenizer with a small vocabulary; return its size."""
    from transformers import T5Tokenizer

    pieces = ["▁" + w for w in _WORDS]
    pieces += ["▁"] + list(string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation)
    pieces += ["▁" + c for c in string.ascii_lowercase]
    # Unigram scores are log-probabilities: whole words beat their letters.
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p, -2.0 if len(p) > 2 else -5.0) for p in dict.fromkeys(pieces)]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    tokenizer.save_pretrained(folder)
    return len(tokenizer)


def build_tiny_wan_i2v(folder: Path) -> None:
    """A ``WanImageToVideoPipeline`` shaped like Wan2.2-TI2V-5B, at toy width."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import T5Tokenizer, UMT5Config, UMT5EncoderModel

    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        vocab = write_t5_tokenizer(tmp / "tok")
        tokenizer = T5Tokenizer.from_pretrained(tmp / "tok", local_files_only=True)
        torch.manual_seed(SEED)
        text_encoder = UMT5EncoderModel(
            UMT5Config(
                vocab_size=vocab,
                d_model=TEXT_DIM,
                d_kv=8,
                d_ff=64,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
                pad_token_id=0,
                eos_token_id=1,
            )
        )
        torch.manual_seed(SEED)
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
            temperal_downsample=[False, True, True],
        )
        torch.manual_seed(SEED)
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=48,
            out_channels=48,
            text_dim=TEXT_DIM,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        )
        scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0)
        pipe = WanImageToVideoPipeline(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            vae=vae,
            scheduler=scheduler,
            image_processor=None,
            image_encoder=None,
            transformer=transformer,
            transformer_2=None,
            boundary_ratio=None,
            expand_timesteps=True,
        )
        _save_atomically(pipe, tmp / "pipe", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_built_video(models_dir: Path) -> Path:
    """The folder of the tiny Wan image-to-video pipeline, building it on first use."""
    folder = Path(models_dir) / NAME
    if not (folder / "model_index.json").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        from filelock import FileLock

        with FileLock(str(folder.parent / f".{NAME}.lock")):
            if not (folder / "model_index.json").exists():
                build_tiny_wan_i2v(folder)
    return folder
