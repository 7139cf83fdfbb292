"""Contract test: schemathesis drives a live server with Ex Libris' OpenAPI file of the Users API.

Limited to the users CRUD operations; the file's request and response schemas are remote
(developers.exlibrisgroup.com), so they are replaced with plain objects before loading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from patronsync.accounts.services import api_key_create

OPENAPI = Path(__file__).resolve().parents[1] / "openapi" / "alma_users_openapi.json"
CRUD = {
    "/almaws/v1/users": ("get", "post"),
    "/almaws/v1/users/{user_id}": ("get", "put", "delete"),
}


def _local(node: Any) -> Any:
    """Replace remote `$ref`s (schemas on the vendor's site) with a plain object schema."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("http"):
            return {"type": "object"}
        return {key: _local(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_local(item) for item in node]
    return node


def crud_schema() -> dict[str, Any]:
    raw = json.loads(OPENAPI.read_text())
    raw["paths"] = {
        path: {method: raw["paths"][path][method] for method in methods}
        for path, methods in CRUD.items()
    }
    return _local(raw)


schema = schemathesis.openapi.from_dict(crud_schema())


@pytest.fixture
def contract_key(institution) -> str:
    # Schemathesis calls faster than Alma's 25 a second; 429 is not in the vendor's file.
    institution.api_per_second_threshold = 0
    institution.save(update_fields=["api_per_second_threshold"])
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
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_users_api_honours_the_openapi_contract(case, live_server, contract_key):
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"apikey {contract_key}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
