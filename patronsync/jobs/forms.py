"""Filters of the job pages: Monitor Jobs' history, and a report's records."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from patronsync.core.models import Institution
from patronsync.profiles.models import IntegrationProfile
from patronsync.web.forms import NamedErrorsMixin

from .choices import JobKind, JobStatus, JobTrigger, RecordOutcome
from .selectors import ENDED_STATUSES, RecordCounts

ANY = [("", "Any")]
# The days the History tab searches: a day further out has no start in every time zone
# (9999-12-31's next day, 0001-01-01 east of UTC), and no job ran before 2000.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(9998, 12, 31)
DAY_RANGE = f"Enter a date from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}."


def day_field(label: str) -> forms.DateField:
    """An optional date input bounded to the days the History tab can search."""
    return forms.DateField(
        required=False,
        label=label,
        validators=[
            MinValueValidator(FIRST_DAY, message=DAY_RANGE),
            MaxValueValidator(LAST_DAY, message=DAY_RANGE),
        ],
        widget=forms.DateInput(
            attrs={"type": "date", "min": FIRST_DAY.isoformat(), "max": LAST_DAY.isoformat()}
        ),
    )


class FilterForm(NamedErrorsMixin, forms.Form):
    """A GET form of filters: each valid field filters, an invalid one (shown with its error,
    its input pointing at it) does not."""

    # job_list.html and job_detail.html render the fields with their own markup, which names
    # each error's field: drop this once they include web/_field.html.
    shared_field_template = False

    def choice_field(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    def filters(self) -> dict[str, Any]:
        """The valid, non-empty fields, as keyword arguments of the page's selector."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data[name] for name in self.fields if data.get(name)}


class JobHistoryFilterForm(FilterForm):
    """Monitor Jobs' History tab: which ended jobs to list. A field left empty does not filter;
    the dates are whole days in the institution's time zone."""

    profile = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(required=False, label="Job type", choices=ANY + JobKind.choices)
    status = forms.ChoiceField(
        required=False,
        choices=ANY + [(s.value, s.label) for s in JobStatus if s in ENDED_STATUSES],
    )
    trigger = forms.ChoiceField(required=False, choices=ANY + JobTrigger.choices)
    date_from = day_field("Started from")
    date_to = day_field("Started to")

    def __init__(self, *args: Any, institution: Institution, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        profiles = IntegrationProfile.objects.filter(institution=institution).order_by("code")
        self.choice_field("profile").choices = ANY + [
            (p.code, f"{p.name} ({p.code})") for p in profiles
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "Must not be before Started from.")
        return data


class JobRecordFilterForm(FilterForm):
    """A report's records: by outcome, file, reason code, and a part of the match value,
    primary ID or reason. The file and reason code choices are those of the job's records."""

    outcome = forms.ChoiceField(required=False, choices=ANY + RecordOutcome.choices)
    file = forms.ChoiceField(required=False)
    reason_code = forms.ChoiceField(required=False, label="Reason code")
    text = forms.CharField(
        required=False,
        max_length=255,
        label="Search",
        help_text="A part of the match value, primary ID or reason.",
    )

    def __init__(self, *args: Any, counts: RecordCounts, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choice_field("file").choices = ANY + [(f.name, f.name) for f in counts.files]
        self.choice_field("reason_code").choices = ANY + [
            (code, f"{code} ({n:,})") for code, n in counts.reason_codes.items()
        ]
