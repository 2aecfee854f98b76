"""Report files go to a temporary upload folder in these tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medconsult.config import get_settings


@pytest.fixture(autouse=True)
def upload_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "uploads"
    monkeypatch.setenv("MEDCONSULT_UPLOAD_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    monkeypatch.undo()
    get_settings.cache_clear()
