"""/verify: check an uploaded file's Content Credentials (C2PA), like `tierflow verify FILE`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, UploadFile
from starlette.concurrency import run_in_threadpool

from tierflow.delivery.api.deps import ServicesDep

router = APIRouter(prefix="/verify", tags=["credentials"])


@router.post("")
async def verify_upload(services: ServicesDep, file: UploadFile = File(..., description="An exported image or video.")
                        ) -> dict[str, Any]:
    """valid / untrusted / tampered / unsigned / unreadable, the manifest chain and the first link that fails.

    The answer is 200 whatever the status (the check itself succeeded); ``ok`` is true only for a
    valid chain signed by a trusted certificate (the workspace CA or ``TIERFLOW_TRUST_ANCHORS``).
    """
    from tierflow.provenance.credentials import verify_upload as check

    data = await file.read()
    return await run_in_threadpool(check, services, data, file.filename or "")
