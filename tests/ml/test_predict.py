from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from medconsult.ml import predict
from medconsult.ml.errors import ArtifactError, InputTextError, ModelError
from medconsult.ml.metrics import softmax
from medconsult.ml.options import DEFAULT_HYBRID_WEIGHT
from medconsult.ml.predict import Classifier, main, resolve_precision
from medconsult.ml.types import Suggestion

TEXTS = [
    "I have a runny nose, sneezing and a sore throat.",
    "Pimples and blackheads all over my face.",
]


def test_suggest_ranked_calibrated_and_typed(tiny_classifier: Classifier) -> None:
    suggestions = tiny_classifier.suggest(TEXTS)
    assert len(suggestions) == 2
    for suggestion in suggestions:
        assert isinstance(suggestion, Suggestion)
        assert len(suggestion.ranked) == 5
        probabilities = [item.probability for item in suggestion.ranked]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0.0 < sum(probabilities) <= 1.0 + 1e-6
        assert all(item.icd10 and item.display_name for item in suggestion.ranked)
        assert suggestion.model_version == tiny_classifier.version
        assert suggestion.windowed is False
        assert suggestion.n_windows == 1
        assert suggestion.abstained == (probabilities[0] < tiny_classifier.threshold)


def test_calibrated_probabilities_match_suggest(tiny_classifier: Classifier) -> None:
    probs = tiny_classifier.probabilities(TEXTS)
    assert np.allclose(probs.sum(axis=1), 1.0)
    top = tiny_classifier.suggest(TEXTS, explain=False)[0].top
    assert top.probability == pytest.approx(probs[0].max(), abs=1e-5)


def test_evidence_spans_lie_inside_the_text(tiny_classifier: Classifier) -> None:
    text = "For three days I have had a high fever, chills and a splitting headache."
    suggestion = tiny_classifier.suggest([text])[0]
    assert suggestion.evidence
    for span in suggestion.evidence:
        assert text[span.start : span.end] == span.text
        assert 0.0 < span.score <= 1.0
    assert max(span.score for span in suggestion.evidence) == 1.0


def test_long_text_is_windowed_not_truncated(tiny_classifier: Classifier, long_text: str) -> None:
    suggestion = tiny_classifier.suggest([long_text])[0]
    assert suggestion.windowed is True
    assert suggestion.n_windows > 1
    for span in suggestion.evidence:
        assert long_text[span.start : span.end] == span.text
    # The red flag sits at the very end, beyond the first window.
    assert suggestion.urgency == "emergency"
    assert suggestion.red_flags[0].rule_id == "chest_pain"
    windows = tiny_classifier.encode([long_text])
    assert max(end for w in windows for _, end in w.offsets) == len(long_text.rstrip())


def test_red_flags_survive_abstention(tiny_classifier: Classifier) -> None:
    suggestion = tiny_classifier.suggest(["I want to kill myself and I have a headache"])[0]
    assert suggestion.urgency == "emergency"
    assert [flag.rule_id for flag in suggestion.red_flags] == ["suicidal"]


def test_suggestion_json_round_trip(tiny_classifier: Classifier) -> None:
    suggestion = tiny_classifier.suggest(["I have chest pain and shortness of breath"])[0]
    data = json.loads(json.dumps(suggestion.to_dict()))
    assert Suggestion.from_dict(data) == suggestion


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "text is empty"), ("   \n\t", "text is empty"), ("x" * 20_001, "too long: 20001")],
)
def test_bad_text(tiny_classifier: Classifier, text: str, message: str) -> None:
    with pytest.raises(InputTextError, match=message):
        tiny_classifier.suggest([text])


def test_bad_text_in_a_batch_is_named(tiny_classifier: Classifier) -> None:
    with pytest.raises(InputTextError, match="text 1: text is empty"):
        tiny_classifier.suggest(["fine", " "])


