"""A fake model provider for unit tests of the analysis steps (the real one loads torch)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session

from medconsult.ml.structured import StructuredCase
from medconsult.ml.types import Suggestion


class FakeModels:
    """Resolves to a fixed directory (or to none) and answers with a fixed suggestion or error."""

    def __init__(
        self,
        *,
        result: Suggestion | None = None,
        error: Exception | None = None,
        available: bool = True,
    ) -> None:
        self.result = result
        self.error = error
        self.available = available
        self.texts: list[str] = []
        self.cases: list[StructuredCase | None] = []

    def resolve(self, session: Session) -> Path | None:
        return Path("/models/fake-v1") if self.available else None

    @contextmanager
    def use(self, model_dir: Path) -> Iterator[FakeModels]:
        yield self

    def suggest(self, text: str, case: StructuredCase | None = None) -> Suggestion:
        self.texts.append(text)
        self.cases.append(case)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result
