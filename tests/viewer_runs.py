"""Run folders for the viewer and leaderboard tests, written without a model.

The prompts are the real ones (the tasks' builders on the real files); the model outputs are CANNED,
chosen here: the gold answer except at chosen positions. They are scored by the real scoring (the
code task's programs run in the real sandbox, MT-Bench's canned judgments are parsed by the real
rating parser) and written by the real writer (swallow_eval/results.py), as `swallow-eval run` writes.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

from swallow_eval.data import SAMPLE_ROOT, DataRoot
from swallow_eval.metrics import MetricContext
from swallow_eval.pipeline import (
    ItemResponses,
    PreparedTask,
    item_requests,
    limit_items,
    prepare,
)
from swallow_eval.schema import SCHEMA_VERSION
from swallow_eval.results import (
    config_hash,
    package_versions,
    task_result,
    write_results,
    write_samples,
)
from swallow_eval.scoring import score_task
from swallow_eval.task import BuildContext, load_registry

# Generation (GSM8K: few-shot examples sampled per item), log-likelihood (MMLU: subtasks and groups;
# XWinograd: a context per choice), code, judged two-turn chat, and a corpus metric (BLEU: no per-item scores).
TASKS = ("jcommonsenseqa", "mmlu", "xwinograd_en", "jhumaneval", "mt_bench_ja", "wmt20_en_ja", "gsm8k")
LIMIT = 12  # --limit: per subtask for MMLU (57 subjects), questions for MT-Bench (5 answers each)


def canned_response(task, item, position: int, wrong: set[int], data_root: Path) -> ItemResponses:
    """The gold answer (or a wrong one at `wrong` positions) in the shape the task's backend returns."""
    if task.judge is not None:
        answers = [f"回答{position}です。", f"二つ目の回答{position}です。"]
        rating = 3 if position in wrong else 8
        return ItemResponses(texts=answers, judgments=[f"良い回答です。Rating: [[{rating}]]",
                                                       f"Rating: [[{rating - 1}]]"])
    if item.choices is not None and item.prompt is None:
        gold = item.target if position not in wrong else (item.target + 1) % len(item.choices)
        return ItemResponses(loglikelihoods=[-1.5 - k if k != gold else -0.5 for k in range(len(item.choices))],
                             greedy=[k == gold for k in range(len(item.choices))])
    if task.name == "jhumaneval":
        solution = _canonical_solutions(data_root)[item.meta["task_id"]]
        passing = {0: 10, 1: 4}.get(position, 0)
        return ItemResponses(texts=[solution] * passing + ["    return None\n"] * (10 - passing))
    if position in wrong:
        return ItemResponses(texts=["わかりません" if task.suite == "ja" else "I do not know"])
    target = item.target if isinstance(item.target, str) else str(item.target)
    return ItemResponses(texts=[target])


def _canonical_solutions(data_root: Path) -> dict[str, str]:
    with gzip.open(data_root / "jhumaneval" / "jhuman-eval.jsonl.gz", "rt", encoding="utf-8") as handle:
        return {row["task_id"]: row["canonical_solution"] for row in map(json.loads, handle)}


def write_canned_run(folder: Path, data_dir: Path | None, wrong: dict[str, set[int]], *,
                     tasks=TASKS, limit: int | None = LIMIT, model: str = "canned:gold-with-mistakes") -> Path:
    """A run folder of `tasks`, as `swallow-eval run --limit LIMIT` writes it; data_dir None: the embedded samples."""
    registry = load_registry()
    started = time.perf_counter()
    (folder / "samples").mkdir(parents=True)
    results, requests = {}, 0
    for name in tasks:
        task = registry[name]
        if data_dir is None:
            root = DataRoot(SAMPLE_ROOT, "embedded-sample")
            prepared = PreparedTask(task, limit_items(task.build(root, BuildContext()), limit), root)
        else:
            prepared = prepare(task, data_dir, limit, BuildContext())
        responses = [canned_response(task, item, k, wrong.get(name, set()), data_dir or SAMPLE_ROOT)
                     for k, item in enumerate(prepared.items)]
        requests += sum(len(item_requests(task, item, False)) for item in prepared.items)
        score = score_task(task, prepared.items, responses, MetricContext())
        write_samples(folder / "samples" / f"{name}.jsonl", prepared, score, responses)
        results[name] = task_result(prepared, score, responses)
    settings = {"backend": "canned", "outputs": "canned by tests/viewer_runs.py"}
    config = {"tasks": list(tasks), "model": model, "backend": "canned", "limit": limit, "max_new_tokens_cap": None,
              "backend_settings": settings, "task_versions": {n: str(registry[n].version) for n in tasks}}
    seconds = round(time.perf_counter() - started, 3)
    write_results(folder, {
        "schema_version": SCHEMA_VERSION, "run_id": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + config_hash(config),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {"spec": model, "name": model.replace(":", "_"), "identity": "canned outputs (tests/viewer_runs.py)",
                  "model_type": "canned", "tokenizer_adds_bos": False},
        "backend": settings, "config": {**config, "config_hash": config_hash(config)},
        "versions": package_versions(), "tasks": results, "skipped": {},
        "card": {r["card"]["column"]: r["card"]["value"] for r in results.values()},
        "requests": {"total": requests, "distinct": requests, "cached": 0, "computed": requests},
        "tokens": {"prompt": 0, "generated": 0},
        "timings": {"model_load_s": 0.0, "scoring_s": seconds, "total_s": seconds},
    })
    return folder
