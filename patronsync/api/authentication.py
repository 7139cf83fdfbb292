"""API keys for scripts: `Authorization: apikey KEY` or `?apikey=KEY`, as on /almaws/v1/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from patronsync.accounts.models import ApiKey
from patronsync.accounts.selectors import api_key_get_active
from patronsync.almaws.ratelimit import api_key_rate_take
from patronsync.almaws.views import api_key_of


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticate a call by one institution's API key and count it against the key's limits.

    `request.auth` is the `ApiKey` and `request.user` stays anonymous: what the key may do is
    decided by its institution and its scopes (see `access.ApiCaller` and `permissions`).
    """

    keyword = "apikey"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        key = api_key_of(request._request).strip()
        if not key:
            return None
        api_key = api_key_get_active(key=key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("API key not defined or revoked.")
        check = api_key_rate_take(api_key=api_key)  # the same token buckets as /almaws/
        if not check.allowed:
            raise exceptions.Throttled(wait=check.retry_after)
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
