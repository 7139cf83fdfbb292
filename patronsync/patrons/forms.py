"""Forms of the user pages: a user's core fields and its segments, turned into its Alma JSON form.

The forms only read and check input; `services.patron_update` applies it with the store's rules.
Every error names its field, and the field's input says it is invalid (`aria-invalid`,
`aria-describedby` pointing at the error beside it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from patronsync.core.choices import CodeTableName as T
from patronsync.core.selectors import CodeTables

from .choices import AccountType, SegmentType, UserStatus
from .fields import CONTACT_SEGMENTS
from .models import Patron
from .state import current_identifiers

# Alma's names of a user's fields, as its user pages show them.
FIELD_LABELS = {
    "primary_id": "Primary identifier",
    "record_type": "Record type",
    "first_name": "First name",
    "middle_name": "Middle name",
    "last_name": "Last name",
    "pref_first_name": "Preferred first name",
    "pref_middle_name": "Preferred middle name",
    "pref_last_name": "Preferred last name",
    "pref_name_suffix": "Preferred name suffix",
    "user_title": "Title",
    "gender": "Gender",
    "birth_date": "Birth date",
    "user_group": "User group",
    "job_category": "Job category",
    "job_description": "Job description",
    "campus_code": "Campus",
    "preferred_language": "Preferred language",
    "cataloger_level": "Cataloger level",
    "web_site_url": "Web site URL",
    "expiry_date": "Expiry date",
    "purge_date": "Purge date",
    "status": "Status",
    "status_date": "Status date",
    "account_type": "Account type",
    "external_id": "External ID",
    "pin_number": "PIN number",
    "password": "Password",
    "force_password_change": "Force password change",
    "is_researcher": "Researcher",
    "rs_libraries": "Resource sharing libraries",
    "library_notices": "Library notices",
    "rs_library": "Resource sharing libraries",
    "library_notice": "Library notices",
    "address": "Addresses",
    "email": "Emails",
    "phone": "Phones",
    "user_identifier": "Identifiers",
    "user_note": "Notes",
    "user_block": "Blocks",
    "user_statistic": "Statistics",
    "user_role": "Roles",
    "researcher": "Researcher data",
    "kept_by_staff": "Changed in the library",
    "exempt": "Exempt from leavers rules and purge",
    "leaver_state": "Leavers rule",
}


def field_label(name: str) -> str:
    """Alma's name of a field (`user_group` is "User group"); unknown names made readable."""
    return FIELD_LABELS.get(name) or name.replace("_", " ").capitalize()


def code_choices(
    codes: CodeTables, table: str, *, current: Any = None, blank: bool = True
) -> list[tuple[str, str]]:
    """A code table's enabled codes as choices, "Description (CODE)", sorted by description.

    A current value the table no longer has stays a choice, so that saving keeps it.
    """
    entries = codes.codes.get(table, {})
    choices = sorted(
        (
            (code, f"{desc} ({code})" if desc and desc != code else code)
            for code, desc in entries.items()
        ),
        key=lambda choice: choice[1].casefold(),
    )
    for value in current if isinstance(current, list) else [current]:
        if value and value not in entries:
            choices.append((value, f"{value} (not in the code table)"))
    return ([("", "—")] if blank else []) + choices


class NamedErrorsMixin:
    """Errors that name their field ("Expiry date: Enter a valid date."), and inputs that point
    at them for assistive technology."""

    fields: dict[str, forms.Field]
    prefix: str | None

    def add_error(self, field: str | None, error: Any) -> None:
        if field is not None and field in self.fields:
            label = str(self.fields[field].label or field_label(field))
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            error = ValidationError(
                [m if m.startswith(label) else f"{label}: {m}" for m in messages]
            )
            bound = self[field]  # type: ignore[index]
            attrs = self.fields[field].widget.attrs
            attrs["aria-invalid"] = "true"
            attrs["aria-describedby"] = f"{bound.auto_id}-error"
        super().add_error(field, error)  # type: ignore[misc]


def _code_field(codes: CodeTables, table: str, label: str, current: Any, **kwargs: Any) -> Any:
    # A blank first choice even when required: a new segment's form must not arrive filled in.
    return forms.ChoiceField(
        label=label,
        choices=code_choices(codes, table, current=current),
        required=kwargs.pop("required", False),
        **kwargs,
    )


