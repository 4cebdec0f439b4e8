"""The partitioner and the work queue of swallow_eval.dispatch, on the real requests of real tasks.

The replicas here are real local objects serving real responses from a table (what a backend
would answer), so the hand-out, reassignment and error paths are exercised without a model;
tests/test_replicas.py runs the same dispatcher over real model replicas and a real Ray cluster.
"""

import threading

import pytest

from swallow_eval.backends.base import ModelInfo
from swallow_eval.dispatch import ReplicaLost, ReplicatedBackend, chunk_units, partition
from swallow_eval.errors import UserError
from swallow_eval.pipeline import item_requests, prepare
from swallow_eval.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest
from swallow_eval.task import BuildContext, load_registry


@pytest.fixture(scope="module")
def requests_of(shared_data, proxy_tokenizer):
    """The distinct requests of the first items of real tasks, as the pipeline builds them."""
    registry = load_registry()

    def build(name: str, limit: int) -> list:
        task = registry[name]
        items = prepare(task, shared_data, limit, BuildContext(tokenizer=proxy_tokenizer)).items
        return list(dict.fromkeys(r for item in items for r in item_requests(task, item, True)))

    return build


def count(text: str) -> int:
    return len(text.split())


def test_chunks_cover_every_request_once_and_keep_contexts_together(requests_of):
    requests = requests_of("mmlu", 2) + requests_of("openbookqa", 10)
    chunks = partition(requests, 2, count)
    flat = [p for chunk in chunks for p in chunk]
    assert sorted(flat) == list(range(len(requests)))
    home = {p: k for k, chunk in enumerate(chunks) for p in chunk}
    by_context = {}
    for p, request in enumerate(requests):
        by_context.setdefault(request.context.rstrip(), set()).add(home[p])
    assert all(len(chunks_of_context) == 1 for chunks_of_context in by_context.values())
    # several chunks per replica, the first ones large, the last ones small (guided self-scheduling)
    sizes = [sum(count(requests[p].context) + count(requests[p].continuation) for p in chunk) for chunk in chunks]
    assert len(chunks) >= 6
    assert sizes[0] > 2 * sizes[-1]


def test_a_few_large_units_go_to_different_replicas():
    """A call planned as two batches (JCommonsenseQA's shared-prefix prompts, then GSM8K's long ones:
    the costs the hf planner gives them) is two chunks, not one chunk that leaves a replica idle."""
    assert chunk_units([400, 1854], 2) == [[0], [1]]
    assert chunk_units([5, 5, 5, 5], 2) == [[0], [1], [2], [3]]
    assert [len(c) for c in chunk_units([1] * 64, 2)] == [16, 12, 9, 6, 5, 4, 3, 2, 2, 2, 2, 1]


def test_requests_sharing_a_few_shot_prefix_are_neighbours(requests_of):
    requests = requests_of("mmlu", 3)  # 57 subjects: each subject's 5 shots are one shared prefix
    chunks = partition(requests, 4, count)
    subject_of = {p: requests[p].context.split("\n\n")[0] for p in range(len(requests))}
    for chunk in chunks:
        subjects = [subject_of[p] for p in chunk]
        # contiguous runs: a subject never reappears after the chunk moved on to another one
        runs = [s for k, s in enumerate(subjects) if k == 0 or s != subjects[k - 1]]
        assert len(runs) == len(set(runs))


def test_partition_depends_only_on_the_requests(requests_of):
    requests = requests_of("gsm8k", 6) + requests_of("jcommonsenseqa", 6)
    shuffled = requests[::-1]

    def by_request(reqs, chunks):
        return [[reqs[p] for p in chunk] for chunk in chunks]

    assert by_request(requests, partition(requests, 3, count)) == by_request(shuffled, partition(shuffled, 3, count))
    assert partition(requests, 3, count) == partition(list(requests), 3, count)


