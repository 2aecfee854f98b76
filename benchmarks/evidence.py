"""Evidence benchmark: where to take the attribution, its cost and its quality.

    python benchmarks/evidence.py [--model DIR] [--texts N] [--layers 0,1,2,3,4,5]

The evidence shown to doctors is gradient x activation for the top label, per token, summed per
word. Taken at the word embeddings (layer 0, the original evidence) the backward pass runs through
every encoder layer; taken at the input of layer ``k`` it stops there, and layers below ``k`` run
without an autograd graph. This script measures, for each ``k``, on the same texts (dataset
descriptions plus long "history + report" texts stitched from several, as in
``benchmarks/inference.py``), in batches as the worker's dynamic batcher runs them:

- ``ms_per_text``: the classifier's ``suggest(explain=True)`` time per text, beside
  ``explain=False`` (classification alone) measured in the same run, and
  ``evidence_ms_per_text`` = the difference, with ``evidence_cost_vs_layer0`` its ratio to the
  layer-0 evidence cost;
- agreement with the layer-0 spans: ``word_jaccard`` (mean Jaccard index of the evidence word
  sets), ``top_word_agreement`` (the strongest evidence word is the same);
- faithfulness, the same test for every ``k`` and for layer 0: ``deletion_drop``, the mean drop
  of the top label's probability when the evidence words are deleted from the text, beside
  ``random_deletion_drop``, deleting as many randomly chosen words (higher is more faithful).

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch

from medconsult.ml.artifacts import resolve_default_model_dir
from medconsult.ml.data import default_data_path, load_dataset
from medconsult.ml.predict import Classifier
from medconsult.ml.types import Suggestion

# --- defaults --------------------------------------------------------------------------------
DEFAULT_TEXTS = 256
DEFAULT_BATCH = 16  # texts per suggest call: a typical dynamic-batcher batch at 20/s
LONG_FRACTION = 0.2
LONG_TEXT_PARTS = (4, 10)
TIMING_REPEATS = 3  # the fastest of these, per configuration
# ----------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def build_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    base = list(load_dataset(default_data_path()).texts)
    texts = []
    for _ in range(n):
        if rng.random() < LONG_FRACTION:
            parts = rng.sample(base, rng.randint(*LONG_TEXT_PARTS))
            texts.append("History: " + " ".join(parts[:-1]) + " Now: " + parts[-1])
        else:
            texts.append(rng.choice(base))
    return texts


def batches(texts: Sequence[str], size: int) -> list[list[str]]:
    return [list(texts[i : i + size]) for i in range(0, len(texts), size)]


def run(
    classifier: Classifier, texts: Sequence[str], size: int, explain: bool
) -> tuple[float, list[Suggestion]]:
    """(fastest seconds over the repeats, suggestions)."""
    best = float("inf")
    results: list[Suggestion] = []
    for _ in range(TIMING_REPEATS):
        results = []
        start = time.perf_counter()
        for batch in batches(texts, size):
            results.extend(classifier.suggest(batch, explain=explain))
        best = min(best, time.perf_counter() - start)
    return best, results


def evidence_words(suggestion: Suggestion) -> list[str]:
    """Evidence words, strongest span first."""
    words: list[str] = []
    for span in suggestion.evidence:
        words.extend(word.casefold() for word in _WORD.findall(span.text))
    return words


def delete_words(text: str, words: set[str]) -> str:
    return _WORD.sub(lambda m: "" if m.group(0).casefold() in words else m.group(0), text)


def deletion_drops(
    classifier: Classifier, texts: Sequence[str], suggestions: Sequence[Suggestion], seed: int
) -> tuple[float, float]:
    """Mean drop of the top label's probability when the evidence words are deleted, and when
    as many random words of the text are deleted."""
    rng = random.Random(seed)
    keys = [label.key for label in classifier.labels]
    evidence_texts, random_texts, tops, before = [], [], [], []
    for text, suggestion in zip(texts, suggestions, strict=True):
        chosen = set(evidence_words(suggestion))
        vocabulary = sorted({w.casefold() for w in _WORD.findall(text)})
        if not chosen or len(vocabulary) <= len(chosen):
            continue
        evidence_texts.append(delete_words(text, chosen) or ".")
        random_texts.append(delete_words(text, set(rng.sample(vocabulary, len(chosen)))) or ".")
        tops.append(keys.index(suggestion.ranked[0].key))
        before.append(suggestion.ranked[0].probability)
    after_evidence = classifier.probabilities(evidence_texts)
    after_random = classifier.probabilities(random_texts)
    drop_e = [
        b - float(after_evidence[i, t]) for i, (t, b) in enumerate(zip(tops, before, strict=True))
    ]
    drop_r = [
        b - float(after_random[i, t]) for i, (t, b) in enumerate(zip(tops, before, strict=True))
    ]
    return statistics.fmean(drop_e), statistics.fmean(drop_r)


def agreement(reference: Sequence[Suggestion], other: Sequence[Suggestion]) -> dict[str, float]:
    jaccards, tops = [], []
    for a, b in zip(reference, other, strict=True):
        words_a, words_b = evidence_words(a), evidence_words(b)
        set_a, set_b = set(words_a), set(words_b)
        union = set_a | set_b
        jaccards.append(len(set_a & set_b) / len(union) if union else 1.0)
        tops.append(float(bool(words_a and words_b) and words_a[0] == words_b[0]))
    return {
        "word_jaccard": round(statistics.fmean(jaccards), 4),
        "top_word_agreement": round(statistics.fmean(tops), 4),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="artifact dir (default: active)")
    parser.add_argument("--texts", type=int, default=DEFAULT_TEXTS)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--layers", default=None, help="comma-separated (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model_dir = args.model or resolve_default_model_dir()
    if model_dir is None:
        print("no trained model: train one or pass --model", file=sys.stderr)
        return 2
    classifier = Classifier.load(model_dir)
    if classifier.evidence_engine is None:
        print("the model has no packed float engine: nothing to compare", file=sys.stderr)
        return 2
    depth = len(classifier.evidence_engine.layers)
    layers = [int(k) for k in args.layers.split(",")] if args.layers else list(range(depth))
    texts = build_texts(args.texts, args.seed)
    classifier.suggest(texts[: args.batch], explain=True)  # warm-up
    plain_s, _ = run(classifier, texts, args.batch, explain=False)
    rows: list[dict[str, Any]] = []
    reference: list[Suggestion] = []
    reference_cost = 0.0
    for k in sorted(set(layers) | {0}):
        classifier.evidence_from_layer = k
        seconds, suggestions = run(classifier, texts, args.batch, explain=True)
        evidence_s = max(seconds - plain_s, 0.0)
        if k == 0:
            reference, reference_cost = suggestions, evidence_s
        drop, random_drop = deletion_drops(classifier, texts, suggestions, args.seed)
        row = {
            "layer": k,
            "ms_per_text": round(1000 * seconds / len(texts), 2),
            "evidence_ms_per_text": round(1000 * evidence_s / len(texts), 2),
            "evidence_cost_vs_layer0": round(evidence_s / reference_cost, 3)
            if reference_cost
            else None,
            **agreement(reference, suggestions),
            "deletion_drop": round(drop, 4),
            "random_deletion_drop": round(random_drop, 4),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {
        "model": Path(model_dir).name,
        "layers_in_model": depth,
        "texts": len(texts),
        "batch": args.batch,
        "threads": args.threads,
        "classify_ms_per_text": round(1000 * plain_s / len(texts), 2),
        "by_layer": rows,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
