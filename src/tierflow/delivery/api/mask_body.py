"""The inpaint request body: a PNG mask as a multipart upload, or as a base64 data URL in JSON.

Either way the route gets the same :class:`InpaintOptions` and one mask image; its size and
colours are then checked against the source by the stage (:func:`tierflow.imaging.masks.check_mask`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from PIL import Image
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from tierflow.delivery.api.schemas import InpaintCreate, InpaintOptions
from tierflow.domain.errors import InvalidInput
from tierflow.imaging.masks import open_png_mask

MAX_MASK_BYTES = 8 * 1024 * 1024
DATA_URL_PREFIX = "data:image/png;base64,"
_FIX = "send a PNG the image's size (white = repaint, black = keep)"

# /docs shows both ways to send the body (the route reads it itself).
OPENAPI = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": InpaintCreate.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": ["mask", "prompt"], "properties": {
        **InpaintOptions.model_json_schema()["properties"],
        "mask": {"type": "string", "format": "binary", "description": "PNG, the image's size"}}}},
}}}


async def inpaint_body(request: Request) -> tuple[InpaintOptions, Image.Image]:
    """FastAPI dependency: the inpaint options and the decoded mask, from JSON or multipart."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await _from_form(request)
    raw = await request.body()
    body = _validated(InpaintCreate, raw, json=True)
    options = InpaintOptions(**body.model_dump(exclude={"mask"}))
    return options, open_png_mask(_decode_data_url(body.mask))


async def _from_form(request: Request) -> tuple[InpaintOptions, Image.Image]:
    async with request.form(max_files=1, max_fields=20) as form:
        upload = form.get("mask")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("mask is required as a PNG file part", field="mask", fix=_FIX)
        if upload.content_type not in (None, "", "image/png", "application/octet-stream"):
            raise InvalidInput(f"the mask is {upload.content_type}, not image/png", field="mask", fix=_FIX)
        data = await upload.read(MAX_MASK_BYTES + 1)
        fields = {k: v for k, v in form.multi_items() if k != "mask" and isinstance(v, str)}
    _check_size(len(data))
    return _validated(InpaintOptions, fields), open_png_mask(data)


def _validated(model: type, data: Any, *, json: bool = False):
    """``model`` from ``data``; a bad field answers 422 naming it, like any other route's body."""
    try:
        return model.model_validate_json(data or b"null") if json else model.model_validate(data)
    except ValidationError as e:
        raise RequestValidationError(e.errors(include_url=False)) from None


def _decode_data_url(text: str) -> bytes:
    if not text.startswith(DATA_URL_PREFIX):
        raise InvalidInput("the mask is not a PNG data URL", field="mask",
                           fix=f"send {DATA_URL_PREFIX}… (canvas.toDataURL('image/png')) or upload the file")
    encoded = text[len(DATA_URL_PREFIX):]
    _check_size(len(encoded) * 3 // 4)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInput("the mask data URL is not valid base64", field="mask", fix=_FIX) from e


def _check_size(n: int) -> None:
    if n > MAX_MASK_BYTES:
        raise InvalidInput(f"the mask is over {MAX_MASK_BYTES // (1024 * 1024)} MB", field="mask",
                           fix="a black-and-white PNG compresses well: save it as PNG at the image's size")
