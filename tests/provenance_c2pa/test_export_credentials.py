"""Exports carry a signed C2PA manifest of their whole lineage; `tierflow verify` checks it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import c2pa
import pytest

from tierflow.provenance import signer
from tierflow.provenance.export import export_asset
from tierflow.provenance.png import COMPOSITE, read_png_metadata
from tierflow.provenance.verify import verify_bytes


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "tierflow", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def read_store(data: bytes, anchors: str | None) -> tuple[str, dict]:
    """c2pa-python's own Reader, independent of tierflow's verify code."""
    ctx = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False},
                                  **({"trust": {"user_anchors": anchors}} if anchors else {})})
    with c2pa.Reader("image/png", io.BytesIO(data), context=ctx) as reader:
        store = json.loads(reader.json())
        return reader.get_validation_state(), store


def all_actions(store: dict) -> list[tuple[str, str, str]]:
    """(manifest title, action, description) over every manifest in the store."""
    out = []
    for m in store["manifests"].values():
        for a in m["assertions"]:
            if a["label"].startswith("c2pa.actions"):
                out += [(m["title"], x["action"], x.get("description", "")) for x in a["data"]["actions"]]
    return out


@pytest.fixture(scope="module")
def exported(services, chain, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "overlay.png"
    return export_asset(services, chain.overlay.id, out)


def test_the_export_of_a_final_through_inpaint_upscale_overlay_lists_every_step_valid_and_trusted(
        services, chain, exported, credentials_home):
    assert exported["credentials"]["signed"] and exported["credentials"]["source"] == "workspace"
    data = exported["path"].read_bytes()
    ca = (credentials_home / "credentials" / "ca.pem").read_text()
    state, store = read_store(data, ca)
    assert state == "Trusted"
    assert read_store(data, None)[0] == "Valid"  # intact, but untrusted until the CA is an anchor
    manifests = store["manifests"]
    assert len(manifests) == 5  # overlay, upscale, inpaint, final, draft: each signed in turn
    by_stage = {m["title"].split()[0]: m for m in manifests.values()}
    assert set(by_stage) == {"overlay", "upscale", "cleanup", "final", "draft"}
    for stage, parent in [("overlay", chain.upscale), ("upscale", chain.cleanup), ("cleanup", chain.final),
                          ("final", chain.draft)]:
        ingredients = by_stage[stage]["ingredients"]
        assert [i["title"] for i in ingredients] == [f"{parent.stage.value} {parent.id}.png"]
        assert ingredients[0]["active_manifest"] in manifests  # the ingredient carries its own manifest
    assert by_stage["final"]["ingredients"][0]["relationship"] == "inputTo"
    assert by_stage["overlay"]["ingredients"][0]["relationship"] == "parentOf"
    actions = {(t.split()[0], a) for t, a, _ in all_actions(store)}
    assert {("draft", "c2pa.created"), ("final", "c2pa.created"), ("cleanup", "c2pa.opened"),
            ("cleanup", "c2pa.edited"), ("upscale", "c2pa.opened"), ("upscale", "c2pa.resized"),
            ("overlay", "c2pa.opened"), ("overlay", "c2pa.edited")} <= actions
    created = next(a for a in by_stage["final"]["assertions"] if a["label"] == "c2pa.actions.v2")["data"]["actions"][0]
    assert created["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert created["parameters"]["org.tierflow.seed"] == chain.final.seed
    assert created["parameters"]["org.tierflow.engine"] == chain.final.engine_id
    assert created["parameters"]["org.tierflow.model"] == chain.final.params["model"]
    assert "org.tierflow.revision" in created["parameters"] or chain.final.params.get("revision") is None
    inpaint_edit = [x for t, x, _ in all_actions(store) if t.startswith("cleanup")]
    assert inpaint_edit == ["c2pa.opened", "c2pa.edited"]
    # tierflow's own verify agrees, and names the chain.
    report = verify_bytes(data, credentials_home, fmt="png")
    assert report["status"] == "valid" and report["ok"] and report["exit_code"] == 0
    assert [link["title"].split()[0] for link in report["chain"]] == ["overlay", "upscale", "cleanup", "final",
                                                                       "draft"]
    assert all(link["status"] == "valid" for link in report["chain"])


def test_signing_is_the_last_write_and_keeps_the_png_provenance_chunks(services, chain, exported):
    data = exported["path"].read_bytes()
    meta = read_png_metadata(data)
    assert meta["parameters"].startswith("a red boat\nSize: 128x128")  # A1111 parameters
    assert meta["tierflow"]["asset_id"] == chain.overlay.id
    assert meta["digital_source_type"] == COMPOSITE
    assert b"caBX" in data  # the C2PA manifest store chunk
    unsigned = export_asset(services, chain.overlay.id, exported["path"].with_name("plain.png"), sign=False)
    assert read_png_metadata(unsigned["path"].read_bytes())["tierflow"] == meta["tierflow"]


def test_verify_cli_says_valid_and_exits_zero(exported):
    proc = cli("verify", str(exported["path"]), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "valid" and len(report["chain"]) == 5
    human = cli("verify", str(exported["path"]))
    assert human.returncode == 0 and "VALID" in human.stdout and "c2pa.resized" in human.stdout


def test_flipped_bytes_are_tampered_nonzero_and_no_traceback(exported, tmp_path):
    data = bytearray(exported["path"].read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 40] ^= 0xFF  # inside the image data, outside the manifest
    bad = tmp_path / "tampered.png"
    bad.write_bytes(bytes(data))
    proc = cli("verify", str(bad), "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "tampered" and report["first_failure"] == "this file"
    assert any("mismatch" in f["code"] for f in report["failures"])
    human = cli("verify", str(bad))
    assert human.returncode == 1 and "TAMPERED" in human.stdout and "Traceback" not in human.stderr


def test_a_tampered_ingredient_manifest_is_named(services, chain, exported, tmp_path):
    data = bytearray(exported["path"].read_bytes())
    # The draft's description lives only in the draft's own manifest (an ingredient two levels down).
    needle = f"draft render on {chain.draft.engine_id}".encode()
    at = data.index(needle)
    data[at] = ord("D")
    report = verify_bytes(bytes(data), services.settings.home, fmt="png")
    assert report["status"] == "tampered" and report["exit_code"] != 0
    assert report["first_failure"].startswith("ingredient draft ")
    assert chain.draft.id in report["first_failure"]


def test_an_unsigned_file_is_unsigned(services, chain, tmp_path):
    plain = export_asset(services, chain.draft.id, tmp_path / "plain.png", sign=False)
    proc = cli("verify", str(plain["path"]), "--json")
    assert proc.returncode == 11 and json.loads(proc.stdout)["status"] == "unsigned"
    stored = services.blobs.get(chain.draft.sha256, "png")  # drafts are stored unsigned: cheap
    assert verify_bytes(stored, services.settings.home, fmt="png")["status"] == "unsigned"
    missing = cli("verify", str(tmp_path / "nope.png"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "file" in missing.stderr


def test_without_the_workspace_ca_as_anchor_the_export_is_untrusted(exported, tmp_path, monkeypatch):
    other = tmp_path / "client-home"
    other.mkdir()
    report = verify_bytes(exported["path"].read_bytes(), other, fmt="png")
    assert report["status"] == "untrusted" and report["exit_code"] == 10
    ca = cli("credentials", "export-ca", "--out", str(tmp_path / "ca.pem"))
    assert ca.returncode == 0, ca.stderr
    monkeypatch.setenv("TIERFLOW_TRUST_ANCHORS", str(tmp_path / "ca.pem"))
    assert verify_bytes(exported["path"].read_bytes(), other, fmt="png")["status"] == "valid"


def test_key_files_are_private(exported, credentials_home):
    folder = credentials_home / "credentials"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    for key in ("ca.key", "signer.key"):
        assert oct((folder / key).stat().st_mode & 0o777) == "0o600"
    for cert in ("ca.pem", "signer.pem"):
        assert (folder / cert).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_rotation_signs_new_exports_with_the_new_cert_and_old_exports_still_verify(
        services, chain, exported, tmp_path):
    before = json.loads(cli("credentials", "show", "--json").stdout)["signer"]
    proc = cli("credentials", "rotate", "--json")
    assert proc.returncode == 0, proc.stderr
    rotated = json.loads(proc.stdout)
    assert rotated["retired"]["serial"] == before["serial"] != rotated["signer"]["serial"]
    fresh = export_asset(services, chain.final.id, tmp_path / "after.png")
    assert fresh["credentials"]["certificate_sha256"] == rotated["signer"]["sha256"]
    home = services.settings.home
    new_report = verify_bytes(fresh["path"].read_bytes(), home, fmt="png")
    old_report = verify_bytes(exported["path"].read_bytes(), home, fmt="png")
    assert new_report["status"] == old_report["status"] == "valid"
    assert new_report["signer"]["cert_serial_number"] != old_report["signer"]["cert_serial_number"]
    assert oct((home / "credentials" / "signer.key").stat().st_mode & 0o777) == "0o600"
    assert not list((home / "credentials" / "retired").glob("*.key"))


def test_a_configured_certificate_signs_and_rotation_refuses_it(services, chain, tmp_path, monkeypatch):
    other = tmp_path / "team-ca"  # another CA, standing in for the team's real one
    other.mkdir()
    folder = signer.ensure_workspace_credentials(other)
    monkeypatch.setenv("TIERFLOW_SIGNING_CERT", str(tmp_path / "chain.pem"))
    monkeypatch.setenv("TIERFLOW_SIGNING_KEY", str(folder / "signer.key"))
    (tmp_path / "chain.pem").write_bytes((folder / "signer.pem").read_bytes() + (folder / "ca.pem").read_bytes())
    out = export_asset(services, chain.draft.id, tmp_path / "team.png")
    assert out["credentials"]["source"] == "configured"
    data = out["path"].read_bytes()
    assert verify_bytes(data, services.settings.home, fmt="png")["status"] == "untrusted"
    monkeypatch.setenv("TIERFLOW_TRUST_ANCHORS", str(folder / "ca.pem"))
    assert verify_bytes(data, services.settings.home, fmt="png")["status"] == "valid"
    proc = cli("credentials", "rotate")
    assert proc.returncode == 2 and "TIERFLOW_SIGNING_CERT" in proc.stderr
    monkeypatch.delenv("TIERFLOW_SIGNING_KEY")
    with pytest.raises(Exception) as e:
        export_asset(services, chain.draft.id, tmp_path / "half.png")
    assert getattr(e.value, "field", "") == "TIERFLOW_SIGNING_KEY"
    assert not (tmp_path / "half.png").exists()


def test_bad_configured_files_are_one_line_errors_naming_the_variable(tmp_path, monkeypatch):
    (tmp_path / "junk.pem").write_text("not a certificate")
    other = tmp_path / "other"
    other.mkdir()
    folder = signer.ensure_workspace_credentials(other)
    monkeypatch.setenv("TIERFLOW_TRUST_ANCHORS", str(tmp_path / "junk.pem"))
    proc = cli("verify", str(folder / "ca.pem"))
    assert proc.returncode == 2 and "TIERFLOW_TRUST_ANCHORS" in proc.stderr and "Traceback" not in proc.stderr
    monkeypatch.delenv("TIERFLOW_TRUST_ANCHORS")
    monkeypatch.setenv("TIERFLOW_SIGNING_CERT", str(folder / "ca.pem"))  # the CA, not the key's certificate
    monkeypatch.setenv("TIERFLOW_SIGNING_KEY", str(folder / "signer.key"))
    proc = cli("credentials", "show")
    assert proc.returncode == 2 and "TIERFLOW_SIGNING_KEY" in proc.stderr and "first certificate" in proc.stderr
    monkeypatch.setenv("TIERFLOW_SIGNING_CERT", str(tmp_path / "junk.pem"))
    proc = cli("credentials", "show")
    assert proc.returncode == 2 and "TIERFLOW_SIGNING_CERT" in proc.stderr and "Traceback" not in proc.stderr
