"""Contract test: schemathesis drives a live server with the committed OpenAPI file of /api/v1/.

Checks that no call answers 5xx and that status codes, content types and bodies are those the
committed schema documents (so the file is both accurate and complete).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from patronsync.accounts.services import api_key_create
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import GUARD_OFF, make_profile, user_xml, users_doc, write_zip

OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "openapi" / "patronsync-api.yaml"

schema = schemathesis.openapi.from_path(OPENAPI)


@pytest.fixture
def contract_key(institution, tmp_path) -> str:
    """A read-write key of an institution with a profile, a connection and a finished job."""
    for folder in ("import", "synchronize"):
        (tmp_path / folder).mkdir()
    profile = make_profile(institution, tmp_path, guard=GUARD_OFF)
    write_zip(
        tmp_path / "synchronize" / "a.zip",
        {"a.xml": users_doc(user_xml("c1"), user_xml(None))},
    )
    profile_run(profile=profile, kind="synchronize")
    _, key = api_key_create(
        institution=institution,
        name="contract",
        read_only=False,
        rate_limit_per_minute=0,
        rate_limit_per_hour=0,
    )
    return key


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_honours_the_committed_openapi_contract(case, live_server, contract_key):
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"apikey {contract_key}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
