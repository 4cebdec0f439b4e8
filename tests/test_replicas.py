"""Data-parallel replicas for real: the proxy model (fp32, hf) in local processes and as Ray actors
on a real two-node Ray cluster on 127.0.0.1, against the single-process run.

The cluster is conftest's `ray_cluster`: Ray's own multi-node test cluster (one raylet per node),
each node with one CPU and one `eval_slot`; each replica asks for one of each, so the two replicas
land on different nodes. Per-sample outputs must be byte-identical to the single-process run,
whichever replica or chunk served a request; a killed replica, a lost node or a killed driver loses
nothing that finished.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, cli, ray_node_args, wait_for_cached
from swallow_eval import dispatch
from swallow_eval.errors import UserError
from swallow_eval.pipeline import item_requests, prepare
from swallow_eval.task import BuildContext, load_registry

pytestmark = pytest.mark.model
ray = pytest.importorskip("ray", reason="Ray is in the dev extra: pip install -e '.[dev]'")

TASKS = "jcommonsenseqa,openbookqa,gsm8k"  # generation, shared-context log-likelihoods, long generation
RUN = ["run", "--tasks", TASKS, "--model", "proxy:gemma3-270m", "--limit", "2", "--max-new-tokens", "16",
       "--batch-size", "2", "--no-progress"]
SLOT = '{"eval_slot": 1}'


def samples(output: Path) -> dict[str, str]:
    (results,) = output.glob("gemma3-270m/*/results.json")
    return {f.name: f.read_text() for f in sorted((results.parent / "samples").iterdir())}


def results_json(output: Path) -> dict:
    (results,) = output.glob("gemma3-270m/*/results.json")
    return json.loads(results.read_text())


@pytest.fixture(scope="module")
def single_run(shared_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single")
    cli(*RUN, "--data-dir", str(shared_data), "--no-cache", "--output-dir", str(out))
    return out


def test_local_data_parallel_gives_the_single_process_samples(single_run, shared_data, tmp_path):
    cli(*RUN, "--data-dir", str(shared_data), "--no-cache", "--output-dir", str(tmp_path), "--data-parallel-size", "2")
    assert samples(tmp_path) == samples(single_run)
    serving = results_json(tmp_path)["serving"]
    assert len(serving["replicas"]) == 2 and serving["lost_replicas"] == []
    assert all(r["requests"] > 0 and r["busy_s"] > 0 for r in serving["replicas"])
    assert results_json(tmp_path)["backend"] == results_json(single_run)["backend"]  # same cache entries


def test_two_ray_replicas_on_two_nodes_give_the_single_process_samples(ray_cluster, single_run, shared_data, tmp_path):
    cli(*RUN, "--data-dir", str(shared_data), "--no-cache", "--output-dir", str(tmp_path),
        "--ray-address", ray_cluster.address, "--data-parallel-size", "2", "--ray-resources", SLOT)
    assert samples(tmp_path) == samples(single_run)
    results = results_json(tmp_path)
    nodes = {r["where"].split("(")[1].split()[1] for r in results["serving"]["replicas"]}
    assert len(nodes) == 2, results["serving"]  # one replica per node
    assert results["backend"] == results_json(single_run)["backend"]
    assert results["tasks"] == results_json(single_run)["tasks"]


@pytest.fixture(scope="module")
def mixed_requests(shared_data, proxy_tokenizer):
    """Distinct requests of an MMLU subset (2 subjects: shared 5-shot prefixes), JCommonsenseQA and GSM8K."""
    registry, requests = load_registry(), []
    for name, limit in (("mmlu", 1), ("jcommonsenseqa", 4), ("gsm8k", 2)):
        task = registry[name]
        items = prepare(task, shared_data, limit, BuildContext(tokenizer=proxy_tokenizer)).items
        if name == "mmlu":
            items = [item for item in items if item.subtask in ("abstract_algebra", "anatomy")]
        requests += [r for item in items for r in item_requests(task, item, True, cap=16)]
    return list(dict.fromkeys(requests))


@pytest.fixture(scope="module")
def single_answers(proxy_model, mixed_requests):
    """The single in-process backend's answers (its model freed afterwards)."""
    from swallow_eval.backends.hf import HFBackend

    backend = HFBackend(proxy_model, batch_size=2)
    answers = {kind: {p: r for batch in getattr(backend, kind)([q for q in mixed_requests if q.kind == kind])
                      for p, r in batch}
               for kind in ("loglikelihood", "generate")}
    backend.close()
    return answers


def serve_killing_one(backend, requests, kill) -> list:
    """Every (position, response) the backend yields, with one replica killed as the call starts: it dies
    holding its first chunk whatever the timing (a kill after some batch may land between its chunks)."""
    kill()
    seen = []
    for batch in backend.loglikelihood(requests) if requests[0].kind == "loglikelihood" else backend.generate(requests):
        seen += batch
    return seen


def check_fault_run(backend, mixed_requests, single_answers, kill) -> dict:
    for kind in ("loglikelihood", "generate"):
        requests = [q for q in mixed_requests if q.kind == kind]
        seen = serve_killing_one(backend, requests, kill if kind == "loglikelihood" else lambda: None)
        assert sorted(p for p, _ in seen) == list(range(len(requests)))  # each exactly once
        assert dict(seen) == single_answers[kind]  # identical: same floats, same texts
    stats = backend.stats()
    assert len(stats["lost_replicas"]) == 1 and stats["reassigned_requests"] > 0
    # no finished request computed twice: what the replicas streamed back adds up to the requests
    assert sum(r["requests"] for r in stats["replicas"]) == len(mixed_requests)
    return stats


