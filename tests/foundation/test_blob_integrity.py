"""A damaged blob is caught on every read and restored by `fsck --repair`, bit for bit.

Four bytes of a stored draft overwritten, or its file deleted: export, promote, the REST file
route and fsck each report it cleanly (a non-zero exit or 409, one line naming the asset, no
traceback); the other assets of the project still read; `fsck --repair` re-renders the draft from
its recorded engine, revision and seed on the tiny preset, and the blob is the original byte for byte.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tierflow.delivery.cli import context
from tierflow.delivery.cli.app import main
from tierflow.domain.errors import BlobCorrupt, BlobMissing
from tierflow.maintenance.fsck import fsck
from tierflow.stages.draft import draft
from tierflow.stages.promote import promote
from tierflow.stages.review import review
from tierflow.storage.blobs import verify

SMALL = "64x64"


@pytest.fixture()
def cli(home, capsys):
    """`tierflow ARGS` in this process on the test's TIERFLOW_HOME: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        context.services.cache_clear()
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 0
        finally:
            if context.services.cache_info().currsize:
                context.services().close()
            context.services.cache_clear()
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


@pytest.fixture()
def made(services, project):
    """Two drafts (the second kept) and a final promoted from it.

    Drafts are stored as JPEG previews with their latent; keeping one stores its full decode as a
    PNG (stages/decode.py), so the kept asset is the one ``review`` returns.
    """
    drafts = draft(services, project.id, "a lighthouse at dusk", n=2, seed=11, size=SMALL).assets
    kept = review(services, drafts[1].id, "keep", seconds=1)
    assert drafts[0].format == "jpg" and kept.format == "png"
    final = promote(services, kept.id, strength=0.5, size=SMALL).assets[0]
    return drafts[0], kept, final


def _damage(services, asset, how: str) -> bytes:
    path = services.blobs.path_for(asset.sha256, asset.format)
    original = path.read_bytes()
    if how == "overwrite":
        data = bytearray(original)
        data[200:204] = bytes(b ^ 0xFF for b in data[200:204])
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    return original


