"""The dashboard's spend-over-time series: credits per UTC day and the running total."""

from __future__ import annotations

from tests.guardrails.test_metrics import seeded_project
from tierflow.domain.metrics import project_report


def test_spend_per_day_and_running_total():
    report = project_report(seeded_project())
    assert report.spend_over_time == [
        {"day": "2025-03-01", "credits": 30.0, "total": 30.0},  # 30 drafts at 1 credit
        {"day": "2025-03-02", "credits": 180.0, "total": 210.0},  # 3 finals at 60
    ]
    assert report.to_dict()["spend_over_time"] == report.spend_over_time
    assert report.spend_over_time[-1]["total"] == report.total_credits
