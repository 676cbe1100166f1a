"""A hosted output that arrives with its own C2PA manifest keeps it as an ingredient of the export."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tierflow.domain.models import Stage
from tierflow.engines.base import RenderRequest
from tierflow.engines.hosted.fakes import FakeFal, fal_server
from tierflow.engines.hosted.fal import FalFluxEngine
from tierflow.engines.hosted.retry import RetryPolicy
from tierflow.provenance import c2pa_manifest, signer, sources
from tierflow.provenance.export import export_asset
from tierflow.provenance.verify import verify_bytes
from tierflow.stages.runner import RenderPlan, run_plan

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, timeout=2.0, total=10.0)


@pytest.fixture()
def provider(tmp_path, monkeypatch):
    """The fake fal signs what it delivers with its own CA, as the real providers do."""
    home = tmp_path / "provider"
    home.mkdir()
    identity = signer.signing_identity(home)
    plain = fal_server.gradient_png

    def signed_png(width, height, key):
        manifest = {"claim_generator_info": [{"name": "fake-fal", "version": "1"}], "title": "fal output",
                    "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
                        {"action": "c2pa.created", "digitalSourceType": c2pa_manifest.IPTC + "trainedAlgorithmicMedia",
                         "description": "made by the provider"}]}}]}
        return c2pa_manifest.sign(plain(width, height, key), "png", manifest, [], chain_pem=identity.chain_pem,
                                  key_pem=identity.key_pem, anchors="")

    monkeypatch.setattr(fal_server, "gradient_png", signed_png)
    return home / "credentials" / "ca.pem"


def hosted_draft(services, project_id, parent=None):
    """A fal render stored through the runner: txt2img, or img2img from ``parent`` as a final."""
    with FakeFal(key="k") as fake:
        if parent is None:
            engine = FalFluxEngine("fal-flux-schnell", base_url=fake.url, key="k", retry=FAST)
            request = RenderRequest(task="txt2img", prompt="a fox", width=256, height=256, seeds=[3])
        else:
            engine = FalFluxEngine("fal-flux-dev", base_url=fake.url, key="k", retry=FAST)
            init = Image.open(io.BytesIO(services.blobs.get(parent.sha256, "png"))).convert("RGB")
            request = RenderRequest(task="img2img", prompt="a fox", width=256, height=256, seeds=[3],
                                    init_image=init, strength=0.5)
        plan = RenderPlan(project_id=project_id, stage=Stage.DRAFT if parent is None else Stage.FINAL,
                          engine=engine, request=engine.prepare(request),
                          parent_ids=[] if parent is None else [parent.id])
        return run_plan(services, plan).assets[0]


def test_the_providers_manifest_is_kept_and_becomes_the_parent_ingredient(services, chain, provider, tmp_path,
                                                                            monkeypatch):
    asset = hosted_draft(services, chain.project.id)
    ref = asset.params["c2pa_source"]
    assert ref["provider"] == "fal" and ref["format"] == "png"
    home = services.settings.home
    stored = services.blobs.get(asset.sha256, "png")
    assert not sources.carries_manifest(stored)  # the re-encoded blob lost it; the kept file has it
    assert sources.load(home, ref) is not None
    data = export_asset(services, asset.id, tmp_path / "hosted.png")["path"].read_bytes()
    report = verify_bytes(data, home, fmt="png")
    assert [a["action"] for a in report["actions"]] == ["c2pa.opened", "c2pa.transcoded"]
    link = report["chain"][1]
    assert link["title"] == "fal output" and link["relationship"] == "parentOf" and link["actions"] == ["c2pa.created"]
    # The provider's CA is no anchor of this workspace: intact, untrusted, and the report says where.
    assert report["status"] == "untrusted" and report["first_failure"].startswith("ingredient fal output")
    # A workspace that trusts the provider's root (TIERFLOW_TRUST_ANCHORS) exports a valid chain.
    monkeypatch.setenv("TIERFLOW_TRUST_ANCHORS", str(provider))
    data = export_asset(services, asset.id, tmp_path / "trusted.png")["path"].read_bytes()
    assert verify_bytes(data, home, fmt="png")["status"] == "valid"


def test_an_output_without_a_manifest_records_no_source(services, chain):
    asset = hosted_draft(services, chain.project.id)
    assert "c2pa_source" not in asset.params


def test_a_hosted_final_from_a_draft_has_the_providers_file_as_parent_and_the_draft_as_input(
        services, chain, provider, tmp_path, monkeypatch):
    monkeypatch.setenv("TIERFLOW_TRUST_ANCHORS", str(provider))
    final = hosted_draft(services, chain.project.id, parent=chain.draft)
    data = export_asset(services, final.id, tmp_path / "final.png")["path"].read_bytes()
    report = verify_bytes(data, services.settings.home, fmt="png")
    assert report["status"] == "valid", report["message"]
    links = {link["title"]: link for link in report["chain"]}
    assert links["fal output"]["relationship"] == "parentOf"
    assert links[f"draft {chain.draft.id}.png"]["relationship"] == "inputTo"
    assert report["actions"][1]["parameters"]["org.tierflow.inputs"] == [chain.draft.id]
