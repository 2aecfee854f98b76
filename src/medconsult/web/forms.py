"""The form layer's shared parts: one way to turn a validation error into messages per field."""

from __future__ import annotations

from pydantic import ValidationError


def validation_messages(exc: ValidationError) -> dict[str, str]:
    messages: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        messages.setdefault(field, str(error["msg"]).removeprefix("Value error, "))
    return messages
