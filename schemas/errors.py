"""The one base class of every ledgerline error."""

from __future__ import annotations


class LedgerlineError(Exception):
    """Raised for any failure ledgerline reports to its user (never for bugs)."""
