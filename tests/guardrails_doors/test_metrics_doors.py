"""One metrics computation: renders and reviews through the CLI and REST, then the same `report` from every door.

The project dashboard draws ``GET /projects/{ref}/metrics`` (static/project.js), the web studio
renders and reviews through the same REST routes as any client; so the dashboard's data is the
REST figures, and those must equal `tierflow report --json` to the last digit.
"""

from __future__ import annotations

import json
import re

from tests.api.sse import wait_status
from tierflow.delivery.web.pages import STATIC_DIR

from .conftest import SMALL, make_project

V1 = "/api/v1"


def test_cli_rest_and_dashboard_report_identical_figures(client, cli, services):
    make_project(services, "doors", min_drafts=0)
    by_cli = json.loads(cli("draft", "a red fox", "-p", "doors", "-n", "2", "--size", SMALL, "--steps", "1",
                            "--seed", "3", "--json")[0])["assets"]
    cli("review", by_cli[0]["id"], "--keep", "--seconds", "3.5")
    cli("review", by_cli[1]["id"], "--discard", "--seconds", "1.25")
    cli("review", by_cli[1]["id"], "--keep", "--seconds", "2")  # a second look: both reviews took time

    r = client.post(f"{V1}/generations", json={"stage": "draft", "project": "doors", "prompt": "a red fox",
                                               "n": 3, "seed": 9, "size": SMALL, "steps": 1})
    by_rest = wait_status(client, r.json()["job_id"], {"succeeded"})["assets"]
    client.post(f"{V1}/assets/{by_rest[0]['id']}/reviews", json={"state": "star", "seconds": 4})
    r = client.post(f"{V1}/generations", json={"stage": "final", "asset_id": by_rest[0]["id"], "size": SMALL,
                                               "steps": 1, "strength": 1.0})
    final = wait_status(client, r.json()["job_id"], {"succeeded"})["assets"][0]
    client.post(f"{V1}/assets/{final['id']}/reviews", json={"state": "keep", "seconds": 6})

    report = json.loads(cli("report", "-p", "doors", "--json")[0])
    rest = client.get(f"{V1}/projects/doors/metrics").json()
    assert rest == report
    assert report["drafts"] == 5 and report["finals"] == 1 and report["usable_assets"] == 1
    assert report["review_seconds"] == 3.5 + 1.25 + 2 + 4 + 6  # every recorded review, once
    assert report["counts"]["draft"]["usable"] == 3
    # latency is per output: a batch's wall time is not counted once per draft
    assert report["latency"]["tiny-draft"]["n"] == 5

    # the dashboard: its page exists and its script draws exactly this route's JSON
    assert client.get("/projects/doors").status_code == 200
    script = (STATIC_DIR / "project.js").read_text(encoding="utf-8")
    assert re.search(r"projects/\$\{enc\}/metrics", script)
    assert "usable_assets" in script and "review_seconds" in script
