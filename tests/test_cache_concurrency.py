"""Runs sharing one response cache at the same time lose and corrupt nothing.

Two real `swallow-eval run` processes on overlapping requests (the same task, different --limit)
write one SQLite file at once; every entry must then be valid, the union of both runs present,
reruns must compute nothing, and both results must equal solo runs with caches of their own.

"Equal" is what prefix sharing promises: the same decisions, greedy flags and token counts, and
log-likelihoods within 1e-4 relative. A run that finds some of its requests already cached by the other
computes the rest in other prefix groups than a solo run, so their last digits may differ.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = Path(sys.executable).parent / "swallow-eval"
TASK = "xwinograd_en"  # short log-likelihood prompts: cheap on CPU


def _writer(path: str, worker: int, barrier, errors) -> None:
    from swallow_eval.cache import ResponseCache
    from swallow_eval.requests import Loglikelihood, LoglikelihoodRequest

    try:
        barrier.wait()
        cache = ResponseCache(Path(path), {"model": "m"})
        for batch in range(20):
            shared = [LoglikelihoodRequest(f"shared {batch}", f" {i}") for i in range(4)]
            own = [LoglikelihoodRequest(f"worker {worker} {batch}", " x")]
            cache.get_many(shared + own)
            cache.put_many([(r, Loglikelihood(-float(len(r.context)), True, 2)) for r in shared + own])
        cache.close()
    except Exception as exc:  # reported to the parent, which fails the test with it
        errors.put(f"worker {worker}: {type(exc).__name__}: {exc}")


def test_processes_opening_a_fresh_cache_at_once(tmp_path):
    """The WAL switch and schema creation race on a new file; batches interleave with readers."""
    from swallow_eval.cache import ResponseCache
    from swallow_eval.requests import Loglikelihood, LoglikelihoodRequest

    context = multiprocessing.get_context("fork")
    workers = 6
    for trial in range(3):
        path = tmp_path / f"cache{trial}.sqlite"
        barrier, errors = context.Barrier(workers), context.Queue()
        processes = [context.Process(target=_writer, args=(str(path), w, barrier, errors)) for w in range(workers)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=300)
        assert [p.exitcode for p in processes] == [0] * workers
        assert errors.empty(), errors.get()
        rows = dict(sqlite3.connect(path).execute("SELECT key, value FROM responses").fetchall())
        assert len(rows) == 20 * 4 + 20 * workers
        cache = ResponseCache(path, {"model": "m"})
        own = [LoglikelihoodRequest(f"worker {w} {b}", " x") for w in range(workers) for b in range(20)]
        found = cache.get_many(own)
        assert len(found) == 20 * workers
        assert all(r == Loglikelihood(-float(len(f"worker {i // 20} {i % 20}")), True, 2) for i, r in found.items())


def test_opening_waits_for_another_process_switching_a_fresh_file(tmp_path):
    """The WAL switch is refused at once, not after the busy timeout, while another writer holds a
    fresh file (as its own switch does): opening must wait for it rather than fail."""
    from swallow_eval.cache import ResponseCache
    from swallow_eval.requests import Loglikelihood, LoglikelihoodRequest

    path = tmp_path / "fresh.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE first_writer (x)")
    release = threading.Timer(1.0, holder.execute, args=("COMMIT",))
    release.start()
    started = time.monotonic()
    cache = ResponseCache(path, {"model": "m"})
    assert time.monotonic() - started >= 0.9  # it waited for the other writer
    release.join()
    request = LoglikelihoodRequest("c", " x")
    cache.put_many([(request, Loglikelihood(-1.0, True, 1))])
    assert cache.get_many([request]) == {0: Loglikelihood(-1.0, True, 1)}
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT COUNT(*) FROM responses").fetchone() == (1,)
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _start(cache: Path, limit: int, output: Path, data: Path) -> subprocess.Popen:
    argv = [str(SCRIPT), "run", "--tasks", TASK, "--model", "proxy:gemma3-270m", "--limit", str(limit),
            "--batch-size", "1", "--data-dir", str(data), "--cache", str(cache), "--output-dir", str(output),
            "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(processes: list[subprocess.Popen]) -> list[str]:
    logs = []
    for process in processes:
        _, err = process.communicate(timeout=900)
        assert process.returncode == 0, err
        logs.append(err)
    return logs


def _result(output: Path) -> tuple[dict, list[dict]]:
    (path,) = output.glob("gemma3-270m/*/results.json")
    samples = (path.parent / "samples" / f"{TASK}.jsonl").read_text().splitlines()
    return json.loads(path.read_text()), [json.loads(line) for line in samples]


def _entries(cache: Path) -> dict[str, str]:
    with sqlite3.connect(cache) as db:
        return dict(db.execute("SELECT key, value FROM responses").fetchall())


def _same_responses(got: dict[str, str], solo: dict[str, str]) -> None:
    from swallow_eval.requests import response_from_json

    for key, value in got.items():
        response = response_from_json(json.loads(value))  # valid JSON that loads as a response
        expected = response_from_json(json.loads(solo[key]))
        assert dataclasses.replace(response, logprob=expected.logprob) == expected, key
        assert response.logprob == pytest.approx(expected.logprob, rel=1e-4), key


def _same_samples(got: list[dict], solo: list[dict]) -> None:
    def decided(sample: dict) -> dict:
        return {field: value for field, value in sample.items() if field != "loglikelihoods"}

    assert [decided(sample) for sample in got] == [decided(sample) for sample in solo]
    for sample, expected in zip(got, solo):
        assert sample["loglikelihoods"] == pytest.approx(expected["loglikelihoods"], rel=1e-4), sample["index"]


def _computed(log: str) -> int:
    (line,) = re.findall(r"requests: .* served from the cache, (\d+) to compute", log)
    return int(line)


@pytest.mark.model
def test_two_runs_share_one_cache(shared_data, tmp_path):
    shared = tmp_path / "shared.sqlite"
    limits = {"a": 3, "b": 5}  # a's items are b's first three: their requests overlap
    _finish([_start(shared, limit, tmp_path / f"concurrent-{name}", shared_data) for name, limit in limits.items()])
    # Reruns on the shared cache beside solo runs, each with a cache of its own.
    logs = _finish([_start(shared, limit, tmp_path / f"rerun-{name}", shared_data) for name, limit in limits.items()]
                   + [_start(tmp_path / f"solo-{name}.sqlite", limit, tmp_path / f"solo-{name}", shared_data)
                      for name, limit in limits.items()])
    assert [_computed(log) for log in logs[:2]] == [0, 0], logs[:2]

    entries = _entries(shared)
    solo = {**_entries(tmp_path / "solo-a.sqlite"), **_entries(tmp_path / "solo-b.sqlite")}
    assert set(entries) == set(solo)  # the union of both runs' requests, nothing more
    _same_responses(entries, solo)
    for name in limits:
        concurrent, concurrent_samples = _result(tmp_path / f"concurrent-{name}")
        rerun, rerun_samples = _result(tmp_path / f"rerun-{name}")
        alone, alone_samples = _result(tmp_path / f"solo-{name}")
        assert rerun["requests"]["computed"] == 0 and rerun["requests"]["cached"] == alone["requests"]["distinct"]
        for got, got_samples in ((concurrent, concurrent_samples), (rerun, rerun_samples)):
            assert got["tasks"][TASK]["metrics"] == alone["tasks"][TASK]["metrics"], name
            _same_samples(got_samples, alone_samples)
