"""Draft-first per prompt thread, the final cap per milestone, overrides and the audit log, in the runner."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tierflow.domain.errors import InvalidInput, PermissionDenied, PolicyBlocked
from tierflow.guardrails import budget as uc
from tierflow.storage.policy_repo import PolicyRepo
from tierflow.stages.promote import promote
from tierflow.storage.projects_repo import ProjectsRepo
from tierflow.storage.tables import GenerationRow, PromptRow

from .conftest import SMALL, make_project, small_drafts


def _promote(services, asset_id, **kw):
    return promote(services, asset_id, size=SMALL, steps=1, strength=1.0, **kw)


def test_draft_first_counts_the_thread_and_says_how_to_proceed(services):
    p = make_project(services, min_drafts=3)
    drafts = small_drafts(services, p.name, "a red fox", n=2).assets
    with pytest.raises(PolicyBlocked) as err:
        _promote(services, drafts[0].id)
    text = str(err.value)
    assert "draft-first: 2 of 3 drafts in this prompt thread" in text
    assert "draft 1 more" in text and '--override "REASON"' in text
    with services.db.read() as s:  # the blocked job left no row behind
        assert s.scalar(select(func.count()).select_from(GenerationRow).where(
            GenerationRow.stage == "final", GenerationRow.project_id == p.id)) == 0
    small_drafts(services, p.name, "a red fox", n=1, seed=7)
    final = _promote(services, drafts[0].id, prompt="a red fox, golden hour").assets[0]
    with services.db.read() as s:
        edited = s.get(PromptRow, final.prompt_id)
        repo = PolicyRepo(s)
        # the edited prompt joins the thread of the draft it came from
        assert edited.parent_id == drafts[0].prompt_id
        assert repo.thread_prompt_ids(drafts[0].prompt_id) == {drafts[0].prompt_id, edited.id}
        assert repo.drafts_in_thread(edited.id) == 3
        assert repo.finals_in_thread(drafts[0].prompt_id) == 1


def test_an_override_needs_a_lead_and_a_reason_and_is_audited(services):
    p = make_project(services, min_drafts=10)
    d = small_drafts(services, p.name, n=1).assets[0]
    with pytest.raises(PermissionDenied, match="designer"):
        _promote(services, d.id, override={"user": "dee", "role": "designer", "reason": "deadline"})
    with pytest.raises(PermissionDenied):
        _promote(services, d.id, override={"user": "dee", "reason": "no role given"})
    with pytest.raises(InvalidInput, match="reason"):
        _promote(services, d.id, override={"user": "lea", "role": "lead", "reason": " "})
    assert uc.audit_log(services, p.name) == []
    final = _promote(services, d.id, override={"user": "lea", "role": "lead", "reason": "client call at 3"})
    [line] = uc.audit_log(services, p.name)
    assert line["action"] == "policy.override" and line["user_id"] == "lea" and line["reason"] == "client call at 3"
    assert line["detail"]["rules"] == ["draft-first"] and line["detail"]["drafts_in_thread"] == 1
    assert line["detail"]["target_id"] == final.generation_id


def test_the_final_cap_counts_per_milestone(services):
    p = make_project(services, final_cap=1)
    with services.db.transaction() as s:
        ProjectsRepo(s).milestone(p.id, "m1", create=True)
        ProjectsRepo(s).milestone(p.id, "m2", create=True)
    d = small_drafts(services, p.name, n=1).assets[0]
    _promote(services, d.id, milestone="m1")
    with pytest.raises(PolicyBlocked, match="final cap: 1 of 1 finals used in milestone"):
        _promote(services, d.id, milestone="m1")
    _promote(services, d.id, milestone="m2")  # another milestone has its own cap
    # no milestone named: it counts against the current one (m2, the newest open), so the cap holds
    with pytest.raises(PolicyBlocked, match="milestone 'm2'") as blocked:
        _promote(services, d.id)
    assert blocked.value.field == "final_cap"
    uc.set_policy(services, p.name, final_cap=2)
    _promote(services, d.id, milestone="m1")
    report = uc.project_report(services, p.name, "m1")
    assert report.finals == 2 and report.drafts == 0
