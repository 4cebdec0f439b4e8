"""JHumanEval and HumanEval end to end on the proxy model (fp32): 10 seeded samples per problem with
the reference's settings, exact completions, executed in the sandbox, re-scored from the samples file.

`--limit 1`: the first problem of each task is one where all 10 samples hit a stop string within
~40 tokens, so the run costs seconds, not the minutes of a sample that runs to 1,024 tokens.
"""

import json

import pytest

from conftest import cli

pytestmark = pytest.mark.model

JHUMANEVAL = [
    "    if threshold > 0.5:\n        return True\n    else:\n        return False\n\n",
    "    if threshold > numbers[0]:\n        return False\n    else:\n        return True\n\n",
    "    if threshold > numbers[0]:\n        return False\n    elif threshold < numbers[1]:\n        return False\n"
    "    else:\n        return True\n\n",
    "    if threshold > 0.5:\n        return True\n    else:\n        return False\n\n",
    "    if not numbers[0] <= threshold and not numbers[1] <= threshold:\n        return False\n    return True\n\n",
    *["    if threshold > 0.5:\n        return True\n    else:\n        return False\n\n"] * 4,
    "    if threshold > 0.5:\n        return True\n    else:\n        return False\n",
]
HUMANEVAL = [
    "    if len(numbers) < threshold:\n        return False\n    else:\n        return True\n\n",
    "    if not numbers[0] <= threshold and not numbers[1] <= threshold:\n        return False\n    return True\n\n",
    "    if not numbers:\n        return False\n    if threshold > 0.5:\n        return True\n    else:\n        return False\n",
    "    if len(numbers) < threshold:\n        return False\n    else:\n        return True\n\n",
    "    if not numbers[0] <= threshold and not numbers[1] <= threshold:\n        return False\n    return True\n\n",
    *["    if len(numbers) > threshold:\n        return False\n    else:\n        return True\n\n"] * 2,
    "    if len(numbers) < threshold:\n        return False\n    else:\n        return True\n\n",
    "    if len(numbers) > threshold:\n        return False\n    else:\n        return True\n\n",
    "    if threshold > 0.5:\n        return True\n    else:\n        return False\n",
]


def test_code_tasks_first_problem(shared_data, tmp_path):
    out = tmp_path / "results"
    cli("run", "--tasks", "jhumaneval,humaneval", "--model", "proxy:gemma3-270m", "--data-dir", str(shared_data),
        "--limit", "1", "--output-dir", str(out), "--no-cache", "--no-progress")
    (results_file,) = out.glob("gemma3-270m/*/results.json")
    results = json.loads(results_file.read_text())
    for task, expected in (("jhumaneval", JHUMANEVAL), ("humaneval", HUMANEVAL)):
        (row,) = [json.loads(line) for line in (results_file.parent / "samples" / f"{task}.jsonl").open()]
        assert row["outputs"] == expected
        prediction = row["prediction"]
        assert prediction["programs"] == [row["prompt"] + text for text in expected]
        assert prediction["results"] == ["failed: "] * 10  # a wrong answer: an AssertionError without message
        assert prediction["passed"] == 0
        assert row["metrics"] == {"pass@1": 0.0, "pass@10": 0.0, "answer@10": 1.0}
        summary = results["tasks"][task]
        assert summary["add_bos"] is True  # bigcode: the tokenizer's default
        assert summary["card"]["column"] == task and summary["card"]["value"] == 0.0
        assert {name: m["value"] for name, m in summary["metrics"].items()} == \
            {"pass@1": 0.0, "pass@10": 0.0, "answer@10": 1.0}
        # generated on one machine, executed on another: the samples file is a predictions file
        rescored = json.loads(cli("score", task, "--predictions", str(results_file.parent / "samples" / f"{task}.jsonl"),
                                  "--data-dir", str(shared_data)).stdout)
        assert rescored == {"task": task, "n": 1, "metrics": {"pass@1": 0.0, "pass@10": 0.0, "answer@10": 1.0}}
