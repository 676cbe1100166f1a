"""Device and dtype choice for local engines."""

from __future__ import annotations

import os


def pick_device(preferred: str | None = None) -> str:
    """``cuda`` when a GPU is present, then ``mps``, else ``cpu`` (``TIERFLOW_DEVICE`` overrides)."""
    import torch

    choice = preferred or os.environ.get("TIERFLOW_DEVICE")
    if choice:
        return choice
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, preferred: str = "float16"):
    """Half precision on accelerators, float32 on the CPU (CPU half kernels are slow or missing)."""
    import torch

    if device == "cpu":
        return torch.float32
    return getattr(torch, preferred)
