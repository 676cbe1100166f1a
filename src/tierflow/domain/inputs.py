"""Parsing and checking the inputs stages share (sizes, prompts, counts)."""

from __future__ import annotations

import re

from tierflow.domain.errors import InvalidInput

MAX_PROMPT = 2000
MAX_VARIATIONS = 64


def parse_size(value: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"768x512"`` → (768, 512); ``"512"`` → (512, 512)."""
    if value is None or value == "":
        return None
    if isinstance(value, tuple):
        return value
    # Any count of digits parses, so a size too large is told the engine's range (check_size), not "not a size".
    m = re.fullmatch(r"\s*(\d{1,9})\s*(?:[xX×]\s*(\d{1,9}))?\s*", str(value))
    if not m:
        raise InvalidInput(f"{value!r} is not a size", field="size", fix="write WIDTHxHEIGHT, e.g. 768x512")
    w = int(m.group(1))
    h = int(m.group(2) or w)
    return w, h


def check_prompt(prompt: str | None, field: str = "prompt") -> str:
    text = (prompt or "").strip()
    if not text:
        raise InvalidInput("the prompt is empty", field=field, fix="describe the image in words")
    if len(text) > MAX_PROMPT:
        raise InvalidInput(f"the prompt has {len(text)} characters", field=field,
                           fix=f"shorten it to at most {MAX_PROMPT}")
    return text


def check_count(n: int) -> int:
    if not isinstance(n, int) or n < 1 or n > MAX_VARIATIONS:
        raise InvalidInput(f"{n} variations is out of range", field="n", fix=f"use 1..{MAX_VARIATIONS}")
    return n


def check_seed(seed: int | None) -> int | None:
    if seed is not None and not 0 <= seed < 2**32:
        raise InvalidInput(f"{seed} is not a seed", field="seed", fix="use an integer in 0..4294967295")
    return seed


def check_strength(strength: float) -> float:
    if not 0.0 < strength <= 1.0:
        raise InvalidInput(f"{strength} is out of range", field="strength",
                           fix="use a value in (0, 1]: low keeps the draft, high re-imagines it")
    return strength
