"""A project's economics from plain asset records: ratio, usable rates, cost per usable asset.

Input is a list of dicts, one per asset (storage builds them; nothing here reads a database)::

    stage           "draft" | "final" | "cleanup" | "upscale" | "video" | "overlay"   (required)
    created_at      datetime or ISO string; naive means UTC                             (required)
    review          "unreviewed" | "keep" | "discard" | "star"       (default "unreviewed")
    credits         credits committed for this asset                  (default 0)
    engine_id       engine that rendered it                           (default "")
    seconds         render latency in seconds                         (None: not counted)
    reviewed_at     when the review was made                          (None: never reviewed)
    review_seconds  how long the review took                          (None: a moment)
    user_id         who made it;  reviewer_id: who reviewed it (default user_id)
    reviews         every review of the asset, oldest first: [{"at", "seconds", "user_id"}]
                    (when given, it replaces reviewed_at / review_seconds / reviewer_id: an
                    asset reviewed twice took the time of both reviews)

Definitions:

* **draft-to-final ratio** = drafts / finals (None before the first final). A healthy band is
  3:1 to 300:1; below it the team is not exploring, above it prompts are too vague.
* **usable rate** of a stage = (kept + starred) / made; unreviewed assets count as not usable.
* **usable asset** (for cost) = a kept or starred asset of any stage after draft: drafts are the
  means, not the product. **Cost per usable asset** = all credits of the project (drafts
  included) / usable assets, and the same for human time.
* **high-credit discard share** = of the assets whose credits are ≥ a threshold (default: the
  median credits of the project's finals), the share that was discarded.
* **latency** per engine: p50 and p95 of ``seconds``, linear interpolation between ranks. Storage
  passes each output's own render time (so a batch of 8 drafts is 8 samples of one draft's time,
  never 8 samples of the whole batch's wall time).
* **review seconds**: the sum of every recorded review's duration; per usable asset beside
  human time (which also counts the time at the desk between events, see below).
* **time to first draft** = first draft's ``created_at`` − the project's ``started_at`` (if given).
* **ratio over time**: per UTC day, cumulative drafts, finals and their ratio up to that day.

**Human time** is what people spent on the project, per person, as the length of the union of:

1. every review interval ``[reviewed_at − review_seconds, reviewed_at]`` (measured by the UI), and
2. every gap between two consecutive events of that person — a render finishing
   (``created_at`` of an asset they made), a review starting or ending — when the gap is at most
   ``idle_cutoff_seconds`` (default 10 min): they were at the desk between them; longer gaps are
   time away. The union means no second is counted twice. All of it is attributed to the project
   the records belong to.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import ReviewState, Stage

DEFAULT_BAND = (3.0, 300.0)
IDLE_CUTOFF_SECONDS = 600.0


@dataclass(frozen=True)
class _Review:
    at: datetime
    seconds: float
    user_id: str | None


@dataclass(frozen=True)
class _Record:
    stage: Stage
    review: ReviewState
    credits: float
    engine_id: str
    seconds: float | None
    created_at: datetime
    reviews: tuple[_Review, ...]
    user_id: str | None


@dataclass
class ProjectReport:
    """Everything ``tierflow report`` shows; ``to_dict`` is its JSON."""

    drafts: int
    finals: int
    draft_to_final_ratio: float | None
    band: tuple[float, float]
    counts: dict[str, dict[str, int]]
    usable_rate: dict[str, float]
    total_credits: float
    human_seconds: float
    usable_assets: int
    cost_per_usable_asset: dict[str, float | None]
    high_credit_threshold: float | None
    high_credit_discard_share: float | None
    latency: dict[str, dict[str, float]]
    time_to_first_draft_seconds: float | None
    ratio_over_time: list[dict[str, Any]]
    spend_by_tier: dict[str, float]
    review_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    spend_over_time: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "draft_to_final_ratio": self.draft_to_final_ratio,
            "band": list(self.band),
            "drafts": self.drafts,
            "finals": self.finals,
            "counts": self.counts,
            "usable_rate": self.usable_rate,
            "total_credits": self.total_credits,
            "human_seconds": self.human_seconds,
            "review_seconds": self.review_seconds,
            "usable_assets": self.usable_assets,
            "cost_per_usable_asset": self.cost_per_usable_asset,
            "high_credit_threshold": self.high_credit_threshold,
            "high_credit_discard_share": self.high_credit_discard_share,
            "latency": self.latency,
            "time_to_first_draft_seconds": self.time_to_first_draft_seconds,
            "ratio_over_time": self.ratio_over_time,
            "spend_by_tier": self.spend_by_tier,
            "spend_over_time": self.spend_over_time,
            "warnings": list(self.warnings),
        }


def project_report(
    assets: Iterable[Mapping[str, Any]],
    *,
    started_at: datetime | str | None = None,
    band: tuple[float, float] = DEFAULT_BAND,
    idle_cutoff_seconds: float = IDLE_CUTOFF_SECONDS,
    high_credit_threshold: float | None = None,
) -> ProjectReport:
    """Compute the report of one project's assets (definitions in the module docstring)."""
    low, high = _check_band(band)
    if not _is_number(idle_cutoff_seconds) or idle_cutoff_seconds < 0:
        raise InvalidInput(
            f"{idle_cutoff_seconds!r} is not a cutoff", field="idle_cutoff_seconds", fix="use seconds ≥ 0"
        )
    records = [_record(a, i) for i, a in enumerate(assets)]

    by_stage: dict[Stage, list[_Record]] = defaultdict(list)
    for r in records:
        by_stage[r.stage].append(r)
    drafts, finals = len(by_stage[Stage.DRAFT]), len(by_stage[Stage.FINAL])
    ratio = drafts / finals if finals else None

    counts, usable_rate, spend = {}, {}, {}
    for stage in Stage:
        rs = by_stage.get(stage)
        if not rs:
            continue
        usable = sum(r.review.usable for r in rs)
        counts[stage.value] = {
            "made": len(rs),
            "usable": usable,
            "discarded": sum(r.review is ReviewState.DISCARD for r in rs),
            "unreviewed": sum(r.review is ReviewState.UNREVIEWED for r in rs),
        }
        usable_rate[stage.value] = usable / len(rs)
        spend[stage.value] = _round(math.fsum(r.credits for r in rs))

    total_credits = _round(math.fsum(r.credits for r in records))
    human = _human_seconds(records, idle_cutoff_seconds)
    review_total = _round(math.fsum(v.seconds for r in records for v in r.reviews))
    deliverables = sum(r.review.usable for r in records if r.stage is not Stage.DRAFT)
    cost = {
        "credits": total_credits / deliverables if deliverables else None,
        "human_seconds": human / deliverables if deliverables else None,
        "review_seconds": review_total / deliverables if deliverables else None,
    }

    if high_credit_threshold is None and by_stage[Stage.FINAL]:
        high_credit_threshold = statistics.median(r.credits for r in by_stage[Stage.FINAL])
    share = None
    if high_credit_threshold is not None:
        expensive = [r for r in records if r.credits >= high_credit_threshold]
        if expensive:
            share = sum(r.review is ReviewState.DISCARD for r in expensive) / len(expensive)

    latency = {}
    for engine_id in sorted({r.engine_id for r in records}):
        secs = sorted(r.seconds for r in records if r.engine_id == engine_id and r.seconds is not None)
        if secs:
            latency[engine_id] = {"n": len(secs), "p50": percentile(secs, 50), "p95": percentile(secs, 95)}

    first_draft = None
    if started_at is not None and by_stage[Stage.DRAFT]:
        start = _when(started_at, "started_at")
        first_draft = (min(r.created_at for r in by_stage[Stage.DRAFT]) - start).total_seconds()

    warnings = []
    if ratio is not None and ratio < low:
        warnings.append(
            f"draft-to-final ratio {ratio:.1f}:1 is below {low:g}:1 — not exploring: draft more variations before"
            " promoting"
        )
    elif ratio is not None and ratio > high:
        warnings.append(
            f"draft-to-final ratio {ratio:.1f}:1 is above {high:g}:1 — prompts too vague: tighten the prompt"
            " (see `tierflow dna`) before drafting more"
        )
    unreviewed = sum(r.review is ReviewState.UNREVIEWED for r in records)
    if unreviewed:
        warnings.append(
            f"{unreviewed} of {len(records)} assets are unreviewed and count as not usable — review them"
            " (`tierflow review ASSET --keep|--discard`)"
        )

    return ProjectReport(
        drafts=drafts,
        finals=finals,
        draft_to_final_ratio=ratio,
        band=(low, high),
        counts=counts,
        usable_rate=usable_rate,
        total_credits=total_credits,
        human_seconds=human,
        usable_assets=deliverables,
        cost_per_usable_asset=cost,
        high_credit_threshold=high_credit_threshold,
        high_credit_discard_share=share,
        latency=latency,
        time_to_first_draft_seconds=first_draft,
        ratio_over_time=_ratio_over_time(records),
        spend_over_time=_spend_over_time(records),
        spend_by_tier=spend,
        review_seconds=review_total,
        warnings=warnings,
    )


