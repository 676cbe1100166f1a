"""The worker says at once what Ray cannot schedule, and names an unreachable cluster in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import free_port
from tierflow.scale.pools import PoolAsk, unschedulable

ROOT = Path(__file__).resolve().parents[2]


def test_everything_fits():
    asks = [PoolAsk("draft", 4, 1, 1), PoolAsk("final", 2, 1, 1)]
    assert unschedulable(asks, {"CPU": 16, "GPU": 6}) == []
    assert unschedulable([PoolAsk("draft", 4, 0.5, 1)], {"CPU": 4, "GPU": 2}) == []
    assert unschedulable([PoolAsk("draft", 2, 0, 1)], {"CPU": 2}) == []  # CPUs only


def test_no_gpus_names_the_flag_that_runs_on_cpus():
    [problem] = unschedulable([PoolAsk("draft", 4, 1, 1)], {"CPU": 8, "GPU": 0})
    assert problem.startswith("needs 4 GPUs for --draft-actors 4 × --gpus-per-actor 1; the cluster has 0")
    assert "pass --gpus-per-actor 0 to run on CPUs" in problem


def test_too_few_gpus_and_cpus_are_both_reported():
    problems = unschedulable([PoolAsk("draft", 4, 1, 1), PoolAsk("final", 2, 1, 1)], {"CPU": 2, "GPU": 2})
    assert problems[0].startswith("needs 6 GPUs for --draft-actors 4 + --final-actors 2 × --gpus-per-actor 1; "
                                  "the cluster has 2")
    assert "lower --draft-actors / --final-actors or --gpus-per-actor to fit in 2 GPUs" in problems[0]
    assert problems[1].startswith("needs 6 CPUs") and "--cpus-per-actor" in problems[1]


def _worker(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TIERFLOW_HOME=str(tmp_path / "home"), TIERFLOW_PRESET="tiny", RAY_ADDRESS="",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    env.pop("TIERFLOW_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "tierflow", "worker", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_an_unreachable_address_is_one_line_and_exit_2(tmp_path):
    pytest.importorskip("ray")
    port = free_port()  # nothing listens there
    result = _worker(tmp_path, "--ray", f"127.0.0.1:{port}", "--once")
    assert result.returncode == 2, result.stderr
    assert f"no Ray cluster at '127.0.0.1:{port}'" in result.stderr and "ray start --head" in result.stderr
    assert "Traceback" not in result.stderr


def test_auto_with_no_cluster_is_one_line_and_exit_2(tmp_path):
    pytest.importorskip("ray")
    result = _worker(tmp_path, "--ray", "auto", "--draft-actors", "4", "--final-actors", "2", "--once")
    assert result.returncode == 2, result.stderr
    assert "no Ray cluster at 'auto'" in result.stderr and "Traceback" not in result.stderr
