"""Ray pools on a local Ray (2 CPUs, 2 fake GPUs for placement) with the tiny engines.

Few and quick on purpose: Ray and two actors (each importing torch and loading a model) start once
for the module.
"""

from __future__ import annotations

import os
import threading

import pytest

from tierflow.config import Settings
from tierflow.app import service
from tierflow.domain.specs import spec_from_dict
from tierflow.jobs.durable import enqueue, work

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def pools(models_dir, tmp_path_factory):
    from tierflow.engines.tiny.build import ensure_built
    from tierflow.scale.pools import start_pools

    for name in ("tiny-sd", "tiny-sdxl"):
        ensure_built(models_dir, name)  # once, before two actors could race to build them
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    settings = Settings(home=tmp_path_factory.mktemp("ray-home"), preset="tiny", models_path=models_dir)
    started = start_pools(settings, ["draft", "final"], "local", num_gpus=1, num_cpus=1)
    yield started
    started.close()
    ray.shutdown()


def test_jobs_render_on_the_pool_of_their_tier(services, project, pools):
    draft_id = enqueue(services, {"op": "draft", "project": project.name, "prompt": "a red kite", "n": 2,
                                  "size": "64x64", "steps": 1})
    [drafted] = work(services, ["draft", "final"], threading.Event(), 0.05, once=True,
                     engine_for=pools.engine_for, threads=pools.threads())
    assert (drafted.generation_id, drafted.status, drafted.outputs) == (draft_id, "succeeded", 2)
    from tierflow.stages.sources import get_asset

    drafts = [get_asset(services, a) for a in drafted.asset_ids]
    assert {a.params["actor"] for a in drafts} == {"draft-0"}
    assert all(a.params["actor_pid"] != os.getpid() for a in drafts)  # rendered in the actor, stored here
    for a in drafts:  # a latent draft: the actor's tiny-decoder preview, its latent stored beside it here
        assert a.format == "jpg" and a.params["decoder"] == "taesd"
        assert services.blobs.exists(a.params["latent"]["sha256"], "npy")

    final_id = enqueue(services, {"op": "promote", "asset_id": drafts[0].id, "size": "64x64", "steps": 2})
    [finished] = work(services, ["draft", "final"], threading.Event(), 0.05, once=True,
                      engine_for=pools.engine_for, threads=pools.threads())
    assert finished.status == "succeeded", finished.error
    final = get_asset(services, finished.asset_ids[0])
    assert finished.generation_id == final_id and final.params["actor"] == "final-0"
    assert final.parent_ids == [drafts[0].id] and final.engine_id == "tiny-final"
    assert final.params["handoff"] == "latent" and final.params["init"] == "latent"  # the latent crossed to the actor
    kept = get_asset(services, drafts[0].id)
    assert kept.format == "png" and kept.params["decoder"] == "vae"  # decoded (here) when the promotion ran


def test_a_killed_actor_is_replaced_and_the_rest_of_the_batch_rendered(services, project, pools):
    spec = {"op": "draft", "project": project.name, "prompt": "a paper boat", "n": 3, "size": "128x128",
            "steps": 10, "seed": 7}
    plan = service.plan(services, spec_from_dict(spec)).plans[0]
    engine = pools.engine_for(plan)
    slot = pools.pools["draft"].slots[0]
    stream = engine.render(plan.request)
    first = next(stream)
    ray.kill(slot.handle, no_restart=True)  # mid-stream: outputs 2 and 3 are not rendered yet
    rest = list(stream)
    outs = [first, *rest]
    assert sorted(o.seed for o in outs) == sorted(plan.request.seeds)  # each output exactly once
    assert sorted(o.index for o in outs) == [0, 1, 2]
    assert first.metadata["actor"] == "draft-0"
    assert slot.replaced == 1 and {o.metadata["actor"] for o in rest} == {"draft-0r1"}
