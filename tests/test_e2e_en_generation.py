"""The English generation tasks end to end on the proxy model (fp32, CPU): exact outputs and scores.

One run (one model load) serves the five tasks, 5 items each: TriviaQA and SQuAD2 on the
hand-written fixtures, GSM8K, MATH-500 and BBH on the real data. The proxy rarely stops early, so
to keep this within the CPU budget MATH-500 and BBH run here as task files derived from the real
ones with 64 new tokens instead of 2048 and 1024 (prompts, stop strings, extraction and metrics
unchanged), and BBH on two subtasks; GSM8K keeps its 256.
"""

import hashlib
import json
import math
from pathlib import Path

import pytest

from conftest import FIXTURES, run_api

pytestmark = pytest.mark.model

DERIVED_TASKS = {
    "math500_short.py": """
import dataclasses
from swallow_eval.task import load_registry
MATH = load_registry()["math500"]
TASK = dataclasses.replace(MATH, name="math500_short", generation=dataclasses.replace(MATH.generation, max_new_tokens=64))
""",
    "bbh_pair.py": """
import dataclasses
from swallow_eval.task import load_registry
BBH = load_registry()["bbh"]
KEEP = ("boolean_expressions", "sports_understanding")
TASK = dataclasses.replace(BBH, name="bbh_pair", generation=dataclasses.replace(BBH.generation, max_new_tokens=64),
                           build=lambda data, context: [i for i in BBH.build(data, context) if i.subtask in KEEP])
""",
}

BOOLEAN_COT = ('\nRemember that (i) expressions inside brackets are always evaluated first and that (ii) the order of '
               'operations from highest priority to lowest priority is "not", "and", "or", respectively.\n'
               'We first simplify this expression "Z" as follows: "Z = ')


@pytest.fixture(scope="module")
def run(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("en_generation")
    data, tasks = root / "data", root / "tasks"
    data.mkdir()
    tasks.mkdir()
    for name in ("gsm8k", "math500", "bbh"):
        (data / name).symlink_to(shared_data / name)
    for name in ("triviaqa", "squad_v2"):
        (data / name).symlink_to(FIXTURES / name)
    for name, text in DERIVED_TASKS.items():
        (tasks / name).write_text(text)
    out = root / "results"
    run_api(out, tasks="triviaqa,squad2,gsm8k,math500_short,bbh_pair", tasks_dirs=(tasks,), data_dir=data, limit=5)
    (results,) = out.glob("gemma3-270m/*/results.json")
    return results.parent


def samples(run_dir: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples" / f"{task}.jsonl").read_text().splitlines()]


def task_result(run_dir: Path, task: str) -> dict:
    return json.loads((run_dir / "results.json").read_text())["tasks"][task]


def outputs(run_dir: Path, task: str) -> list[str]:
    return [row["outputs"][0] for row in samples(run_dir, task)]


def test_every_task_adds_bos_for_the_gemma_proxy(run):
    results = json.loads((run / "results.json").read_text())
    assert results["requests"]["total"] == 35  # 30 generations + 5 SQuAD2 log-likelihoods
    assert all(task["add_bos"] for task in results["tasks"].values())


def test_triviaqa(run):
    assert outputs(run, "triviaqa") == [" Paris", " William Shakespeare", " Au", " Missouri", " 2"]
    result = task_result(run, "triviaqa")
    assert result["metrics"]["triviaqa_em"]["value"] == pytest.approx(0.8)
    assert result["card"]["value"] == pytest.approx(0.8)


def test_squad2(run):
    rows = samples(run, "squad2")
    assert [row["outputs"][0] for row in rows] == [
        "  Normandy is located in France.", "  10th century", "  Normans", "  from Denmark, Iceland and Norway",
        "  computational_complexity_theory",
    ]
    for row in rows:
        assert row["prediction"]["no_answer_probability"] == pytest.approx(math.exp(row["loglikelihoods"][0]))
    assert [row["loglikelihoods"][0] for row in rows] == pytest.approx([-15.1014, -9.7858, -10.0686, -14.8129, -13.6275],
                                                                        abs=1e-3)
    result = task_result(run, "squad2")
    assert result["metrics"]["squad2_exact"] == {"value": 0.0, "scale": 100.0}
    # the unanswerable question (third) has a non-empty answer: only the first answerable one gains
    assert result["metrics"]["squad2_best_exact"]["value"] == pytest.approx(20.0)
    assert result["card"] == {"column": "squad2", "label": "SQuAD2.0", "metric": "squad2_exact", "value": 0.0}


def test_gsm8k_runs_to_its_256_token_cap(run):
    texts = outputs(run, "gsm8k")
    assert [text[:30] for text in texts] == [
        " Janet’s ducks made $2 * 2 = $", " The total number of bolts in ", " Josh made $80,000 in profit.\n",
        " James runs 60 meters a week.\n", " Wendi needs to give her chick",
    ]
    assert hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest() == (
        "00b213285ccd9bd2eac9723c8d15a795e208646650872737d8754314e7205426")
    result = task_result(run, "gsm8k")
    assert result["tokens"]["generated"] == 5 * 256 and result["metrics"]["gsm8k_strict"]["value"] == 0.0


def test_math500_stops_at_i_hope_it_is_correct(run):
    texts = outputs(run, "math500_short")
    assert texts[0] == ("\nThe point $(0,3)$ is in rectangular coordinates.  The polar coordinates are "
                        "$(r, \\theta)=(0,3)$.\nFinal Answer: The final answer is $(0,3)$. ")
    assert texts[3] == "\nThe number of positive whole-number divisors of 196 is 196.\nFinal Answer: The final answer is 196. "
    assert texts[1].startswith("\nWe have that\n\\[\\sum_{j = 1}^\\infty")
    assert texts[2].startswith("\nWe have that $f(-2) + f(-1) + f(0) = ")
    assert texts[4].startswith("\nThe results of a cross-country team's training run are graphed below.")
    assert task_result(run, "math500_short")["metrics"]["math_equiv"]["value"] == 0.0


def test_bbh_two_subtasks(run):
    rows = samples(run, "bbh_pair")
    assert [row["subtask"] for row in rows] == ["boolean_expressions"] * 5 + ["sports_understanding"] * 5
    # the first exemplar's reasoning, copied until the 64-token cap
    assert [row["outputs"][0] for row in rows[:5]] == [BOOLEAN_COT + tail for tail in (
        "not ( True ) and ( True ) =", "not not ( not ( False ) ) =", "not ( not ( False ) ) = not",
        "False and not ( True ) = not (", "True and False and not True and True =")]
    assert [row["outputs"][0] for row in rows[5:]] == [
        " Elias Lindholm is an American basketball player. The buzzer is part of the NBA Finals. So the answer is no.",
        " John Carlson is an American hockey player. Scoring in the third period is part of the NHL. So the answer is no.",
        " Marcelo got on the end of a through ball is part of the NBA. So the answer is no.",
        " Deshaun Watson is an American basketball player. Goal tending is part of the NBA. So the answer is no.",
        " Mookie Betts is an American football player. Skating behind the net is part of American football."
        " So the answer is no.",
    ]
    assert [row["target"] for row in rows[5:]] == ["no", "yes", "yes", "no", "no"]
    result = task_result(run, "bbh_pair")
    assert result["subtasks"] == {"boolean_expressions": {"bbh_exact": 0.0}, "sports_understanding": {"bbh_exact": 0.6}}
    assert result["metrics"]["bbh_exact"]["value"] == pytest.approx(0.3)  # micro-average over the 10 questions
