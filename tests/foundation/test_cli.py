"""The CLI as a user runs it: a real `tierflow` process, JSON out, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture()
def cli(home, models_dir):
    env = {**os.environ, "TIERFLOW_HOME": str(home), "TIERFLOW_PRESET": "tiny", "PYTHONWARNINGS": "ignore"}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "tierflow", *args], capture_output=True, text=True, env=env,
                              timeout=300)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    return run


def test_draft_review_promote_lineage_export_through_the_cli(cli, tmp_path):
    cli("project", "create", "launch", "--min-drafts", "0")
    out = json.loads(cli("draft", "a red fox", "-p", "launch", "-n", "2", "--seed", "3", "--size", "64x64",
                         "--json").stdout)
    assets = out["assets"]
    assert len(assets) == 2 and {"id", "seed", "sha256", "width", "height"} <= set(assets[0])
    assert assets[0]["seed"] == 3 and assets[0]["width"] == 64
    kept = json.loads(cli("review", assets[1]["id"], "--keep", "--json").stdout)["asset"]
    assert kept["review"] == "keep" and kept["parent_ids"] == []
    final = json.loads(cli("promote", assets[1]["id"], "--strength", "0.5", "--size", "64x64", "--json").stdout)
    assert final["asset"]["parent_ids"] == [assets[1]["id"]]
    lineage = json.loads(cli("lineage", final["asset"]["id"], "--json").stdout)
    assert lineage["ancestors"] == [assets[1]["id"]]
    listed = json.loads(cli("gallery", "--search", "fox", "--json").stdout)["assets"]
    assert {a["id"] for a in listed} == {assets[0]["id"], assets[1]["id"], final["asset"]["id"]}
    exported = json.loads(cli("export", final["asset"]["id"], "--out", str(tmp_path / "f.png"), "--json").stdout)
    assert (tmp_path / "f.png").stat().st_size == exported["bytes"]
    shown = json.loads(cli("project", "show", "launch", "--json").stdout)["project"]
    assert shown["assets"] == {"draft": 2, "final": 1}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("draft", "", "-p", "launch"), 2, "prompt"),
        (("draft", "a fox", "-p", "launch", "-n", "0"), 2, "n:"),
        (("draft", "a fox", "-p", "launch", "--size", "99999x64"), 2, "size"),
        (("draft", "a fox", "-p", "nowhere"), 3, "project"),
        (("review", "ast_00000000000000ff", "--keep"), 3, "asset"),
        (("review", "../../etc/passwd", "--keep"), 2, "asset"),
        (("review", "ast_00000000000000ff"), 2, "--keep"),
        (("lineage", "x/y"), 2, "asset"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(cli, services, args, code, needle):
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:  # set-up in this process: only the bad command needs a real one
        ProjectsRepo(s).create("launch")
    proc = cli(*args, ok=False)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:") and needle in proc.stderr


def test_json_errors_are_machine_readable(cli):
    proc = cli("project", "show", "nope", "--json", ok=False)
    assert proc.returncode == 3
    body = json.loads(proc.stdout)
    assert body["error"] == "not_found" and body["field"] == "project" and body["fix"]


def test_help_does_not_import_torch(home):
    code = "import sys; from tierflow.delivery.cli.app import app; import tierflow.domain.models; " \
           "print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False", proc.stderr


def test_engines_json_lists_tiers_and_revisions(cli):
    body = json.loads(cli("engines", "--json").stdout)
    ids = {e["id"]: e for e in body["engines"]}
    assert ids["tiny-draft"]["tier"] == "draft" and ids["tiny-final"]["tier"] == "final"
    assert ids["sd-turbo"]["repo"] == "stabilityai/sd-turbo" and "revision" in ids["sd-turbo"]
    assert body["defaults"]["draft"] == "tiny-draft"


@pytest.mark.slow
def test_demo_renders_every_step_through_the_application_service(cli, home, models_dir):
    """`tierflow demo` is a door like `draft`/`promote`: each render a typed spec the service ran and recorded."""
    from tierflow.bootstrap import build
    from tierflow.config import Settings
    from tierflow.storage.assets_repo import AssetsRepo
    from tierflow.storage.generations_repo import GenerationsRepo

    summary = json.loads(cli("demo", "--json").stdout)
    assert summary["tiny"] and len(summary["drafts"]) == 6 and os.path.isfile(summary["export"])
    svc = build(Settings(home=home, preset="tiny", models_path=models_dir))
    try:
        with svc.db.read() as s:
            assets, gens = AssetsRepo(s), GenerationsRepo(s)
            made = {key: assets.get(summary[key]) for key in ("final", "cleanup", "upscale", "video", "overlay")}
            drafts = [assets.get(a) for a in summary["drafts"]]
            ops = {key: gens.get(a.generation_id).spec["op"] for key, a in made.items()}
            draft_gen = gens.get(drafts[0].generation_id)
    finally:
        svc.close()
    assert draft_gen.spec["op"] == "draft" and draft_gen.spec["n"] == 6 and draft_gen.status.value == "succeeded"
    assert {a.generation_id for a in drafts} == {draft_gen.id}
    assert ops == {"final": "promote", "cleanup": "outpaint", "upscale": "upscale", "video": "video",
                   "overlay": "overlay"}
    assert [d.review.value for d in drafts] == ["star", "keep", "keep", "discard", "discard", "discard"]
    parents = {key: a.parent_ids for key, a in made.items()}
    assert parents == {"final": [drafts[0].id], "cleanup": [summary["final"]], "upscale": [summary["cleanup"]],
                       "video": [summary["upscale"]], "overlay": [summary["upscale"]]}
    assert made["video"].format == "mp4" and made["upscale"].width == 2 * made["cleanup"].width
