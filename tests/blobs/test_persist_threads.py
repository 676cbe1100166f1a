"""Blobs written on the runner's encode threads, rows on one thread in render order (stages/persist.py),
on both stores: every failure leaves each stored blob named by a row and each named blob stored."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from sqlalchemy import select

from tierflow.domain.errors import EngineFailed
from tierflow.stages import runner
from tierflow.stages.draft import draft
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.tables import AssetRow, GenerationRow

SMALL = "64x64"
WAIT = 30  # seconds a gated thread waits before the test gives up


@pytest.fixture()
def project(services):
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        return ProjectsRepo(s).create("threads", min_drafts=0)


def _stored_and_named(services) -> tuple[set[str], set[str]]:
    """The blobs in the store, and those some asset row names (file, thumbnail, latent)."""
    with services.db.read() as s:
        named = AssetsRepo(s).referenced_shas()
    return {e.sha256 for e in services.blobs.entries()}, named


def _rows(services) -> tuple[GenerationRow, list[AssetRow]]:
    with services.db.read() as s:
        return s.scalars(select(GenerationRow)).one(), list(s.scalars(select(AssetRow)))


class _Outputs:
    """Wraps the runner's encode-and-write step: which output (``out.index``) the current thread writes."""

    def __init__(self, monkeypatch, before=None, after=None) -> None:
        self.local = threading.local()
        real = runner.encode_and_write

        def wrapped(services, plan, generation_id, out, info):
            self.local.index = out.index
            if before:
                before(out.index)
            enc = real(services, plan, generation_id, out, info)
            if after:
                after(out.index)
            return enc

        monkeypatch.setattr(runner, "encode_and_write", wrapped)
        monkeypatch.setattr(runner, "ENCODE_THREADS", 2)

    @property
    def index(self) -> int | None:
        return getattr(self.local, "index", None)


def _fail_put(services, monkeypatch, when) -> None:
    """``services.blobs.put`` raises where ``when(ext)`` says so (called on the writing thread)."""
    real = services.blobs.put

    def put(data, ext):
        if when(ext):
            raise OSError("No space left on device")
        return real(data, ext)

    monkeypatch.setattr(services.blobs, "put", put)


def test_outputs_are_stored_in_render_order_when_later_ones_finish_first(services, project, monkeypatch):
    _Outputs(monkeypatch, before=lambda i: time.sleep(0.3 if i % 2 == 0 else 0))  # even outputs written last
    rendered = []
    engine = services.engines.get("tiny-draft")
    original = engine.render

    def at_once(request, progress=None):  # every output ready at once: the encode threads decide the pace
        for out in list(original(request, progress)):
            rendered.append(out.seed)
            yield out

    monkeypatch.setattr(engine, "render", at_once)
    events = []
    result = draft(services, project.id, "a lantern", n=5, seed=11, size=SMALL, on_event=events.append)
    assert [a.seed for a in result.assets] == rendered and len(rendered) == 5
    assert [e.asset.id for e in events if e.kind == "asset"] == [a.id for a in result.assets]
    stored, named = _stored_and_named(services)
    assert stored == named


def test_a_row_that_cannot_be_written_leaves_none_of_the_written_blobs(services, project, monkeypatch):
    # Output 0's write waits until outputs 1 and 2 are written: when its row fails, theirs are on disk
    # already and must go too (they will never be stored).
    later_written = threading.Event()
    _Outputs(monkeypatch, before=lambda i: i == 0 and later_written.wait(WAIT),
             after=lambda i: i == 2 and later_written.set())

    def refuse(self, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(AssetsRepo, "add", refuse)
    with pytest.raises(RuntimeError, match="locked"):
        draft(services, project.id, "a fox", n=3, seed=3, size=SMALL)
    assert later_written.is_set(), "outputs 1 and 2 were written before output 0's row failed"
    gen, assets = _rows(services)
    assert gen.status == "failed" and assets == []
    assert list(services.blobs.entries()) == []


def test_a_write_that_fails_halfway_deletes_what_it_wrote(services, project, monkeypatch):
    outputs = _Outputs(monkeypatch)
    _fail_put(services, monkeypatch, lambda ext: ext == "jpg" and outputs.index == 1)  # after thumbnail, latent
    events = []
    with pytest.raises(OSError, match="No space"):
        draft(services, project.id, "a heron", n=3, seed=7, size=SMALL, on_event=events.append)
    gen, assets = _rows(services)
    assert gen.status == "failed" and gen.outputs == 1
    [stored_event] = [e.asset for e in events if e.kind == "asset"]
    assert [a.id for a in assets] == [stored_event.id]  # the output before the failure is kept
    stored, named = _stored_and_named(services)
    assert stored == named and len(stored) == 3  # its preview, thumbnail and latent; nothing of outputs 1, 2


def test_a_newer_output_failing_halfway_keeps_the_bytes_an_older_one_names(services, project, monkeypatch):
    # Outputs 0 and 1 have the same pixels and latent, so the same thumbnail and latent blobs. Output 1
    # writes them first (created), then output 0 finds them (not created), then output 1's preview
    # fails. Output 0 is stored first and names both: deleting output 1's blobs on its encode thread
    # would leave output 0's row naming blobs that are gone.
    engine = services.engines.get("tiny-draft")
    original = engine.render

    def twice(request, progress=None):
        first = next(iter(original(request, progress)))
        yield first
        yield dataclasses.replace(first, index=1, image=first.image.copy(), latent=first.latent.copy())

    monkeypatch.setattr(engine, "render", twice)
    one_before_preview, zero_written, one_written = threading.Event(), threading.Event(), threading.Event()

    def after(i):  # output 0 is handed to the storing thread only once output 1's write has ended
        (zero_written if i == 0 else one_written).set()
        if i == 0:
            one_written.wait(WAIT)

    outputs = _Outputs(monkeypatch, before=lambda i: i == 0 and one_before_preview.wait(WAIT), after=after)

    def fail(ext):
        if ext != "jpg" or outputs.index != 1:
            return False
        one_before_preview.set()
        return zero_written.wait(WAIT)

    _fail_put(services, monkeypatch, fail)
    with pytest.raises(OSError, match="No space"):
        draft(services, project.id, "a moth", n=2, seed=5, size=SMALL)
    assert zero_written.is_set() and one_written.is_set()
    gen, [asset] = _rows(services)
    assert gen.status == "failed" and gen.outputs == 1
    stored, named = _stored_and_named(services)
    assert stored == named and len(stored) == 3
    services.blobs.get(asset.thumb_sha256, "webp")  # present and verified
    services.blobs.get(asset.params["latent"]["sha256"], "npy")


def test_a_render_that_fails_mid_stream_keeps_what_was_stored(services, project, monkeypatch):
    engine = services.engines.get("tiny-draft")
    original = engine.render
    rendered = []

    def broken(request, progress=None):
        for out in original(request, progress):
            if len(rendered) == 3:
                raise EngineFailed("the GPU fell over", field="engine")
            rendered.append(out.seed)
            yield out

    monkeypatch.setattr(engine, "render", broken)
    with pytest.raises(EngineFailed):
        draft(services, project.id, "a fox", n=5, seed=3, size=SMALL)
    gen, assets = _rows(services)
    assert gen.status == "failed" and gen.outputs == 3
    by_seed = {a.seed: a for a in assets}
    assert sorted(by_seed) == sorted(rendered) and len(assets) == 3  # every output rendered before the failure
    stored, named = _stored_and_named(services)
    assert stored == named and len(stored) == 9
