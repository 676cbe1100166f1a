"""Which engines exist, which one each tier uses by default, and building them lazily.

Presets are data (``LocalPreset``); an engine object is made on first use and kept, so a draft
model stays resident while the CLI or the studio runs. ``TIERFLOW_PRESET=tiny`` selects the
offline tiny engines for every tier; otherwise each tier's real default is used when its weights
are on disk or the hub is reachable, and the tiny preset stands in (with a notice) when not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from tierflow.config import Settings
from tierflow.domain.errors import EngineNotReady, InvalidInput
from tierflow.domain.models import Tier
from tierflow.engines.base import Engine, EngineInfo

EngineFactory = Callable[[Settings], Engine]


@dataclass(frozen=True)
class Registration:
    id: str
    tier: Tier
    factory: EngineFactory
    kind: str  # "tiny" | "local" | "hosted"
    default: bool = False  # the tier's default among engines of this kind


@dataclass(frozen=True)
class Readiness:
    """Whether an engine can run on this install now; when not, why and the one step that fixes it."""

    runnable: bool
    reason: str = ""
    fix: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"runnable": self.runnable, "reason": self.reason or None, "fix": self.fix or None}


class EngineRegistry:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._entries: dict[str, Registration] = {}
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()
        self.notices: list[str] = []
        self._hub: bool | None = None

    def register(self, reg: Registration) -> None:
        self._entries[reg.id] = reg

    def ids(self) -> list[str]:
        return list(self._entries)

    def registration(self, engine_id: str) -> Registration:
        reg = self._entries.get(engine_id)
        if reg is None:
            raise InvalidInput(
                f"unknown engine {engine_id!r}", field="engine",
                fix=f"use one of: {', '.join(sorted(self._entries))} (see `tierflow engines`)",
            )
        return reg

    def get(self, engine_id: str) -> Engine:
        reg = self.registration(engine_id)
        with self._lock:
            engine = self._engines.get(engine_id)
            if engine is None:
                engine = reg.factory(self.settings)
                self._engines[engine_id] = engine
            return engine

    def for_tier(self, tier: Tier, engine_id: str | None = None) -> Engine:
        """The engine named, or the tier's default (which may fall back to tiny with a notice)."""
        if engine_id:
            engine = self.get(engine_id)
            if engine.tier != tier and not self._serves(engine, tier):
                raise InvalidInput(
                    f"engine {engine_id!r} is a {engine.tier.value} engine", field="engine",
                    fix=f"pick a {tier.value} engine (see `tierflow engines`)",
                )
            self.require_available(engine_id)
            return engine
        default = self.default_id(tier)
        self.require_available(default)
        return self.get(default)

    def readiness(self, engine_id: str) -> Readiness:
        """Can ``engine_id`` run here: tiny engines always; local ones with weights on disk (or a reachable
        hub while not offline); hosted ones with their API key."""
        reg = self.registration(engine_id)
        info = self.get(engine_id).describe()
        if reg.kind == "tiny" or info.availability == "ready":
            return Readiness(True)
        if reg.kind == "local":
            if info.available and not self.settings.offline and self.hub_reachable():
                return Readiness(True)  # the weights download on first use
            return Readiness(False, reason=f"the weights of {engine_id} are not on disk and the model hub "
                                           f"cannot be reached",
                             fix=f"run `tierflow models pull {engine_id}` on a machine with network")
        if info.available:
            return Readiness(True)
        reason, _, fix = info.availability.partition(":")
        return Readiness(False, reason=reason.strip() or "not available",
                         fix=fix.strip() or "see `tierflow engines`")

    def require_available(self, engine_id: str) -> None:
        """Raise :class:`EngineNotReady` (409) naming the engine and the fix when it cannot run here."""
        ready = self.readiness(engine_id)
        if not ready.runnable:
            raise EngineNotReady(f"engine {engine_id!r} cannot run here: {ready.reason}", field="engine",
                                 fix=ready.fix)

    @staticmethod
    def _serves(engine: Engine, tier: Tier) -> bool:
        # A final engine may also draft and vice versa; only their defaults differ.
        return {engine.tier, tier} <= {Tier.DRAFT, Tier.FINAL}

    def default_id(self, tier: Tier) -> str:
        candidates = [r for r in self._entries.values() if r.tier == tier and r.default]
        tiny = next((r.id for r in candidates if r.kind == "tiny"), None)
        real = next((r.id for r in candidates if r.kind == "local"), None)
        preset = (self.settings.preset or "auto").lower()
        if preset == "tiny" or real is None:
            if tiny is None:
                raise InvalidInput(f"no engine serves the {tier.value} tier", field="engine",
                                   fix="register one or set TIERFLOW_PRESET")
            return tiny
        if preset not in ("auto", "real", "local"):
            raise InvalidInput(f"unknown preset {preset!r}", field="TIERFLOW_PRESET", fix="use tiny, auto or real")
        if preset == "auto" and tiny is not None and not self._real_usable(real):
            note = (f"{tier.value}: the weights of {real!r} are not on disk and the model hub cannot be reached; "
                    f"using the tiny preset ({tiny}) instead — run `tierflow models pull {real}` where there is "
                    f"network to use the real model")
            if note not in self.notices:
                self.notices.append(note)
            return tiny
        return real

    def _real_usable(self, engine_id: str) -> bool:
        info = self.get(engine_id).describe()
        if info.availability == "ready":
            return True
        return not self.settings.offline and self.hub_reachable()

    def hub_reachable(self) -> bool:
        """One short probe of the model hub per process."""
        if self._hub is None:
            import socket

            try:
                socket.create_connection(("huggingface.co", 443), timeout=1.5).close()
                self._hub = True
            except OSError:
                self._hub = False
        return self._hub

    def describe_all(self) -> list[EngineInfo]:
        return [self.get(i).describe() for i in self._entries]

    def close(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.close()
            self._engines.clear()
