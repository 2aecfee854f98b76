from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest

from medconsult.ml.records import JsonRecord


@dataclass(frozen=True)
class Part(JsonRecord):
    name: str
    weight: float


@dataclass(frozen=True)
class Whole(JsonRecord):
    kind: Literal["a", "b"]
    parts: tuple[Part, ...]
    tags: tuple[str, ...]
    path: Path
    at: datetime
    counts: dict[str, int]
    score: float | None = None
    total: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", len(self.parts))


WHOLE = Whole(
    kind="a",
    parts=(Part("x", 1.5), Part("y", 2.0)),
    tags=("t",),
    path=Path("/p/q"),
    at=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    counts={"n": 3},
)


def test_to_dict_lists_fields_in_order_as_json_values() -> None:
    assert WHOLE.to_dict() == {
        "kind": "a",
        "parts": [{"name": "x", "weight": 1.5}, {"name": "y", "weight": 2.0}],
        "tags": ["t"],
        "path": "/p/q",
        "at": "2024-05-06T07:08:09+00:00",
        "counts": {"n": 3},
        "score": None,
        "total": 2,
    }


def test_from_dict_reads_back_what_to_dict_wrote() -> None:
    assert Whole.from_dict(json.loads(json.dumps(WHOLE.to_dict()))) == WHOLE


def test_from_dict_converts_by_annotation_and_defaults_missing_fields() -> None:
    data = {**WHOLE.to_dict(), "parts": [{"name": 7, "weight": "0.5"}], "unknown": 1}
    del data["score"]
    whole = Whole.from_dict(data)
    assert whole.parts == (Part("7", 0.5),)
    assert whole.score is None
    assert Whole.from_dict({**data, "score": 2}).score == 2.0


def test_from_dict_rejects_missing_fields_and_unknown_literals() -> None:
    with pytest.raises(KeyError, match="weight"):
        Part.from_dict({"name": "x"})
    with pytest.raises(ValueError, match="unknown kind 'c'"):
        Whole.from_dict({**WHOLE.to_dict(), "kind": "c"})
