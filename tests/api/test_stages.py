"""Production stages over REST: inpaint (upload or data URL), outpaint, upscale, video as jobs; overlay at once."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.api.sse import parse
from tierflow.domain.models import Tier
from tierflow.storage.tables import GenerationRow

V1 = "/api/v1"
UNKNOWN = "ast_0123456789abcdef"


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def square_mask(size=(64, 64), box=(16, 16, 48, 48)) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def data_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png(image)).decode()


def generations(services) -> int:
    with services.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(GenerationRow)))


def finished_asset(client, accepted: dict, headers=None) -> dict:
    """Follow the job's events to the end; the one asset it produced."""
    events = parse(client.get(accepted["events_url"], headers=headers).text)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished", events
    (asset,) = [e["data"]["asset"] for e in events if e["event"] == "asset"]
    return asset


def post(client, asset_id: str, stage: str, body=None, **kw):
    return client.post(f"{V1}/assets/{asset_id}/{stage}", json=body, **kw)


# -- inpaint -------------------------------------------------------------------------------
def test_inpaint_from_a_data_url_is_a_cleanup_child_that_keeps_unmasked_pixels(client, drafts):
    source = drafts[0]
    r = post(client, source.id, "inpaint", {"prompt": "a blue door", "mask": data_url(square_mask()), "steps": 2})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["events_url"] == f"{V1}/generations/{job['job_id']}/events" and job["status"] == "queued"
    asset = finished_asset(client, job)
    assert asset["stage"] == "cleanup" and asset["parent_ids"] == [source.id]
    assert (asset["width"], asset["height"]) == (64, 64) and asset["prompt"] == "a blue door"
    assert asset["params"]["unmasked_max_delta"] == 0 and asset["params"]["mask_share"] == pytest.approx(0.25)
    shown = client.get(f"{V1}/generations/{job['job_id']}").json()
    assert shown["status"] == "succeeded" and shown["stage"] == "cleanup"


def test_inpaint_from_a_multipart_upload(client, drafts):
    files = {"mask": ("mask.png", png(square_mask(box=(0, 0, 32, 64))), "image/png")}
    form = {"prompt": "snow", "steps": "2", "seed": "5"}
    r = client.post(f"{V1}/assets/{drafts[1].id}/inpaint", files=files, data=form)
    assert r.status_code == 202, r.text
    asset = finished_asset(client, r.json())
    assert asset["parent_ids"] == [drafts[1].id] and asset["seed"] == 5
    assert asset["params"]["mask_share"] == pytest.approx(0.5)


