"""The pages' shared way of naming form errors: each error names its field once, its input
points at it (and at its help), and a service's errors land beside the fields they name."""

from __future__ import annotations

import pytest
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.template.loader import render_to_string

from patronsync.accounts.choices import StaffRole
from patronsync.core.exceptions import ConfigurationError
from patronsync.web.forms import NamedErrorsMixin, service_errors_onto


class HostForm(NamedErrorsMixin, forms.Form):
    host = forms.CharField(label="Host name", help_text="e.g. sftp.example.edu")
    port = forms.IntegerField(label="Port", required=False)
    max_files = forms.IntegerField(required=False)  # no label: named as Django labels it


def test_a_field_error_names_its_field_once_and_its_input_points_at_error_and_help():
    form = HostForm({"host": "", "port": "x", "max_files": "many"})

    assert not form.is_valid()
    assert form.errors["max_files"] == ["Max files: Enter a whole number."]
    form.add_error("port", "Port: must be a number")  # already named: not named again

    assert form.errors["host"] == ["Host name: This field is required."]
    assert form.errors["port"] == ["Port: Enter a whole number.", "Port: must be a number"]
    assert form.fields["host"].widget.attrs["aria-invalid"] == "true"
    assert form.fields["host"].widget.attrs["aria-describedby"] == "id_host-error id_host-help"
    assert form.fields["port"].widget.attrs["aria-describedby"] == "id_port-error"


def test_a_field_without_errors_points_at_its_help_only():
    attrs = HostForm().fields["host"].widget.attrs

    assert attrs["aria-describedby"] == "id_host-help"
    assert "aria-invalid" not in attrs


def test_the_shared_field_template_shows_the_error_once_beside_its_input():
    form = HostForm({"host": ""})
    form.is_valid()

    html = render_to_string("web/_field.html", {"field": form["host"]})

    assert html.count("Host name:") == 1
    assert '<small class="ps-field-error" id="id_host-error">Host name: This field is ' in html
    assert '<small class="ps-help" id="id_host-help">e.g. sftp.example.edu</small>' in html
    assert 'aria-describedby="id_host-error id_host-help"' in html
    assert '<label for="id_host">Host name <span aria-hidden="true">*</span></label>' in html


def test_a_service_validation_error_lands_beside_the_fields_it_names():
    form = HostForm({"host": "a", "port": "1"})
    form.is_valid()

    service_errors_onto(
        form,
        ValidationError({"server": "not allowed", "is_default": "taken", "other": "odd"}),
        names={"server": "host"},
        labels={"is_default": "Default"},
    )

    assert form.errors["host"] == ["Host name: not allowed"]
    assert form.errors[NON_FIELD_ERRORS] == ["Default: taken", "odd"]
    assert form.fields["host"].widget.attrs["aria-invalid"] == "true"


def test_a_configuration_error_goes_beside_the_field_given_or_above_the_form():
    beside, above = HostForm({"host": "a"}), HostForm({"host": "a"})
    beside.is_valid(), above.is_valid()

    service_errors_onto(beside, ConfigurationError("no such server"), field="host")
    service_errors_onto(above, ConfigurationError("no such server"))

    assert beside.errors["host"] == ["Host name: no such server"]
    assert above.errors[NON_FIELD_ERRORS] == ["no such server"]


@pytest.mark.django_db
def test_the_code_table_pages_name_each_error_once(client, staff, institution):
    client.force_login(staff(institution, StaffRole.GENERAL_SYSTEM_ADMINISTRATOR))

    text = client.post("/config/code-tables/UserGroups/add/", {"code": "GRAD"}).content.decode()

    assert text.count("Code: Code GRAD is already in the code table UserGroups") == 1
    assert "Code: Code: " not in text
