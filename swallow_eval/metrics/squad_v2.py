"""SQuAD 2.0 as lm-eval's `squadv2` task scores it (tasks/squadv2/task.py): HF evaluate's `squad_v2`,
which is the official evaluation script with its default no-answer threshold of 1.0.

A prediction is the raw generation, or `{"prediction_text", "no_answer_probability"}` where the
probability is exp(log-likelihood of " unanswerable"); a reference is the list of gold answer texts
(empty for unanswerable questions). Scores are percentages, as the script reports them.
"""

from __future__ import annotations

import re
import string

import numpy as np

from swallow_eval.metrics import Metric, MetricResult, register

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)
# A no-answer probability above this turns the prediction into "no answer"; probabilities are
# at most 1, so the default never fires and `exact` only credits an empty generation.
NO_ANSWER_THRESHOLD = 1.0


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, replace articles by a space, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _split(prediction) -> tuple[str, float]:
    if isinstance(prediction, str):
        return prediction, 0.0
    return prediction["prediction_text"], float(prediction["no_answer_probability"])


def _raw_exact(text: str, answers) -> int:
    """Best EM over the golds; a question without a non-empty normalised gold expects ""."""
    golds = [a for a in answers if normalize_answer(a)] or [""]
    return max(int(normalize_answer(gold) == normalize_answer(text)) for gold in golds)


def _no_answer_probabilities(predictions) -> list[float]:
    # The metric's input features store the probability as float32; ties and order follow from that.
    return [float(np.float32(_split(p)[1])) for p in predictions]


def _exact(predictions, references, context) -> MetricResult:
    per_item = []
    for prediction, answers, na_prob in zip(predictions, references, _no_answer_probabilities(predictions),
                                            strict=True):
        score = float(_raw_exact(_split(prediction)[0], answers))
        if na_prob > NO_ANSWER_THRESHOLD:
            score = float(not answers)
        per_item.append(100.0 * score)
    return MetricResult(per_item, sum(per_item) / len(per_item) if per_item else float("nan"))


def _best_exact(predictions, references, context) -> MetricResult:
    """Oracle threshold sweep (find_best_thresh): questions in ascending no-answer probability;
    answerable ones add their EM, unanswerable ones with a non-empty generation subtract one."""
    if not predictions:
        return MetricResult(None, float("nan"))
    texts = [_split(p)[0] for p in predictions]
    na_probs = _no_answer_probabilities(predictions)
    score = best = sum(1 for answers in references if not answers)
    for i in sorted(range(len(predictions)), key=na_probs.__getitem__):
        if references[i]:
            score += _raw_exact(texts[i], references[i])
        elif texts[i]:
            score -= 1
        best = max(best, score)
    return MetricResult(None, 100.0 * best / len(predictions))


register(Metric("squad2_exact", _exact, scale=100.0,
                description="SQuAD2 exact (percent): normalised EM, max over golds; unanswerable expects an empty answer."))
register(Metric("squad2_best_exact", _best_exact, scale=100.0,
                description="SQuAD2 best_exact (percent): EM at the best no-answer probability threshold."))
