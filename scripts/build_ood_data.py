"""Build the out-of-scope development and test sets in data/ood/ (deterministic).

    .venv/bin/python scripts/build_ood_data.py

Sources (see data/ood/README.md): DDXPlus patients of data/ddxplus/ whose pathology is not one of
the classifier's labels (and not a near-synonym of one), rendered as text by the project's DDXPlus
loader, at most DDXPLUS_PER_CONDITION per pathology; and the hand-written out-of-scope texts of
data/ood/written.csv. Each source is split by a fixed seed into a development part (thresholds,
methods) and a test part kept aside for the final measurement.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path

from medconsult.ml.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "ood"
SEED = 2026
TEST_FRACTION = 0.4
DDXPLUS_PER_CONDITION = 6
# DDXPlus pathologies that are, clinically, one of the classifier's labels under another name:
# not out of scope, so left out (URTI ~ common cold, allergic sinusitis ~ allergy,
# acute asthma exacerbation ~ bronchial asthma).
NEAR_SYNONYMS = frozenset(
    {"URTI", "Allergic sinusitis", "Bronchospasm / acute asthma exacerbation"}
)


def split(rows: list[dict[str, str]], rng: random.Random) -> tuple[list, list]:
    """Per group (pathology or specialty): TEST_FRACTION of the rows to test, rounded."""
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[row["group"]].append(row)
    dev, test = [], []
    for name in sorted(groups):
        members = groups[name]
        rng.shuffle(members)
        n_test = round(len(members) * TEST_FRACTION)
        test.extend(members[:n_test])
        dev.extend(members[n_test:])
    return dev, test


def main() -> None:
    rng = random.Random(SEED)
    ddxplus = load_dataset(ROOT / "data" / "ddxplus")
    by_condition: dict[str, list[str]] = defaultdict(list)
    for raw, key, text in zip(ddxplus.raw_labels, ddxplus.labels, ddxplus.texts, strict=True):
        if key is None and raw not in NEAR_SYNONYMS:
            by_condition[raw].append(text)
    ddx_rows = []
    for condition in sorted(by_condition):
        texts = by_condition[condition]
        for text in rng.sample(texts, min(DDXPLUS_PER_CONDITION, len(texts))):
            ddx_rows.append(
                {"label": condition, "source": "ddxplus", "group": condition, "text": text}
            )
    with (OUT / "written.csv").open(encoding="utf-8", newline="") as handle:
        written = [
            {
                "label": r["label"],
                "source": f"written:{r['specialty']}",
                "group": r["specialty"],
                "text": r["text"],
            }
            for r in csv.DictReader(handle)
        ]
    dev_d, test_d = split(ddx_rows, rng)
    dev_w, test_w = split(written, rng)
    for name, rows in (("dev.csv", dev_d + dev_w), ("test.csv", test_d + test_w)):
        with (OUT / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["label", "source", "text"])
            writer.writeheader()
            for row in rows:
                writer.writerow({k: row[k] for k in ("label", "source", "text")})


if __name__ == "__main__":
    main()
