"""`swallow-eval plan`: its counts are what `run` would send and the hf backend would compute."""

import json
import random

import pytest
import torch

from conftest import cli
from swallow_eval.backends.hf import HFBackend
from swallow_eval.backends.hf_plan import Row
from swallow_eval.pipeline import item_requests, prepare
from swallow_eval.plan import Counts, duration, make_plan
from swallow_eval.prefix import distinct_prefix_tokens
from swallow_eval.requests import GenerateRequest
from swallow_eval.task import BuildContext, bos_policy, load_registry


def trie_nodes(sequences) -> int:
    """The prefix tree's nodes counted the slow, obvious way: every distinct non-empty prefix."""
    return len({tuple(s[:k]) for s in sequences for k in range(1, len(s) + 1)})


def test_distinct_prefix_tokens_hand_made():
    sequences = [[1, 2, 3], [1, 2, 4], [1, 2], [5], [1, 2, 3], [], [5, 1, 2, 3]]
    # nodes: 1, 1-2, 1-2-3, 1-2-4, 5, 5-1, 5-1-2, 5-1-2-3
    assert distinct_prefix_tokens(sequences) == 8 == trie_nodes(sequences)
    assert distinct_prefix_tokens([]) == 0
    assert distinct_prefix_tokens([[300_000, 7], [300_000, 8], [7]]) == 4  # ids beyond one byte sort as ints


def test_distinct_prefix_tokens_random():
    rng = random.Random(0)
    stem = [rng.randrange(262_144) for _ in range(50)]
    sequences = [stem[: rng.randrange(51)] + [rng.randrange(4) for _ in range(rng.randrange(8))] for _ in range(500)]
    assert distinct_prefix_tokens(sequences) == trie_nodes(sequences)


def test_time_estimate_arithmetic():
    counts = Counts(distinct_prompt_tokens=9_000, max_new_tokens=1_000)
    assert counts.estimated_seconds(None) is None
    assert counts.estimated_seconds(250.0) == 40.0
    assert [duration(s) for s in (40.0, 185, 7_620, 273_600)] == ["40.0s", "3m 05s", "2h 07m", "3d 04h"]


@pytest.fixture(scope="module")
def weightless_hf(monkeypatch_module, proxy_model):
    """The real HFBackend on the proxy model, its weights on the meta device (nothing loaded):
    its own code computes the tokenizer, BOS/EOS and context length that its encoding uses."""
    import transformers

    def on_meta(path, **kwargs):
        config = transformers.AutoConfig.from_pretrained(path)
        with torch.device("meta"):
            return transformers.AutoModelForCausalLM.from_config(config)

    monkeypatch_module.setattr(transformers.AutoModelForCausalLM, "from_pretrained", on_meta)
    return HFBackend(proxy_model, device="meta")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def backend_ids(backend: HFBackend, request) -> tuple[list[int], int]:
    """What the hf backend feeds the model for a request, and how many tokens it may generate."""
    if isinstance(request, GenerateRequest):
        return backend._prompt_ids(request, backend.max_length)
    context, continuation = backend._loglikelihood_ids(request)
    return list(backend._truncate(Row(context + continuation[:-1], [])).ids), 0


def test_counts_equal_pipeline_and_hf_backend(shared_data, weightless_hf):
    names, limit = ["jcommonsenseqa", "mmlu", "humaneval", "xwinograd_en"], 2
    plan = make_plan("proxy:gemma3-270m", tasks=",".join(names), data_dir=shared_data, limit=limit, log=lambda m: None)
    registry, info = load_registry(), weightless_hf.info
    everything = []
    for name, row in zip(names, plan.tasks, strict=True):
        task = registry[name]
        p = prepare(task, shared_data, limit, BuildContext(tokenizer=info.tokenizer))
        add_bos = bos_policy(task.reference, info.path, info.model_type, info.tokenizer_adds_bos)
        requests = [r for item in p.items for r in item_requests(task, item, add_bos)]
        everything += requests
        distinct = list(dict.fromkeys(requests))
        sized = [backend_ids(weightless_hf, r) for r in distinct]
        assert row.name == name and row.add_bos == add_bos and not row.unknown
        assert row.counts == Counts(
            items=len(p.items), requests=len(requests), distinct_requests=len(distinct),
            prompt_tokens=sum(len(ids) for ids, _ in sized),
            distinct_prompt_tokens=trie_nodes([ids for ids, _ in sized]),
            max_new_tokens=sum(max_new * (r.settings.n if isinstance(r, GenerateRequest) else 0) for r, (_, max_new) in zip(distinct, sized)),
        ), name
    by_name = {row.name: row.counts for row in plan.tasks}
    assert by_name["mmlu"].requests == 4 * by_name["mmlu"].items  # four choices, one shared context each
    assert by_name["mmlu"].distinct_prompt_tokens * 3 < by_name["mmlu"].prompt_tokens
    assert by_name["humaneval"].max_new_tokens < 2 * 10 * 1024  # bigcode's max_length caps prompt + answer
    assert plan.total.requests == len(everything) and plan.total.distinct_requests == len(set(everything))
    assert plan.total.items == sum(c.items for c in by_name.values())


