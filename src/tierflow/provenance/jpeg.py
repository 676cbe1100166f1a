"""JPEG draft previews with the same provenance as the PNGs.

A draft preview is seen once and mostly discarded: JPEG q90 costs under 3 ms at 512² where PNG
costs ~26 ms. It carries what a PNG carries, where JPEG readers look for it:

- the A1111 ``parameters`` text in EXIF ``UserComment`` (as A1111 writes it: ``UNICODE`` header
  and UTF-16 big-endian text), so prompt readers that parse A1111 JPEGs show it;
- XMP with the IPTC digital source type, the prompt, and tierflow's lineage JSON.

Kept, final and exported assets are lossless PNG (see :mod:`tierflow.provenance.png`).
"""

from __future__ import annotations

import io
import json
import re
from html import unescape
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image

from tierflow.provenance.png import COMPOSITE, TRAINED, a1111_parameters, source_type

EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
QUALITY = 90
TIERFLOW_NS = "https://tierflow.dev/ns/1.0/"


def xmp_with_lineage(stage: str, meta: dict[str, Any], lineage: dict[str, Any]) -> str:
    kind = source_type(stage)
    prompt = escape(str(meta.get("prompt", "")))
    lineage_json = escape(json.dumps(lineage, sort_keys=True, default=str))
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        f' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:tierflow="{TIERFLOW_NS}">'
        f"<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/{kind}"
        "</Iptc4xmpExt:DigitalSourceType>"
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{prompt}</rdf:li></rdf:Alt></dc:description>'
        f"<tierflow:lineage>{lineage_json}</tierflow:lineage>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    )


def user_comment(text: str) -> bytes:
    return b"UNICODE\0" + text.encode("utf-16-be")


def encode_jpeg(image: Image.Image, *, stage: str, parameters: dict[str, Any], lineage: dict[str, Any],
                quality: int = QUALITY) -> bytes:
    """JPEG bytes of ``image`` with EXIF UserComment (A1111 parameters) and XMP (source type, lineage)."""
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = user_comment(a1111_parameters(parameters))
    buf = io.BytesIO()
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    rgb.save(buf, format="JPEG", quality=quality, exif=exif.tobytes(),
             xmp=xmp_with_lineage(stage, parameters, lineage).encode("utf-8"))
    return buf.getvalue()


def read_jpeg_metadata(data: bytes) -> dict[str, Any]:
    """The provenance of a JPEG preview, in the shape :func:`read_png_metadata` returns."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        raw = im.getexif().get_ifd(EXIF_IFD).get(USER_COMMENT)
        xmp_raw = im.info.get("xmp") or b""
    parameters = None
    if isinstance(raw, bytes) and raw.startswith(b"UNICODE\0"):
        parameters = raw[8:].decode("utf-16-be")
    elif isinstance(raw, str):
        parameters = raw
    xmp = xmp_raw.decode("utf-8") if isinstance(xmp_raw, bytes) else str(xmp_raw)
    match = re.search(r"<tierflow:lineage>(.*?)</tierflow:lineage>", xmp, re.S)
    lineage = json.loads(unescape(match.group(1))) if match else None
    kind = COMPOSITE if COMPOSITE in xmp else (TRAINED if TRAINED in xmp else None)
    return {"parameters": parameters, "xmp": xmp or None, "tierflow": lineage, "digital_source_type": kind}
