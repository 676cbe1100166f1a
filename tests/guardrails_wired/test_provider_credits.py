"""A hosted render is quoted before it runs and charged what the provider reported afterwards."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tierflow.domain.models import Stage
from tierflow.domain.pricing import PriceTable
from tierflow.engines.base import RenderRequest
from tierflow.engines.hosted.fakes import FakeFal
from tierflow.engines.hosted.fal import FalFluxEngine
from tierflow.engines.hosted.retry import RetryPolicy
from tierflow.guardrails import budget as uc
from tierflow.guardrails.guard import LedgerGuard
from tierflow.stages.runner import RenderPlan, run_plan

from .conftest import make_project


def _plan(project_id: str, engine: FalFluxEngine, n: int) -> RenderPlan:
    request = RenderRequest(task="txt2img", prompt="a red fox", seeds=list(range(n)), width=256, height=256)
    return RenderPlan(project_id=project_id, stage=Stage.DRAFT, engine=engine, request=request)


def test_settle_commits_the_providers_reported_credits(services):
    p = make_project(services, budget=10.0)
    with FakeFal(key="k") as fake:
        engine = FalFluxEngine("fal-flux-schnell", key="k", base_url=fake.url,
                               retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02, timeout=2, total=5))
        plan = _plan(p.id, engine, 2)
        assert services.guard.quote(plan) == pytest.approx(engine.estimate_credits(plan.request))
        # An operator's price for this engine quotes high; what fal reports is what is charged.
        table = PriceTable.from_dict({"engines": {engine.id: {"base": 1.0, "per_unit": 0}}})
        result = run_plan(replace(services, guard=LedgerGuard(table)), plan)
    reported = sum(a.params["credits"] for a in result.assets)
    assert result.credits == 2.0 and reported == pytest.approx(2 * engine.credits_for_size(256, 256))
    status = uc.budget_status(services, p.name)
    assert status["spent"] == pytest.approx(reported) and status["reserved"] == 0
    assert status["remaining"] == pytest.approx(10.0 - reported)
    assert uc.project_report(services, p.name).total_credits == pytest.approx(reported)


def test_price_info_names_the_source_of_every_price(services):
    guard = LedgerGuard(PriceTable())
    info = guard.price_info(services.engines.get("tiny-draft"))
    assert info["source"] == "tier rate" and info["per_unit"] == 1.0
    assert info["example"]["credits"] == pytest.approx(0.5 * 0.5 * 2)  # 512² at 2 steps
    fal = guard.price_info(FalFluxEngine("fal-flux-schnell"))
    assert fal["source"] == "provider estimate" and fal["example"]["credits"] > 0
