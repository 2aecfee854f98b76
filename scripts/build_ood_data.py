"""Build the out-of-scope development and test sets in data/ood/ (deterministic).

    .venv/bin/python scripts/build_ood_data.py

Source (see data/ood/README.md): the hand-written out-of-scope texts of data/ood/written.csv
(columns ``label,specialty,text``). Every row's condition is checked against the classifier's
label space (``src/medconsult/ml/labels.json``: keys, display names and aliases): a row whose
label is one of the labels, or names one inside it (``travel malaria tablets`` names malaria),
stops the build. DDXPlus patients are no longer a source: all 49 DDXPlus pathologies are labels.

The rows are split per specialty by a fixed seed into a development part (``dev.csv``: methods,
settings) and a test part kept aside for the final measurement (``test.csv``); the script prints
the counts and the sha256 of both files, which data/ood/README.md records.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

from medconsult.ml.labels import all_labels, canonical_key

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "ood"
SEED = 2026
TEST_FRACTION = 0.4


def _words(name: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", name.lower())) + " "


def label_conflicts(label: str) -> list[str]:
    """The classifier's labels that ``label`` is, or names as whole words (empty: out of scope)."""
    if (key := canonical_key(label)) is not None:
        return [key]
    words = _words(label)
    return sorted(
        {
            info.key
            for info in all_labels()
            for name in (info.key, info.display_name, *info.aliases)
            if _words(name) in words
        }
    )


def split(rows: list[dict[str, str]], rng: random.Random) -> tuple[list, list]:
    """Per specialty: TEST_FRACTION of the rows to test, rounded."""
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[row["specialty"]].append(row)
    dev, test = [], []
    for name in sorted(groups):
        members = groups[name]
        rng.shuffle(members)
        n_test = round(len(members) * TEST_FRACTION)
        test.extend(members[:n_test])
        dev.extend(members[n_test:])
    return dev, test


def main() -> None:
    with (OUT / "written.csv").open(encoding="utf-8", newline="") as handle:
        written = list(csv.DictReader(handle))
    problems = [
        f"{row['label']!r} is {', '.join(conflicts)}"
        for row in written
        if (conflicts := label_conflicts(row["label"]))
    ]
    if problems:
        raise SystemExit("written.csv has in-scope rows: " + "; ".join(problems))
    texts = [row["text"] for row in written]
    if len(set(texts)) != len(texts):
        raise SystemExit("written.csv has duplicate texts")
    dev, test = split(written, random.Random(SEED))
    for name, rows in (("dev.csv", dev), ("test.csv", test)):
        path = OUT / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["label", "source", "text"])
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        "label": row["label"],
                        "source": f"written:{row['specialty']}",
                        "text": row["text"],
                    }
                )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        sys.stdout.write(f"{name}: {len(rows)} rows, sha256 {digest}\n")


if __name__ == "__main__":
    main()
