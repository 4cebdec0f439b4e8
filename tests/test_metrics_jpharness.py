"""Metrics of the JP harness tasks against the reference libraries: BLEU (sacreBLEU, nagisa), ROUGE-2
(rouge-score's bootstrap), MGSM's answer extraction (ja-tasks.md §5-7)."""

import json
import random
from collections import Counter

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer

from conftest import cli
from swallow_eval import metrics
from swallow_eval.errors import UserError
from swallow_eval.metrics import MetricContext
from swallow_eval.metrics.bleu import nagisa_words
from swallow_eval.metrics.mgsm import INVALID, extract_answer
from swallow_eval.metrics.rouge import MecabTokenizer

SIGNATURE = f"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"


def compute(name, predictions, references, tokenizer=None):
    return metrics.get(name).compute(predictions, references, MetricContext(tokenizer=tokenizer))


def test_bleu_ja_reproduces_the_spec_example():
    """ja-tasks.md §7: sacrebleu 1.5.0 + nagisa give 54.84 (84.6/66.7/54.5/40.0, BP 0.926)."""
    result = compute("bleu_ja", [" 東京五輪は2021年に開かれた。"], ["東京オリンピックは2021年に開催された。"])
    assert nagisa_words(" 東京五輪は2021年に開かれた。") == "東京 五輪 は 2 0 2 1 年 に 開か れ た 。"
    assert result.per_item is None
    assert round(result.score, 2) == 54.84
    assert [round(p, 1) for p in result.details["precisions"]] == [84.6, 66.7, 54.5, 40.0]
    assert round(result.details["bp"], 3) == 0.926
    assert result.details["signature"] == SIGNATURE
    assert result.details["segmentation"].startswith("nagisa 0.2.")


def wmt_refs(shared_data, pair, lang, n):
    path = shared_data / "wmt20" / "newstest2020" / pair / f"newstest2020.{lang}"
    return path.read_text(encoding="utf-8").splitlines()[:n]


def perturbed(lines, seed=0):
    """Hypotheses that share some n-grams with the references, with a leading space like the model's."""
    rnd = random.Random(seed)
    out = []
    for line in lines:
        chars = list(line)
        for _ in range(rnd.randint(0, 4)):
            if chars:
                del chars[rnd.randrange(len(chars))]
        out.append(" " + "".join(chars) if rnd.random() < 0.8 else "")
    return out


def test_bleu_equals_sacrebleu_on_the_same_segmented_corpus(shared_data):
    ja = wmt_refs(shared_data, "en-ja", "ja", 60)
    hyps = perturbed(ja)
    expected = sacrebleu.corpus_bleu([nagisa_words(h) for h in hyps], [[nagisa_words(r) for r in ja]])
    assert compute("bleu_ja", hyps, ja).score == expected.score
    en = wmt_refs(shared_data, "ja-en", "en", 60)
    hyps = perturbed(en, seed=1)
    result = compute("bleu_en", hyps, en)
    assert result.score == sacrebleu.corpus_bleu(hyps, [en]).score  # ja-en: no processing at all
    assert result.details["signature"] == SIGNATURE and "segmentation" not in result.details


@pytest.mark.parametrize("hyps, refs, score", [
    (["", ""], ["a b c", "d"], 0.0),  # empty outputs
    (["the cat sat on the mat ."], ["the cat sat on the mat ."], 100.0),
    (["the cat"], ["the cat sat on the mat"], 0.0),  # no 3- or 4-gram: exp smoothing does not apply to zero counts
])
def test_bleu_edge_cases(hyps, refs, score):
    assert compute("bleu_en", hyps, refs).score == pytest.approx(score)
    assert compute("bleu_en", hyps, refs).score == sacrebleu.corpus_bleu(hyps, [refs]).score


def test_scoring_japanese_leaves_denormals_alone():
    """DyNet (nagisa) turns on flush-to-zero when it loads; later computations must not change."""
    nagisa_words("東京")
    assert np.float32(1e-39) * np.float32(1.0) != 0.0


def test_bleu_needs_text():
    with pytest.raises(UserError, match="BLEU needs text: prediction 1 is int"):
        compute("bleu_en", ["a", 3], ["a", "b"])


def reference_rouge2_bootstrap(predictions, references, tokenizer):
    """rouge2_mecab as the harness runs it, written out: rouge-score per item, then 1,000 resamples of the
    mean with the global NumPy RNG seeded 1234 and their median (rouge_score/scoring.py)."""
    scorer = rouge_scorer.RougeScorer(["rouge2"], tokenizer=tokenizer)
    rows = np.array([list(scorer.score(r, p)["rouge2"]) for p, r in zip(predictions, references)])
    rng = np.random.RandomState(1234)
    means = np.array([rows[rng.choice(np.arange(len(rows)), size=len(rows))].mean(axis=0) for _ in range(1000)])
    return np.percentile(means, 50, axis=0)[2] * 100


