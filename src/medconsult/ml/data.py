"""Data shared by train, evaluate and predict: label order, data set loaders, split, encoding.

- ``LABELS``: the model's class order, taken from ``labels.json`` (label id = position).
- Sources: one pluggable interface for every data format. A ``Source`` has a ``name`` and
  yields ``Example`` s (text, raw label, source name, and for structured cases the evidences and
  the ground-truth differential). Formats register a ``Source`` class with
  ``@register_format``: ``label-text-csv`` (``LabelTextCsvSource``: Symptom2Disease, the
  feedback export) and ``ddxplus`` (``DDXPlusSource``: see ``medconsult.ml.ddxplus``).
  ``load_dataset`` picks one by name or by sniffing the path; ``load_datasets`` joins several
  files. Raw label spellings are mapped to canonical keys; rows whose label is unknown are kept
  with ``label=None`` so evaluation can count them instead of crashing.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from medconsult.ml import ddxplus
from medconsult.ml.ddxplus import AnswerValue
from medconsult.ml.errors import DataFormatError
from medconsult.ml.labels import all_labels, canonical_key

LABELS: tuple[str, ...] = tuple(label.key for label in all_labels())
LABEL2ID: dict[str, int] = {key: index for index, key in enumerate(LABELS)}

# The repository's copy of the training data; used when --data is not given.
_REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATA_RELATIVE = Path("data/symptom2disease/symptom2disease.csv")


def default_data_paths() -> tuple[Path, ...]:
    """The default training data: Symptom2Disease and the DDXPlus folder."""
    first = default_data_path()
    return (first, first.parents[1] / "ddxplus")


def split_per_source(
    parts: Sequence[Dataset], val_fraction: float, seed: int
) -> tuple[Dataset, Dataset]:
    """Each file split on its own (``stratified_split``, same fraction and seed), then joined:
    a file's validation rows are the same whether it is trained alone or with others."""
    trains, vals = [], []
    for part in parts:
        train_idx, val_idx = stratified_split(part.labels, val_fraction, seed)
        trains.append(part.subset(train_idx))
        vals.append(part.subset(val_idx))
    return concatenate(trains), concatenate(vals)


def default_data_path() -> Path:
    """The bundled symptom2disease CSV: next to the source tree, else under the working dir."""
    for root in (_REPO_ROOT, Path.cwd()):
        candidate = root / DEFAULT_DATA_RELATIVE
        if candidate.is_file():
            return candidate
    return Path.cwd() / DEFAULT_DATA_RELATIVE


@dataclass(frozen=True)
class Example:
    """One labelled case from any source.

    ``raw_label`` is the source's spelling (mapped to a canonical key by the data set);
    ``source`` names where it comes from (``symptom2disease``, ``ddxplus``, a feedback export's
    file name), for per-source evaluation. ``evidences`` are the structured answers of a
    structured case (DDXPlus; see ``medconsult.ml.ddxplus``) and ``differential`` its
    ground-truth differential as ``(raw condition name, probability)`` pairs, best first.
    """

    text: str
    raw_label: str
    source: str
    evidences: Mapping[str, AnswerValue] | None = None
    differential: tuple[tuple[str, float], ...] | None = None
    # The whole structured case (age, sex, chief complaint ...) where there is one.
    patient: ddxplus.Patient | None = None


@runtime_checkable
class Source(Protocol):
    """A data source: a name and its examples (one pluggable interface for every format)."""

    @property
    def name(self) -> str: ...

    def examples(self) -> Iterator[Example]: ...


