"""The lock: it covers what pyproject.toml asks for, `scripts/lock.py` writes it faithfully, and
`tierflow doctor` names every difference between it and the environment."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tierflow.maintenance.environment import compare, read_lock

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-lock.txt"
MAKE_EXTRAS = ("local", "server", "hosted", "postgres", "scale", "credentials", "dev")


def test_the_lock_satisfies_every_requirement_of_pyproject():
    """Fails when a dependency was added or raised in pyproject.toml without `make lock`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins, target = read_lock(LOCK)
    assert target and "3.11" in target and "x86_64" in target
    wanted = list(project["dependencies"])
    for extra in MAKE_EXTRAS:
        wanted += project["optional-dependencies"][extra]
    env = {"python_version": "3.11", "sys_platform": "linux", "platform_machine": "x86_64",
           "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython"}
    stale = []
    for text in wanted:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None or not req.specifier.contains(pinned, prereleases=True):
            stale.append(f"{text} (lock: {pinned})")
    assert not stale, f"run `make lock`: {stale}"
    makefile = (ROOT / "Makefile").read_text()
    assert f"EXTRAS := {','.join(MAKE_EXTRAS)}" in makefile  # the lock and the install agree on the extras


def _lock_script():
    spec = importlib.util.spec_from_file_location("lock_script", ROOT / "scripts" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _item(name, version, sha="ab" * 32):
    return {"metadata": {"name": name, "version": version},
            "download_info": {"url": f"https://files/{name}.whl", "archive_info": {"hashes": {"sha256": sha}}}}


def test_the_lock_script_pins_every_resolved_package_with_its_hash():
    report = {"pip_version": "23.2.1", "environment": {"python_full_version": "3.11.7", "sys_platform": "linux",
                                                       "platform_machine": "x86_64"},
              "install": [_item("Typer", "0.29.2"), _item("tierflow", "0.1.0"), _item("click", "8.5.1", "cd" * 32)]}
    text = _lock_script().render(report, "local,dev")
    assert "# pip==23.2.1" in text and "CPython 3.11.7 on linux x86_64" in text
    assert text.index("click==8.5.1") < text.index("Typer==0.29.2")  # sorted, whatever pip's order
    assert f"--hash=sha256:{'cd' * 32}" in text and "tierflow==" not in text
    report["install"].append({"metadata": {"name": "local-thing", "version": "1"}, "download_info": {"url": "file:///x"}})
    with pytest.raises(SystemExit, match="local-thing"):
        _lock_script().render(report, "dev")


def test_doctor_names_changed_missing_and_extra_packages(tmp_path, capsys):
    from importlib.metadata import version

    from tierflow.delivery.cli.app import main

    lock = tmp_path / "requirements-lock.txt"
    lock.write_text("# Resolved for CPython 3.11.7 on linux x86_64, extras [dev].\n"
                    f"typer=={version('typer')} \\\n    --hash=sha256:{'ab' * 32}\n"
                    "rich==0.0.1 \\\n    --hash=sha256:00\nnot-a-real-package==1.0\n")
    report = compare(lock)
    kinds = {d.package: d.kind for d in report.differences}
    assert kinds["rich"] == "changed" and kinds["not-a-real-package"] == "missing"
    assert "typer" not in kinds and kinds.get("sqlalchemy") == "extra" and not report.matches

    with pytest.raises(SystemExit) as e:
        main(["doctor", "--lock", str(lock), "--json", "--strict"])
    assert e.value.code == 1
    shown = json.loads(capsys.readouterr().out)
    assert {"package": "rich", "installed": version("rich"), "locked": "0.0.1", "kind": "changed"} in shown["differences"]
    with pytest.raises(SystemExit) as e:
        main(["doctor", "--lock", str(lock)])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "changed  rich" in out and "missing  not-a-real-package" in out
    with pytest.raises(SystemExit) as e:
        main(["doctor", "--lock", str(tmp_path / "nope.txt")])
    assert e.value.code == 2
