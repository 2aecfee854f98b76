"""The out-of-scope sets of data/ood/: out of the label space, split, reproducible."""

from __future__ import annotations

import csv
import importlib.util
import random
from pathlib import Path

from medconsult.ml.data import load_dataset

ROOT = Path(__file__).resolve().parents[2]
OOD = ROOT / "data" / "ood"


def _build_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "build_ood_data", ROOT / "scripts" / "build_ood_data.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(name: str) -> list[dict[str, str]]:
    with (OOD / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_no_row_is_one_of_the_labels() -> None:
    build = _build_script()
    for name in ("dev.csv", "test.csv"):
        dataset = load_dataset(OOD / name)
        assert len(dataset) > 100
        assert all(label is None for label in dataset.labels), name
    for row in _rows("written.csv"):
        assert build.label_conflicts(row["label"]) == [], row["label"]
    # The check catches a label under another name, or named inside a longer label.
    assert build.label_conflicts("URTI") == ["common_cold"]
    assert build.label_conflicts("travel malaria tablets") == ["malaria"]


def test_dev_and_test_are_the_seeded_split_of_the_written_texts() -> None:
    build = _build_script()
    written = _rows("written.csv")
    dev, test = build.split([dict(row) for row in written], random.Random(build.SEED))
    for name, expected in (("dev.csv", dev), ("test.csv", test)):
        assert [(r["label"], r["source"], r["text"]) for r in _rows(name)] == [
            (r["label"], f"written:{r['specialty']}", r["text"]) for r in expected
        ], f"{name} is stale: run scripts/build_ood_data.py"
    dev_texts = {r["text"] for r in dev}
    test_texts = {r["text"] for r in test}
    assert not dev_texts & test_texts
    assert len(dev_texts | test_texts) == len(written) >= 300
