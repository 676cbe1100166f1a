"""Accounts: users with roles, hashed API tokens, project membership (rules in tierflow.domain.access)."""
