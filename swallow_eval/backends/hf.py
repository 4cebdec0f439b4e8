"""Hugging Face transformers backend (CPU or GPU): proxy models, CI and small-scale runs.

Log-likelihoods never compute the language-model head over a whole sequence: with a 262k
vocabulary that dominates the cost of a small model. Hidden states are gathered at the positions
that score a continuation and only those go through the head. Choices that share a context with
single-token continuations (MMLU letters) cost one forward pass; choices that share a context with
longer continuations reuse the context's KV cache.

With prefix sharing (the default) the requests of a call are grouped by shared token prefix
(backends/prefix.py): each group's prefix (the few-shot block of a task, the dev questions of an
MMLU subject) goes through the model once, and only the members' own tokens run against a copy of
its KV cache. `prefix_sharing=False` is the path without it.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from swallow_eval.backends.base import TokenizingBackend, load_tokenizer
from swallow_eval.backends.prefix import prefix_groups
from swallow_eval.errors import UserError
from swallow_eval.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest

LOGIT_ROWS_PER_CHUNK = 64  # rows of vocabulary-sized log-softmax held at once
MIN_SHARED_PREFIX = 32  # tokens; a shorter shared prefix is not worth a pass of its own


@dataclass
class _Row:
    """One forward sequence and the continuations it scores: (request index, first position, tokens)."""

    ids: tuple[int, ...]
    targets: list[tuple[int, int, tuple[int, ...]]]


class HFBackend(TokenizingBackend):
    name = "hf"
    pads_finished = True  # generate() continues finished sequences with padding

    def __init__(self, model, dtype: str | None = None, device: str | None = None, batch_size: int = 8,
                 max_batch_tokens: int = 8192, trust_remote_code: bool = False, chat_template: str | None = None,
                 prefix_sharing: bool = False):
        from transformers import AutoModelForCausalLM

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # fp32 on CPU: bf16 results change with batch composition (notes/cpu-stack.md).
        self.dtype = dtype or ("float32" if self.device == "cpu" else "auto")
        torch_dtype = "auto" if self.dtype == "auto" else getattr(torch, self.dtype, None)
        if torch_dtype is None:
            raise UserError(f"--dtype {self.dtype}: not a torch dtype (float32, bfloat16, float16, auto)")
        tokenizer, _ = load_tokenizer(model, trust_remote_code)
        try:
            # On GPUs, accelerate spreads a large model over all visible devices.
            placement = {"device_map": "auto"} if self.device == "cuda" else {}
            self.model = AutoModelForCausalLM.from_pretrained(
                model.path, dtype=torch_dtype, trust_remote_code=trust_remote_code, **placement
            )
        except (OSError, ValueError) as exc:
            raise UserError(f"--model {model.spec}: cannot load ({str(exc).splitlines()[0]})") from exc
        if self.device != "cuda":
            self.model.to(self.device)
        self.model.eval()
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.prefix_sharing = prefix_sharing
        self._stop_lists: dict[tuple[str, ...], object] = {}
        # Prompt tokens each kind's requests hold vs those that went through the model (stats()).
        self.prompt_tokens = {kind: {"requested": 0, "computed": 0} for kind in ("loglikelihood", "generate")}
        config = self.model.config
        self._set_tokenizer(model, tokenizer, config, self.model.generation_config, chat_template)
        self.max_length = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)

    def identity(self) -> dict:
        return self._identity(dtype=self.dtype, device=torch.device(self.device).type)

    def stats(self) -> dict:
        """Prompt tokens requested (each request's own sequence) vs computed (forward-pass tokens
        without padding): what sharing contexts and prefixes saved."""
        return {"prefix_sharing": self.prefix_sharing, "prompt_tokens": copy.deepcopy(self.prompt_tokens)}

    def close(self) -> None:
        del self.model

    # ---- log-likelihood --------------------------------------------------------------------

    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> Iterator[list[tuple[int, Loglikelihood]]]:
        pairs = [self._loglikelihood_ids(request) for request in requests]
        self.prompt_tokens["loglikelihood"]["requested"] += sum(len(c) + len(t) - 1 for c, t in pairs)
        by_context: dict[tuple, list[int]] = defaultdict(list)
        for index, (context, _) in enumerate(pairs):
            by_context[context].append(index)
        rows, shared = [], []
        for context, indices in by_context.items():
            continuations = [pairs[i][1] for i in indices]
            longest = max(len(c) for c in continuations)
            if all(len(c) == 1 for c in continuations):
                rows.append(_Row(context, [(i, len(context) - 1, c) for i, c in zip(indices, continuations)]))
            elif (not self.prefix_sharing and len(indices) > 1
                  and (self.max_length is None or len(context) + longest <= self.max_length)):
                shared.append((context, indices))
            else:  # with prefix sharing, the rows of one context share it as a prefix
                for i, c in zip(indices, continuations):
                    rows.append(_Row(context + c[:-1], [(i, len(context) - 1, c)]))
        if self.prefix_sharing:
            rows = [self._truncate(row) for row in rows]
            groups, alone = prefix_groups([row.ids for row in rows], MIN_SHARED_PREFIX)
            for group in groups:
                yield from self._score_prefixed([rows[i] for i in group.members], group.length)
            rows = [rows[i] for i in alone]
        yield from self._score_rows(rows)
        for context, indices in sorted(shared, key=lambda s: -len(s[0])):
            yield self._score_shared(context, [(i, pairs[i][1]) for i in indices])

    def _score_rows(self, rows: list[_Row]) -> Iterator[list[tuple[int, Loglikelihood]]]:
        rows = [self._truncate(row) for row in rows]
        rows.sort(key=lambda row: -len(row.ids))
        self.prompt_tokens["loglikelihood"]["computed"] += sum(len(row.ids) for row in rows)
        for batch in self._batches(rows, lambda row: len(row.ids)):
            width = len(batch[0].ids)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for b, row in enumerate(batch):
                ids[b, : len(row.ids)] = torch.tensor(row.ids)
                mask[b, : len(row.ids)] = 1
            hidden = self._hidden(ids.to(self.model.device), mask.to(self.model.device))
            picks = [
                (index, hidden[b, start : start + len(tokens)], tokens)
                for b, row in enumerate(batch)
                for index, start, tokens in row.targets
            ]
            yield self._sum_logprobs(picks)

    def _score_shared(self, context: tuple, members: list[tuple[int, tuple]]) -> list[tuple[int, Loglikelihood]]:
        """One forward pass over the shared context, then all continuations against its KV cache."""
        self.prompt_tokens["loglikelihood"]["computed"] += len(context) + sum(len(t) - 1 for _, t in members)
        out = self.model.base_model(input_ids=torch.tensor([context], device=self.model.device), use_cache=True)
        last = out.last_hidden_state[0, -1:]
        longest = max(len(tokens) for _, tokens in members)
        cache = out.past_key_values
        cache.batch_repeat_interleave(len(members))
        ids = torch.full((len(members), longest - 1), self.pad_id, dtype=torch.long)
        mask = torch.cat(
            [torch.ones((len(members), len(context)), dtype=torch.long), torch.zeros_like(ids)], dim=1
        )
        for b, (_, tokens) in enumerate(members):
            ids[b, : len(tokens) - 1] = torch.tensor(tokens[:-1])
            mask[b, len(context) : len(context) + len(tokens) - 1] = 1
        after = self.model.base_model(
            input_ids=ids.to(self.model.device),
            attention_mask=mask.to(self.model.device),
            past_key_values=cache,
            cache_position=torch.arange(len(context), len(context) + longest - 1, device=self.model.device),
            use_cache=True,
        ).last_hidden_state
        picks = [
            (index, torch.cat([last, after[b, : len(tokens) - 1]]), tokens)
            for b, (index, tokens) in enumerate(members)
        ]
        return self._sum_logprobs(picks)

    def _prefix_cache(self, prefix: Sequence[int]):
        """The prefix's hidden states and KV cache (batch 1), computed once for a group."""
        out = self.model.base_model(input_ids=torch.tensor([prefix], device=self.model.device), use_cache=True)
        return out.last_hidden_state[0], out.past_key_values

    @staticmethod
    def _expanded(cache, batch: int):
        """A copy of a batch-1 cache for `batch` rows (the forward pass extends the copy, not the original)."""
        cache = copy.deepcopy(cache)
        cache.batch_repeat_interleave(batch)
        return cache

    def _score_prefixed(self, rows: list[_Row], length: int) -> Iterator[list[tuple[int, Loglikelihood]]]:
        """Rows sharing their first `length` tokens: the prefix once, then each row's own tokens
        (right-padded, so positions follow the cache) against a copy of its KV cache."""
        prefix_hidden, cache = self._prefix_cache(rows[0].ids[:length])
        rows = sorted(rows, key=lambda row: -len(row.ids))
        self.prompt_tokens["loglikelihood"]["computed"] += length + sum(len(row.ids) - length for row in rows)
        for batch in self._batches(rows, lambda row: len(row.ids)):
            width = len(batch[0].ids) - length
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), length + width), dtype=torch.long)
            for b, row in enumerate(batch):
                ids[b, : len(row.ids) - length] = torch.tensor(row.ids[length:])
                mask[b, : len(row.ids)] = 1
            device = self.model.device
            after = self.model.base_model(
                input_ids=ids.to(device), attention_mask=mask.to(device),
                past_key_values=self._expanded(cache, len(batch)),
                cache_position=torch.arange(length, length + width, device=device), use_cache=True,
            ).last_hidden_state
            picks = []
            for b, row in enumerate(batch):
                hidden = torch.cat([prefix_hidden, after[b]])
                picks += [(index, hidden[start : start + len(tokens)], tokens) for index, start, tokens in row.targets]
            yield self._sum_logprobs(picks)

    def _truncate(self, row: _Row) -> _Row:
        """Keep the last max_length tokens (lm-eval's left truncation); positions shift with them."""
        if self.max_length is None or len(row.ids) <= self.max_length:
            return row
        cut = len(row.ids) - self.max_length
        return _Row(row.ids[cut:], [(i, max(start - cut, 0), tokens) for i, start, tokens in row.targets])

    def _hidden(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model.base_model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state

    def _log_softmax(self, hidden: torch.Tensor) -> torch.Tensor:
        """The model's output head on selected hidden states, with the final-logit transforms
        transformers applies for the architectures that have them."""
        logits = self.model.get_output_embeddings()(hidden).float()
        config = self.model.config
        if getattr(config, "final_logit_softcapping", None):
            cap = config.final_logit_softcapping
            logits = torch.tanh(logits / cap) * cap
        if getattr(config, "logit_scale", None):  # Cohere
            logits = logits * config.logit_scale
        if getattr(config, "logits_scaling", None):  # Granite
            logits = logits / config.logits_scaling
        return logits.log_softmax(dim=-1)

    def _sum_logprobs(self, picks) -> list[tuple[int, Loglikelihood]]:
        hidden = torch.cat([h for _, h, _ in picks])
        tokens = torch.tensor([t for _, _, toks in picks for t in toks], device=hidden.device)
        logprobs, greedy = [], []
        for start in range(0, len(tokens), LOGIT_ROWS_PER_CHUNK):
            chunk = self._log_softmax(hidden[start : start + LOGIT_ROWS_PER_CHUNK])
            wanted = tokens[start : start + LOGIT_ROWS_PER_CHUNK]
            logprobs.append(chunk.gather(1, wanted[:, None])[:, 0])
            greedy.append(chunk.argmax(dim=1) == wanted)
        logprobs, greedy = torch.cat(logprobs).tolist(), torch.cat(greedy).tolist()
        results, offset = [], 0
        for index, _, toks in picks:
            span = slice(offset, offset + len(toks))
            results.append((index, Loglikelihood(sum(logprobs[span]), all(greedy[span]), len(toks))))
            offset += len(toks)
        return results

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

    # ---- generation ------------------------------------------------------------------------

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[list[tuple[int, Generation]]]:
        greedy = defaultdict(list)
        sampled = []
        for index, request in enumerate(requests):
            ids, max_new = self._prompt_ids(request, self.max_length)
            if request.greedy:
                greedy[(max_new, request.settings.stop)].append((index, ids))
            else:
                sampled.append((index, ids, max_new, request))
        for (max_new, stop), members in greedy.items():
            self.prompt_tokens["generate"]["requested"] += sum(len(ids) for _, ids in members)
            if self.prefix_sharing and max_new > 0:
                groups, alone = prefix_groups([ids for _, ids in members], MIN_SHARED_PREFIX)
                for group in groups:
                    yield from self._generate_prefixed([members[i] for i in group.members], group.length, max_new, stop)
                members = [members[i] for i in alone]
            self.prompt_tokens["generate"]["computed"] += sum(len(ids) for _, ids in members)
            members.sort(key=lambda m: -len(m[1]))
            for batch in self._batches(members, lambda m, new=max_new: len(m[1]) + new):
                yield self._generate_batch(batch, max_new, stop)
        for index, ids, max_new, request in sampled:
            yield [(index, self._sample(ids, max_new, request))]

    def _generate_batch(self, batch, max_new: int, stop: tuple[str, ...]) -> list[tuple[int, Generation]]:
        width = max(len(ids) for _, ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, (_, ids) in enumerate(batch):  # left padding
            input_ids[b, width - len(ids) :] = torch.tensor(ids)
            mask[b, width - len(ids) :] = 1
        output = self._run_generate(input_ids, mask, max_new, stop, do_sample=False)
        return [
            (index, self._to_generation([output[b, width:].tolist()], len(ids), stop))
            for b, (index, ids) in enumerate(batch)
        ]

    def _generate_prefixed(self, members, length: int, max_new: int, stop) -> Iterator[list[tuple[int, Generation]]]:
        """Prompts sharing their first `length` tokens: the prefix's KV cache once, then batches of
        [prefix, padding, own tokens] continuing from copies of it. Positions come from the attention
        mask (as with left padding); a sliding window counts cache slots, padding included, so where
        the sequence can outgrow the window a batch holds prompts of one length only (no padding)."""
        _, cache = self._prefix_cache(members[0][1][:length])
        self.prompt_tokens["generate"]["computed"] += length + sum(len(ids) - length for _, ids in members)
        members = sorted(members, key=lambda m: -len(m[1]))
        window = getattr(self.model.config, "sliding_window", None)
        runs = [members]
        if window is not None and len(members[0][1]) + max_new > window:
            runs = [[m for m in members if len(m[1]) == size] for size in sorted({len(m[1]) for m in members}, reverse=True)]
        for run in runs:
            for batch in self._batches(run, lambda m: len(m[1]) + max_new):
                width = len(batch[0][1])
                input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                input_ids[:, :length] = torch.tensor(batch[0][1][:length])
                mask[:, :length] = 1
                for b, (_, ids) in enumerate(batch):
                    input_ids[b, width - len(ids) + length :] = torch.tensor(ids[length:])
                    mask[b, width - len(ids) + length :] = 1
                output = self._run_generate(input_ids, mask, max_new, stop, do_sample=False,
                                            past_key_values=self._expanded(cache, len(batch)))
                yield [(index, self._to_generation([output[b, width:].tolist()], len(ids), stop))
                       for b, (index, ids) in enumerate(batch)]

    def _sample(self, ids: list[int], max_new: int, request: GenerateRequest) -> Generation:
        settings = request.settings
        torch.manual_seed(settings.seed if settings.seed is not None else 0)
        input_ids = torch.tensor([ids])
        output = self._run_generate(
            input_ids, torch.ones_like(input_ids), max_new, settings.stop, do_sample=True,
            num_return_sequences=settings.n, temperature=settings.temperature,
            # None leaves top_p / top_k to the model's generation config.
            **{k: v for k, v in (("top_p", settings.top_p), ("top_k", settings.top_k)) if v is not None},
        )
        return self._to_generation([row[len(ids):].tolist() for row in output], len(ids), settings.stop)

    def _run_generate(self, input_ids, mask, max_new, stop, **sampling):
        if max_new == 0:
            return input_ids.repeat(sampling.get("num_return_sequences", 1), 1)
        if not sampling.get("do_sample"):
            sampling.update(temperature=None, top_p=None, top_k=None)
        return self.model.generate(
            input_ids=input_ids.to(self.model.device),
            attention_mask=mask.to(self.model.device),
            max_new_tokens=max_new,
            stopping_criteria=self._stop_criteria(tuple(stop)),
            pad_token_id=self.pad_id,
            eos_token_id=sorted(self.eos_ids),
            **sampling,
        ).cpu()

    def _stop_criteria(self, stop: tuple[str, ...]):
        """Built once per stop list and backend: StopStringCriteria scans the whole vocabulary (~18 s for
        Gemma's 262k tokens and 8 stop strings), which `generate(stop_strings=...)` redoes per call."""
        from transformers import StoppingCriteriaList, StopStringCriteria

        if stop not in self._stop_lists:
            self._stop_lists[stop] = StoppingCriteriaList([StopStringCriteria(self.tokenizer, list(stop))] if stop else [])
        return self._stop_lists[stop]
