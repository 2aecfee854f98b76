"""The semantic layer with the packaged all-MiniLM-L6-v2 (loads the model: slow)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pytest

from medconsult.triage.rules import CATEGORIES, find_flags
from medconsult.triage.semantic import Clause, SemanticTriage, clauses, is_negated, load_library


class TestClauses:
    def test_negated_clauses_are_left_out(self) -> None:
        found = clauses("No chest pain, but my face feels numb on one side. I am not suicidal.")

        assert [clause.text for clause in found] == ["my face feels numb on one side."]
        assert found[0].sentence == "No chest pain, but my face feels numb on one side."

    @pytest.mark.parametrize(
        "text",
        [
            "I can't breathe",
            "I cannot breathe",
            "I can't stop shaking and jerking",
            "my baby won't wake up properly",
            "the bleeding doesn't stop",
            "the bleeding isn't stopping",
            "the bleeding will not stop",
            "I couldn't move my left arm",
            "I'm not able to lift my arm",
            "I haven't been able to pee since last night",
            "I want to go to sleep and never wake up",
            "I have never felt pain like this",
            "a dry cough that never stops",
        ],
    )
    def test_inability_and_persistence_are_kept(self, text: str) -> None:
        assert not is_negated(text)
        assert [clause.text for clause in clauses(text)] == [text]

    @pytest.mark.parametrize(
        "text",
        [
            "no chest pain",
            "I don't have a fever",
            "I'm not suicidal",
            "denies chest pain or shortness of breath",
            "never had a seizure",
            "never thought about ending my life",
            "a headache without any pain in my neck",
            "I didn't hit my head",
            "a headache that won't go away",
        ],
    )
    def test_negated_clauses_are_still_left_out(self, text: str) -> None:
        assert is_negated(text)
        assert clauses(text) == []

    def test_an_inability_clause_stays_next_to_a_negated_one(self) -> None:
        found = clauses("No fever, but I can't catch my breath.")

        assert [clause.text for clause in found] == ["I can't catch my breath."]

    def test_library_names_only_known_categories_and_covers_all(self) -> None:
        library = load_library()

        assert set(library["categories"]) == set(CATEGORIES)
        assert 0.0 < library["threshold"] < 1.0


@pytest.fixture(scope="module")
def layer() -> SemanticTriage:
    return SemanticTriage()


@pytest.mark.slow
class TestSemanticLayer:
    @pytest.mark.parametrize(
        ("text", "category"),
        [
            ("I think I'm having a heart attack.", "chest_pain"),
            ("My little boy swallowed one of those small round batteries.", "ingestion"),
            ("I have a plan to end my life.", "suicidal"),
        ],
    )
    def test_flags_by_meaning(self, layer: SemanticTriage, text: str, category: str) -> None:
        flags = layer.flags(text)

        assert category in {flag.category for flag in flags}
        flag = next(flag for flag in flags if flag.category == category)
        assert flag.layer == "semantic"
        assert flag.score is not None
        assert flag.score >= layer.threshold
        assert text[flag.start : flag.end] == flag.matched_text

    @pytest.mark.parametrize(
        "text",
        [
            "I do not have chest pain.",
            "A runny nose and a sore throat for two days.",
            "My knee aches after running.",
        ],
    )
    def test_plain_or_negated_text_raises_nothing(self, layer: SemanticTriage, text: str) -> None:
        assert layer.flags(text) == []

    def test_an_inability_no_rule_flags_is_flagged_and_its_negation_is_not(
        self, layer: SemanticTriage
    ) -> None:
        # "can't" once kept every such clause from the layer; no rule anticipates this wording.
        text = "I can't get my breath."
        assert find_flags(text) == []

        flags = layer.flags(text)

        assert [(flag.category, flag.layer) for flag in flags] == [("breathing", "semantic")]
        negated = "I don't have any trouble getting my breath."
        assert find_flags(negated) == []
        assert layer.flags(negated) == []


@pytest.mark.slow
class TestSharedForwardPass:
    TEXTS: ClassVar[list[str]] = [
        "I think I'm having a heart attack.",
        "A mild itch on my arm, no other problems.",
        "My little boy swallowed one of those small round batteries.",
        "",
    ]

    def test_many_at_once_matches_one_by_one(self, layer: SemanticTriage) -> None:
        together = layer.best_matches_many(self.TEXTS)

        alone = [layer.best_matches(text) for text in self.TEXTS]
        assert [sorted(r) for r in together] == [sorted(r) for r in alone]
        for joint, single in zip(together, alone, strict=True):
            for category, (score, clause) in joint.items():
                assert score == pytest.approx(single[category][0], abs=1e-4)
                assert clause == single[category][1]

    def test_concurrent_callers_each_get_their_own_flags(self, layer: SemanticTriage) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            concurrent = list(pool.map(layer.flags, self.TEXTS * 4))

        expected = [layer.flags(text) for text in self.TEXTS * 4]
        assert [[f.category for f in flags] for flags in concurrent] == [
            [f.category for f in flags] for flags in expected
        ]


@pytest.mark.slow
class TestFastPath:
    """The packed engine (bf16 where the CPU has it) against the Hugging Face fp32 forward."""

    TEXTS: ClassVar[list[str]] = [
        "crushing pain in my chest",
        "my face dropped on one side and my speech is slurred",
        "a runny nose",
        "I took all of my tablets at once on purpose and now I feel very sleepy and confused",
        "itchy",
    ]

    def test_embeddings_match_the_reference(self, layer: SemanticTriage) -> None:
        assert layer.fast is not None

        fast = layer.embed(self.TEXTS)
        exact = layer.embed(self.TEXTS, exact=True)

        reference = layer.embed_reference(self.TEXTS)
        assert (fast * reference).sum(dim=1).min().item() >= 0.999
        assert (exact * reference).sum(dim=1).min().item() >= 0.99999

    def test_flags_match_the_reference_on_the_development_set(self, layer: SemanticTriage) -> None:
        import csv
        from pathlib import Path

        dev = Path(__file__).resolve().parents[2] / "data" / "triage" / "dev.csv"
        with dev.open(newline="") as handle:
            texts = [row["text"] for row in csv.DictReader(handle)]
        reference = SemanticTriage(packed=False)

        def signature(of: SemanticTriage, text: str) -> list[tuple[str, int, int]]:
            return [(flag.category, flag.start, flag.end) for flag in of.flags(text)]

        assert reference.fast is None
        assert [signature(layer, t) for t in texts] == [signature(reference, t) for t in texts]


class TestSharedForwardScheduling:
    """The scheduling of the shared forward, with the embedding replaced by a controllable stub
    (the embedding itself is checked against the reference above)."""

    @staticmethod
    def _layer(forward: Any) -> SemanticTriage:
        layer = SemanticTriage.__new__(SemanticTriage)
        layer._pending = []
        layer._pending_lock = threading.Lock()
        layer._arrived = threading.Condition(layer._pending_lock)
        layer._server = None
        layer.best_matches_many = forward  # type: ignore[method-assign]
        return layer

    def test_a_caller_gets_its_answer_while_later_texts_are_still_being_embedded(self) -> None:
        first_running, first_release = threading.Event(), threading.Event()
        later_release = threading.Event()
        batches: list[list[str]] = []

        def forward(texts: list[str]) -> list[dict[str, tuple[float, Clause]]]:
            batches.append(texts)
            if len(batches) == 1:
                first_running.set()
                first_release.wait(5)
            else:
                later_release.wait(5)
            return [{} for _ in texts]

        layer = self._layer(forward)
        first = layer.submit("first text")
        assert first_running.wait(5)
        later = layer.submit("a later text")
        first_release.set()
        # The first caller's answer comes while the later batch is still running: no caller
        # serves everyone else's batches before its own analysis can go on.
        assert first.result(timeout=2) == {}
        assert not later.done()
        later_release.set()
        assert later.result(timeout=5) == {}
        assert batches == [["first text"], ["a later text"]]

    def test_an_error_reaches_every_caller_of_the_batch_and_the_layer_goes_on(self) -> None:
        calls: list[list[str]] = []

        def forward(texts: list[str]) -> list[dict[str, tuple[float, Clause]]]:
            calls.append(texts)
            if len(calls) == 1:
                raise RuntimeError("embedding failed")
            return [{} for _ in texts]

        layer = self._layer(forward)
        with pytest.raises(RuntimeError, match="embedding failed"):
            layer.submit("broken").result(timeout=5)
        assert layer.submit("next").result(timeout=5) == {}
