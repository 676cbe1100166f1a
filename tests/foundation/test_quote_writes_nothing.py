"""Quoting (planning) a stage on an unkept latent draft writes nothing; running it decodes the draft once.

A latent draft is a JPEG preview plus its latent until kept (stages/decode.py). A promotion of it
needs its full decode — but only when the promotion runs: a quote (`tierflow promote --quote`, the
REST quote) must leave the asset row, the blob store and the database exactly as they were.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from tierflow.app import service
from tierflow.domain.errors import InvalidInput
from tierflow.domain.specs import UpscaleSpec
from tierflow.stages.draft import draft
from tierflow.stages.promote import plan_promote, promote_spec
from tierflow.stages.runner import run_plan
from tierflow.stages.sources import get_asset
from tierflow.storage.generations_repo import DURABLE
from tierflow.storage.tables import Base

SIZE = "64x64"


def database(services) -> dict[str, list[tuple]]:
    with services.db.read() as s:
        return {t.name: sorted(map(tuple, s.execute(select(t)).all()), key=repr) for t in Base.metadata.sorted_tables}


def blobs(services) -> list[tuple[str, str, float]]:
    return sorted((e.sha256, e.ext, e.modified) for e in services.blobs.entries())


def pixels(services, asset) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(services.blobs.get(asset.sha256, asset.format))).convert("RGB"), np.int16)


@pytest.fixture()
def decodes(services, monkeypatch) -> list[int]:
    """Each full VAE decode the draft engine runs."""
    engine = services.engines.get("tiny-draft")
    calls: list[int] = []
    original = engine.decode_latent
    monkeypatch.setattr(engine, "decode_latent", lambda latent: calls.append(1) or original(latent))
    return calls


@pytest.fixture()
def seen(services, monkeypatch) -> list:
    """The requests the final engine renders."""
    engine = services.engines.get("tiny-final")
    requests = []
    original = engine.render

    def spy(request, progress=None):
        requests.append(request)
        yield from original(request, progress)

    monkeypatch.setattr(engine, "render", spy)
    return requests


def test_quoting_a_promotion_of_an_unkept_draft_writes_nothing(services, project, decodes):
    d = draft(services, project.id, "a lighthouse", n=1, seed=9, size=SIZE).assets[0]
    assert d.format == "jpg" and d.params["decoder"] == "taesd"
    rows, stored = database(services), blobs(services)
    quote = service.quote(services, promote_spec(d.id, size=SIZE, strength=0.5))
    assert [(p["engine_id"], p["width"], p["height"]) for p in quote.parts] == [("tiny-final", 64, 64)]
    service.plan(services, promote_spec(d.id, strength=0.5))  # the default size comes from the preview's
    assert decodes == [] and get_asset(services, d.id) == d
    assert blobs(services) == stored and database(services) == rows


def test_quoting_an_upscale_of_an_unkept_draft_writes_nothing(services, project, decodes):
    d = draft(services, project.id, "a lighthouse", n=1, seed=9, size=SIZE).assets[0]
    rows, stored = database(services), blobs(services)
    quote = service.quote(services, UpscaleSpec(d.id, "x2"))
    assert quote.parts[0]["engine_id"] == "tiny-upscale"
    assert decodes == [] and blobs(services) == stored and database(services) == rows


def test_running_the_promotion_decodes_once_and_starts_from_the_full_decode(services, project, decodes, seen,
                                                                             monkeypatch):
    # across latent spaces the image is what is handed over: it must be the full decode, not the preview
    final_engine = services.engines.get("tiny-final")
    caps = final_engine.capabilities()
    monkeypatch.setattr(final_engine, "capabilities", lambda: dataclasses.replace(caps, latent_space="another-vae"))
    d = draft(services, project.id, "a lighthouse", n=1, seed=9, size=SIZE).assets[0]
    preview = pixels(services, d)
    service.quote(services, promote_spec(d.id, size=SIZE, strength=0.5))
    final = service.run(services, promote_spec(d.id, size=SIZE, strength=0.5)).assets[0]
    kept = get_asset(services, d.id)
    assert len(decodes) == 1 and kept.format == "png" and kept.params["decoder"] == "vae"
    assert final.parent_ids == [d.id] and final.params["handoff"] == "image" and "init" not in final.params
    init = np.asarray(seen[0].init_image, np.int16)
    assert np.array_equal(init, pixels(services, kept)) and not np.array_equal(init, preview)
    assert final.params["drift"]  # measured against the full decode it started from


def test_a_same_space_promotion_still_hands_the_latent_over(services, project, decodes, seen):
    d = draft(services, project.id, "a lighthouse", n=1, seed=9, size=SIZE).assets[0]
    final = service.run(services, promote_spec(d.id, size=SIZE, strength=0.5)).assets[0]
    assert len(decodes) == 1 and get_asset(services, d.id).params["decoder"] == "vae"
    assert final.params["handoff"] == "latent" and final.params["init"] == "latent"
    assert seen[0].init_latent is not None and np.array_equal(np.asarray(seen[0].init_image, np.int16),
                                                              pixels(services, get_asset(services, d.id)))


def test_a_queued_promotion_decodes_when_the_worker_runs_it(services, project, decodes, seen):
    d = draft(services, project.id, "a lighthouse", n=1, seed=9, size=SIZE).assets[0]
    stored = blobs(services)
    job = service.submit(services, promote_spec(d.id, size=SIZE, strength=0.5), queue=DURABLE)
    assert decodes == [] and get_asset(services, d.id) == d and blobs(services) == stored
    result = service.run_job(services, job.job_id)
    assert len(decodes) == 1 and get_asset(services, d.id).format == "png"
    assert result.assets[0].parent_ids == [d.id]
    assert np.array_equal(np.asarray(seen[0].init_image, np.int16), pixels(services, get_asset(services, d.id)))


def test_a_plan_built_on_a_preview_is_not_run_outside_the_service(services, project):
    d = draft(services, project.id, "a lighthouse", n=1, seed=9, size=SIZE).assets[0]
    with pytest.raises(InvalidInput) as e:
        run_plan(services, plan_promote(services, d.id, size=SIZE, strength=0.5))
    assert e.value.field == "asset" and d.id in str(e.value) and "--keep" in e.value.fix
