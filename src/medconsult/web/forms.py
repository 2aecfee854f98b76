"""The form layer's shared parts: one way to turn validation errors into a message per field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Where FastAPI says a value came from: not part of the field's name.
_LOCATIONS = frozenset({"body", "query", "path"})


def field_messages(
    errors: Iterable[Mapping[str, Any]], *, fallback: str = "form"
) -> dict[str, str]:
    """``{field: message}`` from pydantic's or FastAPI's error list (``exc.errors()``).

    A nested field is named with dots (``extra.0.note``); an error about no field in particular
    goes under ``fallback``. The first message about a field wins; pydantic's "Value error, "
    prefix is dropped (the rest is our own, translated message).
    """
    messages: dict[str, str] = {}
    for error in errors:
        name = ".".join(str(part) for part in error.get("loc", ()) if part not in _LOCATIONS)
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        messages.setdefault(name or fallback, message)
    return messages
