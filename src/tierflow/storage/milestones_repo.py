"""Milestones as the final cap counts them: open or closed, and the project's current one.

A project without milestones is one milestone (SPEC, policies): a render that names none counts
against the project's *current* milestone, the newest one still open. When a final needs one and
the project has none open, an implicit milestone ``main`` (``main 2``, … after closing) is created,
and the first time, the finals made before any milestone existed join it, so a cap set later
counts them too. Closing needs no column: the latest ``milestone.close`` / ``milestone.reopen``
line of the audit log says whether a milestone is closed (with who and why).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tierflow.domain.names import check_name
from tierflow.domain.errors import InvalidInput, NotFound
from tierflow.domain.models import Milestone, Stage
from tierflow.storage.policy_repo import PolicyRepo
from tierflow.storage.projects_repo import ProjectsRepo
from tierflow.storage.tables import AuditRow, GenerationRow

ACTION_CLOSE = "milestone.close"
ACTION_REOPEN = "milestone.reopen"
IMPLICIT_NAME = "main"


class MilestonesRepo:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.projects = ProjectsRepo(session)

    def closed_ids(self, project_id: str) -> set[str]:
        """Milestones whose latest close/reopen audit line is a close."""
        state: dict[str, bool] = {}
        rows = self.s.execute(select(AuditRow.action, AuditRow.detail)
                              .where(AuditRow.project_id == project_id,
                                     AuditRow.action.in_([ACTION_CLOSE, ACTION_REOPEN]))
                              .order_by(AuditRow.created_at, AuditRow.id))
        for action, detail in rows:
            ms = (detail or {}).get("milestone_id")
            if ms:
                state[ms] = action == ACTION_CLOSE
        return {ms for ms, closed in state.items() if closed}

    def get(self, project_id: str, ref: str) -> Milestone:
        """A milestone of the project by name or id."""
        return self.projects.milestone(project_id, ref)

    def list(self, project_id: str) -> list[Milestone]:
        return self.projects.milestones(project_id)

    def create(self, project_id: str, name: str) -> Milestone:
        name = check_name(name, "milestone name", id_prefix="ms_")
        try:
            self.projects.milestone(project_id, name)
        except NotFound:
            return self.projects.milestone(project_id, name, create=True)
        raise InvalidInput(f"milestone {name!r} already exists", field="name", fix="pick another name")

    def current(self, project_id: str, *, create: bool = False) -> Milestone | None:
        """The newest open milestone; with ``create``, the implicit one when none is open."""
        closed = self.closed_ids(project_id)
        existing = self.list(project_id)
        open_ = [m for m in existing if m.id not in closed]
        if open_:
            return open_[-1]
        if not create:
            return None
        names = {m.name for m in existing}
        name, n = IMPLICIT_NAME, 1
        while name in names:
            n += 1
            name = f"{IMPLICIT_NAME} {n}"
        milestone = self.projects.milestone(project_id, name, create=True)
        if not existing:
            # The project was one milestone all along: the finals it made before count in it.
            self.s.execute(update(GenerationRow)
                           .where(GenerationRow.project_id == project_id, GenerationRow.milestone_id.is_(None),
                                  GenerationRow.stage == Stage.FINAL.value)
                           .values(milestone_id=milestone.id))
        return milestone

    def assign(self, generation_id: str, milestone: Milestone) -> None:
        """Record on the generation row which milestone it counts against (id column and params)."""
        row = self.s.get(GenerationRow, generation_id)
        if row is None:
            raise NotFound(f"no generation {generation_id!r}", field="generation", fix="see `tierflow jobs list`")
        row.milestone_id = milestone.id
        row.params = {**(row.params or {}), "milestone": {"id": milestone.id, "name": milestone.name}}
        self.s.flush()

    def set_closed(self, project_id: str, ref: str, closed: bool, *, user_id: str | None, reason: str = "") -> Milestone:
        """Close (or reopen) a milestone, written to the audit log; closing a closed one is an error."""
        milestone = self.get(project_id, ref)
        is_closed = milestone.id in self.closed_ids(project_id)
        if is_closed == closed:
            state = "closed" if closed else "open"
            raise InvalidInput(f"milestone {milestone.name!r} is already {state}", field="milestone",
                               fix="see `tierflow milestone list`")
        PolicyRepo(self.s).audit(ACTION_CLOSE if closed else ACTION_REOPEN, project_id=project_id, user_id=user_id,
                                 reason=reason, detail={"milestone_id": milestone.id, "name": milestone.name})
        return milestone
