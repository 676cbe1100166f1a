"""The contract every engine inherits: subclass :class:`EngineContract` and provide ``engine``."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tierflow.domain.errors import Cancelled, InvalidInput
from tierflow.engines.base import TASK_TXT2IMG, Engine, Progress, RenderRequest


class EngineContract:
    """Seed determinism, output size, progress, metadata, cancellation and limits."""

    size = (64, 64)
    task = TASK_TXT2IMG

    @pytest.fixture()
    def engine(self) -> Engine:  # pragma: no cover - overridden
        raise NotImplementedError

    def request(self, **kw) -> RenderRequest:
        w, h = self.size
        base = dict(task=self.task, prompt="a red fox in the snow", seeds=[7], width=w, height=h, steps=2)
        base.update(kw)
        return RenderRequest(**base)

    def pixels(self, engine: Engine, **kw) -> list[np.ndarray]:
        return [np.asarray(r.image) for r in engine.render(self.request(**kw))]

    def test_same_seed_same_pixels(self, engine: Engine) -> None:
        a = self.pixels(engine, seeds=[11])
        b = self.pixels(engine, seeds=[11])
        assert np.array_equal(a[0], b[0])

    def test_other_seed_other_pixels(self, engine: Engine) -> None:
        a, b = self.pixels(engine, seeds=[11, 12])
        assert not np.array_equal(a, b)

    def test_output_size_and_one_output_per_seed(self, engine: Engine) -> None:
        outs = list(engine.render(self.request(seeds=[1, 2, 3])))
        assert [o.index for o in outs] == [0, 1, 2]
        assert [o.seed for o in outs] == [1, 2, 3]
        for o in outs:
            assert o.image.size == self.size
            assert (o.width, o.height) == self.size

    def test_progress_is_reported(self, engine: Engine) -> None:
        seen: list[Progress] = []
        list(engine.render(self.request(seeds=[1, 2]), seen.append))
        assert seen, "no progress reported"
        assert {p.index for p in seen} == {0, 1}
        assert all(1 <= p.step <= p.total for p in seen)

    def test_describe_records_identity(self, engine: Engine) -> None:
        info = engine.describe()
        assert info.id == engine.id
        assert info.pipeline
        assert "torch" in info.libraries and "diffusers" in info.libraries
        caps = engine.capabilities()
        assert self.task in caps.tasks

    def test_cancel_stops_the_render(self, engine: Engine) -> None:
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(Cancelled):
            list(engine.render(self.request(cancel=cancel)))

    def test_size_over_the_limit_is_refused(self, engine: Engine) -> None:
        too_big = engine.capabilities().max_size + 64
        with pytest.raises(InvalidInput) as e:
            list(engine.render(self.request(width=too_big, height=too_big)))
        assert e.value.field == "size"
