"""Writes the results contract (schema.py): `results/<model>/<run-id>/results.json` and `samples/<task>.jsonl`."""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from swallow_eval import __version__
from swallow_eval.data import file_sha256
from swallow_eval.errors import UserError
from swallow_eval.pipeline import ItemResponses, PreparedTask, RunStats
from swallow_eval.schema import SCHEMA_VERSION, ResultsFile, SampleRecord, TaskEntry
from swallow_eval.scoring import TaskScore

TRACKED_PACKAGES = (
    "torch", "transformers", "tokenizers", "datasets", "sacrebleu", "rouge-score", "fugashi",
    "unidic-lite", "mecab-python3", "ipadic", "fuzzywuzzy", "python-Levenshtein", "nagisa", "vllm",
    "sympy", "antlr4-python3-runtime", "numpy",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "swallow-eval": __version__}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def prepare_run_dir(output_dir: Path, model_name: str, config: dict) -> Path:
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + config_hash(config)
    run_dir = output_dir / model_name / run_id
    try:
        (run_dir / "samples").mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise UserError(f"--output-dir {output_dir}: cannot create {run_dir} ({exc.strerror or exc})") from exc
    return run_dir


def check_writable(output_dir: Path) -> None:
    """Fail before the model loads, not after hours of work."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / ".swallow-eval-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--output-dir {output_dir} is not writable ({exc.strerror or exc})") from exc


def task_result(p: PreparedTask, score: TaskScore, responses: list[ItemResponses],
                prompt_tokens: dict[str, int] | None = None) -> TaskEntry:
    task = p.task
    column_metric = score.metrics.get(task.column.metric)
    return {
        "version": task.version,
        "reference": task.reference,
        "shots": task.shots,
        "n": len(p.items),
        "data": {
            "source": p.data.kind,
            "root": str(p.data.root),
            "files": {f.path: file_sha256(p.data.root / f.path)
                      for file in task.files for f in p.data.present(file)},
        },
        "add_bos": p.add_bos,
        "prompt_hash": hashlib.sha256("".join(i.prompt_hash() for i in p.items).encode()).hexdigest()[:16],
        "metrics": {
            name: {"value": _finite(value), "scale": _scale(name), **_details(score.details.get(name))}
            for name, value in score.metrics.items()
        },
        "subtasks": _finite_all(score.subtasks),
        "groups": _finite_all(score.groups),
        "card": {
            "column": task.column.key,
            "label": task.column.label,
            "metric": task.column.metric,
            "value": None if column_metric is None else _finite(task.column.value(column_metric)),
        },
        "tokens": {
            "prompt": sum(r.prompt_tokens for r in responses),
            "generated": sum(r.generated_tokens for r in responses),
        },
        **({"prompt_tokens": prompt_tokens} if prompt_tokens is not None else {}),
    }


def write_samples(path: Path, p: PreparedTask, score: TaskScore, responses: list[ItemResponses]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for position, (item, response) in enumerate(zip(p.items, responses)):
            row: SampleRecord = {"index": item.index}
            if item.subtask is not None:
                row["subtask"] = item.subtask
            row["prompt_hash"] = item.prompt_hash()
            if item.prompt is not None:
                row["prompt"] = item.prompt
            if item.messages is not None:
                row["messages"] = item.messages
            if item.choices is not None:
                row["requests"] = item.choices
            row["target"] = item.target
            if response.texts is not None:
                row["outputs"] = response.texts
            if response.loglikelihoods is not None:
                row["loglikelihoods"] = response.loglikelihoods
                row["greedy"] = response.greedy
            row["prediction"] = score.predictions[position]
            row["metrics"] = {
                name: values[position] for name, values in score.per_item.items() if values is not None
            }
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def results_payload(run_dir: Path, model_ref, engine, config: dict, task_results: dict[str, TaskEntry],
                    skipped: dict[str, str], stats: RunStats, timings: dict[str, float],
                    serving: dict | None = None) -> ResultsFile:
    """The results.json of a finished run."""
    info = engine.info
    payload: ResultsFile = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_dir.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {"spec": model_ref.spec, "name": model_ref.name, "identity": model_ref.identity,
                  "model_type": info.model_type, "tokenizer_adds_bos": info.tokenizer_adds_bos},
        "backend": engine.identity(),
        "config": config,
        "versions": package_versions(),
        "tasks": task_results,
        "skipped": skipped,
        "card": {r["card"]["column"]: r["card"]["value"] for r in task_results.values()},
        "requests": {"total": stats.requests, "distinct": stats.unique, "cached": stats.cached,
                     "computed": stats.computed},
        "tokens": {"prompt": stats.prompt_tokens, "generated": stats.generated_tokens},
        "timings": timings,
    }
    if serving:
        payload["serving"] = serving
    return payload


def write_results(run_dir: Path, payload: ResultsFile) -> Path:
    path = run_dir / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _scale(metric_name: str) -> float:
    from swallow_eval import metrics

    return metrics.get(metric_name).scale


def _details(details: dict | None) -> dict:
    return {"details": details} if details else {}


def _finite(value: float):
    """NaN (a score over no valid items) is written as null: JSON has no NaN."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _finite_all(breakdown: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {part: {name: _finite(v) for name, v in values.items()} for part, values in breakdown.items()}