def test_max_text_chars_defaults_to_the_setting(tiny_artifact: Path) -> None:
    from medconsult.config import get_settings

    classifier = Classifier.load(tiny_artifact, device="cpu")
    assert classifier.max_text_chars == get_settings().max_text_chars


def test_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        Classifier.load(tmp_path / "nope")


def test_incomplete_artifact(tiny_artifact: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_artifact, broken)
    (broken / "calibration.json").chmod(0o644)
    (broken / "calibration.json").unlink()
    with pytest.raises(ArtifactError, match=r"missing calibration\.json"):
        Classifier.load(broken)


def test_corrupt_weights(tiny_artifact: Path, tmp_path: Path) -> None:
    broken = tmp_path / "corrupt"
    shutil.copytree(tiny_artifact, broken)
    weights = broken / "model.safetensors"
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="cannot load model"):
        Classifier.load(broken)


def test_corrupt_json(tiny_artifact: Path, tmp_path: Path) -> None:
    broken = tmp_path / "badjson"
    shutil.copytree(tiny_artifact, broken)
    (broken / "config.json").chmod(0o644)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="corrupt"):
        Classifier.load(broken)


def test_int8_is_close_to_fp32(tiny_artifact: Path, tiny_classifier: Classifier) -> None:
    quantised = Classifier.load(tiny_artifact, device="cpu", precision="int8")
    assert quantised.precision == "int8"
    assert quantised.fast_model is not quantised.model
    fp32 = tiny_classifier.probabilities(TEXTS)
    int8 = quantised.probabilities(TEXTS)
    assert np.abs(fp32 - int8).max() < 0.05
    suggestion = quantised.suggest(TEXTS[:1])[0]
    assert suggestion.evidence  # evidence uses the full-precision weights


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_precision_on_cpu_is_bf16_only_with_native_bf16(
    monkeypatch: pytest.MonkeyPatch, native: bool, expected: str
) -> None:
    monkeypatch.setattr(predict, "cpu_has_native_bf16", lambda: native)
    assert resolve_precision("auto", torch.device("cpu")) == expected
    for forced in ("fp32", "bf16", "int8"):
        assert resolve_precision(forced, torch.device("cpu")) == forced


def test_unknown_precision_is_named(tiny_artifact: Path) -> None:
    with pytest.raises(ModelError, match="unknown precision 'fp8'"):
        Classifier.load(tiny_artifact, device="cpu", precision="fp8")


