"""A real tiny engine behind a gate, so a test can hold a job in ``running`` for as long as it needs."""

from __future__ import annotations

import threading
from dataclasses import replace

from tierflow.engines.base import Engine
from tierflow.engines.registry import Registration


class GatedEngine(Engine):
    def __init__(self, inner: Engine, engine_id: str) -> None:
        self.inner = inner
        self.id = engine_id
        self.tier = inner.tier
        self.gate = threading.Event()
        self.entered = threading.Event()

    def capabilities(self):
        return self.inner.capabilities()

    def describe(self):
        return replace(self.inner.describe(), id=self.id)

    def prepare(self, request):
        return self.inner.prepare(request)

    def render(self, request, progress=None):
        self.entered.set()
        if not self.gate.wait(60):
            raise TimeoutError("the test never opened the gate")
        yield from self.inner.render(request, progress)


def install_gated(services, tier, inner_id: str, engine_id: str) -> GatedEngine:
    engine = GatedEngine(services.engines.get(inner_id), engine_id)
    services.engines.register(Registration(id=engine_id, tier=tier, factory=lambda _s: engine, kind="tiny"))
    return engine
