"""/docs and /redoc work offline: the assets come from this server, and no request leaves the machine."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture()
def outside(page) -> list[str]:
    """Every request the page makes to a host that is not this machine (each one is aborted)."""
    seen: list[str] = []

    def gate(route):
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            seen.append(url)
            route.abort()

    page.route("**/*", gate)
    return seen


def test_swagger_ui_lists_the_operations_offline(page, outside):
    page.goto("/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_text_contents()
    assert any("/api/v1/projects" in p for p in paths), paths
    assert any("/api/v1/generations" in p for p in paths), paths
    assert len(paths) > 20
    assert outside == [], outside


def test_redoc_renders_offline(page, outside):
    page.goto("/redoc")
    page.wait_for_selector("[role=menuitem]", timeout=30_000)
    assert page.get_by_text("/api/v1/projects", exact=False).count() > 0
    assert outside == [], outside
