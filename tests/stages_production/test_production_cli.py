"""The production commands as a user runs them: --json shapes, quotes, one-line errors from a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.stages_production.helpers import square_mask


@pytest.fixture()
def cli(home):
    """The `tierflow` app in this process (the tiny pipelines load once), on the test's home."""
    from tierflow.delivery.cli.app import app
    from tierflow.delivery.cli.context import services

    services.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> dict:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    yield run
    services().close()
    services.cache_clear()


def test_every_command_prints_the_asset_shape(cli, tmp_path):
    cli("project", "create", "launch", "--min-drafts", "0", "--json")
    source = cli("draft", "a red fox", "-p", "launch", "-n", "1", "--seed", "3", "--size", "64x64",
                 "--json")["assets"][0]
    mask = tmp_path / "mask.png"
    square_mask().save(mask)

    def asset_of(*args: str) -> dict:
        out = cli(*args, "--json")
        assert {"id", "width", "height", "format", "parent_ids", "stage", "params"} <= set(out["asset"])
        return out

    cleaned = asset_of("inpaint", source["id"], "--mask", str(mask), "--prompt", "a blue hat")["asset"]
    assert cleaned["stage"] == "cleanup" and cleaned["parent_ids"] == [source["id"]]
    assert cleaned["params"]["unmasked_max_delta"] == 0
    assert cli("outpaint", cleaned["id"], "--right", "32", "--quote", "--json")["credits"] > 0

    up = asset_of("upscale", cleaned["id"], "--to", "x2")
    assert (up["asset"]["width"], up["asset"]["height"], up["asset"]["format"]) == (128, 128, "png")
    assert any("never reviewed" in w for w in up["warnings"])  # the fox was never kept
    args = (cleaned["id"], "--to", "x2", "--creative", "0.25", "--creative-tile", "64")
    quote = cli("upscale", *args, "--quote", "--json")
    assert quote["credits"] == pytest.approx(quote["parts"]["upscale"] + quote["parts"]["creative"])
    creative = asset_of("upscale", *args)
    assert (creative["asset"]["width"], creative["asset"]["height"]) == (128, 128)
    assert creative["creative"]["tiles"] == 9 and creative["credits"] == pytest.approx(quote["credits"])

    clip = asset_of("video", source["id"], "--prompt", "it runs", "--frames", "5", "--fps", "8")
    assert clip["asset"]["format"] == "mp4" and len(clip["frame_drift"]["per_frame"]) == 5
    assert len(clip["flicker"]["per_cut"]) == 4

    text = asset_of("overlay", up["asset"]["id"], "--text", "LAUNCH DAY", "--position", "bottom", "--stroke", "1",
                    "--shadow", "2,2")["asset"]
    assert text["stage"] == "overlay" and text["params"]["layer"]["shadow_offset"] == [2, 2]

    cli("review", source["id"], "--keep", "--json")
    report = cli("drift-check", "-p", "launch", "--json")
    assert report["checked"] == 1 and report["flagged"] == 0 and report["items"][0]["asset_id"] == source["id"]


def test_a_real_process_prints_json_and_one_line_errors(cli, home, tmp_path):
    cli("project", "create", "launch", "--min-drafts", "0", "--json")
    source = cli("draft", "a red fox", "-p", "launch", "-n", "1", "--size", "64x64", "--json")["assets"][0]
    env = {**os.environ, "TIERFLOW_HOME": str(home), "TIERFLOW_PRESET": "tiny", "PYTHONWARNINGS": "ignore"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tierflow", *args], capture_output=True, text=True, env=env,
                              timeout=120)

    proc = run("overlay", source["id"], "--text", "SALE", "--box", "4,4,56,20", "--json")
    assert proc.returncode == 0, proc.stderr
    asset = json.loads(proc.stdout)["asset"]
    assert (asset["width"], asset["height"], asset["format"]) == (64, 64, "png")

    Image.new("L", (32, 32), 255).save(tmp_path / "small.png")
    for args, needle in (
        (("inpaint", source["id"], "--mask", str(tmp_path / "small.png"), "--prompt", "x"), "mask"),
        (("overlay", source["id"], "--text", "SALE", "--font", str(tmp_path / "none.ttf")), "font"),
        (("upscale", source["id"], "--to", "x2", "--creative", "0.7"), "--creative in (0, 0.5]"),
    ):
        proc = run(*args)
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]
