"""The in-process job queue on its own: tiers run independently, admission fails early, memory stays bounded."""

from __future__ import annotations

import pytest

from tests.api.conftest import SMALL
from tests.api.gate import install_gated
from tierflow.domain.errors import PolicyBlocked
from tierflow.domain.models import JobStatus, Tier
from tierflow.jobs import JobQueue
from tierflow.stages.draft import draft_spec
from tierflow.stages.guard import OpenGuard


def _wait(job, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while not job.done:
        assert time.monotonic() < deadline, job.status
        time.sleep(0.02)
    return job


def test_a_held_final_does_not_block_drafts(services, project, drafts):
    from tierflow.stages.promote import promote_spec

    gated = install_gated(services, Tier.FINAL, "tiny-final", "gated-final")
    queue = JobQueue(services)
    try:
        final = queue.submit(promote_spec(drafts[0].id, engine="gated-final", size=SMALL, steps=2, strength=0.5))
        assert gated.entered.wait(30)
        draft = queue.submit(draft_spec(project.id, "a cat", n=1, size=SMALL, steps=1))
        _wait(draft)
        assert draft.status == JobStatus.SUCCEEDED and len(draft.assets) == 1
        assert final.status == JobStatus.RUNNING  # still held at the gate, on its own worker
        gated.gate.set()
        _wait(final)
        assert final.status == JobStatus.SUCCEEDED, final.error
        assert final.assets[0].parent_ids == [drafts[0].id]
        kinds = [e.kind for e in final.events_from(0)]
        assert kinds[0] == "started" and kinds[-1] == "finished"
    finally:
        gated.gate.set()
        queue.shutdown()


class BlockingGuard(OpenGuard):
    def admit(self, session, plan, credits, generation_id):
        raise PolicyBlocked("draft-first: 0 of 10 drafts", field="policy", fix="draft more first")


def test_admission_fails_synchronously_and_writes_nothing(services, project):
    from sqlalchemy import func, select

    from tierflow.storage.tables import GenerationRow, PromptRow

    services.guard = BlockingGuard()
    queue = JobQueue(services)
    try:
        with pytest.raises(PolicyBlocked):
            queue.submit(draft_spec(project.id, "a cat", n=1, size=SMALL, steps=1))
        assert queue.jobs() == []
        with services.db.read() as s:
            assert s.scalar(select(func.count()).select_from(GenerationRow)) == 0
            # the prompt thread row is written in the same transaction as the job's rows: rolled back too
            assert s.scalar(select(func.count()).select_from(PromptRow)) == 0
    finally:
        queue.shutdown()


def test_finished_jobs_are_forgotten_beyond_keep(services, project):
    queue = JobQueue(services, keep=2)
    try:
        gated = install_gated(services, Tier.DRAFT, "tiny-draft", "gated-draft")
        gated.gate.set()
        jobs = []
        for i in range(4):
            jobs.append(_wait(queue.submit(draft_spec(project.id, f"cat {i}", n=1, size=SMALL, steps=1,
                                                       engine="gated-draft"))))
        queue.submit(draft_spec(project.id, "cat 5", n=1, size=SMALL, steps=1))
        kept = {j.id for j in queue.jobs()}
        assert jobs[0].id not in kept and jobs[1].id not in kept and {jobs[2].id, jobs[3].id} <= kept
    finally:
        queue.shutdown()
