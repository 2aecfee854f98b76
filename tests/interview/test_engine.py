"""The next-question engine on small hand-made tables: which question, when to stop."""

from __future__ import annotations

import numpy as np
import pytest

from medconsult.interview.engine import NO, YES, Answer, EvidenceModel, Question, fit

SETTLE = {"stop_probability": 0.95, "min_gain_bits": 0.01, "top_k": 10}


def _binary(code: str, parent: str | None = None) -> Question:
    return Question(code, "binary", (NO, YES), NO, parent)


def _table(*p_yes: float) -> np.ndarray:
    return np.array([[1 - p, p] for p in p_yes])


def _model(openers: frozenset[str] = frozenset()) -> EvidenceModel:
    """Three conditions; "fever" is the same for all, "cough" splits flu from the rest,
    "rash" splits measles from the rest, "itch" follows up "rash"."""
    questions = (
        _binary("fever"),
        _binary("cough"),
        _binary("rash"),
        _binary("itch", parent="rash"),
        Question("where", "multiple", ("nowhere", "chest", "arm"), "nowhere"),
    )
    tables = {
        "fever": _table(0.5, 0.5, 0.5),
        "cough": _table(0.95, 0.05, 0.05),
        "rash": _table(0.05, 0.95, 0.05),
        "itch": _table(0.5, 0.9, 0.1),
        "where": np.array([[0.5, 0.5, 0.5]] * 3),
    }
    return EvidenceModel(
        conditions=("flu", "measles", "angina"),
        questions=questions,
        tables=tables,
        class_prior=np.array([1 / 3] * 3),
        openers=openers,
    )


class TestNextQuestion:
    def test_the_question_that_separates_the_leaders_is_chosen(self) -> None:
        model = _model()
        prior = np.array([0.49, 0.49, 0.02])  # flu or measles?

        decision = model.decide(prior, [], max_questions=20, **SETTLE)

        # "cough" and "rash" both split flu from measles here; "fever" separates nothing.
        assert decision.question is not None
        assert decision.question.code in {"cough", "rash"}
        gains = dict(
            zip(
                [q.code for q in model.questions],
                model.expected_gains(prior, model.questions, top_k=3),
                strict=True,
            )
        )
        assert gains["fever"] == pytest.approx(0.0, abs=1e-9)
        assert gains["cough"] > 0.5

    def test_the_leaders_decide_which_split_matters(self) -> None:
        model = _model()
        prior = np.array([0.02, 0.49, 0.49])  # measles or angina: only "rash" tells them apart

        decision = model.decide(prior, [], max_questions=20, **SETTLE)

        assert decision.question is not None
        assert decision.question.code == "rash"

    def test_a_follow_up_waits_for_a_yes_to_its_parent(self) -> None:
        model = _model()

        before = {q.code for q in model.eligible([])}
        after_no = {q.code for q in model.eligible([Answer("rash", (NO,))])}
        after_yes = {q.code for q in model.eligible([Answer("rash", (YES,))])}

        assert "itch" not in before
        assert "itch" not in after_no
        assert "itch" in after_yes

    def test_openers_first_when_nothing_is_known(self) -> None:
        model = _model(openers=frozenset({"fever", "rash"}))

        decision = model.decide(
            model.class_prior, [], max_questions=20, openers_first=True, **SETTLE
        )

        assert decision.question is not None
        assert decision.question.code == "rash"  # "cough" separates as well, but opens nothing

    def test_an_opener_that_separates_nothing_is_passed_over(self) -> None:
        model = _model(openers=frozenset({"fever"}))

        decision = model.decide(
            model.class_prior, [], max_questions=20, openers_first=True, **SETTLE
        )

        assert decision.question is not None
        assert decision.question.code in {"cough", "rash"}

    def test_the_first_question_is_the_complaint_the_patient_named(self) -> None:
        model = _model(openers=frozenset({"cough", "rash"}))

        for openers_first in (True, False):
            decision = model.decide(
                model.class_prior,
                [],
                max_questions=20,
                openers_first=openers_first,
                named={"cough"},
                **SETTLE,
            )

            assert decision.question is not None
            # "rash" separates as well; "cough" is what the patient wrote about.
            assert decision.question.code == "cough"

    def test_a_named_complaint_is_asked_even_where_it_alone_separates_nothing(self) -> None:
        model = _model(openers=frozenset({"fever", "rash"}))

        decision = model.decide(
            model.class_prior, [], max_questions=20, openers_first=True, named={"fever"}, **SETTLE
        )

        # Every condition has "fever" alike; the patient's complaint still opens the interview.
        assert decision.question is not None
        assert decision.question.code == "fever"

    def test_a_settled_case_asks_nothing_even_about_the_complaint(self) -> None:
        model = _model(openers=frozenset({"cough", "rash"}))

        decision = model.decide(
            np.array([0.98, 0.01, 0.01]), [], max_questions=20, named={"cough"}, **SETTLE
        )

        assert decision.question is None
        assert decision.stop_reason == "settled"

    def test_named_complaints_choose_only_the_first_question(self) -> None:
        model = _model(openers=frozenset({"cough", "rash"}))
        answers = [Answer("rash", (NO,))]

        decision = model.decide(
            model.class_prior, answers, max_questions=20, named={"fever"}, **SETTLE
        )

        assert decision.question is not None
        assert decision.question.code == "cough"  # "fever" separates nothing: never chosen

    def test_a_multiple_choice_question_that_separates_is_chosen(self) -> None:
        model = _model()
        model.tables["where"] = np.array([[0.02, 0.95, 0.02], [0.02, 0.02, 0.95], [0.9, 0.1, 0.1]])
        model.__post_init__()
        model.tables["cough"] = _table(0.5, 0.5, 0.5)
        model.tables["rash"] = _table(0.5, 0.5, 0.5)
        model.__post_init__()

        decision = model.decide(np.array([1 / 3] * 3), [], max_questions=20, **SETTLE)

        assert decision.question is not None
        assert decision.question.code == "where"