Differential = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Dataset:
    """Texts with canonical label keys (None where the raw label is not a known diagnosis).

    ``sources`` names each row's source; ``differentials`` holds each row's ground-truth
    differential over canonical keys (None for free-text rows; names not in labels.json
    dropped); ``evidences`` each row's structured answers (None for free text). Empty tuples
    in a data set built before these existed mean "unknown" (see the accessors).
    """

    texts: tuple[str, ...]
    labels: tuple[str | None, ...]
    raw_labels: tuple[str, ...]
    source: str
    format: str
    sources: tuple[str, ...] = ()
    differentials: tuple[Differential | None, ...] = ()
    patients: tuple[ddxplus.Patient | None, ...] = ()

    def __len__(self) -> int:
        return len(self.texts)

    def source_of(self, index: int) -> str:
        return self.sources[index] if self.sources else self.format

    def differential_of(self, index: int) -> Differential | None:
        return self.differentials[index] if self.differentials else None

    def patient_of(self, index: int) -> ddxplus.Patient | None:
        return self.patients[index] if self.patients else None

    def evidences_of(self, index: int) -> Mapping[str, AnswerValue] | None:
        patient = self.patient_of(index)
        return patient.evidences if patient is not None else None

    @property
    def source_names(self) -> list[str]:
        """The distinct row sources, in order of first appearance."""
        return list(dict.fromkeys(self.source_of(i) for i in range(len(self))))

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
            sources=tuple(self.source_of(i) for i in indices),
            differentials=tuple(self.differential_of(i) for i in indices),
            patients=tuple(self.patient_of(i) for i in indices),
        )


def _canonical_differential(differential: Differential | None) -> Differential | None:
    if differential is None:
        return None
    merged: dict[str, float] = {}
    for name, probability in differential:
        key = canonical_key(name)
        if key is not None:
            merged[key] = merged.get(key, 0.0) + probability
    return tuple(sorted(merged.items(), key=lambda item: -item[1]))


def dataset_from_examples(
    examples: Sequence[Example], *, source: str = "<memory>", fmt: str = "memory"
) -> Dataset:
    """A data set from examples of any source (labels and differentials made canonical)."""
    return Dataset(
        texts=tuple(example.text for example in examples),
        labels=tuple(canonical_key(example.raw_label) for example in examples),
        raw_labels=tuple(example.raw_label for example in examples),
        source=source,
        format=fmt,
        sources=tuple(example.source for example in examples),
        differentials=tuple(_canonical_differential(e.differential) for e in examples),
        patients=tuple(example.patient for example in examples),
    )


def make_dataset(rows: Sequence[tuple[str, str]], source: str = "<memory>") -> Dataset:
    """A data set from ``(raw_label, text)`` pairs."""
    examples = [Example(text=text, raw_label=raw, source="memory") for raw, text in rows]
    return dataset_from_examples(examples, source=source)


def concatenate(datasets: Sequence[Dataset]) -> Dataset:
    """Several data sets as one (rows in order; each keeps its per-row source)."""
    if len(datasets) == 1:
        return datasets[0]
    rows = [dataset.subset(range(len(dataset))) for dataset in datasets]
    formats = sorted({dataset.format for dataset in datasets})
    return Dataset(
        texts=tuple(t for d in rows for t in d.texts),
        labels=tuple(label for d in rows for label in d.labels),
        raw_labels=tuple(r for d in rows for r in d.raw_labels),
        source=" + ".join(dataset.source for dataset in datasets),
        format="+".join(formats) if len(formats) > 1 else formats[0],
        sources=tuple(s for d in rows for s in d.sources),
        differentials=tuple(x for d in rows for x in d.differentials),
        patients=tuple(x for d in rows for x in d.patients),
    )


# --- format registry -----------------------------------------------------------------------

SourceFactory = Callable[[Path], Source]
_FORMATS: dict[str, SourceFactory] = {}
_SNIFFERS: dict[str, Callable[[Path], bool]] = {}


def register_format(
    name: str, sniff: Callable[[Path], bool]
) -> Callable[[SourceFactory], SourceFactory]:
    """Register a ``Source`` factory (a class taking the path); ``sniff`` says if a path fits."""

    def decorator(factory: SourceFactory) -> SourceFactory:
        _FORMATS[name] = factory
        _SNIFFERS[name] = sniff
        return factory

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


