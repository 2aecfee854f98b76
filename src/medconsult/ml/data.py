"""Data shared by train, evaluate and predict: label order, data set loaders, split, encoding.

- ``LABELS``: the model's class order, taken from ``labels.json`` (label id = position).
- Loaders: a registry of data formats (``@register_format``); ``load_dataset`` picks one by name
  or by sniffing the file. Raw label spellings are mapped to canonical keys; rows whose label is
  unknown are kept with ``label=None`` so evaluation can count them instead of crashing.
- ``stratified_split``: the fixed-seed train/validation split (recorded in the artifact so that
  evaluate can rebuild it exactly).
- ``encode_windows``: text -> overlapping token windows with character offsets, so long texts are
  never silently truncated and evidence maps back to the original text.

Torch-free (tokenizers are only duck-typed here).
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medconsult.ml.errors import DataFormatError
from medconsult.ml.labels import all_labels, canonical_key

LABELS: tuple[str, ...] = tuple(label.key for label in all_labels())
LABEL2ID: dict[str, int] = {key: index for index, key in enumerate(LABELS)}

# The repository's copy of the training data; used when --data is not given.
_REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATA_RELATIVE = Path("data/symptom2disease/symptom2disease.csv")


def default_data_path() -> Path:
    """The bundled symptom2disease CSV: next to the source tree, else under the working dir."""
    for root in (_REPO_ROOT, Path.cwd()):
        candidate = root / DEFAULT_DATA_RELATIVE
        if candidate.is_file():
            return candidate
    return Path.cwd() / DEFAULT_DATA_RELATIVE


@dataclass(frozen=True)
class Dataset:
    """Texts with canonical label keys (None where the raw label is not a known diagnosis)."""

    texts: tuple[str, ...]
    labels: tuple[str | None, ...]
    raw_labels: tuple[str, ...]
    source: str
    format: str

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def unknown_labels(self) -> dict[str, int]:
        """Raw spellings that map to no known label, with their row counts."""
        counts: dict[str, int] = defaultdict(int)
        for raw, key in zip(self.raw_labels, self.labels, strict=True):
            if key is None:
                counts[raw] += 1
        return dict(counts)

    def subset(self, indices: Sequence[int]) -> Dataset:
        return Dataset(
            texts=tuple(self.texts[i] for i in indices),
            labels=tuple(self.labels[i] for i in indices),
            raw_labels=tuple(self.raw_labels[i] for i in indices),
            source=self.source,
            format=self.format,
        )


def make_dataset(rows: Sequence[tuple[str, str]], source: str = "<memory>") -> Dataset:
    """A data set from ``(raw_label, text)`` pairs."""
    return Dataset(
        texts=tuple(text for _, text in rows),
        labels=tuple(canonical_key(raw) for raw, _ in rows),
        raw_labels=tuple(raw for raw, _ in rows),
        source=source,
        format="memory",
    )


# --- format registry -----------------------------------------------------------------------

Loader = Callable[[Path], list[tuple[str, str]]]
_FORMATS: dict[str, Loader] = {}
_SNIFFERS: dict[str, Callable[[Path], bool]] = {}


def register_format(name: str, sniff: Callable[[Path], bool]) -> Callable[[Loader], Loader]:
    """Register a loader returning ``(raw_label, text)`` rows; ``sniff`` says if a path fits."""

    def decorator(loader: Loader) -> Loader:
        _FORMATS[name] = loader
        _SNIFFERS[name] = sniff
        return loader

    return decorator


def available_formats() -> list[str]:
    return sorted(_FORMATS)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFormatError(f"data file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot read data file {path}: {exc}") from exc


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


@register_format("label-text-csv", sniff=_is_csv)
def load_label_text_csv(path: Path) -> list[tuple[str, str]]:
    """A CSV with a header holding ``label`` and ``text`` columns (symptom2disease's layout).

    Column names are matched case-insensitively; other columns are ignored.
    """
    reader = csv.DictReader(io.StringIO(_read_text(path)))
    header = [name.strip() for name in (reader.fieldnames or [])]
    by_lower = {name.lower(): name for name in (reader.fieldnames or [])}
    missing = [column for column in ("label", "text") if column not in by_lower]
    if missing:
        raise DataFormatError(
            f"{path}: CSV needs columns 'label' and 'text'; missing {', '.join(missing)} "
            f"(found: {', '.join(header) or 'no header'})"
        )
    rows: list[tuple[str, str]] = []
    for line_number, record in enumerate(reader, start=2):
        label = (record.get(by_lower["label"]) or "").strip()
        text = (record.get(by_lower["text"]) or "").strip()
        if not label or not text:
            raise DataFormatError(f"{path}: line {line_number} has an empty label or text")
        rows.append((label, text))
    if not rows:
        raise DataFormatError(f"{path}: no data rows")
    return rows


def _is_ddxplus(path: Path) -> bool:
    folder = path if path.is_dir() else path.parent
    return (folder / "patients.csv").is_file() and (folder / "release_evidences.json").is_file()


def _ddxplus_value(evidence: dict[str, Any], value: str) -> str:
    meaning = evidence.get("value_meaning", {}).get(value)
    if isinstance(meaning, dict):
        return str(meaning.get("en", value))
    return value


def render_ddxplus_patient(
    age: str, sex: str, features: Sequence[str], evidences: dict[str, Any]
) -> str:
    """A DDXPlus patient as a free-text history: "Age 8, sex M. <question> Yes. ..."

    Evidence codes: ``E_9`` (yes/no: "Yes."), ``E_54_@_V_161`` (categorical or multiple choice:
    the value's English meaning, several values of one question joined), ``E_56_@_4`` (numeric).
    Questions keep the questionnaire's order of first appearance.
    """
    answers: dict[str, list[str]] = {}
    for feature in features:
        code, _, value = feature.partition("_@_")
        evidence = evidences.get(code)
        if evidence is None:
            continue
        answer = _ddxplus_value(evidence, value) if value else "Yes"
        if answer != "NA":
            answers.setdefault(code, []).append(answer)
    parts = [f"Age {age}, sex {sex}."]
    for code, values in answers.items():
        question = str(evidences[code].get("question_en", code)).strip()
        parts.append(f"{question} {', '.join(values)}.")
    return " ".join(parts)


@register_format("ddxplus", sniff=_is_ddxplus)
def load_ddxplus(path: Path) -> list[tuple[str, str]]:
    """DDXPlus patients (``patients.csv`` + ``release_evidences.json``) rendered as text.

    ``path`` is the folder or its ``patients.csv``. Labels are the English pathology names;
    those not in labels.json count as unknown labels (the 24 symptom2disease conditions and the
    49 DDXPlus pathologies barely overlap).
    """
    import ast
    import json

    folder = path if path.is_dir() else path.parent
    try:
        evidences = json.loads((folder / "release_evidences.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{folder}: unreadable release_evidences.json: {exc}") from exc
    reader = csv.DictReader(io.StringIO(_read_text(folder / "patients.csv")))
    needed = {"age", "sex", "diagnosis", "features"}
    if not needed <= set(reader.fieldnames or []):
        raise DataFormatError(
            f"{folder}/patients.csv needs columns {', '.join(sorted(needed))} "
            f"(found: {', '.join(reader.fieldnames or []) or 'no header'})"
        )
    rows = []
    for line_number, record in enumerate(reader, start=2):
        try:
            features = ast.literal_eval(record["features"])
        except (ValueError, SyntaxError) as exc:
            raise DataFormatError(
                f"{folder}/patients.csv line {line_number}: bad features list"
            ) from exc
        text = render_ddxplus_patient(record["age"], record["sex"], features, evidences)
        rows.append((record["diagnosis"].strip(), text))
    if not rows:
        raise DataFormatError(f"{folder}/patients.csv: no data rows")
    return rows


def load_dataset(path: str | Path, fmt: str = "auto") -> Dataset:
    """Load a labelled data set; ``fmt`` is a registered format name or ``auto``."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"data file not found: {path}")
    if fmt == "auto":
        # Most specific first: a DDXPlus patients.csv is also a CSV.
        matches = [name for name, sniff in _SNIFFERS.items() if sniff(path)]
        if "ddxplus" in matches:
            matches.remove("ddxplus")
            matches.insert(0, "ddxplus")
        if not matches:
            raise DataFormatError(
                f"{path}: cannot tell the data format; use one of {', '.join(available_formats())}"
            )
        fmt = matches[0]
    if fmt not in _FORMATS:
        raise DataFormatError(
            f"unknown data format {fmt!r}; available: {', '.join(available_formats())}"
        )
    rows = _FORMATS[fmt](path)
    dataset = make_dataset(rows, source=str(path))
    return Dataset(dataset.texts, dataset.labels, dataset.raw_labels, str(path), fmt)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- split ---------------------------------------------------------------------------------


def stratified_split(
    labels: Sequence[str | None], val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Fixed-seed stratified split into (train indices, validation indices).

    Per label, ``round(n * val_fraction)`` rows go to validation, but at least one row stays in
    training; labels with a single row stay in training. Deterministic for a given label list,
    fraction and seed (Python's ``random.Random``, independent of numpy/torch versions).
    """
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label["" if label is None else label].append(index)
    train: list[int] = []
    val: list[int] = []
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        n_val = min(round(len(indices) * val_fraction), len(indices) - 1)
        val.extend(indices[:n_val])
        train.extend(indices[n_val:])
    return sorted(train), sorted(val)


# --- encoding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One model input window of a text: token ids plus each token's character span."""

    text_index: int
    input_ids: list[int]
    # (start, end) character offsets into the original text; (0, 0) for special tokens.
    offsets: list[tuple[int, int]]
    # Word index of each token within the text (None for special tokens), for merging subwords.
    word_ids: list[int | None]


def encode_windows(
    tokenizer: Any, texts: Sequence[str], max_length: int, stride: int
) -> list[Window]:
    """Split each text into overlapping windows of at most ``max_length`` tokens.

    Consecutive windows of a long text share ``stride`` tokens so that no phrase is only ever
    seen cut in half. Short texts give exactly one window. Never truncates content.
    """
    if not texts:
        return []
    encoded = tokenizer(
        list(texts),
        max_length=max_length,
        stride=stride,
        truncation=True,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    windows: list[Window] = []
    for row, text_index in enumerate(encoded["overflow_to_sample_mapping"]):
        word_ids = encoded.word_ids(row)
        offsets = [(int(start), int(end)) for start, end in encoded["offset_mapping"][row]]
        # Word ids restart per text; offsets say which word a token belongs to across windows.
        windows.append(
            Window(
                text_index=int(text_index),
                input_ids=list(encoded["input_ids"][row]),
                offsets=offsets,
                word_ids=list(word_ids),
            )
        )
    return windows


def mean_window_logits(
    windows: Sequence[Window], window_logits: Sequence[Sequence[float]] | Any, n_texts: int
) -> np.ndarray:
    """Per-text logits: the mean of its windows' logits (every window of a long text counts
    equally), the one aggregation used in training, evaluation and serving."""
    rows = np.asarray(window_logits, dtype=np.float64)
    sums = np.zeros((n_texts, rows.shape[1] if rows.ndim == 2 else 0), dtype=np.float64)
    counts = np.zeros(n_texts, dtype=np.float64)
    for window, row in zip(windows, rows, strict=True):
        sums[window.text_index] += row
        counts[window.text_index] += 1
    result: np.ndarray = sums / np.maximum(counts, 1.0)[:, None]
    return result
