"""What does one training epoch cost on the default data, against Symptom2Disease alone; and
what do length-grouped batches save against random ones?

    python benchmarks/train_cost.py [--steps 12] [--threads 2]
    python benchmarks/train_cost.py --grouping [--steps 40] [--threads 2]

Times optimiser steps of the default recipe (all-MiniLM-L6-v2, batch 16, max length 128) on
batches drawn at random from (a) the Symptom2Disease training windows and (b) the combined
default training windows (Symptom2Disease + DDXPlus renderings), in the same run, in CPU
seconds of this process (``time.process_time``: robust to other load on a shared machine). It
prints the CPU seconds per epoch of each and their ratio; wall time on an otherwise idle
machine is about CPU seconds / threads when the threads scale.

``--grouping``: on the combined training windows, one epoch's batches as training cuts them
with random batches (``--length-group 1``) and with the default length-sorted groups
(``DEFAULT_LENGTH_GROUP``), in the same run: padded tokens per real token over the whole epoch
(exact), and CPU seconds per epoch from the first ``--steps`` batches of each (the batches are
shuffled, so those are a random sample), with their ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from medconsult.ml.data import (  # noqa: E402
    LABEL2ID,
    default_data_paths,
    encode_windows,
    load_dataset,
    split_per_source,
)
from medconsult.ml.options import (  # noqa: E402
    DEFAULT_BATCH_SIZE,
    DEFAULT_LENGTH_GROUP,
    DEFAULT_MAX_LENGTH,
    DEFAULT_STRIDE,
)
from medconsult.ml.train import (  # noqa: E402
    TrainConfig,
    build_model,
    default_base_model,
    length_grouped_batches,
    optimizer_for,
    pad_batch,
)


def cpu_seconds_per_step(model, tokenizer, windows, targets, steps, config, batches=None):  # type: ignore[no-untyped-def]
    optimizer = optimizer_for(model, config)
    rng = random.Random(0)
    model.train()
    started = time.process_time()
    for step in range(steps):
        if batches is None:
            chunk = rng.sample(range(len(windows)), DEFAULT_BATCH_SIZE)
        else:
            chunk = batches[step]
        batch = pad_batch([windows[i] for i in chunk], tokenizer.pad_token_id, torch.device("cpu"))
        labels = torch.tensor([targets[windows[i].text_index] for i in chunk])
        loss = torch.nn.functional.cross_entropy(model(**batch).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.process_time() - started) / steps


def epoch_cost(name: str, detail: str, per_step: float, steps: int) -> float:
    """Print and return the CPU seconds of an epoch of ``steps`` steps."""
    cost = per_step * steps
    print(
        f"{name}: {detail}, {steps} steps/epoch, {per_step:.2f} CPU s/step -> {cost:.0f} CPU "
        "s/epoch",
        flush=True,
    )
    return cost


def grouping(model, tokenizer, config, parts, steps):  # type: ignore[no-untyped-def]
    train_set, _ = split_per_source(parts, config.val_fraction, config.seed)
    windows = encode_windows(tokenizer, train_set.texts, DEFAULT_MAX_LENGTH, DEFAULT_STRIDE)
    targets = [LABEL2ID[str(label)] for label in train_set.labels]
    lengths = [len(window.input_ids) for window in windows]
    results = {}
    for name, group in (("random batches", 1), ("length-grouped", DEFAULT_LENGTH_GROUP)):
        batches = length_grouped_batches(
            lengths, DEFAULT_BATCH_SIZE, group, random.Random(config.seed)
        )
        padded = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
        per_step = cpu_seconds_per_step(
            model, tokenizer, windows, targets, min(steps, len(batches)), config, batches
        )
        detail = f"group {group}, {padded / sum(lengths):.3f} padded tokens per real token"
        results[name] = epoch_cost(name, detail, per_step, len(batches))
    ratio = results["random batches"] / results["length-grouped"]
    print(f"epoch cost ratio, random / length-grouped batches: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--grouping", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = TrainConfig()
    model, tokenizer = build_model(config, default_base_model())
    parts = [load_dataset(path) for path in default_data_paths()]
    if args.grouping:
        grouping(model, tokenizer, config, parts, args.steps)
        return
    results = {}
    for name, chosen in (("symptom2disease", parts[:1]), ("combined", parts)):
        train_set, _ = split_per_source(chosen, config.val_fraction, config.seed)
        windows = encode_windows(tokenizer, train_set.texts, DEFAULT_MAX_LENGTH, DEFAULT_STRIDE)
        targets = [LABEL2ID[str(label)] for label in train_set.labels]
        per_step = cpu_seconds_per_step(model, tokenizer, windows, targets, args.steps, config)
        steps = -(-len(windows) // DEFAULT_BATCH_SIZE)
        detail = f"{len(train_set)} texts, {len(windows)} windows"
        results[name] = epoch_cost(name, detail, per_step, steps)
        minutes = results[name] / args.threads / 60
        print(f"  (~{minutes:.1f} min/epoch on {args.threads} idle cores)")
    ratio = results["combined"] / results["symptom2disease"]
    print(f"epoch cost ratio, combined / symptom2disease: {ratio:.1f}")


if __name__ == "__main__":
    main()
