"""JHumanEval and HumanEval (bigcode "unstripped", ja-tasks.md §8, en-tasks.md §2.10): golden
prompts on the real data, canonical solutions, pass@k and answer@10, re-scoring from a file."""

import gzip
import json
import math
from collections import Counter

import pytest

from conftest import cli, jsonl
from golden import digest, prompt_rows
from swallow_eval.families import bigcode
from swallow_eval.metrics import MetricContext
from swallow_eval.metrics.code import answered, estimate_pass_at_k
from swallow_eval.pipeline import ItemResponses, prepare
from swallow_eval.scoring import score_task
from swallow_eval.task import BuildContext, load_registry

HAS_CLOSE_TEST = (
    "\n\n\nMETADATA = {\n    'author': 'jt',\n    'dataset': 'test'\n}\n\n\ndef check(candidate):\n"
    "    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n"
    "    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n"
    "    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n"
    "    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False\n"
    "    assert candidate([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True\n"
    "    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True\n"
    "    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False\n\n\ncheck(has_close_elements)"
)
GENERATE_INTEGERS_TEST = (
    '\ndef check(candidate):\n\n    # Check some simple cases\n'
    '    assert candidate(2, 10) == [2, 4, 6, 8], "Test 1"\n    assert candidate(10, 2) == [2, 4, 6, 8], "Test 2"\n'
    '    assert candidate(132, 2) == [2, 4, 6, 8], "Test 3"\n    assert candidate(17,89) == [], "Test 4"\n\n'
    '    # Check some edge cases that are easy to work out by hand.\n'
    '    assert True, "This prints if this assert fails 2 (also good for debugging!)"\n\n\ncheck(generate_integers)'
)


def test_jhumaneval_prompts(shared_data):
    rows = prompt_rows("jhumaneval", shared_data)
    assert len(rows) == 164
    assert rows[0] == {
        "index": 0,
        "prompt": 'from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n'
                  '    """リストnumbersの中に、与えられたthresholdより近い２つの数値が存在するか判定する  \n'
                  "    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n"
                  "    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n"
                  '    """\n',
        "target": HAS_CLOSE_TEST,
    }
    assert rows[-1] == {
        "index": 163,
        "prompt": 'def generate_integers(a, b):\n    """\n'
                  "    正の整数aとbが与えられたとき、aとbの間にある偶数の数字を昇順で返してください。\n\n"
                  "    例えば:\n    generate_integers(2, 8) => [2, 4, 6, 8]\n    generate_integers(8, 2) => [2, 4, 6, 8]\n"
                  '    generate_integers(10, 14) => []\n    """\n',
        "target": GENERATE_INTEGERS_TEST,
    }
    # "unstripped": every prompt keeps its trailing newline (ja-tasks.md §8 counts the endings)
    endings = Counter(next(e for e in ('    """\n', "    '''\n", '   """\n\n', '\n   """\n') if r["prompt"].endswith(e))
                      for r in rows)
    assert endings == {'    """\n': 157, "    '''\n": 3, '   """\n\n': 3, '\n   """\n': 1}
    assert digest(rows) == "c20d7a2cef90fc0936b86ded412f0242170ced553d1fd8f92b72f2f67410863e"


def test_humaneval_prompts(shared_data):
    rows = prompt_rows("humaneval", shared_data)
    assert len(rows) == 164
    assert rows[0] == {
        "index": 0,
        "prompt": 'from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n'
                  '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
                  "    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n"
                  "    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n"
                  '    """\n',
        "target": HAS_CLOSE_TEST,
    }
    assert rows[-1] == {
        "index": 163,
        "prompt": '\ndef generate_integers(a, b):\n    """\n'
                  "    Given two positive integers a and b, return the even digits between a\n"
                  "    and b, in ascending order.\n\n    For example:\n    generate_integers(2, 8) => [2, 4, 6, 8]\n"
                  '    generate_integers(8, 2) => [2, 4, 6, 8]\n    generate_integers(10, 14) => []\n    """\n',
        "target": GENERATE_INTEGERS_TEST,
    }
    assert all(r["prompt"].endswith('"""\n') or r["prompt"].endswith("'''\n") for r in rows)
    assert digest(rows) == "cef496e4889d2a19032e744fda4a64b55ed6c7546419aa75824cf027580a2ab2"


def test_tests_are_humaneval_tests(shared_data):
    """JHumanEval's tests and entry points are byte-identical to HumanEval's (ja-tasks.md §8)."""
    assert [r["target"] for r in prompt_rows("jhumaneval", shared_data)] == \
        [r["target"] for r in prompt_rows("humaneval", shared_data)]


def canonical(shared_data, name: str) -> list[str]:
    path = shared_data / {"jhumaneval": "jhumaneval/jhuman-eval.jsonl.gz", "humaneval": "humaneval/HumanEval.jsonl.gz"}[name]
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["canonical_solution"] for line in handle]


