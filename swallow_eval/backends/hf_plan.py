"""What the hf backend computes for a call, planned from token ids alone as independent work items.

A call's requests become work items: a forward batch of rows, a shared context with its
continuations against one KV cache, the rows or prompts sharing a few-shot prefix, a batch of
greedy prompts, one sampled prompt. An item's responses depend only on the item: floating-point
results change with a batch's shape (padding, rows), not with the thread count (MKL_CBWR in
swallow_eval/__init__.py). A data-parallel driver, which has the tokenizer but not the weights,
plans the items once and hands them to its replicas, so every response is byte-identical
whichever replica or chunk computes it, and to the single-process run, which computes the same
items in turn.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator, Sequence, Union

from swallow_eval.backends.base import TokenizingBackend, generation_config, load_tokenizer
from swallow_eval.backends.prefix import prefix_groups
from swallow_eval.requests import GenerateRequest, GenerationSettings, LoglikelihoodRequest, Request

MIN_SHARED_PREFIX = 32  # tokens; a shorter shared prefix is not worth a pass of its own

Ids = tuple[int, ...]
Prompt = tuple[int, Ids]  # (request index, prompt ids)


class _Work:
    """A work item: the request positions it answers, the prompt tokens it computes, its estimated
    cost (those tokens plus the most it may generate) for the data-parallel partitioner."""

    def positions(self) -> list[int]:
        raise NotImplementedError

    def tokens(self) -> int:
        raise NotImplementedError

    def cost(self) -> int:
        return self.tokens() + self.new_tokens()

    def new_tokens(self) -> int:
        """The most tokens it may generate."""
        return 0

    def shares(self) -> dict[int, float]:
        """tokens(), attributed to the request positions it answers: a shared context or prefix in
        equal parts to the requests sharing it, a row's own tokens to the requests it scores."""
        raise NotImplementedError


def _cache_share(config) -> float:
    """The share of a padded prefill's memory per token that is KV cache, from the model's sizes: the rest is
    one layer's activations (its input, queries, keys, values, attention output and the MLP's three
    products), which a batch whose prompts are prefilled one at a time does not hold, so the same
    --max-batch-tokens decodes more rows (Gemma 3 270M: 0.50). 1 where the config lacks a size."""
    sizes = [getattr(config, name, None) for name in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                                       "intermediate_size")]
    if not all(isinstance(size, int) and size > 0 for size in sizes):
        return 1.0
    layers, hidden, heads, intermediate = sizes
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    cache = layers * 2 * kv_heads * head_dim
    activations = hidden + 2 * heads * head_dim + 2 * kv_heads * head_dim + 3 * intermediate
    return cache / (cache + activations)


def _row_shares(rows: Sequence[Row], prefix: int = 0) -> dict[int, float]:
    """Each row's tokens past a `prefix` shared by all rows (which counts once), split over its targets."""
    each = prefix / len(rows)
    return {index: (len(row.ids) - prefix + each) / len(row.targets) for row in rows for index, _, _ in row.targets}


def _prompt_shares(prompts: Sequence[Prompt], prefix: int = 0) -> dict[int, float]:
    each = prefix / len(prompts)
    return {index: len(ids) - prefix + each for index, ids in prompts}


@dataclass
class Row:
    """One forward sequence and the continuations it scores: (request index, first position, tokens)."""

    ids: Ids
    targets: list[tuple[int, int, Ids]]


@dataclass
class ScoreRows(_Work):
    """One forward pass over a batch of rows (right-padded), longest first."""

    rows: list[Row]

    def positions(self) -> list[int]:
        return [index for row in self.rows for index, _, _ in row.targets]

    def tokens(self) -> int:
        return sum(len(row.ids) for row in self.rows)

    def shares(self) -> dict[int, float]:
        return _row_shares(self.rows)


@dataclass
class ScoreShared(_Work):
    """One context through the model, then every continuation against its KV cache."""

    context: Ids
    members: list[tuple[int, Ids]]

    def positions(self) -> list[int]:
        return [index for index, _ in self.members]

    def tokens(self) -> int:
        return len(self.context) + sum(len(tokens) - 1 for _, tokens in self.members)

    def shares(self) -> dict[int, float]:
        each = len(self.context) / len(self.members)
        return {index: each + len(tokens) - 1 for index, tokens in self.members}


@dataclass
class ScorePrefixed(_Work):
    """Rows sharing their first `length` tokens: the prefix once, then batches of the rows' own tokens."""

    length: int
    batches: list[list[Row]]

    def positions(self) -> list[int]:
        return [index for batch in self.batches for row in batch for index, _, _ in row.targets]

    def tokens(self) -> int:
        return self.length + sum(len(row.ids) - self.length for batch in self.batches for row in batch)

    def shares(self) -> dict[int, float]:
        return _row_shares([row for batch in self.batches for row in batch], self.length)


