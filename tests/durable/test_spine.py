"""The spine: typed specs, quote writes nothing, every stage queued and rendered by a worker, and a job
queued before migration 0004 still rendered after the upgrade."""

from __future__ import annotations

import json
import threading

import pytest
from PIL import Image
from sqlalchemy import func, inspect, select, text

from tierflow.app import service
from tierflow.domain.errors import InvalidInput
from tierflow.domain.specs import (OPS, STAGES, CreativeSpec, DraftSpec, InpaintSpec, OutpaintSpec, OverlaySpec,
                                   OverrideRequest, PromoteSpec, UpscaleSpec, VideoSpec, spec_from_dict,
                                   spec_from_json)
from tierflow.guardrails.budget import budget_status
from tierflow.jobs.durable import TIERS, enqueue, work
from tierflow.stages.cleanup import mask_png
from tierflow.storage.generations_repo import GenerationsRepo
from tierflow.storage.tables import GenerationRow, LedgerEntryRow, PromptRow

AID = "ast_0123456789abcdef"


def test_the_stage_table_is_the_flow_in_order_with_one_spec_each():
    assert OPS == ("draft", "promote", "inpaint", "outpaint", "upscale", "video", "overlay")
    assert len({d.spec for d in STAGES}) == len(STAGES)


@pytest.mark.parametrize("spec", [
    DraftSpec("poster", "a lighthouse", n=2, seed=7, size="64x64", milestone="v1"),
    PromoteSpec(AID, strength=0.5, override=OverrideRequest("u1", "lead", "client asked")),
    InpaintSpec(AID, "iVBORw0KGgo=", "a boat", strength=0.8, seed=3),
    OutpaintSpec(AID, left=8, right=16, feather=0),
    UpscaleSpec(AID, "x2", creative=CreativeSpec(0.25, tile=64)),
    VideoSpec(AID, "waves roll", frames=5, fps=8),
    OverlaySpec(AID, {"text": "SALE", "size": 12}),
])
def test_every_spec_round_trips_through_json(spec):
    assert spec_from_json(spec.to_json()) == spec
    assert spec_from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(("data", "field"), [
    ({"op": "draft", "project": "p", "prompt": "x", "n": 0}, "n"),
    ({"op": "draft", "project": "p", "prompt": "   "}, "prompt"),
    ({"op": "draft", "project": "p", "prompt": "x", "seed": -1}, "seed"),
    ({"op": "draft", "project": "p", "prompt": "x", "size": "big"}, "size"),
    ({"op": "draft", "project": "p", "prompt": "x", "colour": "red"}, "colour"),
    ({"op": "draft", "prompt": "x"}, "project"),
    ({"op": "promote", "asset_id": "../etc"}, "asset_id"),
    ({"op": "promote", "asset_id": AID, "strength": 1.5}, "strength"),
    ({"op": "upscale", "asset_id": AID, "creative": {"strength": 0.9}}, "creative"),
    ({"op": "video", "asset_id": AID, "prompt": "x", "seconds": 1.0, "frames": 5}, "seconds"),
    ({"op": "video", "asset_id": AID, "prompt": "x", "fps": 0}, "fps"),
    ({"op": "outpaint", "asset_id": AID, "left": -4}, "left"),
    ({"op": "sculpt"}, "op"),
])
def test_a_bad_spec_names_the_field_and_the_fix(data, field):
    with pytest.raises(InvalidInput) as e:
        spec_from_dict(data)
    assert e.value.field == field and e.value.fix


def _counts(services) -> tuple[int, int, int]:
    with services.db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (GenerationRow, PromptRow, LedgerEntryRow))


def test_quote_writes_nothing_and_a_refused_submit_writes_nothing(services, project):
    before = _counts(services)
    q = service.quote(services, DraftSpec(project.name, "a never-seen prompt", n=3, size="64x64", steps=1))
    assert q.credits > 0 and len(q.parts) == 1
    assert _counts(services) == before  # no prompt row, no generation, no ledger entry
    with pytest.raises(InvalidInput, match="size"):
        service.submit(services, DraftSpec(project.name, "another new prompt", n=1, size="65x64", steps=1))
    assert _counts(services) == before


@pytest.fixture()
def kept(services, project):
    from tierflow.stages.review import review

    result = service.run(services, DraftSpec(project.name, "a lighthouse on a cliff", n=1, seed=7, size="64x64",
                                             steps=1))
    return review(services, result.assets[0].id, "keep", seconds=2)


