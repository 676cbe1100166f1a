"""Identifiers and seeds: short, URL-safe ids that can never be paths."""

from __future__ import annotations

import hashlib
import re
import secrets

from tierflow.domain.errors import InvalidInput

_ID_RE = re.compile(r"^[a-z]{1,4}_[0-9a-f]{6,32}$")
SEED_MAX = 2**32 - 1


def new_id(prefix: str) -> str:
    """A random id with a readable prefix: ``ast_3f9c0a1b2c3d4e5f``."""
    return f"{prefix}_{secrets.token_hex(8)}"


# Where a user finds valid ids for a field (the error's fix names it).
_ID_SOURCES = {"job_id": "`tierflow jobs list` (e.g. gen_3f9c0a1b2c3d4e5f)"}
_DEFAULT_SOURCE = "`tierflow gallery` (e.g. ast_3f9c0a1b2c3d4e5f)"


def check_id(value: str, field: str = "asset") -> str:
    """Reject anything that is not a tierflow id (paths, traversal, empty)."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InvalidInput(
            f"{value!r} is not a valid id",
            field=field,
            fix=f"pass an id as shown by {_ID_SOURCES.get(field, _DEFAULT_SOURCE)}",
        )
    return value


def new_seed() -> int:
    return secrets.randbelow(SEED_MAX)


def variation_seed(base_seed: int, index: int) -> int:
    """Seed of variation ``index`` derived from the recorded base seed (stable across versions)."""
    if index == 0:
        return base_seed
    digest = hashlib.sha256(f"{base_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")
