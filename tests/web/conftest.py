"""A real tierflow server (uvicorn on a free loopback port) and Debian's headless Chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TIERFLOW_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO_ROOT = Path(__file__).resolve().parents[2]

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (Playwright cannot download browsers here)",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(needs_chromium)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving the app in a background thread; ``url`` is its base address."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="tierflow-web-test", daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def web_services(tmp_path_factory: pytest.TempPathFactory, models_dir: Path, shared_database):
    """The same wiring the CLI and API use, on a temporary home with the tiny engines and the open guard."""
    from tierflow.bootstrap import build
    from tierflow.config import Settings
    from tierflow.stages.guard import OpenGuard

    home = tmp_path_factory.mktemp("web-home")
    services = build(Settings(home=home, database_url=shared_database(), preset="tiny", models_path=models_dir),
                     guard=OpenGuard())
    yield services
    services.close()


@pytest.fixture(scope="session")
def live_server(web_services) -> Iterator[LiveServer]:
    from tierflow.delivery.api.app import create_app

    server = LiveServer(create_app(web_services)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, live_server):
    """A fresh browser context on the live server; console errors fail the test at teardown."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    # shown by pytest when a test fails: what the page said and what the toast told the user
    pg.on("console", lambda msg: print(f"console.{msg.type}: {msg.text}"))
    yield pg
    if not pg.is_closed() and pg.locator("#toast:not([hidden])").count():
        print("toast:", pg.locator("#toast").text_content())
    context.close()
    assert not errors, errors


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    out = REPO_ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    return out
