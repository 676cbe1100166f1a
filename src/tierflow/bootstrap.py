"""The one place where settings become wired services (CLI, REST API, tests and workers use it)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from tierflow.app.ports import BlobStore, EngineSource, Guard, Store
from tierflow.config import Settings


@dataclass
class Services:
    """The wiring (implements :class:`tierflow.app.ports.Services`, which is what the use cases import)."""

    settings: Settings
    db: Store
    blobs: BlobStore
    engines: EngineSource
    guard: Guard
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.engines.close()
        self.db.dispose()


def quiet_libraries() -> None:
    """Keep diffusers/transformers chatter (progress bars, deprecations) off the user's screen."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("diffusers", "transformers", "huggingface_hub", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def build(settings: Settings | None = None, *, guard: Guard | None = None) -> Services:
    """Create folders, migrate the database, sweep crash leftovers and register every engine."""
    from tierflow.engines.catalog import build_registry
    from tierflow.storage.blob_store import open_blob_store
    from tierflow.storage.database import Database

    quiet_libraries()
    settings = settings or Settings()
    settings.ensure_dirs()
    db = Database(settings.db_url)
    db.migrate()
    blobs = open_blob_store(settings)  # TIERFLOW_BLOBS_URL=s3://... or $TIERFLOW_HOME/blobs
    blobs.sweep_temp()
    services = Services(settings=settings, db=db, blobs=blobs, engines=build_registry(settings),
                        guard=guard or default_guard())
    recover(services)
    return services


def default_guard() -> Guard:
    """The guardrails (credits + policies) when installed, else the open guard."""
    try:
        from tierflow.guardrails.guard import LedgerGuard
    except ImportError:
        from tierflow.stages.guard import OpenGuard

        return OpenGuard()
    return LedgerGuard()


def recover(services: Services) -> None:
    """Jobs left ``running`` by a crashed process are failed (and their reservations refunded);
    blobs a killed process wrote without their asset row are removed after a grace period."""
    from tierflow.stages.recovery import recover_stale_jobs, sweep_orphan_blobs

    recover_stale_jobs(services)
    sweep_orphan_blobs(services, force=False)
