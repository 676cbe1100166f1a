"""Moved to :mod:`tierflow.storage.ledger_repo` (storage stays behind repositories); kept for imports."""

from tierflow.storage.ledger_repo import LedgerRepo

__all__ = ["LedgerRepo"]
