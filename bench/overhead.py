"""Harness overhead without a model: build every prompt and score every item of every task.

Usage: python bench/overhead.py --data-dir ../shared/data [--tasks a,b] [--tokenizer proxy:gemma3-270m]
Prints seconds per task, the total and the peak RSS. Outputs are dummies (the gold answer for
generation tasks, a fixed ranking for multiple choice, a fixed judgment for judged tasks): scoring cost, not accuracy, is measured.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from swallow_eval import UserError
from swallow_eval.pipeline import ItemResponses
from swallow_eval.rescore import load_tokenizer, prepare_task, score_responses
from swallow_eval.task import load_registry


def dummy_response(task, item) -> ItemResponses:
    if task.judge is not None:  # a two-turn answer and one judgment per turn
        texts = ["回答です。", "二つ目の回答です。"]
        return ItemResponses(texts=texts, judgments=["Rating: [[5]]"] * len(task.judge(item, texts)))
    if item.choices is not None and item.prompt is None:
        return ItemResponses(loglikelihoods=[-float(k) for k in range(len(item.choices))])
    text = item.target if isinstance(item.target, str) else str(item.target)
    return ItemResponses(texts=[text], loglikelihoods=[-1.0] * len(item.choices or []) or None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--tasks", default=None)
    parser.add_argument("--tokenizer", default=None, help="model whose tokenizer tasks/metrics need")
    args = parser.parse_args()
    tokenizer = load_tokenizer(args.tokenizer)
    registry = load_registry()
    names = args.tasks.split(",") if args.tasks else list(registry)
    total_items, started = 0, time.perf_counter()
    print(f"{'task':<16} {'items':>7} {'build s':>8} {'score s':>8}")
    for name in names:
        task = registry[name]
        t0 = time.perf_counter()
        try:
            prepared = prepare_task(task, args.data_dir, tokenizer)
        except UserError as exc:
            print(f"{name:<16} skipped: {exc}")
            continue
        t1 = time.perf_counter()
        score_responses(prepared, [(i.index, dummy_response(task, i)) for i in prepared.items], tokenizer)
        t2 = time.perf_counter()
        total_items += len(prepared.items)
        print(f"{name:<16} {len(prepared.items):>7} {t1 - t0:>8.2f} {t2 - t1:>8.2f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total: {total_items} items in {time.perf_counter() - started:.2f} s, peak RSS {peak_mb:.0f} MB "
          f"(targets for the full Ja+En suites: <= 60 s, <= 2048 MB)")


if __name__ == "__main__":
    main()
