"""Moved to `patronsync.accounts.views` (role checks belong to accounts, above core); kept only
for `patrons/views.py` and `jobs/views.py` until they import from there, then deleted."""

from patronsync.accounts.views import InstitutionRoleMixin

__all__ = ["InstitutionRoleMixin"]
