"""The form layer's shared parts: one way to turn validation errors into a message per field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from medconsult.i18n import validation_message

# Where FastAPI says a value came from: not part of the field's name.
_LOCATIONS = frozenset({"body", "query", "path"})


def field_messages(
    errors: Iterable[Mapping[str, Any]], *, fallback: str = "form"
) -> dict[str, str]:
    """``{field: message}`` from pydantic's or FastAPI's error list (``exc.errors()``).

    A nested field is named with dots (``extra.0.note``); an error about no field in particular
    goes under ``fallback``. The first message about a field wins. Each message is in the
    reader's language: our own validators' messages are translated when raised, pydantic's
    built-in ones are replaced by translated sentences (``i18n.validation_message``).
    """
    messages: dict[str, str] = {}
    for error in errors:
        name = ".".join(str(part) for part in error.get("loc", ()) if part not in _LOCATIONS)
        message = validation_message(error)
        messages.setdefault(name or fallback, message)
    return messages
