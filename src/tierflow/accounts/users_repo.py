"""Moved to :mod:`tierflow.storage.users_repo` (storage stays behind repositories); kept for imports."""

from tierflow.storage.users_repo import (TOKEN_PREFIX, TOUCH_EVERY, ApiToken, User, UsersRepo, authenticate,
                                         hash_token, needs_touch)

__all__ = ["TOKEN_PREFIX", "TOUCH_EVERY", "ApiToken", "User", "UsersRepo", "authenticate", "hash_token",
           "needs_touch"]
