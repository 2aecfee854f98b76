"""Test helpers: a tiny, real artifact built in seconds (also used by the web app's tests).

``build_tiny_artifact`` runs the real ``train`` path (split, training loop, calibration,
``save_pretrained``, model card) on a randomly initialised 2-layer BERT (hidden size 64) with the
REAL tokenizer of the packaged all-MiniLM-L6-v2 checkpoint. Its predictions are near chance, but
every file and code path of a real artifact is there. Nothing is downloaded.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from medconsult.ml.data import Dataset, default_data_path, default_data_paths, load_dataset

# Used when the repository's data folder is not available (e.g. an installed package).
FALLBACK_ROWS: tuple[tuple[str, str], ...] = (
    ("Common Cold", "I have a runny nose, sneezing and a sore throat since yesterday."),
    ("Common Cold", "My nose is blocked, I keep sneezing and I have a mild cough."),
    ("Common Cold", "Sore throat, stuffy nose and a slight fever for two days."),
    ("Migraine", "A throbbing headache on one side with nausea and light hurting my eyes."),
    ("Migraine", "I get severe one-sided headaches and see flashing lights before them."),
    ("Migraine", "Pounding headache, sensitivity to light and sound, and I vomited."),
    ("Acne", "Pimples and blackheads all over my face and some pus-filled bumps."),
    ("Acne", "My forehead and chin are covered with red pimples and whiteheads."),
    ("Acne", "Oily skin with blackheads and painful spots on my cheeks."),
    ("urinary tract infection", "It burns when I pee and I need to urinate all the time."),
    ("urinary tract infection", "Painful, frequent urination and cloudy, smelly urine."),
    ("urinary tract infection", "Burning urine, lower belly pain and a constant urge to go."),
)


def default_tiny_rows(per_label: int = 3, ddxplus_per_label: int = 0) -> list[tuple[str, str]]:
    """``per_label`` rows of each label from the bundled Symptom2Disease file, else
    ``FALLBACK_ROWS``; plus up to ``ddxplus_per_label`` rendered DDXPlus patients of each of its
    pathologies (the real loader) when the bundled DDXPlus folder is there."""
    path = default_data_path()
    if not path.is_file():
        return list(FALLBACK_ROWS)
    rows = _first_rows(load_dataset(path), per_label)
    ddxplus = default_data_paths()[1]
    if ddxplus_per_label and (ddxplus / "patients.csv").is_file():
        rows += _first_rows(load_dataset(ddxplus), ddxplus_per_label)
    return rows


def _first_rows(dataset: Dataset, per_label: int) -> list[tuple[str, str]]:
    taken: dict[str, int] = {}
    rows = []
    for raw, text in zip(dataset.raw_labels, dataset.texts, strict=True):
        if taken.get(raw, 0) < per_label:
            taken[raw] = taken.get(raw, 0) + 1
            rows.append((raw, text))
    return rows


def build_tiny_artifact(
    out_dir: str | Path,
    rows: Sequence[tuple[str, str]] | None = None,
    *,
    epochs: int = 6,
    seed: int = 0,
) -> Path:
    """Train a tiny random model on ``rows`` (``(raw_label, text)`` pairs) into ``out_dir``.

    By default: three Symptom2Disease rows per label (its head has every label of the label
    space; ``default_tiny_rows(ddxplus_per_label=n)`` adds rendered DDXPlus patients).

    The rows are written as a CSV next to the artifact (``<out_dir>.train.csv``) and recorded as
    its training data, so ``evaluate`` can rebuild the split. Returns ``out_dir``. Takes a few
    seconds on a CPU.
    """
    from medconsult.ml.train import TrainConfig, train

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    data_path = out.parent / f"{out.name}.train.csv"
    with data_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "text"])
        writer.writerows(rows if rows is not None else default_tiny_rows())
    config = TrainConfig(
        data=data_path,
        out=out,
        epochs=epochs,
        # A random tiny model needs a bigger step and more epochs than fine-tuning does: with
        # 69 classes, 2 epochs at 1e-3 leave its output flat (no evidence words at all).
        learning_rate=3e-3,
        batch_size=8,
        val_fraction=0.34,
        seed=seed,
        tiny=True,
        progress=False,
    )
    return train(config)
