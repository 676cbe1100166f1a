"""Moved to :mod:`tierflow.storage.policy_repo` (storage stays behind repositories); kept for imports."""

from tierflow.storage.policy_repo import ACTION_DAILY_LIMIT, PolicyRepo, policy_of

__all__ = ["ACTION_DAILY_LIMIT", "PolicyRepo", "policy_of"]
