"""Write (or complete) the skeleton of a DDXPlus questionnaire translation file.

    python scripts/interview_i18n_skeleton.py zh_CN

reads ``data/ddxplus/release_evidences.json`` and ``release_conditions.json`` and writes
``src/medconsult/interview/i18n/<locale>.json``:

    {"evidences": {"E_54": {"question": "...", "values": {"V_161": "..."}}},
     "conditions": {"<English condition name>": "..."}}

with every evidence question, every value meaning and every condition. Translations already in
the file are kept; new entries are empty strings to translate (the English and French texts are
beside them in the data files). It prints how many entries are still empty;
``tests/interview/test_i18n_data.py`` fails while any is.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "ddxplus"
OUT_DIR = REPO / "src" / "medconsult" / "interview" / "i18n"


def skeleton(existing: dict[str, object]) -> tuple[dict[str, object], int]:
    evidences = json.loads((DATA / "release_evidences.json").read_text(encoding="utf-8"))
    conditions = json.loads((DATA / "release_conditions.json").read_text(encoding="utf-8"))
    old_evidences = existing.get("evidences", {})
    old_conditions = existing.get("conditions", {})
    if not isinstance(old_evidences, dict) or not isinstance(old_conditions, dict):
        raise SystemExit("the existing file is not a translation document")
    missing = 0
    out_evidences: dict[str, object] = {}
    for code, evidence in evidences.items():
        old = old_evidences.get(code, {})
        question = str(old.get("question", ""))
        values = {
            value: str(old.get("values", {}).get(value, ""))
            for value in evidence.get("value_meaning", {})
        }
        missing += (not question) + sum(not text for text in values.values())
        out_evidences[code] = {"question": question, "values": values}
    out_conditions = {}
    for condition in conditions.values():
        name = condition["cond-name-eng"]
        out_conditions[name] = str(old_conditions.get(name, ""))
        missing += not out_conditions[name]
    return {"evidences": out_evidences, "conditions": out_conditions}, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("locale", help="e.g. zh_CN")
    args = parser.parse_args()
    target = OUT_DIR / f"{args.locale}.json"
    existing = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
    document, missing = skeleton(existing)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{target.relative_to(REPO)}: {missing} entries still to translate")  # noqa: T201


if __name__ == "__main__":
    main()
