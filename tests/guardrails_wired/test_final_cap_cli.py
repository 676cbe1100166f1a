"""The issue's walk-through: a final cap set on a project without milestones holds, and a lead's override is audited.

`tierflow project create g --min-drafts 2 --final-cap 2`, three kept drafts, three promotions: the
third is refused naming ``final_cap`` and the fix; ``promote --override REASON`` runs it and the
audit log has the reason. Run through the real CLI entry point (in this process, so the tiny
pipelines load once).
"""

from __future__ import annotations

import json
import sys

import pytest

from tierflow.delivery.cli.app import main
from tierflow.delivery.cli.context import services as cli_services
from tierflow.domain.errors import PolicyBlocked

PROMOTE = ("--size", "64x64", "--steps", "1", "--strength", "1")


@pytest.fixture()
def cli(home, monkeypatch, capsys):
    """``cli(*args, code=0)`` runs `tierflow ARGS` like the console script: (stdout, stderr), exit code checked."""
    cli_services.cache_clear()

    def run(*args: str, code: int = 0) -> tuple[str, str]:
        monkeypatch.setattr(sys, "argv", ["tierflow", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        out, err = capsys.readouterr()
        assert exit_.value.code == code, (exit_.value.code, out, err)
        return out, err

    yield run
    if cli_services.cache_info().currsize:
        cli_services().close()
    cli_services.cache_clear()


def test_a_final_cap_without_milestones_holds_and_a_lead_override_is_audited(cli):
    cli("project", "create", "g", "--min-drafts", "2", "--final-cap", "2")
    drafts = json.loads(cli("draft", "a red fox", "-p", "g", "-n", "3", "--size", "64x64", "--steps", "1",
                            "--seed", "1", "--json")[0])["assets"]
    for d in drafts:
        cli("review", d["id"], "--keep", "--seconds", "2")

    for d in drafts[:2]:
        final = json.loads(cli("promote", d["id"], *PROMOTE, "--json")[0])["asset"]
        # the final says which milestone it counts against: the implicit one of a project without milestones
        assert final["params"]["milestone"]["name"] == "main"

    _, err = cli("promote", drafts[2]["id"], *PROMOTE, code=PolicyBlocked.exit_code)
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: final_cap:") and "2 of 2 finals used in milestone 'main'" in line
    assert "`tierflow policy -p g --final-cap 3`" in line and '--override "REASON"' in line

    final = json.loads(cli("promote", drafts[2]["id"], *PROMOTE, "--override", "client asked for a third",
                           "--json")[0])["asset"]
    assert final["stage"] == "final" and final["params"]["milestone"]["name"] == "main"
    audit = json.loads(cli("audit", "-p", "g", "--json")[0])["audit"]
    override = audit[-1]
    assert override["action"] == "policy.override" and override["reason"] == "client asked for a third"
    assert override["detail"]["rules"] == ["final-cap"] and override["detail"]["milestone"] == "main"
    assert override["detail"]["finals_in_milestone"] == 2 and override["detail"]["role"] == "lead"

    status = json.loads(cli("policy", "-p", "g", "--json")[0])
    assert status["milestone"]["name"] == "main" and status["milestone"]["finals"] == 3
    assert status["milestone"]["final_cap"] == 2
    out, _ = cli("budget", "-p", "g")
    assert "finals count against milestone main: 3 (cap 2)" in out
