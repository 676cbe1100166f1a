"""Who is running the CLI.

* ``TIERFLOW_TOKEN`` is set → the user that token belongs to (a revoked or unknown token is an error).
* No user exists yet → the built-in local admin. A fresh install is single-user: whoever can open
  the database file is its owner, so nothing asks for credentials until the first account is made
  (``tierflow user create NAME --role admin`` prints that admin's token).
* Otherwise → an error telling the person to set ``TIERFLOW_TOKEN``.
"""

from __future__ import annotations

import os

from tierflow.storage.users_repo import UsersRepo, authenticate
from tierflow.domain.access import LOCAL_ADMIN, NotSignedIn, Principal

TOKEN_ENV = "TIERFLOW_TOKEN"


def cli_principal(db, environ: dict[str, str] | None = None) -> Principal:
    """The principal of this CLI invocation (see the module docstring for the three cases)."""
    env = os.environ if environ is None else environ
    token = (env.get(TOKEN_ENV) or "").strip()
    if token:
        return authenticate(db, token)
    with db.read() as s:
        if not UsersRepo(s).any_users():
            return LOCAL_ADMIN
    raise NotSignedIn("this install has user accounts, so the CLI needs to know who you are", field=TOKEN_ENV,
                      fix="export TIERFLOW_TOKEN=<your token> (an admin issues one with `tierflow user token NAME`)")
