"""JHumanEval end to end on the proxy model (fp32): 10 seeded samples with the reference's settings,
exact completions, executed in the sandbox, re-scored from the samples file. (HumanEval shares every
line of it but the data file, whose prompts and tests test_code_tasks.py checks.)

`--limit 1`: on the first problem all 10 samples hit a stop string within ~40 tokens, so the run
costs seconds of generation, not the minutes of a sample that runs to 1,024 tokens.
"""

import json

import pytest

from conftest import cli, run_api

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


def test_jhumaneval_first_problem(shared_data, tmp_path):
    out = tmp_path / "results"
    run_api(out, tasks="jhumaneval", data_dir=shared_data, limit=1)
    (results_file,) = out.glob("gemma3-270m/*/results.json")
    results = json.loads(results_file.read_text())
    samples = results_file.parent / "samples" / "jhumaneval.jsonl"
    (row,) = [json.loads(line) for line in samples.open()]
    assert row["outputs"] == JHUMANEVAL
    prediction = row["prediction"]
    assert prediction["programs"] == [row["prompt"] + text for text in JHUMANEVAL]
    assert prediction["results"] == ["failed: "] * 10  # a wrong answer: an AssertionError without message
    assert prediction["passed"] == 0
    assert row["metrics"] == {"pass@1": 0.0, "pass@10": 0.0, "answer@10": 1.0}
    summary = results["tasks"]["jhumaneval"]
    assert summary["add_bos"] is True  # bigcode: the tokenizer's default
    assert summary["tokens"] == {"prompt": 128, "generated": 245}  # BOS included; 10 samples of ~25 tokens
    assert summary["card"]["column"] == "jhumaneval" and summary["card"]["value"] == 0.0
    assert {name: m["value"] for name, m in summary["metrics"].items()} == \
        {"pass@1": 0.0, "pass@10": 0.0, "answer@10": 1.0}
    # generated on one machine, executed on another: the samples file is a predictions file
    rescored = json.loads(cli("score", "jhumaneval", "--predictions", str(samples),
                              "--data-dir", str(shared_data)).stdout)
    assert rescored == {"task": "jhumaneval", "n": 1, "metrics": {"pass@1": 0.0, "pass@10": 0.0, "answer@10": 1.0}}
