"""Names people give things refuse empty, path-like and control characters, with the rule in the message."""

from __future__ import annotations

import pytest

from tierflow.domain.errors import InvalidInput
from tierflow.domain.names import check_name

BAD = ["", "   ", ".", "..", "a/b", "../etc", "a\\b", "tab\there", "line\nbreak", "nul\x00", "bidi\u202eevil",
       "zero\u200bwidth"]


@pytest.mark.parametrize("value", BAD)
def test_the_domain_rule_refuses_and_states_itself(value):
    with pytest.raises(InvalidInput) as e:
        check_name(value, "project name", id_prefix="prj_")
    assert e.value.field == "name" and "'/'" in e.value.fix and "control characters" in e.value.fix
    assert "project name" in str(e.value)


@pytest.mark.parametrize("value", ["Spring launch", "été 2026", "v1.2", "a..b", " padded "])
def test_ordinary_names_pass_trimmed(value):
    assert check_name(value, "project name") == value.strip()


def test_an_id_like_name_is_refused_because_lookups_try_ids_first():
    with pytest.raises(InvalidInput, match="like an id"):
        check_name("prj_0123", "project name", id_prefix="prj_")


@pytest.mark.parametrize("value", ["..", "a/b", "x\ty"])
def test_every_door_applies_it(services, project, value):
    """Repository (stages, CLI and REST all create through it), CLI and REST: the same rule."""
    from fastapi.testclient import TestClient

    from tierflow.storage.users_repo import UsersRepo
    from tierflow.delivery.api.app import create_app
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        with pytest.raises(InvalidInput, match="control characters"):
            ProjectsRepo(s).create(value)
        with pytest.raises(InvalidInput, match="control characters"):
            ProjectsRepo(s).milestone(project.id, value, create=True)
        with pytest.raises(InvalidInput, match="control characters"):
            UsersRepo(s).create(value, "admin")
    with TestClient(create_app(services)) as client:
        for url in ("/api/v1/projects", f"/api/v1/projects/{project.id}/milestones"):
            r = client.post(url, json={"name": value})
            assert r.status_code == 422 and "control characters" in r.json()["detail"], r.text


@pytest.mark.parametrize("argv", [["project", "create", ".."], ["milestone", "create", "a/b", "-p", "poster"],
                                  ["user", "create", "..", "--role", "admin"]])
def test_the_cli_says_the_rule_in_one_line(project, argv, capsys):
    from tierflow.delivery.cli import context
    from tierflow.delivery.cli.app import main

    context.services.cache_clear()
    with pytest.raises(SystemExit) as e:
        main(argv)
    context.services().close()
    context.services.cache_clear()
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1 and "control characters" in err, err
