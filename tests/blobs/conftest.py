"""Fixtures for the blob-store contract: a moto S3 server on loopback, and each store to test."""

from __future__ import annotations

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")


@pytest.fixture(scope="session")
def moto_server():
    from tests.s3 import MotoServer

    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture()
def s3_url(moto_server, monkeypatch) -> str:
    """A fresh bucket; the AWS_* variables point at the loopback server for this test."""
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    url = f"s3://{moto_server.new_bucket()}/tierflow"
    monkeypatch.setenv("TIERFLOW_BLOBS_URL", url)
    return url


@pytest.fixture(params=["local", "s3"])
def store_kind(request) -> str:
    return request.param


@pytest.fixture()
def store(store_kind, tmp_path, request):
    """One blob store of each kind, empty."""
    if store_kind == "local":
        from tierflow.storage.blobs import LocalBlobStore

        return LocalBlobStore(tmp_path / "blobs", fsync=False)
    from tierflow.storage.blobs_s3 import S3BlobStore

    return S3BlobStore.from_url(request.getfixturevalue("s3_url"))


@pytest.fixture()
def services(home, models_dir, store_kind, request):
    """The wiring the CLI uses (open guard, tiny preset) on each store kind: the local folder or the bucket."""
    from tierflow.bootstrap import build
    from tierflow.config import Settings
    from tierflow.stages.guard import OpenGuard

    if store_kind == "s3":
        request.getfixturevalue("s3_url")  # sets TIERFLOW_BLOBS_URL and the AWS_* variables
    svc = build(Settings(home=home, preset="tiny", models_path=models_dir), guard=OpenGuard())
    yield svc
    svc.close()
