"""The guardrail commands as a user runs them: a real `tierflow` process, JSON out, exit codes that say why."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tierflow.bootstrap import build
from tierflow.config import Settings
from tierflow.stages.draft import draft


@pytest.fixture()
def cli(home, models_dir):
    env = {**os.environ, "TIERFLOW_HOME": str(home), "TIERFLOW_PRESET": "tiny", "PYTHONWARNINGS": "ignore"}

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "tierflow", *args], capture_output=True, text=True, env=env,
                              timeout=300)
        assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
        if code:
            assert "Traceback" not in proc.stderr
            assert proc.stderr.strip().splitlines()[-1].startswith("error:"), proc.stderr
        return proc

    return run


def _draft_in_process(home, models_dir, project: str) -> str:
    # Drafting in this (already warm) process saves a CLI start that imports torch.
    services = build(Settings(home=home, preset="tiny", models_path=models_dir))
    try:
        return draft(services, project, "a red fox, golden hour", n=1, seed=2, size="64x64", steps=1).assets[0].id
    finally:
        services.close()


def test_budget_policy_override_audit_and_report_through_the_cli(cli, home, models_dir, tmp_path):
    cli("project", "create", "launch", "--budget", "100", "--min-drafts", "2")
    budget = json.loads(cli("budget", "-p", "launch", "--json").stdout)
    assert {k: budget[k] for k in ("granted", "reserved", "spent", "remaining", "unlimited", "warnings")} == {
        "granted": 100.0, "reserved": 0.0, "spent": 0.0, "remaining": 100.0, "unlimited": False, "warnings": []}
    asset = _draft_in_process(home, models_dir, "launch")
    quote = json.loads(cli("promote", asset, "--size", "64x64", "--steps", "4", "--strength", "0.5", "--quote",
                           "--json").stdout)
    assert quote == {"credits": 2 * (64 * 64 / 1024**2) * 2}  # final rate 2 × MP × int(4 × 0.5) steps

    blocked = cli("promote", asset, "--size", "64x64", "--steps", "1", "--strength", "1", code=4)
    assert "draft-first: 1 of 2 drafts in this prompt thread" in blocked.stderr
    assert "draft 1 more" in blocked.stderr and '--override "REASON"' in blocked.stderr

    final = json.loads(cli("promote", asset, "--size", "64x64", "--steps", "1", "--strength", "1",
                           "--override", "client review at 3", "--json").stdout)
    assert final["asset"]["stage"] == "final" and final["credits"] > 0
    audit = json.loads(cli("audit", "-p", "launch", "--json").stdout)["audit"]
    assert [a["action"] for a in audit] == ["budget.grant", "policy.override"]
    assert audit[1]["reason"] == "client review at 3" and audit[1]["detail"]["role"] == "lead"

    cli("milestone", "create", "m1", "-p", "launch")
    policy = json.loads(cli("policy", "-p", "launch", "--final-cap", "0", "--json").stdout)
    assert policy["policy"]["final_cap"] == 0 and policy["changed"] == ["final_cap"]
    capped = cli("promote", asset, "--size", "64x64", "--steps", "1", "--strength", "1", "-m", "m1", code=4)
    assert "final cap: 0 of 0 finals used in milestone 'm1'" in capped.stderr

    chart = tmp_path / "report.png"
    report = json.loads(cli("report", "-p", "launch", "--json", "--chart", str(chart)).stdout)
    assert report["drafts"] == 1 and report["finals"] == 1 and report["draft_to_final_ratio"] == 1.0
    assert {"usable_rate", "cost_per_usable_asset", "latency", "warnings"} <= set(report)
    assert any("below 3:1" in w for w in report["warnings"]) and chart.stat().st_size > 0
    spent = json.loads(cli("budget", "-p", "launch", "--json").stdout)
    assert spent["spent"] == pytest.approx(final["credits"] + 64 * 64 / 1024**2, abs=1e-5)
    assert spent["remaining"] == pytest.approx(100 - spent["spent"], abs=1e-5)


BAD = [
    (("budget", "-p", "launch", "--grant", "-5"), 2, "grant"),
    (("budget", "-p", "launch", "--milestone", "nope"), 3, "milestone 'nope'"),
    (("policy", "-p", "launch", "--final-cap", "-1"), 2, "final_cap"),
    (("policy", "-p", "launch", "--min-drafts", str(10**30)), 2, "min_drafts"),  # once a 500-style crash
    (("project", "create", "huge", "--final-cap", str(10**30)), 2, "final_cap"),
    (("promote", "ast_00000000000000ff", "--quote"), 3, "asset"),
    (("draft", "a fox", "-p", "tight", "-n", "1", "--size", "64x64"), 5, "budget -p tight --grant N"),
    (("dna", "-p", "launch"), 2, "kept"),
]


def test_bad_input_and_blocks_are_one_line_and_a_reason_specific_exit(cli):
    cli("project", "create", "launch")
    cli("project", "create", "tight", "--budget", "0.001")
    for args, code, needle in BAD:
        proc = cli(*args, code=code)
        assert needle in proc.stderr, (args, proc.stderr)