def _codes_field(codes: CodeTables, table: str, label: str, current: Any) -> Any:
    return forms.MultipleChoiceField(
        label=label,
        choices=code_choices(codes, table, current=current, blank=False),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 3}),
    )


def _date(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else None


DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TEXT_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "pref_first_name",
    "pref_middle_name",
    "pref_last_name",
    "pref_name_suffix",
    "job_description",
    "web_site_url",
)
CODE_FIELDS = {
    "user_title": T.TITLES,
    "gender": T.GENDERS,
    "user_group": T.USER_GROUPS,
    "job_category": T.JOB_CATEGORIES,
    "campus_code": T.CAMPUSES,
    "preferred_language": T.LANGUAGES,
    "cataloger_level": T.CATALOGER_LEVELS,
}
DATE_FIELDS = ("birth_date", "expiry_date", "purge_date")


class PatronForm(NamedErrorsMixin, forms.Form):
    """A user's core fields that staff edit (the PIN, the password and what the profile sets,
    record type, account type and external ID, are not among them)."""

    def __init__(self, *args: Any, patron: Any, codes: CodeTables, **kwargs: Any) -> None:
        initial = {name: getattr(patron, name) for name in (*TEXT_FIELDS, *DATE_FIELDS)}
        initial.update({name: getattr(patron, name) for name in CODE_FIELDS})
        initial["status"] = patron.status
        super().__init__(*args, initial=initial, **kwargs)  # type: ignore[misc]
        for name in TEXT_FIELDS:
            self.fields[name] = forms.CharField(
                label=field_label(name), required=False, max_length=255
            )
        self.fields["last_name"].required = True
        for name, table in CODE_FIELDS.items():
            self.fields[name] = _code_field(
                codes,
                table,
                field_label(name),
                getattr(patron, name),
                required=name in ("user_group", "preferred_language"),
            )
        for name in DATE_FIELDS:
            self.fields[name] = forms.DateField(
                label=field_label(name), required=False, widget=DATE_WIDGET
            )
        self.fields["status"] = forms.ChoiceField(label="Status", choices=UserStatus.choices)
        # Not an Alma field: patronsync's own, set with `patron_set_exempt` (not in to_json).
        self.fields["exempt"] = forms.BooleanField(
            label=field_label("exempt"),
            required=False,
            initial=patron.exempt,
            help_text="A complete feed's leavers rule never expires or deactivates this user, "
            "and purge never removes it.",
        )

    def to_json(self) -> dict[str, Any]:
        """The edited core fields in the Alma JSON form that `patron_update` takes."""
        data: dict[str, Any] = {name: self.cleaned_data[name] for name in TEXT_FIELDS}
        for name in CODE_FIELDS:
            value = self.cleaned_data[name]
            data[name] = {"value": value} if value else ""
        for name in DATE_FIELDS:
            data[name] = _date(self.cleaned_data[name])
        data["status"] = {"value": self.cleaned_data["status"]}
        return data


class SegmentForm(NamedErrorsMixin, forms.Form):
    """One segment: `position` is its place in the user's stored list (empty for a new one)."""

    kind = ""
    position = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, codes: CodeTables, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.codes = codes

    def item(self) -> dict[str, Any]:
        """The segment's edited values in the Alma JSON form (empty ones remove the key)."""
        raise NotImplementedError

    @staticmethod
    def initial_of(item: dict[str, Any]) -> dict[str, Any]:
        """A stored segment as this form's initial values."""
        out: dict[str, Any] = {}
        for key, value in item.items():
            if isinstance(value, dict):
                out[key] = value.get("value")
            elif isinstance(value, list):
                out[key] = [v.get("value") for v in value if isinstance(v, dict)]
            else:
                out[key] = value
        return out


def _code(value: str) -> dict[str, str] | str:
    return {"value": value} if value else ""


def _code_list(values: list[str]) -> list[dict[str, str]]:
    return [{"value": value} for value in values]


