from __future__ import annotations

from pathlib import Path

import pytest

from medconsult.ml.data import (
    LABEL2ID,
    available_formats,
    concatenate,
    default_data_path,
    differential_class_ids,
    encode_windows,
    load_dataset,
    stratified_split,
)
from medconsult.ml.errors import DataFormatError


def test_bundled_data_is_the_shared_copy() -> None:
    path = default_data_path()
    dataset = load_dataset(path)
    assert len(dataset) == 922
    assert dataset.format == "label-text-csv"
    assert "label-text-csv" in available_formats()


def test_unknown_labels_are_kept_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("Text,Label,extra\nI sneeze a lot,Common Cold,x\nI feel odd,Mystery,y\n")
    dataset = load_dataset(path)
    assert dataset.labels == ("common_cold", None)
    assert dataset.unknown_labels == {"Mystery": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("diagnosis,description\nx,y\n", "needs columns 'label' and 'text'; missing label, text"),
        ("", "missing label, text"),
        ("label,text\n", "no data rows"),
        ("label,text\nAcne,\n", "line 2 has an empty label or text"),
    ],
)
def test_bad_csv_raises_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=message):
        load_dataset(path)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="data file not found"):
        load_dataset(tmp_path / "nope.csv")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataFormatError, match="cannot tell the data format"):
        load_dataset(tmp_path / "x.txt")
    with pytest.raises(DataFormatError, match="unknown data format 'parquet'"):
        load_dataset(tmp_path / "x.txt", fmt="parquet")


def test_stratified_split_is_fixed_and_stratified() -> None:
    dataset = load_dataset(default_data_path())
    train, val = stratified_split(dataset.labels, 0.2, 42)
    assert (train, val) == stratified_split(dataset.labels, 0.2, 42)
    assert stratified_split(dataset.labels, 0.2, 7)[1] != val
    assert set(train).isdisjoint(val)
    assert len(train) + len(val) == len(dataset)
    val_labels = {dataset.labels[i] for i in val}
    assert val_labels == set(dataset.labels)
    assert 180 <= len(val) <= 190


def test_single_row_label_stays_in_training() -> None:
    train, val = stratified_split(["a", "b", "b"], 0.5, 0)
    assert 0 in train
    assert len(val) == 1


def test_encode_windows_covers_long_text_with_offsets() -> None:
    from transformers import AutoTokenizer

    from medconsult.ml.train import default_base_model

    tokenizer = AutoTokenizer.from_pretrained(str(default_base_model()), local_files_only=True)
    long_text = "I have a fever and a rash on my arms. " * 40
    windows = encode_windows(tokenizer, ["short text", long_text], max_length=64, stride=16)
    assert next(w.text_index for w in windows) == 0
    long_windows = [w for w in windows if w.text_index == 1]
    assert len(long_windows) > 1
    assert all(len(w.input_ids) <= 64 for w in windows)
    covered_to = max(end for w in long_windows for _, end in w.offsets)
    assert covered_to == len(long_text.rstrip())  # nothing truncated
    for window in long_windows:
        for start, end in window.offsets:
            assert 0 <= start <= end <= len(long_text)


def test_ddxplus_patients_render_as_text() -> None:
    folder = default_data_path().parents[1] / "ddxplus"
    dataset = load_dataset(folder)
    assert dataset.format == "ddxplus"
    assert len(dataset) == 1974
    assert dataset.texts[0].startswith("Age 11, female. Pain: tender, exhausting;")
    assert load_dataset(folder / "patients.csv").format == "ddxplus"


def test_differential_class_ids_per_row() -> None:
    ddxplus = load_dataset(default_data_path().parents[1] / "ddxplus")
    both = concatenate([load_dataset(default_data_path()).subset([0, 1]), ddxplus.subset([0, 1])])
    truths = differential_class_ids(both)
    assert truths[:2] == [None, None]  # free text has no ground-truth differential
    for row, truth in zip((0, 1), truths[2:], strict=True):
        assert truth == {LABEL2ID[key] for key, _ in ddxplus.differential_of(row) or ()}
        assert truth
