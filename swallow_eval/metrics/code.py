"""Code-generation metrics: unbiased pass@k and Swallow's answer@10.

A prediction is a judged problem: {"programs": [...], "results": ["passed" | "failed: ..." | "timed out", ...]}.
"""

from __future__ import annotations

from statistics import fmean

import numpy as np
import regex

from swallow_eval.metrics import Metric, MetricResult, register


def estimate_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), computed as a stable product (code_eval.py `estimate_pass_at_k`)."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def _pass_at(k: int):
    def compute(predictions, references, context) -> MetricResult:
        counts = [(len(p["results"]), sum(r == "passed" for r in p["results"])) for p in predictions]
        per_item = [estimate_pass_at_k(n, c, k) for n, c in counts]
        # code_eval.py reports pass@k only when every problem has at least k samples.
        complete = bool(counts) and all(n >= k for n, _ in counts)
        return MetricResult(per_item, fmean(per_item) if complete else float("nan"))

    return compute


for _k in (1, 10):
    register(Metric(f"pass@{_k}", _pass_at(_k), description=f"unbiased pass@{_k}, mean over problems"))

# custom_utils.py: the text after the last docstring delimiter, less leading whitespace and quotes.
_LEADING = regex.compile(r'^[\t\s"]{1,}')


def _empty_after(program: str, delimiter: str) -> bool:
    return len(_LEADING.sub("", program.split(delimiter)[-1])) == 0


def answered(programs: list[str]) -> bool:
    """False when every program is empty after its last `'''`, or every one after its last `\"\"\"`
    (custom_utils.py `if_no_answer`)."""
    return not any(all(_empty_after(p, d) for p in programs) for d in ("'''", '"""'))


def _answer_ratio(predictions, references, context) -> MetricResult:
    per_item = [float(answered(p["programs"])) for p in predictions]
    return MetricResult(per_item, fmean(per_item) if per_item else float("nan"))


register(Metric("answer@10", _answer_ratio,
                description="share of problems with a non-empty answer in some sample (Swallow's answer@10)"))
