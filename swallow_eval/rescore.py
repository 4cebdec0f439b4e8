"""Scoring without a model: saved outputs of a task (`swallow-eval score`) and one metric on pairs
(`swallow-eval metric`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swallow_eval.errors import UserError


def load_tokenizer(name: str | None):
    """The tokenizer of model `name` (a proxy spec, folder or hub id), or None."""
    if name is None:
        return None
    from transformers import AutoTokenizer

    from swallow_eval import models

    try:
        return AutoTokenizer.from_pretrained(models.resolve(name).path)
    except (OSError, ValueError) as exc:
        raise UserError(f"--tokenizer {name}: cannot load ({str(exc).splitlines()[0]})") from exc


@dataclass
class PredictionsScore:
    task: str
    n: int
    metrics: dict[str, float]
    score: Any  # the full scoring.TaskScore (predictions, per-item values, breakdowns)

    def to_json(self) -> dict:
        return {"task": self.task, "n": self.n, "metrics": self.metrics}


def prepare_task(task, data_dir: Path | None = None, tokenizer: Any = None, limit: int | None = None,
                 tasks_dirs=()):
    """pipeline.PreparedTask: the items of `task` (a name or a Task) exactly as a run evaluates them
    (`swallow-eval prompts`)."""
    from swallow_eval.pipeline import prepare
    from swallow_eval.task import BuildContext, load_registry, select_tasks

    chosen = select_tasks(load_registry(tasks_dirs), None, task)[0] if isinstance(task, str) else task
    tok = load_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    return prepare(chosen, data_dir, limit, BuildContext(tokenizer=tok))


def score_responses(prepared, responses: list, tokenizer: Any = None) -> PredictionsScore:
    """Score `responses`, (item index, pipeline.ItemResponses) pairs, of a prepared task."""
    from swallow_eval.metrics import MetricContext
    from swallow_eval.scoring import score_task

    by_index = {item.index: item for item in prepared.items}
    items = [by_index[index] for index, _ in responses]
    result = score_task(prepared.task, items, [r for _, r in responses], MetricContext(tokenizer=tokenizer))
    return PredictionsScore(prepared.task.name, len(items), result.metrics, result)


def score_predictions_file(task: str, predictions: Path, data_dir: Path | None = None, tokenizer: Any = None,
                           tasks_dirs=()) -> PredictionsScore:
    """Re-score saved outputs: JSONL rows `{"index", "output"|"outputs"|"loglikelihoods"[, "judgments"]}`
    (a run's samples file works as is). `tokenizer`: an object, or a model name to load it from."""
    from swallow_eval.data import read_jsonl, row_errors
    from swallow_eval.pipeline import ItemResponses

    tok = load_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    prepared = prepare_task(task, data_dir, tok, tasks_dirs=tasks_dirs)
    indices = {item.index for item in prepared.items}
    responses = []
    for line, row in read_jsonl(predictions):
        with row_errors(predictions, line):
            index = row["index"]
            if index not in indices:
                raise ValueError(f"index {index} is not an item of {task}")
            if not {"output", "outputs", "loglikelihoods"} & row.keys():
                raise KeyError("output or loglikelihoods")
            response = ItemResponses()  # SQuAD2 items need both
            if "output" in row or "outputs" in row:  # "outputs": a run's samples/<task>.jsonl
                output = row["output"] if "output" in row else row["outputs"]
                response.texts = list(output) if isinstance(output, list) else [output]
            if "loglikelihoods" in row:
                response.loglikelihoods = [float(x) for x in row["loglikelihoods"]]
            if "judgments" in row:  # judged tasks: the judge's reply per turn
                response.judgments = [str(j) for j in row["judgments"]]
            responses.append((index, response))
    return score_responses(prepared, responses, tok)


def read_pairs(path: Path) -> tuple[list, list]:
    """(predictions, references) of a JSONL file of `{"prediction", "reference"}` rows."""
    from swallow_eval.data import read_jsonl, row_errors

    predictions, references = [], []
    for line, row in read_jsonl(path):
        with row_errors(path, line):
            predictions.append(row["prediction"])
            references.append(row["reference"])
    return predictions, references


def apply_metric(name: str, predictions: list, references: list, tokenizer: Any = None):
    """metrics.MetricResult of metric `name` (Swallow's exact definition) over the pairs."""
    from swallow_eval import metrics

    tok = load_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    return metrics.get(name).compute(predictions, references, metrics.MetricContext(tokenizer=tok))
