"""The render request that made a stored asset, rebuilt from its row: what drift-check and fsck repeat.

Both re-render an asset from what its row recorded — ``stages/drift_check.py`` to see whether the
picture moved on the current engine, ``maintenance/fsck.py`` to restore a damaged blob bit for
bit — and both ask :func:`stored_request` for the request, so they repeat the same render.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tierflow.domain.models import Asset
from tierflow.engines.base import TASK_IMG2IMG, TASK_TXT2IMG, RenderRequest
from tierflow.stages.decode import load_latent
from tierflow.stages.sources import get_asset, load_image

if TYPE_CHECKING:
    from tierflow.app.ports import Services

REPEATABLE_TASKS = (TASK_TXT2IMG, TASK_IMG2IMG)  # the tasks a seed + recorded settings render again exactly


def stored_request(services: Services, asset: Asset, *, preview: bool = False) -> RenderRequest | None:
    """The request ``asset`` was rendered from: prompt, negative prompt, seed, size, steps, guidance,
    and for img2img its parent's image (and latent, when it was promoted from one) with the strength.

    None when the row does not hold such a request: no recorded seed, a task other than
    :data:`REPEATABLE_TASKS`, or an img2img render with no recorded parent; the caller says why.
    Whether the engine renders a seed exactly is the caller's question. Reading the parent's blobs
    raises ``BlobCorrupt`` / ``BlobMissing`` naming it.
    """
    p = asset.params
    task = p.get("task")
    if asset.seed is None or task not in REPEATABLE_TASKS or (task == TASK_IMG2IMG and not asset.parent_ids):
        return None
    request = RenderRequest(task=task, prompt=asset.prompt, negative_prompt=p.get("negative_prompt", "") or "",
                            seeds=[asset.seed], width=asset.width, height=asset.height, steps=p.get("steps"),
                            guidance=p.get("guidance"), preview=preview)
    if task == TASK_IMG2IMG:
        parent = get_asset(services, asset.parent_ids[0])
        request.init_image = load_image(services, parent)
        if p.get("init") == "latent":  # promoted from the draft's latent (stages/decode.py)
            request.init_latent = load_latent(services, parent)
        request.strength = p.get("strength")
    return request