@register_format("label-text-csv", sniff=_is_csv)
@dataclass(frozen=True)
class LabelTextCsvSource:
    """Free-text cases from a ``label,text`` CSV (Symptom2Disease, the feedback export).

    The source name is the file's stem (``symptom2disease``, ``feedback-2026-12-01``).
    """

    path: Path

    @property
    def name(self) -> str:
        return self.path.stem

    def examples(self) -> Iterator[Example]:
        for raw, text in load_label_text_csv(self.path):
            yield Example(text=text, raw_label=raw, source=self.name)


def _is_ddxplus(path: Path) -> bool:
    folder = path if path.is_dir() else path.parent
    return (folder / "patients.csv").is_file() and (folder / "release_evidences.json").is_file()


@register_format("ddxplus", sniff=_is_ddxplus)
@dataclass(frozen=True)
class DDXPlusSource:
    """DDXPlus patients (the folder or its ``patients.csv``): structured evidences, their
    English rendering (``ddxplus.render_patient``) and the ground-truth differential."""

    path: Path
    name: str = "ddxplus"

    def examples(self) -> Iterator[Example]:
        folder = self.path if self.path.is_dir() else self.path.parent
        questionnaire = ddxplus.load_questionnaire(folder)
        for patient in ddxplus.load_patients(folder):
            yield Example(
                text=ddxplus.render_patient(patient, questionnaire),
                raw_label=patient.pathology,
                source=self.name,
                evidences=patient.evidences,
                differential=patient.differential,
                patient=patient,
            )


def source_for(path: str | Path, fmt: str = "auto") -> Source:
    """The ``Source`` reading ``path``; ``fmt`` is a registered format name or ``auto``."""
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
    return _FORMATS[fmt](path)


def format_of(source: Source) -> str:
    for name, factory in _FORMATS.items():
        if isinstance(factory, type) and isinstance(source, factory):
            return name
    return "custom"


def load_dataset(path: str | Path, fmt: str = "auto") -> Dataset:
    """Load a labelled data set; ``fmt`` is a registered format name or ``auto``."""
    source = source_for(path, fmt)
    return dataset_from_examples(list(source.examples()), source=str(path), fmt=format_of(source))


def load_datasets(paths: Sequence[str | Path], fmt: str = "auto") -> Dataset:
    """Several files of any registered format as one data set (per-row sources kept)."""
    if not paths:
        raise DataFormatError("no data files given")
    return concatenate([load_dataset(path, fmt) for path in paths])


def differential_class_ids(dataset: Dataset) -> list[set[int] | None]:
    """Each row's ground-truth differential as class ids (None for rows without one)."""
    return [
        {LABEL2ID[key] for key, _ in differential}
        if (differential := dataset.differential_of(row))
        else None
        for row in range(len(dataset))
    ]


def data_sha256(path: str | Path) -> str:
    """The sha256 that identifies a data file: the file's, or a DDXPlus folder's patients.csv."""
    path = Path(path)
    return file_sha256(path / "patients.csv" if path.is_dir() else path)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def target_distributions(dataset: Dataset, differential_weight: float) -> np.ndarray:
    """Per row, the training target over the classes: one-hot on the label, or for a case with
    a ground-truth differential ``(1 - w)`` on its label plus ``w`` spread over the differential
    in proportion to its probabilities."""
    targets = np.zeros((len(dataset), len(LABELS)), dtype=np.float32)
    for row, label in enumerate(dataset.labels):
        targets[row, LABEL2ID[str(label)]] = 1.0
        differential = dataset.differential_of(row)
        total = sum(p for _, p in differential) if differential else 0.0
        if differential and total > 0 and differential_weight > 0:
            targets[row] *= 1.0 - differential_weight
            for key, probability in differential:
                targets[row, LABEL2ID[key]] += differential_weight * probability / total
    return targets


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
