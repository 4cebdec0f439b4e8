"""Generic scoring: a metric's own breakdown and the task's subtask groups both reach results."""

import dataclasses

import pytest

from swallow_eval import metrics
from swallow_eval.metrics import Metric, MetricContext, MetricResult
from swallow_eval.pipeline import ItemResponses, prepare
from swallow_eval.scoring import score_task
from swallow_eval.task import BuildContext, load_registry


def _parity(predictions, references, context):
    """Exact match, broken down by the parity of the item's position (a metric-defined breakdown)."""
    per_item = [float(p == r) for p, r in zip(predictions, references)]
    parts = {"even": per_item[0::2], "odd": per_item[1::2]}
    return MetricResult(per_item, sum(per_item) / len(per_item),
                        breakdown={k: sum(v) / len(v) for k, v in parts.items()})


@pytest.fixture(scope="module")
def jmmlu(shared_data):
    metrics.names()  # the built-in metrics first: the registry loads them only while empty
    if "test_parity_match" not in metrics.names():
        metrics.register(Metric("test_parity_match", _parity))
    task = load_registry()["jmmlu"]
    task = dataclasses.replace(task, metrics=(*task.metrics, "test_parity_match"))
    return prepare(task, shared_data, 2, BuildContext())


def test_metric_breakdown_survives_task_groups(jmmlu):
    items = jmmlu.items
    wrong = {0, 3}
    texts = [("X" if position in wrong else item.target) for position, item in enumerate(items)]
    score = score_task(jmmlu.task, items, [ItemResponses(texts=[t]) for t in texts], MetricContext())
    per_item = [float(p not in wrong) for p in range(len(items))]
    assert score.groups["even"] == {"test_parity_match": pytest.approx(sum(per_item[0::2]) / len(per_item[0::2]))}
    assert score.groups["odd"] == {"test_parity_match": pytest.approx(sum(per_item[1::2]) / len(per_item[1::2]))}
    categories = [g for g in jmmlu.task.groups if g in score.groups]
    assert categories, "the task's groups are still reported"
    for group in categories:
        members = jmmlu.task.groups[group]
        values = [v for item, v in zip(items, per_item) if item.subtask in members]
        assert score.groups[group] == {"exact_match": pytest.approx(sum(values) / len(values)),
                                       "test_parity_match": pytest.approx(sum(values) / len(values))}
