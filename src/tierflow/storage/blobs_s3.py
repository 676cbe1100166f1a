"""Content-addressed blobs in an S3-compatible object store: ``s3://bucket/prefix/ab/cd/<sha256>.<ext>``.

Chosen with ``TIERFLOW_BLOBS_URL=s3://bucket/prefix``; the endpoint and credentials come from the
usual environment variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION``), so the same settings work for AWS S3, MinIO, Ceph RGW, R2 or a loopback ``moto``.

Two maintained clients, each where it is strongest: every **PUT** goes through **obstore** (Rust's
``object_store``: the request is signed, checksummed and sent outside Python — ~0.3 ms of CPU per
30 KB PUT against ~2.2 ms for boto3, measured on loopback; a draft is three PUTs, written from the
runner's encode threads, so on a small machine that CPU is what ingest pays); everything else
(HEAD, GET, paginated listing, DELETE, presigned URLs with response headers, error codes) goes
through **boto3**, the reference client, thread-safe with a connection pool. Both read the same
environment variables. s3fs adds an fsspec layer this store does not need.

Guarantees (see :mod:`tierflow.storage.blob_store`):

- a PUT is atomic on S3 (an object is visible whole or not at all), so there are no temporary
  objects to sweep; ``put`` is a conditional PUT (``If-None-Match: *``, S3 since 2024, MinIO,
  R2) that never replaces an existing object (a server that ignores the header rewrites the same
  bytes: harmless); blobs over 8 MiB are looked up with HEAD first so they are not re-sent;
- ``get`` verifies the bytes against their sha256; every PUT also sends its SHA-256 checksum
  (``x-amz-checksum-sha256``) so the server rejects bytes damaged on the way;
- the orphan sweep lists the prefix and uses each object's ``LastModified`` as its age;
- the studio redirects a browser to a short-lived presigned GET URL instead of proxying the bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tierflow.domain.errors import BlobMissing, InvalidInput, NotFound
from tierflow.storage.blob_store import BlobEntry
from tierflow.storage.blob_verify import missing, verify

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,5}$")
_KEY_RE = re.compile(r"(?:^|/)[0-9a-f]{2}/[0-9a-f]{2}/([0-9a-f]{64})\.([a-z0-9]{1,5})$")
SWEEP_MARKER = ".last-orphan-sweep"
HEAD_FIRST_BYTES = 8 << 20  # above this, ask whether the object exists before uploading it
CONTENT_TYPES = {"png": "image/png", "mp4": "video/mp4", "webp": "image/webp", "jpg": "image/jpeg",
                 "gif": "image/gif"}
URL_FIX = "set TIERFLOW_BLOBS_URL=s3://<bucket>/<prefix> (and AWS_ENDPOINT_URL for a non-AWS server)"


@dataclass
class S3BlobStore:
    """Blobs in ``bucket`` under ``prefix`` (no leading/trailing slash; may be empty)."""

    bucket: str
    prefix: str
    client: Any  # boto3
    uploader: Any = None  # obstore S3Store for PUTs (make_uploader); None: from the environment on first put

    @classmethod
    def from_url(cls, url: str, *, check: bool = True) -> S3BlobStore:
        """``s3://bucket/prefix``; the client from the environment; the bucket checked at once."""
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InvalidInput(f"{url!r} is not a blob store URL", field="TIERFLOW_BLOBS_URL", fix=URL_FIX)
        store = cls(parsed.netloc, parsed.path.strip("/"), make_client(), make_uploader(parsed.netloc))
        if check:
            store.check()
        return store

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def check(self) -> None:
        """Fail at start-up, in one line, when the bucket cannot be reached."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        endpoint = self.client.meta.endpoint_url
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise NotFound(f"bucket {self.bucket!r} does not exist on {endpoint}", field="TIERFLOW_BLOBS_URL",
                               fix="create it (e.g. `aws s3 mb s3://" + self.bucket + "`) or fix the URL") from None
            raise InvalidInput(f"{endpoint} refused access to bucket {self.bucket!r} ({code})",
                               field="AWS_ACCESS_KEY_ID",
                               fix="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY") from None
        except NoCredentialsError:
            raise InvalidInput(f"no credentials for the object store at {endpoint}", field="AWS_ACCESS_KEY_ID",
                               fix="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile)") from None
        except BotoCoreError as e:
            raise InvalidInput(f"cannot reach the object store at {endpoint}: {e}", field="AWS_ENDPOINT_URL",
                               fix="check AWS_ENDPOINT_URL and that the server is running") from None

    # -- keys ---------------------------------------------------------------------------------
    def key_for(self, sha256: str, ext: str) -> str:
        if not _SHA_RE.match(sha256):
            raise InvalidInput(f"{sha256!r} is not a sha256 digest", field="sha256", fix="pass 64 hex digits")
        if not _EXT_RE.match(ext):
            raise InvalidInput(f"{ext!r} is not a file extension", field="format", fix="use png, mp4, ...")
        rel = f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{ext}"
        return f"{self.prefix}/{rel}" if self.prefix else rel

    # -- the interface ------------------------------------------------------------------------
    def put(self, data: bytes, ext: str) -> tuple[str, bool]:
        """One conditional PUT (``If-None-Match: *``): the server refuses to replace an existing
        object, atomically, even when two hosts store the same bytes at once. Large blobs are
        looked up first (HEAD) so their bytes are not sent again for nothing."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        sha = hashlib.sha256(data).hexdigest()
        key = self.key_for(sha, ext)
        if len(data) > HEAD_FIRST_BYTES and self._head(key) is not None:
            return sha, False
        if self.uploader is None:
            self.uploader = make_uploader(self.bucket)
        try:  # mode="create": If-None-Match: *; the uploader sends x-amz-checksum-sha256 (checksum_algorithm)
            obstore.put(self.uploader, key, data, mode="create", use_multipart=False,
                        attributes={"Content-Type": CONTENT_TYPES.get(ext, "application/octet-stream")})
        except (AlreadyExistsError, PreconditionError):
            return sha, False  # already stored (or being stored by another writer): same bytes
        return sha, True

    def get(self, sha256: str, ext: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key_for(sha256, ext))["Body"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise self._missing(sha256) from None
            raise
        with body:
            return verify(sha256, body.read())

    def exists(self, sha256: str, ext: str) -> bool:
        return self._head(self.key_for(sha256, ext)) is not None

    def delete(self, sha256: str, ext: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key_for(sha256, ext))

    def entries(self) -> Iterator[BlobEntry]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
            for obj in page.get("Contents", []):
                m = _KEY_RE.search(obj["Key"])
                if m:
                    yield BlobEntry(m.group(1), m.group(2), obj["LastModified"].timestamp())

    def sweep_temp(self, older_than: float = 0.0) -> int:
        return 0  # a PUT is atomic: a killed writer leaves no partial object

    def verified_file(self, sha256: str, ext: str) -> tuple[Path, os.stat_result] | None:
        return None  # the studio redirects to presigned_url instead

    def presigned_url(self, sha256: str, ext: str, *, expires: int = 300) -> str | None:
        """A GET URL valid for ``expires`` seconds; a missing blob is BlobMissing (not a URL that 404s)."""
        key = self.key_for(sha256, ext)
        if self._head(key) is None:
            raise self._missing(sha256)
        return self.client.generate_presigned_url(
            "get_object", ExpiresIn=expires,
            Params={"Bucket": self.bucket, "Key": key,
                    "ResponseContentType": CONTENT_TYPES.get(ext, "application/octet-stream"),
                    "ResponseCacheControl": "private, max-age=31536000, immutable"})

    def last_sweep(self) -> float | None:
        head = self._head(self._marker_key())
        return head["LastModified"].timestamp() if head else None

    def mark_sweep(self) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._marker_key(), Body=b"")

    # -- internals ----------------------------------------------------------------------------
    def _marker_key(self) -> str:
        return f"{self.prefix}/{SWEEP_MARKER}" if self.prefix else SWEEP_MARKER

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def _missing(self, sha256: str) -> BlobMissing:
        return missing(sha256, self.location)


