"""The OpenAPI description of the API: error answers on every operation and the key scheme."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """An error answer: what went wrong, in one sentence."""

    detail = serializers.CharField()


ERRORS_ON_EVERY_CALL = {"401": ErrorSerializer, "403": ErrorSerializer, "429": ErrorSerializer}
ERRORS_WITH_BODY = {"400": OpenApiTypes.OBJECT}  # {"field": ["message", ...], ...}
ERRORS_ON_OBJECTS = {"404": ErrorSerializer}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error answers, so clients and contract tests know them.

    Every call may be refused (401 no or bad credentials, 403 role or a key lacking the scope,
    429 rate limit); calls with a body or query filters may be invalid (400); calls on one
    object, or naming one, may find none (404), as may a page past the end of a list. A view
    lists its own further answers (409) with `extend_schema`.
    """

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors: dict[str, Any] = dict(ERRORS_ON_EVERY_CALL)
        if self.method in ("POST", "PUT", "PATCH") or self._is_list_view():
            errors.update(ERRORS_WITH_BODY)
        if "{" in self.path or self.method == "POST" or self._is_list_view():
            errors.update(ERRORS_ON_OBJECTS)
        for code, body in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(body, code, direction=direction)
        return responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """`Authorization: apikey KEY` (the `apikey` query parameter also works)."""

    target_class = "patronsync.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`apikey KEY`: a key of one institution, with its scopes "
                "(users:read, users:write, config:write)."
            ),
        }


class RecordTypeFieldSchema(OpenApiSerializerFieldExtension):
    """One `RecordTypeEnum` component for the Import and Synchronize record types (otherwise
    each field would get its own enum of the same values)."""

    target_class = "patronsync.api.serializers.RecordTypeField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        from patronsync.profiles.choices import RecordType

        component = ResolvedComponent(
            name="RecordTypeEnum",
            type=ResolvedComponent.SCHEMA,
            object="RecordTypeEnum",
            schema={
                "enum": RecordType.values,
                "type": "string",
                "description": "\n".join(f"* `{v}` - {label}" for v, label in RecordType.choices),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref
