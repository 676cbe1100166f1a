"""Settings from the environment: where tierflow keeps its data and which engines it uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _home() -> Path:
    return Path(os.environ.get("TIERFLOW_HOME") or Path.home() / ".tierflow").expanduser()


@dataclass(frozen=True)
class Settings:
    """Everything configurable, read once by :func:`tierflow.bootstrap.build`."""

    home: Path = field(default_factory=_home)
    database_url: str | None = field(default_factory=lambda: os.environ.get("TIERFLOW_DATABASE_URL") or None)
    preset: str | None = field(default_factory=lambda: os.environ.get("TIERFLOW_PRESET") or None)
    offline: bool = field(
        default_factory=lambda: os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True")
        or os.environ.get("TIERFLOW_OFFLINE", "") in ("1", "true", "True")
    )
    device: str | None = field(default_factory=lambda: os.environ.get("TIERFLOW_DEVICE") or None)
    models_path: Path | None = None  # default: $TIERFLOW_HOME/models
    blobs_url: str | None = field(default_factory=lambda: os.environ.get("TIERFLOW_BLOBS_URL") or None)  # s3://...
    jobs: str = field(default_factory=lambda: os.environ.get("TIERFLOW_JOBS") or "inprocess")  # or "durable"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'tierflow.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def models_dir(self) -> Path:
        return self.models_path or self.home / "models"

    def ensure_dirs(self) -> None:
        for path in (self.home, self.blob_dir, self.models_dir):
            path.mkdir(parents=True, exist_ok=True)
