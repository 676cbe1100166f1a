"""Metrics on a seeded project whose every number is worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.domain.metrics import percentile, project_report, render_chart

DESIGNER = "usr_0000aa"
LEAD = "usr_0000bb"
STARTED = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(hh, mm, ss=0, day=1):
    return datetime(2025, 3, day, hh, mm, ss, tzinfo=UTC)


def seeded_project():
    """30 drafts in three batches of 10 (day 1), 3 finals (day 2).

    Drafts: batch A kept 4 + starred 2, discarded 4; batch B all discarded; batch C 6 discarded,
    4 never reviewed → 6 usable of 30. Finals: keep, star, discard → 2 usable of 3.
    Credits: 1 per draft, 60 per final. Draft k (0..29) took 0.1·(k+1) s; finals 3.0, 2.8, 3.4 s.
    """
    assets = []
    batches = [(at(9, 10), at(9, 11)), (at(9, 20), at(9, 21)), (at(10, 0), at(10, 1))]
    states = [["keep"] * 4 + ["star"] * 2 + ["discard"] * 4, ["discard"] * 10, ["discard"] * 6 + [None] * 4]
    for b, ((made, reviews), review_states) in enumerate(zip(batches, states)):
        for i, state in enumerate(review_states):
            k = 10 * b + i
            asset = {
                "stage": "draft",
                "engine_id": "sd-turbo",
                "credits": 1.0,
                "seconds": round(0.1 * (k + 1), 1),
                "created_at": made + timedelta(seconds=2 * i),  # a batch streams in over 18 s
                "user_id": DESIGNER,
            }
            if state:  # reviews of a batch follow each other, 3 s each, from a minute after it started
                asset.update(review=state, reviewed_at=reviews + timedelta(seconds=3 * (i + 1)), review_seconds=3)
            assets.append(asset)
    for i, (state, seconds) in enumerate(zip(["keep", "star", "discard"], [3.0, 2.8, 3.4])):
        assets.append({
            "stage": "final",
            "engine_id": "sdxl",
            "credits": 60.0,
            "seconds": seconds,
            "created_at": at(14, 0, 5 * i, day=2).isoformat(),  # ISO strings are accepted too
            "review": state,
            "reviewed_at": at(14, 1, 10 * (i + 1), day=2),
            "review_seconds": 10,
            "user_id": DESIGNER,
        })
    return assets


def test_seeded_project_numbers():
    report = project_report(seeded_project(), started_at=STARTED)
    assert (report.drafts, report.finals) == (30, 3)
    assert report.draft_to_final_ratio == 10.0
    assert report.usable_rate == {"draft": pytest.approx(6 / 30), "final": pytest.approx(2 / 3)}
    assert report.counts["draft"] == {"made": 30, "usable": 6, "discarded": 20, "unreviewed": 4}
    assert report.spend_by_tier == {"draft": 30.0, "final": 180.0}
    # 30·1 + 3·60 = 210 credits over the 2 usable finals (drafts are the means, not the product)
    assert report.total_credits == 210.0
    assert report.usable_assets == 2
    assert report.cost_per_usable_asset["credits"] == 105.0
    # finals' median is 60: the 3 finals are the high-credit renders and 1 was discarded
    assert report.high_credit_threshold == 60.0
    assert report.high_credit_discard_share == pytest.approx(1 / 3)
    # sd-turbo 0.1..3.0: p50 at rank 14.5 → (1.5+1.6)/2; p95 at rank 27.55 → 2.8 + .55·0.1
    # sdxl sorted 2.8, 3.0, 3.4: p50 = 3.0; p95 at rank 1.9 → 3.0 + .9·0.4
    assert report.latency == {
        "sd-turbo": {"n": 30, "p50": pytest.approx(1.55), "p95": pytest.approx(2.855)},
        "sdxl": {"n": 3, "p50": pytest.approx(3.0), "p95": pytest.approx(3.36)},
    }
    assert report.time_to_first_draft_seconds == 600.0  # 09:00 → 09:10
    assert report.ratio_over_time == [
        {"day": "2025-03-01", "drafts": 30, "finals": 0, "ratio": None},
        {"day": "2025-03-02", "drafts": 30, "finals": 3, "ratio": 10.0},
    ]
    # Human time, one person, idle cutoff 600 s:
    #   09:10:00–09:11:30  batch A 18 s, 42 s to the first review, 10 reviews × 3 s = 90 s
    #   09:11:30–09:20:00  510 s between reviewing A and batch B: under the cutoff, counted
    #   09:20:00–09:21:30  batch B, same shape                                          = 90 s
    #   09:21:30–10:00:00  38.5 min: away, not counted
    #   10:00:00–10:01:18  batch C 18 s, 42 s, 6 reviews × 3 s                         = 78 s
    #   14:00:00–14:01:30  finals 10 s, 50 s, 3 reviews × 10 s (day 2)                  = 90 s
    assert report.human_seconds == 90 + 510 + 90 + 78 + 90
    assert report.cost_per_usable_asset["human_seconds"] == 858 / 2
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("4 of 33 assets are unreviewed and count as not usable")


def test_idle_cutoff_and_people_are_kept_apart():
    assert project_report(seeded_project(), idle_cutoff_seconds=300).human_seconds == 858 - 510
    assets = seeded_project()
    for a in assets[30:]:
        a["reviewer_id"] = LEAD  # the lead reviews the finals: the 50 s gap joins two people, not counted
    assert project_report(assets).human_seconds == 858 - 50


def test_to_dict_has_the_plain_keys():
    data = project_report(seeded_project(), started_at=STARTED.isoformat()).to_dict()
    for key in (
        "draft_to_final_ratio",
        "usable_rate",
        "cost_per_usable_asset",
        "high_credit_discard_share",
        "latency",
        "time_to_first_draft_seconds",
        "warnings",
    ):
        assert key in data
    cost = data["cost_per_usable_asset"]
    assert {k: cost[k] for k in ("credits", "human_seconds")} == {"credits": 105.0, "human_seconds": 429.0}
    assert cost["review_seconds"] == data["review_seconds"] / data["usable_assets"]
    assert data["time_to_first_draft_seconds"] == 600.0


def _project(drafts, finals):
    day = at(10, 0)
    return [{"stage": "draft", "created_at": day, "review": "discard"}] * drafts + [
        {"stage": "final", "created_at": day, "review": "keep", "credits": 60}
    ] * finals


def test_ratio_band_warnings():
    low = project_report(_project(2, 1))
    assert low.draft_to_final_ratio == 2.0
    assert "below 3:1 — not exploring" in low.warnings[0]
    high = project_report(_project(301, 1))
    assert "above 300:1 — prompts too vague" in high.warnings[0]
    assert project_report(_project(30, 1)).warnings == []
    assert "above 5:1" in project_report(_project(30, 3), band=(1, 5)).warnings[0]
    none_yet = project_report(_project(5, 0))
    assert none_yet.draft_to_final_ratio is None and none_yet.high_credit_discard_share is None
    assert none_yet.cost_per_usable_asset == {"credits": None, "human_seconds": None, "review_seconds": None}


def test_percentile_matches_linear_interpolation():
    assert percentile([1.0], 95) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0, 20.0], 95) == pytest.approx(19.5)


def test_bad_records_and_settings_name_the_field():
    with pytest.raises(InvalidInput) as err:
        project_report([{"stage": "sketch", "created_at": STARTED}])
    assert err.value.field == "assets[0].stage"
    with pytest.raises(InvalidInput) as err:
        project_report([{"stage": "draft", "created_at": STARTED, "review": "maybe"}])
    assert err.value.field == "assets[0].review"
    with pytest.raises(InvalidInput) as err:
        project_report([{"stage": "draft"}])
    assert err.value.field == "assets[0].created_at"
    with pytest.raises(InvalidInput) as err:
        project_report([{"stage": "draft", "created_at": "yesterday"}])
    assert err.value.field == "assets[0].created_at"
    with pytest.raises(InvalidInput) as err:
        project_report([{"stage": "draft", "created_at": STARTED, "credits": -1}])
    assert err.value.field == "assets[0].credits"
    with pytest.raises(InvalidInput) as err:
        project_report([], band=(300, 3))
    assert err.value.field == "band"


def test_render_chart_writes_a_three_panel_png(tmp_path):
    path = render_chart(project_report(seeded_project()), tmp_path / "charts" / "report.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (1300, 400)
        assert len(image.convert("RGB").getcolors(maxcolors=1_000_000)) > 10  # something was drawn
    with pytest.raises(InvalidInput) as err:
        render_chart(project_report([]), tmp_path / "report.svg")
    assert err.value.field == "chart"
    render_chart(project_report([]), tmp_path / "empty.png")  # an empty project still charts


def test_every_review_of_an_asset_counts_once_in_review_seconds_and_human_time():
    base = {"stage": "final", "created_at": at(10, 0), "review": "keep", "user_id": "ann"}
    twice = {**base, "reviews": [{"at": at(10, 1), "seconds": 5.0, "user_id": "bo"},
                                 {"at": at(10, 30), "seconds": 3.2, "user_id": "bo"}]}
    report = project_report([twice])
    assert report.review_seconds == 8.2
    assert report.cost_per_usable_asset["review_seconds"] == 8.2
    # bo's two reviews are 29 min apart (time away), ann only made the asset: 8.2 s of human time
    assert report.human_seconds == 8.2
    latest_only = project_report([{**base, "reviewed_at": at(10, 30), "review_seconds": 3.2, "reviewer_id": "bo"}])
    assert latest_only.review_seconds == 3.2
