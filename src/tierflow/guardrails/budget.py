"""Use cases of the guardrails, one transaction each: grants, budgets, policies, milestones, reports, DNA.

Written once, below the doors: the CLI (``delivery/cli/guardrails.py``), the REST routers
(``routers/budget.py``, ``policies.py``, ``milestones.py``, ``metrics.py``) and so the web studio
call these functions and only map their arguments. Who may do what: changing a budget, a daily
limit, a policy or a milestone's state needs the lead or admin role
(:func:`tierflow.domain.policies.check_can_edit_policy`); callers pass the acting user's id and
role (the CLI's local user acts as lead, see :func:`local_user`; REST passes the signed-in
principal's). Every change is written to the audit log with who made it and why.
"""

from __future__ import annotations

import getpass
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierflow.domain.dna import prompt_dna as score_dna
from tierflow.domain.dna import suggest_prompt
from tierflow.domain.errors import InvalidInput
from tierflow.domain.ledger import Scope, ScopeKey, user_day_id, warnings_for
from tierflow.domain.metrics import ProjectReport, render_chart
from tierflow.domain.metrics import project_report as compute_report
from tierflow.domain.models import ReviewState, Role, Stage
from tierflow.domain.policies import ProjectPolicy, check_can_edit_policy
from tierflow.domain.models import Project
from tierflow.storage.ledger_repo import LedgerRepo
from tierflow.storage.metrics_repo import prompts_and_reviews, report_records
from tierflow.storage.milestones_repo import MilestonesRepo
from tierflow.storage.policy_repo import PolicyRepo, policy_of
from tierflow.storage.projects_repo import ProjectsRepo
from tierflow.storage.clock import now

if TYPE_CHECKING:
    from tierflow.bootstrap import Services

SCOPES = ("project", "workspace", "milestone")
UNSET: Any = object()


def local_user() -> str:
    """The OS user: without accounts, the person at this install (who acts as lead)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "local"


def check_credits(value: Any, field: str, *, allow_zero: bool = False) -> float:
    """A finite number of credits > 0 (≥ 0 with ``allow_zero``), or a one-line error."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise InvalidInput(f"{value!r} is not an amount of credits", field=field,
                           fix=f"use a number {bound}; a budget only grows by grants")
    return float(value)


def _scope_key(s, project: Project, scope: str | None, milestone: str | None) -> ScopeKey:
    scope = scope or ("milestone" if milestone else "project")
    if scope not in SCOPES:
        raise InvalidInput(f"unknown budget scope {scope!r}", field="scope", fix=f"use one of {', '.join(SCOPES)}")
    if milestone and scope != "milestone":
        raise InvalidInput(f"a milestone was named for the {scope} budget", field="milestone",
                           fix="drop --milestone, or use the milestone's budget")
    if scope == "milestone":
        if not milestone:
            raise InvalidInput("a milestone budget needs a milestone", field="milestone", fix="pass --milestone NAME")
        return ScopeKey(Scope.MILESTONE, ProjectsRepo(s).milestone(project.id, milestone).id)
    if scope == "workspace":
        return ScopeKey(Scope.WORKSPACE, project.workspace_id)
    return ScopeKey(Scope.PROJECT, project.id)


def grant_in_session(s, project: Project, amount: float, *, scope: str | None = None, milestone: str | None = None,
                     user_id: str | None = None, role: Role | str = Role.LEAD, note: str = "") -> ScopeKey:
    """Grant credits inside the caller's transaction (``project create --budget`` uses it)."""
    check_can_edit_policy(role)
    amount = check_credits(amount, "grant")
    key = _scope_key(s, project, scope, milestone)
    LedgerRepo(s).grant(key, amount, user_id=user_id, note=note)
    PolicyRepo(s).audit("budget.grant", project_id=project.id, user_id=user_id, reason=note,
                        detail={"scope": key.scope.value, "scope_id": key.scope_id, "amount": amount})
    return key


def grant(services: Services, project: str, amount: float, *, scope: str | None = None, milestone: str | None = None,
          user_id: str | None = None, role: Role | str = Role.LEAD, note: str = "") -> dict[str, Any]:
    """Add ``amount`` credits to the project's, its workspace's or a milestone's budget; returns the balance."""
    with services.db.transaction() as s:
        row = ProjectsRepo(s).get(project)
        grant_in_session(s, row, amount, scope=scope, milestone=milestone, user_id=user_id, role=role, note=note)
    return budget_status(services, project, scope=scope, milestone=milestone)