@dataclass
class GenerateGreedy(_Work):
    """One batch of greedy prompts (left-padded), longest first."""

    prompts: list[Prompt]
    max_new: int
    stop: tuple[str, ...]

    def positions(self) -> list[int]:
        return [index for index, _ in self.prompts]

    def tokens(self) -> int:
        return sum(len(ids) for _, ids in self.prompts)

    def shares(self) -> dict[int, float]:
        return _prompt_shares(self.prompts)

    def new_tokens(self) -> int:
        return self.max_new * len(self.prompts)


@dataclass
class GeneratePrefixed(_Work):
    """Greedy prompts sharing their first `length` tokens: the prefix's KV cache once, then batches."""

    length: int
    batches: list[list[Prompt]]
    max_new: int
    stop: tuple[str, ...]

    def positions(self) -> list[int]:
        return [index for batch in self.batches for index, _ in batch]

    def tokens(self) -> int:
        return self.length + sum(len(ids) - self.length for batch in self.batches for _, ids in batch)

    def shares(self) -> dict[int, float]:
        return _prompt_shares([prompt for batch in self.batches for prompt in batch], self.length)

    def new_tokens(self) -> int:
        return self.max_new * len(self.positions())


@dataclass
class Sample(_Work):
    """One sampled prompt and its n return sequences."""

    index: int
    ids: Ids
    max_new: int
    settings: GenerationSettings

    def positions(self) -> list[int]:
        return [self.index]

    def tokens(self) -> int:
        return len(self.ids)

    def shares(self) -> dict[int, float]:
        return {self.index: float(len(self.ids))}

    def new_tokens(self) -> int:
        return self.max_new * self.settings.n


Work = Union[ScoreRows, ScoreShared, ScorePrefixed, GenerateGreedy, GeneratePrefixed, Sample]


