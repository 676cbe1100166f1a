"""What crosses Ray's object store: a latent draft and a latent handoff survive the hop (no Ray started).

The pool below is the real worker path (claim → plan → RemoteEngine → persist here) with the actor
replaced by the same encode/decode functions and a pickle round trip for the object store, so a
draft "rendered on an actor" must be stored exactly like a local one: a tiny-decoder preview with
its latent beside it, decoded at full quality on keep, and promoted from that latent.
"""

from __future__ import annotations

import io
import pickle
import threading

import numpy as np
import pytest
from PIL import Image

from tierflow.engines.base import TASK_IMG2IMG, TASK_TXT2IMG, RenderRequest
from tierflow.jobs.durable import enqueue, work
from tierflow.scale.pools import (
    RemoteEngine,
    decode_rendered,
    encode_rendered,
    request_from_payload,
    request_payload,
)
from tierflow.stages.review import review
from tierflow.stages.sources import get_asset

pytest.importorskip("ray")  # RemoteEngine names Ray's actor error


class PickledPool:
    """A pool of one in-process "actor": payloads and outputs pickled as Ray's object store would."""

    tier = "pool"

    def __init__(self, services) -> None:
        self.services = services
        self.requests: list[RenderRequest] = []

    def stream(self, engine_id, payload, cancel=None):
        request = request_from_payload(pickle.loads(pickle.dumps(payload)))
        self.requests.append(request)
        for out in self.services.engines.get(engine_id).render(request):
            yield pickle.loads(pickle.dumps(encode_rendered(out, "actor-0")))


def pixels(services, asset) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(services.blobs.get(asset.sha256, asset.format))).convert("RGB"), np.int16)


def test_a_latent_draft_output_round_trips_with_its_latent_and_decoder(services):
    engine = services.engines.get("tiny-draft")
    request = RenderRequest(task=TASK_TXT2IMG, prompt="a red kite", seeds=[4], width=64, height=64, preview=True)
    [local] = engine.render(request)
    assert local.latent is not None and local.metadata["decoder"] == "taesd"
    hopped = decode_rendered(pickle.loads(pickle.dumps(encode_rendered(local, "draft-0"))))
    assert hopped.latent.dtype == local.latent.dtype and np.array_equal(hopped.latent, local.latent)
    assert hopped.metadata["decoder"] == "taesd" and hopped.metadata["actor"] == "draft-0"
    assert np.array_equal(np.asarray(hopped.image), np.asarray(local.image))  # the preview, lossless
    # the decode on keep of the latent that crossed equals the local one's
    assert np.array_equal(np.asarray(engine.decode_latent(hopped.latent)), np.asarray(engine.decode_latent(local.latent)))


def test_a_request_keeps_preview_and_its_init_latent():
    latent = np.random.default_rng(1).standard_normal((1, 4, 8, 8)).astype(np.float32)
    request = RenderRequest(task=TASK_IMG2IMG, prompt="a fox", seeds=[3, 5], width=64, height=64,
                            init_image=Image.new("RGB", (64, 64), "red"), strength=0.5, init_latent=latent)
    back = request_from_payload(pickle.loads(pickle.dumps(request_payload(request))))
    assert np.array_equal(back.init_latent, latent) and back.init_latent.dtype == np.float32
    assert back.preview is False and back.seeds == [3, 5] and back.strength == 0.5
    draft = request_from_payload(request_payload(RenderRequest(task=TASK_TXT2IMG, prompt="a fox", preview=True)))
    assert draft.preview is True and draft.init_latent is None


def test_a_pooled_draft_is_stored_as_a_preview_decoded_on_keep_and_promoted_from_its_latent(services, project):
    pool = PickledPool(services)
    engine_for = lambda plan: RemoteEngine(plan.engine, pool)  # noqa: E731 - the worker's swap, as Pools does
    enqueue(services, {"op": "draft", "project": project.name, "prompt": "a red kite", "n": 2, "size": "64x64",
                       "seed": 7})
    [drafted] = work(services, ["draft"], threading.Event(), 0.05, once=True, engine_for=engine_for)
    assert drafted.status == "succeeded", drafted.error
    drafts = [get_asset(services, a) for a in drafted.asset_ids]
    assert pool.requests[0].preview is True
    for d in drafts:
        assert d.format == "jpg" and d.params["decoder"] == "taesd" and d.params["actor"] == "actor-0"
        ref = d.params["latent"]
        assert services.blobs.exists(ref["sha256"], "npy") and ref["shape"] == [1, 4, 8, 8]

    # decode-on-keep works on what came back, and equals the local engine's full decode of that latent
    d = drafts[1]
    latent = np.load(io.BytesIO(services.blobs.get(d.params["latent"]["sha256"], "npy")))
    kept = review(services, d.id, "keep", seconds=1)
    assert kept.format == "png" and kept.params["decoder"] == "vae"
    expected = np.asarray(services.engines.get("tiny-draft").decode_latent(latent), np.int16)
    assert np.array_equal(pixels(services, kept), expected)

    # the promote's latent handoff crosses too: the final engine starts from the draft's own latent
    enqueue(services, {"op": "promote", "asset_id": d.id, "size": "64x64", "steps": 2, "strength": 0.5})
    [finished] = work(services, ["final"], threading.Event(), 0.05, once=True, engine_for=engine_for)
    assert finished.status == "succeeded", finished.error
    final = get_asset(services, finished.asset_ids[0])
    assert np.array_equal(pool.requests[-1].init_latent, latent)
    assert final.params["handoff"] == "latent" and final.params["init"] == "latent" and final.parent_ids == [d.id]
