"""Ray actor pools: one per tier, each actor keeping its engine (and model) resident.

    worker process: claim a job from the database → build its plan → swap the plan's engine for a
        RemoteEngine on the tier's pool → run_plan (credits, blobs, rows: all in the worker)
    RemoteEngine.render → EnginePool.stream → EngineActor.render (a streaming generator in the
        actor) yields encoded outputs (PNG bytes + seed + size + metadata, a draft's latent as .npy
        bytes) one by one
    an actor dies mid-stream (RayActorError) → the pool replaces it and the seeds not yet
        delivered are rendered again on the new actor (bounded retries)

Only bytes and plain values cross Ray's object store, never PIL images or torch tensors: images as
PNG, a latent draft's latent (and a promote's init latent) as the ``.npy`` bytes the side blob is
stored as (engines/local/latents.py), so a draft rendered on an actor is stored exactly as a local
one: its tiny-decoder preview, its latent beside it, decoded on keep. Ray is imported inside
functions so that `import tierflow.scale.pools` stays cheap.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import Cancelled, EngineFailed, InvalidInput
from tierflow.engines.base import Capabilities, Engine, EngineInfo, Progress, ProgressCallback, Rendered, RenderRequest

if TYPE_CHECKING:
    from tierflow.config import Settings
    from tierflow.stages.runner import RenderPlan

log = logging.getLogger(__name__)

IMAGE_FIELDS = ("init_image", "mask")
PLAIN_FIELDS = ("task", "prompt", "negative_prompt", "seeds", "width", "height", "steps", "guidance", "strength",
                "scale", "frames", "fps", "extra")


# -- what crosses the object store ------------------------------------------------------------
def _png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)  # lossless; speed over size for a hop on the LAN
    return buf.getvalue()


def _image(data: bytes | None):
    if data is None:
        return None
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.copy()


def _npy(latent) -> bytes | None:
    if latent is None:
        return None
    from tierflow.engines.local.latents import latent_bytes

    return latent_bytes(latent)


def _latent(data: bytes | None):
    if data is None:
        return None
    from tierflow.engines.local.latents import latent_from_bytes

    return latent_from_bytes(data)


def request_payload(request: RenderRequest) -> dict[str, Any]:
    """A render request as plain values, PNG and .npy bytes (its cancel event stays in the worker)."""
    payload = {name: getattr(request, name) for name in PLAIN_FIELDS}
    payload["seeds"] = list(request.seeds)
    payload["extra"] = {k: v for k, v in request.extra.items() if isinstance(v, (str, int, float, bool))}
    for name in IMAGE_FIELDS:
        image = getattr(request, name)
        payload[name] = _png(image) if image is not None else None
    payload["preview"] = bool(request.preview)  # a draft: keep the latent, preview with the tiny decoder
    payload["init_latent"] = _npy(request.init_latent)  # a promote's latent handoff
    return payload


def request_from_payload(payload: dict[str, Any]) -> RenderRequest:
    return RenderRequest(**{k: payload[k] for k in PLAIN_FIELDS}, **{k: _image(payload[k]) for k in IMAGE_FIELDS},
                         preview=payload["preview"], init_latent=_latent(payload["init_latent"]))


def encode_rendered(out: Rendered, actor: str) -> dict[str, Any]:
    meta = {k: v for k, v in out.metadata.items() if isinstance(v, (str, int, float, bool)) or v is None}
    meta.update(actor=actor, actor_pid=os.getpid())
    return {"index": out.index, "seed": out.seed, "png": _png(out.image) if out.image is not None else None,
            "video": out.video_bytes, "video_format": out.video_format, "width": out.width, "height": out.height,
            "seconds": out.seconds, "metadata": meta, "latent": _npy(out.latent), "source": out.source}


def decode_rendered(item: dict[str, Any]) -> Rendered:
    return Rendered(index=item["index"], seed=item["seed"], image=_image(item["png"]), video_bytes=item["video"],
                    video_format=item["video_format"], width=item["width"], height=item["height"],
                    seconds=item["seconds"], metadata=dict(item["metadata"]), latent=_latent(item["latent"]),
                    source=item["source"])


# -- the actor --------------------------------------------------------------------------------
class EngineActor:
    """Lives in a Ray worker process; builds engines with the worker's settings and keeps them loaded."""

    def __init__(self, settings: Settings, label: str) -> None:
        from tierflow.bootstrap import quiet_libraries
        from tierflow.engines.catalog import build_registry

        quiet_libraries()
        self.label = label
        self.registry = build_registry(settings)

    def ready(self) -> dict[str, Any]:
        return {"label": self.label, "pid": os.getpid()}

    def render(self, engine_id: str, payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Yield one encoded output at a time (a Ray streaming generator)."""
        engine = self.registry.get(engine_id)
        for out in engine.render(request_from_payload(payload)):
            yield encode_rendered(out, self.label)


# -- the pool ---------------------------------------------------------------------------------
@dataclass
class _Slot:
    index: int
    label: str
    handle: Any
    replaced: int = 0


@dataclass
class EnginePool:
    """``size`` actors for one tier; a caller borrows an idle actor for one render."""

    tier: str
    size: int
    settings: Settings
    num_gpus: float = 1.0
    num_cpus: float = 1.0
    slots: list[_Slot] = field(default_factory=list)
    _idle: queue.Queue = field(default_factory=queue.Queue)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def launch(self) -> EnginePool:
        """Ask Ray for the actors (returns at once; :meth:`wait` blocks until they run)."""
        if self.size < 1:
            raise InvalidInput(f"a pool of {self.size} actors", field=f"{self.tier}_actors", fix="use 1 or more")
        self.slots = [_Slot(i, f"{self.tier}-{i}", self._spawn(f"{self.tier}-{i}")) for i in range(self.size)]
        for slot in self.slots:
            self._idle.put(slot)
        return self

    def wait(self, timeout: float = 300.0) -> EnginePool:
        import ray

        ray.get([s.handle.ready.remote() for s in self.slots], timeout=timeout)
        return self

    def start(self) -> EnginePool:
        return self.launch().wait()

    def _spawn(self, label: str):
        import ray

        cls = ray.remote(num_gpus=self.num_gpus, num_cpus=self.num_cpus)(EngineActor)
        return cls.remote(self.settings, label)

    def replace(self, slot: _Slot) -> None:
        """A dead actor's slot gets a fresh actor (its engine loads again on first use)."""
        import ray

        with self._lock:
            try:
                ray.kill(slot.handle, no_restart=True)
            except Exception:  # noqa: BLE001 - it is usually dead already
                pass
            slot.replaced += 1
            slot.label = f"{self.tier}-{slot.index}r{slot.replaced}"
            slot.handle = self._spawn(slot.label)
            log.warning("replaced dead actor %s-%d with %s", self.tier, slot.index, slot.label)

    def stream(self, engine_id: str, payload: dict[str, Any], cancel: threading.Event | None = None
               ) -> Iterator[dict[str, Any]]:
        """Encoded outputs of one render on an idle actor; a dead actor is replaced, then the error re-raised."""
        import ray
        from ray.exceptions import RayActorError

        slot: _Slot = self._idle.get()
        try:
            refs = slot.handle.render.options(num_returns="streaming").remote(engine_id, payload)
            try:
                for ref in refs:
                    if cancel is not None and cancel.is_set():
                        ray.cancel(refs)
                        raise Cancelled("the render was cancelled", field="job", fix="start it again when needed")
                    yield ray.get(ref)
            except RayActorError:
                self.replace(slot)
                raise
        finally:
            self._idle.put(slot)

    def actors(self) -> list[Any]:
        return [s.handle for s in self.slots]

    def close(self) -> None:
        import ray

        for slot in self.slots:
            try:
                ray.kill(slot.handle, no_restart=True)
            except Exception:  # noqa: BLE001 - shutting down
                pass


# -- the engine the stage runner sees -----------------------------------------------------------
class RemoteEngine(Engine):
    """The plan's engine for validation, pricing and identity; its renders run on a pool's actors."""

    def __init__(self, local: Engine, pool: EnginePool, max_retries: int = 2) -> None:
        self.local, self.pool, self.max_retries = local, pool, max_retries
        self.id, self.tier = local.id, local.tier

    def capabilities(self) -> Capabilities:
        return self.local.capabilities()

    def describe(self) -> EngineInfo:
        return self.local.describe()

    def prepare(self, request: RenderRequest) -> RenderRequest:
        return self.local.prepare(request)

    def __getattr__(self, name: str):
        if name == "local":
            raise AttributeError(name)
        return getattr(self.local, name)  # e.g. a hosted engine's estimate_credits, for the guard

    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        from ray.exceptions import RayActorError

        index = {seed: i for i, seed in enumerate(request.seeds)}
        remaining = list(request.seeds)
        count, done, failures = len(remaining), 0, 0
        while remaining:
            payload = request_payload(request)
            payload["seeds"] = list(remaining)
            try:
                for item in self.pool.stream(self.id, payload, request.cancel):
                    out = decode_rendered(item)
                    out.index = index.get(out.seed, out.index)
                    if out.seed in remaining:
                        remaining.remove(out.seed)
                    else:  # an engine without seeds (a video): one output per request
                        remaining.pop(0)
                    done += 1
                    if progress is not None:
                        progress(Progress(1, 1, out.index, count, message=item["metadata"]["actor"]))
                    yield out
            except RayActorError as e:
                failures += 1
                if failures > self.max_retries:
                    raise EngineFailed(f"the {self.pool.tier} actor died {failures} times", field="engine",
                                       fix="check the Ray cluster's logs (out of memory?) and retry") from e
                log.warning("%s actor died after %d of %d outputs; retrying the rest", self.pool.tier, done, count)


# -- wiring -----------------------------------------------------------------------------------
@dataclass
class Pools:
    """The pools a worker renders on, by tier."""

    pools: dict[str, EnginePool]
    started_ray: bool = False

    def engine_for(self, plan: RenderPlan) -> Engine:
        pool = self.pools.get(plan.stage.value)
        if pool is None:
            raise InvalidInput(f"no Ray pool serves {plan.stage.value} jobs", field="tiers",
                               fix=f"start the worker with --tiers including {plan.stage.value}")
        return RemoteEngine(plan.engine, pool)

    def threads(self) -> dict[str, int]:
        """One worker loop per actor, so every actor can be busy."""
        return {tier: pool.size for tier, pool in self.pools.items()}

    def close(self) -> None:
        import ray

        for pool in self.pools.values():
            pool.close()
        if self.started_ray:
            ray.shutdown()


# -- what the pools ask of the cluster ----------------------------------------------------------
@dataclass(frozen=True)
class PoolAsk:
    """One pool's demand: ``actors`` actors of ``gpus``/``cpus`` each."""

    tier: str
    actors: int
    gpus: float
    cpus: float


def _n(x: float) -> str:
    return f"{x:g}"


def unschedulable(asks: list[PoolAsk], cluster: dict[str, float]) -> list[str]:
    """What the pools ask that the cluster (``ray.cluster_resources()``) cannot give, each with its fix.

    Empty when everything fits. Pure: tested without Ray. Ray itself would wait forever in silence
    for an actor it cannot place; this says so at once.
    """
    problems: list[str] = []
    flags = " + ".join(f"--{a.tier}-actors {a.actors}" for a in asks)
    for resource, per, option in (("GPU", "gpus", "--gpus-per-actor"), ("CPU", "cpus", "--cpus-per-actor")):
        need = sum(a.actors * getattr(a, per) for a in asks)
        have = float(cluster.get(resource, 0.0))
        if need <= have + 1e-9:
            continue
        per_actor = {getattr(a, per) for a in asks}
        each = _n(per_actor.pop()) if len(per_actor) == 1 else "…"
        text = f"needs {_n(need)} {resource}s for {flags} × {option} {each}; the cluster has {_n(have)}"
        if resource == "GPU" and have == 0:
            fix = f"pass {option} 0 to run on CPUs, or join a GPU node to the cluster (`ray start --address ...`)"
        else:
            fix = (f"lower {' / '.join(f'--{a.tier}-actors' for a in asks)} or {option} to fit in "
                   f"{_n(have)} {resource}s, or add nodes to the cluster")
        problems.append(f"{text}: {fix}")
    return problems


def _unreachable(address: str, why: str) -> InvalidInput:
    return InvalidInput(f"no Ray cluster at {address!r} ({why})", field="ray",
                        fix="start one with `ray start --head` (then --ray auto), check the address, "
                            "or pass --ray local to start Ray on this machine")


def probe_address(address: str, timeout: float = 3.0) -> None:
    """For a ``host:port`` (or ``ray://host:port``) address, fail fast when nothing listens there."""
    import socket

    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if address in ("local", "auto") or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as e:
        raise _unreachable(address, e.strerror or type(e).__name__) from None


def connect_ray(address: str) -> bool:
    """Connect to (or with ``"local"`` start) Ray; return whether this call started it.

    An address with no cluster behind it is one line naming the fix, not a ConnectionError traceback.
    """
    import ray

    if ray.is_initialized():
        return False
    probe_address(address)  # Ray itself retries an unreachable GCS for minutes
    try:
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, TimeoutError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise _unreachable(address, first.rstrip(".")) from None
    return True


def start_pools(settings: Settings, tiers: list[str], address: str, *, sizes: dict[str, int] | None = None,
                num_gpus: float = 1.0, num_cpus: float = 1.0) -> Pools:
    """Connect to Ray (``"local"`` starts one on this machine), check the cluster can hold every
    actor, and start one pool per tier."""
    import ray

    for name, value in (("gpus_per_actor", num_gpus), ("cpus_per_actor", num_cpus)):
        if value < 0:
            raise InvalidInput(f"{value:g} is not a resource amount", field=name, fix="pass 0 or more")
    asks = [PoolAsk(tier, (sizes or {}).get(tier, 1), num_gpus, num_cpus) for tier in tiers]
    for ask in asks:
        if ask.actors < 1:
            raise InvalidInput(f"a pool of {ask.actors} actors", field=f"{ask.tier}_actors", fix="use 1 or more")
    started = connect_ray(address)
    problems = unschedulable(asks, ray.cluster_resources())
    if problems:
        if started:
            ray.shutdown()
        raise InvalidInput("; ".join(problems), field="ray")
    pools = {a.tier: EnginePool(a.tier, a.actors, settings, num_gpus=num_gpus, num_cpus=num_cpus) for a in asks}
    for pool in pools.values():
        pool.launch()  # every actor starts at once; their imports and model loads overlap
    for pool in pools.values():
        pool.wait()
    return Pools(pools, started)