@pytest.mark.parametrize("name", ["humaneval", "jhumaneval"])
def test_canonical_solutions_pass_and_empty_completions_fail(shared_data, name):
    task = load_registry()[name]
    prepared = prepare(task, shared_data, None, BuildContext())
    responses = [ItemResponses(texts=[solution, ""]) for solution in canonical(shared_data, name)]
    score = score_task(task, prepared.items, responses, MetricContext())
    canonical_results = {i: p["results"][0] for i, p in enumerate(score.predictions)}
    failing = {i: r for i, r in canonical_results.items() if r != "passed"}
    if name == "humaneval":
        assert failing == {}
    else:
        # JHumanEval/64's prompt lost the blank lines between `FIX = """..."""` and `def`: no program
        # built on it compiles, in the reference as here (the data is used unchanged).
        assert failing == {64: "failed: invalid syntax (<string>, line 4)"}
    assert all(p["results"][1] != "passed" for p in score.predictions)  # the empty completion
    assert [p["passed"] for p in score.predictions] == [int(i not in failing) for i in range(164)]
    assert score.metrics["pass@1"] == pytest.approx((164 - len(failing)) / 164 / 2)
    assert math.isnan(score.metrics["pass@10"])  # n = 2 < 10: code_eval.py does not report it


def test_pass_at_k_is_the_unbiased_estimator():
    for n in range(1, 13):
        for c in range(n + 1):
            for k in (1, 2, 5, 10):
                if k <= n:
                    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                    assert estimate_pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
    assert estimate_pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert estimate_pass_at_k(10, 1, 10) == 1.0 and estimate_pass_at_k(10, 0, 10) == 0.0


def test_pass_at_k_metric_command(tmp_path):
    cases = tmp_path / "cases.jsonl"
    results = [["passed"] * 3 + ["failed: "] * 7, ["timed out"] * 10, ["passed"] * 10]
    cases.write_text("".join(json.dumps({"prediction": {"results": r}, "reference": ""}) + "\n" for r in results))
    one = json.loads(cli("metric", "pass@1", "--input", str(cases)).stdout)
    ten = json.loads(cli("metric", "pass@10", "--input", str(cases)).stdout)
    assert one["per_item"] == pytest.approx([0.3, 0.0, 1.0]) and one["score"] == pytest.approx(1.3 / 3)
    assert ten["per_item"] == [1.0, 0.0, 1.0] and ten["score"] == pytest.approx(2 / 3)


def test_answer_at_10_follows_custom_utils():
    prompt = 'def f():\n    """doc"""\n'
    assert not answered([prompt] * 10)  # nothing after the docstring
    assert not answered([prompt + '   \t\n  "" \n'] * 10)  # only whitespace and quotes
    assert answered([prompt] * 9 + [prompt + "    return 1\n"])  # one sample answered
    assert answered([prompt + "    # a comment counts as an answer\n"] * 10)
    single = "def g():\n    '''doc'''\n"
    assert not answered([single] * 10)
    # the two delimiters are checked separately: each sample empty after its last ''' is enough
    assert not answered([single, single + '    x = """a"""  ' + "'''\n"])


def test_score_a_samples_file_without_model(tmp_path, shared_data):
    """Completions generated elsewhere (a GPU node) are cut at the stop strings and executed here."""
    right = "    return sorted(x for x in range(min(a, b), max(a, b) + 1) if x % 2 == 0 and x < 10)\n"
    wrong = "    return []\n"
    rows = [
        {"index": 163, "outputs": [right] * 3 + [wrong] * 6 + [right + "\ndef check(candidate):\n    pass\n"]},
        {"index": 0, "outputs": ["    import os\n    os._exit(0)\n"] * 9 + [""]},
    ]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = json.loads(cli("score", "jhumaneval", "--predictions", str(samples), "--data-dir", str(shared_data)).stdout)
    assert out == {"task": "jhumaneval", "n": 2,
                   "metrics": {"pass@1": pytest.approx((4 / 10 + 0) / 2), "pass@10": pytest.approx(0.5),
                               "answer@10": 1.0}}


def test_execution_settings_from_the_environment(tmp_path, shared_data):
    right_but_slow = "    import time\n    time.sleep(0.2)\n    return [x for x in range(min(a, b), max(a, b) + 1) if x % 2 == 0 and x < 10]\n"
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"index": 163, "output": [right_but_slow]}) + "\n")
    args = ("score", "humaneval", "--predictions", str(samples), "--data-dir", str(shared_data))
    assert json.loads(cli(*args).stdout)["metrics"]["pass@1"] == 1.0  # 4 calls of 0.2 s: within the reference's 3.0 s
    assert json.loads(cli(*args, env={"SWALLOW_EVAL_EXEC_TIMEOUT": "0.5"}).stdout)["metrics"]["pass@1"] == 0.0
    bad = cli(*args, env={"SWALLOW_EVAL_EXEC_WORKERS": "two"}, check=False)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: SWALLOW_EVAL_EXEC_TIMEOUT")


def test_tasks_are_registered():
    rows = {r["name"]: r for r in jsonl(cli("tasks", "--json").stdout)}
    assert rows["jhumaneval"] == {"name": "jhumaneval", "suite": "ja", "shots": 0,
                                  "metrics": ["pass@1", "pass@10", "answer@10"], "column": "JHumanEval",
                                  "request_type": "generate", "reference": "bigcode-evaluation-harness"}
    assert rows["humaneval"]["suite"] == "en" and rows["humaneval"]["column"] == "HumanEval"
    generation = load_registry()["jhumaneval"].generation
    assert generation == bigcode.GENERATION
    assert (generation.n, generation.temperature, generation.top_p, generation.max_total_tokens) == (10, 0.2, 0.95, 1024)
