"""`swallow-eval plan`: a run's requests and tokens, counted with the model's tokenizer alone.

Requests are built as `run` builds them (pipeline.prepare and item_requests, the task's BOS policy,
--limit, --max-new-tokens) and deduplicated as pipeline.execute does (requests are frozen values).
Their token ids are those the hf and vllm backends compute (backends/base.py: lm-eval's pair
encoding, BOS, the model's context length), from the tokenizer and config only: no weights load.

Counted per request:
- prompt tokens: the positions the model reads. A log-likelihood request: its context and its
  continuation but the last token (that one is only predicted); a generation: its prompt as truncated.
- distinct prompt tokens: the same over the distinct requests with every shared prefix once (prefix.py).
- max new tokens: max_new_tokens (after the request's and the model's limits) x n; answers may stop earlier.
- estimated seconds: (distinct prompt tokens + max new tokens) / --tokens-per-second.
Later turns of multi-turn tasks and judge requests are built from the model's answers: they are not
counted, and the task lists them under "unknown".
A task's row counts its own distinct requests; the total counts the run's, so requests two tasks share
count once there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from rich.table import Table

from swallow_eval import models
from swallow_eval.backends.base import TokenizingBackend, generation_config, load_tokenizer
from swallow_eval.errors import UserError
from swallow_eval.pipeline import item_requests, prepare
from swallow_eval.prefix import distinct_packed_tokens, pack
from swallow_eval.requests import GenerateRequest, Request
from swallow_eval.selection import Skips, lacks_chat_template, with_data
from swallow_eval.task import BuildContext, Task, bos_policy, load_registry, select_tasks

PLAN_VERSION = 1  # the "swallow_eval_plan" key of --json: bumped when a key changes meaning
ENCODE_BATCH = 1024  # texts per call of the tokenizer's batch encoding
LATER_TURNS = "turns after the first: built from the model's answers"
JUDGE_REQUESTS = "judge requests: built from the model's answers"


@dataclass
class Counts:
    items: int = 0
    requests: int = 0
    distinct_requests: int = 0
    prompt_tokens: int = 0
    distinct_prompt_tokens: int = 0
    max_new_tokens: int = 0

    def estimated_seconds(self, tokens_per_second: float | None) -> float | None:
        if tokens_per_second is None:
            return None
        return (self.distinct_prompt_tokens + self.max_new_tokens) / tokens_per_second


@dataclass
class TaskPlan:
    name: str
    add_bos: bool
    counts: Counts
    unknown: list[str] = field(default_factory=list)  # what the counts leave out


@dataclass
class Plan:
    model: str
    tasks: list[TaskPlan]
    total: Counts
    skipped: dict[str, str]
    limit: int | None
    max_new_tokens_cap: int | None
    tokens_per_second: float | None

    def to_json(self) -> dict:
        """The `plan --json` object (a stable contract, README)."""
        def counts(c: Counts) -> dict:
            seconds = c.estimated_seconds(self.tokens_per_second)
            return {**asdict(c), "estimated_seconds": None if seconds is None else round(seconds, 3)}

        return {
            "swallow_eval_plan": PLAN_VERSION,
            "model": self.model,
            "limit": self.limit,
            "max_new_tokens_cap": self.max_new_tokens_cap,
            "tokens_per_second": self.tokens_per_second,
            "estimate": "(distinct_prompt_tokens + max_new_tokens) / tokens_per_second",
            "tasks": {t.name: {**counts(t.counts), "add_bos": t.add_bos, "unknown": t.unknown} for t in self.tasks},
            "total": {**counts(self.total), "incomplete_tasks": [t.name for t in self.tasks if t.unknown]},
            "skipped": self.skipped,
        }


class ModelTokens(TokenizingBackend):
    """The evaluated model's tokenizer side, exactly the local backends' (their TokenizingBackend),
    with a batch-filled cache and the hf backend's context length: no weights, no engine."""

    name = "plan"

    def __init__(self, model: models.ModelRef, chat_template: str | None = None):
        tokenizer, config = load_tokenizer(model)
        self._set_tokenizer(model, tokenizer, config, generation_config(model.path, config), chat_template)
        # The hf backend's limit; vLLM derives the same max_model_len from the config unless told otherwise.
        self.max_length = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self._ids: dict[str, np.ndarray] = {}  # int32: 4 bytes a token, not ~36 as Python ints
        self._recording: dict[str, None] | None = None

    def _encode(self, text: str) -> list[int]:
        """The backends' encoding (no special tokens), cached per text; while recording, a stand-in."""
        if self._recording is not None:
            self._recording[text] = None
            return [0] * len(text)  # as long as any encoding, so the pair split asks for no further text
        ids = self._ids.get(text)
        if ids is None:
            ids = self._ids[text] = np.asarray(super()._encode(text), np.int32)
        return ids.tolist()

    def prefetch(self, requests: Iterable[Request]) -> None:
        """Encode every text the requests need, in batches: the Rust tokenizer spreads a batch over all cores.
        The texts are those the backend's own code asks for, recorded by a dry pass over the requests."""
        self._recording = {}
        try:
            for request in requests:
                self.read_ids(request)
            todo = [text for text in self._recording if text not in self._ids]
        finally:
            self._recording = None
        for start in range(0, len(todo), ENCODE_BATCH):
            chunk = todo[start : start + ENCODE_BATCH]
            for text, ids in zip(chunk, self.tokenizer(chunk, add_special_tokens=False).input_ids):
                self._ids[text] = np.asarray(ids, np.int32)

    def read_ids(self, request: Request) -> tuple[list[int], int]:
        """The token ids the model reads for a request, and the most tokens it may generate per answer:
        a generation's prompt ids, or a log-likelihood's context and continuation but its last token
        (left-truncated to the context length, as the hf backend's rows)."""
        if isinstance(request, GenerateRequest):
            return self._prompt_ids(request, self.max_length)
        context, continuation = self._loglikelihood_ids(request)
        ids = list(context + continuation[:-1])
        return (ids if self.max_length is None else ids[-self.max_length:]), 0


