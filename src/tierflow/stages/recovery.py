"""After a crash: jobs a dead process left running are failed and their credits refunded."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from tierflow.domain.models import JobStatus
from tierflow.storage.clock import now

if TYPE_CHECKING:
    from tierflow.app.ports import Services


def process_owner() -> str:
    """Who runs jobs in this process: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's job: its lease decides (scale-out)
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def recover_stale_jobs(services: Services) -> int:
    """Fail every running job whose process is gone or whose lease expired, and close it like a failed render.

    Through the one close of :mod:`tierflow.stages.admit`: outputs the dead process had already
    stored stay and are charged pro rata, the rest of the reservation is refunded (a job with no
    stored output is refunded whole).
    """
    from tierflow.stages.admit import close_in, count_of
    from tierflow.storage.assets_repo import AssetsRepo
    from tierflow.storage.generations_repo import DURABLE, GenerationsRepo, lease_over

    recovered = 0
    t = now()
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        for gen in repo.unfinished():
            if gen.queue == DURABLE:
                continue  # a durable job goes back to its queue instead: tierflow.jobs.durable.requeue_expired
            over = lease_over(gen, t)
            if _owner_alive(gen.lease_owner) and not over:
                continue  # rendering, or waiting on the studio thread that owns it
            stored = AssetsRepo(s).count(generation_id=gen.id)
            error = ("the process running this job stopped; its credits were refunded" if not stored else
                     f"the process running this job stopped after {stored} of {count_of(gen)} output(s); "
                     "those are charged, the rest refunded")
            close_in(services, s, gen.id, JobStatus.FAILED, outputs=stored,
                     spent=gen.credits * stored / count_of(gen), error=error)
            recovered += 1
        # Reservations whose job row is gone or already ended (a crash between the two writes of
        # an older version, a job row removed by hand) are released too.
        s.flush()
        recovered += len(services.guard.refund_orphaned(s))
    return recovered


SWEEP_EVERY_SECONDS = 3600.0


def sweep_orphan_blobs(services: Services, older_than: float | None = None, *, force: bool = True) -> int:
    """Remove blobs no asset row names (a process killed between blob and row), past the grace period.

    Works on any blob store (local folder or object store: list + age). ``force=False`` (every
    start) sweeps at most once an hour per blob store, so a CLI call on a large store does not pay
    for a full listing each time. Returns how many blobs were removed.
    """
    import time

    from tierflow.storage.blob_store import GRACE_SECONDS, sweep_unreferenced
    from tierflow.storage.assets_repo import AssetsRepo

    last = services.blobs.last_sweep()
    if not force and last is not None and time.time() - last < SWEEP_EVERY_SECONDS:
        return 0
    with services.db.read() as s:
        referenced = AssetsRepo(s).referenced_shas()
    removed = sweep_unreferenced(services.blobs, referenced, GRACE_SECONDS if older_than is None else older_than)
    services.blobs.mark_sweep()
    return removed
