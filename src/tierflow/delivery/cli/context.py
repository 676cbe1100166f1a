"""Opening tierflow's services once per CLI invocation."""

from __future__ import annotations

from functools import lru_cache

from tierflow.delivery.cli.output import State, warn


@lru_cache(maxsize=1)
def services():
    from tierflow.bootstrap import build

    return build()


def show_notices() -> None:
    """Tell the user when a tier fell back to the tiny preset (never silently)."""
    svc = services()
    if svc.engines.notices and not State.json:
        warn(svc.engines.notices)
