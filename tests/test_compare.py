"""`swallow-eval compare`: deltas with their SE and test, item flips, exit codes, non-comparable runs.

The run folders are written by the real results writer (swallow_eval/results.py) from chosen outputs
for the first 20 JCommonsenseQA items, so the known deltas and flips follow from the outputs.
"""

import dataclasses
import json
import math

import pytest

from conftest import cli
from swallow_eval import metrics
from swallow_eval.compare import compare_runs as compare, mcnemar_exact, to_text
from swallow_eval.errors import UserError
from swallow_eval.metrics import Metric, MetricContext, MetricResult
from swallow_eval.pipeline import ItemResponses, prepare
from swallow_eval.results import task_result, write_results, write_samples
from swallow_eval.scoring import score_task
from swallow_eval.task import BuildContext, load_registry

N = 20


def _register_test_metrics():
    """A per-item metric with partial credit and a corpus metric (no per-item values, like BLEU)."""
    metrics.names()  # load the built-in metrics first: the registry loads them only while empty
    if "test_partial_credit" in metrics.names():
        return

    @metrics.item_metric("test_partial_credit")
    def partial_credit(prediction, reference) -> float:
        return 1.0 if prediction == reference else 0.5 if prediction in "01234" else 0.0

    def corpus_match(predictions, references, context):
        return MetricResult(None, sum(p == r for p, r in zip(predictions, references)) / len(predictions))

    metrics.register(Metric("test_corpus_match", corpus_match))


def variant(task, metric: str):
    return dataclasses.replace(task, name=f"jcom_{metric}", metrics=(metric,),
                               column=dataclasses.replace(task.column, key=f"jcom_{metric}", metric=metric, round_digits=None))


@pytest.fixture(scope="module")
def tasks(shared_data):
    _register_test_metrics()
    jcom = load_registry()["jcommonsenseqa"]
    return {name: prepare(task, shared_data, N, BuildContext())
            for name, task in [("jcommonsenseqa", jcom), ("partial", variant(jcom, "test_partial_credit")),
                               ("corpus", variant(jcom, "test_corpus_match"))]}


def answers(prepared, wrong=(), invalid=()) -> list[str]:
    """Gold answers except at `wrong` (another choice number) and `invalid` (not a number)."""
    out = []
    for position, item in enumerate(prepared.items):
        gold = item.target
        out.append("x" if position in invalid else str((int(gold) + 1) % 5) if position in wrong else gold)
    return out


def write_run(folder, *runs):
    """runs: (prepared task, outputs) pairs; the files `swallow-eval run` writes, from these outputs."""
    (folder / "samples").mkdir(parents=True)
    results = {}
    for prepared, outputs in runs:
        responses = [ItemResponses(texts=[o]) for o in outputs]
        score = score_task(prepared.task, prepared.items, responses, MetricContext())
        write_samples(folder / "samples" / f"{prepared.task.name}.jsonl", prepared, score, responses)
        results[prepared.task.name] = task_result(prepared, score, responses)
    write_results(folder, {"swallow_eval_results": 1, "model": {"spec": "proxy:test", "name": "test"},
                           "tasks": results})
    return folder


BASELINE_WRONG = range(16, 20)  # baseline: 16 of 20 right, 0.8


def test_mcnemar_exact_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(6, 1) == pytest.approx(2 * (1 + 7) / 2**7)  # 0.125
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 2**10)
    assert mcnemar_exact(3, 3) == 1.0


