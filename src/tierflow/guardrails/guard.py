"""LedgerGuard: prices every stage run, enforces policies and budgets, and keeps the ledger.

The runner calls it inside its own transactions (see :mod:`tierflow.stages.guard`)::

    quote  → credits from the price table (or a hosted engine's own estimate)
    admit  → lock the project, check draft-first and the final cap (stage "final"), check every
             budget the render counts against, write one reserve entry per scope
    settle → commit what was spent (the provider's reported credits when every output has them)
    refund → release the whole reservation (failed, cancelled, or left by a crashed process)

Prices: :data:`tierflow.domain.pricing.DEFAULT_PRICES`, or ``$TIERFLOW_HOME/prices.json`` when it
exists — the same shape as the TOML in :mod:`tierflow.domain.pricing`, e.g.
``{"tiers": {"final": {"per_unit": 3}}, "engines": {"tiny-final": {"base": 10, "per_unit": 0}}}``.
An engine named under ``engines`` is priced by the table; otherwise a hosted engine with
``estimate_credits(request)`` quotes itself, and every other engine gets its tier's rate. An
engine that runs other renders (``priced_parts(request)``: the tiled creative pass) costs the sum
of those renders' prices.

Roles: there are no accounts yet, so the role comes from the override itself
(``plan.override = {"user", "role", "reason"}``); the CLI's local user acts as lead. When accounts
arrive, the caller fills the role from the signed-in user and nothing here changes.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from tierflow.domain import ledger
from tierflow.domain.errors import BudgetExhausted, InvalidInput, NotFound, PolicyBlocked
from tierflow.domain.ledger import EPSILON, Balance, EntryKind, LedgerEntry, Scope, ScopeKey
from tierflow.domain.models import Milestone, Project, Stage, Tier
from tierflow.domain.policies import Override, check_final_allowed, override_audit, shell_quote
from tierflow.domain.pricing import CREDIT_DIGITS, DEFAULT_PRICES, IMAGE_TASKS, UPSCALE_TASK, VIDEO_TASK, PriceTable
from tierflow.stages.guard import Reservation
from tierflow.storage.charges_repo import ChargesRepo
from tierflow.storage.clock import now
from tierflow.storage.ledger_repo import LedgerRepo
from tierflow.storage.milestones_repo import MilestonesRepo
from tierflow.storage.policy_repo import PolicyRepo, policy_of

if TYPE_CHECKING:
    from tierflow.engines.base import Engine, RenderRequest
    from tierflow.stages.runner import RenderPlan

log = logging.getLogger(__name__)

PRICES_FILE = "prices.json"


def load_prices(home: Path | None = None) -> PriceTable:
    """The price table: ``<home>/prices.json`` if present, else the defaults."""
    home = Path(home) if home is not None else Path(os.environ.get("TIERFLOW_HOME") or Path.home() / ".tierflow")
    path = home.expanduser() / PRICES_FILE
    if not path.is_file():
        return DEFAULT_PRICES
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"{path} cannot be read: {e}", field="prices.json",
                           fix="fix the JSON or delete the file to use the default prices") from e
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{path} is not a JSON object", field="prices.json",
                           fix='use {"tiers": {...}, "engines": {...}, "usage": {...}}')
    return PriceTable.from_dict(data)


def price_request(table: PriceTable, engine_id: str, tier: Tier | str, request: RenderRequest) -> float:
    """Credits for a prepared request under ``table`` (steps that really run, output size for upscales)."""
    task = request.task
    count = max(1, len(request.seeds))
    steps = request.steps or 1
    width, height, scale = request.width, request.height, None
    if task in IMAGE_TASKS and task != "txt2img" and request.strength is not None:
        # diffusers runs int(steps × strength) steps when it starts from an image.
        steps = max(1, int(steps * request.strength))
    if task == UPSCALE_TASK:
        if request.scale:
            scale = float(request.scale)
            if request.init_image is not None:
                width, height = request.init_image.size
        else:
            scale = 1.0  # the request names the output size itself
    frames = request.frames if task == VIDEO_TASK else None
    return table.price(engine_id, tier, task, width, height, steps, count, frames, scale)


class LedgerGuard:
    """Credits and policies for every stage run (implements :class:`tierflow.stages.guard.Guard`)."""

    def __init__(self, prices: PriceTable | None = None, *, home: Path | None = None) -> None:
        self._prices = prices
        self._home = home

    @property
    def prices(self) -> PriceTable:
        if self._prices is None:
            self._prices = load_prices(self._home)
        return self._prices

    # -- pricing --------------------------------------------------------------------------
    def quote(self, plan: RenderPlan) -> float:
        """Credits the plan will cost (nothing is reserved)."""
        parts = getattr(plan.engine, "priced_parts", None)
        if callable(parts):
            # A composed engine (the tiled creative pass) costs what the renders it runs cost.
            return round(sum(self._quote_request(e, r) for e, r in parts(plan.request)), CREDIT_DIGITS)
        return self._quote_request(plan.engine, plan.request)

    def _quote_request(self, engine: Engine, request: RenderRequest) -> float:
        estimate = getattr(engine, "estimate_credits", None)
        if engine.id not in self.prices.engines and callable(estimate):
            return round(float(estimate(request)), CREDIT_DIGITS)
        return price_request(self.prices, engine.id, engine.tier, request)

    def price_info(self, engine: Engine) -> dict[str, Any]:
        """How an engine is priced, with the price of one default output (for `tierflow engines`)."""
        from tierflow.engines.base import RenderRequest

        estimate = getattr(engine, "estimate_credits", None)
        by_table = engine.id in self.prices.engines or not callable(estimate)
        info: dict[str, Any] = {"source": "provider estimate"}
        if by_table:
            rate = self.prices.rate_for(engine.id, engine.tier)
            info = {"source": "engine rate" if engine.id in self.prices.engines else "tier rate", **rate.to_dict()}
        caps = engine.capabilities()
        task = caps.tasks[0]
        width, height = caps.default_size
        if task == UPSCALE_TASK and not (width and height):
            width, height = 512, 512  # upscalers have no output size of their own: price a 512² source
        frames = getattr(engine, "default_frames", None) or caps.max_frames or None
        request = RenderRequest(task=task, width=width, height=height, steps=caps.default_steps,
                                frames=frames if task == VIDEO_TASK else None, scale=caps.scale or None)
        try:
            credits = float(estimate(request)) if not by_table else price_request(
                self.prices, engine.id, engine.tier, request)
        except (InvalidInput, TypeError, ValueError):
            credits = None
        info["example"] = {"task": task, "width": width, "height": height, "steps": caps.default_steps,
                           "credits": credits}
        return info

    # -- the runner's hooks ----------------------------------------------------------------
    def admit(self, session: Session, plan: RenderPlan, credits: float, generation_id: str) -> Reservation:
        """Check policies and budgets and reserve ``credits`` in the caller's transaction, or raise."""
        repo, policies = LedgerRepo(session), PolicyRepo(session)
        project = repo.lock(plan.project_id)
        milestone = _milestone(session, project, plan, generation_id)
        if Stage(plan.stage) is Stage.FINAL:
            self._check_final(policies, project, plan, generation_id, milestone)
        t = now()
        keys = _scopes(project, milestone.id if milestone else None)
        limits: dict[ScopeKey, float] = {}
        if plan.user_id:
            user_key = ScopeKey.user_day(plan.user_id, t)
            keys.append(user_key)
            limit = policies.daily_limit(plan.user_id)
            if limit is not None:
                limits[user_key] = limit
        balances = repo.balances(keys, limits)
        _check_can_reserve(balances, credits, project, milestone)
        entries = ledger.reserve(keys, float(credits), generation_id=generation_id, user_id=plan.user_id, now=t,
                                 note=f"{Stage(plan.stage).value} on {plan.engine.id}")
        repo.append(entries)
        after = repo.balances(keys, limits)
        threshold = policy_of(project).low_credit_threshold
        warnings = [w for b in after for w in ledger.warnings_for(b, threshold)]
        return Reservation(id=entries[0].reservation_id, credits=float(credits), warnings=warnings)

    def settle(self, session: Session, plan: RenderPlan, reservation: Reservation, spent: float) -> None:
        """Commit what the render cost and release the rest of the reservation."""
        if reservation.id is None:
            return
        repo = LedgerRepo(session)
        repo.lock(plan.project_id)
        entries = repo.for_reservation(reservation.id)
        if not _is_open(entries):
            log.warning("reservation %s is already closed; not settling it again", reservation.id)
            return
        reserves = [e for e in entries if e.kind is EntryKind.RESERVE]
        reserved = max(e.amount for e in reserves)
        generation_id = reserves[0].generation_id
        reported = ChargesRepo(session).reported_credits(generation_id) if generation_id else None
        charge = max(0.0, float(spent if reported is None else reported))
        repo.append(ledger.commit(entries, min(charge, reserved), note="render finished"))
        if charge > reserved + EPSILON:
            # The provider billed more than the quote: record what was really spent, not the estimate.
            extra = round(charge - reserved, CREDIT_DIGITS)
            scopes = [ScopeKey(e.scope, e.scope_id) for e in reserves]
            more = ledger.reserve(scopes, extra, generation_id=generation_id, user_id=reserves[0].user_id,
                                  note="provider usage above the quote")
            repo.append(more)
            repo.append(ledger.commit(more, extra, note="provider usage above the quote"))
        if reported is not None and generation_id:
            ChargesRepo(session).set_charged(generation_id, charge)

    def refund(self, session: Session, plan: RenderPlan, reservation: Reservation) -> None:
        """Release the whole reservation (the render failed or was cancelled with no output)."""
        if reservation.id is not None:
            self.refund_reservation(session, reservation.id)

    def refund_reservation(self, session: Session, reservation_id: str, *,
                           note: str = "render failed or was cancelled") -> bool:
        """Refund an open reservation by id (crash recovery); False when it is unknown or closed."""
        repo = LedgerRepo(session)
        entries = repo.for_reservation(reservation_id)
        project_id = next((e.scope_id for e in entries if e.scope is Scope.PROJECT), None)
        if project_id is not None:
            repo.lock(project_id)
            entries = repo.for_reservation(reservation_id)
        if not _is_open(entries):
            return False
        repo.append(ledger.refund(entries, note=note))
        return True

    def refund_orphaned(self, session: Session) -> list[str]:
        """Refund open reservations whose generation is no longer queued or running; returns their ids."""
        repo = LedgerRepo(session)
        refunded = []
        for rid in repo.open_reservation_ids():
            entries = repo.for_reservation(rid)
            gen_id = next((e.generation_id for e in entries if e.generation_id), None)
            status = ChargesRepo(session).status(gen_id) if gen_id else None
            if status in ("queued", "running"):
                continue
            if self.refund_reservation(session, rid, note="the render's job is gone; credits released"):
                refunded.append(rid)
        return refunded

    def status(self, session: Session, project_id: str) -> dict[str, Any]:
        """Balances (workspace, project, its milestones), policy, warnings, and the current milestone.

        ``milestone``: the milestone a render that names none counts against now, with its finals
        and the cap (None before the project's first final made the implicit one).
        """
        try:
            project = LedgerRepo(session).project(project_id)
        except NotFound:
            return {}
        policy = policy_of(project)
        milestones = MilestonesRepo(session)
        listed = milestones.list(project_id)
        keys = _scopes(project, None) + [ScopeKey(Scope.MILESTONE, m.id) for m in listed]
        balances = LedgerRepo(session).balances(keys)
        warnings = [w for b in balances for w in ledger.warnings_for(b, policy.low_credit_threshold)]
        current = milestones.current(project_id)
        counted = None
        if current is not None:
            counted = {"id": current.id, "name": current.name, "final_cap": policy.final_cap,
                       "finals": PolicyRepo(session).finals_in_milestone(current.id)}
        return {"policy": policy.to_dict(), "balances": [b.to_dict() for b in balances], "warnings": warnings,
                "milestone": counted}

    # -- policies ---------------------------------------------------------------------------
    def _check_final(self, policies: PolicyRepo, project: Project, plan: RenderPlan, generation_id: str,
                     milestone: Milestone | None) -> None:
        policy = policy_of(project)
        drafts = policies.drafts_in_thread(plan.prompt_id) if plan.prompt_id else 0
        finals_thread = (policies.finals_in_thread(plan.prompt_id, exclude_generation=generation_id)
                         if plan.prompt_id else 0)
        finals_ms = (policies.finals_in_milestone(milestone.id, exclude_generation=generation_id)
                     if milestone is not None else None)
        count = max(1, len(plan.request.seeds))
        counts = {"drafts_in_thread": drafts, "finals_in_thread": finals_thread, "finals_in_milestone": finals_ms,
                  "milestone": milestone.name if milestone else None}
        names = {"milestone": milestone.name if milestone else None, "project": project.name}
        try:
            check_final_allowed(policy, drafts, finals_ms, None, finals_in_thread=finals_thread, count=count, **names)
            return
        except PolicyBlocked:
            override = to_override(plan.override)
            if override is None:
                raise
        rules = check_final_allowed(policy, drafts, finals_ms, override, finals_in_thread=finals_thread, count=count,
                                    **names)
        policies.write_audit(override_audit(
            override, rules, project_id=project.id, target_id=generation_id,
            details={**counts, "policy": policy.to_dict(), "stage": Stage.FINAL.value, "engine_id": plan.engine.id},
        ))


