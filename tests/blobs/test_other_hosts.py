"""Workers on other hosts: separate, empty TIERFLOW_HOMEs sharing only the database and the object store.

The "studio" is this test process (home A); each worker is a real `tierflow worker` process with
its own home (B, C) and no shared disk: the only ways between them are TIERFLOW_DATABASE_URL
(PostgreSQL in the PG pass; the same SQLite file otherwise) and TIERFLOW_BLOBS_URL (a bucket on a
loopback S3 server). The worker on B is SIGKILLed mid-render: after the grace period the orphan
sweep leaves no object without its row, and the worker on C finishes the job; the studio serves
every asset through a presigned URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tierflow.bootstrap import build, default_guard
from tierflow.config import Settings
from tierflow.jobs.durable import enqueue, requeue_expired
from tierflow.stages.recovery import sweep_orphan_blobs
from tierflow.storage.blob_store import GRACE_SECONDS
from tierflow.storage.tables import AssetRow

ROOT = Path(__file__).resolve().parents[2]
N = 4


@pytest.fixture()
def studio(home, models_dir, s3_url):
    svc = build(Settings(home=home, preset="tiny", models_path=models_dir), guard=default_guard())
    assert svc.settings.blobs_url == s3_url and svc.blobs.location == s3_url
    yield svc
    svc.close()


@pytest.fixture()
def project(studio):
    from tierflow.guardrails.budget import grant
    from tierflow.storage.projects_repo import ProjectsRepo

    with studio.db.transaction() as s:
        created = ProjectsRepo(s).create("far", min_drafts=0)
    grant(studio, created.id, 1000)
    return created


def _host(tmp_path: Path, name: str, studio, models_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker on another machine: its own empty home, the shared DB and bucket."""
    home = tmp_path / name
    home.mkdir()
    (home / "models").symlink_to(models_dir, target_is_directory=True)  # this host's model cache
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
    env.update(TIERFLOW_HOME=str(home), TIERFLOW_PRESET="tiny", TIERFLOW_DATABASE_URL=studio.settings.db_url,
               TIERFLOW_BLOBS_URL=studio.settings.blobs_url,
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]), **extra)
    return env


def _assets(studio, gen_id: str) -> list[AssetRow]:
    with studio.db.read() as s:
        return list(s.scalars(select(AssetRow).where(AssetRow.generation_id == gen_id)))


def _named(rows: list[AssetRow]) -> set[str]:
    """The blobs asset rows name: each file and its thumbnail."""
    return {a.sha256 for a in rows} | {a.thumb_sha256 for a in rows if a.thumb_sha256}


def _objects(studio) -> set[str]:
    return {e.sha256 for e in studio.blobs.entries()}


def test_workers_on_other_hosts_render_into_the_shared_store(studio, project, models_dir, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from tierflow.delivery.api.app import create_app

    gen_id = enqueue(studio, {"op": "draft", "project": project.name, "prompt": "a lighthouse in fog",
                              "n": N, "size": "64x64", "steps": 1})
    log = open(tmp_path / "host-b.log", "wb")
    host_b = subprocess.Popen(
        [sys.executable, "-m", "tests.durable.slow_worker", "worker", "--tiers", "draft", "--lease", "2",
         "--poll", "0.2"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=_host(tmp_path, "host-b", studio, models_dir, TIERFLOW_TEST_SLOW_STEP_SECONDS="1.5"))
    try:
        deadline = time.monotonic() + 90
        while not _assets(studio, gen_id):
            assert host_b.poll() is None, (tmp_path / "host-b.log").read_text()
            assert time.monotonic() < deadline, "host B stored nothing in 90 s"
            time.sleep(0.1)
        host_b.send_signal(signal.SIGKILL)
        host_b.wait(timeout=10)
    finally:
        if host_b.poll() is None:
            host_b.kill()
        log.close()

    assert not any((tmp_path / "host-b").glob("blobs/*/*/*")), "host B wrote blobs to its own disk"
    partial = _assets(studio, gen_id)
    assert 1 <= len(partial) < N
    time.sleep(2.5)  # host B's lease runs out
    assert requeue_expired(studio)["requeued"] == [gen_id]

    # Within the grace period the sweep spares every object (one may be a live writer's); after it,
    # only the objects rows name are left.
    objects = _objects(studio)
    assert _named(partial) <= objects and len(objects - _named(partial)) <= 2  # a file and its thumbnail
    assert sweep_orphan_blobs(studio) == 0
    later = time.time() + GRACE_SECONDS + 1
    with monkeypatch.context() as m:
        m.setattr("tierflow.storage.blob_store.time.time", lambda: later)
        assert sweep_orphan_blobs(studio) == len(objects - _named(partial))
    assert _objects(studio) == _named(partial)

    host_c = subprocess.run([sys.executable, "-m", "tierflow", "worker", "--tiers", "draft", "--once", "--json"],
                            cwd=ROOT, env=_host(tmp_path, "host-c", studio, models_dir), capture_output=True,
                            text=True, timeout=120)
    assert host_c.returncode == 0, host_c.stderr
    assert [(j["generation_id"], j["status"], j["outputs"]) for j in json.loads(host_c.stdout)["jobs"]] == [
        (gen_id, "succeeded", N)]
    final = _assets(studio, gen_id)
    assert len(final) == N and _named(final) == _objects(studio)
    assert all(a.thumb_sha256 for a in final)
    assert not any((tmp_path / "host-c").glob("blobs/*/*/*"))

    with TestClient(create_app(studio)) as client:
        for asset in final:
            got = client.get(f"/api/v1/assets/{asset.id}/file", follow_redirects=False)
            assert got.status_code == 307, got.text
            body = httpx.get(got.headers["location"]).content  # the browser's fetch, straight from the store
            assert hashlib.sha256(body).hexdigest() == asset.sha256
            thumb = client.get(f"/api/v1/assets/{asset.id}/thumb", follow_redirects=False)
            assert thumb.status_code == 307
            assert hashlib.sha256(httpx.get(thumb.headers["location"]).content).hexdigest() == asset.thumb_sha256