def test_known_delta_flips_and_se(tmp_path, tasks):
    jcom = tasks["jcommonsenseqa"]
    base = write_run(tmp_path / "base", (jcom, answers(jcom, BASELINE_WRONG)))
    # items 0-5 lost, item 16 gained: 0.8 -> 0.55
    cand = write_run(tmp_path / "cand", (jcom, answers(jcom, [*range(6), 17, 18, 19])))
    result = compare(base, cand, tolerance=0.01, alpha=0.05)
    (task,) = result.tasks
    assert (task.baseline, task.candidate, task.n) == (0.8, 0.55, N)
    assert task.delta == pytest.approx(-0.25)
    # paired differences: six -1, one +1, thirteen 0
    assert task.se == pytest.approx(math.sqrt((6 * 0.75**2 + 1.25**2 + 13 * 0.25**2) / 19) / math.sqrt(N))
    assert task.test == "mcnemar-exact" and task.p_value == pytest.approx(0.125)
    assert not task.significant and not task.regression and result.exit_code == 0  # a big drop, but noise
    assert (task.lost, task.gained) == (6, 1)
    first, last = task.flips[0], task.flips[-1]
    samples = [json.loads(line) for line in (base / "samples" / "jcommonsenseqa.jsonl").read_text().splitlines()]
    assert (first.index, first.prompt_hash, first.old, first.old_score, first.new_score) == \
        (samples[0]["index"], samples[0]["prompt_hash"], samples[0]["target"], 1.0, 0.0)
    assert first.new == str((int(samples[0]["target"]) + 1) % 5)
    assert (last.index, last.old_score, last.new_score, last.new) == (samples[16]["index"], 0.0, 1.0, samples[16]["target"])
    text = to_text(result)
    assert "jcommonsenseqa" in text and "-0.2500" in text and "6/1" in text and text.endswith(
        "OK: 1 task compared; 0 regressed beyond 0.01; 0 improved; 7 items changed\n")


def test_exit_codes(tmp_path, tasks):
    jcom = tasks["jcommonsenseqa"]
    base = write_run(tmp_path / "base", (jcom, answers(jcom, BASELINE_WRONG)))
    same = write_run(tmp_path / "same", (jcom, answers(jcom, BASELINE_WRONG)))
    worse = write_run(tmp_path / "worse", (jcom, answers(jcom, [*range(10), *BASELINE_WRONG])))  # 10 lost: p=0.002
    out = cli("compare", str(base), str(same))
    assert out.stdout.endswith("OK: 1 task compared; 0 regressed beyond 0.01; 0 improved; 0 items changed\n")
    failed = cli("compare", str(base), str(worse), check=False)
    assert failed.returncode == 1, failed.stderr
    assert "REGRESSION" in failed.stdout and failed.stdout.splitlines()[-1].startswith(
        "FAIL: 1 task compared; 1 regressed beyond 0.01 (jcommonsenseqa -0.5000)")
    # significant, but within the tolerance; or beyond it but not significant at this alpha
    assert cli("compare", str(base), str(worse), "--tolerance", "0.6", check=False).returncode == 0
    assert cli("compare", str(base), str(worse), "--alpha", "0.001", check=False).returncode == 0
    report = json.loads(cli("compare", str(base), str(worse), "--json", check=False).stdout)
    task = report["tasks"][0]
    assert report["exit_code"] == 1 and task["regression"] and task["p_value"] == pytest.approx(2 / 2**10)
    assert (task["lost"], task["gained"], len(task["flips"])) == (10, 0, 10)


def test_partial_credit_metric_uses_a_paired_z_test(tmp_path, tasks):
    partial = tasks["partial"]
    base = write_run(tmp_path / "base", (partial, answers(partial)))
    cand = write_run(tmp_path / "cand", (partial, answers(partial, wrong=range(10))))  # ten items 1 -> 0.5
    (task,) = compare(base, cand).tasks
    assert task.delta == pytest.approx(-0.25) and task.test == "paired-z"
    assert task.se == pytest.approx(math.sqrt(20 * 0.25**2 / 19) / math.sqrt(N))
    z = 0.25 / task.se
    assert task.p_value == pytest.approx(math.erfc(z / math.sqrt(2))) and task.regression
    assert {(f.old_score, f.new_score) for f in task.flips} == {(1.0, 0.5)}