def _endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def make_uploader(bucket: str) -> Any:
    """An obstore S3 store for ``bucket`` from the same environment as :func:`make_client` (PUTs only)."""
    try:
        from obstore.store import S3Store
    except ImportError:
        raise InvalidInput("TIERFLOW_BLOBS_URL names an object store but obstore is not installed",
                           field="TIERFLOW_BLOBS_URL", fix="pip install 'tierflow[s3]'") from None
    endpoint = _endpoint()
    config: dict[str, Any] = {"region": _region(), "checksum_algorithm": "sha256"}
    for key, env in (("access_key_id", "AWS_ACCESS_KEY_ID"), ("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
                     ("session_token", "AWS_SESSION_TOKEN")):
        if os.environ.get(env):
            config[key] = os.environ[env]
    if endpoint:  # a custom server (MinIO, Ceph, R2, loopback): path-style, plain HTTP allowed
        config.update(endpoint=endpoint, virtual_hosted_style_request=False)
    return S3Store(bucket, client_options={"allow_http": bool(endpoint and endpoint.startswith("http:"))},
                   **config)


def make_client() -> Any:
    """A boto3 S3 client from the standard AWS environment variables (path-style for custom endpoints)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise InvalidInput("TIERFLOW_BLOBS_URL names an object store but boto3 is not installed",
                           field="TIERFLOW_BLOBS_URL", fix="pip install 'tierflow[s3]'") from None
    endpoint = _endpoint()
    region = _region()
    config = Config(signature_version="s3v4", max_pool_connections=32, retries={"max_attempts": 5, "mode": "standard"},
                    s3={"addressing_style": "path" if endpoint else "auto"},
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)