class TableReplica:
    """A replica answering from a table, `batch` requests at a time; `die_after` batches, then lost."""

    def __init__(self, name: str, table: dict, batch: int = 2, die_after: int | None = None):
        self.where, self.identity, self.table, self.batch, self.die_after = name, {"backend": "t"}, table, batch, die_after
        self.computed: list = []
        self.lock = threading.Lock()

    def serve(self, kind, requests):
        for start in range(0, len(requests), self.batch):
            if self.die_after is not None and self.die_after <= 0:
                raise ReplicaLost("killed")
            if self.die_after is not None:
                self.die_after -= 1
            part = requests[start : start + self.batch]
            with self.lock:
                self.computed += part
            yield [(start + i, self.table[r]) for i, r in enumerate(part)]

    def close(self):
        pass


def answers_for(requests):
    return {r: (Loglikelihood(-float(k), k % 2 == 0, 1) if isinstance(r, LoglikelihoodRequest)
                else Generation((f"text {k}",), k, 1)) for k, r in enumerate(requests)}


def run(backend, kind, requests):
    seen = []
    for batch in getattr(backend, kind)(requests):
        seen += batch
    return seen


def test_a_lost_replica_has_its_unfinished_requests_served_by_the_others(requests_of):
    requests = requests_of("openbookqa", 12)
    table = answers_for(requests)
    replicas = [TableReplica("a", table), TableReplica("b", table, die_after=1), TableReplica("c", table)]
    logged = []
    backend = ReplicatedBackend("t", ModelInfo("p", "t", False, None), replicas, {"backend": "t"}, log=logged.append)
    seen = run(backend, "loglikelihood", requests)
    positions = [p for p, _ in seen]
    assert sorted(positions) == list(range(len(requests)))  # each exactly once
    assert all(response == table[requests[p]] for p, response in seen)
    computed = [r for replica in replicas for r in replica.computed]
    assert sorted(map(requests.index, computed)) == list(range(len(requests)))  # nothing computed twice
    stats = backend.stats()
    assert stats["lost_replicas"] == ["b"] and stats["reassigned_requests"] > 0
    assert sum(r["requests"] for r in stats["replicas"]) == len(requests)
    assert "replica b lost (killed)" in logged[0]
    # the lost replica gets nothing of the next call
    generate = requests_of("gsm8k", 4)
    table.update(answers_for(generate))
    assert sorted(p for p, _ in run(backend, "generate", generate)) == list(range(len(generate)))
    assert all(not isinstance(r, GenerateRequest) for r in replicas[1].computed)


def test_no_replica_left_is_one_line_error(requests_of):
    requests = requests_of("gsm8k", 4)
    table = answers_for(requests)
    replicas = [TableReplica("a", table, batch=1, die_after=1), TableReplica("b", table, batch=1, die_after=0)]
    backend = ReplicatedBackend("t", ModelInfo("p", "t", False, None), replicas, {"backend": "t"}, log=lambda m: None)
    seen = []
    with pytest.raises(UserError, match="every replica is gone .* rerun the same command to resume") as error:
        for batch in backend.generate(requests):
            seen += batch
    assert "\n" not in str(error.value)
    assert len(seen) == 1  # what finished was yielded (and so committed to the cache) before the error


@pytest.mark.parametrize("backend, options, message", [
    ("openai", {"data_parallel_size": 2, "base_url": "http://127.0.0.1:9/v1"}, "give --base-url once per server"),
    ("hf", {"base_url": ["http://127.0.0.1:9/v1", "http://127.0.0.1:8/v1"]}, "--base-url is not an option"),
    ("hf", {"ray_num_cpus": 2}, "need --ray-address"),
    ("hf", {"ray_address": "auto", "ray_resources": {"slot": "one"}}, "expected an object of positive amounts"),
    ("hf", {"data_parallel_size": 2, "max_model_len": 512}, "--max-model-len is not an option of --backend hf"),
    ("openai", {"head_screening": False}, "--head-screening is not an option of --backend openai"),
])
def test_replica_options_are_checked_before_anything_starts(proxy_model, backend, options, message):
    from swallow_eval import dispatch

    with pytest.raises(UserError, match=message):
        dispatch.create(backend, proxy_model, **options)


