"""Bodies in Alma's XML (the default) or JSON, chosen by headers or the `format` parameter."""

from __future__ import annotations

import io
import re
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from lxml import etree

from patronsync.almaxml import FeedError, user_from_xml, user_to_xml, write_users
from patronsync.almaxml.jsonform import user_from_json, user_to_json
from patronsync.core.jsonsafe import json_loads_bounded

from .errors import AlmaError

JSON = "json"
XML = "xml"
XML_TYPE = "application/xml; charset=utf-8"
ERROR_NS = "http://com/exlibris/urm/general/xmlbeans"
# Characters XML 1.0 cannot carry (control characters, surrogates, U+FFFE/U+FFFF).
NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` with the characters XML cannot carry replaced by U+FFFD."""
    return NOT_XML.sub("\ufffd", text)


def _check_xml_chars(value: Any) -> None:
    """A user must be writable as XML too: refuse strings with characters XML cannot carry."""
    if isinstance(value, dict):
        for item in value.values():
            _check_xml_chars(item)
    elif isinstance(value, list):
        for item in value:
            _check_xml_chars(item)
    elif isinstance(value, str) and NOT_XML.search(value):
        raise AlmaError.no_valid_body(fmt=JSON, detail="a value has characters XML cannot carry")


def response_format(request: HttpRequest) -> str:
    """`format=json|xml` wins; else the first of JSON or XML named in Accept; else XML."""
    fmt = request.GET.get("format", "").strip().lower()
    if fmt in (JSON, XML):
        return fmt
    accept = request.headers.get("Accept", "").lower()
    json_at, xml_at = accept.find("json"), accept.find("xml")
    if json_at >= 0 and (xml_at < 0 or json_at < xml_at):
        return JSON
    return XML


def request_format(request: HttpRequest) -> str:
    """The body's format from Content-Type, else guessed from its first character."""
    content_type = (request.content_type or "").lower()
    if "json" in content_type:
        return JSON
    if "xml" in content_type:
        return XML
    return XML if request.body.lstrip().startswith(b"<") else JSON


def parse_user(request: HttpRequest) -> dict[str, Any]:
    """The user in the request body as Alma's JSON form; 401676 when it cannot be read.

    Both formats go through the codec, so XML and JSON bodies are read the same way.
    """
    fmt = request_format(request)
    if not request.body.strip():
        raise AlmaError.no_valid_body(fmt=fmt, detail="the body is empty")
    if fmt == XML:
        try:
            return user_to_json(user_from_xml(request.body))
        except FeedError as exc:
            raise AlmaError.no_valid_body(fmt=fmt, detail=exc.problem.message) from exc
    try:
        data = json_loads_bounded(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AlmaError.no_valid_body(fmt=fmt, detail=str(exc)) from exc
    if not isinstance(data, dict):
        raise AlmaError.no_valid_body(fmt=fmt, detail="the body is not a user object")
    _check_xml_chars(data)
    try:
        return user_to_json(user_from_json(data))
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise AlmaError.no_valid_body(fmt=fmt, detail=str(exc)) from exc


def render_user(data: dict[str, Any], *, fmt: str) -> HttpResponse:
    """One user (its Alma JSON form) in the chosen format, through the codec."""
    user = user_from_json(data)
    if fmt == JSON:
        return JsonResponse(user_to_json(user))
    return HttpResponse(user_to_xml(user), content_type=XML_TYPE)


def render_users(users: list[dict[str, Any]], *, total: int, fmt: str) -> HttpResponse:
    """A list: `{"user": [...], "total_record_count": N}` or `<users total_record_count="N">`."""
    decoded = [user_from_json(item) for item in users]
    if fmt == JSON:
        return JsonResponse(
            {"user": [user_to_json(u) for u in decoded], "total_record_count": total}
        )
    buffer = io.BytesIO()
    write_users(decoded, buffer, total_record_count=total)
    return HttpResponse(buffer.getvalue(), content_type=XML_TYPE)


def _xml(root: Any) -> bytes:
    return bytes(
        etree.tostring(
            root, xml_declaration=True, encoding="UTF-8", standalone=True, pretty_print=True
        )
    )


def render_code_table(table: dict[str, Any], *, fmt: str) -> HttpResponse:
    """A code table as Alma answers it: name, description and its rows."""
    if fmt == JSON:
        return JsonResponse(table)
    root = etree.Element("code_table")
    etree.SubElement(root, "name").text = table["name"]
    etree.SubElement(root, "description").text = table["description"]
    rows = etree.SubElement(root, "rows")
    for row in table["row"]:
        elem = etree.SubElement(rows, "row")
        etree.SubElement(elem, "code").text = row["code"]
        etree.SubElement(elem, "description").text = row["description"]
        etree.SubElement(elem, "default").text = "true" if row["default"] else "false"
        etree.SubElement(elem, "enabled").text = "true" if row["enabled"] else "false"
    return HttpResponse(_xml(root), content_type=XML_TYPE)


def render_error(error: AlmaError, *, fmt: str) -> HttpResponse:
    """Alma's `web_service_result` error body with the error's HTTP status and headers."""
    if fmt == JSON:
        body = {
            "errorsExist": True,
            "errorList": {
                "error": [
                    {
                        "errorCode": error.code,
                        "errorMessage": error.message,
                        "trackingId": error.tracking_id,
                    }
                ]
            },
            "result": None,
        }
        response: HttpResponse = JsonResponse(body, status=error.status)
    else:
        root = etree.Element(f"{{{ERROR_NS}}}web_service_result", nsmap={None: ERROR_NS})  # type: ignore[dict-item]
        etree.SubElement(root, f"{{{ERROR_NS}}}errorsExist").text = "true"
        error_list = etree.SubElement(root, f"{{{ERROR_NS}}}errorList")
        item = etree.SubElement(error_list, f"{{{ERROR_NS}}}error")
        for name, value in (
            ("errorCode", error.code),
            ("errorMessage", error.message),
            ("trackingId", error.tracking_id),
        ):
            etree.SubElement(item, f"{{{ERROR_NS}}}{name}").text = xml_safe(value)
        response = HttpResponse(_xml(root), content_type=XML_TYPE, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def error_response(request: HttpRequest, *, status: int, code: str, message: str) -> HttpResponse:
    """An error answered before any view runs (a body over the size limit), in Alma's error
    format and the format the client asked for. The server's middleware calls it for /almaws/."""
    return render_error(AlmaError(code, message, status=status), fmt=response_format(request))
