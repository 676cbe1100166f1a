"""Fixtures: one wired service set on the tiny preset and one delivered chain.

The chain is the issue's story: draft → final → inpaint → upscale → overlay, every step a child
asset of the one before; tests export and verify it.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from PIL import Image

from tierflow.bootstrap import build
from tierflow.config import Settings


@pytest.fixture(scope="package")
def credentials_home(tmp_path_factory, models_dir):
    root = tmp_path_factory.mktemp("c2pa-home")
    (root / "models").symlink_to(models_dir, target_is_directory=True)
    return root


@pytest.fixture(scope="package")
def services(credentials_home, models_dir, shared_database):
    svc = build(Settings(home=credentials_home, database_url=shared_database(), preset="tiny",
                         models_path=models_dir))
    yield svc
    svc.close()


@pytest.fixture(autouse=True)
def _home_env(credentials_home, monkeypatch):
    """The CLI reads TIERFLOW_HOME: point it at the services' home; no signer configured by default."""
    monkeypatch.setenv("TIERFLOW_HOME", str(credentials_home))
    monkeypatch.setenv("TIERFLOW_PRESET", "tiny")
    for name in ("TIERFLOW_SIGNING_CERT", "TIERFLOW_SIGNING_KEY", "TIERFLOW_TRUST_ANCHORS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="package")
def chain(services):
    """draft → final → inpaint → upscale ×2 → overlay on 64 px tiny models."""
    from tierflow.imaging.typography import TextLayer
    from tierflow.stages.cleanup import inpaint
    from tierflow.stages.draft import draft
    from tierflow.stages.overlay import overlay
    from tierflow.stages.promote import promote
    from tierflow.stages.review import review
    from tierflow.stages.upscale import upscale
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        project = ProjectsRepo(s).create(f"c2pa-{uuid.uuid4().hex[:8]}", min_drafts=0)
    d = draft(services, project.id, "a lighthouse on a cliff", n=1, seed=11, size="64x64").assets[0]
    d = review(services, d.id, "keep", seconds=1)  # kept: its full decode (PNG) replaces the JPEG preview
    final = promote(services, d.id, strength=0.5, size="64x64").assets[0]
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    cleaned = inpaint(services, final.id, mask, "a red boat").assets[0]
    big = upscale(services, cleaned.id, "x2").assets[0]
    layered = overlay(services, big.id, TextLayer(text="LAUNCH DAY", position="bottom", stroke_width=1)).assets[0]
    return SimpleNamespace(project=project, draft=d, final=final, cleanup=cleaned, upscale=big, overlay=layered)
