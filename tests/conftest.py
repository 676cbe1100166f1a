"""Shared fixtures: every test runs on a temporary TIERFLOW_HOME; tiny models are built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of tiny models for the whole test session (built on first use, ~10 s)."""
    shared = os.environ.get("TIERFLOW_TEST_MODELS")
    if shared:
        Path(shared).mkdir(parents=True, exist_ok=True)
        return Path(shared)
    return tmp_path_factory.mktemp("models")


@pytest.fixture()
def home(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh TIERFLOW_HOME whose models/ points at the shared tiny models."""
    root = tmp_path / "home"
    root.mkdir()
    (root / "models").symlink_to(models_dir, target_is_directory=True)
    monkeypatch.setenv("TIERFLOW_HOME", str(root))
    monkeypatch.setenv("TIERFLOW_PRESET", "tiny")
    monkeypatch.delenv("TIERFLOW_DATABASE_URL", raising=False)
    return root
