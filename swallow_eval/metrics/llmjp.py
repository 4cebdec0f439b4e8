"""llm-jp-eval's `char_f1` (ja-tasks.md §2.7): despite its name, fuzzywuzzy's token_sort_ratio / 100.

The reference libraries are called directly (fuzzywuzzy 0.18.0 with python-Levenshtein 0.21.1):
full_process drops U+0080-U+00FF, turns every non-word character into a separator, lower-cases and
sorts the tokens; two strings that process to the same text (both empty included) score 1.0; the
InDel ratio is rounded to a whole percent with Python's round.
"""

from __future__ import annotations

from statistics import mean

from fuzzywuzzy import fuzz

from swallow_eval.metrics import Metric, MetricResult, register

# Without python-Levenshtein fuzzywuzzy silently falls back to difflib, whose ratio differs.
if fuzz.SequenceMatcher.__module__ != "fuzzywuzzy.StringMatcher":
    raise ImportError("char_f1 needs python-Levenshtein: fuzzywuzzy fell back to difflib, which scores differently")


def char_f1(prediction, reference) -> float:
    """One item: `fuzz.token_sort_ratio(pred, gold) / 100.0` (llm-jp-eval evaluator.py)."""
    return fuzz.token_sort_ratio(prediction, reference) / 100.0


def _compute(predictions, references, context) -> MetricResult:
    values = [char_f1(p, r) for p, r in zip(predictions, references, strict=True)]
    # statistics.mean (exact sum, one rounding), as the reference; the 4-decimal ties of the
    # card value depend on the last bit.
    return MetricResult(values, mean(values) if values else float("nan"))


register(Metric("char_f1", _compute, description=char_f1.__doc__))
