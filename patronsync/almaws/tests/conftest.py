"""Fixtures of the Alma-compatible API tests: keys and a client that sends them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from patronsync.accounts.services import api_key_create


class ApiClient:
    """A test client that sends an API key in the Authorization header and JSON by default."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.client = Client()

    def _headers(self, fmt: str, extra: dict[str, str] | None) -> dict[str, str]:
        accept = "application/json" if fmt == "json" else "application/xml"
        return {"Authorization": f"apikey {self.key}", "Accept": accept, **(extra or {})}

    def get(
        self, path: str, *, fmt: str = "json", headers: dict[str, str] | None = None, **params: Any
    ) -> Any:
        return self.client.get(path, params, headers=self._headers(fmt, headers))

    def send(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        fmt: str = "json",
        query: str = "",
        headers: dict[str, str] | None = None,
    ) -> Any:
        if fmt == "json" and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        content_type = "application/json" if fmt == "json" else "application/xml"
        url = f"{path}?{query}" if query else path
        call = getattr(self.client, method.lower())
        return call(url, body, content_type=content_type, headers=self._headers(fmt, headers))

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.send("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        return self.send("PUT", path, body, **kw)

    def delete(self, path: str, *, query: str = "") -> Any:
        url = f"{path}?{query}" if query else path
        return self.client.delete(url, headers=self._headers("json", None))


@pytest.fixture
def rw_key(institution):
    return api_key_create(institution=institution, name="sis", read_only=False)


@pytest.fixture
def ro_key(institution):
    return api_key_create(institution=institution, name="discovery", read_only=True)


@pytest.fixture
def api(rw_key) -> ApiClient:
    return ApiClient(rw_key[1])


@pytest.fixture
def ro_api(ro_key) -> ApiClient:
    return ApiClient(ro_key[1])
