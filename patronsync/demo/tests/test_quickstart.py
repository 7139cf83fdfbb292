"""`patronsync quickstart`: the demo instance, its sample feed and the next day's sync."""

from __future__ import annotations

import pytest

from patronsync.cli import main


@pytest.mark.django_db
def test_quickstart_syncs_a_sample_feed_and_a_second_run_updates_it(capsys):
    from patronsync.jobs.models import Job
    from patronsync.patrons.models import Patron

    assert main(["quickstart", "--users", "300"]) == 0
    first = capsys.readouterr().out
    assert "Patron Import Results" in first
    assert "Total users created successfully" in first
    assert Patron.objects.count() == 300
    assert main(["quickstart", "--users", "300"]) == 0
    second_job = Job.objects.order_by("id").last()
    assert second_job.created == 0  # 0.1 % of 300 rounds to no new user
    assert second_job.updated + second_job.unchanged == 300
    assert second_job.unchanged > 250
    assert "exists; password unchanged" in capsys.readouterr().out