def test_bad_inpaint_requests_name_the_field_and_queue_nothing(client, services, drafts):
    source = drafts[0].id
    before = generations(services)
    good = {"prompt": "a door", "mask": data_url(square_mask())}
    grey = Image.new("L", (64, 64), 128)
    jpeg_url = "data:image/jpeg;base64," + base64.b64encode(png(square_mask().convert("RGB"), "JPEG")).decode()
    gif_url = "data:image/png;base64," + base64.b64encode(b"GIF89a....").decode()
    cases = [
        (source, good | {"mask": data_url(square_mask((32, 32), (0, 0, 16, 16)))}, 422, "mask", "32x32"),
        (source, good | {"mask": data_url(grey)}, 422, "mask", "grey"),
        (source, good | {"mask": data_url(Image.new("L", (64, 64), 0))}, 422, "mask", "all black"),
        (source, good | {"mask": jpeg_url}, 422, "mask", "data url"),
        (source, good | {"mask": "data:image/png;base64,!!!notbase64"}, 422, "mask", "base64"),
        (source, good | {"mask": gif_url}, 422, "mask", "not a png"),
        (source, good | {"mask": data_url(Image.new("L", (9000, 8), 255))}, 422, "mask", "9000x8"),
        (source, {"mask": good["mask"]}, 422, "prompt", "required"),
        (source, good | {"strength": 2}, 422, "strength", ""),
        (source, good | {"engine": "nope"}, 422, "engine", ""),
        (UNKNOWN, good, 404, "asset", ""),
        ("../etc", good, 404, None, ""),  # the path does not match the route at all
        ("ast_bad!", good, 422, "asset_id", ""),
    ]
    for asset_id, body, status, field, words in cases:
        r = post(client, asset_id, "inpaint", body)
        assert r.status_code == status, (body.get("mask", "")[:40], r.text)
        err = r.json()
        assert err["field"] == field and words in err["message"].lower(), err
        if status == 422:
            assert err["fix"], err

    jpeg = {"mask": ("mask.jpg", png(square_mask().convert("RGB"), "JPEG"), "image/jpeg")}
    r = client.post(f"{V1}/assets/{source}/inpaint", files=jpeg, data={"prompt": "x"})
    assert r.status_code == 422 and r.json()["field"] == "mask" and "image/jpeg" in r.json()["message"]
    text_part = {"other": ("a.txt", b"x", "text/plain")}
    r = client.post(f"{V1}/assets/{source}/inpaint", files=text_part, data={"prompt": "x"})
    assert r.status_code == 422 and r.json()["field"] == "mask"
    big = {"mask": ("mask.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (8 * 1024 * 1024 + 1), "image/png")}
    r = client.post(f"{V1}/assets/{source}/inpaint", files=big, data={"prompt": "x"})
    assert r.status_code == 422 and r.json()["field"] == "mask" and "8 MB" in r.json()["message"]
    assert generations(services) == before


# -- outpaint, upscale ---------------------------------------------------------------------
def test_outpaint_extends_the_canvas(client, drafts):
    r = post(client, drafts[0].id, "outpaint", {"right": 16, "top": 8, "steps": 2})
    assert r.status_code == 202, r.text
    asset = finished_asset(client, r.json())
    assert asset["stage"] == "cleanup" and (asset["width"], asset["height"]) == (80, 72)
    assert asset["parent_ids"] == [drafts[0].id] and asset["params"]["cleanup"] == "outpaint"
    bad = (({}, "left"), ({"left": -4}, "left"), ({"bottom": 5000}, "bottom"), ({"left": 8, "feather": -1}, "feather"))
    for body, field in bad:
        r = post(client, drafts[0].id, "outpaint", body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)


def test_upscale_doubles_the_size_and_warns_when_not_ready(client, drafts):
    r = post(client, drafts[0].id, "upscale", {"to": "x2"})
    assert r.status_code == 202, r.text
    warnings = r.json()["warnings"]
    assert any("never reviewed" in w for w in warnings) and any("never cleaned" in w for w in warnings)
    asset = finished_asset(client, r.json())
    assert asset["stage"] == "upscale" and (asset["width"], asset["height"]) == (128, 128)
    assert asset["parent_ids"] == [drafts[0].id]
    for to, words in (("x0.5", "not larger"), ("x1", "not larger"), ("huge", "not a target")):
        r = post(client, drafts[0].id, "upscale", {"to": to})
        assert r.status_code == 422 and r.json()["field"] == "to" and words in r.json()["message"], r.text
    assert post(client, UNKNOWN, "upscale", {"to": "x2"}).status_code == 404


# -- video ---------------------------------------------------------------------------------
def test_video_is_an_mp4_child_and_a_video_of_a_video_is_refused(client, services, drafts):
    r = post(client, drafts[0].id, "video", {"prompt": "snow falls", "seconds": 0.5, "fps": 8, "steps": 1})
    assert r.status_code == 202, r.text
    clip = finished_asset(client, r.json())
    assert clip["stage"] == "video" and clip["kind"] == "video" and clip["format"] == "mp4"
    assert clip["params"]["frames"] == 5 and clip["params"]["fps"] == 8 and clip["parent_ids"] == [drafts[0].id]
    assert client.get(clip["file_url"]).content[4:8] == b"ftyp"
    before = generations(services)
    r = post(client, clip["id"], "video", {"prompt": "more snow", "seconds": 0.5, "fps": 8})
    assert r.status_code == 422 and r.json()["field"] == "asset" and "video" in r.json()["message"], r.text
    for stage, body in (("upscale", {"to": "x2"}), ("outpaint", {"left": 8}), ("overlay", {"text": "hi"})):
        r = post(client, clip["id"], stage, body)
        assert r.status_code == 422 and r.json()["field"] == "asset", (stage, r.text)
    for body, field in (({"prompt": "x", "seconds": 99}, "seconds"), ({"prompt": "x", "fps": 0}, "fps"),
                        ({"seconds": 1}, "prompt"), ({"prompt": "x", "seconds": 1, "frames": 9}, "seconds")):
        r = post(client, drafts[0].id, "video", body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    assert generations(services) == before


# -- overlay -------------------------------------------------------------------------------
def test_overlay_answers_201_with_the_new_asset_and_its_layer(client, drafts):
    body = {"text": "SALE", "size": 20, "color": "#ff0000", "position": "bottom", "stroke": 1, "shadow": [1, 1]}
    r = post(client, drafts[0].id, "overlay", body)
    assert r.status_code == 201, r.text
    out = r.json()
    asset = out["asset"]
    assert asset["stage"] == "overlay" and asset["parent_ids"] == [drafts[0].id] and out["credits"] == 0
    layer = asset["params"]["layer"]
    assert layer["text"] == "SALE" and layer["color"] == "#ff0000" and layer["shadow_offset"] == [1, 1]
    pixels = Image.open(io.BytesIO(client.get(asset["file_url"]).content)).convert("RGB")
    source = Image.open(io.BytesIO(client.get(f"{V1}/assets/{drafts[0].id}/file").content)).convert("RGB")
    assert pixels.size == source.size and pixels.tobytes() != source.tobytes()
    r = post(client, drafts[0].id, "overlay", {"text": "Hi", "position": "4, 4", "size": 10})
    assert r.status_code == 201 and r.json()["asset"]["params"]["layer"]["position"] == [4, 4]
    for bad, field in (({"text": "x", "font": "/etc/passwd"}, "font"), ({"text": "x", "color": "notacolour"}, "color"),
                       ({"text": "x", "position": "middle"}, "position"), ({"text": ""}, "text"),
                       ({"text": "x", "box": [0, 0, 1]}, "box")):
        r = post(client, drafts[0].id, "overlay", bad)
        assert r.status_code == 422 and r.json()["field"] == field, (bad, r.text)
    assert post(client, UNKNOWN, "overlay", {"text": "x"}).status_code == 404


# -- quotes --------------------------------------------------------------------------------
def test_quote_prices_each_stage_and_queues_nothing(client, services, drafts, home):
    from tierflow.guardrails.guard import LedgerGuard

    services.guard = LedgerGuard(home=home)  # the open guard prices everything at 0
    before = generations(services)
    calls = [("inpaint", {"prompt": "a door", "mask": data_url(square_mask())}, Tier.CLEANUP),
             ("outpaint", {"left": 16}, Tier.CLEANUP), ("upscale", {"to": "x2"}, Tier.UPSCALE),
             ("video", {"prompt": "snow", "seconds": 0.5, "fps": 8}, Tier.VIDEO)]
    for stage, body, tier in calls:
        r = client.post(f"{V1}/assets/{drafts[0].id}/{stage}", params={"quote": "true"}, json=body)
        assert r.status_code == 200, r.text
        quote = r.json()
        assert quote["credits"] > 0 and quote["engine_id"] == services.engines.for_tier(tier).id, quote
    assert generations(services) == before


# -- authorization -------------------------------------------------------------------------
@pytest.fixture()
def team(services):
    """dee, a designer in 'ours' (private) but not in 'theirs' (private); ada the admin; a draft in each."""
    from tierflow.storage.users_repo import UsersRepo
    from tierflow.stages.draft import draft
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        ProjectsRepo(s).create("ours", private=True, min_drafts=0)
        ProjectsRepo(s).create("theirs", private=True, min_drafts=0)
        users = UsersRepo(s)
        users.create("ada", "admin")
        users.create("dee", "designer")
        users.add_member("ours", "dee")
        tokens = {n: {"Authorization": f"Bearer {users.create_token(n)[1]}"} for n in ("ada", "dee")}
    assets = {p: draft(services, p, "a red fox", n=1, seed=3, size="64x64", steps=1).assets[0]
              for p in ("ours", "theirs")}
    return tokens, assets


STAGE_BODIES = {"inpaint": {"prompt": "a door", "mask": data_url(square_mask())}, "outpaint": {"left": 8},
                "upscale": {"to": "x2"}, "video": {"prompt": "snow", "seconds": 0.5, "fps": 8},
                "overlay": {"text": "hi"}}


def test_every_stage_route_needs_a_token_and_read_access(client, services, team):
    tokens, assets = team
    before = generations(services)
    for stage, body in STAGE_BODIES.items():
        r = post(client, assets["theirs"].id, stage, body)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", (stage, r.text)
        r = post(client, assets["theirs"].id, stage, body, headers=tokens["dee"])
        assert r.status_code == 403 and r.json()["error"] == "permission_denied", (stage, r.text)
        r = post(client, UNKNOWN, stage, body, headers=tokens["dee"])
        assert r.status_code == 404, (stage, r.text)
    r = client.post(f"{V1}/assets/{assets['theirs'].id}/upscale", params={"quote": "true"}, json={"to": "x2"},
                    headers=tokens["dee"])
    assert r.status_code == 403
    assert generations(services) == before
    r = post(client, assets["ours"].id, "upscale", {"to": "x2"}, headers=tokens["dee"])
    assert r.status_code == 202, r.text
    assert client.get(r.json()["events_url"]).status_code == 401
    assert finished_asset(client, r.json(), tokens["dee"])["parent_ids"] == [assets["ours"].id]
    r = post(client, assets["theirs"].id, "overlay", {"text": "hi"}, headers=tokens["ada"])
    assert r.status_code == 201 and r.json()["asset"]["parent_ids"] == [assets["theirs"].id]
