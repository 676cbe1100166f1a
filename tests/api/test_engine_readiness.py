"""An engine that cannot run here is refused at submit (409, naming the engine and the fix), nothing stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.conftest import SMALL
from tierflow.bootstrap import build
from tierflow.config import Settings
from tierflow.stages.guard import OpenGuard
from tierflow.storage.tables import GenerationRow

V1 = "/api/v1"


@pytest.fixture()
def offline_client(home, models_dir, monkeypatch, tmp_path):
    """Offline, no real weights in the (empty) Hugging Face cache, no provider keys."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "FAL_KEY"):
        monkeypatch.delenv(key, raising=False)
    from tierflow.delivery.api.app import create_app

    svc = build(Settings(home=home, preset="tiny", offline=True, models_path=models_dir), guard=OpenGuard())
    from tierflow.storage.projects_repo import ProjectsRepo

    with svc.db.transaction() as s:
        ProjectsRepo(s).create("poster", min_drafts=0)
    with TestClient(create_app(svc)) as c:
        yield c, svc
    svc.close()


def _generations(svc) -> int:
    with svc.db.read() as s:
        return s.scalar(select(func.count()).select_from(GenerationRow))


@pytest.mark.parametrize(("engine", "fix"), [
    ("sd-turbo", "tierflow models pull sd-turbo"),
    ("gemini-2.5-flash-image", "GEMINI_API_KEY"),
])
def test_submit_with_an_engine_that_cannot_run_is_409(offline_client, engine, fix):
    client, svc = offline_client
    r = client.post(f"{V1}/generations", json={"stage": "draft", "project": "poster", "prompt": "a fox",
                                               "n": 1, "size": SMALL, "engine": engine})
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["field"] == "engine" and engine in body["message"] and fix in body["fix"]
    assert _generations(svc) == 0  # refused before anything was stored or queued


def test_engine_listing_says_which_can_run_and_how_to_fix_the_rest(offline_client):
    client, _ = offline_client
    rows = {e["id"]: e for e in client.get(f"{V1}/engines").json()["engines"]}
    assert rows["tiny-draft"]["runnable"] is True and rows["tiny-draft"]["fix"] is None
    assert rows["sd-turbo"]["runnable"] is False
    assert rows["sd-turbo"]["fix"] == "run `tierflow models pull sd-turbo` on a machine with network"
    assert rows["gemini-3-pro-image"]["runnable"] is False and "GEMINI_API_KEY" in rows["gemini-3-pro-image"]["fix"]


def test_the_tiny_engines_still_render(offline_client):
    client, _ = offline_client
    r = client.post(f"{V1}/generations", json={"stage": "draft", "project": "poster", "prompt": "a fox",
                                               "n": 1, "size": SMALL, "steps": 1, "engine": "tiny-draft"})
    assert r.status_code == 202, r.text
