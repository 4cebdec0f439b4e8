"""Pipeline stages without a model: limits, request building, cross-task deduplication, the cache."""

import dataclasses
import sqlite3

import pytest

from swallow_eval.cache import ResponseCache
from swallow_eval.errors import UserError
from swallow_eval.pipeline import PreparedTask, execute, item_requests, limit_items
from swallow_eval.requests import Generation, GenerateRequest, GenerationSettings, Loglikelihood, LoglikelihoodRequest
from swallow_eval.task import Item, load_registry


class CountingBackend:
    """Answers deterministically and records what it was asked (a test double for the pipeline)."""

    def __init__(self):
        self.asked = []

    def loglikelihood(self, requests):
        self.asked += list(requests)
        yield [(i, Loglikelihood(-float(len(r.continuation)), True, 1)) for i, r in enumerate(requests)]

    def generate(self, requests):
        self.asked += list(requests)
        for i, r in enumerate(requests):
            yield [(i, Generation((r.prompt[-3:],), 10, 1))]


def test_limit_is_per_subtask():
    items = [Item(i, None, prompt=str(i), subtask=s) for i, s in enumerate("aaabbbc")]
    assert [i.index for i in limit_items(items, 2)] == [0, 1, 3, 4, 6]
    assert limit_items(items, None) == items


def test_requests_of_an_item():
    task = load_registry()["jcommonsenseqa"]
    (request,) = item_requests(task, Item(0, "2", prompt="P"), add_bos=True)
    assert request == GenerateRequest("P", GenerationSettings(1, stop=("\n\n",)), add_bos=True)
    mc_task = dataclasses.replace(task, generation=None)
    requests = item_requests(mc_task, Item(0, 1, choices=[("C", " a"), ("C", " b")]), add_bos=False)
    assert requests == [LoglikelihoodRequest("C", " a"), LoglikelihoodRequest("C", " b")]


def test_identical_requests_of_two_tasks_are_sent_once(tmp_path):
    task = load_registry()["jcommonsenseqa"]
    twin = dataclasses.replace(task, name="twin")
    items = [Item(i, "x", prompt=f"prompt {i}") for i in range(3)]
    prepared = [PreparedTask(task, items, None), PreparedTask(twin, items[:2], None)]
    backend = CountingBackend()
    cache = ResponseCache(tmp_path / "c.sqlite", {"model": "m"})
    answers, stats = execute(prepared, backend, cache, show_progress=False, log=lambda m: None)
    assert len(backend.asked) == 3 and stats.unique == 3 and stats.requests == 5
    assert answers[("twin", 1)].texts == answers[("jcommonsenseqa", 1)].texts == ["t 1"]
    # a second run is served entirely from the cache
    again = CountingBackend()
    _, stats = execute(prepared, again, cache, show_progress=False, log=lambda m: None)
    assert again.asked == [] and stats.cached == 3


def test_cache_is_keyed_by_model_and_settings(tmp_path):
    request = GenerateRequest("p", GenerationSettings(1))
    ResponseCache(tmp_path / "c.sqlite", {"model": "a"}).put_many([(request, Generation(("x",), 1, 1))])
    assert ResponseCache(tmp_path / "c.sqlite", {"model": "a"}).get_many([request])[0].texts == ("x",)
    assert ResponseCache(tmp_path / "c.sqlite", {"model": "b"}).get_many([request]) == {}
    assert ResponseCache(tmp_path / "c.sqlite", {"model": "a", "dtype": "bf16"}).get_many([request]) == {}


def test_corrupt_cache_entry_and_file_are_errors(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path, {"model": "a"})
    request = GenerateRequest("p", GenerationSettings(1))
    cache.put_many([(request, Generation(("x",), 1, 1))])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE responses SET value = '{broken'")
    with pytest.raises(UserError, match="corrupt entry"):
        ResponseCache(path, {"model": "a"}).get_many([request])
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match="garbage.sqlite"):
        ResponseCache(garbage, {"model": "a"}).get_many([request])


class OneQueueBackend(CountingBackend):
    """Serves both kinds from one queue, interleaved (as replicas do), through `serve_calls`."""

    def serve_calls(self, calls):
        def labelled(kind, requests):
            for batch in getattr(self, kind)(requests):
                yield kind, batch

        streams = [labelled(kind, requests) for kind, requests in calls]
        while streams:
            for stream in list(streams):
                item = next(stream, None)
                if item is None:
                    streams.remove(stream)
                else:
                    yield item


def test_both_kinds_served_at_once_are_answered_and_timed(tmp_path):
    registry = load_registry()
    generation, choice = registry["jcommonsenseqa"], dataclasses.replace(registry["jcommonsenseqa"], name="mc",
                                                                         generation=None)
    prepared = [PreparedTask(generation, [Item(i, "x", prompt=f"prompt {i}") for i in range(3)], None),
                PreparedTask(choice, [Item(i, 0, choices=[(f"C{i}", " a"), (f"C{i}", " bb")]) for i in range(2)], None)]
    answers, stats = execute(prepared, OneQueueBackend(), None, show_progress=True, log=lambda m: None)
    assert answers[("jcommonsenseqa", 2)].texts == ["t 2"]
    assert answers[("mc", 1)].loglikelihoods == [-2.0, -3.0]
    assert stats.computed == 7 and set(stats.seconds) == {"loglikelihood", "generate"}
