"""Policies: draft-first, the final cap, overrides by leads only, validation of settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tierflow.domain.errors import InvalidInput, PermissionDenied, PolicyBlocked
from tierflow.domain.models import Role
from tierflow.domain.policies import (
    RULE_DRAFT_FIRST,
    RULE_FINAL_CAP,
    Override,
    ProjectPolicy,
    check_can_edit_policy,
    check_final_allowed,
    override_audit,
)


def test_draft_first_blocks_with_the_count_and_the_ways_forward():
    with pytest.raises(PolicyBlocked) as err:
        check_final_allowed(ProjectPolicy(), drafts_in_thread=7, finals_in_milestone=0)
    text = str(err.value)
    assert "7 of 10 drafts" in text
    assert "draft 3 more" in text
    assert '--override "REASON"' in text and '"override_reason"' in text  # the CLI's and REST's words
    assert err.value.field == "min_drafts"


def test_final_cap_block_names_the_field_the_milestone_and_commands_that_run():
    with pytest.raises(PolicyBlocked) as err:
        check_final_allowed(ProjectPolicy(min_drafts=0, final_cap=2), 5, finals_in_milestone=2,
                            milestone="main", project="Tiny budget")
    assert err.value.field == "final_cap"
    assert "final cap: 2 of 2 finals used in milestone 'main'" in err.value.message
    assert "`tierflow policy -p 'Tiny budget' --final-cap 3`" in err.value.fix
    assert "`tierflow milestone create NAME -p 'Tiny budget'`" in err.value.fix
    assert err.value.exit_code == 4


def test_enough_drafts_or_a_final_already_in_the_thread_passes():
    assert check_final_allowed(ProjectPolicy(), drafts_in_thread=10, finals_in_milestone=0) == []
    assert check_final_allowed(ProjectPolicy(), drafts_in_thread=2, finals_in_milestone=0, finals_in_thread=1) == []
    assert check_final_allowed(ProjectPolicy(min_drafts=0), drafts_in_thread=0, finals_in_milestone=0) == []


def test_final_cap_counts_the_requested_finals():
    policy = ProjectPolicy(min_drafts=0, final_cap=5)
    assert check_final_allowed(policy, 0, finals_in_milestone=4) == []
    with pytest.raises(PolicyBlocked, match="5 of 5 finals used in this milestone"):
        check_final_allowed(policy, 0, finals_in_milestone=5)
    with pytest.raises(PolicyBlocked, match="3 of 5 finals used in this milestone, 3 more requested"):
        check_final_allowed(policy, 0, finals_in_milestone=3, count=3)
    # no milestone: the per-milestone cap does not apply
    assert check_final_allowed(policy, 0, finals_in_milestone=None) == []


def test_both_rules_are_reported_together():
    with pytest.raises(PolicyBlocked) as err:
        check_final_allowed(ProjectPolicy(final_cap=0), drafts_in_thread=1, finals_in_milestone=0)
    assert "1 of 10 drafts" in err.value.message and "0 of 0 finals" in err.value.message


def test_a_lead_override_lifts_the_block_and_is_audited():
    lead = Override("usr_00lead", Role.LEAD, "client deadline, thread was explored in another project")
    rules = check_final_allowed(ProjectPolicy(final_cap=1), 3, finals_in_milestone=1, override=lead)
    assert rules == [RULE_DRAFT_FIRST, RULE_FINAL_CAP]
    now = datetime(2025, 3, 1, tzinfo=UTC)
    record = override_audit(lead, rules, project_id="prj_000001", target_id="ast_000001", now=now)
    data = record.to_dict()
    assert data["action"] == "policy.override"
    assert data["user_id"] == "usr_00lead"
    assert data["detail"] == {"role": "lead", "rules": ["draft-first", "final-cap"], "target_id": "ast_000001"}
    assert data["reason"].startswith("client deadline")
    assert data["created_at"] == "2025-03-01T00:00:00+00:00"
    # an override with nothing to lift lifts nothing (no audit needed)
    assert check_final_allowed(ProjectPolicy(), 10, 0, override=lead) == []


def test_only_leads_and_admins_override_and_a_reason_is_required():
    Override("usr_00admn", "admin", "ok")
    with pytest.raises(PermissionDenied, match="designer cannot override"):
        Override("usr_0desig", Role.DESIGNER, "please")
    with pytest.raises(InvalidInput) as err:
        Override("usr_00lead", Role.LEAD, "   ")
    assert err.value.field == "reason"
    with pytest.raises(InvalidInput) as err:
        Override("usr_00lead", "boss", "why")
    assert err.value.field == "role"
    with pytest.raises(PermissionDenied):
        check_can_edit_policy("designer")
    check_can_edit_policy(Role.LEAD)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"final_cap": -1}, "final_cap"),
        ({"final_cap": 2.5}, "final_cap"),
        ({"min_drafts": -3}, "min_drafts"),
        ({"min_drafts": True}, "min_drafts"),
        ({"low_credit_threshold": 1.5}, "low_credit_threshold"),
        ({"max_finals": 3}, "policy"),
    ],
)
def test_bad_policy_values_name_the_field(settings, field):
    with pytest.raises(InvalidInput) as err:
        ProjectPolicy.from_dict(settings)
    assert err.value.field == field


def test_policy_round_trips_and_counts_are_validated():
    policy = ProjectPolicy(min_drafts=5, final_cap=3, low_credit_threshold=0.2)
    assert ProjectPolicy.from_dict(policy.to_dict()) == policy
    with pytest.raises(InvalidInput) as err:
        check_final_allowed(policy, -1, 0)
    assert err.value.field == "drafts_in_thread"
    with pytest.raises(InvalidInput) as err:
        check_final_allowed(policy, 5, 0, count=0)
    assert err.value.field == "count"