class AddressForm(SegmentForm):
    kind = "address"

    def __init__(self, *args: Any, codes: CodeTables, **kwargs: Any) -> None:
        super().__init__(*args, codes=codes, **kwargs)
        current = self.initial
        for n in range(1, 6):
            self.fields[f"line{n}"] = forms.CharField(label=f"Line {n}", required=False)
        self.fields["city"] = forms.CharField(label="City", required=False)
        self.fields["state_province"] = forms.CharField(label="State or province", required=False)
        self.fields["postal_code"] = forms.CharField(label="Postal code", required=False)
        self.fields["country"] = _code_field(codes, T.COUNTRIES, "Country", current.get("country"))
        self.fields["address_type"] = _codes_field(
            codes, T.ADDRESS_TYPES, "Address types", current.get("address_type")
        )
        self.fields["address_note"] = forms.CharField(label="Note", required=False)
        self.fields["start_date"] = forms.DateField(
            label="Start date", required=False, widget=DATE_WIDGET
        )
        self.fields["end_date"] = forms.DateField(
            label="End date", required=False, widget=DATE_WIDGET
        )
        self.fields["preferred"] = forms.BooleanField(label="Preferred", required=False)

    def item(self) -> dict[str, Any]:
        data = self.cleaned_data
        item: dict[str, Any] = {f"line{n}": data[f"line{n}"] for n in range(1, 6)}
        item.update({k: data[k] for k in ("city", "state_province", "postal_code", "address_note")})
        item["country"] = _code(data["country"])
        item["address_type"] = _code_list(data["address_type"])
        item["start_date"] = _date(data["start_date"])
        item["end_date"] = _date(data["end_date"])
        item["preferred"] = data["preferred"]
        return item


class EmailForm(SegmentForm):
    kind = "email"

    def __init__(self, *args: Any, codes: CodeTables, **kwargs: Any) -> None:
        super().__init__(*args, codes=codes, **kwargs)
        self.fields["email_address"] = forms.EmailField(label="Email address")
        self.fields["email_type"] = _codes_field(
            codes, T.EMAIL_TYPES, "Email types", self.initial.get("email_type")
        )
        self.fields["description"] = forms.CharField(label="Description", required=False)
        self.fields["preferred"] = forms.BooleanField(label="Preferred", required=False)

    def item(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "email_address": data["email_address"],
            "email_type": _code_list(data["email_type"]),
            "description": data["description"],
            "preferred": data["preferred"],
        }


class PhoneForm(SegmentForm):
    kind = "phone"

    def __init__(self, *args: Any, codes: CodeTables, **kwargs: Any) -> None:
        super().__init__(*args, codes=codes, **kwargs)
        self.fields["phone_number"] = forms.CharField(label="Phone number")
        self.fields["phone_type"] = _codes_field(
            codes, T.PHONE_TYPES, "Phone types", self.initial.get("phone_type")
        )
        self.fields["preferred"] = forms.BooleanField(label="Preferred", required=False)
        self.fields["preferred_sms"] = forms.BooleanField(label="Preferred for SMS", required=False)

    def item(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "phone_number": data["phone_number"],
            "phone_type": _code_list(data["phone_type"]),
            "preferred": data["preferred"],
            "preferred_sms": data["preferred_sms"],
        }


class IdentifierForm(SegmentForm):
    kind = "user_identifier"

    def __init__(self, *args: Any, codes: CodeTables, **kwargs: Any) -> None:
        super().__init__(*args, codes=codes, **kwargs)
        self.fields["id_type"] = _code_field(
            codes,
            T.IDENTIFIER_TYPES,
            "Identifier type",
            self.initial.get("id_type"),
            required=True,
        )
        self.fields["value"] = forms.CharField(label="Value", max_length=255)
        self.fields["note"] = forms.CharField(label="Note", required=False)
        self.fields["status"] = forms.ChoiceField(
            label="Status",
            required=False,
            choices=[("", "—"), ("ACTIVE", "Active"), ("INACTIVE", "Inactive")],
        )

    def item(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "id_type": _code(data["id_type"]),
            "value": data["value"],
            "note": data["note"],
            "status": data["status"],
        }


class NoteForm(SegmentForm):
    kind = "user_note"

    def __init__(self, *args: Any, codes: CodeTables, **kwargs: Any) -> None:
        super().__init__(*args, codes=codes, **kwargs)
        self.fields["note_type"] = _code_field(
            codes, T.NOTE_TYPES, "Note type", self.initial.get("note_type"), required=True
        )
        self.fields["note_text"] = forms.CharField(
            label="Note", widget=forms.Textarea(attrs={"rows": 2})
        )
        self.fields["user_viewable"] = forms.BooleanField(label="User viewable", required=False)
        self.fields["popup_note"] = forms.BooleanField(label="Pop-up note", required=False)

    def item(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "note_type": _code(data["note_type"]),
            "note_text": data["note_text"],
            "user_viewable": data["user_viewable"],
            "popup_note": data["popup_note"],
        }