def test_killed_ray_actor_has_its_share_finished_by_the_other(ray_cluster, proxy_model, mixed_requests, single_answers):
    backend = dispatch.create("hf", proxy_model, ray_address=ray_cluster.address, data_parallel_size=2,
                              ray_resources={"eval_slot": 1}, batch_size=2)
    try:
        victim = backend.slots[0].replica
        stats = check_fault_run(backend, mixed_requests, single_answers, lambda: ray.kill(victim.actor))
        assert stats["lost_replicas"] == [victim.where]
    finally:
        backend.close()


def test_killed_local_replica_has_its_share_finished_by_the_other(proxy_model, mixed_requests, single_answers):
    backend = dispatch.create("hf", proxy_model, data_parallel_size=2, batch_size=2)
    try:
        victim = backend.slots[0].replica  # the first idle replica is handed the first chunk
        check_fault_run(backend, mixed_requests, single_answers, lambda: os.kill(victim.process.pid, signal.SIGKILL))
    finally:
        backend.close()
    assert not any(s.replica.process.is_alive() for s in backend.slots)


def test_unplaceable_replicas_are_one_line_errors_before_any_model_loads(ray_cluster, proxy_model):
    started = time.time()
    for resources, cpus, size in (({"gpu_slot": 1}, None, 2), ({"eval_slot": 1}, 2, 1), ({"eval_slot": 1}, None, 3)):
        with pytest.raises(UserError, match="cannot place") as error:
            dispatch.create("hf", proxy_model, ray_address=ray_cluster.address, data_parallel_size=size,
                            ray_resources=resources, ray_num_cpus=cpus)
        assert "\n" not in str(error.value)
    assert time.time() - started < 60  # three errors, none waiting for the placement timeout (120 s)
    assert ray.util.placement_group_table() == {} or all(
        g["state"] == "REMOVED" for g in ray.util.placement_group_table().values())


def test_sigkill_of_the_driver_then_rerun_computes_nothing_that_finished(ray_cluster, single_run, shared_data, tmp_path):
    cache = tmp_path / "responses.sqlite"
    args = [*RUN, "--data-dir", str(shared_data), "--cache", str(cache), "--ray-address", ray_cluster.address,
            "--data-parallel-size", "2", "--ray-resources", SLOT]
    driver = subprocess.Popen([sys.executable, "-m", "swallow_eval", *args, "--output-dir", str(tmp_path / "killed")],
                              env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_cached(cache, driver, 4, timeout=600)
    assert driver.poll() is None, "the run ended before it could be killed"
    driver.kill()
    driver.wait()
    with sqlite3.connect(cache) as db:
        finished = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    rerun = cli(*args, "--output-dir", str(tmp_path / "rerun"))
    requests = results_json(tmp_path / "rerun")["requests"]
    assert requests["cached"] == finished >= 4
    assert requests["computed"] == requests["distinct"] - finished
    assert sum(r["requests"] for r in results_json(tmp_path / "rerun")["serving"]["replicas"]) == requests["computed"]
    assert samples(tmp_path / "rerun") == samples(single_run)
    assert "served from the cache" in rerun.stderr


def test_lost_node_has_its_replicas_share_finished_by_the_other(ray_cluster, single_run, shared_data, tmp_path):
    """The second node's raylet and workers are SIGKILLed (a node lost, not shut down) once the first batch
    is in the cache: its replica dies holding a chunk, or is handed one in the next call and fails at once.
    The node is added back afterwards, so the module's other tests still have two."""
    (worker,) = ray_cluster.worker_nodes
    cache, log = tmp_path / "responses.sqlite", tmp_path / "driver.log"
    args = [*RUN, "--data-dir", str(shared_data), "--cache", str(cache), "--output-dir", str(tmp_path / "out"),
            "--ray-address", ray_cluster.address, "--data-parallel-size", "2", "--ray-resources", SLOT]
    with log.open("w") as stderr:
        driver = subprocess.Popen([sys.executable, "-m", "swallow_eval", *args], env={**os.environ, "PYTHONPATH": str(REPO)},
                                  cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_for_cached(cache, driver, 2, timeout=600)
            assert driver.poll() is None, "the run ended before the node could be removed:\n" + log.read_text()
            ray_cluster.remove_node(worker, allow_graceful=False)
            assert driver.wait(timeout=300) == 0, log.read_text()  # a lost node never hangs the run
        finally:
            if driver.poll() is None:
                driver.kill()
            ray_cluster.add_node(**ray_node_args())
            ray_cluster.wait_for_nodes()
    assert sum(node["Alive"] for node in ray.nodes()) == 2
    assert samples(tmp_path / "out") == samples(single_run)
    results = results_json(tmp_path / "out")
    serving, requests = results["serving"], results["requests"]
    (lost,) = serving["lost_replicas"]
    assert f"node {worker.node_id[:12]}" in lost, serving
    assert serving["reassigned_requests"] > 0
    assert f"replica {lost} lost" in log.read_text()
    # no finished request computed twice: what the replicas streamed back adds up to what the run computed
    assert requests["computed"] == requests["distinct"]
    assert sum(r["requests"] for r in serving["replicas"]) == requests["computed"]
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == requests["distinct"]
