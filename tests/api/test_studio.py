"""`tierflow studio` as a user runs it: a real process serving the API on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_studio_serves_the_api_and_refuses_a_taken_port(home, models_dir):
    env = {**os.environ, "TIERFLOW_HOME": str(home), "TIERFLOW_PRESET": "tiny", "PYTHONWARNINGS": "ignore"}
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tierflow", "studio", "--port", str(port), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        while not lines or lines[-1].strip() != "}":
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        info = json.loads("".join(lines))
        assert info["url"] == f"http://127.0.0.1:{port}" and info["docs"].endswith("/docs")
        assert any("tiny" in n for n in info["notices"])
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"{info['api']}/engines", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["defaults"]["draft"] == "tiny-draft"

        taken = subprocess.run([sys.executable, "-m", "tierflow", "studio", "--port", str(port)],
                               capture_output=True, text=True, env=env, timeout=120)
        assert taken.returncode == 2 and "port" in taken.stderr and "choose another --port" in taken.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)
