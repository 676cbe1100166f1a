"""The rows an integrity check reads: every asset, dangling lineage, the ledger by budget."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from tierflow.domain.ledger import LedgerEntry, ScopeKey
from tierflow.domain.models import Asset
from tierflow.storage.assets_repo import AssetsRepo, to_asset
from tierflow.storage.tables import AssetParentRow, AssetRow, GenerationRow, LedgerEntryRow, ProjectRow


class FsckRepo:
    """Read-only queries over a whole install (no project scoping: fsck is an admin's tool)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def assets(self) -> list[Asset]:
        """Every asset, oldest first (parents before the children made from them)."""
        rows = list(self.s.scalars(select(AssetRow).order_by(AssetRow.created_at, AssetRow.id)))
        parents: dict[str, list[str]] = {}
        for edge in self.s.scalars(select(AssetParentRow).order_by(AssetParentRow.position)):
            parents.setdefault(edge.asset_id, []).append(edge.parent_id)
        return [to_asset(r, parents.get(r.id, [])) for r in rows]

    def referenced_shas(self) -> set[str]:
        """Every blob some asset row names: files and thumbnails."""
        return AssetsRepo(self.s).referenced_shas()

    def dangling_lineage(self) -> list[dict[str, str]]:
        """Lineage edges and asset rows whose other end is not in the database."""
        child, parent = aliased(AssetRow), aliased(AssetRow)
        edges = self.s.execute(
            select(AssetParentRow.asset_id, AssetParentRow.parent_id, child.id, parent.id)
            .outerjoin(child, child.id == AssetParentRow.asset_id)
            .outerjoin(parent, parent.id == AssetParentRow.parent_id)
            .where((child.id.is_(None)) | (parent.id.is_(None))))
        out = []
        for asset_id, parent_id, has_child, has_parent in edges:
            missing = parent_id if has_parent is None else asset_id
            out.append({"asset_id": asset_id, "points_to": missing,
                        "problem": f"lineage edge {asset_id} ← {parent_id}: asset {missing} does not exist"})
        rows = self.s.execute(
            select(AssetRow.id, AssetRow.generation_id, AssetRow.project_id, GenerationRow.id, ProjectRow.id)
            .outerjoin(GenerationRow, GenerationRow.id == AssetRow.generation_id)
            .outerjoin(ProjectRow, ProjectRow.id == AssetRow.project_id)
            .where((GenerationRow.id.is_(None)) | (ProjectRow.id.is_(None))))
        for asset_id, gen_id, project_id, has_gen, has_project in rows:
            missing = f"generation {gen_id}" if has_gen is None else f"project {project_id}"
            out.append({"asset_id": asset_id, "points_to": missing,
                        "problem": f"asset {asset_id} names {missing}, which does not exist"})
        return out

    def ledger_by_scope(self) -> dict[ScopeKey, list[LedgerEntry]]:
        """Every ledger entry, grouped by the budget it counts against, in order."""
        from tierflow.storage.ledger_repo import _entry

        out: dict[ScopeKey, list[LedgerEntry]] = {}
        for row in self.s.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.created_at, LedgerEntryRow.id)):
            entry = _entry(row)
            out.setdefault(ScopeKey(entry.scope, entry.scope_id), []).append(entry)
        return out
