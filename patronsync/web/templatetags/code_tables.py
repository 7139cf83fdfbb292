"""Template helpers of a job's report: the codes its feed used that the code tables lack, and
its "Run again" links (`jobs/_unknown_codes.html`)."""

from __future__ import annotations

from typing import Any

from django import template

from patronsync.jobs.models import Job
from patronsync.jobs.rerun import job_rerunnable
from patronsync.jobs.selectors import job_unknown_codes

register = template.Library()


@register.simple_tag
def job_onboarding(job: Job) -> dict[str, Any]:
    """What the report's unknown-codes section shows of `job`: its unknown codes (each with
    where it stands now), those still not usable, whether it can be run again, the job it runs
    again and the jobs that ran it again."""
    unknown = job_unknown_codes(job=job)
    return {
        "unknown": unknown,
        "missing": [code for code in unknown if code.state != "present"],
        "rerunnable": job_rerunnable(job=job),
        "rerun_of": job.rerun_of,
        "reruns": list(job.reruns.order_by("id")),
    }
