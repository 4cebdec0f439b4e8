"""Metrics of lm-evaluation-harness generate_until tasks: the task's filter chain, then exact_match.

Each takes the raw generation (already cut at the stop strings) and the gold as the task stores it,
so `swallow-eval metric NAME` reproduces extraction and scoring together.
"""

from __future__ import annotations

from swallow_eval.families.lmeval import exact_match, regex_filter, remove_whitespace
from swallow_eval.metrics import item_metric

# tasks/gsm8k/gsm8k.yaml: the "strict-match" filter and the metric's regexes_to_ignore.
GSM8K_STRICT = r"#### (\-?[0-9\.\,]+)"
GSM8K_IGNORE = (",", "\\$", "(?s).*#### ", "\\.$")
# tasks/bbh/cot_fewshot/_cot_fewshot_template_yaml "get-answer": case-sensitive, and the greedy group
# before the lookahead leaves out the last character of the line.
BBH_ANSWER = r"(?<=the answer is )(.*)(?=.)"


@item_metric("triviaqa_em")
def triviaqa_em(output: str, aliases) -> float:
    """TriviaQA: one leading space removed, then case- and punctuation-blind EM against any alias."""
    golds = [aliases] if isinstance(aliases, str) else list(aliases)
    return exact_match(remove_whitespace(output), golds, ignore_case=True, ignore_punctuation=True)


@item_metric("gsm8k_strict")
def gsm8k_strict(output: str, answer: str) -> float:
    """GSM8K strict-match: the first "#### N" of the output against the gold rationale's final number."""
    return exact_match(regex_filter(output, GSM8K_STRICT), [answer], GSM8K_IGNORE, ignore_case=True)


@item_metric("bbh_exact")
def bbh_exact(output: str, target: str) -> float:
    """BBH get-answer: the text after the first "the answer is " minus its line's last character, exact."""
    return exact_match(regex_filter(output, BBH_ANSWER), [target])
