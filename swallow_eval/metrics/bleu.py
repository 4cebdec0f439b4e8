"""Corpus BLEU of the WMT20 tasks as the JP harness computes it (lm_eval/metrics.py::bleu, tasks/translation.py).

sacreBLEU corpus BLEU with sacrebleu 1.5.0's defaults (13a tokenization, exp smoothing, mixed case,
no effective order); sacrebleu 2.x gives bit-identical scores with the same settings. Into Japanese,
hypotheses and references are first segmented with nagisa and joined with spaces (13a then runs on
top of that, not ja-mecab).
"""

from __future__ import annotations

import functools
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
    return MetricResult(None, result.score, details={
        "signature": str(bleu.get_signature()), "precisions": result.precisions, "bp": result.bp,
        "sys_len": result.sys_len, "ref_len": result.ref_len, **details,
    })


@functools.cache
def _nagisa():
    """nagisa, loaded when Japanese output is first scored (3 s). Its DyNet library is built with
    fast-math and switches the process to flush-denormals-to-zero on load; that is undone here so that
    no later float computation of the process (a model on CPU, NumPy) depends on having scored BLEU."""
    import nagisa
    import torch

    torch.set_flush_denormal(False)
    return nagisa


def nagisa_words(text: str) -> str:
    """`" ".join(nagisa.tagging(text.strip()).words)` (translation.py `ja_split`)."""
    return " ".join(_nagisa().tagging(text.strip()).words)


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