def test_auto_precision_loads_what_the_cpu_runs_best(
    tiny_artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(predict, "cpu_has_native_bf16", lambda: True)
    classifier = Classifier.load(tiny_artifact, device="cpu")
    assert classifier.precision == "bf16"
    assert classifier.engine is not None
    assert classifier.engine.matmul_dtype == torch.bfloat16
    # The bf16 engine is differentiable: one forward gives logits and evidence.
    assert classifier.evidence_engine is classifier.engine
    monkeypatch.setattr(predict, "cpu_has_native_bf16", lambda: False)
    assert Classifier.load(tiny_artifact, device="cpu").precision == "fp32"


def test_predict_cli(tiny_artifact: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", str(tiny_artifact), "I have a fever and chest pain and I fainted"]) == 0
    out = capsys.readouterr().out
    assert "urgency: EMERGENCY" in out
    assert "RED FLAG [altered_consciousness]" in out
    assert "evidence:" in out
    assert main(["--model", str(tiny_artifact), "--format", "json", "a cough"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert Suggestion.from_dict(data[0]).ranked


def test_predict_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", str(tmp_path / "missing"), "a cough"]) == 2
    err = capsys.readouterr().err
    assert "model artifact directory not found" in err
    assert "Traceback" not in err


def test_differential_is_every_label_above_the_threshold(tiny_classifier) -> None:  # type: ignore[no-untyped-def]
    text = "Age 54, male. Pain: tender; in the upper chest. I have a cough."
    (differential,) = tiny_classifier.differential([text])
    # At the differential's own temperature (chosen on validation), not the calibration one.
    probabilities = softmax(
        tiny_classifier.logits([text]), tiny_classifier.differential_temperature
    )[0]
    expected = sorted(
        (p for p in probabilities if p >= tiny_classifier.differential_threshold), reverse=True
    )
    assert [item.probability for item in differential] == pytest.approx(expected, abs=1e-6)
    assert all(item.icd10 for item in differential)


def test_suggestion_carries_the_differential_with_calibrated_probabilities(tiny_classifier) -> None:  # type: ignore[no-untyped-def]
    text = "Age 54, male. Pain: tender; in the upper chest. I have a cough."
    (suggestion,) = tiny_classifier.suggest([text], explain=False)
    (differential,) = tiny_classifier.differential([text])
    # The members and their order are the differential rule's ...
    assert [item.key for item in suggestion.differential] == [item.key for item in differential]
    assert suggestion.differential
    # ... each shown with its calibrated probability and its label's default urgency.
    calibrated = tiny_classifier.probabilities([text])[0]
    by_key = {label.key: (i, label) for i, label in enumerate(tiny_classifier.labels)}
    for item in suggestion.differential:
        index, label = by_key[item.key]
        assert item.probability == pytest.approx(calibrated[index], abs=1e-6)
        assert item.urgency == label.urgency
    assert [item.urgency for item in suggestion.ranked] == [
        by_key[item.key][1].urgency for item in suggestion.ranked
    ]
    assert Suggestion.from_dict(suggestion.to_dict()) == suggestion


def test_differential_is_capped(tiny_classifier, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # A threshold of zero keeps every label: the stored differential stops at the cap.
    monkeypatch.setattr(tiny_classifier, "differential_threshold", 0.0)
    monkeypatch.setattr("medconsult.ml.predict.MAX_DIFFERENTIAL", 3)
    (suggestion,) = tiny_classifier.suggest(["a cough and a fever"], explain=False)
    assert len(suggestion.differential) == 3
    assert [item.probability for item in suggestion.differential] == sorted(
        (item.probability for item in suggestion.differential), reverse=True
    )


def test_a_structured_case_takes_its_differential_from_the_model_of_the_answers(
    tiny_classifier, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from medconsult.ml import ddxplus, structured
    from medconsult.ml.labels import canonical_key

    patients = ddxplus.load_patients()[:60]
    model = structured.fit(
        [structured.StructuredCase.from_patient(p) for p in patients],
        [{name for name, _ in p.differential} for p in patients],
        sorted(ddxplus.load_conditions()),
        max_iter=5,
    )
    monkeypatch.setattr(tiny_classifier, "structured", model)
    case = structured.StructuredCase.from_patient(patients[0])
    text = ddxplus.render(patients[0].evidences, ddxplus.load_questionnaire())

    with_case, without = tiny_classifier.suggest([text, text], explain=False, cases=[case, None])

    members = {canonical_key(name) for name, _ in model.members(case)}
    assert members  # the answers' model keeps some conditions for this case
    # The members of the answers' model, with the classifier's first choice ...
    assert {item.key for item in with_case.differential} == members | {with_case.top.key}
    # ... ordered by calibrated probability, as the ranked list is.
    probabilities = [item.probability for item in with_case.differential]
    assert probabilities == sorted(probabilities, reverse=True)
    # Free text (no case) keeps the probability rule's differential.
    assert without.differential == tiny_classifier.suggest([text], explain=False)[0].differential
    assert with_case.ranked == without.ranked


def test_cases_must_match_texts(tiny_classifier) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="structured cases"):
        tiny_classifier.suggest(["a cough"], cases=[None, None])


def test_a_hybrid_artifact_serves_the_mean_of_the_two_models(
    tiny_classifier: Classifier, long_text: str
) -> None:
    """The tiny artifact is trained with the default hybrid: every served score mixes the
    transformer's probabilities with the TF-IDF model's, on both forward paths."""
    from medconsult.ml.baseline import hybrid_logits

    assert tiny_classifier.tfidf is not None
    texts = [*TEXTS, long_text]
    windows = tiny_classifier.encode(texts)
    transformer = tiny_classifier.aggregate(
        windows, tiny_classifier.window_logits(windows), len(texts)
    )
    weight = tiny_classifier.tfidf.transformer_weight
    assert weight == DEFAULT_HYBRID_WEIGHT  # trained with the default, read from the artifact
    expected = hybrid_logits(transformer, tiny_classifier.tfidf.predict_proba(texts), weight)
    np.testing.assert_allclose(tiny_classifier.logits(texts), expected, atol=1e-6)
    assert not np.allclose(expected, transformer, atol=1e-3)  # the TF-IDF half does count
    calibrated = softmax(expected, tiny_classifier.temperature)
    for explain in (True, False):  # with evidence: the single differentiable pass
        for suggestion, row in zip(
            tiny_classifier.suggest(texts, explain=explain), calibrated, strict=True
        ):
            assert suggestion.top.key == tiny_classifier.labels[int(row.argmax())].key
            assert suggestion.top.probability == pytest.approx(row.max(), abs=1e-5)


def test_an_artifact_without_the_tfidf_half_serves_the_transformer(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    from medconsult.ml.baseline import ARRAYS_NAME, FILE_NAME

    copy = tmp_path / tiny_artifact.name
    shutil.copytree(tiny_artifact, copy)
    (copy / FILE_NAME).unlink()
    (copy / ARRAYS_NAME).unlink()
    alone = Classifier.load(copy, device="cpu", precision="fp32")
    assert alone.tfidf is None
    windows = alone.encode(TEXTS)
    np.testing.assert_allclose(
        alone.logits(TEXTS), alone.aggregate(windows, alone.window_logits(windows), len(TEXTS))
    )
    (copy / FILE_NAME).write_text("{}")  # half a TF-IDF model is refused, not ignored
    with pytest.raises(ArtifactError, match="missing"):
        Classifier.load(copy, device="cpu", precision="fp32")


def test_hybrid_evidence_weighs_each_half_by_its_share(tiny_classifier: Classifier) -> None:
    assert tiny_classifier.tfidf is not None
    text = "For three days I have had a high fever, chills and a splitting headache."
    windows = tiny_classifier.encode([text])
    label = int(tiny_classifier.logits([text])[0].argmax())
    token_scores = tiny_classifier._token_attributions(windows, [label])

    def scaled(scores: dict[tuple[int, int], float]) -> dict[tuple[int, int], float]:
        top = max(abs(value) for value in scores.values())
        return {span: value / top for span, value in scores.items() if value}

    tfidf = tiny_classifier.tfidf.word_contributions(text, label)
    only_tfidf = tiny_classifier._word_scores(text, windows, token_scores, label, 0.0)
    assert {s: v for s, v in only_tfidf.items() if v} == pytest.approx(scaled(tfidf))
    half = tiny_classifier._word_scores(text, windows, token_scores, label, 0.5)
    only_transformer = tiny_classifier._word_scores(text, windows, token_scores, label, 1.0)
    for span in set(half) | set(tfidf):
        expected = 0.5 * only_transformer.get(span, 0.0) + 0.5 * scaled(tfidf).get(span, 0.0)
        assert half.get(span, 0.0) == pytest.approx(expected)
    # The share: w p / (w p + (1 - w) q) of the label's hybrid probability, that sum.
    window_logits = tiny_classifier.window_logits(windows)
    transformer = tiny_classifier.aggregate(windows, window_logits, 1)[0]
    p = softmax(transformer[None, :])[0, label]
    q = tiny_classifier.tfidf.predict_proba([text])[0, label]
    share = tiny_classifier._transformer_share(
        transformer, tiny_classifier.logits([text])[0], label
    )
    w = tiny_classifier.tfidf.transformer_weight
    assert share == pytest.approx(w * p / (w * p + (1 - w) * q), rel=1e-6)
