"""Kept for imports from before the typed specs: the checks live in :mod:`tierflow.domain.inputs`."""

from tierflow.domain.inputs import (MAX_PROMPT, MAX_VARIATIONS, check_count, check_prompt, check_seed,  # noqa: F401
                                    check_strength, parse_size)
