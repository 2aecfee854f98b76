"""Inference service: load an artifact once, turn patient texts into ranked, explained suggestions.

    python -m medconsult.ml.predict [--model DIR] "I have a fever and a bad cough..."

Used by the web app's worker (through ``DynamicBatcher`` or directly); imports no web code.

- Long texts are split into overlapping token windows (``max_length`` tokens, ``stride`` shared)
  and the window logits are averaged (the same policy as training and evaluation), never
  truncated; the suggestion says ``windowed`` and ``n_windows``.
- Probabilities are temperature-scaled with the artifact's ``calibration.json``; below its
  threshold the suggestion is marked ``abstained`` (still ranked, still triaged), reason
  ``low_confidence``. Beside it the out-of-distribution check of ``ood.json`` (``ood.py``) scores
  the same forward (logits, and the pooled vectors the head reads); above its threshold the
  suggestion abstains with reason ``out_of_distribution``. Artifacts without ``ood.json`` load
  with the check unavailable (``ood_score`` None, a warning in the log).
- Evidence is gradient x activation for the top label, per token, mapped to the original text
  through the tokenizer's offsets, summed per word, maxed over windows. The packed engine takes
  it at the input of the encoder layer ``inference_evidence_layer`` (the word embeddings at 0,
  i.e. gradient x input), the Hugging Face forward at the same layer (its hidden states).
- Red flags (``triage.py``) raise urgency to emergency whatever the model says.
- The classification forward runs under ``torch.inference_mode()``. Precision (``precision``,
  setting ``inference_precision``): ``auto`` is bf16/fp16 autocast on GPU, and on CPU bf16 where
  the CPU has native bf16 dot products (AVX-512 BF16 or AMX; several times the fp32 matmul
  throughput, logits within a few hundredths of fp32, see ``evaluate --bf16``) and fp32
  elsewhere (emulated bf16 would be slower). ``fp32``, ``bf16`` and ``int8`` (CPU dynamic
  quantisation of the Linear layers) force one. On CPU it runs through
  ``engine.PackedBertClassifier`` (no padding, fused query/key/value, last layer for the [CLS]
  rows only; same logits) unless ``packed=False`` or the model is not a BERT classifier.
  Evidence needs gradients with respect to the input embeddings (weights stay frozen), so it
  runs outside inference mode: one differentiable forward of the float engine gives both the
  logits and the gradients when the batch fits; an int8 engine is not differentiable, so int8
  needs a second, full-precision pass. ``explain=False`` skips evidence.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import threading
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

# Offline before transformers is imported: artifacts are local folders, never hub names.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as transformers_logging

from medconsult.ml import options
from medconsult.ml.artifacts import validate_artifact
from medconsult.ml.baseline import TfidfScorer, hybrid_logits
from medconsult.ml.data import Window, encode_windows, mean_window_logits
from medconsult.ml.engine import PackedBertClassifier, cpu_has_native_bf16, supports
from medconsult.ml.errors import ArtifactError, InputTextError, ModelError
from medconsult.ml.labels import LabelInfo, parse_labels
from medconsult.ml.metrics import DIFFERENTIAL_THRESHOLD, softmax
from medconsult.ml.ood import LOW_CONFIDENCE, OUT_OF_DISTRIBUTION, OodCheck
from medconsult.ml.options import DEFAULT_INFERENCE_BATCH_SIZE, DEFAULT_TOP_K, MAX_DIFFERENTIAL
from medconsult.ml.structured import StructuredCase, StructuredDifferential
from medconsult.ml.triage import find_red_flags, triage_urgency
from medconsult.ml.types import EvidenceSpan, RankedLabel, Suggestion

logger = logging.getLogger(__name__)

# --- evidence defaults ------------------------------------------------------------------------
DEFAULT_MAX_EVIDENCE = 5  # evidence spans per suggestion
EVIDENCE_MIN_RELATIVE_SCORE = 0.2  # drop words scoring under 20% of the strongest word
# Function words carry attribution mass but explain nothing to a doctor.
_STOPWORDS_TEXT = (
    "a an and are as at be been being but by for from had has have having he her his i i'm "
    "i've in is it its it's me my myself of on or our she so that the their them then there "
    "these they this to too very was we were what when which while who with you your also "
    "am do does did been lately recently"
)
EVIDENCE_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# ----------------------------------------------------------------------------------------------


def default_max_text_chars() -> int:
    from medconsult.config import get_settings

    return get_settings().max_text_chars


def default_packed() -> bool:
    from medconsult.config import get_settings

    return get_settings().inference_packed


def default_evidence_layer() -> int:
    from medconsult.config import get_settings

    return get_settings().inference_evidence_layer


def resolve_evidence_layer(requested: int, depth: int) -> int:
    """The encoder layer (0 to ``depth - 1``) whose input the evidence is taken at; a negative
    ``requested`` counts from the top. ``ModelError`` outside the encoder."""
    if not -depth <= requested < depth:
        raise ModelError(
            f"evidence layer {requested} is outside this {depth}-layer encoder "
            f"(use {-depth} to {depth - 1})"
        )
    return requested % depth


Precision = Literal["auto", "fp32", "bf16", "int8"]
PRECISIONS: tuple[Precision, ...] = ("auto", "fp32", "bf16", "int8")


def resolve_precision(requested: str, device: torch.device) -> str:
    """The precision a classifier runs at: ``fp32``, ``bf16``, ``int8`` (CPU) or ``fp16``
    (GPU autocast where bf16 is unsupported). ``ModelError`` for an unknown name."""
    if requested not in PRECISIONS:
        raise ModelError(f"unknown precision {requested!r}; use one of {', '.join(PRECISIONS)}")
    if device.type == "cuda":
        if requested == "fp32":
            return "fp32"
        if requested == "int8":
            logger.warning("int8 dynamic quantisation is CPU-only; using autocast on the GPU")
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if requested == "auto":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if requested == "bf16" and not cpu_has_native_bf16():
        logger.warning("this CPU has no native bf16 dot products: bf16 will be slower than fp32")
    return requested


def pick_device(requested: str) -> torch.device:
    if requested not in ("auto", "cpu", "cuda"):
        raise ModelError(f"unknown device {requested!r}; use auto, cpu or cuda")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelError("device cuda requested but no CUDA device is available")
    if requested == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"artifact file {path} is unreadable: {exc}") from exc
    if not isinstance(document, dict):
        raise ArtifactError(f"artifact file {path} is corrupt: expected a JSON object")
    return document


class Classifier:
    """A loaded artifact. Thread-safe: concurrent ``suggest`` calls share one model."""

    def __init__(
        self,
        *,
        model: PreTrainedModel,
        fast_model: torch.nn.Module,
        tokenizer: Any,
        labels: tuple[LabelInfo, ...],
        temperature: float,
        threshold: float,
        max_length: int,
        stride: int,
        device: torch.device,
        version: str,
        precision: str,
        max_text_chars: int,
        top_k: int = DEFAULT_TOP_K,
        batch_size: int = DEFAULT_INFERENCE_BATCH_SIZE,
        engine: PackedBertClassifier | None = None,
        evidence_engine: PackedBertClassifier | None = None,
        ood: OodCheck | None = None,
        differential_threshold: float = DIFFERENTIAL_THRESHOLD,
        differential_temperature: float | None = None,
        evidence_from_layer: int = 0,
        structured: StructuredDifferential | None = None,
        tfidf: TfidfScorer | None = None,
    ) -> None:
        self.model = model  # full precision: evidence (gradients) and the GPU path
        self.fast_model = fast_model  # what classifies: the int8 copy when precision is int8
        self.tokenizer = tokenizer
        self.labels = labels
        self.temperature = temperature
        self.threshold = threshold
        self.max_length = max_length
        self.stride = stride
        self.device = device
        self.version = version
        self.precision = precision  # resolved: fp32, bf16, int8 (CPU) or fp16 (GPU)
        self.max_text_chars = max_text_chars
        self.top_k = top_k
        self.batch_size = batch_size
        self.engine = engine  # packed forward for classification (None: the model's own)
        self.evidence_engine = evidence_engine  # packed float forward for gradients
        # Where the evidence attribution is taken: the input of this encoder layer (0: the word
        # embeddings; ``engine.PackedBertClassifier.forward_for_attribution``).
        self.evidence_from_layer = evidence_from_layer
        self.ood = ood  # None: an artifact trained before the OOD check existed
        # The differential: every class at or above this probability, at its own temperature
        # (artifacts from before it existed: the calibration temperature).
        self.differential_threshold = differential_threshold
        self.differential_temperature = (
            temperature if differential_temperature is None else differential_temperature
        )
        # A structured case's differential (intake answers): the artifact's model of the answers
        # (None: an artifact trained before it existed, whose differential rule serves for all).
        self.structured = structured
        # The TF-IDF half of a hybrid artifact (None: the transformer alone, as artifacts
        # trained before the hybrid or with --no-hybrid): every score below is then the
        # hybrid's (``baseline.hybrid_logits``), calibrated as such in training.
        self.tfidf = tfidf
        self._by_ddxplus_name = {
            label.ddxplus_name: index
            for index, label in enumerate(labels)
            if label.ddxplus_name is not None
        }
        # The Hugging Face forward (GPU, or CPU without the packed engine) reaches bf16/fp16
        # through autocast; the packed engine has its own bf16 weights.
        self.autocast_dtype: torch.dtype | None = {
            "bf16": torch.bfloat16,
            "fp16": torch.float16,
        }.get(precision)
        # Fast tokenizers are not safe to call from several threads at once ("Already
        # borrowed"); tokenising is cheap, so one lock around it is enough.
        self._tokenizer_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        device: str = "auto",
        precision: str = "auto",
        *,
        max_text_chars: int | None = None,
        top_k: int = DEFAULT_TOP_K,
        batch_size: int = DEFAULT_INFERENCE_BATCH_SIZE,
        packed: bool | None = None,
        evidence_layer: int | None = None,
    ) -> Classifier:
        """Load an artifact directory once; ``ArtifactError`` if it is missing or corrupt.

        ``precision``: ``auto``, ``fp32``, ``bf16`` or ``int8`` (see the module docstring and
        ``resolve_precision``); int8 is CPU-only and becomes autocast, with a warning, on a GPU.
        ``packed`` runs CPU inference through ``engine.PackedBertClassifier`` when the model is
        a BERT classifier (same logits, less work); False keeps the Hugging Face forward;
        None reads ``inference_packed`` from the settings. ``evidence_layer``: where the packed
        engine takes the evidence (``resolve_evidence_layer``); None reads
        ``inference_evidence_layer``.
        """
        directory = validate_artifact(model_dir)
        torch_device = pick_device(device)
        labels = parse_labels(_read_json(directory / "labels.json"))
        calibration = _read_json(directory / "calibration.json")
        training_args = _read_json(directory / "training_args.json")
        # No "Loading weights" progress bar in a worker's log.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                str(directory), local_files_only=True
            )
        except Exception as exc:  # corrupt weights or tokenizer surface as many error types
            raise ArtifactError(f"cannot load model from {directory}: {exc}") from exc
        if model.config.num_labels != len(labels):
            raise ArtifactError(
                f"artifact {directory}: model has {model.config.num_labels} outputs but "
                f"labels.json has {len(labels)} labels"
            )
        if not getattr(tokenizer, "is_fast", False):
            raise ArtifactError(f"artifact {directory}: needs a fast tokenizer (tokenizer.json)")
        model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)  # evidence needs input gradients only
        model.to(torch_device)
        resolved = resolve_precision(precision, torch_device)
        fast_model: torch.nn.Module = model
        if resolved == "int8":
            with warnings.catch_warnings():
                # torch announces a future move of quantisation APIs; behaviour is unchanged.
                warnings.simplefilter("ignore", category=UserWarning)
                warnings.simplefilter("ignore", category=DeprecationWarning)
                fast_model = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                    model, {torch.nn.Linear}, dtype=torch.qint8, inplace=False
                )
            fast_model.eval()
        if packed is None:
            packed = default_packed()
        engine = evidence_engine = None
        if packed and torch_device.type == "cpu" and supports(model):
            if resolved == "int8":
                engine = PackedBertClassifier(model, fast_model)
                evidence_engine = PackedBertClassifier(model)
            else:
                dtype = torch.bfloat16 if resolved == "bf16" else torch.float32
                engine = evidence_engine = PackedBertClassifier(model, matmul_dtype=dtype)
        # Both forwards take the evidence at the same layer, so a GPU (Hugging Face forward)
        # and a CPU (packed engine) show the same words for the same model.
        depth = int(getattr(model.config, "num_hidden_layers", 0) or 0)
        from_layer = 0
        if depth:
            from_layer = resolve_evidence_layer(
                default_evidence_layer() if evidence_layer is None else evidence_layer, depth
            )
        ood = OodCheck.load(directory)
        if ood is None:
            logger.warning(
                "model %s has no out-of-distribution statistics (trained before the check "
                "existed): suggestions abstain on low confidence only",
                directory.name,
            )
        return cls(
            model=model,
            fast_model=fast_model,
            tokenizer=tokenizer,
            labels=labels,
            temperature=float(calibration["temperature"]),
            threshold=float(calibration["threshold"]),
            max_length=int(training_args.get("max_length", 128)),
            stride=int(training_args.get("stride", 32)),
            device=torch_device,
            version=directory.name,
            precision=resolved,
            max_text_chars=max_text_chars or default_max_text_chars(),
            top_k=min(top_k, len(labels)),
            batch_size=batch_size,
            engine=engine,
            evidence_engine=evidence_engine,
            evidence_from_layer=from_layer,
            ood=ood,
            differential_threshold=float(
                calibration.get("differential_threshold", DIFFERENTIAL_THRESHOLD)
            ),
            differential_temperature=(
                float(calibration["differential_temperature"])
                if "differential_temperature" in calibration
                else None
            ),
            structured=StructuredDifferential.load(directory),
            tfidf=TfidfScorer.load(directory),
        )

    # --- input ---------------------------------------------------------------------------------

    def check_text(self, text: str) -> None:
        """Raise ``InputTextError`` for a text the classifier must not be given."""
        if not isinstance(text, str):
            raise InputTextError(f"text must be a string, not {type(text).__name__}")
        if not text.strip():
            raise InputTextError("text is empty")
        if len(text) > self.max_text_chars:
            raise InputTextError(
                f"text is too long: {len(text)} characters, the limit is {self.max_text_chars}"
            )

    def encode(self, texts: Sequence[str]) -> list[Window]:
        with self._tokenizer_lock:
            return encode_windows(self.tokenizer, texts, self.max_length, self.stride)

    # --- model ---------------------------------------------------------------------------------

    def _pad(self, windows: Sequence[Window]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(window.input_ids) for window in windows)
        ids = torch.full((len(windows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(windows), width), dtype=torch.long)
        for row, window in enumerate(windows):
            ids[row, : len(window.input_ids)] = torch.tensor(window.input_ids)
            mask[row, : len(window.input_ids)] = 1
        return ids.to(self.device), mask.to(self.device)

    def _length_sorted_batches(self, windows: Sequence[Window]) -> list[list[int]]:
        """Window indices grouped into batches of similar length (little padding)."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def _token_budget_batches(self, windows: Sequence[Window]) -> list[list[int]]:
        """Window indices in length order, cut so that no batch has more than ``batch_size``
        full windows' worth of tokens (the packed engine has no padding to bound)."""
        budget = self.batch_size * self.max_length
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        batches: list[list[int]] = [[]]
        tokens = 0
        for index in order:
            length = len(windows[index].input_ids)
            if batches[-1] and tokens + length > budget:
                batches.append([])
                tokens = 0
            batches[-1].append(index)
            tokens += length
        return batches if batches[0] else []

    def window_logits(self, windows: Sequence[Window]) -> np.ndarray:
        """Raw logits per window, batched by length, under inference mode."""
        return self.window_outputs(windows)[0]

    def window_outputs(self, windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
        """Raw logits and pooled vectors (what the head reads, the OOD check's features) per
        window, batched by length, under inference mode."""
        result = np.zeros((len(windows), len(self.labels)), dtype=np.float64)
        pooled_rows: list[np.ndarray | None] = [None] * len(windows)
        if self.engine is not None:
            with torch.inference_mode():
                for chunk in self._token_budget_batches(windows):
                    logits, pooled = self.engine.logits_and_pooled(
                        [windows[i].input_ids for i in chunk]
                    )
                    result[chunk] = logits.float().numpy()
                    for row, index in enumerate(chunk):
                        pooled_rows[index] = pooled[row].float().numpy()
            return result, _stack(pooled_rows)
        with torch.inference_mode():
            for chunk in self._length_sorted_batches(windows):
                ids, mask = self._pad([windows[i] for i in chunk])
                with torch.autocast(
                    self.device.type,
                    dtype=self.autocast_dtype,
                    enabled=self.autocast_dtype is not None,
                ):
                    output = self.fast_model(
                        input_ids=ids, attention_mask=mask, output_hidden_states=True
                    )
                    pooled = pooled_output(self.fast_model, output.hidden_states[-1])
                result[chunk] = output.logits.float().cpu().numpy()
                for row, index in enumerate(chunk):
                    pooled_rows[index] = pooled[row].float().cpu().numpy()
        return result, _stack(pooled_rows)

    def logits_and_ood_scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Uncalibrated logits and OOD scores (higher: less like the training data; None when
        the model has no OOD statistics) per text, from one forward; texts are checked first."""
        for text in texts:
            self.check_text(text)
        windows = self.encode(texts)
        window_logits, window_pooled = self.window_outputs(windows)
        logits = self.scores(texts, self.aggregate(windows, window_logits, len(texts)))
        if self.ood is None:
            return logits, None
        return logits, self.ood.scores(self.aggregate(windows, window_pooled, len(texts)), logits)

    def abstain_reasons(self, top_probability: float, ood_score: float | None) -> tuple[str, ...]:
        """Why a suggestion abstains: ``low_confidence`` below the probability threshold,
        ``out_of_distribution`` above the OOD threshold; () when it does not."""
        reasons = []
        if top_probability < self.threshold:
            reasons.append(LOW_CONFIDENCE)
        if ood_score is not None and self.ood is not None and ood_score > self.ood.threshold:
            reasons.append(OUT_OF_DISTRIBUTION)
        return tuple(reasons)

    def _single_pass_evidence(self, windows: Sequence[Window]) -> bool:
        """Whether classification and evidence can share one differentiable forward: the
        classifying engine is the full-precision one and the windows fit one token budget
        (the graph of every window is kept until the top labels are known)."""
        return (
            self.engine is not None
            and self.engine is self.evidence_engine
            and sum(len(window.input_ids) for window in windows)
            <= self.batch_size * self.max_length
        )

    @staticmethod
    def aggregate(windows: Sequence[Window], window_logits: np.ndarray, n_texts: int) -> np.ndarray:
        """Mean of window logits per text (``data.mean_window_logits``)."""
        return mean_window_logits(windows, window_logits, n_texts)

    def scores(self, texts: Sequence[str], logits: np.ndarray) -> np.ndarray:
        """The served scores of ``texts`` from the transformer's text ``logits``: those logits,
        or for a hybrid artifact the hybrid's log-probabilities."""
        if self.tfidf is None:
            return logits
        return hybrid_logits(logits, self.tfidf.predict_proba(texts), self.tfidf.transformer_weight)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated scores per text (windows' logits averaged, then ``scores``); texts are
        checked first."""
        for text in texts:
            self.check_text(text)
        windows = self.encode(texts)
        return self.scores(texts, self.aggregate(windows, self.window_logits(windows), len(texts)))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities per text."""
        return softmax(self.logits(texts), self.temperature)

    def differential(self, texts: Sequence[str]) -> list[tuple[RankedLabel, ...]]:
        """Per text, the differential: every label whose probability at the differential's
        temperature is at least ``differential_threshold`` (both chosen on validation for DDF1),
        most probable first, with those probabilities."""
        return [
            self._ranked(row, self._differential_ids(row))
            for row in softmax(self.logits(texts), self.differential_temperature)
        ]

    def _differential_ids(self, differential_row: np.ndarray) -> list[int]:
        """The differential's class ids, most probable first, from one row of probabilities at
        the differential temperature."""
        order = [int(i) for i in np.argsort(-differential_row, kind="stable")]
        return [i for i in order if differential_row[i] >= self.differential_threshold]

    def _structured_ids(self, case: StructuredCase, top_id: int, probs: np.ndarray) -> list[int]:
        """A structured case's differential: the conditions the answers' model keeps, with the
        classifier's first choice (the DDXPlus pathology is in its own differential in every
        training case), ordered by calibrated probability."""
        assert self.structured is not None
        ids = {
            self._by_ddxplus_name[name]
            for name, _ in self.structured.members(case)
            if name in self._by_ddxplus_name
        }
        ids.add(top_id)
        return sorted(ids, key=lambda i: (-float(probs[i]), i))

    def _ranked(self, probs: np.ndarray, ids: Sequence[int]) -> tuple[RankedLabel, ...]:
        return tuple(
            RankedLabel(
                key=self.labels[i].key,
                display_name=self.labels[i].display_name,
                icd10=self.labels[i].icd10,
                probability=round(float(probs[i]), 6),
                urgency=self.labels[i].urgency,
            )
            for i in ids
        )

    # --- evidence ------------------------------------------------------------------------------

    def _token_attributions(
        self, windows: Sequence[Window], targets: Sequence[int]
    ) -> list[np.ndarray]:
        """Gradient x input (summed over the embedding dimension) per token of each window,
        for the logit of ``targets[window.text_index]``."""
        scores: list[np.ndarray] = [np.zeros(0)] * len(windows)
        if self.evidence_engine is not None:
            for chunk in self._token_budget_batches(windows):
                chunk_scores = self.evidence_engine.token_attributions(
                    [windows[i].input_ids for i in chunk],
                    [targets[windows[i].text_index] for i in chunk],
                    from_layer=self.evidence_from_layer,
                )
                for index, score in zip(chunk, chunk_scores, strict=True):
                    scores[index] = score.numpy()
            return scores
        embeddings = self.model.get_input_embeddings()
        for chunk in self._length_sorted_batches(windows):
            ids, mask = self._pad([windows[i] for i in chunk])
            target = torch.tensor(
                [targets[windows[i].text_index] for i in chunk], device=self.device
            )
            with torch.enable_grad():
                inputs = embeddings(ids).detach().requires_grad_(True)
                with torch.autocast(
                    self.device.type,
                    dtype=self.autocast_dtype,
                    enabled=self.autocast_dtype is not None,
                ):
                    output = self.model(
                        inputs_embeds=inputs,
                        attention_mask=mask,
                        output_hidden_states=self.evidence_from_layer > 0,
                    )
                # hidden_states[k] is what enters layer k, as in the packed engine; autograd
                # stops there, so the backward pass covers only the layers above it.
                activation = (
                    inputs
                    if self.evidence_from_layer == 0
                    else output.hidden_states[self.evidence_from_layer]
                )
                # Windows are independent, so the gradient of the sum is each window's own.
                selected = output.logits.float().gather(1, target[:, None]).sum()
                (gradient,) = torch.autograd.grad(selected, activation)
            per_token = (gradient * activation).sum(dim=-1).detach().float().cpu().numpy()
            for row, index in enumerate(chunk):
                scores[index] = per_token[row, : len(windows[index].input_ids)]
        return scores

    def _transformer_share(
        self, transformer_logits: np.ndarray, scores: np.ndarray, label: int
    ) -> float:
        """The transformer's part of ``label``'s hybrid probability (1 without a TF-IDF half):
        w p / (w p + (1 - w) q), where the hybrid is that sum (``baseline.hybrid_logits``)."""
        if self.tfidf is None:
            return 1.0
        p = float(softmax(transformer_logits[None, :])[0, label])
        return min(1.0, self.tfidf.transformer_weight * p / float(np.exp(scores[label])))

    def _word_scores(
        self,
        text: str,
        windows: Sequence[Window],
        token_scores: Sequence[np.ndarray],
        label: int,
        transformer_share: float,
    ) -> dict[tuple[int, int], float]:
        """Per word span of ``text``, how much it drove the served score of ``label``: the
        transformer's gradient x input summed over the word's tokens (a word seen by two
        overlapping windows keeps its larger score). For a hybrid artifact, those scores
        scaled to their largest magnitude and weighted by ``transformer_share`` (the
        transformer's part of the label's hybrid probability), plus the TF-IDF model's word
        contributions to the label (``TfidfScorer.word_contributions``), scaled alike and
        weighted by the rest."""
        transformer: dict[tuple[int, int], float] = {}
        for window, scores in zip(windows, token_scores, strict=True):
            per_word: dict[int, list[float]] = defaultdict(lambda: [np.inf, -np.inf, 0.0])
            for (start, end), word_id, score in zip(
                window.offsets, window.word_ids, scores, strict=True
            ):
                if word_id is None or end <= start:
                    continue
                entry = per_word[word_id]
                entry[0], entry[1] = min(entry[0], start), max(entry[1], end)
                entry[2] += float(score)
            for start_f, end_f, score in per_word.values():
                span = (int(start_f), int(end_f))
                transformer[span] = max(transformer.get(span, -np.inf), score)
        if self.tfidf is None:
            return transformer
        combined: dict[tuple[int, int], float] = defaultdict(float)
        for part, weight in (
            (transformer, transformer_share),
            (self.tfidf.word_contributions(text, label), 1.0 - transformer_share),
        ):
            scale = max((abs(score) for score in part.values()), default=0.0)
            if scale > 0:
                for span, score in part.items():
                    combined[span] += weight * score / scale
        return dict(combined)

    def _evidence_spans(
        self, text: str, word_scores: dict[tuple[int, int], float]
    ) -> tuple[EvidenceSpan, ...]:
        """The strongest few words that raised the label (``_word_scores``), adjacent ones
        merged into phrases, each scored relative to the strongest."""
        candidates = [
            (span, score)
            for span, score in word_scores.items()
            if score > 0
            and re.search(r"\w", text[span[0] : span[1]])
            and text[span[0] : span[1]].casefold() not in EVIDENCE_STOPWORDS
        ]
        if not candidates:
            return ()
        strongest = max(score for _, score in candidates)
        candidates = [c for c in candidates if c[1] >= EVIDENCE_MIN_RELATIVE_SCORE * strongest]
        candidates.sort(key=lambda c: -c[1])
        chosen = sorted(candidates[:DEFAULT_MAX_EVIDENCE], key=lambda c: c[0][0])
        # Adjacent chosen words ("chest" "pain") become one phrase scored by its best word.
        merged: list[list[Any]] = []
        for (start, end), score in chosen:
            if merged and text[merged[-1][1] : start].strip() in ("", "-"):
                merged[-1][1] = end
                merged[-1][2] = max(merged[-1][2], score)
            else:
                merged.append([start, end, score])
        spans = [
            EvidenceSpan(start=s, end=e, text=text[s:e], score=round(score / strongest, 4))
            for s, e, score in merged
        ]
        spans.sort(key=lambda span: -span.score)
        return tuple(spans)

    # --- suggestions ---------------------------------------------------------------------------

    def suggest(
        self,
        texts: list[str],
        *,
        explain: bool = True,
        cases: Sequence[StructuredCase | None] | None = None,
    ) -> list[Suggestion]:
        """Ranked, calibrated, triaged (and, with ``explain``, evidenced) suggestions per text.

        ``cases``: per text, its structured answers (the intake interview's) or None; where the
        artifact has a model of the answers, a structured case's differential comes from it."""
        if cases is not None and len(cases) != len(texts):
            raise ValueError(f"{len(cases)} structured cases for {len(texts)} texts")
        for index, text in enumerate(texts):
            try:
                self.check_text(text)
            except InputTextError as exc:
                raise InputTextError(
                    f"text {index}: {exc}" if len(texts) > 1 else str(exc)
                ) from None
        if not texts:
            return []
        windows = self.encode(texts)
        token_scores: list[np.ndarray] | None = None
        if explain and self._single_pass_evidence(windows):
            assert self.engine is not None
            window_logits, window_pooled, attribute = self.engine.forward_for_attribution(
                [window.input_ids for window in windows], from_layer=self.evidence_from_layer
            )
            transformer = self.aggregate(windows, window_logits.double().numpy(), len(texts))
            logits = self.scores(texts, transformer)
            pooled = self.aggregate(windows, window_pooled.double().numpy(), len(texts))
            probs = softmax(logits, self.temperature)
            top_ids = [int(row.argmax()) for row in probs]
            scores = attribute([top_ids[window.text_index] for window in windows])
            token_scores = [score.numpy() for score in scores]
        else:
            window_logits_np, window_pooled_np = self.window_outputs(windows)
            transformer = self.aggregate(windows, window_logits_np, len(texts))
            logits = self.scores(texts, transformer)
            pooled = self.aggregate(windows, window_pooled_np, len(texts))
            probs = softmax(logits, self.temperature)
            top_ids = [int(row.argmax()) for row in probs]
            token_scores = self._token_attributions(windows, top_ids) if explain else None
        ood_scores = self.ood.scores(pooled, logits) if self.ood is not None else None
        differential_probs = softmax(logits, self.differential_temperature)

        by_text: dict[int, list[int]] = defaultdict(list)
        for index, window in enumerate(windows):
            by_text[window.text_index].append(index)
        suggestions = []
        for text_index, text in enumerate(texts):
            row = probs[text_index]
            ranked = self._ranked(row, [int(i) for i in np.argsort(-row)[: self.top_k]])
            # The differential's members come from its own rule; each shows its calibrated
            # probability, like the ranked list.
            members = self._differential_ids(differential_probs[text_index])
            case = cases[text_index] if cases is not None else None
            if case is not None and self.structured is not None:
                members = self._structured_ids(case, top_ids[text_index], row)
            own = by_text[text_index]
            evidence: tuple[EvidenceSpan, ...] = ()
            if token_scores is not None:
                top_id = top_ids[text_index]
                evidence = self._evidence_spans(
                    text,
                    self._word_scores(
                        text,
                        [windows[i] for i in own],
                        [token_scores[i] for i in own],
                        top_id,
                        transformer_share=self._transformer_share(
                            transformer[text_index], logits[text_index], top_id
                        ),
                    ),
                )
            flags = tuple(find_red_flags(text))
            ood_score = None if ood_scores is None else float(ood_scores[text_index])
            # The stored (rounded) top probability decides, so a stored suggestion is
            # consistent with the threshold it is compared against.
            reasons = self.abstain_reasons(ranked[0].probability, ood_score)
            ood_score = None if ood_score is None else round(ood_score, 6)
            suggestions.append(
                Suggestion(
                    ranked=ranked,
                    urgency=triage_urgency(self.labels[top_ids[text_index]].urgency, flags),
                    abstained=bool(reasons),
                    evidence=evidence,
                    red_flags=flags,
                    windowed=len(own) > 1,
                    n_windows=len(own),
                    model_version=self.version,
                    abstain_reasons=reasons,
                    ood_score=ood_score,
                    differential=self._ranked(row, members[:MAX_DIFFERENTIAL]),
                )
            )
        return suggestions


def _stack(rows: Sequence[np.ndarray | None]) -> np.ndarray:
    if not rows:
        return np.zeros((0, 0), dtype=np.float64)
    return np.stack([np.asarray(row, dtype=np.float64) for row in rows])


def pooled_output(model: torch.nn.Module, last_hidden: torch.Tensor) -> torch.Tensor:
    """The vector a sequence classifier's head reads: the BERT pooler on the last hidden states
    where the model has one, else the first token's last hidden state."""
    pooler = getattr(getattr(model, "bert", None), "pooler", None)
    if pooler is not None:
        result: torch.Tensor = pooler(last_hidden)
        return result
    return last_hidden[:, 0]


# --- command line ----------------------------------------------------------------------------


def format_suggestion(suggestion: Suggestion) -> str:
    lines = [f"model {suggestion.model_version}   urgency: {suggestion.urgency.upper()}"]
    if LOW_CONFIDENCE in suggestion.abstain_reasons:
        lines.append("ABSTAINED: the model is unsure; treat the ranking with extra caution")
    if OUT_OF_DISTRIBUTION in suggestion.abstain_reasons:
        lines.append(
            "ABSTAINED: this text is unlike the cases the model was trained on; the ranking "
            "may be meaningless"
        )
    if suggestion.ood_score is None:
        lines.append("out-of-distribution check: unavailable for this model version")
    for rank, item in enumerate(suggestion.ranked, start=1):
        lines.append(
            f"{rank}. {item.display_name:<36} {item.icd10:<7} {100 * item.probability:6.2f}%"
        )
    for flag in suggestion.red_flags:
        lines.append(f"RED FLAG [{flag.rule_id}] {flag.reason}: '{flag.matched_text}'")
    if suggestion.evidence:
        words = ", ".join(f"'{span.text}' ({span.score:.2f})" for span in suggestion.evidence)
        lines.append(f"evidence: {words}")
    if suggestion.windowed:
        lines.append(f"long text read as {suggestion.n_windows} overlapping windows")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from medconsult.config import get_settings
    from medconsult.ml.artifacts import require_default_model_dir

    model_dir = args.model or require_default_model_dir(get_settings())
    classifier = Classifier.load(
        model_dir, device=args.device, precision=args.precision, top_k=args.top_k
    )
    suggestions = classifier.suggest(list(args.text), explain=not args.no_evidence)
    if args.format == "json":
        print(json.dumps([s.to_dict() for s in suggestions], indent=2))
    else:
        print("\n\n".join(format_suggestion(s) for s in suggestions))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return options.main("predict", __doc__, options.add_predict_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
