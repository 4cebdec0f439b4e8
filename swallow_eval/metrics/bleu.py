"""Corpus BLEU of the WMT20 tasks as the JP harness computes it (lm_eval/metrics.py::bleu, tasks/translation.py).

sacreBLEU corpus BLEU with sacrebleu 1.5.0's defaults (13a tokenization, exp smoothing, mixed case,
no effective order); sacrebleu 2.x gives bit-identical scores with the same settings. Into Japanese,
hypotheses and references are first segmented with nagisa and joined with spaces (13a then runs on
top of that, not ja-mecab).
"""

from __future__ import annotations

from importlib import metadata

from sacrebleu.metrics import BLEU

from swallow_eval.errors import UserError
from swallow_eval.metrics import Metric, MetricResult, register


def _strings(values, what: str) -> list[str]:
    for position, value in enumerate(values):
        if not isinstance(value, str):
            raise UserError(f"BLEU needs text: {what} {position} is {type(value).__name__}")
    return list(values)


def corpus_bleu(hypotheses: list[str], references: list[str], **details) -> MetricResult:
    if not hypotheses:
        return MetricResult(None, float("nan"))
    bleu = BLEU(tokenize="13a")
    result = bleu.corpus_score(hypotheses, [references])
    return MetricResult(None, result.score, {
        "signature": str(bleu.get_signature()), "precisions": result.precisions, "bp": result.bp,
        "sys_len": result.sys_len, "ref_len": result.ref_len, **details,
    })


def nagisa_words(text: str) -> str:
    """`" ".join(nagisa.tagging(text.strip()).words)` (translation.py `ja_split`)."""
    import nagisa  # 3 s to load its model: only when Japanese output is scored

    return " ".join(nagisa.tagging(text.strip()).words)


def _bleu_en(predictions, references, context) -> MetricResult:
    return corpus_bleu(_strings(predictions, "prediction"), _strings(references, "reference"))


def _bleu_ja(predictions, references, context) -> MetricResult:
    hypotheses = [nagisa_words(p) for p in _strings(predictions, "prediction")]
    segmented = [nagisa_words(r) for r in _strings(references, "reference")]
    return corpus_bleu(hypotheses, segmented, segmentation=f"nagisa {metadata.version('nagisa')}")


register(Metric("bleu_en", _bleu_en, scale=100.0,
                description="sacreBLEU corpus BLEU, 13a, on the raw output (WMT20 ja-en)"))
register(Metric("bleu_ja", _bleu_ja, scale=100.0,
                description="sacreBLEU corpus BLEU, 13a, on nagisa-segmented output and references (WMT20 en-ja)"))
