"""Collect the requests of every selected task, send each distinct one once, keep every answer.

task definitions -> items -> requests (deduplicated across tasks) -> response cache -> backend
-> responses per item. One backend instance serves the whole run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from swallow_eval.data import DataRoot, choose_root
from swallow_eval.requests import (GenerateRequest, Generation, GenerationSettings, LoglikelihoodRequest, Request,
                                   Response)
from swallow_eval.task import BuildContext, Item, Task


@dataclass
class PreparedTask:
    task: Task
    items: list[Item]
    data: DataRoot
    add_bos: bool = False
    # --max-new-tokens: a cap for smoke runs, below the reference's limits (recorded in results).
    max_new_tokens_cap: int | None = None


@dataclass
class ItemResponses:
    texts: list[str] | None = None
    loglikelihoods: list[float] | None = None
    greedy: list[bool] | None = None
    prompt_tokens: int = 0
    generated_tokens: int = 0
    judgments: list[str] | None = None  # one per turn, for judged tasks


@dataclass
class RunStats:
    requests: int = 0
    unique: int = 0
    cached: int = 0
    computed: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    # task -> {"requested", "computed"} prompt tokens, where the backend counts them per request (hf)
    task_prompt_tokens: dict[str, dict[str, int]] = field(default_factory=dict)


def limit_items(items: list[Item], limit: int | None) -> list[Item]:
    """The first `limit` items (or units of items) in evaluation order, per subtask for grouped tasks."""
    if limit is None:
        return items
    units: dict = {}
    kept = []
    for item in items:
        taken = units.setdefault(item.subtask, {})
        unit = item.index if item.unit is None else item.unit
        if unit in taken or len(taken) < limit:
            taken[unit] = None
            kept.append(item)
    return kept


def prepare(task: Task, data_dir: Path | None, limit: int | None, context: BuildContext) -> PreparedTask:
    data = choose_root(task.name, task.files, data_dir)
    return PreparedTask(task, limit_items(task.build(data, context), limit), data)


def item_requests(task: Task, item: Item, add_bos: bool, cap: int | None = None) -> list[Request]:
    """The requests one item needs: a generation for `prompt`/`messages`, a log-likelihood per choice."""
    requests: list[Request] = []
    if item.prompt is not None or item.messages is not None:
        requests.append(_generation_request(task, item, add_bos, item.messages or (), cap))
    for context, continuation in item.choices or ():
        requests.append(LoglikelihoodRequest(context, continuation, add_bos))
    return requests


def _generation_request(task: Task, item: Item, add_bos: bool, messages, cap: int | None) -> GenerateRequest:
    settings = item.generation or task.generation
    if cap is not None and cap < settings.max_new_tokens:
        settings = replace(settings, max_new_tokens=cap)
    return GenerateRequest(item.prompt or "", settings, messages=tuple(messages), add_bos=add_bos)


def execute(prepared: list[PreparedTask], backend, cache, show_progress: bool = True,
            log=print) -> tuple[dict[tuple[str, int], ItemResponses], RunStats]:
    """Answer every item of every task; finished requests are committed to `cache` batch by batch.

    Multi-turn tasks get one round per turn: the next turn's conversation is built from the
    answers of the previous one.
    """
    stats = RunStats()
    per_item = {(p.task.name, item.index): item_requests(p.task, item, p.add_bos, p.max_new_tokens_cap)
                for p in prepared for item in p.items}
    answers: dict[Request, Response] = {}
    round_requests = per_item
    while round_requests:
        _answer([r for requests in round_requests.values() for r in requests], backend, cache, answers,
                stats, show_progress, log)
        round_requests = {}
        for p in prepared:
            if p.task.next_turn is None:
                continue
            for item in p.items:
                key = (p.task.name, item.index)
                messages = p.task.next_turn(item, _collect([answers[r] for r in per_item[key]]).texts)
                if messages is not None:
                    request = _generation_request(p.task, item, p.add_bos, messages, p.max_new_tokens_cap)
                    per_item[key].append(request)
                    round_requests[key] = [request]
    counts = getattr(backend, "request_prompt_tokens", None)
    if counts is not None:
        stats.task_prompt_tokens = _task_prompt_tokens(per_item, counts)
    return {key: _collect([answers[r] for r in requests]) for key, requests in per_item.items()}, stats


def _task_prompt_tokens(per_item: dict[tuple[str, int], list[Request]],
                        counts: dict[Request, list[float]]) -> dict[str, dict[str, int]]:
    """Per task, the prompt tokens of its requests the backend computed in this run (cache hits are
    not), and their share of what went through the model: a prefix that requests share counts in equal
    parts to each; a request that two tasks share counts in both."""
    totals: dict[str, list[float]] = {}
    for (task, _), requests in per_item.items():
        total = totals.setdefault(task, [0, 0.0])
        for request in dict.fromkeys(requests):
            requested, computed = counts.get(request, (0, 0.0))
            total[0] += requested
            total[1] += computed
    return {task: {"requested": int(requested), "computed": round(computed)}
            for task, (requested, computed) in totals.items()}


def judge(prepared: list[PreparedTask], answers: dict[tuple[str, int], ItemResponses], backend, cache,
          max_tokens: int, show_progress: bool = True, log=print) -> RunStats:
    """Grade the answers of judged tasks with a judge model (greedy, chat); fills `judgments`."""
    stats = RunStats()
    requests_of = {}
    # FastChat sends the judge only temperature 0 and max_tokens (top_p/top_k: the judge's own).
    settings = GenerationSettings(max_new_tokens=max_tokens, top_p=None, top_k=None)
    for p in prepared:
        if p.task.judge is None:
            continue
        for item in p.items:
            key = (p.task.name, item.index)
            requests_of[key] = [GenerateRequest("", settings, messages=conversation)
                                for conversation in p.task.judge(item, answers[key].texts)]
    judged: dict[Request, Response] = {}
    _answer([r for requests in requests_of.values() for r in requests], backend, cache, judged, stats,
            show_progress, log)
    for key, requests in requests_of.items():
        answers[key].judgments = [judged[r].texts[0] for r in requests]
    return stats


def _answer(requests: list[Request], backend, cache, answers: dict, stats: RunStats, show_progress, log) -> None:
    """Fill `answers` for every distinct request: from the cache, else from the backend."""
    ordered = [r for r in dict.fromkeys(requests) if r not in answers]
    stats.requests += len(requests)
    stats.unique += len(ordered)
    cached = cache.get_many(ordered) if cache is not None else {}
    answers.update({ordered[i]: r for i, r in cached.items()})
    stats.cached += len(cached)
    log(f"requests: {len(requests)} total, {len(ordered)} distinct, {len(cached)} served from the cache, "
        f"{len(ordered) - len(cached)} to compute")
    calls = {kind: [r for r in ordered if r.kind == kind and r not in answers] for kind in ("loglikelihood", "generate")}
    calls = {kind: todo for kind, todo in calls.items() if todo}
    if not calls:
        return
    left = {kind: len(todo) for kind, todo in calls.items()}
    last = time.perf_counter()
    with _progress(show_progress, left) as advance:
        for kind, batch in _serve(backend, list(calls.items())):
            done = [(calls[kind][i], response) for i, response in batch]
            if cache is not None:
                cache.put_many(done)
            for request, response in done:
                answers[request] = response
                if isinstance(response, Generation):
                    stats.prompt_tokens += response.prompt_tokens
                    stats.generated_tokens += response.generated_tokens
            advance(kind, len(done), sum(r.generated_tokens if isinstance(r, Generation) else r.tokens for _, r in done))
            left[kind] -= len(done)
            if left[kind] <= 0:  # a kind's seconds: from the previous kind's last answer to its own
                now = time.perf_counter()
                stats.seconds[kind] = stats.seconds.get(kind, 0.0) + now - last
                last = now
    stats.computed += sum(len(todo) for todo in calls.values())


def _serve(backend, calls: list[tuple[str, list[Request]]]) -> Iterator[tuple[str, list[tuple[int, Response]]]]:
    """(kind, batch) of every call: replicas serve the calls from one queue (`serve_calls`), a
    single backend serves them in turn. An empty batch says that a kind's serving starts."""
    serve_calls = getattr(backend, "serve_calls", None)
    if serve_calls is not None:
        yield from ((kind, []) for kind, _ in calls)
        yield from serve_calls(calls)
        return
    for kind, requests in calls:
        yield kind, []
        for batch in getattr(backend, kind)(requests):
            yield kind, batch


