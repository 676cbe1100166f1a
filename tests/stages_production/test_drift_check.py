"""drift-check: saved prompt + seed pairs re-rendered and compared; nothing is stored."""

from __future__ import annotations

import pytest

from tierflow.domain.errors import InvalidInput, NotFound
from tierflow.stages.draft import draft
from tierflow.stages.promote import promote
from tierflow.stages.review import review
from tierflow.stages.drift_check import drift_check
from tierflow.storage.assets_repo import AssetsRepo


def _asset_count(services) -> int:
    with services.db.read() as s:
        return AssetsRepo(s).count()


def test_unchanged_engines_reproduce_kept_drafts_and_finals(services, project):
    drafts = draft(services, project.id, "a red fox", n=3, seed=11, size="64x64").assets
    review(services, drafts[0].id, "star", seconds=1)
    review(services, drafts[1].id, "discard", seconds=1)
    final = promote(services, drafts[0].id, strength=0.5, size="64x64").assets[0]
    review(services, final.id, "keep", seconds=1)
    stored = _asset_count(services)
    report = drift_check(services, project.name)
    assert {i["asset_id"] for i in report["items"]} == {drafts[0].id, final.id}  # kept/starred only
    assert report["checked"] == 2 and report["flagged"] == 0 and report["skipped"] == []
    for item in report["items"]:
        assert item["drift"]["overall"] == pytest.approx(0.0, abs=1e-6)
        assert item["versions_changed"] is False and item["size"] == [64, 64]
    assert _asset_count(services) == stored  # the re-renders are a check, not assets


def test_a_different_engine_is_flagged(services, project):
    d = draft(services, project.id, "a red fox", n=1, seed=11, size="64x64").assets[0]
    review(services, d.id, "keep", seconds=1)
    seen = []
    report = drift_check(services, project.id, engine="tiny-final", threshold=5,
                         on_item=lambda done, total, a: seen.append((done, total, a)))
    item = report["items"][0]
    assert report["flagged"] == 1 and item["flagged"] and item["drift"]["overall"] > 5
    assert item["versions_changed"] and item["current"]["engine_id"] == "tiny-final"
    assert seen == [(1, 1, d.id)]


def test_bad_arguments(services, project):
    with pytest.raises(InvalidInput) as e:
        drift_check(services, project.id, threshold=150)
    assert e.value.field == "threshold"
    with pytest.raises(InvalidInput) as e:
        drift_check(services, project.id, engine="no-such-engine")
    assert e.value.field == "engine"
    with pytest.raises(NotFound):
        drift_check(services, "no-such-project")
