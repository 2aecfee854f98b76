"""The reviewed advice library: complete for every label, sourced, safety-netted, dose-free."""

from __future__ import annotations

import io
import json
from urllib.parse import urlparse

import pytest

from medconsult.ml import labels as ml_labels
from medconsult.review import advice as advice_library

ACCEPTED_SOURCES = {"www.nhs.uk", "cks.nice.org.uk", "www.nice.org.uk", "www.who.int"}
LABEL_KEYS = [label.key for label in ml_labels.all_labels()]
EMERGENCY_KEYS = [label.key for label in ml_labels.all_labels() if label.urgency == "emergency"]


def test_every_label_has_advice_and_safety_netting() -> None:
    assert set(advice_library.library()) == set(LABEL_KEYS)
    for key in LABEL_KEYS:
        lines = advice_library.safety_netting(key)
        assert len(lines) > len(advice_library.GENERIC_SEEK_HELP_NOW), key


@pytest.mark.parametrize("label", EMERGENCY_KEYS)
def test_emergency_advice_sends_the_patient_to_emergency_care(label: str) -> None:
    entry = advice_library.entry_for(label)
    assert entry is not None

    assert "emergency" in " ".join(entry.self_care).lower()


class TestLibraryCompleteness:
    @pytest.mark.parametrize("label", LABEL_KEYS)
    def test_every_label_has_a_complete_entry(self, label: str) -> None:
        entry = advice_library.entry_for(label)

        assert entry is not None, f"no advice for {label}; add it to ml/advice.json"
        assert entry.version >= 1
        assert entry.self_care
        assert entry.watch_for
        assert entry.seek_help_now
        assert entry.next_steps

    @pytest.mark.parametrize("label", LABEL_KEYS)
    def test_every_entry_names_a_public_source(self, label: str) -> None:
        entry = advice_library.entry_for(label)
        assert entry is not None

        url = urlparse(entry.source_url)

        assert url.scheme == "https"
        assert url.hostname in ACCEPTED_SOURCES
        assert entry.source_name.split(":")[0] in {"NHS", "NICE", "NICE CKS", "WHO"}

    def test_no_entry_for_an_unknown_label(self) -> None:
        assert set(advice_library.library()) <= set(LABEL_KEYS)
        assert advice_library.entry_for("not_a_label") is None
        assert advice_library.entry_for(None) is None

    @pytest.mark.parametrize("label", LABEL_KEYS)
    def test_safety_netting_lines_complete_a_sentence(self, label: str) -> None:
        entry = advice_library.entry_for(label)
        assert entry is not None

        for line in entry.seek_help_now:
            assert line[0].islower(), f"'Seek help now if {line}' should read as one sentence"
            assert line.endswith(".")


class TestNoDoses:
    @pytest.mark.parametrize("label", LABEL_KEYS)
    def test_entry_has_no_dose_or_prescription(self, label: str) -> None:
        entry = advice_library.entry_for(label)
        assert entry is not None

        found = [v for text in entry.texts() for v in advice_library.dose_violations(text)]

        assert found == []

    @pytest.mark.parametrize(
        "text",
        [
            "Take 500 mg of paracetamol.",
            "Use 5ml of syrup.",
            "Two tablets a day with food.",
            "Take it 3 times a day.",
            "Use the inhaler twice a day.",
            "Apply the cream every 4 hours.",
            "Ask for a prescription of antibiotics.",
            "The usual dose is small.",
            "Give 10 milligrams at night.",
        ],
    )
    def test_dose_patterns_are_caught(self, text: str) -> None:
        assert advice_library.dose_violations(text) != []

    @pytest.mark.parametrize(
        "text",
        [
            "Drink plenty of fluids and rest.",
            "A small amount of warm milk can help you sleep.",
            "Have an asthma review at least once a year.",
        ],
    )
    def test_plain_advice_is_not_flagged(self, text: str) -> None:
        assert advice_library.dose_violations(text) == []


class TestDraft:
    def test_draft_has_every_section_and_the_source(self) -> None:
        entry = advice_library.entry_for("pneumonia")
        assert entry is not None

        draft = advice_library.compose_draft(entry)

        assert draft.index("What you can do yourself:") < draft.index("What to watch for:")
        assert draft.index("What to watch for:") < draft.index("Seek help now if:")
        assert draft.index("Seek help now if:") < draft.index("Typical next steps:")
        for text in entry.texts():
            assert f"- {text}" in draft
        assert draft.endswith(f"Source: {entry.source_name} ({entry.source_url})")

    def test_normalise_ignores_line_endings_and_spacing(self) -> None:
        assert advice_library.normalise("a  b\r\n- c \r\n") == advice_library.normalise("a b\n- c")
        assert advice_library.normalise("a b") != advice_library.normalise("a c")

    def test_safety_netting_adds_generic_lines(self) -> None:
        entry = advice_library.entry_for("migraine")
        assert entry is not None

        lines = advice_library.safety_netting("migraine")
        generic = advice_library.safety_netting(None)

        assert lines[: len(entry.seek_help_now)] == entry.seek_help_now
        assert lines[len(entry.seek_help_now) :] == generic
        assert generic == advice_library.GENERIC_SEEK_HELP_NOW


class TestParsing:
    def test_malformed_entry_is_refused(self) -> None:
        document = {"entries": {"acne": {"version": 1, "self_care": []}}}

        with pytest.raises(advice_library.AdviceLibraryError):
            advice_library.parse_library(document)

    def test_babel_extractor_yields_every_text(self) -> None:
        raw = advice_library.ADVICE_FILE.read_bytes()

        messages = list(advice_library.extract_messages(io.BytesIO(raw), None, None, None))

        texts = {message for _lineno, _func, message, _comments in messages}
        expected = {t for e in advice_library.library().values() for t in e.texts()}
        assert texts == expected
        assert json.loads(raw)["schema_version"] == 1