def _milestone(session: Session, project: Project, plan: RenderPlan, generation_id: str) -> Milestone | None:
    """The milestone the render counts against, recorded on its generation row and in its outputs' params.

    A named milestone must be open; a render that names none counts against the project's current
    milestone, and a final gets the implicit one when none is open (so a set cap always holds).
    """
    repo = MilestonesRepo(session)
    if plan.milestone_id:
        milestone = repo.get(project.id, plan.milestone_id)
        if milestone.id in repo.closed_ids(project.id):
            raise PolicyBlocked(f"milestone {milestone.name!r} is closed", field="milestone",
                                fix=f"render into an open milestone or create one "
                                    f"(`tierflow milestone create NAME -p {shell_quote(project.name)}`)")
    else:
        milestone = repo.current(project.id, create=Stage(plan.stage) is Stage.FINAL)
    if milestone is not None:
        repo.assign(generation_id, milestone)
        # For the outputs' params; plan.milestone_id stays as asked: an admission may be a dry run
        # that is rolled back (the implicit milestone with it), and the real one resolves it again.
        plan.params = {**plan.params, "milestone": {"id": milestone.id, "name": milestone.name}}
    return milestone


def to_override(value: Any) -> Override | None:
    """An Override from ``plan.override`` (a dict {user, role, reason} or an Override); raises for a designer."""
    if value is None or isinstance(value, Override):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{value!r} is not an override", field="override",
                           fix='pass {"user": ..., "role": "lead", "reason": ...}')
    # No role given means the least privileged one: an override must say who may grant it.
    return Override(user_id=str(value.get("user") or value.get("user_id") or ""),
                    role=value.get("role") or "designer", reason=value.get("reason") or "")


