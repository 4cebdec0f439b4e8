"""MGSM accuracy with the JP harness's answer extraction (lm_eval/tasks/ja/mgsm.py `_extract_answer`)."""

from __future__ import annotations

import re

from swallow_eval.metrics import item_metric

ANSWER = re.compile(r"(\-?[0-9\.\,]+)")
INVALID = "[invalid]"  # lm_eval/tasks/gsm8k.py INVALID_ANS


def extract_answer(completion: str) -> int | str:
    """The last ASCII number of the completion, "." stripped and "," removed, if integral; else INVALID."""
    matches = ANSWER.findall(completion)
    if matches:
        try:
            number = float(matches[-1].strip(".").replace(",", ""))
        except ValueError:
            return INVALID
        if number.is_integer():
            return int(number)
    return INVALID


@item_metric("mgsm_accuracy")
def mgsm_accuracy(prediction, reference) -> float:
    """1 if the answer extracted from the completion (or an already extracted int) equals the gold number."""
    answer = prediction if isinstance(prediction, int) else extract_answer(str(prediction))
    return float(answer == reference)
