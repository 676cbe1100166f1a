"""Guardrails wired to storage: the credit ledger, budgets, policies, audit log and reports.

The pure rules live in :mod:`tierflow.domain` (pricing, ledger, policies, metrics, dna); this
package reads and writes their rows (``ledger_repo``, ``policy_repo``), plugs them into every
stage run (``guard.LedgerGuard``) and offers the use cases the CLI and API call (``budget``).
"""
