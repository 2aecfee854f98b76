"""A model part stored as a pair of files: numpy arrays (``.npz``, read without pickle) and a JSON
document that describes them and names the arrays' SHA-256, so that a corrupt file, a truncated
one or two files from different models are refused rather than served. Torch-free.

Used by the parts of an artifact that are not the transformer: the structured differential
(``structured.py``) and the TF-IDF half of the hybrid (``baseline.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medconsult.ml.errors import ArtifactError

# Keys of the JSON document that this module writes; a part's own metadata may not use them.
RESERVED_KEYS = frozenset({"format", "version", "arrays"})


@dataclass(frozen=True)
class PartFormat:
    """What one kind of part is called and how its files are named."""

    json_name: str
    arrays_name: str
    format_name: str  # the JSON's "format": what a reader checks it is reading
    version: int  # the JSON's "version" as written; a reader refuses any but it and ``older``
    array_names: tuple[str, ...]  # the arrays a reader takes from the npz
    what: str  # for messages: "structured differential", "TF-IDF"
    # Earlier versions this reader still reads (models trained before an upgrade keep serving)
    # and the arrays they may lack: such an array is read as empty.
    older: tuple[int, ...] = ()
    optional_arrays: tuple[str, ...] = ()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_part(
    directory: Path,
    part: PartFormat,
    *,
    arrays: Mapping[str, NDArray[Any]],
    document: Mapping[str, Any],
) -> None:
    """Write the part's npz then its JSON into ``directory`` (created if needed), each
    replaced atomically; the JSON (``document`` with the format, version and the arrays'
    SHA-256) last, so a reader never sees it name arrays that are not complete."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays_path = directory / part.arrays_name
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as handle:
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
    os.replace(handle.name, arrays_path)
    clashing = RESERVED_KEYS & set(document)
    if clashing:
        raise ValueError(f"reserved keys in the document: {sorted(clashing)}")
    text = (
        json.dumps(
            {
                "format": part.format_name,
                "version": part.version,
                **document,
                "arrays": {"file": part.arrays_name, "sha256": sha256_of(arrays_path)},
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    with tempfile.NamedTemporaryFile(
        "w", dir=directory, suffix=".tmp", delete=False, encoding="utf-8"
    ) as out:
        out.write(text)
    os.replace(out.name, directory / part.json_name)


def load_part(
    directory: Path, part: PartFormat
) -> tuple[dict[str, Any], dict[str, NDArray[Any]]] | None:
    """(document, arrays) of the part saved in ``directory``; None when neither file is
    there. Raises ``ArtifactError`` when one file is missing, either is corrupt, they do not
    belong together, or the format or version is not this one."""
    directory = Path(directory)
    json_path, arrays_path = directory / part.json_name, directory / part.arrays_name
    what, format_name, version = part.what, part.format_name, part.version
    if not json_path.exists() and not arrays_path.exists():
        return None
    for path in (json_path, arrays_path):
        if not path.is_file():
            raise ArtifactError(f"{what} incomplete: {path} is missing")
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"unreadable {json_path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != format_name:
        raise ArtifactError(f"{json_path} is not a {what} model")
    if document.get("version") not in (version, *part.older):
        raise ArtifactError(
            f"{json_path}: format version {document.get('version')!r}, "
            f"this version reads {', '.join(map(str, (*part.older, version)))}; retrain the model"
        )
    try:
        expected_sha = str(document["arrays"]["sha256"])
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"{json_path}: missing or invalid field {exc}") from exc
    if sha256_of(arrays_path) != expected_sha:
        raise ArtifactError(
            f"{arrays_path} does not belong to {json_path} (checksum mismatch): "
            "the model files are corrupt or from different models"
        )
    try:
        with np.load(arrays_path, allow_pickle=False) as stored:
            arrays = {
                name: np.asarray(stored[name])
                if name in stored.files or name not in part.optional_arrays
                else np.zeros(0)
                for name in part.array_names
            }
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"unreadable {arrays_path}: {exc}") from exc
    return document, arrays