@pytest.mark.parametrize("how", ["overwrite", "delete"])
def test_a_damaged_blob_is_reported_by_every_door_and_repaired_bit_identically(services, made, cli, tmp_path,
                                                                              how):
    other, kept, final = made
    original = _damage(services, kept, how)
    error = BlobMissing if how == "delete" else BlobCorrupt

    from tierflow.stages.sources import load_image

    with pytest.raises(error, match=kept.id):  # what every stage reads its source through
        load_image(services, kept)

    code, _, err = cli("export", kept.id, "--out", str(tmp_path / "k.png"))
    assert code == error.exit_code and kept.id in err and "fsck --repair" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "k.png").exists()

    code, _, err = cli("promote", kept.id, "--strength", "0.5", "--size", SMALL)
    assert code == error.exit_code and kept.id in err and len(err.strip().splitlines()) == 1

    from tierflow.delivery.api.app import create_app

    with TestClient(create_app(services)) as client:
        r = client.get(f"/api/v1/assets/{kept.id}/file")
        assert r.status_code == 409 and kept.id in r.json()["detail"], r.text
        assert r.json()["error"] == error.kind
        assert client.get(f"/api/v1/assets/{other.id}/file").status_code == 200  # the rest still reads
        assert client.get(f"/api/v1/assets/{final.id}/file").status_code == 200
        report = client.get("/api/v1/admin/fsck").json()
        assert report["ok"] is False
        assert [d["asset_id"] for d in report["missing" if how == "delete" else "corrupt"]] == [kept.id]

    code, out, _ = cli("fsck", "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    damaged = report["missing"] + report["corrupt"]
    assert [d["asset_id"] for d in damaged] == [kept.id]  # nothing else in the project is affected
    assert report["orphans"] == [] and report["lineage"] == []

    code, out, _ = cli("fsck", "--repair")
    assert code == 0 and f"repaired  {kept.id}" in out
    assert services.blobs.path_for(kept.sha256, "png").read_bytes() == original
    assert cli("export", kept.id, "--out", str(tmp_path / "k.png"))[0] == 0
    assert cli("fsck")[0] == 0


def test_repair_restores_a_damaged_parent_before_the_final_made_from_it(services, made):
    _, kept, final = made
    originals = {kept.id: _damage(services, kept, "overwrite"), final.id: _damage(services, final, "delete")}
    report = fsck(services, repair=True)
    assert [r["asset_id"] for r in report.repaired] == [kept.id, final.id] and report.ok
    for asset in (kept, final):
        assert services.blobs.path_for(asset.sha256, "png").read_bytes() == originals[asset.id]


def test_what_cannot_be_rendered_again_exactly_is_named_not_guessed(services, made):
    from tierflow.storage.tables import AssetRow

    _, kept, _ = made
    with services.db.transaction() as s:  # a library update: the recorded revision is no longer the engine's
        row = s.get(AssetRow, kept.id)
        row.params = {**row.params, "revision": "an-older-revision"}
    _damage(services, kept, "delete")
    report = fsck(services, repair=True)
    assert report.repaired == [] and not report.ok
    assert "an-older-revision" in report.unrepaired[0]["reason"] and report.unrepaired[0]["asset_id"] == kept.id
    assert not services.blobs.exists(kept.sha256, "png")  # nothing written that is not the recorded bytes


def test_orphan_blobs_are_reported_and_left_to_the_grace_period(services, made):
    old_sha, _ = services.blobs.put(b"left by a killed render", "png")
    report = fsck(services, repair=True)
    assert [o["blob"] for o in report.orphans] == [f"{old_sha}.png"] and not report.orphans[0]["removable"]
    assert report.orphans_removed == 0 and services.blobs.exists(old_sha, "png")  # may be a live render's
    assert report.ok  # an orphan is clutter, not damage


def test_lineage_pointing_nowhere_is_reported(services, made, home):
    import sqlite3

    if not services.settings.db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL enforces the lineage foreign keys; only a SQLite file edited by hand can dangle")
    with sqlite3.connect(home / "tierflow.db") as db:  # foreign keys are off on a plain connection
        db.execute("INSERT INTO asset_parents (asset_id, parent_id, position) VALUES (?, 'ast_gone', 0)",
                   (made[0].id,))
    report = fsck(services)
    assert not report.ok and [d["points_to"] for d in report.lineage] == ["ast_gone"]
    assert made[0].id in report.lineage[0]["problem"]


def test_verify_is_the_check_every_store_reads_through():
    import hashlib

    data = b"pixels"
    sha = hashlib.sha256(data).hexdigest()
    assert verify(sha, data) == data
    with pytest.raises(BlobCorrupt, match="fsck --repair"):
        verify(sha, b"pixelz")


def test_repair_restores_a_draft_preview_and_a_draft_latent_bit_identically(services, made):
    """An unkept draft is a JPEG preview; a kept one still names its .npy latent: both re-render exactly."""
    other, kept, _ = made
    ref = kept.params["latent"]
    latent_path = services.blobs.path_for(ref["sha256"], ref["format"])
    latent_original = latent_path.read_bytes()
    latent_path.unlink()
    preview_original = _damage(services, other, "overwrite")
    report = fsck(services)
    assert sorted(d["asset_id"] for d in report.missing + report.corrupt) == sorted([other.id, kept.id])
    assert any("draft latent" in d["problem"] for d in report.missing)
    report = fsck(services, repair=True)
    assert sorted(r["asset_id"] for r in report.repaired) == sorted([other.id, kept.id]) and report.ok
    assert services.blobs.path_for(other.sha256, "jpg").read_bytes() == preview_original
    assert latent_path.read_bytes() == latent_original
