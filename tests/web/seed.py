"""Bulk rows for gallery tests: many assets sharing one real PNG blob, written straight to the database."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import insert

from tierflow.domain.ids import new_id
from tierflow.domain.models import JobStatus, Stage
from tierflow.storage.generations_repo import GenerationsRepo
from tierflow.storage.projects_repo import ProjectsRepo
from tierflow.storage.tables import AssetRow


def png_blob(services, colour=(40, 90, 160)) -> tuple[str, int]:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, format="PNG")
    sha, _ = services.blobs.put(buf.getvalue(), "png")
    return sha, len(buf.getvalue())


def seed_gallery(services, project: str, rows: list[dict], newest: datetime) -> list[str]:
    """Insert ``rows`` (prompt, stage, review, engine, created_at?) as assets; returns their ids, newest first."""
    sha, size = png_blob(services)
    with services.db.transaction() as s:
        prj = ProjectsRepo(s).create(project, min_drafts=0)
        gen = GenerationsRepo(s).create(project_id=prj.id, stage=Stage.DRAFT, engine_id="tiny-draft", params={},
                                        prompt_id=None, milestone_id=None, user_id=None, status=JobStatus.SUCCEEDED)
        values = []
        for i, r in enumerate(rows):
            values.append(dict(
                id=new_id("ast"), project_id=prj.id, generation_id=gen.id, stage=r.get("stage", "draft"), kind="image",
                format="png", width=64, height=64, sha256=sha, size_bytes=size, seed=i, engine_id=r.get("engine", "tiny-draft"),
                prompt_id=None, prompt_text=r["prompt"], params={"seeded": True}, review=r.get("review", "unreviewed"),
                tags=[], created_at=r.get("created_at") or newest - timedelta(seconds=i)))
        s.connection().execute(insert(AssetRow.__table__), values)  # Core executemany: 20k rows in ~1 s
    return [v["id"] for v in sorted(values, key=lambda v: (v["created_at"], v["id"]), reverse=True)]


def link(services, child: str, parent: str) -> None:
    """A lineage edge: ``child`` was made from ``parent``."""
    from tierflow.storage.tables import AssetParentRow

    with services.db.transaction() as s:
        s.add(AssetParentRow(asset_id=child, parent_id=parent, position=0))


def seed_prompts(services, project: str, texts: list[str]) -> None:
    with services.db.transaction() as s:
        repo = ProjectsRepo(s)
        prj = repo.get(project)
        for text in texts:
            repo.prompt(prj.id, text)
