"""bench/load.py, small: a real `tierflow studio` under concurrent clients loses no job and no credit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def _load_module():
    """bench/ is a folder of scripts, not a package: import the benchmark by its path."""
    spec = importlib.util.spec_from_file_location("tierflow_bench_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_concurrent_drafts_and_reads_lose_no_job_and_no_credit(home):
    load = _load_module()
    # a budget of ~2 one-step 64 px images: it runs out under the load, so refusals (402) are counted too
    result = load.run_load(home, clients=4, ops=24, budget=0.01, drain_timeout=60)
    assert result.ok, load.report(result)
    assert result.jobs and result.requests == 24
    assert result.refused + len(result.jobs) - 1 == len(result.latencies.get("draft", []))
