"""LedgerGuard in the stage runner: quotes, reservations with the job row, commits, refunds, warnings."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tierflow.domain.errors import BudgetExhausted, Cancelled, InvalidInput
from tierflow.domain.ledger import EntryKind
from tierflow.domain.models import JobStatus
from tierflow.domain.pricing import DEFAULT_PRICES
from tierflow.guardrails import budget as uc
from tierflow.guardrails.guard import LedgerGuard
from tierflow.stages.draft import plan_draft
from tierflow.stages.promote import plan_promote
from tierflow.stages.runner import run_plan
from tierflow.storage.tables import AssetRow, GenerationRow, LedgerEntryRow

from .conftest import SMALL, make_project, small_drafts

MP_64 = 64 * 64 / 1024**2  # 0.00390625 megapixels


def approx(value):
    return pytest.approx(value, abs=2e-6)  # prices are rounded to 6 digits


def test_quotes_follow_the_price_table_and_img2img_runs_steps_times_strength(services):
    p = make_project(services)
    plan = plan_draft(services, p.name, "a fox", n=3, size=SMALL, steps=2)
    assert services.guard.quote(plan) == approx(3 * 1.0 * MP_64 * 2)  # draft rate 1 per MP·step
    d = small_drafts(services, p.name).assets[0]
    promo = plan_promote(services, d.id, size=SMALL, steps=4, strength=0.5)
    promo.request = promo.engine.prepare(promo.request)
    assert services.guard.quote(promo) == approx(2.0 * MP_64 * 2)  # int(4 × 0.5) = 2 steps run
    assert services.guard.quote(promo) == DEFAULT_PRICES.price("tiny-final", "final", "img2img", 64, 64, 2)


def test_prices_json_in_the_home_overrides_the_table_and_a_broken_one_is_a_clear_error(services, home):
    # ``home`` is this test's own TIERFLOW_HOME: LedgerGuard() with no arguments reads its prices.json
    p = make_project(services)
    (home / "prices.json").write_text(json.dumps({"engines": {"tiny-draft": {"base": 5, "per_unit": 0}}}))
    plan = plan_draft(services, p.name, "a fox", n=2, size=SMALL, steps=1)
    assert LedgerGuard().quote(plan) == 10.0
    info = LedgerGuard().price_info(plan.engine)
    assert info["source"] == "engine rate" and info["example"]["credits"] == 5.0
    (home / "prices.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="prices.json"):
        LedgerGuard().quote(plan)
    (home / "prices.json").write_text(json.dumps({"tiers": {"draft": {"per_unit": -1}}}))
    with pytest.raises(InvalidInput, match="per_unit"):
        LedgerGuard().quote(plan)


def test_a_project_without_budget_is_unlimited_but_counted(services):
    p = make_project(services)
    result = small_drafts(services, p.name, n=2)
    status = uc.budget_status(services, p.name)
    assert status["unlimited"] is True and status["remaining"] is None
    assert status["spent"] == approx(result.credits) and status["reserved"] == 0
    assert result.credits == approx(2 * MP_64)
    workspace = uc.budget_status(services, p.name, scope="workspace")
    assert workspace["spent"] == approx(result.credits)


def test_success_commits_and_the_balance_is_derived_from_the_ledger(services):
    p = make_project(services, budget=1.0)
    result = small_drafts(services, p.name, n=2)
    status = uc.budget_status(services, p.name)
    assert status["granted"] == 1.0 and status["spent"] == approx(result.credits)
    assert status["remaining"] == approx(1.0 - result.credits) and status["reserved"] == 0
    with services.db.read() as s:
        kinds = sorted(s.scalars(select(LedgerEntryRow.kind).where(LedgerEntryRow.scope_id == p.id)))
        gen = s.get(GenerationRow, result.generation_id)
    assert kinds == ["commit", "grant", "reserve"]
    assert gen.reservation_id and gen.credits == approx(result.credits)


def test_an_exhausted_budget_refuses_before_any_row_or_render(services):
    p = make_project(services, budget=0.001)
    with pytest.raises(BudgetExhausted) as err:
        small_drafts(services, p.name, n=1)
    assert "project" in str(err.value) and "0" in str(err.value)
    assert f"tierflow budget -p {p.name} --grant N" in str(err.value)
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(GenerationRow).where(GenerationRow.project_id == p.id)) == 0
        assert s.scalar(select(func.count()).select_from(AssetRow).where(AssetRow.project_id == p.id)) == 0
        assert s.scalar(select(func.count()).select_from(LedgerEntryRow).where(
            LedgerEntryRow.kind == EntryKind.RESERVE.value, LedgerEntryRow.scope_id == p.id)) == 0


def test_a_cancelled_render_refunds_its_whole_reservation(services):
    p = make_project(services, budget=1.0)
    plan = plan_draft(services, p.name, "a fox", n=2, size=SMALL, steps=1)
    plan.request.cancel.set()
    with pytest.raises(Cancelled):
        run_plan(services, plan)
    status = uc.budget_status(services, p.name)
    assert status["remaining"] == 1.0 and status["spent"] == 0 and status["reserved"] == 0
    with services.db.read() as s:
        gen = s.scalars(select(GenerationRow).where(GenerationRow.project_id == p.id)).one()
        kinds = set(s.scalars(select(LedgerEntryRow.kind).where(LedgerEntryRow.reservation_id == gen.reservation_id)))
    assert gen.status == JobStatus.CANCELLED.value and kinds == {"reserve", "refund"}


def test_low_credit_warning_when_remaining_falls_under_the_threshold(services):
    cost = 2 * MP_64
    p = make_project(services, budget=cost * 1.05)  # after one batch: under 10% left
    result = small_drafts(services, p.name, n=2)
    assert any("low credits" in w for w in result.warnings), result.warnings
    status = uc.budget_status(services, p.name)
    assert any("low credits" in w for w in status["warnings"])
    uc.set_policy(services, p.name, low_credit_threshold=0.01)
    assert not any("low credits" in w for w in uc.budget_status(services, p.name)["warnings"])


def test_workspace_milestone_and_daily_limits_each_bind(services):
    p = make_project(services)
    with services.db.transaction() as s:
        from tierflow.storage.projects_repo import ProjectsRepo

        ProjectsRepo(s).milestone(p.id, "launch", create=True)
    uc.grant(services, p.name, 0.001, milestone="launch")
    with pytest.raises(BudgetExhausted, match="milestone 'launch' of .* --milestone launch --grant N"):
        small_drafts(services, p.name, milestone="launch")
    with pytest.raises(BudgetExhausted, match="milestone 'launch'"):
        small_drafts(services, p.name)  # naming no milestone: it counts against the current one
    uc.close_milestone(services, p.name, "launch", user_id="lead", reason="shipped")
    small_drafts(services, p.name)  # no open milestone: only the project counts, and it is unlimited

    uc.set_daily_limit(services, p.name, "ana", 0.001)
    with pytest.raises(BudgetExhausted, match="daily limit resets"):
        small_drafts(services, p.name, user_id="ana")
    small_drafts(services, p.name, user_id="ben")
    today = uc.budget_status(services, p.name, user="ben")
    assert today["scope"] == "user-day" and today["unlimited"] and today["spent"] == approx(MP_64)

    uc.grant(services, p.name, 0.001, scope="workspace")
    with pytest.raises(BudgetExhausted, match="--workspace --grant N"):
        small_drafts(services, p.name)


def test_bad_grants_and_policies_are_clear_errors(services):
    p = make_project(services)
    for amount in (-5, 0, float("nan")):
        with pytest.raises(InvalidInput, match="grant"):
            uc.grant(services, p.name, amount)
    from tierflow.domain.errors import NotFound, PermissionDenied

    with pytest.raises(NotFound, match="milestone"):
        uc.grant(services, p.name, 10, milestone="nope")
    with pytest.raises(InvalidInput, match="final_cap"):
        uc.set_policy(services, p.name, final_cap=-1)
    with pytest.raises(PermissionDenied):
        uc.grant(services, p.name, 10, role="designer")
    with pytest.raises(PermissionDenied):
        uc.set_policy(services, p.name, final_cap=3, role="designer")
    assert uc.set_policy(services, p.name, final_cap=3)["policy"]["final_cap"] == 3
    assert uc.set_policy(services, p.name, final_cap=None)["policy"]["final_cap"] is None
    actions = [r["action"] for r in uc.audit_log(services, p.name)]
    assert actions == ["policy.change", "policy.change"]
