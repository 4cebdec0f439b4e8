"""Metric registry: every metric a task or `swallow-eval metric NAME` can use.

A metric turns predictions and references into per-item values (None for corpus metrics such as
BLEU) and one score. Modules of this package register their metrics on import.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any, Callable, Sequence

from swallow_eval.errors import UserError, closest


@dataclass(frozen=True)
class MetricResult:
    per_item: list[float | None] | None
    score: float
    # Scores of named parts (e.g. MT-Bench categories) when the metric itself defines how parts
    # aggregate; they appear in results under "groups".
    breakdown: dict[str, float] | None = None
    # What a reader needs to reproduce the score (e.g. sacreBLEU's signature); written to results.
    details: dict = field(default_factory=dict)


@dataclass
class MetricContext:
    """What a metric may need beyond predictions and references (e.g. the model's tokenizer)."""

    tokenizer: Any = None


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable[[Sequence, Sequence, MetricContext], MetricResult]
    scale: float = 1.0  # 100 for metrics reported on 0-100 (BLEU, ROUGE)
    description: str = ""


_REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    if metric.name in _REGISTRY:
        raise ValueError(f"metric {metric.name} registered twice")
    _REGISTRY[metric.name] = metric
    return metric


def item_metric(name: str, description: str = "", scale: float = 1.0):
    """Register `fn(prediction, reference) -> float`; the score is the mean over items."""

    def wrap(fn: Callable[[Any, Any], float]):
        def compute(predictions, references, context):
            values = [float(fn(p, r)) for p, r in zip(predictions, references, strict=True)]
            return MetricResult(values, fmean(values) if values else float("nan"))

        register(Metric(name, compute, scale, description or (fn.__doc__ or "").strip()))
        return fn

    return wrap


@functools.cache
def _load_all() -> None:
    """Import every metric module once (a task file may already have imported one of them)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def get(name: str) -> Metric:
    _load_all()
    if name not in _REGISTRY:
        raise UserError(f"unknown metric {name!r}{closest(name, _REGISTRY)}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)