class HFPlanner(TokenizingBackend):
    """The hf backend's tokenizer side and its batching: the work items a call's requests become.
    HFBackend computes them; a data-parallel driver builds one with `for_driver` (no weights)."""

    name = "hf"

    def _set_plan(self, model, tokenizer, config, generation, chat_template: str | None, batch_size: int,
                  max_batch_tokens: int, prefix_sharing: bool) -> None:
        self._set_tokenizer(model, tokenizer, config, generation, chat_template)
        self.batch_size, self.max_batch_tokens, self.prefix_sharing = batch_size, max_batch_tokens, prefix_sharing
        self.max_length = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self.sliding_window = getattr(config, "sliding_window", None)
        layer_types = getattr(config, "layer_types", None) or []
        self.sliding_share = (layer_types.count("sliding_attention") / len(layer_types)
                              if layer_types and self.sliding_window else 0.0)
        self.cache_share = _cache_share(config)
        # Prompt tokens each kind's requests hold vs those that go through the model (stats()), and per
        # request: [requested, computed share] (the pipeline sums them per task).
        self.prompt_tokens = {kind: {"requested": 0, "computed": 0} for kind in ("loglikelihood", "generate")}
        self.request_prompt_tokens: dict[Request, list[float]] = {}

    @classmethod
    def for_driver(cls, model, batch_size: int = 16, max_batch_tokens: int = 8192, trust_remote_code: bool = False,
                   chat_template: str | None = None, prefix_sharing: bool = True, **_engine_options) -> HFPlanner:
        """The planner of replicas built with the same options (dtype and device do not change plans)."""
        planner = cls()
        tokenizer, config = load_tokenizer(model, trust_remote_code)
        planner._set_plan(model, tokenizer, config, generation_config(model.path, config), chat_template,
                          batch_size, max_batch_tokens, prefix_sharing)
        return planner

    def stats(self) -> dict:
        """Prompt tokens requested (each request's own sequence) vs computed (forward-pass tokens
        without padding): what sharing contexts and prefixes saved."""
        return {"prefix_sharing": self.prefix_sharing, "prompt_tokens": copy.deepcopy(self.prompt_tokens)}

    def plan(self, kind: str, requests: Sequence[Request]) -> list[Work]:
        """The work items of a `loglikelihood` or `generate` call, in the order they are computed."""
        works = list(self._plan_loglikelihood(requests) if kind == "loglikelihood" else self._plan_generate(requests))
        # Sampled prompts are left out of both counts (requested counts greedy prompts only).
        counted = [work for work in works if not isinstance(work, Sample)]
        self.prompt_tokens[kind]["computed"] += sum(work.tokens() for work in counted)
        for work in counted:
            for position, share in work.shares().items():
                self.request_prompt_tokens[requests[position]][1] += share
        return works

    def _count_requested(self, request: Request, tokens: int) -> None:
        self.prompt_tokens[request.kind]["requested"] += tokens
        self.request_prompt_tokens[request] = [tokens, 0.0]

    def _plan_loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> Iterator[Work]:
        pairs = [self._loglikelihood_ids(request) for request in requests]
        for request, (context, continuation) in zip(requests, pairs):
            self._count_requested(request, len(context) + len(continuation) - 1)
        by_context: dict[Ids, list[int]] = defaultdict(list)
        for index, (context, _) in enumerate(pairs):
            by_context[context].append(index)
        rows, shared = [], []
        for context, indices in by_context.items():
            continuations = [pairs[i][1] for i in indices]
            longest = max(len(c) for c in continuations)
            if all(len(c) == 1 for c in continuations):
                rows.append(Row(context, [(i, len(context) - 1, c) for i, c in zip(indices, continuations)]))
            elif (not self.prefix_sharing and len(indices) > 1
                  and (self.max_length is None or len(context) + longest <= self.max_length)):
                shared.append(ScoreShared(context, [(i, pairs[i][1]) for i in indices]))
            else:  # with prefix sharing, the rows of one context share it as a prefix
                rows += [Row(context + c[:-1], [(i, len(context) - 1, c)]) for i, c in zip(indices, continuations)]
        rows = [self._truncate(row) for row in rows]
        if self.prefix_sharing:
            groups, alone = prefix_groups([row.ids for row in rows], MIN_SHARED_PREFIX)
            for group in groups:
                members = sorted((rows[i] for i in group.members), key=lambda row: -len(row.ids))
                yield ScorePrefixed(group.length, list(self._batches(members, lambda row: len(row.ids))))
            rows = [rows[i] for i in alone]
        rows.sort(key=lambda row: -len(row.ids))
        yield from (ScoreRows(batch) for batch in self._batches(rows, lambda row: len(row.ids)))
        yield from sorted(shared, key=lambda work: -len(work.context))

    def _truncate(self, row: Row) -> Row:
        """Keep the last max_length tokens (lm-eval's left truncation); positions shift with them."""
        if self.max_length is None or len(row.ids) <= self.max_length:
            return row
        cut = len(row.ids) - self.max_length
        return Row(row.ids[cut:], [(i, max(start - cut, 0), tokens) for i, start, tokens in row.targets])

    def _plan_generate(self, requests: Sequence[GenerateRequest]) -> Iterator[Work]:
        greedy: dict[tuple, list[Prompt]] = defaultdict(list)
        sampled = []
        for index, request in enumerate(requests):
            ids, max_new = self._prompt_ids(request, self.max_length)
            if request.greedy:
                greedy[(max_new, tuple(request.settings.stop))].append((index, tuple(ids)))
            else:
                sampled.append(Sample(index, tuple(ids), max_new, request.settings))
        for (max_new, stop), prompts in greedy.items():
            for index, ids in prompts:
                self._count_requested(requests[index], len(ids))
            if self.prefix_sharing and max_new > 0:
                groups, alone = prefix_groups([ids for _, ids in prompts], MIN_SHARED_PREFIX)
                for group in groups:
                    yield self._prefixed_prompts([prompts[i] for i in group.members], group.length, max_new, stop)
                prompts = [prompts[i] for i in alone]
            prompts.sort(key=lambda prompt: -len(prompt[1]))
            # Prefilled a prompt at a time (with sharing), a batch holds its KV cache only, not its activations.
            held = self._cached_tokens if self.prefix_sharing and max_new > 0 else (lambda tokens: tokens)
            for batch in self._batches(prompts, lambda prompt, new=max_new, held=held: held(len(prompt[1]) + new)):
                yield GenerateGreedy(batch, max_new, stop)
        yield from sampled

    def _prefixed_prompts(self, prompts: list[Prompt], length: int, max_new: int, stop) -> GeneratePrefixed:
        """Batches of [prefix, padding, own tokens]; a sliding window counts cache slots, padding
        included, so where a sequence can outgrow the window a batch holds prompts of one length only."""
        prompts = sorted(prompts, key=lambda prompt: -len(prompt[1]))
        runs = [prompts]
        if self.sliding_window is not None and len(prompts[0][1]) + max_new > self.sliding_window:
            sizes = sorted({len(ids) for _, ids in prompts}, reverse=True)
            runs = [[p for p in prompts if len(p[1]) == size] for size in sizes]
        batches = [batch for run in runs for batch in self._batches(run, lambda prompt: len(prompt[1]) + max_new)]
        return GeneratePrefixed(length, batches, max_new, stop)

    def _cached_tokens(self, tokens: int) -> float:
        """A row prefilled alone, in the padded batch's tokens of memory: its KV cache in full layers' tokens
        (a sliding-window layer holds at most its window), of which a padded token's memory is `cache_share`."""
        share = self.sliding_share
        cached = (1 - share) * tokens + share * min(tokens, self.sliding_window) if share else tokens
        return cached * self.cache_share

    def _batches(self, items, length):
        """Consecutive batches (items sorted longest first) within batch_size and max_batch_tokens."""
        batch = []
        for item in items:
            if batch and (len(batch) >= self.batch_size or length(batch[0]) * (len(batch) + 1) > self.max_batch_tokens):
                yield batch
                batch = []
            batch.append(item)
        if batch:
            yield batch
