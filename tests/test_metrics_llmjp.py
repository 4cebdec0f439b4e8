"""llm-jp-eval's metrics and output clean-up: char_f1 against fuzzywuzzy itself, exact_match edge cases."""

import json
import statistics

import pytest
from fuzzywuzzy import fuzz

from conftest import cli
from swallow_eval import metrics
from swallow_eval.families.llmjp import answer
from swallow_eval.metrics.llmjp import char_f1

# (prediction, gold, value): the worked examples of ja-tasks.md §2.7 (computed there with fuzzywuzzy 0.18.0).
SPEC_EXAMPLES = [
    ("東京都", "東京", 0.80),
    ("YES", "yes", 1.00),
    ("ダイ・ハード", "ダイハード", 0.91),
    ("チュニジア・ディナール (TND)", "チュニジア・ディナール", 0.85),
    ("2", "3", 0.00),
    ("。", "、", 1.00),  # both process to "": equal, hence 100
]

EDGE_CASES = [
    ("１２３", "123"),  # full-width digits are word characters, not equal to ASCII ones
    ("ＡＢＣ", "abc"),  # full-width Latin: lower-cased, still not ASCII
    ("東京 都", "東京都"),  # a space splits tokens
    ("都 東京", "東京 都"),  # token order does not matter
    ("大阪、東京", "東京,大阪"),  # punctuation is a separator
    ("東京都です。答えは東京都", "東京都"),  # trailing text
    ("", "東京都"),  # empty output
    ("", ""),
    ("東京都\n大阪府", "東京都"),  # multi-line output
    ("1947年6月26日", "1947年06月26日"),  # numbers
    ("3776", "3,776"),
    ("café", "cafe"),  # U+0080-U+00FF is deleted (force_ascii)
    ("naïve", "naive"),
    ("snake_case", "snake case"),  # "_" is a word character
    ("abcdefgh", "aijklmno"),  # ratio 12.5 %: Python's round gives 12
    ("abcdefgh", "abcijklm"),  # 37.5 %: rounds to 38
]


@pytest.mark.parametrize("prediction, gold, value", SPEC_EXAMPLES)
def test_char_f1_spec_examples(prediction, gold, value):
    assert char_f1(prediction, gold) == value


@pytest.mark.parametrize("prediction, gold", EDGE_CASES)
def test_char_f1_is_fuzzywuzzy_token_sort_ratio(prediction, gold):
    assert char_f1(prediction, gold) == fuzz.token_sort_ratio(prediction, gold) / 100.0


def test_char_f1_edge_values():
    values = {pair: char_f1(*pair) for pair in EDGE_CASES}
    assert values[("１２３", "123")] == 0.0
    assert values[("都 東京", "東京 都")] == values[("大阪、東京", "東京,大阪")] == 1.0
    assert values[("", "東京都")] == 0.0 and values[("", "")] == 1.0
    assert values[("café", "cafe")] == 0.86  # "caf" vs "cafe": 2 * 3 / 7
    assert values[("abcdefgh", "aijklmno")] == 0.12 and values[("abcdefgh", "abcijklm")] == 0.38


def test_char_f1_mean_is_the_reference_statistics_mean():
    """statistics.mean rounds once; fmean twice and differs in the last bit here."""
    gold = "abcdefghij"
    predictions = [gold[:k] for k in (8, 8, 7, 4, 2, 8)]
    result = metrics.get("char_f1").compute(predictions, [gold] * len(predictions), metrics.MetricContext())
    assert result.per_item == [0.89, 0.89, 0.82, 0.57, 0.33, 0.89]
    assert result.score == statistics.mean(result.per_item) != statistics.fmean(result.per_item)


@pytest.mark.parametrize("output, gold, correct", [
    ("B", "B", True),
    (" B", "B", True),  # stripped (Swallow's strip)
    ("Ｂ", "B", True),  # NFKC: full-width to half-width
    ("B\n\n説明: Bが正しい", "B", True),  # only the text before the first blank line
    ("B\nC", "B", False),  # a single newline does not cut
    ("B。", "B", False),
    ("", "B", False),
    ("\n\nB", "B", False),  # nothing before the blank line
    ("１２", "12", True),
    ("12 ", "12", True),
])
def test_exact_match_after_llmjp_clean_up(output, gold, correct):
    result = metrics.get("exact_match").compute([answer(output)], [gold], metrics.MetricContext())
    assert result.per_item == [float(correct)]


def test_metric_command_char_f1(tmp_path):
    cases = tmp_path / "cases.jsonl"
    pairs = SPEC_EXAMPLES[:4] + [("", "東京都", 0.0)]
    cases.write_text("".join(json.dumps({"prediction": p, "reference": g}, ensure_ascii=False) + "\n"
                             for p, g, _ in pairs), encoding="utf-8")
    out = json.loads(cli("metric", "char_f1", "--input", str(cases)).stdout)
    assert out["per_item"] == [0.8, 1.0, 0.91, 0.85, 0.0]
    assert out["score"] == statistics.mean([0.8, 1.0, 0.91, 0.85, 0.0])
