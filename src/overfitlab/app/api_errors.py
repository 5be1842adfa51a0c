"""The bodies of the playground's refusals: a 422 that names the field(s), a 503 that says when
to come back.

422 (invalid request): FastAPI's ``{"detail": [{"loc", "msg", "type", "input"}, ...]}`` with, in
every entry, ``fields``: the request fields the error is about. A field error names its field
(``"alpha"``, or ``"x_train[3]"`` for the fourth point); a combined limit (type
``combined_limit``) names every field involved; a body that is not a JSON object names
``"body"``. ``msg`` is one line saying what is allowed, without pydantic's "Value error, "
prefix.

A body that cannot be read at all (FastAPI's 400 "There was an error parsing the body", e.g.
bytes that are not UTF-8) gets the same 422 form, naming ``"body"``.

503 (too busy): ``{"detail": "...", "retry_after_s": n}`` with the same n in the ``Retry-After``
header (see :mod:`overfitlab.app.admission`).
"""
from __future__ import annotations

import math

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException  # what FastAPI raises for an unparsable body

from overfitlab.app.admission import Busy


def _json_safe(value):
    """Non-finite floats (e.g. a NaN the client sent) as strings, so the error can be encoded."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def field_path(path) -> str:
    """("x_train", 3) -> "x_train[3]"; ("a", "b") -> "a.b"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def error_entry(error: dict) -> dict:
    """One pydantic error as a 422 ``detail`` entry with ``fields`` (see the module docstring)."""
    loc = list(error.get("loc", ()))
    path = loc[1:] if loc[:1] == ["body"] else loc
    ctx = error.get("ctx") or {}
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "combined_limit":
        fields = list(ctx["fields"])
    elif error["type"] == "json_invalid":
        fields = ["body"]
        msg = f"{msg} ({ctx.get('error', 'malformed JSON')}); send one JSON object"
    else:
        fields = [field_path(path)] if path else ["body"]
        if error["type"] == "extra_forbidden":
            msg += "; remove it (GET /api/defaults lists the fields)"
        elif not path:
            msg += "; send one JSON object of request fields"
    return {"loc": loc, "fields": fields, "msg": msg, "type": error["type"],
            "input": error.get("input")}


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with ``detail[].fields`` naming what to change, JSON-safe."""
    detail = [error_entry(e) for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": _json_safe(jsonable_encoder(detail))})


async def unreadable_body(request: Request, exc: HTTPException) -> Response:
    """FastAPI's 400 for a body it cannot parse, as a 422 naming the body; others unchanged."""
    if exc.status_code != 400:
        return await http_exception_handler(request, exc)
    entry = {"loc": ["body"], "fields": ["body"], "type": "body_unreadable", "input": None,
             "msg": f"{exc.detail}; send one JSON object in UTF-8"}
    return JSONResponse(status_code=422, content={"detail": [entry]})


async def busy(_: Request, exc: Busy) -> JSONResponse:
    """503 with a Retry-After header and a body saying what to do."""
    return JSONResponse(status_code=503, headers={"Retry-After": str(exc.retry_after_s)},
                        content={"detail": str(exc), "retry_after_s": exc.retry_after_s})