class PlannedReplica(TableReplica):
    """A replica of a planned backend: it computes work items (`execute`), a batch per item part."""

    def serve(self, kind, works):
        assert kind == "execute"
        for work in works:
            for part in work.parts:
                if self.die_after is not None and self.die_after <= 0:
                    raise ReplicaLost("killed")
                if self.die_after is not None:
                    self.die_after -= 1
                with self.lock:
                    self.computed += part
                yield [(p, self.table[p]) for p in part]


class Work:
    """A work item as the hf planner makes them: request positions in parts (its batches)."""

    def __init__(self, parts):
        self.parts = parts

    def positions(self):
        return [p for part in self.parts for p in part]

    def cost(self):
        return len(self.positions())


class Planner:
    def __init__(self, works):
        self.works, self.planned = works, []

    def plan(self, kind, requests):
        self.planned.append((kind, len(requests)))
        return self.works

    def stats(self):
        return {"prompt_tokens": {"loglikelihood": {"requested": 7, "computed": 5}}}


def test_planned_work_items_are_handed_out_whole_and_a_lost_one_is_recomputed_whole():
    works = [Work([[3 * k, 3 * k + 1], [3 * k + 2]]) for k in range(8)]  # 24 requests, 2 batches per item
    table = {p: Loglikelihood(-float(p), True, 1) for p in range(24)}
    replicas = [PlannedReplica("a", table), PlannedReplica("b", table, die_after=3)]
    planner = Planner(works)
    backend = ReplicatedBackend("hf", ModelInfo("p", "t", False, None), replicas, {"backend": "hf"},
                                planner=planner, log=lambda m: None)
    seen = run(backend, "loglikelihood", list(range(24)))
    assert planner.planned == [("loglikelihood", 24)]  # planned once, in the driver
    assert sorted(p for p, _ in seen) == list(range(24))  # each yielded exactly once
    assert all(response == table[p] for p, response in seen)
    stats = backend.stats()
    assert stats["lost_replicas"] == ["b"] and stats["prompt_tokens"]["loglikelihood"]["computed"] == 5
    # b died inside an item after streaming its first batch: a recomputes that whole item (a work
    # item's answers depend on all of it), and the repeated positions are not yielded twice
    b_done = replicas[1].computed
    repeated = set(b_done) & set(replicas[0].computed)
    (broken,) = [work for work in works if set(work.positions()) & repeated]
    assert repeated == set(broken.parts[0])
    assert stats["reassigned_requests"] == len(broken.parts[1])  # what b had not streamed back


def test_both_calls_share_one_queue_generation_first(requests_of):
    """A run's log-likelihood and generation calls are one queue: the generation chunks (decoding, the
    longest indivisible work) are handed out first, the log-likelihood chunks fill in; a replica lost
    on the way has its chunk of either kind served by the others."""
    ll, gen = requests_of("openbookqa", 8), requests_of("gsm8k", 4)
    table = answers_for(ll + gen)
    replicas = [TableReplica("a", table), TableReplica("b", table, die_after=1)]
    backend = ReplicatedBackend("t", ModelInfo("p", "t", False, None), replicas, {"backend": "t"}, log=lambda m: None)
    seen = {"loglikelihood": [], "generate": []}
    for kind, batch in backend.serve_calls([("loglikelihood", ll), ("generate", gen)]):
        seen[kind] += batch
    for kind, requests in (("loglikelihood", ll), ("generate", gen)):
        assert sorted(p for p, _ in seen[kind]) == list(range(len(requests)))  # each exactly once
        assert all(response == table[requests[p]] for p, response in seen[kind])
    assert all(isinstance(replica.computed[0], GenerateRequest) for replica in replicas)
    assert backend.stats()["lost_replicas"] == ["b"]
    computed = replicas[0].computed + replicas[1].computed
    assert sorted(map((ll + gen).index, computed)) == list(range(len(ll) + len(gen)))  # nothing twice
