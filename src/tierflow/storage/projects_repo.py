"""Workspaces, projects, milestones and prompt threads."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tierflow.domain.errors import InvalidInput, NotFound
from tierflow.domain.ids import new_id
from tierflow.domain.models import Milestone, Project, PromptThread, Workspace
from tierflow.domain.names import check_name
from tierflow.domain.policies import ProjectPolicy
from tierflow.storage.clock import aware, now
from tierflow.storage.tables import MilestoneRow, ProjectRow, PromptRow, WorkspaceRow

DEFAULT_WORKSPACE = "default"


def to_project(row: ProjectRow) -> Project:
    """The domain project of a stored row."""
    return Project(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        created_at=aware(row.created_at),
        description=row.description,
        settings={
            "private": row.private,
            "min_drafts": row.min_drafts,
            "final_cap": row.final_cap,
            "low_credit_threshold": row.low_credit_threshold,
        },
    )


class ProjectsRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    # -- workspaces ---------------------------------------------------------------------
    def workspace(self, name: str = DEFAULT_WORKSPACE) -> Workspace:
        """The named workspace, created on first use."""
        row = self.s.scalar(select(WorkspaceRow).where(WorkspaceRow.name == name))
        if row is None:
            row = WorkspaceRow(id=new_id("ws"), name=name, created_at=now())
            self.s.add(row)
            self.s.flush()
        return Workspace(id=row.id, name=row.name, created_at=aware(row.created_at))

    # -- projects -----------------------------------------------------------------------
    def create(self, name: str, *, description: str = "", workspace: str = DEFAULT_WORKSPACE,
               min_drafts: int = 10, final_cap: int | None = None, private: bool = False,
               low_credit_threshold: float | None = None) -> Project:
        name = check_name(name, "project name", id_prefix="prj_")
        ProjectPolicy(min_drafts=min_drafts, final_cap=final_cap,
                      **({} if low_credit_threshold is None else {"low_credit_threshold": low_credit_threshold}))
        ws = self.workspace(workspace)
        exists = self.s.scalar(select(ProjectRow).where(ProjectRow.workspace_id == ws.id, ProjectRow.name == name))
        if exists is not None:
            raise InvalidInput(f"a project named {name!r} already exists", field="name",
                               fix="pick another name or use the existing project")
        row = ProjectRow(id=new_id("prj"), workspace_id=ws.id, name=name, description=description,
                         private=private, min_drafts=min_drafts, final_cap=final_cap,
                         low_credit_threshold=low_credit_threshold, created_at=now())
        self.s.add(row)
        self.s.flush()
        return to_project(row)

    def row(self, ref: str) -> ProjectRow:
        """A project by id or by name."""
        row = self.s.get(ProjectRow, ref) if ref.startswith("prj_") else None
        if row is None:
            row = self.s.scalar(select(ProjectRow).where(ProjectRow.name == ref))
        if row is None:
            raise NotFound(f"no project {ref!r}", field="project",
                           fix="create it with `tierflow project create NAME` or see `tierflow project list`")
        return row

    def get(self, ref: str) -> Project:
        return to_project(self.row(ref))

    def list(self) -> list[Project]:
        return [to_project(r) for r in self.s.scalars(select(ProjectRow).order_by(ProjectRow.created_at))]

    def set_policy(self, project_id: str, policy: ProjectPolicy) -> Project:
        """Store a validated policy on the project (the caller audits the change)."""
        row = self.row(project_id)
        row.min_drafts, row.final_cap = policy.min_drafts, policy.final_cap
        row.low_credit_threshold = policy.low_credit_threshold
        self.s.flush()
        return to_project(row)

    def counts(self, project_id: str) -> dict[str, int]:
        from tierflow.storage.tables import AssetRow

        rows = self.s.execute(
            select(AssetRow.stage, func.count()).where(AssetRow.project_id == project_id).group_by(AssetRow.stage)
        )
        return {stage: n for stage, n in rows}

    # -- milestones ---------------------------------------------------------------------
    def milestone(self, project_id: str, name: str, *, create: bool = False) -> Milestone:
        """A milestone by name or id; with ``create``, made when missing (the name checked first)."""
        if create:
            name = check_name(name, "milestone name", id_prefix="ms_")
        row = self.s.scalar(select(MilestoneRow).where(MilestoneRow.project_id == project_id,
                                                       MilestoneRow.name == name))
        if row is None and name.startswith("ms_"):
            row = self.s.get(MilestoneRow, name)
        if row is None:
            if not create:
                raise NotFound(f"no milestone {name!r} in this project", field="milestone",
                               fix="create it with `tierflow milestone create` or omit --milestone")
            row = MilestoneRow(id=new_id("ms"), project_id=project_id, name=name, created_at=now())
            self.s.add(row)
            self.s.flush()
        return Milestone(id=row.id, project_id=row.project_id, name=row.name, created_at=aware(row.created_at),
                         due=aware(row.due))

    def milestones(self, project_id: str) -> list[Milestone]:
        rows = self.s.scalars(select(MilestoneRow).where(MilestoneRow.project_id == project_id)
                              .order_by(MilestoneRow.created_at))
        return [Milestone(id=r.id, project_id=r.project_id, name=r.name, created_at=aware(r.created_at),
                          due=aware(r.due)) for r in rows]

    # -- prompt threads -----------------------------------------------------------------
    def prompt(self, project_id: str, text: str, *, negative: str = "", parent_id: str | None = None) -> PromptThread:
        """The prompt row for ``text`` in the project (reused when the same text was run before)."""
        row = self.s.scalar(
            select(PromptRow).where(PromptRow.project_id == project_id, PromptRow.text == text,
                                    PromptRow.negative == negative).limit(1)
        )
        if row is None:
            row = PromptRow(id=new_id("pr"), project_id=project_id, text=text, negative=negative,
                            parent_id=parent_id, created_at=now())
            self.s.add(row)
            self.s.flush()
        return PromptThread(id=row.id, project_id=row.project_id, text=row.text, created_at=aware(row.created_at),
                            parent_id=row.parent_id, negative=row.negative)

    def prompts(self, project_id: str | None = None, limit: int = 200) -> list[PromptThread]:
        q = select(PromptRow).order_by(PromptRow.created_at.desc()).limit(limit)
        if project_id:
            q = q.where(PromptRow.project_id == project_id)
        return [PromptThread(id=r.id, project_id=r.project_id, text=r.text, created_at=aware(r.created_at),
                             parent_id=r.parent_id, negative=r.negative) for r in self.s.scalars(q)]

    def thread_root(self, prompt_id: str) -> str:
        """The first prompt of the thread ``prompt_id`` belongs to (edits point at their parent)."""
        seen = set()
        current = prompt_id
        while current and current not in seen:
            seen.add(current)
            parent = self.s.scalar(select(PromptRow.parent_id).where(PromptRow.id == current))
            if not parent:
                return current
            current = parent
        return current
