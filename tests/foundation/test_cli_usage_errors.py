"""Every usage error of every command is one line on stderr naming the option, exit 2, no traceback.

The cases are generated from the Typer app itself, so a new command or option is covered without a
new test: each typed option gets a wrong-typed value, each required parameter is left out, and each
command gets an unknown flag. Runs in-process through ``main(argv)`` (no subprocess per case).
"""

from __future__ import annotations

from typing import Any

import pytest
import typer

from tierflow.delivery.cli.app import app, main

BAD_VALUE = "notanumber"


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(argv prefix, command) for the root, every group and every leaf command."""
    found = [(path, cmd)]
    for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
        if not getattr(sub, "hidden", False):
            found += _commands(sub, (*path, name))
    return found


def _kind(param: Any) -> tuple[Any, list[str] | None]:
    """The Python type a parameter converts to, and its choices: Typer ≥ 0.2x keeps them in a type
    descriptor, older Typer in a Click ParamType."""
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:
        choices = [getattr(c, "value", c) for c in desc.choices] if desc.choices else None
        return desc.annotation, choices
    ptype = param.type
    return {"integer": int, "float": float, "boolean": bool}.get(ptype.name, str), getattr(ptype, "choices", None)


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False) or getattr(param, "count", False))


def _valid(param: Any) -> list[str]:
    """A value the parameter accepts, as argv words."""
    annotation, choices = _kind(param)
    word = str(choices[0]) if choices else {int: "1", float: "0.5"}.get(annotation, "x")
    if param.param_type_name == "option":
        return [param.opts[0], word]
    return [word] * max(1, param.nargs)


def _required(cmd: Any, skip: Any = None) -> list[str]:
    """argv words that satisfy every required parameter except ``skip``: options first, then the
    arguments in order, stopping at a skipped argument (a later one would slide into its place)."""
    words = [w for p in cmd.params if p.required and p is not skip and p.param_type_name == "option"
             for w in _valid(p)]
    for p in cmd.params:
        if p is skip and p.param_type_name == "argument":
            break
        if p.required and p.param_type_name == "argument":
            words += _valid(p)
    return words


def _names(param: Any) -> list[str]:
    return [*param.opts, *param.secondary_opts] if param.param_type_name == "option" else [param.name]


def _cases() -> list[Any]:
    root = typer.main.get_command(app)
    cases = []
    for path, cmd in _commands(root):
        label = " ".join(path) or "tierflow"
        cases.append(pytest.param([*path, "--no-such-flag"], ["--no-such-flag"], id=f"{label}:unknown-flag"))
        if getattr(cmd, "commands", None):
            continue  # a group: its own parameters are flags (--help, --version)
        for param in cmd.params:
            if param.param_type_name == "option" and _is_flag(param):
                continue
            annotation, choices = _kind(param)
            if choices or annotation in (int, float):
                if param.param_type_name == "option":
                    argv = [*path, param.opts[0], BAD_VALUE, *_required(cmd, skip=param)]
                else:
                    argv = [*path, *_bad_argument_argv(cmd, param)]
                cases.append(pytest.param(argv, _names(param), id=f"{label}:{param.name}:wrong-type"))
            if param.required:
                argv = [*path, *_required(cmd, skip=param)]
                cases.append(pytest.param(argv, _names(param), id=f"{label}:{param.name}:missing"))
    return cases


def _bad_argument_argv(cmd: Any, bad: Any) -> list[str]:
    """Required options, then the arguments in order with ``bad`` given a wrong-typed value."""
    words = [w for p in cmd.params if p.required and p.param_type_name == "option" for w in _valid(p)]
    for p in cmd.params:
        if p.param_type_name == "argument" and (p.required or p is bad):
            words += [BAD_VALUE] * max(1, p.nargs) if p is bad else _valid(p)
    return words


CASES = _cases()


def test_cases_cover_the_app() -> None:
    """The generator sees the commands and the kinds of mistakes it is meant to see."""
    ids = [c.id for c in CASES]
    assert any(i.startswith("draft:seed:wrong-type") for i in ids)
    assert any(i.startswith("promote:") and i.endswith(":missing") for i in ids)
    assert any(i.startswith("project ") and i.endswith(":unknown-flag") for i in ids)  # sub-groups too
    assert len(ids) > 100


@pytest.mark.parametrize(("argv", "names"), CASES)
def test_usage_error_is_one_line_and_exit_2(argv: list[str], names: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert exited.value.code == 2, (argv, err)
    assert "Traceback" not in err + out
    assert len(lines) == 1, (argv, err)
    assert any(name.lower() in lines[0].lower() for name in names), (argv, lines[0])