def _scopes(project: Project, milestone_id: str | None) -> list[ScopeKey]:
    keys = [ScopeKey(Scope.WORKSPACE, project.workspace_id), ScopeKey(Scope.PROJECT, project.id)]
    if milestone_id:
        keys.append(ScopeKey(Scope.MILESTONE, milestone_id))
    return keys


def _check_can_reserve(balances: list[Balance], credits: float, project: Project,
                       milestone: Milestone | None = None) -> None:
    try:
        ledger.check_can_reserve(balances, credits)
    except BudgetExhausted as e:
        short = min((b for b in balances if not b.unlimited and credits > b.remaining + EPSILON),
                    key=lambda b: b.remaining)
        name = shell_quote(project.name)
        how = {
            Scope.WORKSPACE: f"`tierflow budget -p {name} --workspace --grant N`",
            Scope.PROJECT: f"`tierflow budget -p {name} --grant N`",
            Scope.MILESTONE: f"`tierflow budget -p {name} --milestone "
                             f"{shell_quote(milestone.name) if milestone else 'M'} --grant N`",
        }.get(short.scope)
        fix = f"{e.fix}: {how}" if how else e.fix
        # Name the scope as people know it: the project and milestone by name, not by internal id.
        label = {project.id: f"{project.name!r}"}
        if milestone is not None:
            label[milestone.id] = f"{milestone.name!r} of {project.name!r}"
        message = e.message
        if short.scope_id in label:
            message = message.replace(f"{short.scope.value} {short.scope_id}",
                                      f"{short.scope.value} {label[short.scope_id]}", 1)
        raise BudgetExhausted(message, field=e.field, fix=fix) from None


def _is_open(entries: list[LedgerEntry]) -> bool:
    kinds = {e.kind for e in entries}
    return EntryKind.RESERVE in kinds and not kinds & {EntryKind.COMMIT, EntryKind.REFUND}
