"""Image-to-video as a stage: an MP4 child asset with frame drift and flicker; videos are refused early."""

from __future__ import annotations

import pytest

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Stage, Tier
from tierflow.stages.video import frames_for, plan_video, video
from tests.stages_production.helpers import generation_count


@pytest.fixture()
def clip(services, kept):
    return video(services, kept.id, "the waves roll in", frames=5, fps=8, seed=1)


def test_video_is_an_mp4_child_with_frame_drift_and_flicker(services, kept, clip):
    asset = clip.assets[0]
    assert asset.stage == Stage.VIDEO and asset.kind == "video" and asset.format == "mp4"
    assert asset.parent_ids == [kept.id] and (asset.width, asset.height) == (64, 64)
    data = services.blobs.get(asset.sha256, "mp4")
    assert data[4:8] == b"ftyp"
    p = asset.params
    assert p["frames"] == 5 and p["fps"] == 8 and p["seconds"] == pytest.approx(5 / 8)
    drift = p["frame_drift"]
    assert len(drift["per_frame"]) == 5 and drift["max"] == max(drift["per_frame"])
    assert min(drift["per_frame"]) <= drift["mean"] <= drift["max"] and drift["label"] in ("close", "moderate", "far")
    flicker = p["flicker"]
    assert len(flicker["per_cut"]) == 4 and flicker["max"] == max(flicker["per_cut"]) > 0
    assert clip.credits > 0


def test_a_video_of_a_video_is_refused_before_anything_is_reserved(services, clip):
    rows = generation_count(services)
    with pytest.raises(InvalidInput) as e:
        plan_video(services, clip.assets[0].id, "more waves", frames=5)
    assert e.value.field == "asset" and "video" in str(e.value)
    assert generation_count(services) == rows


def test_seconds_become_the_nearest_valid_frame_count(services):
    eng = services.engines.for_tier(Tier.VIDEO)
    assert frames_for(eng, 0.5, 8) == 5  # 4 frames asked; Wan renders 4k+1
    assert frames_for(eng, 1.0, 8) == 9
    with pytest.raises(InvalidInput) as e:
        frames_for(eng, 20.0, 24)  # 480 frames: over the engine's maximum
    assert e.value.field == "seconds" and "fps" in e.value.fix
    with pytest.raises(InvalidInput):
        frames_for(eng, 0, 24)


def test_bad_lengths_are_refused(services, kept):
    with pytest.raises(InvalidInput) as e:
        plan_video(services, kept.id, "waves", seconds=1.0, frames=5)
    assert e.value.field == "seconds"
    with pytest.raises(InvalidInput) as e:
        plan_video(services, kept.id, "waves", frames=6)
    assert e.value.field == "frames" and "4k+1" in e.value.fix
    with pytest.raises(InvalidInput) as e:
        plan_video(services, kept.id, "", frames=5)
    assert e.value.field == "prompt"
