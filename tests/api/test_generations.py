"""Renders as jobs: 202 after validation, events streamed in order, replay for late subscribers, cancel."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.api.conftest import SMALL
from tests.api.gate import install_gated
from tests.api.sse import parse, wait_status
from tierflow.domain.ids import variation_seed
from tierflow.domain.models import Tier
from tierflow.storage.tables import AssetRow, GenerationRow

V1 = "/api/v1"


def _draft(client, project, **extra):
    body = {"stage": "draft", "project": project.name, "prompt": "a red fox", "n": 2, "seed": 11, "size": SMALL,
            "steps": 1} | extra
    r = client.post(f"{V1}/generations", json=body)
    assert r.status_code == 202, r.text
    return r.json()


def test_draft_job_streams_started_progress_assets_finished_in_order(client, project):
    job = _draft(client, project, n=3)
    assert job["status"] == "queued" and job["events_url"] == f"{V1}/generations/{job['job_id']}/events"
    r = client.get(job["events_url"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse(r.text)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished", kinds
    assert kinds.count("asset") == 3 and "progress" in kinds
    assert [e["id"] for e in events] == list(range(len(events)))  # SSE ids are positions, in order
    assert kinds.index("progress") < kinds.index("asset")
    gen_id = events[0]["data"]["generation_id"]
    assert gen_id.startswith("gen_") and events[-1]["data"]["generation_id"] == gen_id
    progress = next(e["data"] for e in events if e["event"] == "progress")
    assert set(progress) == {"step", "total", "index", "count"} and progress["count"] == 3
    assets = [e["data"]["asset"] for e in events if e["event"] == "asset"]
    assert [a["seed"] for a in assets] == [variation_seed(11, i) for i in range(3)]
    for a in assets:
        assert a["generation_id"] == gen_id and (a["width"], a["height"]) == (64, 64)
        assert a["file_url"] == f"{V1}/assets/{a['id']}/file"
        r = client.get(a["file_url"])  # a draft is stored as its JPEG preview until kept (stages/decode.py)
        assert r.content[:3] == b"\xff\xd8\xff" and r.headers["content-type"] == "image/jpeg"

    shown = client.get(f"{V1}/generations/{job['job_id']}").json()
    assert shown["status"] == "succeeded" and shown["generation_id"] == gen_id
    assert [a["id"] for a in shown["assets"]] == [a["id"] for a in assets]


def test_a_late_subscriber_gets_the_replay_and_last_event_id_resumes(client, project):
    job = _draft(client, project)
    wait_status(client, job["job_id"], {"succeeded"})
    first = parse(client.get(job["events_url"]).text)
    again = parse(client.get(job["events_url"]).text)
    assert first == again and [e["event"] for e in first].count("asset") == 2
    asset_pos = next(e["id"] for e in first if e["event"] == "asset")
    resumed = parse(client.get(job["events_url"], headers={"Last-Event-ID": str(asset_pos)}).text)
    assert resumed == first[asset_pos + 1:]


def test_a_stored_generation_replays_by_generation_id(client, project, drafts):
    gen_id = drafts[0].generation_id
    events = parse(client.get(f"{V1}/generations/{gen_id}/events").text)
    assert [e["event"] for e in events] == ["started", "asset", "asset", "finished"]
    assert {e["data"]["asset"]["id"] for e in events if e["event"] == "asset"} == {a.id for a in drafts}
    shown = client.get(f"{V1}/generations/{gen_id}").json()
    assert shown["job_id"] is None and shown["status"] == "succeeded" and len(shown["assets"]) == 2
    listed = client.get(f"{V1}/generations", params={"project": project.name}).json()["generations"]
    assert [g["id"] for g in listed] == [gen_id] and listed[0]["status"] == "succeeded"


def test_promote_job_renders_a_final_with_the_draft_as_parent(client, project, drafts):
    client.post(f"{V1}/assets/{drafts[1].id}/reviews", json={"state": "keep"})
    r = client.post(f"{V1}/generations", json={"stage": "final", "asset_id": drafts[1].id, "strength": 0.5,
                                               "size": SMALL, "steps": 2})
    assert r.status_code == 202, r.text
    events = parse(client.get(r.json()["events_url"]).text)
    final = next(e["data"]["asset"] for e in events if e["event"] == "asset")
    assert final["stage"] == "final" and final["parent_ids"] == [drafts[1].id] and final["seed"] == drafts[1].seed
    tree = client.get(f"{V1}/assets/{final['id']}").json()
    assert tree["ancestors"] == [drafts[1].id] and tree["tree"]["children"][0]["id"] == final["id"]


def test_bad_input_fails_before_202_naming_the_field(client, project, drafts, services):
    post = lambda body: client.post(f"{V1}/generations", json=body)  # noqa: E731
    base = {"stage": "draft", "project": project.name, "prompt": "a fox", "size": SMALL}
    cases = [
        (base | {"n": 0}, 422, "n"),
        (base | {"n": "many"}, 422, "n"),
        (base | {"prompt": "   "}, 422, "prompt"),
        (base | {"size": "huge"}, 422, "size"),
        (base | {"size": "4096x4096"}, 422, "size"),
        (base | {"engine": "nope"}, 422, "engine"),
        (base | {"project": "missing"}, 404, "project"),
        (base | {"milestone": "m9"}, 404, "milestone"),
        (base | {"colour": "red"}, 422, "colour"),
        ({k: v for k, v in base.items() if k != "prompt"}, 422, "prompt"),
        (base | {"stage": "video"}, 422, "stage"),
        ({"prompt": "a fox"}, 422, "stage"),
        ({"stage": "final", "asset_id": "../../etc/passwd"}, 422, "asset_id"),
        ({"stage": "final", "asset_id": "ast_0123456789abcdef"}, 404, "asset"),
        ({"stage": "final", "asset_id": drafts[0].id, "strength": 1.5}, 422, "strength"),
    ]
    for body, status, field in cases:
        r = post(body)
        assert r.status_code == status, (body, r.text)
        err = r.json()
        assert err["field"] == field, (body, err)
        assert set(err) == {"error", "message", "field", "fix", "detail"} and err["fix"], err
    client.post(f"{V1}/assets/{drafts[0].id}/reviews", json={"state": "discard"})
    r = post({"stage": "final", "asset_id": drafts[0].id, "size": SMALL})
    assert r.status_code == 422 and r.json()["field"] == "asset" and "discarded" in r.json()["message"]
    with services.db.read() as s:  # nothing was queued or half-written by the failures
        assert s.scalar(select(func.count()).select_from(GenerationRow)) == 1


def test_cancel_a_running_job_ends_it_cancelled_with_no_orphans(client, services, project):
    gated = install_gated(services, Tier.DRAFT, "tiny-draft", "gated-draft")
    job = _draft(client, project, engine="gated-draft")
    assert gated.entered.wait(30)
    running = wait_status(client, job["job_id"], {"running"})
    assert running["generation_id"]
    r = client.post(f"{V1}/generations/{job['job_id']}/cancel")
    assert r.status_code == 202 and r.json()["job_id"] == job["job_id"]
    gated.gate.set()
    events = parse(client.get(job["events_url"]).text)
    assert [e["event"] for e in events] == ["started", "failed"]
    assert events[-1]["data"]["error"]["error"] == "cancelled"
    assert wait_status(client, job["job_id"], {"cancelled"})["error"]["error"] == "cancelled"
    with services.db.read() as s:
        assert s.get(GenerationRow, running["generation_id"]).status == "cancelled"
        assert s.scalar(select(func.count()).select_from(AssetRow)) == 0


def test_cancel_a_queued_job_and_unknown_jobs(client, services, project):
    gated = install_gated(services, Tier.DRAFT, "tiny-draft", "gated-draft")
    first = _draft(client, project, engine="gated-draft")
    queued = _draft(client, project)  # waits behind the first on the one draft worker
    assert gated.entered.wait(30)
    r = client.post(f"{V1}/generations/{queued['job_id']}/cancel")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    gated.gate.set()
    assert wait_status(client, first["job_id"], {"succeeded"})
    events = parse(client.get(queued["events_url"]).text)
    assert [e["event"] for e in events] == ["failed"]
    assert client.get(f"{V1}/generations/{queued['job_id']}").json()["status"] == "cancelled"
    # The job's row was opened (admitted, reserved) when it was submitted; cancelling it closed the row.
    gen_id = events[0]["data"]["generation_id"]
    with services.db.read() as s:
        row = s.get(GenerationRow, gen_id)
        assert row.status == "cancelled" and row.error == "cancelled before it started" and row.outputs == 0

    assert client.post(f"{V1}/generations/job_0123456789abcdef/cancel").status_code == 404
    assert client.get(f"{V1}/generations/job_0123456789abcdef/events").status_code == 404
    r = client.get(f"{V1}/generations/..%2F..%2Fetc")
    assert r.status_code in (404, 422) and r.json()["error"] in ("invalid_input", "not_found")
    assert client.get(f"{V1}/generations/gen_0123456789abcdef").status_code == 404
