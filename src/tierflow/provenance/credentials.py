"""Content Credentials use cases: sign an export, verify a file, the asset page's badge, the signer.

The CLI (`tierflow export|verify|credentials`), the REST API (`/assets/{id}/export`,
`/assets/{id}/credentials`, `POST /verify`) and the web badge all map to these functions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Asset
from tierflow.provenance import c2pa_manifest, signer, sources, verify
from tierflow.storage.assets_repo import AssetsRepo

if TYPE_CHECKING:
    from tierflow.bootstrap import Services


def sign_export(services: Services, asset: Asset, data: bytes) -> tuple[bytes, dict[str, Any]]:
    """``data`` (the export of ``asset``) signed with a manifest of its lineage, and what was done.

    A format the C2PA library cannot carry, or a missing library, leaves the bytes unsigned and
    says why in ``warning``; a certificate the library refuses is an error (never a quiet skip).
    """
    why = c2pa_manifest.c2pa_available()
    if why is None and not c2pa_manifest.supported(asset.format):
        why = f"C2PA cannot embed a manifest in .{asset.format} files; this export is unsigned"
    if why:
        return data, {"signed": False, "warning": why}
    import c2pa

    home = services.settings.home
    identity = signer.signing_identity(home)
    anchors = signer.trust_anchors(home)
    t0 = time.perf_counter()

    def sign_one(raw: bytes, fmt: str, manifest: dict[str, Any], ingredients) -> bytes:
        return c2pa_manifest.sign(raw, fmt, manifest, ingredients, chain_pem=identity.chain_pem,
                                  key_pem=identity.key_pem, anchors=anchors)

    with services.db.read() as s:
        repo = AssetsRepo(s)

        def load(aid: str) -> tuple[Asset, bytes]:
            a = asset if aid == asset.id else repo.get(aid)
            return a, services.blobs.get(a.sha256, a.format)

        try:
            signed = c2pa_manifest.sign_lineage(asset.id, load, sign_one, final_bytes=data,
                                                hosted_source=lambda a: _hosted_source(services, a))
        except c2pa.C2paError as e:
            field = "TIERFLOW_SIGNING_CERT" if identity.source == "configured" else "credentials"
            raise InvalidInput(f"signing the export failed: {' '.join(str(e).split())[:300]}", field=field,
                               fix="check the signing certificate and key (`tierflow credentials show`), "
                                   "or rotate them (`tierflow credentials rotate`)") from None
    info = signer.describe(home)["signer"]
    return signed, {"signed": True, "warning": None, "signer": info["subject"], "issuer": info["issuer"],
                    "certificate_sha256": info["sha256"], "source": identity.source,
                    "sign_seconds": round(time.perf_counter() - t0, 4)}


def verify_file(services_or_home: Services | Path, path: Path) -> dict[str, Any]:
    """The report of a file on disk (``tierflow verify FILE``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file", field="file", fix="pass the path of an exported image or video")
    return verify.verify_file(path, _home(services_or_home))


def verify_upload(services: Services, data: bytes, filename: str = "") -> dict[str, Any]:
    """The report of uploaded bytes (``POST /api/v1/verify``)."""
    if not data:
        raise InvalidInput("the upload is empty", field="file", fix="attach the exported file")
    suffix = Path(filename or "").suffix.lower().lstrip(".")
    return verify.verify_bytes(data, services.settings.home, fmt=suffix if suffix in c2pa_manifest.MIME else None,
                               name=Path(filename or "upload").name)


def export_status(services: Services, asset_id: str) -> dict[str, Any]:
    """What the asset page's badge shows: the asset exported in memory, signed, and verified."""
    from tierflow.provenance.export import export_bytes

    with services.db.read() as s:
        repo = AssetsRepo(s)
        asset = repo.get(asset_id)
        ancestors = repo.ancestors(asset.id)
        stages = [repo.row(a).stage for a in ancestors]
    data, signed = sign_export(services, asset, export_bytes(services, asset, ancestors, stages))
    if not signed["signed"]:
        return {"asset_id": asset.id, "status": "unsigned", "ok": False, "message": signed["warning"],
                "credentials": signed}
    report = verify.verify_bytes(data, services.settings.home, fmt=asset.format, name=f"{asset.id}.{asset.format}")
    return {"asset_id": asset.id, "credentials": signed, **{k: report[k] for k in
            ("status", "ok", "message", "signer", "chain", "first_failure")}}


def show(home: Path) -> dict[str, Any]:
    return signer.describe(home)


def rotate(home: Path) -> dict[str, Any]:
    return signer.rotate(home)


def export_ca(home: Path, out: Path) -> Path:
    return signer.export_ca(home, out)


def _home(services_or_home: Services | Path) -> Path:
    return services_or_home if isinstance(services_or_home, Path) else services_or_home.settings.home


def _hosted_source(services: Services, asset: Asset) -> c2pa_manifest.Ingredient | None:
    """A hosted provider's own signed output, kept as the ingredient the asset was made from."""
    ref = (asset.params or {}).get("c2pa_source")
    kept = sources.load(services.settings.home, ref)
    if kept is None:
        return None
    data, fmt = kept
    return c2pa_manifest.Ingredient(data, fmt, c2pa_manifest.source_label(asset),
                                    f"{ref.get('provider')} output.{fmt}", "parentOf",
                                    "the provider's output as delivered, with its own Content Credentials")
