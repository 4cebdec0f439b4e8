"""English generation tasks: settings of the reference, requests, scoring, data errors and samples."""

import csv
import math
import random

import pytest

from conftest import FIXTURES, SHARED_DATA, cli, jsonl
from swallow_eval.families.lmeval import RandomSampler
from swallow_eval.metrics import MetricContext
from swallow_eval.pipeline import ItemResponses, item_requests, prepare
from swallow_eval.requests import GenerateRequest, GenerationSettings, LoglikelihoodRequest
from swallow_eval.scoring import score_task
from swallow_eval.task import LM_EVAL, BuildContext, bos_policy, load_registry

TASKS = ("triviaqa", "squad2", "gsm8k", "math500", "bbh")


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_generation_settings_are_the_references(registry):
    expected = {
        "triviaqa": GenerationSettings(256, ("\n", ".", ",")),
        "squad2": GenerationSettings(256, ("\n",)),
        "gsm8k": GenerationSettings(256, ("Question:", "</s>", "<|im_end|>")),
        "math500": GenerationSettings(2048, ("Problem:", "</s>", "<|im_end|>", "I hope it is correct")),
        "bbh": GenerationSettings(1024, ("</s>", "Q", "\n\n")),
    }
    for name, generation in expected.items():
        task = registry[name]
        assert (task.suite, task.reference, task.generation) == ("en", LM_EVAL, generation), name


def test_card_columns(registry):
    with open(SHARED_DATA.parent / "reference" / "en_tasks.csv", newline="") as handle:
        headers = next(csv.reader(handle))
    assert {registry[name].column.key for name in TASKS} <= set(headers)
    squad = registry["squad2"].column
    assert squad.metric == "squad2_exact" and squad.value(66.7) == pytest.approx(0.667)


def test_bos_only_for_gemma_model_types():
    assert bos_policy(LM_EVAL, "google/gemma-3-270m", "gemma3_text", True)
    assert not bos_policy(LM_EVAL, "meta-llama/Llama-3.1-8B", "llama", True)


def test_sampler_draws_one_extra_doc_when_no_split_is_named():
    pool = [{"id": i} for i in range(100)]
    sampler, reference = RandomSampler(pool, 4, draw_extra=True), random.Random(1234)
    for doc in ({"id": -1}, {"id": -2}):
        assert sampler.shots(doc) == [pool[i] for i in reference.sample(range(100), 5)][:4]


def test_squad2_item_asks_for_a_generation_and_the_unanswerable_loglikelihood(registry):
    task = registry["squad2"]
    items = prepare(task, FIXTURES, 2, BuildContext()).items
    generate, loglikelihood = item_requests(task, items[0], add_bos=False)
    assert generate == GenerateRequest(items[0].prompt, GenerationSettings(256, stop=("\n",)))
    assert loglikelihood == LoglikelihoodRequest(items[0].prompt, " unanswerable")
    responses = [ItemResponses(texts=[" France"], loglikelihoods=[-2.0]),
                 ItemResponses(texts=[" unanswerable"], loglikelihoods=[-0.1])]
    score = score_task(task, items, responses, MetricContext())
    assert score.predictions[0] == {"prediction_text": " France", "no_answer_probability": math.exp(-2.0)}
    assert score.metrics == {"squad2_exact": 50.0, "squad2_best_exact": 50.0}


def test_bbh_reports_every_subtask_and_the_micro_average(registry, shared_data):
    task = registry["bbh"]
    items = prepare(task, shared_data, 2, BuildContext()).items
    outputs = [f" So the answer is {item.target}." if i % 2 == 0 else " no idea" for i, item in enumerate(items)]
    score = score_task(task, items, [ItemResponses(texts=[o]) for o in outputs], MetricContext())
    assert len(score.subtasks) == 27 and all(s == {"bbh_exact": 0.5} for s in score.subtasks.values())
    assert score.metrics == {"bbh_exact": 0.5}


def one_line_error(result) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    return line


def test_malformed_data_is_named(tmp_path, shared_data):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "train.jsonl").write_bytes((shared_data / "gsm8k" / "train.jsonl").read_bytes())
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"question": "q", "answer": "#### 1"}\n{"question": "q"}\n')
    line = one_line_error(cli("prompts", "gsm8k", "--data-dir", str(tmp_path), check=False))
    assert "gsm8k/test.jsonl:2: malformed row" in line and "answer" in line

    (tmp_path / "triviaqa" / "rc.nocontext").mkdir(parents=True)
    for name in ("train", "validation"):
        (tmp_path / "triviaqa" / "rc.nocontext" / f"{name}-00000-of-00001.parquet").write_text("not parquet")
    line = one_line_error(cli("prompts", "triviaqa", "--data-dir", str(tmp_path), check=False))
    assert "validation-00000-of-00001.parquet: not a readable Parquet file" in line


def test_embedded_samples_give_the_full_data_prompts(tmp_path, shared_data, registry):
    env = {"SWALLOW_EVAL_CACHE_DIR": str(tmp_path), "SWALLOW_EVAL_DATA_DIR": ""}
    for name, per_subtask in (("gsm8k", 5), ("math500", 5), ("bbh", 1)):
        sample = jsonl(cli("prompts", name, env=env).stdout)
        full = jsonl(cli("prompts", name, "--data-dir", str(shared_data), "--limit", str(per_subtask)).stdout)
        assert [(r["prompt"], r["target"]) for r in sample] == [(r["prompt"], r["target"]) for r in full], name
    assert all(registry[name].no_sample_reason for name in ("triviaqa", "squad2"))


def test_squad2_rescoring_needs_output_and_loglikelihood(tmp_path):
    predictions = tmp_path / "p.jsonl"
    predictions.write_text('{"index": 0, "output": "  France", "loglikelihoods": [-3.0]}\n'
                           '{"index": 1, "output": " 10th and 11th centuries", "loglikelihoods": [-1.0]}\n')
    out = jsonl(cli("score", "squad2", "--predictions", str(predictions), "--data-dir", str(FIXTURES)).stdout)
    assert out == [{"task": "squad2", "n": 2, "metrics": {"squad2_exact": 100.0, "squad2_best_exact": 100.0}}]
    predictions.write_text('{"index": 0, "output": " France"}\n')
    result = cli("score", "squad2", "--predictions", str(predictions), "--data-dir", str(FIXTURES), check=False)
    assert one_line_error(result) == 'error: squad2 item 0: needs both the generated output and the log-likelihood of " unanswerable"'
