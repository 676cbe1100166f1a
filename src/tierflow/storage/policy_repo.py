"""What the policies count (drafts per prompt thread, finals per milestone) and the audit log."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tierflow.domain.errors import InvalidInput
from tierflow.domain.ids import new_id
from tierflow.domain.models import JobStatus, Project, Stage
from tierflow.domain.policies import AuditRecord, ProjectPolicy
from tierflow.storage.clock import aware, now
from tierflow.storage.projects_repo import ProjectsRepo
from tierflow.storage.tables import AssetRow, AuditRow, GenerationRow, PromptRow

ACTION_DAILY_LIMIT = "budget.daily_limit"
IN_FLIGHT = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def policy_of(project: Project) -> ProjectPolicy:
    """The project's stored settings as a validated policy (a NULL threshold means the default)."""
    settings = getattr(project, "settings", None)
    if settings is None:  # a stored row (callers that still hold one)
        settings = {k: getattr(project, k) for k in ("min_drafts", "final_cap", "low_credit_threshold")}
    threshold = settings.get("low_credit_threshold")
    min_drafts = settings.get("min_drafts")
    return ProjectPolicy(
        min_drafts=min_drafts if min_drafts is not None else ProjectPolicy.min_drafts,
        final_cap=settings.get("final_cap"),
        low_credit_threshold=ProjectPolicy.low_credit_threshold if threshold is None else threshold,
    )


class PolicyRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    # -- counts -------------------------------------------------------------------------
    def thread_prompt_ids(self, prompt_id: str) -> set[str]:
        """Every prompt of the thread ``prompt_id`` belongs to: its root and all edits below it."""
        root = ProjectsRepo(self.s).thread_root(prompt_id)
        project_id = self.s.scalar(select(PromptRow.project_id).where(PromptRow.id == root))
        children: dict[str, list[str]] = {}
        for pid, parent in self.s.execute(select(PromptRow.id, PromptRow.parent_id)
                                          .where(PromptRow.project_id == project_id)):
            if parent:
                children.setdefault(parent, []).append(pid)
        thread, todo = {root}, [root]
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in thread:
                    thread.add(child)
                    todo.append(child)
        return thread

    def drafts_in_thread(self, prompt_id: str) -> int:
        """Draft assets made from any prompt of the thread."""
        ids = self.thread_prompt_ids(prompt_id)
        return int(self.s.scalar(select(func.count()).select_from(AssetRow).where(
            AssetRow.stage == Stage.DRAFT.value, AssetRow.prompt_id.in_(ids))) or 0)

    def finals_in_thread(self, prompt_id: str, *, exclude_generation: str | None = None) -> int:
        """Final assets of the thread, plus final jobs of the thread still running."""
        ids = self.thread_prompt_ids(prompt_id)
        made = self.s.scalar(select(func.count()).select_from(AssetRow).where(
            AssetRow.stage == Stage.FINAL.value, AssetRow.prompt_id.in_(ids)))
        running = self._running_finals(GenerationRow.prompt_id.in_(ids), exclude_generation)
        return int(made or 0) + running

    def finals_in_milestone(self, milestone_id: str, *, exclude_generation: str | None = None) -> int:
        """Final assets made for the milestone, plus final jobs for it still running (they will count)."""
        made = self.s.scalar(select(func.count()).select_from(AssetRow)
                             .join(GenerationRow, AssetRow.generation_id == GenerationRow.id)
                             .where(AssetRow.stage == Stage.FINAL.value, GenerationRow.milestone_id == milestone_id))
        running = self._running_finals(GenerationRow.milestone_id == milestone_id, exclude_generation)
        return int(made or 0) + running

    def _running_finals(self, where, exclude_generation: str | None) -> int:
        # A running job has no asset yet; without counting it, racing promotions would all pass the cap.
        q = select(GenerationRow.id, GenerationRow.outputs).where(
            where, GenerationRow.stage == Stage.FINAL.value, GenerationRow.status.in_(IN_FLIGHT))
        if exclude_generation:
            q = q.where(GenerationRow.id != exclude_generation)
        return sum(1 for _ in self.s.execute(q))

    # -- audit log ----------------------------------------------------------------------
    def write_audit(self, record: AuditRecord) -> None:
        self.s.add(AuditRow(id=record.id, project_id=record.project_id, user_id=record.user_id,
                            action=record.action, reason=record.reason, detail=dict(record.detail),
                            created_at=record.created_at))
        self.s.flush()

    def audit(self, action: str, *, project_id: str | None, user_id: str | None, reason: str = "",
              detail: dict[str, Any] | None = None) -> AuditRecord:
        """Append one audit line (policy changes, grants, overrides)."""
        record = AuditRecord(id=new_id("aud"), action=action, user_id=user_id, reason=reason,
                             project_id=project_id, detail=dict(detail or {}), created_at=now())
        self.write_audit(record)
        return record

    def audit_log(self, project_id: str | None = None, *, action: str | None = None) -> list[AuditRecord]:
        """Audit lines, oldest first."""
        q = select(AuditRow).order_by(AuditRow.created_at, AuditRow.id)
        if project_id is not None:
            q = q.where(AuditRow.project_id == project_id)
        if action is not None:
            q = q.where(AuditRow.action == action)
        return [AuditRecord(id=r.id, action=r.action, user_id=r.user_id, reason=r.reason or "",
                            project_id=r.project_id, detail=dict(r.detail or {}), created_at=aware(r.created_at))
                for r in self.s.scalars(q)]

    # -- daily limits -------------------------------------------------------------------
    # The schema has no settings table for users yet (accounts come later), so a daily limit is
    # the latest ``budget.daily_limit`` line of the audit log: set by a lead, with its history.
    def daily_limit(self, user_id: str) -> float | None:
        """The user's credits per UTC day, or None when no limit is set."""
        latest = None
        for record in self.audit_log(action=ACTION_DAILY_LIMIT):
            if record.detail.get("user_id") == user_id:
                latest = record
        return None if latest is None else latest.detail.get("limit")

    def set_daily_limit(self, user_id: str, limit: float | None, *, project_id: str | None,
                        set_by: str | None) -> AuditRecord:
        if not user_id or not user_id.strip():
            raise InvalidInput("a daily limit needs a user", field="user", fix="pass --user NAME")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                                  or not math.isfinite(limit) or limit < 0):
            raise InvalidInput(f"{limit!r} is not a daily limit", field="daily_limit",
                               fix="use credits ≥ 0 per day")
        return self.audit(ACTION_DAILY_LIMIT, project_id=project_id, user_id=set_by,
                          detail={"user_id": user_id.strip(), "limit": None if limit is None else float(limit)})
