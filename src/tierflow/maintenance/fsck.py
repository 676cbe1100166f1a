"""`fsck`: check every stored asset against its blob, the lineage and the ledger; optionally repair.

What is checked, in one pass over the database and the blob store:

- **missing blobs**: an asset row whose file is not in the store;
- **corrupt blobs**: a file whose bytes no longer hash to the sha256 the row recorded;
- **orphan blobs**: files no row names (a killed process leaves them; the start-up sweep removes
  those older than its grace period);
- **dangling lineage**: parent edges, generations or projects an asset names that do not exist;
- **ledger**: each budget's balance, with broken invariants (double closes, over-commits, a
  budget spent below zero).

``repair=True`` re-renders each missing or corrupt asset from what its row recorded (engine,
revision, seed, size, steps, guidance, strength, and its parent image for img2img), re-encodes the
PNG with the recorded parameters and lineage, and writes it only when its sha256 equals the
recorded one — so a repaired blob is bit-identical or not written at all. Assets are repaired
oldest first, so a damaged parent is restored before the final made from it. What cannot be
repaired (an inpaint, a video, a hosted engine, a changed revision) is listed with the reason.
A latent draft (stages/decode.py) is rendered again with its
preview on: an unkept draft's JPEG preview, a kept draft's PNG of the full VAE decode, and the
draft's ``.npy`` latent are each re-encoded as persist and decode-on-keep stored them, and checked
against the recorded sha256 the same way (a damaged latent blob is reported under its asset).
Orphan blobs past the grace period are removed. The CLI (`tierflow fsck`) and the REST route
(`/api/v1/admin/fsck`) only map to :func:`fsck`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import BlobCorrupt, BlobMissing, TierflowError
from tierflow.domain.ledger import derive_balance, ledger_problems
from tierflow.domain.models import Asset
from tierflow.storage.blobs import GRACE_SECONDS
from tierflow.storage.fsck_repo import FsckRepo

if TYPE_CHECKING:
    from tierflow.bootstrap import Services


@dataclass
class FsckReport:
    """What fsck found (and repaired); ``ok`` when nothing is wrong after the repairs."""

    assets: int = 0
    blobs: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    corrupt: list[dict[str, Any]] = field(default_factory=list)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    lineage: list[dict[str, str]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    unrepaired: list[dict[str, Any]] = field(default_factory=list)
    orphans_removed: int = 0
    repair: bool = False

    @property
    def ok(self) -> bool:
        fixed = {r["asset_id"] for r in self.repaired}
        damaged = [d for d in (*self.missing, *self.corrupt) if d["asset_id"] not in fixed]
        return not (damaged or self.lineage or any(b["problems"] for b in self.ledger))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class CannotRepair(Exception):
    """Why an asset cannot be rendered again exactly (one line)."""


def fsck(services: Services, *, repair: bool = False) -> FsckReport:
    """Check the whole install; with ``repair``, restore damaged blobs that can be re-rendered exactly."""
    report = FsckReport(repair=repair)
    with services.db.read() as s:
        repo = FsckRepo(s)
        assets = repo.assets()
        report.lineage = repo.dangling_lineage()
        ledger = repo.ledger_by_scope()
    report.assets = len(assets)
    damaged: list[Asset] = []
    for asset in assets:
        latent = asset.params.get("latent")  # a latent draft's side blob (stages/decode.py)
        blobs = [(asset.sha256, asset.format, "")]
        if isinstance(latent, dict) and latent.get("sha256"):
            blobs.append((latent["sha256"], latent.get("format", "npy"), "its draft latent: "))
        for sha, fmt, what in blobs:
            try:
                services.blobs.get(sha, fmt)
            except BlobCorrupt as e:
                entry = {"asset_id": asset.id, "project_id": asset.project_id, "stage": asset.stage.value,
                         "sha256": sha, "problem": what + e.message}
                (report.missing if isinstance(e, BlobMissing) else report.corrupt).append(entry)
                damaged.append(asset)
                break
    with services.db.read() as s:
        referenced = FsckRepo(s).referenced_shas()
    _orphans(services, referenced, report)
    for key, entries in ledger.items():
        balance = derive_balance(entries, key.scope, key.scope_id)
        problems = ledger_problems(entries)
        if balance.remaining is not None and balance.remaining < -1e-6:
            problems.append(f"{key} is overspent: {balance.remaining:g} credits remaining")
        report.ledger.append({**balance.to_dict(), "problems": problems})
    if repair:
        for asset in damaged:
            try:
                repair_asset(services, asset)
                report.repaired.append({"asset_id": asset.id, "sha256": asset.sha256})
            except (CannotRepair, TierflowError) as e:
                report.unrepaired.append({"asset_id": asset.id, "reason": str(e)})
        if report.orphans:
            with services.db.read() as s:
                referenced = FsckRepo(s).referenced_shas()
            report.orphans_removed = services.blobs.sweep_unreferenced(referenced, GRACE_SECONDS)
    return report


def _orphans(services: Services, referenced: set[str], report: FsckReport) -> None:
    now = time.time()
    entries = list(services.blobs.entries())  # the same listing on the local disk and an object store
    report.blobs = len(entries)
    for entry in entries:
        if entry.sha256 not in referenced and entry.modified != float("inf"):  # inf: removed meanwhile
            age = now - entry.modified
            report.orphans.append({"blob": f"{entry.sha256}.{entry.ext}", "age_seconds": round(age),
                                   "removable": age > GRACE_SECONDS})


def repair_asset(services: Services, asset: Asset) -> None:
    """Render ``asset`` again from its recorded settings and store it if the bytes are the recorded ones."""
    from tierflow.provenance.png import encode_png
    from tierflow.stages.decode import LATENT_KEY, encode_decoded, encode_image, is_preview
    from tierflow.stages.stored_request import REPEATABLE_TASKS, stored_request

    p = asset.params
    task = p.get("task")
    if asset.kind != "image" or task not in REPEATABLE_TASKS:
        raise CannotRepair(f"asset {asset.id} is a {p.get('task') or asset.stage.value} {asset.kind}; only "
                           "txt2img and img2img renders are repeated — restore it from a backup")
    if asset.seed is None:
        raise CannotRepair(f"asset {asset.id} has no recorded seed — restore it from a backup")
    eng = services.engines.get(asset.engine_id)
    info = eng.describe()
    if not eng.capabilities().seeded:
        raise CannotRepair(f"{eng.id} does not render a seed exactly — restore asset {asset.id} from a backup")
    if p.get("revision") != info.revision:
        raise CannotRepair(f"{eng.id} is now at revision {info.revision}, asset {asset.id} was made at "
                           f"{p.get('revision')} — restore it from a backup")
    latent_ref = p.get(LATENT_KEY)
    try:  # a latent draft is rendered again with its preview on, as persist stored it
        request = stored_request(services, asset, preview=isinstance(latent_ref, dict))
    except BlobCorrupt:
        raise CannotRepair(f"asset {asset.id}: its parent {asset.parent_ids[0]} is damaged and could not "
                           "be repaired first") from None
    if request is None:  # task and seed are checked above: what is left is the parent
        raise CannotRepair(f"asset {asset.id} is an img2img render with no recorded parent")
    out = next(iter(eng.render(eng.prepare(request))))
    lineage = {"asset_id": asset.id, "generation_id": asset.generation_id, "project_id": asset.project_id,
               "stage": asset.stage.value, "parent_ids": list(asset.parent_ids), "engine_id": asset.engine_id,
               "seed": asset.seed}
    side: list[tuple[bytes, str]] = []
    if isinstance(latent_ref, dict):  # a latent draft: stored as persist and decode-on-keep store it
        if out.latent is None:
            raise CannotRepair(f"{eng.id} no longer keeps draft latents — restore asset {asset.id} from a backup")
        if is_preview(asset):  # the JPEG preview, byte for byte as encode_output wrote it
            encoded = encode_image(out, asset.stage.value, dict(p), lineage)
            assert encoded is not None
            data, _, side = encoded
        else:  # kept or starred: the PNG of the full VAE decode of the same latent
            data = encode_decoded(asset, eng.decode_latent(out.latent), p)
            side = encode_image(out, asset.stage.value, dict(p), dict(lineage))[2]  # type: ignore[index]
        if [hashlib.sha256(raw).hexdigest() for raw, _ in side] != [latent_ref.get("sha256")]:
            raise CannotRepair(f"asset {asset.id}: the re-rendered latent differs from the recorded one (libraries "
                               f"then {p.get('libraries')}, now {dict(info.libraries)}) — restore it from a backup")
    else:
        data = encode_png(out.image, stage=asset.stage.value, parameters=p, lineage=lineage)

    if hashlib.sha256(data).hexdigest() != asset.sha256:
        raise CannotRepair(f"asset {asset.id}: the re-render differs from the recorded image (libraries "
                           f"then {p.get('libraries')}, now {dict(info.libraries)}) — restore it from a backup")
    for raw, ext in side:  # the draft's latent too (put rewrites a damaged copy, keeps an intact one)
        services.blobs.put(raw, ext)
    services.blobs.put(data, asset.format)
