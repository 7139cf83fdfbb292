"""What runs once a job has ended: the functions settings.JOB_END_HOOKS names.

The runner calls `job_end_hooks_run` after the job's final status is committed, in the worker
that ran it. The hooks live in apps above jobs (patronsync.notifications tells subscribers and
webhooks), so they are named in the settings rather than imported here: jobs imports nothing
above it. A hook that fails is logged with the job id; it never changes how the job ended.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

from .models import Job

logger = logging.getLogger(__name__)


def job_end_hooks_run(*, job: Job) -> None:
    """Call each job-end hook with the ended job; log, and go on past, any that fails."""
    for path in getattr(settings, "JOB_END_HOOKS", ()):
        try:
            import_string(path)(job=job)
        except Exception:
            logger.exception("job %s: job-end hook %s failed", job.pk, path)
