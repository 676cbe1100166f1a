"""The tiered loop on real storage and real (tiny) diffusers pipelines."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from tierflow.domain.errors import EngineFailed, InvalidInput, NotFound
from tierflow.domain.ids import variation_seed
from tierflow.domain.models import JobStatus, ReviewState, Stage
from tierflow.stages.draft import draft
from tierflow.stages.promote import promote
from tierflow.stages.review import review
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.tables import AssetRow, GenerationRow

SMALL = "64x64"


def test_draft_seeds_derive_from_the_base_seed_and_stream_one_by_one(services, project):
    events = []
    result = draft(services, project.name, "a red fox", n=3, seed=42, size=SMALL, on_event=events.append)
    assert [a.seed for a in result.assets] == [variation_seed(42, i) for i in range(3)]
    assert result.assets[0].seed == 42
    kinds = [e.kind for e in events]
    # each asset is reported before the next one's progress starts: streamed, not batched
    first_asset = kinds.index("asset")
    assert "progress" in kinds[first_asset + 1:], kinds
    assert kinds[0] == "started" and kinds[-1] == "finished"
    for a in result.assets:
        assert (a.width, a.height) == (64, 64)
        assert a.format == "jpg" and services.blobs.exists(a.sha256, "jpg")  # a preview; PNG once kept
        assert a.params["base_seed"] == 42 and a.params["engine_id"] == "tiny-draft"
        assert a.params["libraries"]["diffusers"]


def test_same_prompt_seed_and_size_give_identical_pixels(services, project):
    a = draft(services, project.id, "a red fox", n=1, seed=5, size=SMALL).assets[0]
    b = draft(services, project.id, "a red fox", n=1, seed=5, size=SMALL).assets[0]
    pa = np.asarray(Image.open(io.BytesIO(services.blobs.get(a.sha256, a.format))))
    pb = np.asarray(Image.open(io.BytesIO(services.blobs.get(b.sha256, b.format))))
    assert np.array_equal(pa, pb)


def test_promote_records_the_draft_as_parent_and_reuses_its_seed(services, project):
    d = draft(services, project.id, "a lighthouse", n=2, seed=9, size=SMALL).assets[1]
    review(services, d.id, "keep", seconds=3)
    final = promote(services, d.id, strength=0.5, size="64x64").assets[0]
    assert final.stage == Stage.FINAL
    assert final.parent_ids == [d.id]
    assert final.seed == d.seed
    assert final.engine_id == "tiny-final"
    assert final.params["strength"] == 0.5 and final.params["promoted_from"] == d.id
    with services.db.read() as s:
        assert AssetsRepo(s).ancestors(final.id) == [d.id]


def test_promote_with_an_edited_prompt_continues_the_thread(services, project):
    d = draft(services, project.id, "a lighthouse", n=1, seed=9, size=SMALL).assets[0]
    final = promote(services, d.id, prompt="a lighthouse, golden hour", size="64x64").assets[0]
    assert final.prompt == "a lighthouse, golden hour"
    from tierflow.storage.tables import PromptRow

    with services.db.read() as s:
        row = s.get(PromptRow, final.prompt_id)
        assert row.parent_id == d.prompt_id


def test_review_records_state_and_time(services, project):
    d = draft(services, project.id, "a fox", n=1, seed=1, size=SMALL).assets[0]
    updated = review(services, d.id, ReviewState.STAR, seconds=2.5)
    assert updated.review == ReviewState.STAR
    with services.db.read() as s:
        reviews = AssetsRepo(s).reviews_of(d.id)
    assert [(r.state, r.seconds) for r in reviews] == [(ReviewState.STAR, 2.5)]
    measured = review(services, d.id, "keep")
    assert measured.review == ReviewState.KEEP


def test_discarded_draft_cannot_be_promoted(services, project):
    d = draft(services, project.id, "a fox", n=1, seed=1, size=SMALL).assets[0]
    review(services, d.id, "discard", seconds=1)
    with pytest.raises(InvalidInput) as e:
        promote(services, d.id)
    assert e.value.field == "asset" and "--keep" in str(e.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prompt": "   "}, "prompt"),
        ({"n": 0}, "n"),
        ({"n": 65}, "n"),
        ({"size": "10000x64"}, "size"),
        ({"size": "65x64"}, "size"),
        ({"size": "big"}, "size"),
        ({"seed": -1}, "seed"),
        ({"engine": "nope"}, "engine"),
    ],
)
def test_bad_draft_input_names_the_field_and_writes_nothing(services, project, kwargs, field):
    args = {"prompt": "a fox", "n": 1, "size": SMALL} | kwargs
    with pytest.raises(InvalidInput) as e:
        draft(services, project.id, args.pop("prompt"), **args)
    assert e.value.field == field
    assert e.value.fix
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(GenerationRow)) == 0
        assert s.scalar(select(func.count()).select_from(AssetRow)) == 0


def test_unknown_project_and_asset(services):
    with pytest.raises(NotFound) as e:
        draft(services, "nope", "a fox", n=1)
    assert e.value.field == "project"
    with pytest.raises(NotFound):
        promote(services, "ast_0123456789abcdef")
    with pytest.raises(InvalidInput) as e2:
        review(services, "../../etc/passwd", "keep")
    assert e2.value.field == "asset"


def test_a_promotion_too_weak_to_denoise_a_single_step_is_bad_input(services, project):
    kept = draft(services, project.id, "a fox", n=1, size=SMALL).assets[0]
    with services.db.read() as s:
        finals_before = s.scalar(select(func.count()).select_from(AssetRow))
    with pytest.raises(InvalidInput) as e:
        promote(services, kept.id, strength=0.2, steps=4)  # int(4 * 0.2) == 0 steps
    assert e.value.field == "strength" and "0.25" in e.value.fix
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AssetRow)) == finals_before
    assert promote(services, kept.id, strength=0.25, steps=4).assets[0].parent_ids == [kept.id]


def test_a_failing_render_leaves_no_asset_row_and_no_blob(services, project, monkeypatch):
    engine = services.engines.get("tiny-draft")
    original = engine.render

    def broken(request, progress=None):
        for i, out in enumerate(original(request, progress)):
            if i == 1:
                raise EngineFailed("the GPU fell over", field="engine")
            yield out

    monkeypatch.setattr(engine, "render", broken)
    before = set(services.blobs.all_blobs())
    with pytest.raises(EngineFailed):
        draft(services, project.id, "a fox", n=3, seed=3, size=SMALL)
    with services.db.read() as s:
        gen = s.scalars(select(GenerationRow)).one()
        assets = list(s.scalars(select(AssetRow)))
    assert gen.status == JobStatus.FAILED.value and "GPU fell over" in gen.error
    # the first output was finished and stored before the failure: it stays, the rest never existed
    assert len(assets) == 1 and gen.outputs == 1
    latent = assets[0].params["latent"]["sha256"]  # the stored draft's preview, its latent and its thumbnail
    assert set(services.blobs.all_blobs()) - before == {services.blobs.path_for(assets[0].sha256, "jpg"),
                                                        services.blobs.path_for(latent, "npy"),
                                                        services.blobs.path_for(assets[0].thumb_sha256, "webp")}


def test_a_row_that_cannot_be_written_removes_its_blob(services, project, monkeypatch):
    from tierflow.storage import assets_repo

    def refuse(self, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(assets_repo.AssetsRepo, "add", refuse)
    with pytest.raises(RuntimeError):
        draft(services, project.id, "a fox", n=1, seed=3, size=SMALL)
    assert services.blobs.all_blobs() == []
    with services.db.read() as s:
        assert s.scalars(select(GenerationRow)).one().status == JobStatus.FAILED.value


def test_jobs_left_running_by_a_dead_process_are_failed_at_start(services, project):
    from tierflow.stages.recovery import recover_stale_jobs
    from tierflow.storage.generations_repo import GenerationsRepo

    with services.db.transaction() as s:
        gen = GenerationsRepo(s).create(project_id=project.id, stage=Stage.DRAFT, engine_id="tiny-draft",
                                        params={}, prompt_id=None, milestone_id=None, user_id=None)
        GenerationsRepo(s).row(gen.id).lease_owner = "localhost-that-died:999999999"
    import socket

    with services.db.transaction() as s:
        GenerationsRepo(s).row(gen.id).lease_owner = f"{socket.gethostname()}:999999999"
    assert recover_stale_jobs(services) == 1
    with services.db.read() as s:
        assert GenerationsRepo(s).get(gen.id).status == JobStatus.FAILED