def test_every_stage_can_be_queued_and_rendered_by_a_worker(services, project, kept):
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    specs = {
        "draft": DraftSpec(project.name, "a harbour at night", n=2, size="64x64", steps=1),
        "promote": PromoteSpec(kept.id, size="64x64", steps=2, strength=0.5),
        "inpaint": InpaintSpec(kept.id, mask_png(mask), "a red boat", steps=2),
        "outpaint": OutpaintSpec(kept.id, left=16, steps=2),
        "upscale": UpscaleSpec(kept.id, "x2", creative=CreativeSpec(0.25, tile=64)),
        "video": VideoSpec(kept.id, "the waves roll in", frames=5, fps=8, seed=1),
        "overlay": OverlaySpec(kept.id, {"text": "SALE", "color": "#ff0000"}),
    }
    assert set(specs) == set(OPS)
    jobs = {op: enqueue(services, spec) for op, spec in specs.items()}
    with services.db.read() as s:
        rows = {op: GenerationsRepo(s).get(j) for op, j in jobs.items()}
    assert all(g.status.value == "queued" and g.queue == "durable" and g.spec["op"] == op for op, g in rows.items())
    assert len(rows["upscale"].chain) == 2  # the creative pass is opened (and reserved) with its upscale
    events: list = []
    outcomes = work(services, TIERS, threading.Event(), 0.05, once=True, on_outcome=events.append)
    by_id = {o.generation_id: o for o in outcomes}
    creative_step = rows["upscale"].chain[1]  # claimed on its own once the upscale succeeded
    assert set(by_id) == {*jobs.values(), creative_step}
    assert all(o.status == "succeeded" for o in outcomes), [(o.stage, o.error) for o in outcomes]
    from tierflow.stages.sources import get_asset

    creative = get_asset(services, by_id[creative_step].asset_ids[0])
    upscaled = get_asset(services, creative.parent_ids[0])
    assert creative.params["creative_of"] == upscaled.id and upscaled.parent_ids == [kept.id]
    assert (creative.width, creative.height) == (128, 128)
    assert get_asset(services, by_id[jobs["video"]].asset_ids[0]).kind == "video"
    assert get_asset(services, by_id[jobs["overlay"]].asset_ids[0]).parent_ids == [kept.id]
    assert len(by_id[jobs["draft"]].asset_ids) == 2
    assert budget_status(services, project.id)["reserved"] == 0


def test_a_job_queued_before_migration_0004_is_rendered_after_the_upgrade(services, project):
    """Queue a draft, put its row back into the 0003 shape (options in params["job"]), downgrade, then
    upgrade in place as a start does: the job keeps its row and reservation and a worker renders it."""
    from alembic import command

    from tierflow.storage.database import alembic_config

    job_id = enqueue(services, DraftSpec(project.name, "an old queued job", n=2, size="64x64", steps=1))
    with services.db.read() as s:
        gen = GenerationsRepo(s).get(job_id)
    old = {k: v for k, v in gen.spec.items() if k != "op"}
    old["stage"] = "draft"
    engine = services.db.engine
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0003")
    with engine.begin() as connection:
        assert "spec" not in {c["name"] for c in inspect(connection).get_columns("generations")}
        connection.execute(text("UPDATE generations SET params = :p WHERE id = :id"),
                           {"p": json.dumps({**gen.params, "job": old}), "id": job_id})
    services.db.migrate()  # what every start does
    with services.db.read() as s:
        upgraded = GenerationsRepo(s).get(job_id)
    assert upgraded.spec == {"op": "draft", **{k: v for k, v in old.items() if k != "stage" and v is not None}}
    assert upgraded.spec["op"] == "draft" and upgraded.queue == "durable" and upgraded.status.value == "queued"
    assert upgraded.spec["seed"] == gen.spec["seed"]
    outcomes = work(services, ["draft"], threading.Event(), 0.05, once=True)
    assert [(o.generation_id, o.status, o.outputs) for o in outcomes] == [(job_id, "succeeded", 2)]
    assert budget_status(services, project.id)["reserved"] == 0


def test_a_durable_job_reports_step_progress_through_its_row(services, project):
    from tierflow.engines.base import Progress
    from tierflow.jobs.db_events import DbJob
    from tierflow.jobs.durable import ProgressRecorder, claim, run_claimed
    from tierflow.stages.runner import StageEvent

    job_id = enqueue(services, DraftSpec(project.name, "a tide pool", n=1, size="64x64", steps=3))
    job = claim(services, "w:1", ["draft"])
    seen: list[str] = []
    ProgressRecorder(services, job_id, lambda e: seen.append(e.kind))(
        StageEvent("progress", job_id, progress=Progress(step=1, total=3)))
    follower = DbJob(services, job_id)
    assert seen == ["progress"] and follower.live_progress() == {"step": 1, "total": 3, "index": 0, "count": 1}
    assert [e.kind for e in follower.events_from(0)] == ["started"]  # progress is not a replayed event
    run_claimed(services, job)
    with services.db.read() as s:
        assert GenerationsRepo(s).get(job_id).params["progress"]["step"] == 3  # the last step is always written
    follower.refresh()
    assert follower.live_progress() is None and follower.events_from(0)[-1].kind == "finished"


def test_promote_quote_through_the_cli_writes_nothing_and_the_promote_decodes_the_draft(cli, services, project):
    """`tierflow promote --quote` on an unkept latent draft leaves its row, the blobs and the database as
    they were; `tierflow promote` then stores the draft's full decode (through the door's own open → render)."""
    from tierflow.storage.tables import Base

    def snapshot():
        with services.db.read() as s:
            rows = {t.name: sorted(map(tuple, s.execute(select(t)).all()), key=repr)
                    for t in Base.metadata.sorted_tables}
        return rows, sorted((e.sha256, e.ext) for e in services.blobs.entries())

    [d] = cli("draft", "a lighthouse", "-p", project.name, "-n", "1", "--seed", "4", "--size", "64x64")["assets"]
    assert d["format"] == "jpg" and d["params"]["decoder"] == "taesd"
    before = snapshot()
    quoted = cli("promote", d["id"], "--quote", "--size", "64x64", "--strength", "0.5")
    assert quoted["credits"] > 0
    assert snapshot() == before
    final = cli("promote", d["id"], "--size", "64x64", "--strength", "0.5")["asset"]
    from tierflow.stages.sources import get_asset

    draft = get_asset(services, d["id"])
    assert draft.format == "png" and draft.params["decoder"] == "vae" and final["parent_ids"] == [d["id"]]
    assert final["params"]["handoff"] == "latent"
