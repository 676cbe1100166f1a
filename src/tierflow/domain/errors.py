"""The errors tierflow raises, as one tree.

    TierflowError
    ├── InvalidInput          bad argument: names the field and the fix      (CLI exit 2, HTTP 422)
    ├── NotFound              unknown project / asset / milestone / engine   (CLI exit 3, HTTP 404)
    ├── PolicyBlocked         draft-first, final cap, role rules             (CLI exit 4, HTTP 409)
    ├── BudgetExhausted       not enough credits left to reserve             (CLI exit 5, HTTP 402)
    ├── PermissionDenied      the role may not do this                       (CLI exit 6, HTTP 403)
    ├── EngineUnavailable     weights not on disk and offline, key missing   (CLI exit 7, HTTP 503)
    │   └── EngineNotReady    refused at submit: that engine cannot run here  (CLI exit 7, HTTP 409)
    ├── EngineFailed          the engine ran and failed (safety block, ...)  (CLI exit 8, HTTP 502)
    ├── Cancelled             the user cancelled a running job               (CLI exit 9, HTTP 409)
    └── BlobCorrupt           a stored file no longer matches its sha256     (CLI exit 10, HTTP 409)
        └── BlobMissing       a stored file is gone

Every message is one line a person can act on. Driver errors are translated into these at
the storage / engine boundary (``raise NotFound(...) from e``).
"""

from __future__ import annotations


class TierflowError(Exception):
    """Base of every error tierflow raises on purpose."""

    exit_code = 1
    http_status = 500
    kind = "error"

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None) -> None:
        self.message = message
        self.field = field
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = self.message
        if self.field and not text.startswith(self.field):
            text = f"{self.field}: {text}"
        if self.fix:
            text = f"{text} — {self.fix}"
        return text

    def to_dict(self) -> dict:
        """The JSON body for the REST API and ``--json`` output."""
        return {
            "error": self.kind,
            "message": self.message,
            "field": self.field,
            "fix": self.fix,
            "detail": str(self),
        }


class InvalidInput(TierflowError):
    exit_code = 2
    http_status = 422
    kind = "invalid_input"


class NotFound(TierflowError):
    exit_code = 3
    http_status = 404
    kind = "not_found"


class PolicyBlocked(TierflowError):
    exit_code = 4
    http_status = 409
    kind = "policy_blocked"


class BudgetExhausted(TierflowError):
    exit_code = 5
    http_status = 402
    kind = "budget_exhausted"


class PermissionDenied(TierflowError):
    exit_code = 6
    http_status = 403
    kind = "permission_denied"


class EngineUnavailable(TierflowError):
    exit_code = 7
    http_status = 503
    kind = "engine_unavailable"


class EngineNotReady(EngineUnavailable):
    """The engine named cannot run on this install (checked before anything is queued or reserved)."""

    http_status = 409


class EngineFailed(TierflowError):
    exit_code = 8
    http_status = 502
    kind = "engine_failed"


class Cancelled(TierflowError):
    exit_code = 9
    http_status = 409
    kind = "cancelled"


class BlobCorrupt(TierflowError):
    """A blob's bytes no longer hash to the sha256 its asset recorded (disk fault, edited file)."""

    exit_code = 10
    http_status = 409
    kind = "blob_corrupt"


class BlobMissing(BlobCorrupt):
    """An asset's blob is not in the blob store at all (moved, pruned, deleted by hand)."""

    kind = "blob_missing"
