"""Opening tierflow's services once per CLI invocation."""

from __future__ import annotations

from functools import lru_cache

from tierflow.delivery.cli.output import State, warn


@lru_cache(maxsize=1)
def services():
    from tierflow.bootstrap import build

    return build()


def acting():
    """Who this CLI call acts as: ``(user id, role)`` of ``TIERFLOW_TOKEN``'s user.

    On an install without accounts the OS user acts as lead (tierflow.accounts.local makes them
    the local admin for account management); once accounts exist, a designer's token can no more
    grant, change a policy or override a block from the CLI than from the REST API.
    """
    from tierflow.accounts.local import cli_principal
    from tierflow.domain.models import Role
    from tierflow.guardrails.budget import local_user

    me = cli_principal(services().db)
    if me.local:  # a single-user install: the person at the machine acts as lead (and is audited so)
        return local_user(), Role.LEAD
    return me.user_id, me.role


def show_notices() -> None:
    """Tell the user when a tier fell back to the tiny preset (never silently)."""
    svc = services()
    if svc.engines.notices and not State.json:
        warn(svc.engines.notices)
