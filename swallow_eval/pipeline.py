"""Collect the requests of every selected task, send each distinct one once, keep every answer.

task definitions -> items -> requests (deduplicated across tasks) -> response cache -> backend
-> responses per item. One backend instance serves the whole run.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from swallow_eval.data import DataRoot, choose_root
from swallow_eval.requests import GenerateRequest, Generation, LoglikelihoodRequest, Request, Response
from swallow_eval.task import BuildContext, Item, Task


@dataclass
class PreparedTask:
    task: Task
    items: list[Item]
    data: DataRoot
    add_bos: bool = False


@dataclass
class ItemResponses:
    texts: list[str] | None = None
    loglikelihoods: list[float] | None = None
    greedy: list[bool] | None = None
    prompt_tokens: int = 0
    generated_tokens: int = 0


@dataclass
class RunStats:
    requests: int = 0
    unique: int = 0
    cached: int = 0
    computed: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def limit_items(items: list[Item], limit: int | None) -> list[Item]:
    """The first `limit` items in evaluation order, per subtask for grouped tasks."""
    if limit is None:
        return items
    seen: Counter = Counter()
    kept = []
    for item in items:
        if seen[item.subtask] < limit:
            kept.append(item)
            seen[item.subtask] += 1
    return kept


def prepare(task: Task, data_dir: Path | None, limit: int | None, context: BuildContext) -> PreparedTask:
    data = choose_root(task.name, task.files, data_dir)
    return PreparedTask(task, limit_items(task.build(data, context), limit), data)


def item_requests(task: Task, item: Item, add_bos: bool) -> list[Request]:
    """The requests one item needs: a generation for `prompt`, a log-likelihood per choice."""
    requests: list[Request] = []
    if item.prompt is not None and task.generation is not None:
        g = task.generation
        requests.append(GenerateRequest(
            prompt=item.prompt, max_new_tokens=g.max_new_tokens, stop=g.stop, n=g.n,
            temperature=g.temperature, top_p=g.top_p, seed=g.seed, add_bos=add_bos,
            max_total_tokens=g.max_total_tokens, max_prompt_tokens=g.max_prompt_tokens,
        ))
    for context, continuation in item.choices or ():
        requests.append(LoglikelihoodRequest(context, continuation, add_bos))
    return requests


def execute(prepared: list[PreparedTask], backend, cache, show_progress: bool = True,
            log=print) -> tuple[dict[tuple[str, int], ItemResponses], RunStats]:
    """Answer every item of every task; finished requests are committed to `cache` batch by batch."""
    stats = RunStats()
    per_item: dict[tuple[str, int], list[Request]] = {}
    unique: dict[Request, None] = {}
    for p in prepared:
        for item in p.items:
            requests = item_requests(p.task, item, p.add_bos)
            per_item[(p.task.name, item.index)] = requests
            unique.update(dict.fromkeys(requests))
            stats.requests += len(requests)
    ordered = list(unique)
    stats.unique = len(ordered)
    answers: dict[Request, Response] = {}
    if cache is not None:
        found = cache.get_many(ordered)
        answers.update({ordered[i]: r for i, r in found.items()})
    stats.cached = len(answers)
    log(f"requests: {stats.requests} total, {stats.unique} distinct, {stats.cached} served from the cache, "
        f"{stats.unique - stats.cached} to compute")
    for kind, method in (("loglikelihood", backend.loglikelihood), ("generate", backend.generate)):
        todo = [r for r in ordered if r.kind == kind and r not in answers]
        if not todo:
            continue
        started = time.perf_counter()
        with _progress(show_progress, kind, len(todo)) as advance:
            for batch in method(todo):
                done = [(todo[i], response) for i, response in batch]
                if cache is not None:
                    cache.put_many(done)
                for request, response in done:
                    answers[request] = response
                    if isinstance(response, Generation):
                        stats.prompt_tokens += response.prompt_tokens
                        stats.generated_tokens += response.generated_tokens
                advance(len(done), sum(r.generated_tokens if isinstance(r, Generation) else r.tokens for _, r in done))
        stats.computed += len(todo)
        stats.seconds[kind] = time.perf_counter() - started
    return {key: _collect([answers[r] for r in requests]) for key, requests in per_item.items()}, stats


def _collect(responses: list[Response]) -> ItemResponses:
    out = ItemResponses()
    for response in responses:
        if isinstance(response, Generation):
            out.texts = list(response.texts)
            out.prompt_tokens += response.prompt_tokens
            out.generated_tokens += response.generated_tokens
        else:
            out.loglikelihoods = (out.loglikelihoods or []) + [response.logprob]
            out.greedy = (out.greedy or []) + [response.is_greedy]
    return out


class _progress:
    """A rich progress bar with requests done, tokens/s and ETA (or nothing when disabled)."""

    def __init__(self, enabled: bool, kind: str, total: int):
        self.enabled, self.kind, self.total = enabled, kind, total
        self.tokens, self.started = 0, time.perf_counter()

    def __enter__(self):
        if not self.enabled:
            return lambda n, tokens: None
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        )
        self.bar.__enter__()
        self.task_id = self.bar.add_task(self.kind, total=self.total, rate="")

        def advance(n: int, tokens: int) -> None:
            self.tokens += tokens
            rate = self.tokens / max(time.perf_counter() - self.started, 1e-9)
            self.bar.update(self.task_id, advance=n, rate=f"{rate:,.1f} tok/s")

        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