def set_daily_limit(services: Services, project: str, user: str, limit: float | None, *,
                    user_id: str | None = None, role: Role | str = Role.LEAD) -> dict[str, Any]:
    """Cap what ``user`` may spend per UTC day (None lifts the cap); returns today's balance."""
    check_can_edit_policy(role)
    if limit is not None:
        limit = check_credits(limit, "daily_limit", allow_zero=True)
    with services.db.transaction() as s:
        row = ProjectsRepo(s).get(project)
        PolicyRepo(s).set_daily_limit(user, limit, project_id=row.id, set_by=user_id)
    return budget_status(services, project, user=user)


def budget_status(services: Services, project: str, *, scope: str | None = None, milestone: str | None = None,
                  user: str | None = None) -> dict[str, Any]:
    """``{"granted", "reserved", "spent", "remaining", "unlimited", "warnings"}`` of one scope, and all of them."""
    with services.db.read() as s:
        row = ProjectsRepo(s).get(project)
        policy = policy_of(row)
        repo = LedgerRepo(s)
        if user is not None:
            key = ScopeKey(Scope.USER_DAY, user_day_id(user, now()))
            limit = PolicyRepo(s).daily_limit(user)
            chosen = repo.balance(key, limit=limit)
        else:
            key = _scope_key(s, row, scope, milestone)
            chosen = repo.balance(key)
        status = services.guard.status(s, row.id) or {}
        warnings = warnings_for(chosen, policy.low_credit_threshold)
        warnings += [w for w in status.get("warnings", []) if w not in warnings]
    return {
        "project": row.name,
        "scope": chosen.scope.value,
        "scope_id": chosen.scope_id,
        "granted": chosen.granted,
        "reserved": chosen.reserved,
        "spent": chosen.spent,
        "remaining": chosen.remaining,
        "unlimited": chosen.unlimited,
        "warnings": warnings,
        "scopes": status.get("balances", []),
        "milestone": status.get("milestone"),
    }


def set_policy(services: Services, project: str, *, min_drafts: int | None = None, final_cap: Any = UNSET,
               low_credit_threshold: float | None = None, role: Role | str = Role.LEAD,
               user_id: str | None = None, reason: str = "") -> dict[str, Any]:
    """Change a project's policy (only the settings given; ``final_cap=None`` removes the cap)."""
    with services.db.transaction() as s:
        projects = ProjectsRepo(s)
        row = projects.get(project)
        before = policy_of(row)
        changes: dict[str, Any] = {}
        if min_drafts is not None:
            changes["min_drafts"] = min_drafts
        if final_cap is not UNSET:
            changes["final_cap"] = final_cap
        if low_credit_threshold is not None:
            changes["low_credit_threshold"] = low_credit_threshold
        after = ProjectPolicy.from_dict({**before.to_dict(), **changes})  # validates every value
        if changes:
            check_can_edit_policy(role)
            projects.set_policy(row.id, after)
            PolicyRepo(s).audit("policy.change", project_id=row.id, user_id=user_id, reason=reason,
                                detail={"before": before.to_dict(), "after": after.to_dict()})
        counted = (services.guard.status(s, row.id) or {}).get("milestone")
        return {"project": row.name, "policy": after.to_dict(), "changed": sorted(changes), "milestone": counted}


def policy_status(services: Services, project: str) -> dict[str, Any]:
    """The project's policy and the milestone its finals count against now (nothing changes)."""
    with services.db.read() as s:
        row = ProjectsRepo(s).get(project)
        counted = (services.guard.status(s, row.id) or {}).get("milestone")
    return {"project": row.name, "policy": policy_of(row).to_dict(), "changed": [], "milestone": counted}


def audit_log(services: Services, project: str) -> list[dict[str, Any]]:
    """The project's audit lines, oldest first."""
    with services.db.read() as s:
        row = ProjectsRepo(s).get(project)
        return [r.to_dict() for r in PolicyRepo(s).audit_log(row.id)]


