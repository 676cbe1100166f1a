"""`tierflow user create|list|token|revoke-token|whoami` and `tierflow user member add|remove`.

The CLI acts as the user of ``TIERFLOW_TOKEN``; on an install without accounts it is the local
admin (see tierflow.accounts.local), which is how the first admin gets created.
"""

from __future__ import annotations

import typer
from rich.table import Table

from tierflow.delivery.cli.context import services
from tierflow.delivery.cli.output import State, console, emit_json, err

app = typer.Typer(help="Accounts: users, roles (designer, lead, admin), API tokens, project membership.",
                  no_args_is_help=True)
member_app = typer.Typer(help="Who is on a project's team (private projects are visible to members only).",
                         no_args_is_help=True)
app.add_typer(member_app, name="member")


def _me():
    from tierflow.accounts.local import cli_principal

    return cli_principal(services().db)


def _print_token(token, plain: str) -> None:
    console.print(f"token [bold]{token.id}[/] for {token.user_id}"
                  + (f" ({token.name})" if token.name else "") + " — shown once, store it now:")
    console.print(plain, markup=False, highlight=False, soft_wrap=True)
    err.print("use it with: export TIERFLOW_TOKEN=… (CLI) or the header Authorization: Bearer … (REST)")


@app.command("create")
def create(
    name: str = typer.Argument(..., help="User name (letters, digits, '.', '_', '-')."),
    role: str = typer.Option(..., "--role", help="designer | lead | admin."),
    token: bool = typer.Option(True, "--token/--no-token", help="Also issue a first API token (printed once)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Create a user (admin only; on a fresh install the first user must be an admin)."""
    State.json = json_out
    from tierflow.storage.users_repo import UsersRepo
    from tierflow.domain.access import can_manage_users

    can_manage_users(_me())
    with services().db.transaction() as s:
        repo = UsersRepo(s)
        user = repo.create(name, role)
        issued = repo.create_token(user.id, "created with the user") if token else None
    if json_out:
        emit_json({"user": user.to_dict(), "token": issued[0].to_dict() | {"token": issued[1]} if issued else None})
        return
    console.print(f"created user [bold]{user.name}[/] ({user.id}), role {user.role.value}")
    if issued:
        _print_token(*issued)


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json")) -> None:
    """List users with their roles and projects (leads and admins)."""
    State.json = json_out
    from tierflow.storage.users_repo import UsersRepo
    from tierflow.domain.access import can_manage_members

    can_manage_members(_me())
    with services().db.read() as s:
        repo = UsersRepo(s)
        users = repo.list()
        tokens = {u.id: repo.tokens(u.id) for u in users}
    if json_out:
        emit_json({"users": [u.to_dict() | {"tokens": [t.to_dict() for t in tokens[u.id]]} for u in users]})
        return
    table = Table("id", "name", "role", "projects", "active tokens", "created")
    for u in users:
        active = sum(1 for t in tokens[u.id] if t.revoked_at is None)
        table.add_row(u.id, u.name, u.role.value, str(len(u.project_ids)), str(active),
                      u.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@app.command("token")
def token(
    name: str = typer.Argument(..., help="The user (name or id) the token signs in as."),
    label: str = typer.Option("", "--name", help="A label to recognise the token by (e.g. 'laptop')."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Issue an API token (your own, or anyone's as an admin); it is printed once and stored hashed."""
    State.json = json_out
    from tierflow.storage.users_repo import UsersRepo
    from tierflow.domain.access import can_manage_tokens_of

    me = _me()
    with services().db.transaction() as s:
        repo = UsersRepo(s)
        can_manage_tokens_of(me, repo.get(name).id)
        record, plain = repo.create_token(name, label)
    if json_out:
        emit_json({"token": record.to_dict() | {"token": plain}})
        return
    _print_token(record, plain)


@app.command("revoke-token")
def revoke_token(token_id: str = typer.Argument(..., help="The token's id (tok_…), never the secret."),
                 json_out: bool = typer.Option(False, "--json")) -> None:
    """Revoke an API token (your own, or anyone's as an admin); requests with it get 401 from now on."""
    State.json = json_out
    from tierflow.storage.users_repo import UsersRepo
    from tierflow.domain.access import can_manage_tokens_of

    me = _me()
    with services().db.transaction() as s:
        repo = UsersRepo(s)
        can_manage_tokens_of(me, repo.token(token_id).user_id)
        record = repo.revoke(token_id)
    if json_out:
        emit_json({"token": record.to_dict()})
        return
    console.print(f"revoked token [bold]{record.id}[/]")


@app.command("whoami")
def whoami(json_out: bool = typer.Option(False, "--json")) -> None:
    """Who the CLI acts as (from TIERFLOW_TOKEN, or the local admin of a single-user install)."""
    State.json = json_out
    me = _me()
    if json_out:
        emit_json({"principal": me.to_dict()})
        return
    suffix = " (single-user install: no accounts yet)" if me.local else ""
    console.print(f"{me.name} ({me.user_id}), role {me.role.value}{suffix}")


def _membership(project: str, user: str, add: bool, json_out: bool) -> None:
    State.json = json_out
    from tierflow.storage.users_repo import UsersRepo
    from tierflow.domain.access import can_manage_members

    can_manage_members(_me())
    with services().db.transaction() as s:
        repo = UsersRepo(s)
        changed = repo.add_member(project, user) if add else repo.remove_member(project, user)
        members = [u.name for u in repo.members(project)]
    if json_out:
        emit_json({"project": project, "user": user, "changed": changed, "members": members})
        return
    verb = ("added to" if changed else "already on") if add else ("removed from" if changed else "was not on")
    console.print(f"{user} {verb} {project}; members: {', '.join(members) or '(none)'}")


@member_app.command("add")
def member_add(project: str = typer.Argument(..., help="Project name or id."),
               user: str = typer.Argument(..., help="User name or id."),
               json_out: bool = typer.Option(False, "--json")) -> None:
    """Put a user on a project's team (leads and admins)."""
    _membership(project, user, True, json_out)


@member_app.command("remove")
def member_remove(project: str = typer.Argument(..., help="Project name or id."),
                  user: str = typer.Argument(..., help="User name or id."),
                  json_out: bool = typer.Option(False, "--json")) -> None:
    """Take a user off a project's team (leads and admins)."""
    _membership(project, user, False, json_out)
