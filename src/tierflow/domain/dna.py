"""Prompt DNA: which prompt terms and modifiers recur in kept drafts and are rare in discarded ones.

A prompt is read as comma-separated parts: the first is the subject ("a red fox in the snow"),
the rest are modifiers ("golden hour", "35mm film", "(highly detailed:1.2)"). Each part is
lowercased, weights like ``:1.2`` and brackets are stripped, stop-words and bare numbers are
dropped, and the part yields its words plus its adjacent word pairs ("golden hour") as features.
A feature counts once per prompt (repeating a word is not more evidence).

Scores are the z-scored log-odds ratio with an informative Dirichlet prior of Monroe, Colaresi
& Quinn (2008), "Fightin' Words", kept (a) against discarded (b)::

    δ_w = log((y_aw + α_w) / (n_a + α_0 − y_aw − α_w)) − log((y_bw + α_w) / (n_b + α_0 − y_bw − α_w))
    σ²_w ≈ 1 / (y_aw + α_w) + 1 / (y_bw + α_w)          score_w = δ_w / σ_w

with ``y`` feature counts, ``n`` total feature counts per side, and the prior ``α_w = α_0 ×
pooled share of w`` (``α_0`` defaults to the pooled total, i.e. α_w = y_aw + y_bw). The prior
shrinks rare features towards zero, so one lucky word in one kept draft does not top the list.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tierflow.domain.errors import InvalidInput

STOP_WORDS = frozenset(
    """a an the and or but of in on at to for from by with without into onto over under of as is are was were be
    been being it its this that these those very some any no not so than then there here which who whom whose what
    when where how all each both few more most other such only own same too can will just do does did has have had
    my your his her their our me him them us we you they i""".split()
)

_PARTS = re.compile(r"[,;|\n]+")
_WEIGHT = re.compile(r":\s*-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")


@dataclass(frozen=True)
class DnaTerm:
    """A feature with its score (> 0: goes with kept drafts) and the prompts it appears in."""

    term: str
    score: float
    kept: int
    discarded: int
    modifier: bool  # appears after the subject part in some prompt, so it can be suggested

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "score": round(self.score, 4),
            "kept": self.kept,
            "discarded": self.discarded,
            "modifier": self.modifier,
        }


@dataclass(frozen=True)
class DnaResult:
    """Top features for kept (``positive``) and discarded (``negative``) drafts, strongest first."""

    positive: list[DnaTerm] = field(default_factory=list)
    negative: list[DnaTerm] = field(default_factory=list)
    kept_prompts: int = 0
    discarded_prompts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "positive": [t.to_dict() for t in self.positive],
            "negative": [t.to_dict() for t in self.negative],
            "kept_prompts": self.kept_prompts,
            "discarded_prompts": self.discarded_prompts,
        }


def prompt_parts(prompt: str) -> list[str]:
    """The comma-separated parts of a prompt, stripped, as written."""
    return [p.strip() for p in _PARTS.split(prompt) if p.strip()]


def part_features(part: str) -> list[str]:
    """Words and adjacent word pairs of one prompt part, normalised, stop-words dropped."""
    text = _WEIGHT.sub(" ", part.lower())
    words = [w for w in _WORD.findall(text) if not w.isdigit()]
    keep = [w not in STOP_WORDS for w in words]
    unigrams = [w for w, k in zip(words, keep) if k]
    bigrams = [f"{a} {b}" for (a, ka), (b, kb) in zip(zip(words, keep), zip(words[1:], keep[1:])) if ka and kb]
    return list(dict.fromkeys(unigrams + bigrams))


def tokenize(prompt: str) -> list[str]:
    """All features of a prompt, each once, in order of appearance."""
    return list(dict.fromkeys(f for part in prompt_parts(prompt) for f in part_features(part)))


def prompt_dna(
    kept_prompts: Sequence[str],
    discarded_prompts: Sequence[str],
    top: int = 10,
    *,
    min_count: int = 2,
    alpha0: float | None = None,
) -> DnaResult:
    """Score features of kept against discarded prompts; keep the ``top`` of each sign."""
    if not kept_prompts:
        raise InvalidInput(
            "no kept drafts to learn from", field="kept", fix="keep some drafts (`tierflow review ASSET --keep`)"
        )
    if not discarded_prompts:
        raise InvalidInput(
            "no discarded drafts to contrast with", field="discarded", fix="discard the drafts that missed"
        )
    if not isinstance(top, int) or top < 1:
        raise InvalidInput(f"{top!r} is not a count", field="top", fix="use a whole number ≥ 1")
    if alpha0 is not None and (not isinstance(alpha0, (int, float)) or alpha0 <= 0):
        raise InvalidInput(f"{alpha0!r} is not a prior strength", field="alpha0", fix="use a number > 0 or None")

    kept, discarded = Counter(), Counter()
    modifiers: set[str] = set()
    for prompts, counter in ((kept_prompts, kept), (discarded_prompts, discarded)):
        for prompt in prompts:
            parts = prompt_parts(prompt)
            for i, part in enumerate(parts):
                if i > 0:
                    modifiers.update(part_features(part))
            counter.update(set(tokenize(prompt)))

    pooled = kept + discarded
    n_pooled = sum(pooled.values())
    a0 = float(alpha0) if alpha0 is not None else float(n_pooled)
    n_a, n_b = sum(kept.values()), sum(discarded.values())
    terms = []
    for w, total in pooled.items():
        if total < min_count:
            continue
        alpha = a0 * total / n_pooled
        ya, yb = kept[w], discarded[w]
        delta = math.log((ya + alpha) / (n_a + a0 - ya - alpha)) - math.log((yb + alpha) / (n_b + a0 - yb - alpha))
        score = delta / math.sqrt(1 / (ya + alpha) + 1 / (yb + alpha))
        terms.append(DnaTerm(w, score, ya, yb, w in modifiers))

    # A word seen only inside one pair ("golden" in "golden hour") repeats the pair's evidence.
    pairs = {(w, t.kept, t.discarded) for t in terms if " " in t.term for w in t.term.split()}
    terms = [t for t in terms if " " in t.term or (t.term, t.kept, t.discarded) not in pairs]
    positive = sorted((t for t in terms if t.score > 0), key=lambda t: (-t.score, t.term))[:top]
    negative = sorted((t for t in terms if t.score < 0), key=lambda t: (t.score, t.term))[:top]
    return DnaResult(positive, negative, len(kept_prompts), len(discarded_prompts))


def suggest_prompt(base_prompt: str, dna: DnaResult, max_add: int = 5) -> str:
    """The base prompt without modifier parts that carry a negative term, plus the top positive modifiers."""
    parts = prompt_parts(base_prompt)
    if not parts:
        raise InvalidInput("the prompt is empty", field="prompt", fix="pass the prompt to build on")
    negative = {t.term for t in dna.negative}
    # The subject (first part) always stays: dropping it would change what is drawn, not how.
    kept_parts = [parts[0]] + [p for p in parts[1:] if not negative & set(part_features(p))]
    present = set(tokenize(", ".join(kept_parts)))

    candidates = [t for t in dna.positive if t.modifier and t.term not in present]
    pair_words = {w for t in candidates if " " in t.term for w in t.term.split()}
    added: list[str] = []
    for t in candidates:
        if len(added) >= max_add:
            break
        words = t.term.split()
        if len(words) == 1 and t.term in pair_words:
            continue  # a pair that holds this word says more ("golden" → "golden hour")
        if all(w in present for w in words):
            continue
        added.append(t.term)
        present.update(words)
    return ", ".join(kept_parts + added)