def ledger_entries(services: Services, project: str, *, limit: int = 500) -> dict[str, Any]:
    """The project's and its milestones' ledger entries, newest first."""
    with services.db.read() as s:
        row = ProjectsRepo(s).get(project)
        entries = LedgerRepo(s).project_entries(row.id, limit=limit)
    return {"project": row.name, "entries": [e.to_dict() for e in entries]}


# -- milestones ---------------------------------------------------------------------------
def _milestone_dict(m, closed: set[str], current_id: str | None) -> dict[str, Any]:
    return {"id": m.id, "name": m.name, "created_at": m.created_at.isoformat(),
            "due": m.due.isoformat() if m.due else None, "closed": m.id in closed, "current": m.id == current_id}


def list_milestones(services: Services, project: str) -> dict[str, Any]:
    """The project's milestones, oldest first, each open or closed; ``current`` is the one renders count against."""
    with services.db.read() as s:
        row = ProjectsRepo(s).get(project)
        repo = MilestonesRepo(s)
        closed, current = repo.closed_ids(row.id), repo.current(row.id)
        listed = [_milestone_dict(m, closed, current.id if current else None) for m in repo.list(row.id)]
    return {"project": row.name, "milestones": listed, "current": current.name if current else None}


def create_milestone(services: Services, project: str, name: str, *, user_id: str | None = None) -> dict[str, Any]:
    """Add a milestone (any role that may render in the project); it becomes the current one."""
    with services.db.transaction() as s:
        row = ProjectsRepo(s).get(project)
        m = MilestonesRepo(s).create(row.id, name)
        PolicyRepo(s).audit("milestone.create", project_id=row.id, user_id=user_id,
                            detail={"milestone_id": m.id, "name": m.name})
    return {"project": row.name, "milestone": _milestone_dict(m, set(), m.id)}


def close_milestone(services: Services, project: str, milestone: str, *, closed: bool = True,
                    user_id: str | None = None, role: Role | str = Role.LEAD, reason: str = "") -> dict[str, Any]:
    """Close (or reopen) a milestone: renders then count against the next open one (audited)."""
    check_can_edit_policy(role)
    with services.db.transaction() as s:
        row = ProjectsRepo(s).get(project)
        repo = MilestonesRepo(s)
        m = repo.set_closed(row.id, milestone, closed, user_id=user_id, reason=reason)
        current = repo.current(row.id)
        return {"project": row.name, "milestone": _milestone_dict(m, repo.closed_ids(row.id),
                                                                  current.id if current else None)}


# -- metrics --------------------------------------------------------------------------------
def report_assets(s, project_id: str, milestone_id: str | None = None) -> list[dict[str, Any]]:
    """The metrics records of a project (see :mod:`tierflow.storage.metrics_repo`)."""
    return report_records(s, project_id, milestone_id)


def project_report(services: Services, project: str, milestone: str | None = None, *,
                   chart: str | Path | None = None) -> ProjectReport:
    """The project's (or one milestone's) metrics; writes the PNG chart when ``chart`` is given."""
    if chart is not None and Path(chart).suffix.lower() != ".png":
        raise InvalidInput(f"{Path(chart).name!r} is not a .png file", field="chart", fix="pass a path ending in .png")
    with services.db.read() as s:
        repo = ProjectsRepo(s)
        row = repo.get(project)
        ms_id = repo.milestone(row.id, milestone).id if milestone else None
        assets = report_records(s, row.id, ms_id)
    report = compute_report(assets, started_at=row.created_at)
    if chart is not None:
        render_chart(report, chart)
    return report


def prompt_dna(services: Services, project: str, *, top: int = 10) -> dict[str, Any]:
    """Terms of kept drafts against discarded ones, and a final prompt built from them."""
    with services.db.read() as s:
        row = ProjectsRepo(s).get(project)
        drafts = prompts_and_reviews(s, row.id, Stage.DRAFT)
    kept = [p for p, r in drafts if ReviewState(r).usable]
    discarded = [p for p, r in drafts if r == ReviewState.DISCARD.value]
    dna = score_dna(kept, discarded, top)
    # Build on the prompt that produced the most kept drafts: it is the one the team already likes.
    base = Counter(kept).most_common(1)[0][0]
    return {"project": row.name, **dna.to_dict(), "base_prompt": base, "suggested_prompt": suggest_prompt(base, dna)}
