"""Model artifact directories: naming, listing, validation, and which one to serve (torch-free).

An artifact is an immutable directory ``artifacts/diagnosis/<UTC timestamp>-<base model>/``
written by ``medconsult train``; its version is the directory name. The admin console lists
them with ``list_artifacts``; the worker serves ``resolve_default_model_dir(settings)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from medconsult.ml.errors import ArtifactError
from medconsult.ml.records import JsonRecord

REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer_config.json",
    "labels.json",
    "training_args.json",
    "metrics.json",
    "calibration.json",
    "README.md",
)
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"


class _ModelSettings(Protocol):
    @property
    def model_dir(self) -> Path | None: ...

    @property
    def artifacts_dir(self) -> Path: ...


@dataclass(frozen=True)
class ArtifactInfo(JsonRecord):
    version: str  # the directory name
    path: Path
    created_at: datetime
    base_model: str
    metrics: dict[str, float]  # validation summary: accuracy, macro_f1, top3_accuracy, ece, ...
    baseline_metrics: dict[str, float]
    card_path: Path
    temperature: float
    threshold: float


def default_artifacts_root() -> Path:
    from medconsult.config import get_settings

    return get_settings().artifacts_dir


def new_artifact_dir(base_name: str, root: Path | None = None, now: datetime | None = None) -> Path:
    """A fresh ``<root>/<UTC timestamp>-<base name>`` path (not created)."""
    stamp = (now or datetime.now(UTC)).strftime(TIMESTAMP_FORMAT)
    safe_name = "".join(c if c.isalnum() or c in "-_." else "-" for c in base_name) or "model"
    return (root or default_artifacts_root()) / f"{stamp}-{safe_name}"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"artifact {path.parent} is missing {path.name}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"artifact file {path} is corrupt: {exc}") from exc
    if not isinstance(document, dict):
        raise ArtifactError(f"artifact file {path} is corrupt: expected a JSON object")
    return document


def validate_artifact(path: str | Path) -> Path:
    """Check that ``path`` is a complete, readable artifact; raise ``ArtifactError`` otherwise.

    Checks presence of every file, that the JSON files parse, that the label set of the model
    config matches the artifact's labels.json, and that calibration values are sane. Does not
    load weights (``Classifier.load`` does, and reports corrupt weights the same way).
    """
    directory = Path(path)
    if not directory.is_dir():
        raise ArtifactError(f"model artifact directory not found: {directory}")
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise ArtifactError(f"artifact {directory} is incomplete: missing {', '.join(missing)}")
    config = _read_json(directory / "config.json")
    labels = _read_json(directory / "labels.json").get("labels")
    id2label = config.get("id2label")
    if not isinstance(labels, list) or not isinstance(id2label, dict):
        raise ArtifactError(f"artifact {directory} has no label mapping")
    keys = [entry.get("key") for entry in labels if isinstance(entry, dict)]
    model_keys = [id2label.get(str(i)) for i in range(len(id2label))]
    if keys != model_keys:
        raise ArtifactError(
            f"artifact {directory}: config.json id2label does not match labels.json"
        )
    calibration = _read_json(directory / "calibration.json")
    temperature = calibration.get("temperature")
    threshold = calibration.get("threshold")
    if not isinstance(temperature, int | float) or not temperature > 0:
        raise ArtifactError(f"artifact {directory}: calibration temperature must be > 0")
    if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise ArtifactError(f"artifact {directory}: calibration threshold must be in [0, 1]")
    _read_json(directory / "training_args.json")
    _read_json(directory / "metrics.json")
    return directory


def read_artifact_info(path: str | Path) -> ArtifactInfo:
    directory = validate_artifact(path)
    training_args = _read_json(directory / "training_args.json")
    metrics = _read_json(directory / "metrics.json")
    calibration = _read_json(directory / "calibration.json")
    try:
        created_at = datetime.fromisoformat(str(training_args["created_at"]))
    except (KeyError, ValueError):
        created_at = datetime.fromtimestamp(directory.stat().st_mtime, UTC)

    def summary(section: Any) -> dict[str, float]:
        if not isinstance(section, dict):
            return {}
        return {k: float(v) for k, v in section.items() if isinstance(v, int | float)}

    return ArtifactInfo(
        version=directory.name,
        path=directory,
        created_at=created_at,
        base_model=str(training_args.get("base_model_name", training_args.get("base_model", ""))),
        metrics=summary(metrics.get("validation")),
        baseline_metrics=summary(metrics.get("baseline_tfidf_logreg")),
        card_path=directory / "README.md",
        temperature=float(calibration["temperature"]),
        threshold=float(calibration["threshold"]),
    )


def list_artifacts(root: str | Path) -> list[ArtifactInfo]:
    """Every complete artifact directly under ``root``, newest first. Incomplete or corrupt
    directories (and hidden staging directories of a training in progress) are skipped."""
    base = Path(root)
    if not base.is_dir():
        return []
    infos = []
    for child in base.iterdir():
        if not child.is_dir() or child.name.startswith("."):
            continue
        try:
            infos.append(read_artifact_info(child))
        except ArtifactError:
            continue
    infos.sort(key=lambda info: (info.created_at, info.version), reverse=True)
    return infos


def resolve_default_model_dir(settings: _ModelSettings) -> Path | None:
    """``settings.model_dir`` if set (validated: ``ArtifactError`` if it is not a complete
    artifact), else the newest complete artifact under ``settings.artifacts_dir``, else None."""
    if settings.model_dir is not None:
        return validate_artifact(settings.model_dir)
    artifacts = list_artifacts(settings.artifacts_dir)
    return artifacts[0].path if artifacts else None


def require_default_model_dir(settings: _ModelSettings) -> Path:
    """Like ``resolve_default_model_dir`` but ``ArtifactError`` when there is no model."""
    path = resolve_default_model_dir(settings)
    if path is None:
        raise ArtifactError(
            f"no trained model: no complete artifact under {settings.artifacts_dir}; "
            "run `medconsult train` or set MEDCONSULT_MODEL_DIR"
        )
    return path
