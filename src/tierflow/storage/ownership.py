"""Which project an asset or a generation belongs to (access checks ask this for every URL)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tierflow.storage.tables import AssetRow, GenerationRow


def project_of_asset(s: Session, asset_id: str) -> str | None:
    return s.scalar(select(AssetRow.project_id).where(AssetRow.id == asset_id))


def project_of_generation(s: Session, generation_id: str) -> str | None:
    return s.scalar(select(GenerationRow.project_id).where(GenerationRow.id == generation_id))
