"""ROUGE-2 of XL-Sum as the JP harness computes it (lm_eval/utils.py::rouge2_mecab via tasks/ja/xlsum_ja.py).

Per item, rouge-score's ROUGE-2 F-measure of (gold summary, output); the corpus value is the median
of rouge-score's 1,000 bootstrap means (BootstrapAggregator, global NumPy RNG seeded 1234 by the
evaluator), x100. The reference tokenises with the evaluated model's own tokenizer: XLSumJa sets a
MeCab tokenizer, but the evaluator's `task.set_tokenizer(lm.tokenizer)` replaces it before scoring
(ja-tasks.md §10.1). `rouge2_ja_mecab` is the documented intent: fugashi/unidic-lite words after the
harness's MecabTokenizer normalisation.
"""

from __future__ import annotations

import re

import numpy as np
from rouge_score import rouge_scorer, scoring

from swallow_eval.errors import UserError
from swallow_eval.metrics import Metric, MetricResult, register

NUMPY_SEED = 1234  # evaluator.py simple_evaluate: np.random.seed(1234); nothing draws from it before aggregation
EMOJI_RANGES = re.compile("[\U0001F600-\U0001F64F\U0001F300-\U0001F5FF\U0001F680-\U0001F6FF"
                          "\U0001F1E0-\U0001F1FF\U00002702-\U000027B0]+", flags=re.UNICODE)


def rouge2(predictions, references, tokenizer, **details) -> MetricResult:
    """`rouge2_mecab(refs, preds, tokenizer)`: per-item F x100 and the bootstrap median x100."""
    if not predictions:
        return MetricResult([], float("nan"))
    scorer = rouge_scorer.RougeScorer(["rouge2"], tokenizer=tokenizer)
    aggregator = scoring.BootstrapAggregator()
    per_item = []
    for prediction, reference in zip(predictions, references, strict=True):
        if not isinstance(prediction, str) or not isinstance(reference, str):
            raise UserError("ROUGE-2 needs text predictions and references")
        score = scorer.score(reference, prediction)
        aggregator.add_scores(score)
        per_item.append(score["rouge2"].fmeasure * 100)
    state = np.random.get_state()
    np.random.seed(NUMPY_SEED)
    try:
        median = float(aggregator.aggregate()["rouge2"].mid.fmeasure * 100)
    finally:
        np.random.set_state(state)
    return MetricResult(per_item, median, details={
        "aggregation": f"median of 1000 bootstrap means (rouge-score BootstrapAggregator, NumPy seed {NUMPY_SEED})",
        "mean": sum(per_item) / len(per_item), **details,
    })


class MecabTokenizer:
    """lm_eval/tasks/ja/__init__.py MecabTokenizer: emoji removal, neologdn, whitespace fix, MeCab words."""

    def __init__(self):
        from fugashi import Tagger

        self.tagger = Tagger("-Owakati")

    @staticmethod
    def normalize(text: str) -> str:
        import emoji
        import neologdn

        text = "".join("" if emoji.is_emoji(c) else c for c in text)
        text = neologdn.normalize(EMOJI_RANGES.sub("", text))
        return " ".join(text.split())

    def tokenize(self, text: str) -> list[str]:
        return self.tagger.parse(self.normalize(text)).split()


def _rouge2_model_tokens(predictions, references, context) -> MetricResult:
    tokenizer = context.tokenizer
    if tokenizer is None:
        raise UserError("rouge2_ja tokenises with the evaluated model's tokenizer: pass --tokenizer MODEL")
    return rouge2(predictions, references, tokenizer,
                  tokenization=getattr(tokenizer, "name_or_path", type(tokenizer).__name__))


def _rouge2_mecab(predictions, references, context) -> MetricResult:
    return rouge2(predictions, references, MecabTokenizer(), tokenization="MeCab (fugashi -Owakati, unidic-lite)")


register(Metric("rouge2_ja", _rouge2_model_tokens, scale=100.0,
                description="XL-Sum ROUGE-2 F on the evaluated model's tokens, bootstrap median (the card's)"))
register(Metric("rouge2_ja_mecab", _rouge2_mecab, scale=100.0,
                description="XL-Sum ROUGE-2 F on MeCab words (the harness's documented intent), bootstrap median"))
