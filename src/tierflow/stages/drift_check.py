"""Drift check: re-render a project's saved prompt + seed pairs and flag those whose picture moved.

The regression test for a prompt library after a model or library update: every kept or starred
draft (and final) is rendered again on the current version of its engine (or on ``engine``, the
candidate replacement) with the same prompt, seed, size, steps and guidance — finals with their
stored parent image as the init image — and compared with the stored image by
:func:`tierflow.analysis.drift.drift`. The re-renders are a check, not work: nothing is stored,
and the report says which assets moved beyond ``threshold`` (on drift's 0-100 ``overall`` scale).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import EngineFailed, EngineUnavailable, InvalidInput, NotFound
from tierflow.domain.models import Asset, ReviewState, Stage
from tierflow.engines.base import TASK_IMG2IMG, Engine
from tierflow.stages.sources import load_image
from tierflow.stages.stored_request import stored_request
from tierflow.storage.assets_repo import AssetsRepo, GalleryQuery
from tierflow.storage.projects_repo import ProjectsRepo

if TYPE_CHECKING:
    from tierflow.app.ports import Services

DEFAULT_THRESHOLD = 10.0  # drift's "close" boundary: beyond it the picture visibly changed
DEFAULT_STAGES = (Stage.DRAFT, Stage.FINAL)
DEFAULT_REVIEWS = (ReviewState.KEEP, ReviewState.STAR)
MAX_ASSETS = 200

OnItem = Callable[[int, int, str], None]  # (done, total, asset id)


def saved_pairs(services: Services, project_id: str, stages=DEFAULT_STAGES, reviews=DEFAULT_REVIEWS,
                limit: int = 50) -> list[Asset]:
    """The project's kept/starred assets of ``stages``, newest first, at most ``limit``."""
    out: list[Asset] = []
    with services.db.read() as s:
        repo = AssetsRepo(s)
        for stage in stages:
            for review in reviews:
                out += repo.gallery(GalleryQuery(project_id=project_id, stage=Stage(stage),
                                                 review=ReviewState(review), limit=limit))
    out.sort(key=lambda a: (a.created_at, a.id), reverse=True)
    return out[:limit]


def drift_check(services: Services, project: str, *, threshold: float = DEFAULT_THRESHOLD,
                engine: str | None = None, limit: int = 50, on_item: OnItem | None = None) -> dict[str, Any]:
    """Re-render the saved prompt + seed pairs of ``project`` and report each one's drift."""
    from tierflow.analysis.drift import drift

    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 100:
        raise InvalidInput(f"{threshold!r} is not a drift threshold", field="threshold",
                           fix="use a number in 0..100 (10 = visibly changed, 30 = a different render)")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ASSETS:
        raise InvalidInput(f"{limit!r} is out of range", field="limit", fix=f"use 1..{MAX_ASSETS}")
    with services.db.read() as s:
        proj = ProjectsRepo(s).get(project)
    override = services.engines.get(engine) if engine else None  # an unknown id fails before any render
    assets = saved_pairs(services, proj.id, limit=limit)
    items: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for done, asset in enumerate(assets):
        try:
            eng = override or services.engines.get(asset.engine_id)
            # an engine that treats seeds as best-effort draws another picture: not comparable
            request = stored_request(services, asset) if eng.capabilities().seeded else None
            if request is None:
                skipped.append({"asset_id": asset.id, "reason": _why_not(asset, eng)})
                continue
            fresh = next(iter(eng.render(eng.prepare(request))))
        except (InvalidInput, NotFound, EngineFailed, EngineUnavailable) as e:
            skipped.append({"asset_id": asset.id, "reason": str(e)})
            continue
        finally:
            if on_item:
                on_item(done + 1, len(assets), asset.id)
        score = drift(load_image(services, asset), fresh.image)
        items.append(_item(asset, eng, score.to_dict(), threshold))
    return {
        "project": proj.name, "project_id": proj.id, "threshold": threshold, "engine": engine,
        "checked": len(items), "flagged": sum(1 for i in items if i["flagged"]),
        "items": items, "skipped": skipped,
    }


def _why_not(asset: Asset, eng: Engine) -> str:
    if asset.seed is None:
        return "no seed was recorded"
    if not eng.capabilities().seeded:
        return f"{eng.id} treats seeds as best-effort; a re-render is not comparable"
    if asset.params.get("task") == TASK_IMG2IMG:
        return "its init image (the parent asset) is not recorded"
    return f"a {asset.params.get('task')} render is not repeated by drift-check"


def _item(asset: Asset, eng: Engine, score: dict[str, Any], threshold: float) -> dict[str, Any]:
    info = eng.describe()
    stored = {"engine_id": asset.engine_id, "revision": asset.params.get("revision"),
              "libraries": asset.params.get("libraries") or {}}
    current = {"engine_id": info.id, "revision": info.revision, "libraries": dict(info.libraries)}
    return {
        "asset_id": asset.id, "stage": asset.stage.value, "seed": asset.seed, "prompt": asset.prompt,
        "size": [asset.width, asset.height], "drift": score, "flagged": score["overall"] > threshold,
        "versions_changed": stored != current, "stored": stored, "current": current,
    }
