"""A JSON round trip for frozen dataclasses, by their fields (torch-free).

A dataclass that derives from ``JsonRecord`` gets ``to_dict()``: its fields in declaration
order, tuples as lists, paths as strings, datetimes in ISO 8601, nested dataclasses as objects;
and ``from_dict()``: each field read back by its annotation, a missing field at its default,
other keys ignored. The field list lives in the class alone, so a new field cannot be forgotten
in one direction of the round trip.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import MISSING
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Self, Union, get_args, get_origin, get_type_hints


class JsonRecord:
    """Base of a frozen dataclass stored or printed as JSON."""

    def to_dict(self) -> dict[str, Any]:
        return {
            field.name: _to_json(getattr(self, field.name))
            for field in dataclasses.fields(self)  # type: ignore[arg-type]
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        hints = get_type_hints(cls)
        values = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            if not field.init:
                continue  # derived from the others
            if field.name in data:
                values[field.name] = _from_json(hints[field.name], data[field.name], field.name)
            elif field.default is MISSING and field.default_factory is MISSING:
                raise KeyError(field.name)
        return cls(**values)


def _to_json(value: Any) -> Any:
    if isinstance(value, JsonRecord):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_to_json(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _from_json(hint: Any, value: Any, name: str) -> Any:
    """``value`` as field ``name`` of type ``hint`` holds it."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):  # ``X | None``
        if value is None and type(None) in get_args(hint):
            return None
        (kind,) = (arg for arg in get_args(hint) if arg is not type(None))
        return _from_json(kind, value, name)
    if origin is tuple:  # ``tuple[X, ...]``
        return tuple(_from_json(get_args(hint)[0], item, name) for item in value)
    if origin is Literal:
        if value not in get_args(hint):
            expected = ", ".join(str(arg) for arg in get_args(hint))
            raise ValueError(f"unknown {name} {value!r}; expected one of {expected}")
        return value
    if origin is dict:
        return dict(value)
    if isinstance(hint, type) and issubclass(hint, JsonRecord):
        return hint.from_dict(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint in (str, int, float, bool, Path):
        return hint(value)
    raise TypeError(f"no JSON reading for fields of type {hint!r}")
