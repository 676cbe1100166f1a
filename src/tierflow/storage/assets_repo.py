"""Assets, their lineage edges and their reviews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tierflow.domain.errors import NotFound
from tierflow.domain.ids import check_id, new_id
from tierflow.domain.models import Asset, Review, ReviewState, Stage
from tierflow.storage.clock import aware, now
from tierflow.storage.search import prompt_prefilter
from tierflow.storage.tables import AssetParentRow, AssetRow, ReviewRow


@dataclass
class GalleryQuery:
    """Filters for the gallery; every field optional. ``before`` pages by (created_at, id)."""

    project_id: str | None = None
    search: str | None = None
    stage: Stage | None = None
    review: ReviewState | None = None
    engine_id: str | None = None
    prompt_id: str | None = None  # one prompt thread (the studio restores its board from it)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    before: tuple[datetime, str] | None = None


def to_asset(row: AssetRow, parent_ids: list[str]) -> Asset:
    return Asset(
        id=row.id, project_id=row.project_id, generation_id=row.generation_id, stage=Stage(row.stage),
        kind=row.kind, format=row.format, width=row.width, height=row.height, sha256=row.sha256,
        size_bytes=row.size_bytes, seed=row.seed, created_at=aware(row.created_at), parent_ids=parent_ids,
        prompt_id=row.prompt_id, prompt=row.prompt_text, engine_id=row.engine_id, params=dict(row.params or {}),
        review=ReviewState(row.review), tags=list(row.tags or []), reviewed_at=aware(row.reviewed_at),
        thumb_sha256=row.thumb_sha256,
    )


LATENT_BLOB_FORMAT = "npy"  # engines/local/latents.LATENT_FORMAT (storage imports no engine code)


class AssetsRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, *, project_id: str, generation_id: str, stage: Stage, kind: str, fmt: str, width: int,
            height: int, sha256: str, size_bytes: int, seed: int | None, engine_id: str, prompt_id: str | None,
            prompt_text: str, params: dict[str, Any], parent_ids: list[str],
            asset_id: str | None = None, thumb_sha256: str | None = None) -> Asset:
        row = AssetRow(
            id=asset_id or new_id("ast"), project_id=project_id, generation_id=generation_id, stage=stage.value, kind=kind,
            format=fmt, width=width, height=height, sha256=sha256, size_bytes=size_bytes, seed=seed,
            engine_id=engine_id, prompt_id=prompt_id, prompt_text=prompt_text, params=params,
            review=ReviewState.UNREVIEWED.value, tags=[], created_at=now(), thumb_sha256=thumb_sha256,
        )
        self.s.add(row)
        self.s.flush()
        for i, parent in enumerate(parent_ids):
            self.s.add(AssetParentRow(asset_id=row.id, parent_id=parent, position=i))
        self.s.flush()
        return to_asset(row, list(parent_ids))

    def row(self, asset_id: str) -> AssetRow:
        check_id(asset_id, "asset")
        row = self.s.get(AssetRow, asset_id)
        if row is None:
            raise NotFound(f"no asset {asset_id!r}", field="asset", fix="see `tierflow gallery` for asset ids")
        return row

    def replace_image(self, asset_id: str, *, sha256: str, fmt: str, size_bytes: int, params: dict[str, Any],
                      expect_sha256: str, thumb_sha256: str | None = None) -> Asset:
        """Point an asset at new pixels (a preview decoded at full quality); the row is locked.

        ``expect_sha256``: the blob the caller decoded from; if another writer replaced it
        meanwhile, the row is left as that writer made it.
        """
        check_id(asset_id, "asset")
        row = self.s.get(AssetRow, asset_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no asset {asset_id!r}", field="asset", fix="see `tierflow gallery` for asset ids")
        if row.sha256 == expect_sha256:
            row.sha256, row.format, row.size_bytes, row.params = sha256, fmt, size_bytes, dict(params)
            if thumb_sha256 is not None:
                row.thumb_sha256 = thumb_sha256
            self.s.flush()
        return to_asset(row, self.parents_of(row.id))

    def parents_of(self, asset_id: str) -> list[str]:
        q = select(AssetParentRow.parent_id).where(AssetParentRow.asset_id == asset_id).order_by(
            AssetParentRow.position)
        return list(self.s.scalars(q))

    def children_of(self, asset_id: str) -> list[str]:
        q = select(AssetParentRow.asset_id).where(AssetParentRow.parent_id == asset_id)
        return list(self.s.scalars(q))

    def get(self, asset_id: str) -> Asset:
        row = self.row(asset_id)
        return to_asset(row, self.parents_of(row.id))

    def last_review_at(self, user_id: str | None) -> datetime | None:
        """When ``user_id`` last reviewed anything (None: never)."""
        return aware(self.s.scalar(select(func.max(ReviewRow.created_at)).where(ReviewRow.user_id == user_id)))

    def project_of(self, asset_id: str) -> str | None:
        """The project of an asset, or None when there is no such asset."""
        return self.s.scalar(select(AssetRow.project_id).where(AssetRow.id == asset_id))

    def all_sha256(self) -> set[str]:
        """Every blob digest an asset row names (the orphan-blob sweep keeps these)."""
        return set(self.s.scalars(select(AssetRow.sha256)))

    def sha_in_use(self, sha256: str, fmt: str | None = None) -> bool:
        """Whether any asset row names this blob: as its file, its thumbnail or its draft latent.

        ``fmt``: the blob's extension. Only an ``npy`` blob can be a latent, and that lookup reads
        every row's params (no index); files and thumbnails are two indexed lookups.
        """
        named = (AssetRow.sha256 == sha256) | (AssetRow.thumb_sha256 == sha256)
        if fmt in (None, LATENT_BLOB_FORMAT):
            named = named | (AssetRow.params["latent"]["sha256"].as_string() == sha256)  # see latent_shas
        return self.s.scalar(select(func.count()).select_from(AssetRow).where(named)) > 0

    def referenced_shas(self) -> set[str]:
        """Every blob some asset row names (files, thumbnails, draft latents): what the orphan sweep keeps."""
        shas = set(self.s.scalars(select(AssetRow.sha256)))
        shas.update(self.s.scalars(select(AssetRow.thumb_sha256).where(AssetRow.thumb_sha256.is_not(None))))
        shas.update(self.latent_shas())
        return shas

    def latent_shas(self) -> set[str]:
        """The side blobs latent drafts name in their params (``params["latent"]["sha256"]``, stages/decode.py)."""
        out: set[str] = set()
        for params in self.s.scalars(select(AssetRow.params).where(AssetRow.kind == "image")):
            ref = (params or {}).get("latent")
            if isinstance(ref, dict) and ref.get("sha256"):
                out.add(ref["sha256"])
        return out

    # -- gallery ------------------------------------------------------------------------
    def gallery(self, q: GalleryQuery) -> list[Asset]:
        stmt = select(AssetRow)
        if q.project_id:
            stmt = stmt.where(AssetRow.project_id == q.project_id)
        if q.stage:
            stmt = stmt.where(AssetRow.stage == q.stage.value)
        if q.review:
            stmt = stmt.where(AssetRow.review == q.review.value)
        if q.engine_id:
            stmt = stmt.where(AssetRow.engine_id == q.engine_id)
        if q.prompt_id:
            stmt = stmt.where(AssetRow.prompt_id == q.prompt_id)
        if q.since:
            stmt = stmt.where(AssetRow.created_at >= q.since)
        if q.until:
            stmt = stmt.where(AssetRow.created_at < q.until)
        if q.search:
            for word in q.search.split():
                escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                stmt = stmt.where(AssetRow.prompt_text.ilike(f"%{escaped}%", escape="\\"))
            prefilter = prompt_prefilter(self.s, q.search)  # indexed superset; the ILIKEs stay the definition
            if prefilter is not None:
                stmt = stmt.where(prefilter)
        if q.before:
            ts, last_id = q.before
            # ``created_at <= ts`` on its own gives the index a range to start from (an OR alone
            # makes SQLite walk from the newest row down to the cursor: a deep page grew with the gallery)
            stmt = stmt.where(AssetRow.created_at <= ts,
                              (AssetRow.created_at < ts) | ((AssetRow.created_at == ts) & (AssetRow.id < last_id)))
        stmt = stmt.order_by(AssetRow.created_at.desc(), AssetRow.id.desc()).limit(q.limit)
        rows = list(self.s.scalars(stmt))
        parents = self._parents_for([r.id for r in rows])
        return [to_asset(r, parents.get(r.id, [])) for r in rows]

    def _parents_for(self, ids: list[str]) -> dict[str, list[str]]:
        if not ids:
            return {}
        out: dict[str, list[str]] = {}
        q = select(AssetParentRow).where(AssetParentRow.asset_id.in_(ids)).order_by(AssetParentRow.position)
        for edge in self.s.scalars(q):
            out.setdefault(edge.asset_id, []).append(edge.parent_id)
        return out

    # -- lineage ------------------------------------------------------------------------
    def ancestors(self, asset_id: str) -> list[str]:
        """Every ancestor id, nearest first (breadth-first over parent edges)."""
        seen: list[str] = []
        frontier = self.parents_of(asset_id)
        while frontier:
            nxt = []
            for pid in frontier:
                if pid not in seen:
                    seen.append(pid)
                    nxt.extend(self.parents_of(pid))
            frontier = nxt
        return seen

    def root_of(self, asset_id: str) -> str:
        ancestors = self.ancestors(asset_id)
        return ancestors[-1] if ancestors else asset_id

    def descendants_tree(self, asset_id: str, depth: int = 0) -> dict[str, Any]:
        """``{"asset": Asset, "children": [...]}`` below ``asset_id``."""
        node = {"asset": self.get(asset_id), "children": []}
        if depth < 32:
            for child in self.children_of(asset_id):
                node["children"].append(self.descendants_tree(child, depth + 1))
        return node

    # -- reviews ------------------------------------------------------------------------
    def review(self, asset_id: str, state: ReviewState, *, seconds: float | None, user_id: str | None) -> Review:
        row = self.row(asset_id)
        t = now()
        row.review = state.value
        row.reviewed_at = t
        review = ReviewRow(id=new_id("rev"), asset_id=row.id, state=state.value, seconds=seconds, user_id=user_id,
                           created_at=t)
        self.s.add(review)
        self.s.flush()
        return Review(id=review.id, asset_id=row.id, state=state, created_at=t, seconds=seconds, user_id=user_id)

    def reviews_of(self, asset_id: str) -> list[Review]:
        q = select(ReviewRow).where(ReviewRow.asset_id == asset_id).order_by(ReviewRow.created_at)
        return [Review(id=r.id, asset_id=r.asset_id, state=ReviewState(r.state), created_at=aware(r.created_at),
                       seconds=r.seconds, user_id=r.user_id) for r in self.s.scalars(q)]

    def count(self, **filters: Any) -> int:
        stmt = select(func.count()).select_from(AssetRow)
        for key, value in filters.items():
            stmt = stmt.where(getattr(AssetRow, key) == value)
        return int(self.s.scalar(stmt) or 0)
