"""Standard errors of card values from per-item scores (shared by `compare` and the Python API).

A task score that is the mean of per-item scores has SE = stdev / sqrt(n). Corpus metrics (BLEU,
bootstrap ROUGE-2) have no per-item scores and so no SE here.
"""

from __future__ import annotations

import math
from statistics import fmean, stdev

# llm-jp-eval card values are rounded to 4 decimals; a larger gap means the per-item scores do not
# aggregate to the card value, and their SE would describe another number.
CARD_MATCH = 5e-4


def mean_stderr(values: list[float]) -> float | None:
    """Standard error of the mean (None below two values)."""
    return stdev(values) / math.sqrt(len(values)) if len(values) >= 2 else None


def card_item_scores(entry: dict, metric: str, rows: list[dict]) -> list[float] | None:
    """Per-item scores of `metric` on the card's 0-1 scale, or None for a corpus metric."""
    scale = entry.get("metrics", {}).get(metric, {}).get("scale", 1.0)
    values = [row.get("metrics", {}).get(metric) for row in rows]
    if not values or any(not isinstance(v, (int, float)) or isinstance(v, bool) or math.isnan(v) for v in values):
        return None
    return [v / scale for v in values]


def averages_to(scores: list[float], card_value: float | None) -> bool:
    """Whether per-item scores aggregate to the card value (then their SE is the card value's)."""
    return card_value is not None and abs(fmean(scores) - card_value) <= CARD_MATCH


def card_stderr(entry: dict, rows: list[dict]) -> float | None:
    """SE of a task's card value from its samples rows, when the card metric is a per-item mean."""
    scores = card_item_scores(entry, entry["card"]["metric"], rows)
    if scores is None or not averages_to(scores, entry["card"]["value"]):
        return None
    return mean_stderr(scores)
