"""Whole-install upkeep: integrity checks and repairs (fsck)."""
