"""Budgets, daily limits, policies, milestones and overrides over REST: the CLI's use cases, audited the same way."""

from __future__ import annotations

import json

from tests.api.sse import wait_status
from tierflow.stages.draft import draft

from .conftest import SMALL, make_project

V1 = "/api/v1"
UNSTABLE = ("id", "created_at", "project_id", "user_id")


def _line(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in UNSTABLE}


def test_a_policy_change_through_rest_writes_the_same_audit_line_as_the_cli(client, cli, services):
    make_project(services, "via rest", min_drafts=0)
    make_project(services, "via cli", min_drafts=0)
    r = client.put(f"{V1}/projects/via rest/policies", json={"final_cap": 2, "min_drafts": 3, "reason": "sprint"})
    assert r.status_code == 200 and r.json()["final_cap"] == 2
    cli("policy", "-p", "via cli", "--final-cap", "2", "--min-drafts", "3", "--reason", "sprint")
    [rest] = client.get(f"{V1}/projects/via rest/audit").json()["audit"]
    [by_cli] = json.loads(cli("audit", "-p", "via cli", "--json")[0])["audit"]
    assert _line(rest) == _line(by_cli)
    assert rest["action"] == "policy.change" and rest["reason"] == "sprint"
    assert rest["detail"]["before"]["final_cap"] is None and rest["detail"]["after"]["final_cap"] == 2
    assert rest["user_id"] == "local"  # the signed-in principal (single-user mode: the local admin)


def test_budgets_daily_limits_milestones_and_an_override_over_rest(client, services):
    p = make_project(services, "Tiny budget", min_drafts=0)
    url = f"{V1}/projects/Tiny budget"
    r = client.post(f"{url}/budget/grants", json={"amount": 10, "reason": "kickoff"})
    assert r.status_code == 201 and (r.json()["scope"], r.json()["granted"]) == ("project", 10.0)
    assert client.post(f"{url}/milestones", json={"name": "m1"}).status_code == 201
    r = client.post(f"{url}/budget/grants", json={"amount": 5, "scope": "milestone", "milestone": "m1",
                                                   "reason": "m1 budget"})
    assert r.status_code == 201 and (r.json()["scope"], r.json()["granted"]) == ("milestone", 5.0)
    r = client.put(f"{url}/daily-limits/ana", json={"limit": 3})
    assert r.status_code == 200 and r.json()["scope"] == "user-day" and r.json()["granted"] == 3.0
    assert client.get(f"{url}/budget", params={"user": "ana"}).json()["remaining"] == 3.0
    bad = client.post(f"{url}/budget/grants", json={"amount": -1})
    assert bad.status_code == 422 and bad.json()["field"] == "amount"

    d = draft(services, p.id, "a red fox", n=1, seed=1, size=SMALL, steps=1).assets[0]
    assert d.params["milestone"]["name"] == "m1"  # a draft naming no milestone counts against the current one
    assert client.put(f"{url}/policies", json={"final_cap": 0, "reason": "frozen"}).status_code == 200
    final = {"stage": "final", "asset_id": d.id, "size": SMALL, "steps": 1, "strength": 1.0}
    blocked = client.post(f"{V1}/generations", json=final)
    assert blocked.status_code == 409 and blocked.json()["field"] == "final_cap"
    assert "milestone 'm1'" in blocked.json()["message"] and "override_reason" in blocked.json()["fix"]
    assert "-p 'Tiny budget'" in blocked.json()["fix"]  # a command in a message is quoted so it runs
    r = client.post(f"{V1}/generations", json={**final, "override_reason": "client call at 3"})
    assert r.status_code == 202, r.text
    job = wait_status(client, r.json()["job_id"], {"succeeded"})
    assert job["assets"][0]["params"]["milestone"]["name"] == "m1"

    closed = client.post(f"{url}/milestones/m1/close", json={"reason": "shipped"})
    assert closed.status_code == 200 and closed.json()["milestone"]["closed"] is True
    listed = client.get(f"{url}/milestones").json()
    assert [(m["name"], m["closed"]) for m in listed["milestones"]] == [("m1", True)] and listed["current"] is None
    again = client.post(f"{url}/milestones/m1/close", json={})
    assert again.status_code == 422 and again.json()["field"] == "milestone"

    audit = client.get(f"{url}/audit").json()["audit"]
    assert [a["action"] for a in audit] == ["budget.grant", "milestone.create", "budget.grant", "budget.daily_limit",
                                            "policy.change", "policy.override", "milestone.close"]
    override = audit[5]
    assert override["reason"] == "client call at 3" and override["detail"]["rules"] == ["final-cap"]
    assert override["detail"]["role"] == "admin" and override["detail"]["milestone"] == "m1"
    kinds = {e["kind"] for e in client.get(f"{url}/ledger").json()["entries"]}
    assert {"grant", "reserve", "commit"} <= kinds


def test_a_designer_sees_guardrails_but_cannot_change_them_or_override(client, services):
    from tierflow.storage.users_repo import UsersRepo

    make_project(services, "team", min_drafts=5)
    with services.db.transaction() as s:
        users = UsersRepo(s)
        users.create("ada", "admin")
        users.create("dan", "designer")
        _, token = users.create_token("dan")
    dan = {"Authorization": f"Bearer {token}"}
    url = f"{V1}/projects/team"
    assert client.get(f"{url}/policies", headers=dan).json()["min_drafts"] == 5
    assert client.get(f"{url}/budget", headers=dan).status_code == 200
    assert client.get(f"{url}/audit", headers=dan).status_code == 200
    for method, path, body in [("put", "/policies", {"final_cap": 9}), ("post", "/budget/grants", {"amount": 5}),
                               ("put", "/daily-limits/dan", {"limit": 100})]:
        r = client.request(method, f"{url}{path}", json=body, headers=dan)
        assert r.status_code == 403 and r.json()["field"] == "role", (path, r.text)
    client.post(f"{url}/milestones", json={"name": "m1"}, headers=dan)
    assert client.post(f"{url}/milestones/m1/close", json={}, headers=dan).status_code == 403
    d = draft(services, "team", "a fox", n=1, seed=1, size=SMALL, steps=1).assets[0]
    r = client.post(f"{V1}/generations", headers=dan, json={"stage": "final", "asset_id": d.id, "size": SMALL,
                                                            "steps": 1, "override_reason": "please"})
    assert r.status_code == 403 and r.json()["field"] == "override"
    assert [a["action"] for a in client.get(f"{url}/audit", headers=dan).json()["audit"]] == ["milestone.create"]
