"""`report` and `dna` read the database: a seeded project whose numbers are worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tierflow.domain.errors import InvalidInput
from tierflow.domain.ids import new_id
from tierflow.guardrails import budget as uc
from tierflow.storage.tables import AssetRow, GenerationRow, ProjectRow, ReviewRow

from .conftest import make_project

T0 = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def seed(services, project_id: str, stage: str, engine: str, credits: float, started: float, finished: float,
         assets: list[dict], user: str = "u1") -> None:
    """One finished generation and its assets; each asset dict: created, review, and an optional review."""
    with services.db.transaction() as s:
        gen = GenerationRow(id=new_id("gen"), project_id=project_id, stage=stage, engine_id=engine, params={},
                            status="succeeded", credits=credits, outputs=len(assets), user_id=user,
                            created_at=at(started), started_at=at(started), finished_at=at(finished))
        s.add(gen)
        s.flush()
        for a in assets:
            row = AssetRow(id=new_id("ast"), project_id=project_id, generation_id=gen.id, stage=stage, kind="image",
                           format="png", width=64, height=64, sha256="0" * 64, size_bytes=1, seed=1,
                           engine_id=engine, prompt_text=a.get("prompt", "a fox"), params=a.get("params", {}),
                           review=a.get("review", "unreviewed"), tags=[], created_at=at(a["created"]))
            if "reviewed" in a:
                row.reviewed_at = at(a["reviewed"])
            s.add(row)
            s.flush()
            if "reviewed" in a:
                s.add(ReviewRow(id=new_id("rev"), asset_id=row.id, state=row.review, seconds=a["review_seconds"],
                                user_id=user, created_at=at(a["reviewed"])))


def test_report_numbers_on_a_seeded_project_match_the_hand_computation(services, tmp_path):
    p = make_project(services)
    with services.db.transaction() as s:
        s.get(ProjectRow, p.id).created_at = T0
    seed(services, p.id, "draft", "tiny-draft", 0.4, started=60, finished=62, assets=[
        {"created": 61, "review": "keep", "reviewed": 100, "review_seconds": 5},
        {"created": 62, "review": "keep", "reviewed": 110, "review_seconds": 5},
        {"created": 63, "review": "discard", "reviewed": 120, "review_seconds": 4},
        {"created": 64, "params": {"credits": 0.25}},  # a hosted output: the provider's credits count
    ])
    seed(services, p.id, "final", "tiny-final", 6.0, started=300, finished=306, assets=[
        {"created": 306, "review": "keep", "reviewed": 400, "review_seconds": 10},
    ])
    chart = tmp_path / "report.png"
    report = uc.project_report(services, p.name, chart=chart).to_dict()
    assert report["drafts"] == 4 and report["finals"] == 1 and report["draft_to_final_ratio"] == 4.0
    assert report["usable_rate"] == {"draft": 0.5, "final": 1.0}
    # draft credits: 3 × 0.4/4 + 0.25 reported; final 6 → 6.55 for 1 usable (non-draft) asset
    assert report["spend_by_tier"] == {"draft": pytest.approx(0.55), "final": 6.0}
    assert report["cost_per_usable_asset"]["credits"] == pytest.approx(6.55)
    # u1 is at the desk from the first render (61 s) to the last review (400 s): every gap < 10 min
    assert report["human_seconds"] == pytest.approx(339.0)
    assert report["cost_per_usable_asset"]["human_seconds"] == pytest.approx(339.0)
    # latency is per output: the batch's 2 s wall time shared by its 4 drafts (none recorded its own)
    assert report["latency"]["tiny-draft"]["p50"] == 0.5 and report["latency"]["tiny-final"]["p95"] == 6.0
    assert report["review_seconds"] == 24.0 and report["cost_per_usable_asset"]["review_seconds"] == 24.0
    assert report["time_to_first_draft_seconds"] == 61.0
    assert report["high_credit_discard_share"] == 0.0
    assert chart.stat().st_size > 1000 and chart.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(InvalidInput, match="png"):
        uc.project_report(services, p.name, chart=tmp_path / "report.jpg")


def test_dna_contrasts_kept_and_discarded_drafts_and_suggests_a_prompt(services):
    p = make_project(services)
    kept = ["a fox, golden hour, 35mm film", "a fox in snow, golden hour, soft light", "a fox, golden hour, 35mm film"]
    binned = ["a fox, neon, blurry", "a fox in snow, neon, flat", "a fox, blurry, neon"]
    seed(services, p.id, "draft", "tiny-draft", 0.6, 0, 1, assets=(
        [{"created": i, "prompt": t, "review": "keep"} for i, t in enumerate(kept)]
        + [{"created": 10 + i, "prompt": t, "review": "discard"} for i, t in enumerate(binned)]))
    data = uc.prompt_dna(services, p.name)
    top = [t["term"] for t in data["positive"]]
    assert "golden hour" in top and "neon" in [t["term"] for t in data["negative"]]
    assert data["base_prompt"] == "a fox, golden hour, 35mm film"
    assert "golden hour" in data["suggested_prompt"] and "neon" not in data["suggested_prompt"]
    empty = make_project(services)
    with pytest.raises(InvalidInput, match="kept"):
        uc.prompt_dna(services, empty.name)