def _human_seconds(records: list[_Record], idle_cutoff_seconds: float) -> float:
    """Human time per the module docstring, summed over people."""
    events: dict[str | None, list[float]] = defaultdict(list)
    intervals: dict[str | None, list[tuple[float, float]]] = defaultdict(list)
    for r in records:
        events[r.user_id].append(r.created_at.timestamp())
        for v in r.reviews:
            end = v.at.timestamp()
            start = end - v.seconds
            events[v.user_id].extend((start, end))
            intervals[v.user_id].append((start, end))
    total = 0.0
    for person, times in events.items():
        times.sort()
        spans = list(intervals[person])
        spans += [(a, b) for a, b in zip(times, times[1:]) if b - a <= idle_cutoff_seconds]
        total += _union_length(spans)
    return _round(total)


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        raise InvalidInput("no values to take a percentile of", field="values", fix="pass at least one value")
    pos = (len(sorted_values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return _round(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo))


def render_chart(report: ProjectReport, path: str | Path) -> Path:
    """One PNG with three panels: ratio over time, spend by tier, usable rate by tier."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InvalidInput(f"{path.name!r} is not a .png file", field="chart", fix="pass a path ending in .png")
    fig = Figure(figsize=(13, 4), dpi=100)
    FigureCanvasAgg(fig)  # no pyplot: no global backend switch in a server process
    ax_ratio, ax_spend, ax_usable = fig.subplots(1, 3)

    points = [p for p in report.ratio_over_time if p["ratio"] is not None]
    if points:
        ax_ratio.plot([p["day"] for p in points], [p["ratio"] for p in points], marker="o")
        ax_ratio.set_yscale("log")
        ax_ratio.tick_params(axis="x", labelrotation=45)
    else:
        ax_ratio.text(0.5, 0.5, "no finals yet", ha="center", va="center", transform=ax_ratio.transAxes)
    low, high = report.band
    ax_ratio.axhspan(low, high, color="tab:green", alpha=0.12, label=f"healthy {low:g}–{high:g}:1")
    ax_ratio.legend(loc="best", fontsize=8)
    ax_ratio.set_title("draft-to-final ratio (cumulative)")

    tiers = list(report.spend_by_tier)
    ax_spend.bar(tiers, [report.spend_by_tier[t] for t in tiers], color="tab:blue")
    ax_spend.set_title(f"credits by tier (total {report.total_credits:g})")

    tiers = list(report.usable_rate)
    ax_usable.bar(tiers, [report.usable_rate[t] for t in tiers], color="tab:orange")
    ax_usable.set_ylim(0, 1)
    ax_usable.set_title("usable rate (kept + starred / made)")

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _ratio_over_time(records: list[_Record]) -> list[dict[str, Any]]:
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        if r.stage in (Stage.DRAFT, Stage.FINAL):
            per_day[r.created_at.astimezone(UTC).date().isoformat()][r.stage is Stage.FINAL] += 1
    out, drafts, finals = [], 0, 0
    for day in sorted(per_day):
        drafts += per_day[day][0]
        finals += per_day[day][1]
        out.append({"day": day, "drafts": drafts, "finals": finals, "ratio": drafts / finals if finals else None})
    return out


def _spend_over_time(records: list[_Record]) -> list[dict[str, Any]]:
    """Credits per UTC day and the running total (the dashboard draws it next to the ratio)."""
    per_day: dict[str, float] = defaultdict(float)
    for r in records:
        per_day[r.created_at.astimezone(UTC).date().isoformat()] += r.credits
    out, total = [], 0.0
    for day in sorted(per_day):
        total += per_day[day]
        out.append({"day": day, "credits": _round(per_day[day]), "total": _round(total)})
    return out


def _union_length(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, -math.inf
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _record(a: Mapping[str, Any], i: int) -> _Record:
    where = f"assets[{i}]"
    try:
        stage = Stage(a["stage"])
    except (KeyError, ValueError):
        raise InvalidInput(
            f"{a.get('stage')!r} is not a stage",
            field=f"{where}.stage",
            fix=f"use one of {', '.join(s.value for s in Stage)}",
        ) from None
    try:
        review = ReviewState(a.get("review") or ReviewState.UNREVIEWED)
    except ValueError:
        raise InvalidInput(
            f"{a.get('review')!r} is not a review state",
            field=f"{where}.review",
            fix=f"use one of {', '.join(s.value for s in ReviewState)}",
        ) from None
    if "created_at" not in a or a["created_at"] is None:
        raise InvalidInput("missing created_at", field=f"{where}.created_at", fix="pass when the asset was made")
    credits = a.get("credits") or 0.0
    seconds, review_seconds = a.get("seconds"), a.get("review_seconds")
    for name, value in (("credits", credits), ("seconds", seconds), ("review_seconds", review_seconds)):
        if value is not None and (not _is_number(value) or value < 0):
            raise InvalidInput(f"{value!r} is not a number ≥ 0", field=f"{where}.{name}", fix="use a number ≥ 0")
    if a.get("reviews") is not None:
        reviews = []
        for j, v in enumerate(a["reviews"]):
            secs = v.get("seconds")
            if secs is not None and (not _is_number(secs) or secs < 0):
                raise InvalidInput(f"{secs!r} is not a number ≥ 0", field=f"{where}.reviews[{j}].seconds",
                                   fix="use a number ≥ 0")
            if v.get("at") is None:
                raise InvalidInput("missing at", field=f"{where}.reviews[{j}].at", fix="pass when the review was made")
            reviews.append(_Review(_when(v["at"], f"{where}.reviews[{j}].at"), float(secs or 0.0),
                                   v.get("user_id") or a.get("user_id")))
    elif a.get("reviewed_at") is not None:
        reviews = [_Review(_when(a["reviewed_at"], f"{where}.reviewed_at"), float(review_seconds or 0.0),
                           a.get("reviewer_id") or a.get("user_id"))]
    else:
        reviews = []
    return _Record(
        stage=stage,
        review=review,
        credits=float(credits),
        engine_id=a.get("engine_id") or "",
        seconds=seconds,
        created_at=_when(a["created_at"], f"{where}.created_at"),
        reviews=tuple(reviews),
        user_id=a.get("user_id"),
    )


def _when(value: datetime | str, field_name: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(
                f"{value!r} is not a timestamp", field=field_name, fix="use ISO 8601, e.g. 2025-01-31T12:00:00Z"
            ) from None
    if not isinstance(value, datetime):
        raise InvalidInput(f"{value!r} is not a timestamp", field=field_name, fix="pass a datetime or ISO string")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_band(band: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = band
    except (TypeError, ValueError):
        raise InvalidInput(f"{band!r} is not a band", field="band", fix="pass (low, high), e.g. (3, 300)") from None
    if not (_is_number(low) and _is_number(high)) or not 0 < low < high:
        raise InvalidInput(f"{band!r} is not a band", field="band", fix="pass (low, high) with 0 < low < high")
    return float(low), float(high)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _round(value: float) -> float:
    return round(value, 6)