@dataclass(frozen=True)
class _Sized:
    packed: bytes  # prefix.pack of the ids the model reads
    prompt_tokens: int
    max_new_tokens: int


def make_plan(model: str, suite: str | None = None, tasks: str | None = None, data_dir: Path | None = None,
              limit: int | None = None, tasks_dir: Iterable[Path] = (), max_new_tokens: int | None = None,
              num_answers: int | None = None, chat_template: str | None = None,
              tokens_per_second: float | None = None, log: Callable[[str], None] = print) -> Plan:
    """Count the requests and tokens `swallow-eval run` with the same options would send."""
    if tokens_per_second is not None and tokens_per_second <= 0:
        raise UserError(f"--tokens-per-second {tokens_per_second}: must be above 0")
    skips = Skips(bool(tasks), log)
    selected = with_data(select_tasks(load_registry(tasks_dir), suite, tasks), data_dir, skips)
    if not selected:
        raise UserError("no selected task has data; pass --data-dir or run `swallow-eval data download`")
    tokens = ModelTokens(models.resolve(model), chat_template)
    prepared = []
    for task in selected:
        p = prepare(task, data_dir, limit, BuildContext(tokenizer=tokens.tokenizer, num_answers=num_answers))
        if lacks_chat_template(p.items, tokens.tokenizer, chat_template):
            skips.skip(task, f"--model {model} has no chat template; pass --chat-template FILE")
            continue
        info = tokens.info
        p.add_bos = bos_policy(task.reference, info.path, info.model_type, info.tokenizer_adds_bos)
        p.max_new_tokens_cap = max_new_tokens
        prepared.append(p)
    if not prepared:
        raise UserError("no selected task can run with this model")
    per_task = [[r for item in p.items for r in item_requests(p.task, item, p.add_bos, p.max_new_tokens_cap)]
                for p in prepared]
    distinct = list(dict.fromkeys(r for requests in per_task for r in requests))
    tokens.prefetch(distinct)
    sized = {}
    for request in distinct:
        ids, max_new = tokens.read_ids(request)
        answers = request.settings.n if isinstance(request, GenerateRequest) else 0
        sized[request] = _Sized(pack(ids), len(ids), max_new * answers)
    rows = [TaskPlan(p.task.name, p.add_bos, _count(len(p.items), requests, sized), _unknown(p.task))
            for p, requests in zip(prepared, per_task)]
    total = _count(sum(len(p.items) for p in prepared), [r for requests in per_task for r in requests], sized)
    return Plan(model, rows, total, skips.reasons, limit, max_new_tokens, tokens_per_second)


def _count(items: int, requests: list[Request], sized: dict[Request, _Sized]) -> Counts:
    distinct = [sized[r] for r in dict.fromkeys(requests)]
    return Counts(items=items, requests=len(requests), distinct_requests=len(distinct),
                  prompt_tokens=sum(s.prompt_tokens for s in distinct),
                  distinct_prompt_tokens=distinct_packed_tokens(s.packed for s in distinct),
                  max_new_tokens=sum(s.max_new_tokens for s in distinct))


def _unknown(task: Task) -> list[str]:
    return [note for note, applies in ((LATER_TURNS, task.next_turn), (JUDGE_REQUESTS, task.judge)) if applies]


def table(plan: Plan) -> Table:
    """The plan as a table: one row per task, then the total; unknown parts as footnotes."""
    result = Table(title=f"swallow-eval plan: {plan.model}", caption=_caption(plan), caption_justify="left")
    result.add_column("task", no_wrap=True)
    headers = ["items", "requests", "distinct", "prompt tokens", "distinct prompt tokens", "max new tokens"]
    if plan.tokens_per_second is not None:
        headers.append(f"time at {plan.tokens_per_second:,g} tok/s")
    for header in headers:
        result.add_column(header, justify="right", no_wrap=True)
    marks = {}
    for row in plan.tasks:
        if row.unknown:
            marks[row.name] = "*" * (len(marks) + 1)
        result.add_row(row.name + marks.get(row.name, ""), *_cells(row.counts, plan.tokens_per_second))
    result.add_section()
    result.add_row("total" + ("*" if marks else ""), *_cells(plan.total, plan.tokens_per_second), style="bold")
    return result


def _cells(counts: Counts, tokens_per_second: float | None) -> list[str]:
    cells = [f"{value:,}" for value in (counts.items, counts.requests, counts.distinct_requests, counts.prompt_tokens,
                                        counts.distinct_prompt_tokens, counts.max_new_tokens)]
    seconds = counts.estimated_seconds(tokens_per_second)
    return cells if seconds is None else [*cells, duration(seconds)]


def _caption(plan: Plan) -> str:
    lines = []
    marked = [row for row in plan.tasks if row.unknown]
    for number, row in enumerate(marked, 1):
        lines.append(f"{'*' * number} {row.name}: not counted: {'; '.join(row.unknown)}")
    if marked:
        lines.append("* total: without what the marked tasks leave out")
    if plan.tokens_per_second is None:
        lines.append("time: pass --tokens-per-second X for (distinct prompt tokens + max new tokens) / X")
    else:
        lines.append("time = (distinct prompt tokens + max new tokens) / tokens per second")
    lines += [f"skipped {name}: {reason}" for name, reason in plan.skipped.items()]
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """e.g. 42.0s, 3m 05s, 2h 07m, 3d 04h."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"
