"""What the studio asks before a render: its price (``?quote=true`` queues nothing), the size it makes,
how many drafts the prompt thread has for draft-first, and size errors that state the allowed range."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.api.conftest import SMALL
from tierflow.stages.inputs import parse_size
from tierflow.storage.tables import GenerationRow

V1 = "/api/v1"


def _generations(services) -> int:
    with services.db.read() as s:
        return s.scalar(select(func.count()).select_from(GenerationRow))


def test_a_draft_and_a_promote_are_priced_without_queueing(client, services, project, drafts):
    body = {"stage": "draft", "project": project.name, "prompt": "a red fox", "n": 3, "size": SMALL}
    before = _generations(services)
    r = client.post(f"{V1}/generations?quote=true", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"credits": 0.0, "engine_id": "tiny-draft", "stage": "draft", "width": 64, "height": 64}
    r = client.post(f"{V1}/generations?quote=true", json={"stage": "final", "asset_id": drafts[0].id, "size": SMALL})
    assert r.status_code == 200 and r.json()["stage"] == "final" and r.json()["engine_id"] == "tiny-final"
    assert _generations(services) == before


def test_a_video_quote_says_the_size_it_will_make(client, drafts):
    r = client.post(f"{V1}/assets/{drafts[0].id}/video?quote=true", json={"prompt": "the fox turns", "seconds": 0.5})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["stage"] == "video" and answer["width"] and answer["height"]
    assert answer["width"] / answer["height"] == drafts[0].width / drafts[0].height  # the source's aspect


def test_a_size_out_of_range_states_the_range(client, project):
    assert parse_size("100000x100000") == (100000, 100000)
    r = client.post(f"{V1}/generations", json={"stage": "draft", "project": project.name, "prompt": "a fox",
                                               "size": "100000x100000"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "size"
    assert body["message"].startswith("100000x100000 is outside ") and "per side for tiny-draft" in body["message"]
    assert "in multiples of" in body["fix"]
    r = client.post(f"{V1}/generations", json={"stage": "draft", "project": project.name, "prompt": "a fox",
                                               "size": "big"})
    assert r.status_code == 422 and "is not a size" in r.json()["message"]


def test_policies_count_the_drafts_of_a_prompt_thread(client, project, drafts):
    url = f"{V1}/projects/{project.name}/policies"
    assert "drafts_in_thread" not in client.get(url).json()
    body = client.get(url, params={"prompt_id": drafts[0].prompt_id}).json()
    assert body["drafts_in_thread"] == 2
    listed = client.get(f"{V1}/assets", params={"project": project.name, "prompt_id": drafts[0].prompt_id}).json()
    assert sorted(a["id"] for a in listed["assets"]) == sorted(d.id for d in drafts)
    assert client.get(url, params={"prompt_id": "../etc"}).status_code == 422
