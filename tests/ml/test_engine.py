"""The packed engine gives the Hugging Face forward's logits, suggestions and evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from medconsult.ml.engine import (
    ROW_BUCKET_MIN,
    PackedBertClassifier,
    _float_linear,
    bucket_rows,
    supports,
)
from medconsult.ml.errors import ModelError
from medconsult.ml.predict import Classifier, resolve_evidence_layer

TEXTS = [
    "I have a runny nose, sneezing and a sore throat.",
    "Pimples and blackheads all over my face.",
    "Pimples.",
    "Burning when I urinate and I need to go all the time, with lower belly pain and fever.",
    "A throbbing one-sided headache with nausea.",
    "A throbbing one-sided headache with nausea, worse in bright light.",
]


@pytest.fixture(scope="module")
def plain_classifier(tiny_artifact: Path) -> Classifier:
    return Classifier.load(
        tiny_artifact, device="cpu", precision="fp32", max_text_chars=20_000, packed=False
    )


def test_tiny_model_is_served_packed(
    tiny_classifier: Classifier, plain_classifier: Classifier
) -> None:
    assert supports(tiny_classifier.model)
    assert tiny_classifier.engine is not None
    assert plain_classifier.engine is None


def test_packed_window_logits_match_plain(
    tiny_classifier: Classifier, plain_classifier: Classifier, long_text: str
) -> None:
    windows = tiny_classifier.encode([*TEXTS, long_text])
    assert len({len(w.input_ids) for w in windows}) > 3  # padded and unpadded attention groups
    packed = tiny_classifier.window_logits(windows)
    plain = plain_classifier.window_logits(windows)
    np.testing.assert_allclose(packed, plain, atol=1e-4)
    assert (packed.argmax(axis=1) == plain.argmax(axis=1)).all()


@pytest.mark.parametrize("evidence_layer", [0, -1])
def test_packed_suggestions_match_plain(
    tiny_artifact: Path, long_text: str, evidence_layer: int
) -> None:
    """Same ranking and the same evidence words at either attribution layer."""
    packed_classifier, plain_classifier = (
        Classifier.load(
            tiny_artifact,
            device="cpu",
            precision="fp32",
            max_text_chars=20_000,
            packed=packed,
            evidence_layer=evidence_layer,
        )
        for packed in (True, False)
    )
    assert packed_classifier.engine is not None
    assert plain_classifier.engine is None
    texts = [*TEXTS, long_text]
    packed = packed_classifier.suggest(texts)
    plain = plain_classifier.suggest(texts)
    for got, want in zip(packed, plain, strict=True):
        assert [r.key for r in got.ranked] == [r.key for r in want.ranked]
        for a, b in zip(got.ranked, want.ranked, strict=True):
            assert a.probability == pytest.approx(b.probability, abs=1e-5)
        assert (got.urgency, got.abstained, got.n_windows) == (
            want.urgency,
            want.abstained,
            want.n_windows,
        )
        assert [(s.start, s.end) for s in got.evidence] == [(s.start, s.end) for s in want.evidence]
        for a_span, b_span in zip(got.evidence, want.evidence, strict=True):
            assert a_span.score == pytest.approx(b_span.score, abs=1e-3)


def test_token_budget_batches_cover_every_window_once(
    tiny_classifier: Classifier, long_text: str
) -> None:
    windows = tiny_classifier.encode([*TEXTS, long_text] * 20)
    batches = tiny_classifier._token_budget_batches(windows)
    assert sorted(i for batch in batches for i in batch) == list(range(len(windows)))
    budget = tiny_classifier.batch_size * tiny_classifier.max_length
    assert all(sum(len(windows[i].input_ids) for i in b) <= budget for b in batches)
    assert tiny_classifier._token_budget_batches([]) == []


def test_int8_packed_matches_int8_plain(tiny_artifact: Path) -> None:
    packed = Classifier.load(tiny_artifact, device="cpu", precision="int8", max_text_chars=20_000)
    plain = Classifier.load(
        tiny_artifact, device="cpu", precision="int8", max_text_chars=20_000, packed=False
    )
    assert packed.engine is not None
    assert packed.engine is not packed.evidence_engine  # evidence stays full precision
    windows = packed.encode(TEXTS)
    # Dynamic quantisation scales activations by each matrix's own range, so int8 logits depend
    # a little on what shares the batch (padding rows included): close, not equal.
    np.testing.assert_allclose(
        packed.window_logits(windows), plain.window_logits(windows), atol=0.02
    )


@pytest.mark.parametrize("packed", [True, False])
def test_bf16_is_close_to_fp32(
    tiny_artifact: Path, tiny_classifier: Classifier, long_text: str, packed: bool
) -> None:
    """bf16 (the packed engine's own bf16 weights, or autocast on the Hugging Face forward)
    keeps the fp32 ranking and probabilities to within bf16 rounding."""
    bf16 = Classifier.load(
        tiny_artifact, device="cpu", precision="bf16", max_text_chars=20_000, packed=packed
    )
    texts = [*TEXTS, long_text]
    assert (bf16.engine is not None) == packed
    windows = bf16.encode(texts)
    got = bf16.window_logits(windows)
    want = tiny_classifier.window_logits(windows)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, atol=0.05)
    assert not np.array_equal(got, want)  # it did run in bf16
    np.testing.assert_allclose(
        bf16.probabilities(texts), tiny_classifier.probabilities(texts), atol=0.01
    )
    suggestions = bf16.suggest(texts)
    assert any(suggestion.evidence for suggestion in suggestions)
    for suggestion, text in zip(suggestions, texts, strict=True):
        for span in suggestion.evidence:
            assert text[span.start : span.end] == span.text


def test_bf16_evidence_matches_fp32_evidence(
    tiny_artifact: Path, tiny_classifier: Classifier
) -> None:
    bf16 = Classifier.load(tiny_artifact, device="cpu", precision="bf16", max_text_chars=20_000)
    pairs = list(zip(bf16.suggest(TEXTS), tiny_classifier.suggest(TEXTS), strict=True))
    assert any(want.evidence for _, want in pairs)
    for got, want in pairs:
        # Gradients in bf16 move scores slightly; the strongest word is the same.
        assert [s.text for s in got.evidence[:1]] == [s.text for s in want.evidence[:1]]


def test_engine_refuses_other_models() -> None:
    assert not supports(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="not a BERT"):
        PackedBertClassifier(torch.nn.Linear(2, 2))


def test_int8_engine_has_no_float_matmul_type(tiny_classifier: Classifier) -> None:
    with pytest.raises(ValueError, match="int8 engine"):
        PackedBertClassifier(
            tiny_classifier.model, tiny_classifier.model, matmul_dtype=torch.bfloat16
        )


def test_single_pass_evidence_matches_two_passes(
    tiny_classifier: Classifier, long_text: str
) -> None:
    texts = [*TEXTS, long_text]
    windows = tiny_classifier.encode(texts)
    assert tiny_classifier._single_pass_evidence(windows)
    one_pass = tiny_classifier.suggest(texts, explain=True)
    without = tiny_classifier.suggest(texts, explain=False)
    top_ids = [
        int(row.argmax())
        for row in tiny_classifier.aggregate(
            windows, tiny_classifier.window_logits(windows), len(texts)
        )
    ]
    two_pass = tiny_classifier._token_attributions(windows, top_ids)
    _, attribute = tiny_classifier.engine.logits_for_attribution(  # type: ignore[union-attr]
        [w.input_ids for w in windows], from_layer=tiny_classifier.evidence_from_layer
    )
    for got, want in zip(
        attribute([top_ids[w.text_index] for w in windows]), two_pass, strict=True
    ):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    for a, b in zip(one_pass, without, strict=True):
        assert [(r.key, r.probability) for r in a.ranked] == [
            (r.key, r.probability) for r in b.ranked
        ]
    assert any(suggestion.evidence for suggestion in one_pass)


@pytest.mark.parametrize("from_layer", [0, 1])
def test_layer_attribution_is_gradient_times_activation_of_that_layer(
    tiny_classifier: Classifier, from_layer: int
) -> None:
    """Attribution at layer k is d(target logit)/d(hidden entering layer k) x that hidden state,
    checked against autograd through the Hugging Face forward; the logits do not change."""
    engine = tiny_classifier.engine
    assert engine is not None
    (window,) = tiny_classifier.encode([TEXTS[3]])
    target = 2
    logits, _, attribute = engine.forward_for_attribution([window.input_ids], from_layer=from_layer)
    (got,) = attribute([target])

    model = tiny_classifier.model
    ids = torch.tensor([window.input_ids])
    with torch.enable_grad():
        embeddings = model.get_input_embeddings()(ids).detach().requires_grad_(True)
        output = model(inputs_embeds=embeddings, output_hidden_states=True)
        # hidden_states[0] is the embedding layer's output; attribution at layer 0 is taken
        # on the word embeddings themselves, before positions and the layer norm are added.
        activation = embeddings if from_layer == 0 else output.hidden_states[from_layer]
        (gradient,) = torch.autograd.grad(output.logits[0, target], activation)
    want = (gradient * activation).sum(dim=-1)[0]
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(logits.numpy(), output.logits.detach().numpy(), atol=1e-4)


def test_layer_attribution_outside_the_encoder_is_refused(tiny_classifier: Classifier) -> None:
    engine = tiny_classifier.engine
    assert engine is not None
    with pytest.raises(ValueError, match="from_layer"):
        engine.forward_for_attribution([[101, 102]], from_layer=len(engine.layers))


def test_evidence_layer_counts_from_the_top_when_negative() -> None:
    assert [resolve_evidence_layer(k, 6) for k in (0, 4, -1, -6)] == [0, 4, 5, 0]
    for outside in (6, -7):
        with pytest.raises(ModelError, match="outside this 6-layer encoder"):
            resolve_evidence_layer(outside, 6)


def test_suggestions_with_layer_evidence_keep_the_ranking(
    tiny_artifact: Path, long_text: str
) -> None:
    layered = Classifier.load(
        tiny_artifact, device="cpu", precision="fp32", max_text_chars=20_000, evidence_layer=-1
    )
    assert layered.evidence_from_layer == 1  # the tiny model has two layers
    texts = [*TEXTS, long_text]
    with_evidence = layered.suggest(texts, explain=True)
    without = layered.suggest(texts, explain=False)
    for text, a, b in zip(texts, with_evidence, without, strict=True):
        assert [(r.key, r.probability) for r in a.ranked] == [
            (r.key, r.probability) for r in b.ranked
        ]
        for span in a.evidence:
            assert span.text == text[span.start : span.end]
    assert any(suggestion.evidence for suggestion in with_evidence)


def test_bucket_rows_rounds_up_to_a_few_sizes() -> None:
    sizes = {rows: bucket_rows(rows) for rows in range(1, 20_001)}

    for rows, bucket in sizes.items():
        assert bucket >= rows
        assert bucket - rows < max(ROW_BUCKET_MIN, rows / 8)
    # Every row count up to 20,000 maps to one of a few dozen sizes: their kernels are reused.
    assert len(set(sizes.values())) <= 80


def test_bf16_linear_pads_rows_to_a_bucket_and_returns_only_its_own() -> None:
    torch.manual_seed(0)
    module = torch.nn.Linear(16, 8)
    linear = _float_linear(module, dtype=torch.bfloat16)
    x = torch.randn(37, 16, requires_grad=True)  # pads to 64 rows

    out = linear(x)

    assert out.shape == (37, 8)
    want = torch.addmm(
        module.bias.detach().bfloat16(),
        x.detach().bfloat16(),
        module.weight.detach().t().bfloat16(),
    )
    torch.testing.assert_close(out.detach().float(), want.float(), rtol=0.02, atol=0.02)
    # Differentiable through the padding (the evidence pass takes gradients here).
    (gradient,) = torch.autograd.grad(out.float().sum(), x)
    torch.testing.assert_close(
        gradient, module.weight.detach().sum(0).expand(37, 16), rtol=0.02, atol=0.02
    )
