"""`tierflow studio --host 0.0.0.0`: refused without an admin account (exit 2 naming the fix), served with one.

The decision is :func:`exposure_note`; the CLI test runs it in-process (it exits before serving), and
one real process proves that with an admin the studio does listen on every interface and asks for a token.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tierflow.delivery.cli.studio import exposure_note, is_loopback
from tierflow.domain.errors import InvalidInput

NONE = {"users": 0, "admins": 0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_needs_nothing(host):
    assert is_loopback(host) and exposure_note(host, NONE) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "studio.example"])
def test_a_public_address_without_an_admin_is_refused_naming_the_fix(host):
    with pytest.raises(InvalidInput) as e:
        exposure_note(host, NONE)
    assert e.value.exit_code == 2 and e.value.field == "host"
    assert "tierflow user create NAME --role admin" in e.value.fix and "--allow-anonymous" in e.value.fix
    assert "no accounts" in e.value.message
    with pytest.raises(InvalidInput, match="no admin"):
        exposure_note(host, {"users": 2, "admins": 0})


def test_the_warning_is_true_to_the_accounts_that_exist():
    anonymous = exposure_note("0.0.0.0", NONE, allow_anonymous=True)
    assert "no accounts" in anonymous and "full rights" in anonymous
    with_admin = exposure_note("0.0.0.0", {"users": 3, "admins": 1})
    assert "no accounts" not in with_admin and "3 accounts" in with_admin and "token" in with_admin


def test_the_cli_refuses_in_one_line_with_exit_2(home, capsys):
    from tierflow.delivery.cli import context
    from tierflow.delivery.cli.app import main

    context.services.cache_clear()
    with pytest.raises(SystemExit) as e:
        main(["studio", "--host", "0.0.0.0", "--port", str(_free_port())])
    context.services().close()
    context.services.cache_clear()
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1
    assert "tierflow user create NAME --role admin" in err and "Traceback" not in err


def test_with_an_admin_it_serves_on_every_interface_and_asks_for_a_token(home, models_dir):
    env = {**os.environ, "TIERFLOW_HOME": str(home), "TIERFLOW_PRESET": "tiny", "PYTHONWARNINGS": "ignore"}
    made = subprocess.run([sys.executable, "-m", "tierflow", "user", "create", "ada", "--role", "admin", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]["token"]
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tierflow", "studio", "--host", "0.0.0.0", "--port", str(port),
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines: list[str] = []
        while not lines or lines[-1].strip() != "}":
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        notes = json.loads("".join(lines))["notices"]
        assert any("(1 account, 1 admin)" in n and "token" in n for n in notes) and not any("no accounts" in n for n in notes)
        deadline = time.monotonic() + 60
        while True:
            try:
                anonymous = httpx.get(f"http://127.0.0.1:{port}/api/v1/engines", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert anonymous.status_code == 401
        signed = httpx.get(f"http://127.0.0.1:{port}/api/v1/engines", headers={"Authorization": f"Bearer {token}"})
        assert signed.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
