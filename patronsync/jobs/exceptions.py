"""Why a job is not started, cancelled or approved: errors the CLI and the API word for people."""

from __future__ import annotations

from patronsync.core.exceptions import PatronsyncError


class SectionNotActive(PatronsyncError):
    """The profile's Import or Synchronize section is not active: its jobs do not run."""


class JobAlreadyRunning(PatronsyncError):
    """Another job of the same profile is pending or running."""


class JobHeld(JobAlreadyRunning):
    """A job of the profile is held by the mass-change guard: later runs wait for its decision."""


class PlanNoLongerApplies(PatronsyncError):
    """A held job's plan cannot be approved: what it planned changed (its files, a newer job)."""


class JobNotCancellable(PatronsyncError):
    """The job cannot be cancelled in its current status."""


class JobNotHeld(PatronsyncError):
    """Only a job held by the mass-change guard can be approved or rejected."""


class JobTakenOver(PatronsyncError):
    """The job is no longer this worker's: its lease ran out and another worker took it over,
    or it was cancelled meanwhile. The worker stops without writing anything more."""


class JobNotRerunnable(PatronsyncError):
    """The job cannot be run again: it has not ended, or no rejected user of it kept its XML."""
