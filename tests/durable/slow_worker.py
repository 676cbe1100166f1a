"""`python -m tests.durable.slow_worker worker ...`: the real CLI, with engines that pause before each output.

The pause (TIERFLOW_TEST_SLOW_STEP_SECONDS) gives the test a window to kill the worker mid-render;
the product has no such hook — this module wraps the engine catalogue before the CLI starts.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from tierflow.engines import catalog

_build_registry = catalog.build_registry


def _slow(factory, delay: float):
    def make(settings):
        engine = factory(settings)
        render = engine.render

        def slow_render(request, progress=None):
            for out in render(request, progress):
                time.sleep(delay)
                yield out

        engine.render = slow_render
        return engine

    return make


def build_registry(settings):
    registry = _build_registry(settings)
    delay = float(os.environ.get("TIERFLOW_TEST_SLOW_STEP_SECONDS", "0"))
    for engine_id in registry.ids():
        reg = registry.registration(engine_id)
        registry.register(replace(reg, factory=_slow(reg.factory, delay)))
    return registry


catalog.build_registry = build_registry

if __name__ == "__main__":
    from tierflow.delivery.cli.app import main

    main()