SUMMARIES = ["台風10号は週末にも九州に上陸するおそれがある。", "市議会は新しい図書館の建設計画を承認した。",
             "高校生の実験案が宇宙での実験に採用された。", "川の両岸を結ぶ新しい橋が開通した。",
             "国内企業の約半数が業務でAI翻訳を使っている。", "商店街の催しに多くの住民が参加した。", "株価が3日連続で上昇した。"]
OUTPUTS = ["台風10号は週末に九州に上陸する見込み。", "市議会は図書館の計画を承認した。", "", "新しい橋が開通した。",
           "企業の半数がAI翻訳を使う。", "多くの住民が商店街の催しに参加した。", "株価は下落した。"]


def test_rouge2_ja_uses_the_models_tokens_and_the_bootstrap_median(proxy_tokenizer):
    result = compute("rouge2_ja", OUTPUTS, SUMMARIES, proxy_tokenizer)
    assert result.score == reference_rouge2_bootstrap(OUTPUTS, SUMMARIES, proxy_tokenizer)
    assert result.score != pytest.approx(result.details["mean"])  # a median of bootstrap means, not the mean
    # item 4 by hand, on the model's sub-word pieces (multiset bigram overlap)
    gold, output = proxy_tokenizer.tokenize(SUMMARIES[3]), proxy_tokenizer.tokenize(OUTPUTS[3])
    overlap = sum((Counter(zip(output, output[1:])) & Counter(zip(gold, gold[1:]))).values())
    precision, recall = overlap / (len(output) - 1), overlap / (len(gold) - 1)
    assert result.per_item[3] == pytest.approx(200 * precision * recall / (precision + recall))
    assert result.per_item[2] == 0.0


def test_rouge2_leaves_the_global_numpy_rng_alone(proxy_tokenizer):
    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    compute("rouge2_ja", OUTPUTS, SUMMARIES, proxy_tokenizer)
    assert np.random.random() == expected


def test_rouge2_ja_needs_the_models_tokenizer():
    with pytest.raises(UserError, match="pass --tokenizer MODEL"):
        compute("rouge2_ja", OUTPUTS, SUMMARIES)


def test_rouge2_ja_mecab_variant():
    mecab = MecabTokenizer()
    assert mecab.tokenize("台風１０号が　上陸😀した") == ["台風", "10", "号", "が", "上陸", "し", "た"]
    result = compute("rouge2_ja_mecab", OUTPUTS, SUMMARIES)
    assert result.score == reference_rouge2_bootstrap(OUTPUTS, SUMMARIES, mecab)
    # 川/の/両岸/を/結ぶ/新しい/橋/が/開通/し/た/。 holds all 6 bigrams of 新しい/橋/が/開通/し/た/。: P = 1, R = 6/11
    assert result.per_item[3] == pytest.approx(100 * 12 / 17)


@pytest.mark.parametrize("completion, answer", [
    ("20-12=8個の飴をあげました。答えは8です。", 8),
    ("合計は1,234個です。", 1234),
    ("答えは12.", 12),
    ("答えは-7度です。", -7),
    ("答えは3.5です。", INVALID),  # not an integer
    ("答えは8です。次の問題：5", 5),  # the last number wins
    ("答えは８です。", INVALID),  # full-width digits never match
    ("1.2.3", INVALID),  # float() fails
    ("答えは$1,000.00です", 1000),
    ("数字なし、", INVALID),
    ("…,", INVALID),  # the last match is a lone ","
    ("", INVALID),
])
def test_mgsm_answer_extraction(completion, answer):
    assert extract_answer(completion) == answer


def test_mgsm_accuracy():
    result = compute("mgsm_accuracy", ["答えは8です。", 8, INVALID, "答えは９"], [8, 8, 8, 9])
    assert result.per_item == [1.0, 1.0, 0.0, 0.0]


def test_metric_command(tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"prediction": " 東京五輪は2021年に開かれた。",
                                 "reference": "東京オリンピックは2021年に開催された。"}, ensure_ascii=False) + "\n")
    out = json.loads(cli("metric", "bleu_ja", "--input", str(cases)).stdout)
    assert round(out["score"], 2) == 54.84 and out["per_item"] is None
    assert out["details"]["signature"] == SIGNATURE
    cases.write_text("".join(json.dumps({"prediction": p, "reference": r}, ensure_ascii=False) + "\n"
                             for p, r in [("答えは18です。", 18), ("答えは17", 18)]))
    assert json.loads(cli("metric", "mgsm_accuracy", "--input", str(cases)).stdout)["per_item"] == [1.0, 0.0]
