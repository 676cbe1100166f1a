"""Use cases of the guardrails, one transaction each: grants, budgets, policies, reports, prompt DNA.

Who may do what: changing a budget, a daily limit or a policy needs the lead or admin role
(:func:`tierflow.domain.policies.check_can_edit_policy`). There are no accounts yet, so callers pass
the role; the CLI's local user acts as lead (see :func:`local_user`). Every change is written to the
audit log with who made it.
"""

from __future__ import annotations

import getpass
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tierflow.domain.dna import prompt_dna as score_dna
from tierflow.domain.dna import suggest_prompt
from tierflow.domain.errors import InvalidInput
from tierflow.domain.ledger import Scope, ScopeKey, user_day_id, warnings_for
from tierflow.domain.metrics import ProjectReport, render_chart
from tierflow.domain.metrics import project_report as compute_report
from tierflow.domain.models import ReviewState, Role, Stage
from tierflow.domain.policies import ProjectPolicy, check_can_edit_policy
from tierflow.guardrails.ledger_repo import LedgerRepo
from tierflow.guardrails.policy_repo import PolicyRepo, policy_of
from tierflow.storage.clock import aware, now
from tierflow.storage.projects_repo import ProjectsRepo
from tierflow.storage.tables import AssetRow, GenerationRow, ProjectRow, ReviewRow

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


def _scope_key(s, project: ProjectRow, scope: str | None, milestone: str | None) -> ScopeKey:
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


def grant_in_session(s, project: ProjectRow, amount: float, *, scope: str | None = None, milestone: str | None = None,
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
        row = ProjectsRepo(s).row(project)
        grant_in_session(s, row, amount, scope=scope, milestone=milestone, user_id=user_id, role=role, note=note)
    return budget_status(services, project, scope=scope, milestone=milestone)


def set_daily_limit(services: Services, project: str, user: str, limit: float | None, *,
                    user_id: str | None = None, role: Role | str = Role.LEAD) -> dict[str, Any]:
    """Cap what ``user`` may spend per UTC day (None lifts the cap); returns today's balance."""
    check_can_edit_policy(role)
    if limit is not None:
        limit = check_credits(limit, "daily_limit", allow_zero=True)
    with services.db.transaction() as s:
        row = ProjectsRepo(s).row(project)
        PolicyRepo(s).set_daily_limit(user, limit, project_id=row.id, set_by=user_id)
    return budget_status(services, project, user=user)


def budget_status(services: Services, project: str, *, scope: str | None = None, milestone: str | None = None,
                  user: str | None = None) -> dict[str, Any]:
    """``{"granted", "reserved", "spent", "remaining", "unlimited", "warnings"}`` of one scope, and all of them."""
    with services.db.read() as s:
        row = ProjectsRepo(s).row(project)
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
    }


def set_policy(services: Services, project: str, *, min_drafts: int | None = None, final_cap: Any = UNSET,
               low_credit_threshold: float | None = None, role: Role | str = Role.LEAD,
               user_id: str | None = None, reason: str = "") -> dict[str, Any]:
    """Change a project's policy (only the settings given; ``final_cap=None`` removes the cap)."""
    with services.db.transaction() as s:
        row = ProjectsRepo(s).row(project)
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
            row.min_drafts, row.final_cap = after.min_drafts, after.final_cap
            row.low_credit_threshold = after.low_credit_threshold
            PolicyRepo(s).audit("policy.change", project_id=row.id, user_id=user_id, reason=reason,
                                detail={"before": before.to_dict(), "after": after.to_dict()})
        return {"project": row.name, "policy": after.to_dict(), "changed": sorted(changes)}


def audit_log(services: Services, project: str) -> list[dict[str, Any]]:
    """The project's audit lines, oldest first."""
    with services.db.read() as s:
        row = ProjectsRepo(s).row(project)
        return [r.to_dict() for r in PolicyRepo(s).audit_log(row.id)]


def report_assets(s, project_id: str, milestone_id: str | None = None) -> list[dict[str, Any]]:
    """One dict per asset for :func:`tierflow.domain.metrics.project_report`, read from the database.

    credits: what the provider reported for the output, else the generation's committed credits
    shared by its outputs; seconds: the generation's wall time (finished − started); review: the
    latest review row's time and reviewer.
    """
    q = (select(AssetRow, GenerationRow).join(GenerationRow, AssetRow.generation_id == GenerationRow.id)
         .where(AssetRow.project_id == project_id).order_by(AssetRow.created_at))
    if milestone_id is not None:
        q = q.where(GenerationRow.milestone_id == milestone_id)
    pairs = list(s.execute(q).tuples())
    latest: dict[str, ReviewRow] = {}
    if pairs:
        reviews = s.scalars(select(ReviewRow).where(ReviewRow.asset_id.in_([a.id for a, _ in pairs]))
                            .order_by(ReviewRow.created_at))
        latest = {r.asset_id: r for r in reviews}
    out = []
    for asset, gen in pairs:
        reported = (asset.params or {}).get("credits")
        if isinstance(reported, (int, float)) and not isinstance(reported, bool) and reported >= 0:
            credits = float(reported)
        else:
            credits = (gen.credits or 0.0) / max(gen.outputs or 1, 1)
        started, finished = aware(gen.started_at), aware(gen.finished_at)
        review = latest.get(asset.id)
        out.append({
            "stage": asset.stage,
            "created_at": aware(asset.created_at),
            "review": asset.review,
            "credits": round(credits, 6),
            "engine_id": asset.engine_id,
            "seconds": (finished - started).total_seconds() if started and finished else None,
            "reviewed_at": aware(review.created_at) if review else aware(asset.reviewed_at),
            "review_seconds": review.seconds if review else None,
            "user_id": gen.user_id,
            "reviewer_id": review.user_id if review else None,
        })
    return out


def project_report(services: Services, project: str, milestone: str | None = None, *,
                   chart: str | Path | None = None) -> ProjectReport:
    """The project's (or one milestone's) metrics; writes the PNG chart when ``chart`` is given."""
    if chart is not None and Path(chart).suffix.lower() != ".png":
        raise InvalidInput(f"{Path(chart).name!r} is not a .png file", field="chart", fix="pass a path ending in .png")
    with services.db.read() as s:
        repo = ProjectsRepo(s)
        row = repo.row(project)
        ms_id = repo.milestone(row.id, milestone).id if milestone else None
        assets = report_assets(s, row.id, ms_id)
        started = aware(row.created_at)
    report = compute_report(assets, started_at=started)
    if chart is not None:
        render_chart(report, chart)
    return report


def prompt_dna(services: Services, project: str, *, top: int = 10) -> dict[str, Any]:
    """Terms of kept drafts against discarded ones, and a final prompt built from them."""
    with services.db.read() as s:
        row = ProjectsRepo(s).row(project)
        drafts = list(s.execute(select(AssetRow.prompt_text, AssetRow.review).where(
            AssetRow.project_id == row.id, AssetRow.stage == Stage.DRAFT.value)).tuples())
    kept = [p for p, r in drafts if ReviewState(r).usable]
    discarded = [p for p, r in drafts if r == ReviewState.DISCARD.value]
    dna = score_dna(kept, discarded, top)
    # Build on the prompt that produced the most kept drafts: it is the one the team already likes.
    base = Counter(kept).most_common(1)[0][0]
    return {"project": row.name, **dna.to_dict(), "base_prompt": base, "suggested_prompt": suggest_prompt(base, dna)}