# The segments staff add and edit on the user's edit page, with their form and form prefix.
SEGMENT_FORMS: dict[str, tuple[type[SegmentForm], str]] = {
    "address": (AddressForm, "address"),
    "email": (EmailForm, "email"),
    "phone": (PhoneForm, "phone"),
    "user_identifier": (IdentifierForm, "identifier"),
    "user_note": (NoteForm, "note"),
}


class NamedErrorsFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    """A segment list: existing segments staff may change, and one empty form to add one."""

    def add_section_error(self, message: str) -> None:
        """An error of the list as a whole (e.g. two preferred emails)."""
        self._non_form_errors = self.error_class(  # type: ignore[has-type]
            [*self.non_form_errors(), message],
            renderer=self.renderer,  # type: ignore[attr-defined]
        )


def segment_formset(kind: str) -> type[NamedErrorsFormSet]:
    form, _ = SEGMENT_FORMS[kind]
    return forms.formset_factory(  # type: ignore[return-value]
        form, formset=NamedErrorsFormSet, extra=1, can_delete=True
    )


def segment_editable(patron: Patron, item: dict[str, Any]) -> bool:
    """Staff change what the library owns: an internal user's segments, and an external user's
    Internal ones; a Synchronize replaces an external user's External segments."""
    return patron.account_type == AccountType.INTERNAL or (
        item.get("segment_type") == SegmentType.INTERNAL
    )


def stored_segments(patron: Patron, kind: str) -> list[dict[str, Any]]:
    """The user's stored list of one segment kind, in its order (identifiers from their table)."""
    if kind == "user_identifier":
        return current_identifiers(patron)
    return list(patron.segments.get(kind, []))


def _deleted(formset: NamedErrorsFormSet, form: SegmentForm) -> bool:
    return bool(formset.can_delete and form.cleaned_data.get("DELETE"))


def _merged(patron: Patron, kind: str, formset: NamedErrorsFormSet) -> list[dict[str, Any]]:
    """The segment list after the edit: the stored list in its order, editable segments
    changed or removed as the forms say, the new ones (Internal) at the end."""
    by_position = {
        form.cleaned_data.get("position"): form
        for form in formset.forms
        if form.cleaned_data.get("position") is not None
    }
    result = []
    for n, item in enumerate(stored_segments(patron, kind)):
        form = by_position.get(n) if segment_editable(patron, item) else None
        if form is None or not (form.has_changed() or _deleted(formset, form)):
            result.append(item)
        elif not _deleted(formset, form):
            result.append(_clean_item({**item, **form.item()}))
    for form in formset.forms:
        new = form.cleaned_data.get("position") is None and form.has_changed()
        if new and not _deleted(formset, form):
            result.append(_clean_item({**form.item(), "segment_type": SegmentType.INTERNAL}))
    return result


def _clean_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v not in (None, "", [], False)}


def edited_json(
    *, patron: Patron, form: PatronForm, formsets: dict[str, NamedErrorsFormSet]
) -> dict[str, Any]:
    """What the valid edit forms change, in the Alma JSON form that `patron_update` takes:
    the core fields changed, and each segment list that changed, whole."""
    data: dict[str, Any] = {
        name: value for name, value in form.to_json().items() if name in form.changed_data
    }
    changed = {
        kind
        for kind, formset in formsets.items()
        if any(f.has_changed() or _deleted(formset, f) for f in formset.forms)
    }
    if changed & set(CONTACT_SEGMENTS):
        changed |= set(CONTACT_SEGMENTS)  # contact_info replaces its three lists
    segments = {kind: _merged(patron, kind, formsets[kind]) for kind in changed}
    contact = {kind: segments.pop(kind) for kind in CONTACT_SEGMENTS if kind in segments}
    if contact:
        data["contact_info"] = contact
    data.update(segments)
    return data


class RestoreForm(forms.Form):
    """Which protected field to give back to the SIS."""

    field = forms.CharField(max_length=64)