def test_json_shape_and_multi_turn(shared_data):
    result = cli("plan", "--tasks", "jcommonsenseqa,mt_bench_ja", "--model", "proxy:smollm2-135m-instruct",
                 "--data-dir", str(shared_data), "--limit", "2", "--tokens-per-second", "100", "--json")
    out = json.loads(result.stdout)
    counts = {"items", "requests", "distinct_requests", "prompt_tokens", "distinct_prompt_tokens", "max_new_tokens",
              "estimated_seconds"}
    assert set(out) == {"swallow_eval_plan", "model", "limit", "max_new_tokens_cap", "tokens_per_second", "estimate",
                        "tasks", "total", "skipped"}
    assert out["swallow_eval_plan"] == 1 and out["model"] == "proxy:smollm2-135m-instruct" and out["limit"] == 2
    assert list(out["tasks"]) == ["jcommonsenseqa", "mt_bench_ja"] and out["skipped"] == {}
    for row in out["tasks"].values():
        assert set(row) == counts | {"add_bos", "unknown"}
        assert row["estimated_seconds"] == round((row["distinct_prompt_tokens"] + row["max_new_tokens"]) / 100, 3)
    assert set(out["total"]) == counts | {"incomplete_tasks"}
    mt = out["tasks"]["mt_bench_ja"]
    # turn 1 only: 2 questions x 5 answers; the first two questions are coding (greedy), so one request each
    assert (mt["items"], mt["requests"], mt["distinct_requests"], mt["max_new_tokens"]) == (10, 10, 2, 2 * 1024)
    assert len(mt["unknown"]) == 2 and out["total"]["incomplete_tasks"] == ["mt_bench_ja"]
    assert out["tasks"]["jcommonsenseqa"]["unknown"] == []


def test_table_keeps_whole_names_and_lists_skips(shared_data, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "jcommonsenseqa").symlink_to(shared_data / "jcommonsenseqa")
    result = cli("plan", "--suite", "ja", "--model", "proxy:gemma3-270m", "--data-dir", str(folder), "--limit", "1",
                 env={"COLUMNS": "30"})
    lines = result.stdout.splitlines()
    assert any("jcommonsenseqa" in line and "…" not in line for line in lines)
    assert any(line.lstrip("│ ").startswith("total") for line in lines)
    assert "skipped niilc: missing data file" in result.stdout
    assert "--tokens-per-second" in result.stdout  # no throughput given: no time column, a hint instead
    assert "skipping niilc: missing data file" in result.stderr


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["--tasks", "jcommonsenseq", "--model", "proxy:gemma3-270m"], "unknown task 'jcommonsenseq'"),
    (["--tasks", "jcommonsenseqa", "--model", "proxy:gemma9"], "unknown proxy model 'gemma9'"),
    (["--tasks", "jcommonsenseqa", "--model", "./no/such/model"], "--model ./no/such/model"),
    (["--tasks", "jcommonsenseqa", "--model", "proxy:gemma3-270m", "--tokens-per-second", "0"],
     "--tokens-per-second 0.0: must be above 0"),
    (["--suite", "ja", "--tasks", "jcommonsenseqa", "--model", "proxy:gemma3-270m"], "give exactly one of"),
    (["--suite", "jp", "--model", "proxy:gemma3-270m"], "unknown suite 'jp'"),
])
def test_bad_input_is_one_line(args, message, shared_data):
    assert message in one_line_error(cli("plan", *args, "--data-dir", str(shared_data), check=False))


def test_named_task_without_data_is_an_error(tmp_path):
    line = one_line_error(cli("plan", "--tasks", "jcommonsenseqa", "--model", "proxy:gemma3-270m", "--data-dir",
                              str(tmp_path), check=False))
    assert "task jcommonsenseqa: missing data file" in line and "jcommonsenseqa/train-v1.1.json" in line

