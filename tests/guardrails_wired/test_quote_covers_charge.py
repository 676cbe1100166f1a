"""A usage-priced render is never charged more than it was quoted: the Gemini estimate counts every
input it sends (prompt, "Avoid:" line, reference image) and the image tokens billed per model and size."""

from __future__ import annotations

import pytest

from tierflow.bootstrap import build
from tierflow.config import Settings
from tierflow.engines.hosted.fakes import FakeGemini
from tierflow.guardrails import budget as uc
from tierflow.guardrails.guard import LedgerGuard
from tierflow.stages.draft import draft
from tierflow.stages.promote import plan_promote
from tierflow.stages.runner import run_plan

from .conftest import make_project

LONG = ("a lighthouse on a basalt cliff at dusk, volumetric fog, sodium lamps, wet cobblestones, "
        "an old keeper with a lantern, gulls, cinematic light, 35mm, muted teal and amber palette")


@pytest.fixture()
def hosted(home, models_dir, monkeypatch):
    """Services whose Gemini engines talk to the loopback fake, with the ledger guard."""
    with FakeGemini(api_key="test-key") as fake:
        monkeypatch.setenv("GEMINI_API_KEY", "test-key")
        monkeypatch.setenv("TIERFLOW_GEMINI_BASE_URL", fake.url)
        svc = build(Settings(home=home, preset="tiny", models_path=models_dir), guard=LedgerGuard(home=home))
        yield svc
        svc.close()


def test_promoting_a_gemini_draft_to_3_pro_costs_no_more_than_its_quote(hosted):
    p = make_project(hosted, budget=500.0)
    drafted = draft(hosted, p.name, LONG, n=1, seed=3, engine="gemini-2.5-flash-image", negative="text, watermark")
    assert drafted.credits > 0
    [d] = drafted.assets
    plan = plan_promote(hosted, d.id, engine="gemini-3-pro-image", size="2048x2048")
    quote = hosted.guard.quote(plan)
    result = run_plan(hosted, plan)
    charged = sum(a.params["credits"] for a in result.assets)
    assert charged > 0 and charged <= quote, (quote, charged)
    status = uc.budget_status(hosted, p.name)
    drafted_charge = sum(a.params["credits"] for a in drafted.assets)
    assert status["reserved"] == 0 and status["spent"] == pytest.approx(drafted_charge + charged)  # no top-up


@pytest.mark.parametrize(("engine", "size"), [("gemini-2.5-flash-image", "1024x1024"),
                                               ("gemini-3-pro-image", "1024x1024"),
                                               ("gemini-3-pro-image", "4096x4096")])
def test_every_draft_quote_covers_its_charge(hosted, engine, size):
    p = make_project(hosted, budget=500.0)
    from tierflow.stages.draft import plan_draft

    plan = plan_draft(hosted, p.name, LONG, n=2, seed=5, engine=engine, size=size, negative="blurry")
    quote = hosted.guard.quote(plan)
    result = run_plan(hosted, plan)
    charged = sum(a.params["credits"] for a in result.assets)
    assert 0 < charged <= quote, (quote, charged)
