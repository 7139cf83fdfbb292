"""Everything a batch needs to know about the run it belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from patronsync.core.models import Institution
from patronsync.core.selectors import CodeTables
from patronsync.jobs.models import Job
from patronsync.patrons.swap import SwapContext
from patronsync.profiles.models import IntegrationProfile

from .state import KnownHashes, TouchedUsers


@dataclass
class RunContext:
    """The job, its profile's settings, the code tables and the users the feed touched.

    `known` (a Synchronize) holds the raw hashes stored on the institution's users when the job
    took its first file: users whose bytes are among them are not parsed by the reader.
    """

    job: Job
    profile: IntegrationProfile
    institution: Institution
    kind: str
    dry_run: bool
    codes: CodeTables
    match_type: str
    unmatched: str
    record_type: str
    swap: SwapContext
    touched: TouchedUsers
    known: KnownHashes | None = None
