"""The rule for names people give things (projects, milestones, users), in one place.

A name shows up in file names (exports), URLs (`/projects/{ref}`), shell commands and log lines,
and is looked up by the same argument as an id. So it must not be empty, look like a path (`.`,
`..`, `/`, `\\`), carry control or invisible formatting characters (a newline in a log, a bidi
override in a listing), or start with the prefix of an id of its kind.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from tierflow.domain.errors import InvalidInput


def name_rule(max_length: int, id_prefix: str | None = None) -> str:
    """The rule as the error message states it."""
    rule = (f"use 1-{max_length} characters, without '/' or '\\', control characters, "
            "and not '.' or '..'")
    return rule + (f", not starting with {id_prefix!r}" if id_prefix else "")


def check_name(value: Any, what: str, *, field: str = "name", max_length: int = 200,
               id_prefix: str | None = None) -> str:
    """``value`` with surrounding spaces removed, or InvalidInput naming ``field`` (what: "project name")
    and the rule."""
    rule = name_rule(max_length, id_prefix)
    if not isinstance(value, str):
        raise InvalidInput(f"{what} {value!r} is not text", field=field, fix=rule)
    name = value.strip()
    if not name:
        problem = "is empty"
    elif len(name) > max_length:
        problem = f"is {len(name)} characters long"
    elif name in (".", ".."):
        problem = "is a path component"
    elif "/" in name or "\\" in name:
        problem = "contains a slash"
    elif any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in name):
        problem = "contains a control character"
    elif id_prefix and name.startswith(id_prefix):
        problem = f"starts with {id_prefix!r}, like an id"
    else:
        return name
    raise InvalidInput(f"{what} {value!r} {problem}", field=field, fix=rule)
