"""`tierflow user …` through the CLI's real entry point (in-process, so it stays fast)."""

from __future__ import annotations

import json
import sys

import pytest

from tierflow.delivery.cli.app import main


@pytest.fixture()
def cli(home, monkeypatch, capsys):
    from tierflow.delivery.cli import context
    from tierflow.delivery.cli.output import State

    context.services.cache_clear()

    def run(*args: str, token: str | None = None, code: int = 0):
        State.json = False
        if token:
            monkeypatch.setenv("TIERFLOW_TOKEN", token)
        else:
            monkeypatch.delenv("TIERFLOW_TOKEN", raising=False)
        monkeypatch.setattr(sys, "argv", ["tierflow", *args])
        with pytest.raises(SystemExit) as e:
            main()
        out = capsys.readouterr()
        assert e.value.code == code, out.err
        return json.loads(out.out) if "--json" in args and code == 0 else out

    yield run
    if context.services.cache_info().currsize:
        context.services().close()
    context.services.cache_clear()


def test_user_lifecycle_through_the_cli(cli):
    assert cli("user", "whoami", "--json")["principal"]["local"] is True
    admin = cli("user", "create", "ada", "--role", "admin", "--json")
    ada = admin["token"]["token"]
    assert admin["user"]["role"] == "admin" and ada.startswith("tf_")

    # accounts exist now: the CLI wants a token
    assert "TIERFLOW_TOKEN" in cli("user", "list", code=6).err
    dee_user = cli("user", "create", "dee", "--role", "designer", "--no-token", "--json", token=ada)
    assert dee_user["token"] is None
    issued = cli("user", "token", "dee", "--name", "laptop", "--json", token=ada)["token"]
    dee = issued["token"]
    assert issued["name"] == "laptop" and cli("user", "whoami", "--json", token=dee)["principal"]["name"] == "dee"

    listed = cli("user", "list", "--json", token=ada)["users"]
    assert [(u["name"], u["role"]) for u in listed] == [("ada", "admin"), ("dee", "designer")]
    assert all("token" not in t for u in listed for t in u["tokens"])  # secrets are never listed

    # a designer manages no users, nor teams, nor other people's tokens
    assert "designer cannot manage users" in cli("user", "create", "x", "--role", "designer", token=dee, code=6).err
    assert "cannot change project membership" in cli("user", "member", "add", "p", "dee", token=dee, code=6).err
    assert "cannot manage users" in cli("user", "token", "ada", token=dee, code=6).err

    cli("project", "create", "secret", "--private", token=ada)
    added = cli("user", "member", "add", "secret", "dee", "--json", token=ada)
    assert added["changed"] is True and added["members"] == ["dee"]
    assert cli("user", "member", "remove", "secret", "dee", "--json", token=ada)["members"] == []

    # revoking your own token: from then on it is refused
    cli("user", "revoke-token", issued["id"], token=dee)
    assert "was revoked" in cli("user", "whoami", token=dee, code=6).err
    assert "unknown API token" in cli("user", "whoami", token=ada + "x", code=6).err


def test_the_cli_acts_with_the_token_user_s_role_for_budgets_policies_and_overrides(cli):
    cli("project", "create", "launch", "--budget", "50")  # no accounts yet: the local admin may grant
    ada = cli("user", "create", "ada", "--role", "admin", "--json")["token"]["token"]
    lee = cli("user", "create", "lee", "--role", "lead", "--json", token=ada)["token"]["token"]
    dee = cli("user", "create", "dee", "--role", "designer", "--json", token=ada)["token"]["token"]

    assert "designer cannot change" in cli("budget", "-p", "launch", "--grant", "10", token=dee, code=6).err
    assert "designer cannot change" in cli("policy", "-p", "launch", "--final-cap", "9", token=dee, code=6).err
    assert "designer cannot change" in cli("project", "create", "x", "--budget", "5", token=dee, code=6).err
    assert cli("budget", "-p", "launch", "--json", token=dee)["granted"] == 50

    assert cli("budget", "-p", "launch", "--grant", "10", "--json", token=lee)["granted"] == 60
    audit = cli("audit", "-p", "launch", "--json", token=lee)
    actions = [(e["action"], e["user_id"]) for e in audit["audit"]]
    assert any(user == "lee" or user.startswith("usr_") for action, user in actions if "grant" in action), actions

    from tierflow.delivery.cli.render import _override

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIERFLOW_TOKEN", dee)
        assert _override("the client asked").role == "designer"  # the guard refuses it, and audits nothing
