from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from medconsult.ml.artifacts import (
    list_artifacts,
    new_artifact_dir,
    require_default_model_dir,
    resolve_default_model_dir,
    validate_artifact,
)
from medconsult.ml.errors import ArtifactError


@dataclass
class FakeSettings:
    artifacts_dir: Path
    model_dir: Path | None = None


def test_new_artifact_dir_name(tmp_path: Path) -> None:
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    path = new_artifact_dir("all-MiniLM-L6-v2", root=tmp_path, now=when)
    assert path == tmp_path / "20250304T050607Z-all-MiniLM-L6-v2"
    assert new_artifact_dir("a b/c", root=tmp_path, now=when).name == "20250304T050607Z-a-b-c"


def test_list_and_resolve(tiny_artifact: Path, tmp_path: Path) -> None:
    root = tmp_path / "diagnosis"
    root.mkdir()
    assert list_artifacts(root) == []
    assert resolve_default_model_dir(FakeSettings(root)) is None
    with pytest.raises(ArtifactError, match="no trained model"):
        require_default_model_dir(FakeSettings(root))

    shutil.copytree(tiny_artifact, root / tiny_artifact.name)
    (root / "20990101T000000Z-incomplete").mkdir()  # newer, but not an artifact
    (root / ".20990101T000000Z-staging.abc").mkdir()
    infos = list_artifacts(root)
    assert [info.version for info in infos] == [tiny_artifact.name]
    assert resolve_default_model_dir(FakeSettings(root)) == root / tiny_artifact.name
    assert infos[0].to_dict()["version"] == tiny_artifact.name

    pinned = FakeSettings(root, model_dir=tiny_artifact)
    assert resolve_default_model_dir(pinned) == tiny_artifact
    with pytest.raises(ArtifactError, match="not found"):
        resolve_default_model_dir(FakeSettings(root, model_dir=tmp_path / "gone"))


def test_validate_reports_mismatched_labels(tiny_artifact: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_artifact, copy)
    labels = copy / "labels.json"
    labels.chmod(0o644)
    labels.write_text('{"labels": []}')
    with pytest.raises(ArtifactError, match=r"does not match labels\.json"):
        validate_artifact(copy)
