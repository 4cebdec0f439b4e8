"""Extraction + metric of the English generation tasks on edge cases (en-tasks.md §1.5, §2).

Expected values follow the reference code read for this purpose: lm-eval 0.4.2's regex and
remove_whitespace filters, HF evaluate's exact_match and squad_v2 (the official SQuAD 2.0 script),
and swallow-evaluation's tasks/math_500/utils.py.
"""

import json
import threading

import pytest

from conftest import cli
from swallow_eval import metrics
from swallow_eval.metrics import math500


def scores(name, cases):
    predictions, references = zip(*cases)
    return metrics.get(name).compute(list(predictions), list(references), metrics.MetricContext())


def per_item(name, cases):
    return scores(name, cases).per_item


GSM8K_GOLD = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18.\n#### 18"


def test_gsm8k_strict_match():
    cases = [
        (" She makes $18.\n#### 18", GSM8K_GOLD),  # the first "#### N"
        (" #### 18.", GSM8K_GOLD),  # a final period is ignored on both sides
        (" #### 18 dollars", GSM8K_GOLD),  # the number ends the match
        (" #### 1,8", GSM8K_GOLD),  # commas are ignored
        (" #### $18", GSM8K_GOLD),  # "$" before the number: no strict match
        (" #### 18.00", GSM8K_GOLD),  # no numeric comparison
        (" The answer is 18.", GSM8K_GOLD),  # no "####": "[invalid]"
        (" ####18", GSM8K_GOLD),  # the space after #### is required
        (" #### 3\n#### 18", GSM8K_GOLD),  # only the first match counts
        ("", GSM8K_GOLD),
        (" #### -5", "x\n#### -5"),
        (" #### 1,000.", "x\n#### 1000"),
    ]
    assert per_item("gsm8k_strict", cases) == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]


def test_bbh_get_answer_is_case_sensitive_and_drops_the_last_character():
    cases = [
        (" ... So the answer is True.", "True"),
        (" So the answer is (A).\nQ", "(A)"),  # the line's last character is the period
        (" So the answer is (A)", "(A)"),  # no period: "(A" is extracted
        (" The answer is True.", "True"),  # "The" is not matched: "[invalid]"
        (" So the answer is true.", "True"),  # no case folding
        (" the answer is True. So the answer is False.", "False"),  # greedy to the end of the line
        (" So the answer is ] ].", "] ]"),
        (" So the answer is 8", "8"),  # a one-character answer at the end is lost
        ("", "True"),
    ]
    assert per_item("bbh_exact", cases) == [1, 1, 0, 0, 0, 0, 1, 0, 0]


def test_triviaqa_em_over_aliases():
    aliases = ["William Shakespeare", "Shakespeare", "The Bard"]
    cases = [
        (" Shakespeare", aliases),
        (" the bard", aliases),  # case-blind
        (" Shakespeare!", aliases),  # ASCII punctuation removed
        ("  Shakespeare", aliases),  # only one leading space is removed
        (" Shakespeare ", aliases),  # no whitespace normalisation
        (" Shakespeare’s", aliases),  # typographic apostrophe is not ASCII punctuation
        (" St", ["St. Louis"]),  # the "." stop string cuts the answer
        (" USA", ["U.S.A."]),
        ("", aliases),
        (" Paris", "Paris"),  # a single gold string
        (" Paris", []),
    ]
    assert per_item("triviaqa_em", cases) == [1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0]


def test_exact_match_drops_trailing_nul_like_numpy():
    assert per_item("triviaqa_em", [(" Paris\x00", ["Paris"])]) == [1]


def test_squad2_exact_credits_only_empty_answers_to_unanswerable_questions():
    cases = [
        ("  Normandy", ["Normandy", "in Normandy"]),  # normalised: leading spaces go
        (" the Normans.", ["Normans"]),  # articles and punctuation removed
        (" France", ["Paris"]),
        ({"prediction_text": " unanswerable", "no_answer_probability": 0.9}, []),  # "" expected
        ({"prediction_text": "", "no_answer_probability": 0.1}, []),
        (" a", ["the"]),  # a gold that normalises to "" expects "", and " a" normalises to ""
    ]
    result = scores("squad2_exact", cases)
    assert result.per_item == [100.0, 100.0, 0.0, 0.0, 100.0, 100.0]
    assert result.score == pytest.approx(400 / 6)


