"""Refuse text that PostgreSQL cannot store or that no person types: C0 control characters
(other than tab, newline and carriage return) and lone UTF-16 surrogates, in the path, the query
string, form fields, upload file names and JSON bodies. One 422 naming each field, before any
route or database sees the value."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, Request
from starlette.datastructures import UploadFile

from medconsult.errors import ValidationFailed
from medconsult.i18n import _

# NUL makes PostgreSQL refuse the whole statement; the others are never typed by a person.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def has_forbidden_characters(value: str) -> bool:
    return _FORBIDDEN.search(value) is not None


def _json_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every (field path, string) in a decoded JSON document, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key)
            yield from _json_strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, f"{path}.{index}" if path else str(index))


async def _texts(request: Request) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    items.extend((name, str(value)) for name, value in request.path_params.items())
    for name, value in request.query_params.multi_items():
        items.extend(((name, name), (name, value)))
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # parsed once: the route reads the same cached form
        for name, field in form.multi_items():
            items.append((name, name))
            if isinstance(field, UploadFile):
                items.append((name, field.filename or ""))
            else:
                items.append((name, field))
    elif content_type.startswith("application/json"):
        body = await request.body()
        try:
            document = json.loads(body) if body else None
        except ValueError:
            document = None  # malformed JSON: FastAPI's own validation answers 422
        items.extend(_json_strings(document, ""))
    return items


async def reject_control_characters(request: Request) -> None:
    errors: dict[str, str] = {}
    for field, text in await _texts(request):
        if field not in errors and has_forbidden_characters(text):
            errors[field or "body"] = _(
                "This contains invisible control characters that cannot be stored. Please "
                "remove them (or retype the text) and try again."
            )
    if errors:
        raise ValidationFailed(errors)


InputGuard = Depends(reject_control_characters)
