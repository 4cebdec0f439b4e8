"""Responses -> predictions (the task's extraction) -> per-item metric values and task scores."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from swallow_eval import metrics as metric_registry
from swallow_eval.metrics import MetricContext
from swallow_eval.pipeline import ItemResponses
from swallow_eval.task import Item, Task


@dataclass
class TaskScore:
    predictions: list[Any]
    per_item: dict[str, list[float] | None]  # metric -> value per item (None: corpus metric)
    metrics: dict[str, float]
    subtasks: dict[str, dict[str, float]] = field(default_factory=dict)
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    details: dict[str, dict] = field(default_factory=dict)  # metric -> MetricResult.details


def predict(task: Task, item: Item, response: ItemResponses) -> Any:
    """The task's `predict` hook, else each text through `extract`, else the best-scoring choice."""
    if task.predict is not None:
        return task.predict(item, response)
    if response.texts is not None:
        outputs = [task.extract(t) if task.extract else t for t in response.texts]
        return outputs[0] if task.generation is None or task.generation.n == 1 else outputs
    scores = response.loglikelihoods
    return max(range(len(scores)), key=scores.__getitem__)  # first maximum, like numpy argmax


def score_task(task: Task, items: list[Item], responses: list[ItemResponses], context: MetricContext) -> TaskScore:
    predictions = [predict(task, item, r) for item, r in zip(items, responses, strict=True)]
    if task.execute is not None:
        predictions = task.execute(items, predictions)
    return score_predictions(task, items, predictions, context)


def score_predictions(task: Task, items: list[Item], predictions: list, context: MetricContext) -> TaskScore:
    references = [item.target for item in items]
    result = TaskScore(predictions, {}, {})
    for name in task.metrics:
        computed = metric_registry.get(name).compute(predictions, references, context)
        result.per_item[name] = computed.per_item
        result.metrics[name] = computed.score
        for part, value in (computed.breakdown or {}).items():
            result.groups.setdefault(part, {})[name] = value
        if computed.details:
            result.details[name] = computed.details
    subtask_of = [item.subtask for item in items]
    if any(s is not None for s in subtask_of):
        for part, values in _micro(subtask_of, result.per_item, lambda s: [s]).items():
            result.subtasks.setdefault(part, {}).update(values)
        member_of = defaultdict(list)
        for group, members in task.groups.items():
            for member in members:
                member_of[member].append(group)
        if member_of:  # the task's groups, beside the parts metrics break their scores into
            groups = _micro(subtask_of, result.per_item, lambda s: member_of.get(s, []))
            for part, values in result.groups.items():
                groups.setdefault(part, {}).update(values)
            result.groups = groups
    return result


def _micro(subtask_of, per_item, keys_of) -> dict[str, dict[str, float]]:
    """Micro-averaged item metrics over the items each key collects."""
    buckets: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for position, subtask in enumerate(subtask_of):
        for key in keys_of(subtask):
            for name, values in per_item.items():
                if values is not None and values[position] is not None:
                    buckets[key][name].append(values[position])
    return {key: {name: fmean(v) for name, v in by_metric.items()} for key, by_metric in sorted(buckets.items())}