class TestPosterior:
    def test_a_yes_moves_the_posterior_to_the_conditions_that_explain_it(self) -> None:
        model = _model()

        posterior = model.posterior(model.class_prior, [Answer("cough", (YES,))])

        assert model.conditions[int(posterior.argmax())] == "flu"
        assert posterior.sum() == pytest.approx(1.0)

    def test_dont_know_changes_nothing(self) -> None:
        model = _model()

        posterior = model.posterior(model.class_prior, [Answer("cough", unknown=True)])

        assert posterior == pytest.approx(model.class_prior)

    def test_multiple_choice_counts_ticked_and_unticked_values(self) -> None:
        model = _model()
        model.tables["where"] = np.array([[0.02, 0.95, 0.02], [0.02, 0.02, 0.95], [0.9, 0.1, 0.1]])
        model.__post_init__()

        chest = model.posterior(model.class_prior, [Answer("where", ("chest",))])
        none = model.posterior(model.class_prior, [Answer("where", ())])

        assert model.conditions[int(chest.argmax())] == "flu"
        assert model.conditions[int(none.argmax())] == "angina"


class TestStopping:
    def test_stops_when_the_top_condition_is_settled(self) -> None:
        model = _model()

        decision = model.decide(np.array([0.97, 0.02, 0.01]), [], max_questions=20, **SETTLE)

        assert decision.question is None
        assert decision.stop_reason == "settled"

    def test_stops_after_the_maximum_number_of_questions(self) -> None:
        model = _model()
        answers = [Answer("fever", (YES,))]

        decision = model.decide(model.class_prior, answers, max_questions=1, **SETTLE)

        assert decision.question is None
        assert decision.stop_reason == "max_questions"

    def test_stops_when_no_question_is_worth_asking(self) -> None:
        model = _model()
        answers = [Answer("cough", unknown=True), Answer("rash", unknown=True)]

        decision = model.decide(
            model.class_prior, answers, max_questions=20, **{**SETTLE, "min_gain_bits": 0.2}
        )

        # Left: "fever" and "where" (separate nothing).
        assert decision.question is None
        assert decision.stop_reason == "low_gain"

    def test_stops_when_everything_was_asked(self) -> None:
        model = _model()
        answers = [Answer(code, unknown=True) for code in ("fever", "cough", "rash", "where")]

        decision = model.decide(model.class_prior, answers, max_questions=20, **SETTLE)

        assert decision.stop_reason == "exhausted"


class TestFit:
    def test_estimates_follow_the_rows_and_lean_on_typical_evidences(self) -> None:
        questions = [_binary("cough"), _binary("rash")]
        rows = [("flu", {"cough": (YES,)})] * 20 + [("measles", {"rash": (YES,)})] * 20

        model = fit(
            questions,
            rows,
            conditions=["flu", "measles", "rare"],
            typical={"flu": {"cough"}, "measles": {"rash"}, "rare": {"rash"}},
        )

        cough = model.tables["cough"][:, 1]
        rash = model.tables["rash"][:, 1]
        assert cough[0] > 0.9
        assert cough[1] < 0.05
        assert rash[1] > 0.9
        assert rash[0] < 0.05
        # No rows for "rare": its typical evidence is even odds, the rest unlikely.
        assert rash[2] == pytest.approx(0.5, abs=0.01)
        assert cough[2] < 0.01
        assert model.class_prior[2] < model.class_prior[0]