def test_corpus_metric_lists_changed_predictions_and_gates_on_tolerance(tmp_path, tasks):
    corpus = tasks["corpus"]
    base = write_run(tmp_path / "base", (corpus, answers(corpus, BASELINE_WRONG)))
    # items 16-19 change from one wrong answer to another: changed predictions, same score
    cand = write_run(tmp_path / "cand", (corpus, answers(corpus, range(5), invalid=BASELINE_WRONG)))
    (task,) = compare(base, cand).tasks
    assert task.delta == pytest.approx(-0.25) and task.se is None and task.test is None
    assert not task.per_item_scores and task.regression  # untested: the tolerance decides
    assert [f.index for f in task.flips] == [i.index for i in corpus.items[:5]] + [i.index for i in corpus.items[16:]]
    assert task.flips[-1].new == "x" and task.flips[-1].old_score is None
    assert "9 changed" in to_text(compare(base, cand)) and "REGRESSION (untested)" in to_text(compare(base, cand))
    small = write_run(tmp_path / "small", (corpus, answers(corpus, BASELINE_WRONG, invalid=[19])))
    (task,) = compare(base, small).tasks
    assert task.delta == 0 and not task.regression and len(task.flips) == 1


def test_non_comparable_runs_exit_2_and_say_why(tmp_path, tasks, shared_data):
    from test_cli_errors import one_line_error

    jcom, partial = tasks["jcommonsenseqa"], tasks["partial"]
    base = write_run(tmp_path / "base", (jcom, answers(jcom)))
    fewer = prepare(jcom.task, shared_data, 10, BuildContext())
    line = one_line_error(cli("compare", str(base), str(write_run(tmp_path / "fewer", (fewer, answers(fewer)))),
                              check=False))
    assert "runs are not comparable: jcommonsenseqa: item sets differ (20 vs 10 items; only in baseline: " in line

    def edited(name, edit_results=None, edit_sample=None):
        folder = write_run(tmp_path / name, (jcom, answers(jcom)))
        if edit_results:
            path = folder / "results.json"
            payload = json.loads(path.read_text())
            edit_results(payload["tasks"]["jcommonsenseqa"])
            path.write_text(json.dumps(payload))
        if edit_sample:
            path = folder / "samples" / "jcommonsenseqa.jsonl"
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            edit_sample(rows[3])
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return str(folder)

    line = one_line_error(cli("compare", str(base), edited("version", lambda t: t.update(version="2")), check=False))
    assert "jcommonsenseqa: task versions differ (1 vs 2)" in line
    index = jcom.items[3].index

    def new_prompt(row):
        row["prompt_hash"] = "0" * 16

    line = one_line_error(cli("compare", str(base), edited("prompt", lambda t: t.update(prompt_hash="f" * 16), new_prompt),
                              check=False))
    assert f"jcommonsenseqa: prompt hashes differ ({json.loads((base / 'results.json').read_text())['tasks']['jcommonsenseqa']['prompt_hash']} vs {'f' * 16}; items {index})" in line
    line = one_line_error(cli("compare", str(base), edited("gold", edit_sample=lambda r: r.update(target="9")), check=False))
    assert f"jcommonsenseqa: gold answers differ for items {index}" in line
    more = write_run(tmp_path / "more", (jcom, answers(jcom)), (partial, answers(partial)))
    line = one_line_error(cli("compare", str(base), str(more), check=False))
    assert "tasks differ (only in candidate: jcom_test_partial_credit); pass --tasks" in line
    assert cli("compare", str(base), str(more), "--tasks", "jcommonsenseqa").returncode == 0


def test_missing_samples_and_bad_folders(tmp_path, tasks):
    jcom = tasks["jcommonsenseqa"]
    base = write_run(tmp_path / "base", (jcom, answers(jcom)))
    cand = write_run(tmp_path / "cand", (jcom, answers(jcom)))
    (cand / "samples" / "jcommonsenseqa.jsonl").unlink()
    with pytest.raises(UserError, match="samples/jcommonsenseqa.jsonl: missing"):
        compare(base, cand)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="0 runs"):
        compare(base, empty)
    with pytest.raises(UserError, match="2 runs"):
        compare(base, tmp_path)