def test_squad2_best_exact_sweeps_the_no_answer_threshold():
    def prediction(text, probability):
        return {"prediction_text": text, "no_answer_probability": probability}

    cases = [
        (prediction(" Normandy", 0.1), ["Normandy"]),  # +1
        (prediction(" Paris", 0.2), ["France"]),  # +0
        (prediction(" unanswerable", 0.3), []),  # -1: non-empty text on an unanswerable question
        (prediction(" unanswerable", 0.9), []),  # -1
    ]
    # start 2 (unanswerable count), then 3, 3, 2, 1: the best is 3 of 4
    assert scores("squad2_best_exact", cases).score == pytest.approx(75.0)
    assert scores("squad2_exact", cases).score == pytest.approx(25.0)


def test_math_extraction():
    assert math500.extract_answer("so $x = \\boxed{2}$, then \\boxed{\\frac12}.") == "\\frac{1}{2}"
    assert math500.extract_answer("The answer is $\\boxed 5$. Done") == "5"
    assert math500.extract_answer("Final Answer: The final answer is $1,000$. ") == "1000"
    assert math500.extract_answer("Final Answer: The final answer is $5$. I hope it is correct.") == "5"
    assert math500.extract_answer("\\boxed{5 \\text{ cm}}") == "5"
    assert math500.extract_answer("\\boxed{\\text{(C)}}") == "(C)"
    assert math500.extract_answer("x = 3") is None
    assert math500.extract_answer("\\fbox{3}") is None  # the reference's assertion fails here
    assert math500.extract_answer("\\boxed{3") is None  # unbalanced
    # Minerva's list removes "ft" everywhere, so \\left( becomes \\le( on both sides
    assert math500.gold_answer("so $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$") == "\\le(3,\\frac{\\pi}{2}\\right)"


def test_math_equiv():
    cases = [
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{0.5}", "\\frac{1}{2}"),  # sympy: 0.5 - 1/2 simplifies to 0
        ("\\boxed{2}\nand later \\boxed{3}", "3"),  # the last box
        ("\\boxed{2}\nFinal Answer: The final answer is $3$.", "3"),  # a box wins over the final line
        ("Final Answer: The final answer is $3$. ", "3"),  # as cut at the stop "I hope it is correct"
        ("Final Answer: The final answer is $3$.", "3"),  # "I hope it is correct." is appended without a space
        ("\\boxed{x+1}", "1+x"),
        ("\\boxed{\\sqrt{8}}", "2\\sqrt{2}"),
        ("\\boxed{4}", "5"),
        ("\\boxed{\\frac{1}{}}", "5"),  # unparsable: not equivalent
        ("", "5"),
    ]
    assert per_item("math_equiv", cases) == [1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0]


def test_math_equiv_gives_up_after_the_alarm(monkeypatch):
    monkeypatch.setattr(math500, "EQUIVALENCE_SECONDS", 1)
    assert per_item("math_equiv", [("\\boxed{9^{9^{9}}}", "5")]) == [0]


def test_math_equiv_refuses_other_threads():
    errors = []

    def compare():
        try:
            math500.is_equiv("1", "2")
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=compare)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_metric_command_takes_raw_outputs(tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(c) + "\n" for c in [
        {"prediction": " So the answer is (B).", "reference": "(B)"},
        {"prediction": " So the answer is (B)", "reference": "(B)"},
    ]))
    out = json.loads(cli("metric", "bbh_exact", "--input", str(cases)).stdout)
    assert out == {"metric": "bbh_exact", "per_item": [1.0, 0.0], "score": 0.5}
    cases.write_text(json.dumps({"prediction": " Paris", "reference": []}) + "\n")
    out = json.loads(cli("metric", "squad2_exact", "--input", str(cases)).stdout)
    assert out == {"metric": "squad2_exact", "per_item": [0.0], "score": 0.0}
