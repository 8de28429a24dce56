"""OGC API exceptions: every bad request becomes a 4xx with ``{"code", "description"}``.

Nothing below ever puts a stack trace or SQL text in a response.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse


class OGCError(Exception):
    """An error the client can act on, with its HTTP status and OGC exception code."""

    def __init__(
        self,
        status: int,
        code: str,
        description: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.headers = headers or {}


def bad_request(description: str, code: str = "InvalidParameterValue") -> OGCError:
    return OGCError(400, code, description)


def not_found(description: str) -> OGCError:
    return OGCError(404, "NotFound", description)


def exception_response(
    status: int, code: str, description: str, headers: dict[str, str] | None = None, **extra: Any
) -> HttpResponse:
    body = {"code": code, "description": description, **extra}
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(error: OGCError) -> HttpResponse:
    return exception_response(error.status, error.code, error.description, error.headers)
