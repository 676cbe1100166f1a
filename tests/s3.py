"""A real S3-compatible server on loopback for the tests: moto in server mode, one per session.

Every test that asks for it gets its own bucket and the standard AWS environment variables
(``AWS_ENDPOINT_URL`` & co.) pointing at the server, so tierflow — and any subprocess it starts —
reaches it exactly as it would reach MinIO or AWS S3.
"""

from __future__ import annotations

import itertools
import os

from tests.pg import free_port

_buckets = itertools.count(1)


class MotoServer:
    """``start()`` → ``env()`` / ``new_bucket()`` → ``stop()``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = None

    def start(self) -> MotoServer:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "tierflow-test",
                "AWS_SECRET_ACCESS_KEY": "tierflow-test-secret", "AWS_REGION": "us-east-1"}

    def client(self):
        import boto3

        e = self.env()
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=e["AWS_REGION"],
                            aws_access_key_id=e["AWS_ACCESS_KEY_ID"], aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"])

    def new_bucket(self) -> str:
        name = f"tierflow-{os.getpid()}-{next(_buckets)}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
