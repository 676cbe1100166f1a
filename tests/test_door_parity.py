"""Every operation through every door: one table of operations × doors (CLI, REST, web) that fails when a door lacks one.

A row names the operation's CLI command (words, then an option it needs, if any), its REST method
and path (and a request field it needs, if any), and the web control that runs it (an element id
in a template or static script). Adding an operation is one line in OPERATIONS; a door it truly
does not have is ``None`` with the reason in NO_DOOR, so a missing door is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from tierflow.delivery.web.pages import STATIC_DIR, TEMPLATE_DIR

P = "/api/v1/projects/{ref}"


@dataclass(frozen=True)
class Op:
    name: str
    cli: str | None  # "budget --grant": the command words, then an option the operation needs
    rest: str | None  # "POST /api/v1/generations override_reason": method, path, a request field it needs
    web: str | None  # "project.html#grant-go": the file (templates/ or static/) and the control's id


OPERATIONS = [
    # the flow, in stage order (domain.specs.STAGES)
    Op("draft", "draft", "POST /api/v1/generations prompt", "studio.html#draft-btn"),
    Op("quote a render", "draft --quote", "POST /api/v1/generations", "studio.html#draft-price"),
    Op("review", "review --keep", "POST /api/v1/assets/{asset_id}/reviews state", "asset.html#review-state"),
    Op("promote", "promote --strength", "POST /api/v1/generations strength", "studio.html#promote-go"),
    Op("inpaint", "inpaint --mask", "POST /api/v1/assets/{asset_id}/inpaint", "asset.html#form-inpaint"),
    Op("outpaint", "outpaint --right", "POST /api/v1/assets/{asset_id}/outpaint right", "asset.html#form-outpaint"),
    Op("upscale", "upscale --to", "POST /api/v1/assets/{asset_id}/upscale to", "asset.html#form-upscale"),
    Op("creative pass", "upscale --creative", "POST /api/v1/assets/{asset_id}/upscale creative", "asset.html#upscale-creative"),
    Op("video", "video --prompt", "POST /api/v1/assets/{asset_id}/video prompt", "asset.html#form-video"),
    Op("overlay", "overlay --text", "POST /api/v1/assets/{asset_id}/overlay text", "asset.html#form-overlay"),
    Op("cancel a job", "jobs cancel", "POST /api/v1/generations/{job_id}/cancel", "studio.html#cancel-btn"),
    Op("jobs list", "jobs list", "GET /api/v1/generations", None),
    Op("drift check", "drift-check", f"POST {P}/drift-check threshold", "project.html#drift-check-go"),
    Op("export", "export", "GET /api/v1/assets/{asset_id}/export", "asset.html#export"),
    Op("verify", "verify", "POST /api/v1/verify", "asset.html#credentials"),
    Op("fsck", "fsck --repair", "POST /api/v1/admin/fsck", None),
    Op("gallery search", "gallery --search", "GET /api/v1/assets", "gallery.html#f-search"),
    # guardrails
    Op("policy show", "policy", f"GET {P}/policies", "project.html#policy-form"),
    Op("policy set", "policy --final-cap", f"PUT {P}/policies final_cap", "project.html#policy-save"),
    Op("policy reason", "policy --reason", f"PUT {P}/policies reason", "project.html#policy-reason"),
    Op("budget show", "budget", f"GET {P}/budget", "project.html#balances"),
    Op("budget grant", "budget --grant", f"POST {P}/budget/grants amount", "project.html#grant-go"),
    Op("budget grant reason", "budget --note", f"POST {P}/budget/grants reason", "project.html#grant-reason"),
    Op("milestone budget", "budget --milestone", f"POST {P}/budget/grants milestone", "project.html#grant-milestone"),
    Op("daily limit", "budget --daily-limit", f"PUT {P}/daily-limits/{{user}} limit", "project.html#limit-go"),
    Op("daily spend", "budget --user", f"GET {P}/budget", "project.html#limit-show"),
    Op("milestone create", "milestone create", f"POST {P}/milestones name", "project.html#milestone-create"),
    Op("milestone list", "milestone list", f"GET {P}/milestones", "project.html#milestones"),
    Op("milestone close", "milestone close", f"POST {P}/milestones/{{milestone}}/close", "project.js#close"),
    Op("milestone reopen", "milestone close --reopen", f"POST {P}/milestones/{{milestone}}/reopen", "project.js#reopen"),
    Op("override", "promote --override", "POST /api/v1/generations override_reason", "override.js#override-go"),
    Op("report", "report", f"GET {P}/metrics", "project.js#metrics"),
    Op("report per milestone", "report --milestone", f"GET {P}/metrics", None),
    Op("ledger", "ledger", f"GET {P}/ledger", "project.html#ledger"),
    Op("audit", "audit", f"GET {P}/audit", "project.html#audit"),
]

# A door an operation does not have on purpose, and why (a None above without a reason here fails).
NO_DOOR = {
    ("jobs list", "web"): "the studio follows the jobs it started; the queue as a table is an operator's view (CLI, REST)",
    ("fsck", "web"): "an admin's maintenance run over the whole install, not a page of the studio",
    ("report per milestone", "web"): "the dashboard shows the whole project; per-milestone figures are a query away",
}


def _cli_has(spec: str) -> bool:
    from tierflow.delivery.cli.app import app

    words = spec.split()
    command = typer.main.get_command(app)
    options = [w for w in words if w.startswith("--")]
    for word in [w for w in words if not w.startswith("--")]:
        if word not in getattr(command, "commands", {}):  # a group (Typer's click, not necessarily click's)
            return False
        command = command.commands[word]
    declared = {opt for param in command.params for opt in getattr(param, "opts", [])}
    return all(o in declared for o in options)


@pytest.fixture(scope="module")
def openapi(tmp_path_factory):
    from tierflow.bootstrap import build
    from tierflow.config import Settings
    from tierflow.delivery.api.app import create_app

    services = build(Settings(home=tmp_path_factory.mktemp("parity-home"), preset="tiny"))
    try:
        return create_app(services).openapi()
    finally:
        services.close()


def _rest_has(spec: str, openapi: dict) -> bool:
    method, path, *field = spec.split()
    operation = openapi["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return False
    if not field:
        return True
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    schemas = openapi["components"]["schemas"]
    refs = [body] + body.get("oneOf", []) + body.get("anyOf", [])
    names = {r["$ref"].rsplit("/", 1)[1] for r in refs if "$ref" in r}
    names |= {m.rsplit("/", 1)[1] for r in refs for m in r.get("discriminator", {}).get("mapping", {}).values()}
    return any(field[0] in schemas[n].get("properties", {}) for n in names)


def _web_has(spec: str) -> bool:
    name, _, control = spec.partition("#")
    path = (TEMPLATE_DIR if name.endswith(".html") else STATIC_DIR) / name
    if not path.is_file():
        return False
    text = Path(path).read_text(encoding="utf-8")
    return f'id="{control}"' in text or f'"{control}"' in text or f"#{control}" in text


@pytest.mark.parametrize("op", OPERATIONS, ids=[o.name for o in OPERATIONS])
def test_every_operation_has_every_door(op: Op, openapi):
    for door, spec, check in (("cli", op.cli, _cli_has), ("rest", op.rest, lambda s: _rest_has(s, openapi)),
                              ("web", op.web, _web_has)):
        if spec is None:
            assert (op.name, door) in NO_DOOR, f"{op.name}: no {door} door and no reason in NO_DOOR"
            continue
        assert check(spec), f"{op.name}: the {door} door {spec!r} is missing"


def test_the_checks_can_fail(openapi):
    assert not _cli_has("budget --no-such-option") and not _cli_has("no-such-command")
    assert not _rest_has(f"DELETE {P}/policies", openapi) and not _rest_has(f"PUT {P}/policies no_field", openapi)
    assert not _web_has("project.html#no-such-control") and not _web_has("nothing.html#x")
