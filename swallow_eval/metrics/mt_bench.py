"""Japanese MT-Bench scores as FastChat's show_result.py and Swallow's custom_utils.py compute them.

Predictions are {"answers": [turn 1, turn 2], "ratings": [r1, r2], ...}; references carry
{"question_id", "category", "choice"}. A score is the mean over answer choices of each choice's
mean valid rating (-1 = unparseable judgment, excluded), over the (question, turn) rows selected.
"""

from __future__ import annotations

import re
from collections import defaultdict
from statistics import fmean

from swallow_eval.metrics import Metric, MetricResult, register

# custom_utils.py: hiragana, katakana, CJK ideographs, full-width forms, CJK symbols, middle dot.
JAPANESE_CHAR = re.compile("[\u3041-\u309f\u30a1-\u30ff\u4e00-\u9fff\uff01-\uff5e\u3000-\u3036\u30fb]")


def _average(rows: list[tuple[int, float]]) -> float:
    """show_result.py calculate_averages: per-choice mean of valid ratings, then the mean of those."""
    by_choice = defaultdict(list)
    for choice, value in rows:
        if value != -1:
            by_choice[choice].append(value)
    means = [fmean(values) for values in by_choice.values() if values]
    return fmean(means) if means else float("nan")


def _score(predictions, references, context):
    """Overall score; breakdown per category and per turn (the reporter's MT-Bench groups)."""
    rows, parts, per_item = [], defaultdict(list), []
    for prediction, reference in zip(predictions, references, strict=True):
        mine = [(reference["choice"], rating) for rating in prediction["ratings"]]
        rows += mine
        parts[reference["category"]] += mine
        for turn, key in enumerate(("first_turn", "second_turn")):
            parts[key].append(mine[turn])
        valid = [v for _, v in mine if v != -1]
        per_item.append(fmean(valid) if valid else None)
    return MetricResult(per_item, _average(rows), breakdown={key: _average(r) for key, r in sorted(parts.items())})


register(Metric("mt_bench_score", _score, scale=10.0, description="MT-Bench judge score (1-10)"))


def _unparsed(predictions, references, context):
    per_item = [float(sum(r == -1 for r in p["ratings"])) for p in predictions]
    per_category = defaultdict(float)
    for value, reference in zip(per_item, references, strict=True):
        per_category[reference["category"]] += value
    return MetricResult(per_item, sum(per_item), breakdown=dict(sorted(per_category.items())))


register(Metric("mt_bench_unparsed", _unparsed, description="number of judgments without a rating (excluded)"))


def plain_text(markdown_text: str) -> str:
    """custom_utils.py: Markdown -> HTML -> text, so markup does not count as characters."""
    import markdown
    from bs4 import BeautifulSoup

    return BeautifulSoup(markdown.markdown(markdown_text), "html.parser").get_text()


def _ja_char_ratio(predictions, references, context):
    totals = defaultdict(lambda: [0, 0])
    per_item = []
    for prediction, reference in zip(predictions, references, strict=True):
        texts = [plain_text(a) for a in prediction["answers"]]
        japanese, length = sum(len(JAPANESE_CHAR.findall(t)) for t in texts), sum(len(t) for t in texts)
        per_item.append(japanese / length if length else 0.0)
        for key in ("", reference["category"]):
            totals[key][0] += japanese
            totals[key][1] += length
    ratio = {key: (j / n if n else 0.0) for key, (j, n) in totals.items()}
    return MetricResult(per_item, ratio.pop(""), breakdown=dict(sorted(ratio.items())))


register(Metric("ja_char_ratio", _ja_char_ratio,
                description="share of Japanese characters in the answers' plain text (micro-average)"))
