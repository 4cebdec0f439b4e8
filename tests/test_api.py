"""The Python API: `swallow_eval.evaluate` in-process equals `swallow-eval run` in a subprocess, file by
file, and its RunResult reports what the files say (scores, card values, SEs, counts, samples)."""

import json
from statistics import stdev

import pytest

from conftest import cli, run_api

TASKS = "jcommonsenseqa,xwinograd_en"  # a generation task and a log-likelihood task
VOLATILE = ("run_id", "created", "timings")


def _without_volatile(path):
    payload = json.loads(path.read_text(encoding="utf-8"))
    return {key: value for key, value in payload.items() if key not in VOLATILE}


@pytest.mark.model
def test_evaluate_equals_the_cli_run(shared_data, tmp_path):
    cli("run", "--tasks", TASKS, "--model", "proxy:gemma3-270m", "--data-dir", str(shared_data), "--limit", "4",
        "--output-dir", str(tmp_path / "cli"), "--no-cache", "--no-progress")
    (cli_results,) = (tmp_path / "cli").glob("gemma3-270m/*/results.json")
    result = run_api(tmp_path / "api", tasks=TASKS, data_dir=shared_data, limit=4)

    assert result.results_path == result.run_dir / "results.json" and result.results_path.is_file()
    assert result.run_dir.parent == tmp_path / "api" / "gemma3-270m"
    assert result.run_id.split("-")[1] == cli_results.parent.name.split("-")[1]  # the same config hash
    assert _without_volatile(result.results_path) == _without_volatile(cli_results)
    assert sorted(p.name for p in (result.run_dir / "samples").iterdir()) == \
        sorted(p.name for p in (cli_results.parent / "samples").iterdir()) == ["jcommonsenseqa.jsonl", "xwinograd_en.jsonl"]
    for task in TASKS.split(","):
        assert result.samples_paths[task].read_bytes() == (cli_results.parent / "samples" / f"{task}.jsonl").read_bytes()

    written = json.loads(result.results_path.read_text(encoding="utf-8"))
    assert written["schema_version"] == 1 and "swallow_eval_results" not in written
    assert result.results == written
    assert result.card == written["card"] and result.skipped == {}
    assert set(result.timings) >= {"model_load_s", "loglikelihood_s", "generate_s", "scoring_s", "total_s"}
    assert (result.requests.total, result.requests.distinct, result.requests.cached, result.requests.computed) == \
        (4 + 4 * 2, 12, 0, 12)
    # The hf backend reports the prompt tokens it was asked for and computed (prefix sharing by default:
    # jcommonsenseqa's prompts share their few-shot block).
    assert result.serving["prefix_sharing"] is True and result.serving == written["serving"]
    for counts in result.serving["prompt_tokens"].values():
        assert counts["requested"] >= counts["computed"] > 0
    assert result.serving["prompt_tokens"]["generate"]["computed"] < result.serving["prompt_tokens"]["generate"]["requested"]
    # ... and per task: each task's requests and its share of the computed tokens (these two tasks share
    # no request, one kind each, so each task's counts are its kind's).
    assert result.serving["head_screening"] is True
    for name, kind in (("jcommonsenseqa", "generate"), ("xwinograd_en", "loglikelihood")):
        assert written["tasks"][name]["prompt_tokens"] == result.serving["prompt_tokens"][kind]
    for name, outcome in result.tasks.items():
        entry = written["tasks"][name]
        assert outcome.n == entry["n"] == 4
        assert outcome.card_value == entry["card"]["value"] == result.card[entry["card"]["column"]]
        assert outcome.metrics == {metric: e["value"] for metric, e in entry["metrics"].items()}
        rows = [record for task, record in result.samples() if task == name]
        assert rows == [json.loads(line) for line in result.samples_paths[name].read_text().splitlines()]
        scores = [row["metrics"][entry["card"]["metric"]] for row in rows]
        assert sum(scores) / len(scores) == pytest.approx(outcome.card_value)
        assert outcome.stderr == pytest.approx(stdev(scores) / len(scores) ** 0.5)
    assert [t for t, _ in result.samples()] == ["jcommonsenseqa"] * 4 + ["xwinograd_en"] * 4

    from swallow_eval import RunResult

    reloaded = RunResult.load(result.run_dir)
    assert reloaded.tasks == result.tasks and reloaded.requests == result.requests


def test_evaluate_raises_user_errors(tmp_path):
    from swallow_eval import RunConfig, UserError, evaluate

    with pytest.raises(UserError, match="give exactly one of --suite or --tasks"):
        evaluate(RunConfig(model="proxy:gemma3-270m", output_dir=tmp_path))
    with pytest.raises(UserError, match="unknown backend 'hff'"):
        evaluate(RunConfig(model="proxy:gemma3-270m", tasks=["jcommonsenseqa"], backend="hff", output_dir=tmp_path))


def test_config_takes_string_paths_and_task_lists():
    from pathlib import Path

    from swallow_eval import RunConfig

    config = RunConfig(model="m", tasks=["a", "b"], output_dir="out", data_dir="data", tasks_dirs=["t"])
    assert config.task_names == "a,b" and RunConfig(model="m", tasks="a,b").task_names == "a,b"
    assert (config.output_dir, config.data_dir, config.tasks_dirs, config.cache) == \
        (Path("out"), Path("data"), (Path("t"),), None)


def test_serving_statistics_only_when_the_backend_reports_some():
    from swallow_eval.runner import _serving

    class Reporting:
        def __init__(self, stats):
            self._stats = stats

        def stats(self):
            return self._stats

    assert _serving(object()) is None  # a backend without stats()
    assert _serving(Reporting({})) is None
    assert _serving(Reporting({"replicas": 2, "reassigned": 1})) == {"replicas": 2, "reassigned": 1}
