"""Reading a server-sent event stream the way a browser's EventSource does."""

from __future__ import annotations

import json
import time


def parse(text: str) -> list[dict]:
    """``[{"id": int|None, "event": str, "data": dict}]`` from an SSE body (comments skipped)."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "event" in fields:
            events.append({"id": int(fields["id"]) if "id" in fields else None, "event": fields["event"],
                           "data": json.loads(fields.get("data", "null"))})
    return events


def wait_status(client, job_id: str, statuses: set[str], timeout: float = 60.0) -> dict:
    """Poll the job until its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/v1/generations/{job_id}").json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.02)