def _collect(responses: list[Response]) -> ItemResponses:
    """One item's responses: generated texts in request order (one per turn, or the n samples)."""
    out = ItemResponses()
    for response in responses:
        if isinstance(response, Generation):
            out.texts = (out.texts or []) + list(response.texts)
            out.prompt_tokens += response.prompt_tokens
            out.generated_tokens += response.generated_tokens
        else:
            out.loglikelihoods = (out.loglikelihoods or []) + [response.logprob]
            out.greedy = (out.greedy or []) + [response.is_greedy]
    return out


class _progress:
    """A rich progress bar per request kind with requests done, tokens/s and ETA (or nothing when
    disabled)."""

    def __init__(self, enabled: bool, totals: dict[str, int]):
        self.enabled, self.totals = enabled, dict(totals)
        self.tokens, self.started = dict.fromkeys(totals, 0), {}

    def __enter__(self):
        if not self.enabled:
            return lambda kind, n, tokens: None
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        )
        self.bar.__enter__()
        task_ids = {kind: self.bar.add_task(kind, total=total, rate="", start=False)
                    for kind, total in self.totals.items()}

        def advance(kind: str, n: int, tokens: int) -> None:
            if kind not in self.started:  # the kind's first (empty) batch: its serving starts
                self.started[kind] = time.perf_counter()
                self.bar.start_task(task_ids[kind])
            self.tokens[kind] += tokens
            started = self.started[kind]
            rate = self.tokens[kind] / max(time.perf_counter() - started, 1e-9)
            self.bar.update(task_ids[kind], advance=n, rate=f"{rate:,.1f} tok/s")

        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
