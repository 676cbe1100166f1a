"""Projects, milestones, prompts, policies, budget, ledger, metrics, engines, OpenAPI and the guard rails of HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from tierflow.domain.ids import new_id
from tierflow.storage.tables import LedgerEntryRow

V1 = "/api/v1"


def test_create_list_and_show_projects_and_milestones(client):
    r = client.post(f"{V1}/projects", json={"name": "launch", "min_drafts": 3, "final_cap": 2})
    assert r.status_code == 201, r.text
    p = r.json()["project"]
    assert p["name"] == "launch" and p["min_drafts"] == 3 and p["final_cap"] == 2 and p["id"].startswith("prj_")
    assert [x["id"] for x in client.get(f"{V1}/projects").json()["projects"]] == [p["id"]]
    m = client.post(f"{V1}/projects/launch/milestones", json={"name": "v1"})
    assert m.status_code == 201 and m.json()["milestone"]["name"] == "v1"
    assert client.post(f"{V1}/projects/launch/milestones", json={"name": "v1"}).json()["field"] == "name"
    assert [x["name"] for x in client.get(f"{V1}/projects/{p['id']}/milestones").json()["milestones"]] == ["v1"]
    shown = client.get(f"{V1}/projects/launch").json()["project"]
    assert shown["id"] == p["id"] and shown["assets"] == {} and [x["name"] for x in shown["milestones"]] == ["v1"]


def test_project_input_errors(client):
    client.post(f"{V1}/projects", json={"name": "launch"})
    for body, status, field in [
        ({"name": "launch"}, 422, "name"), ({"name": ""}, 422, "name"), ({"name": "a/b"}, 422, "name"),
        ({"name": "x", "min_drafts": -1}, 422, "min_drafts"), ({"name": "x", "final_cap": "lots"}, 422, "final_cap"),
        ({"name": "x", "final_cap": 2**63}, 422, "final_cap"),
        ({}, 422, "name"), ({"name": "x", "owner": "me"}, 422, "owner"),
    ]:
        r = client.post(f"{V1}/projects", json=body)
        assert r.status_code == status and r.json()["field"] == field, (body, r.text)
    r = client.post(f"{V1}/projects", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "body"
    assert client.get(f"{V1}/projects/nope").status_code == 404
    assert client.get(f"{V1}/projects/prj_zz").json()["field"] == "project"
    assert client.get(f"{V1}/projects/nope/milestones").status_code == 404


def test_prompts_list_every_prompt_run(client, drafts, project):
    prompts = client.get(f"{V1}/prompts", params={"project": project.name}).json()["prompts"]
    assert [p["text"] for p in prompts] == ["a red fox in snow"] and prompts[0]["project_id"] == project.id
    assert client.get(f"{V1}/prompts", params={"limit": 0}).status_code == 422


def test_policies_get_and_put(client, project):
    url = f"{V1}/projects/{project.name}/policies"
    # the effective policy, as the CLI shows it (a threshold never set is the default 0.1)
    assert client.get(url).json() == {"min_drafts": 0, "final_cap": None, "low_credit_threshold": 0.1,
                                      "milestone": None}
    r = client.put(url, json={"min_drafts": 5, "final_cap": 3})
    assert r.status_code == 200 and r.json() == {"min_drafts": 5, "final_cap": 3, "low_credit_threshold": 0.1,
                                                 "milestone": None}
    assert client.put(url, json={"final_cap": None}).json()["final_cap"] is None
    assert client.get(url).json()["min_drafts"] == 5
    # found by the fuzz test: a count past SQLite's INTEGER range was a 500 (OverflowError at the flush)
    for body, field in [({"min_drafts": -2}, "min_drafts"), ({"low_credit_threshold": 1.5}, "low_credit_threshold"),
                        ({"max": 1}, "max"), ({"min_drafts": 2**63}, "min_drafts"),
                        ({"final_cap": 10**20}, "final_cap")]:
        r = client.put(url, json=body)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert client.get(url).json()["min_drafts"] == 5  # a rejected update changed nothing


def test_budget_is_unlimited_without_guardrails_and_ledger_lists_rows(client, project, services):
    budget = client.get(f"{V1}/projects/{project.name}/budget").json()
    assert {k: budget[k] for k in ("granted", "reserved", "spent", "remaining", "unlimited", "warnings")} == {
        "granted": 0.0, "reserved": 0.0, "spent": 0.0, "remaining": None, "unlimited": True, "warnings": []}
    assert budget["scope"] == "project" and budget["scope_id"] == project.id
    with services.db.transaction() as s:
        s.add(LedgerEntryRow(id=new_id("led"), scope="project", scope_id=project.id, kind="grant", amount=100.0,
                             note="launch budget", created_at=datetime.now(UTC)))
        s.add(LedgerEntryRow(id=new_id("led"), scope="project", scope_id="prj_other000000", kind="grant",
                             amount=5.0, note="", created_at=datetime.now(UTC)))
    entries = client.get(f"{V1}/projects/{project.id}/ledger").json()["entries"]
    assert [(e["kind"], e["amount"], e["note"]) for e in entries] == [("grant", 100.0, "launch budget")]


def test_metrics_report(client, drafts, project):
    client.post(f"{V1}/assets/{drafts[0].id}/reviews", json={"state": "keep", "seconds": 2})
    m = client.get(f"{V1}/projects/{project.name}/metrics").json()
    assert m["drafts"] == 2 and m["finals"] == 0 and m["draft_to_final_ratio"] is None
    assert m["usable_rate"]["draft"] == 0.5 and m["counts"]["draft"]["unreviewed"] == 1
    assert "tiny-draft" in m["latency"] and m["latency"]["tiny-draft"]["n"] == 2
    assert any("unreviewed" in w for w in m["warnings"])


def test_engines_listing(client):
    body = client.get(f"{V1}/engines").json()
    ids = {e["id"] for e in body["engines"]}
    assert {"tiny-draft", "tiny-final"} <= ids
    assert body["defaults"]["draft"] == "tiny-draft" and body["defaults"]["final"] == "tiny-final"
    draft = next(e for e in body["engines"] if e["id"] == "tiny-draft")
    assert draft["default"] is True and "txt2img" in draft["capabilities"]["tasks"]


def test_openapi_docs_and_http_errors_share_one_shape(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/projects", "/api/v1/generations", "/api/v1/generations/{job_id}/events",
                 "/api/v1/assets", "/api/v1/assets/{asset_id}/export", "/api/v1/projects/{ref}/policies",
                 "/api/v1/engines"):
        assert path in spec["paths"], path
    assert "DraftCreate" in spec["components"]["schemas"] and "FinalCreate" in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    r = client.get(f"{V1}/nothing-here")
    assert r.status_code == 404 and set(r.json()) == {"error", "message", "field", "fix", "detail"}
    assert client.delete(f"{V1}/projects").status_code == 405


def test_oversized_bodies_get_413(client, services):
    from fastapi.testclient import TestClient

    from tierflow.delivery.api.app import create_app

    big = b'{"name": "' + b"x" * (21 * 1024 * 1024) + b'"}'
    r = client.post(f"{V1}/projects", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large" and r.json()["field"] == "body"
    with TestClient(create_app(services, max_body_bytes=1000)) as small:
        # streamed without a length: counted as it arrives
        chunks = iter([b'{"name": "', b"y" * 2000, b'"}'])
        r = small.post(f"{V1}/projects", content=chunks, headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text
        assert small.post(f"{V1}/projects", json={"name": "ok"}).status_code == 201
