"""Hugging Face transformers backend (CPU or GPU): proxy models, CI and small-scale runs.

A call's requests are planned into work items (backends/hf_plan.py) and each item is computed on
its own, so a response depends only on its item: data-parallel replicas that compute the items a
driver planned answer byte for byte what this single process answers.

Log-likelihoods never compute the language-model head over a whole sequence: with a 262k
vocabulary that dominates the cost of a small model. Hidden states are gathered at the positions
that score a continuation and only those go through the head. Choices that share a context with
single-token continuations (MMLU letters) cost one forward pass; choices that share a context with
longer continuations reuse the context's KV cache.

With prefix sharing (the default; `--no-prefix-sharing` turns it off) the requests of a call are grouped by shared token prefix
(backends/prefix.py): each group's prefix (the few-shot block of a task, the dev questions of an
MMLU subject) goes through the model once, and only the members' own tokens run against a copy of
its KV cache.

Greedy decoding reads the output head through a bf16 screen (backends/hf_head.py): the same argmax,
exactly, at about 40 % of the head's cost per step (`--no-head-screening` turns it off).
"""

from __future__ import annotations

import copy
from typing import Iterator, Sequence

import torch
from transformers import StoppingCriteriaList

from swallow_eval.backends.base import load_tokenizer
from swallow_eval.backends.hf_attention import register_grouped_kv, use_variant
from swallow_eval.backends.hf_cache import dynamic_layers, in_place
from swallow_eval.backends.hf_head import FinishedRows, ScreenedHead, head_replaced, screenable
from swallow_eval.backends.hf_linear import onednn_available, use_onednn
from swallow_eval.backends.hf_packing import packable, packed_inputs
from swallow_eval.backends.hf_plan import (GenerateGreedy, GeneratePrefixed, HFPlanner, Prompt, Row, Sample,
                                           ScorePrefixed, ScoreRows, ScoreShared, Work)
from swallow_eval.errors import UserError
from swallow_eval.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest, Response

LOGIT_ROWS_PER_CHUNK = 64  # rows of vocabulary-sized log-softmax held at once
GREEDY = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}


class HFBackend(HFPlanner):
    pads_finished = True  # generate() continues finished sequences with padding

    def __init__(self, model, dtype: str | None = None, device: str | None = None, batch_size: int = 16,
                 max_batch_tokens: int = 8192, trust_remote_code: bool = False, chat_template: str | None = None,
                 prefix_sharing: bool = True, head_screening: bool = True):
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
        self.grouped_kv = register_grouped_kv(self.model)
        self.onednn = onednn_available(self.model)
        self._stop_lists: dict[tuple[str, ...], object] = {}
        self.head_screening = head_screening and screenable(self.model, GREEDY)
        self._screen: ScreenedHead | None = None  # built for an execute() call that decodes greedily
        self._set_plan(model, tokenizer, self.model.config, self.model.generation_config, chat_template,
                       batch_size, max_batch_tokens, prefix_sharing)
        self._use_kernels()
        self._steps = {ScoreRows: self._score_rows, ScoreShared: self._score_shared, ScorePrefixed: self._score_prefixed,
                       GenerateGreedy: self._generate_greedy, GeneratePrefixed: self._generate_prefixed,
                       Sample: self._sample}

    def identity(self) -> dict:
        return self._identity(dtype=self.dtype, device=torch.device(self.device).type)

    def stats(self) -> dict:
        return {**super().stats(), "head_screening": self.head_screening}

    def close(self) -> None:
        del self.model

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> Iterator[list[tuple[int, Loglikelihood]]]:
        return self.execute(self.plan("loglikelihood", requests))

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[list[tuple[int, Generation]]]:
        return self.execute(self.plan("generate", requests))

    @torch.inference_mode()
    def execute(self, works: Sequence[Work]) -> Iterator[list[tuple[int, Response]]]:
        """Batches of (request position, response) of planned work items, as each batch finishes."""
        self._use_kernels()
        try:
            for work in works:
                yield from self._steps[type(work)](work)
        finally:
            self._screen = None  # its bf16 copy of the head is not held between calls

    def _use_kernels(self) -> None:
        """The kernels of the path asked for: with prefix sharing, attention over visible keys and oneDNN's
        linear layers; without, the exact grouped-KV kernel and torch's own products."""
        if self.grouped_kv:
            use_variant(self.model, visible_keys=self.prefix_sharing)
        if self.onednn:
            use_onednn(self.model, on=self.prefix_sharing)

    # ---- log-likelihood --------------------------------------------------------------------

    def _score_rows(self, work: ScoreRows) -> Iterator[list[tuple[int, Loglikelihood]]]:
        width = len(work.rows[0].ids)
        ids = torch.full((len(work.rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(work.rows), width), dtype=torch.long)
        for b, row in enumerate(work.rows):
            ids[b, : len(row.ids)] = torch.tensor(row.ids)
            mask[b, : len(row.ids)] = 1
        hidden = self._hidden(ids.to(self.model.device), mask.to(self.model.device))
        picks = [
            (index, hidden[b, start : start + len(tokens)], tokens)
            for b, row in enumerate(work.rows)
            for index, start, tokens in row.targets
        ]
        yield self._sum_logprobs(picks)

    def _score_shared(self, work: ScoreShared) -> Iterator[list[tuple[int, Loglikelihood]]]:
        context, members = work.context, work.members
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
        yield self._sum_logprobs(picks)

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

    def _score_prefixed(self, work: ScorePrefixed) -> Iterator[list[tuple[int, Loglikelihood]]]:
        """Each batch's own tokens against a copy of the prefix's KV cache: packed into one sequence
        (backends/hf_packing.py) where the cache's layers allow, else right-padded (positions follow the cache)."""
        length = work.length
        prefix_hidden, cache = self._prefix_cache(work.batches[0][0].ids[:length])
        packed = packable(cache, self.model.config)
        for batch in work.batches:
            own = self._packed(cache, length, batch) if packed else self._padded(cache, length, batch)
            picks = []
            for row, after in zip(batch, own):
                hidden = torch.cat([prefix_hidden, after])
                picks += [(index, hidden[start : start + len(tokens)], tokens) for index, start, tokens in row.targets]
            yield self._sum_logprobs(picks)

    def _packed(self, cache, length: int, batch: list[Row]) -> list[torch.Tensor]:
        """The hidden states of each row's own tokens, the rows packed into one sequence."""
        device = self.model.device
        ids, positions, masks = packed_inputs(cache, self.model.config, length, [row.ids[length:] for row in batch])
        masks = {kind: mask.to(device) for kind, mask in masks.items()} if isinstance(masks, dict) else masks.to(device)
        after = self.model.base_model(
            input_ids=ids.to(device), position_ids=positions.to(device), attention_mask=masks,
            past_key_values=copy.deepcopy(cache), use_cache=True,
        ).last_hidden_state[0]
        return list(after.split([len(row.ids) - length for row in batch]))

    def _padded(self, cache, length: int, batch: list[Row]) -> list[torch.Tensor]:
        """The hidden states of each row's own tokens (and padding), the rows right-padded."""
        width = len(batch[0].ids) - length
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), length + width), dtype=torch.long)
        for b, row in enumerate(batch):
            ids[b, : len(row.ids) - length] = torch.tensor(row.ids[length:])
            mask[b, : len(row.ids)] = 1
        device = self.model.device
        return list(self.model.base_model(
            input_ids=ids.to(device), attention_mask=mask.to(device), past_key_values=self._expanded(cache, len(batch)),
            cache_position=torch.arange(length, length + width, device=device), use_cache=True,
        ).last_hidden_state)

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

    # ---- generation ------------------------------------------------------------------------

    def _generate_greedy(self, work: GenerateGreedy) -> Iterator[list[tuple[int, Generation]]]:
        width = max(len(ids) for _, ids in work.prompts)
        input_ids = torch.full((len(work.prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(work.prompts), width), dtype=torch.long)
        for b, (_, ids) in enumerate(work.prompts):  # left padding
            input_ids[b, width - len(ids) :] = torch.tensor(ids)
            mask[b, width - len(ids) :] = 1
        self._greedy_screen()
        cache = self._row_caches(work.prompts, width, work.max_new) if self.prefix_sharing and work.max_new > 0 else None
        output = self._run_generate(input_ids, mask, work.max_new, work.stop, do_sample=False,
                                    **({"past_key_values": cache} if cache is not None else {}))
        yield [
            (index, self._to_generation([output[b, width:].tolist()], len(ids), work.stop))
            for b, (index, ids) in enumerate(work.prompts)
        ]

    def _row_caches(self, prompts: Sequence[Prompt], width: int, room: int):
        """The KV cache of every prompt but its last token, as the left-padded batch of `width` holds it,
        computed a prompt at a time: no padding goes through the model, and the prefill holds one prompt's
        activations, not the batch's. Its layers decode in place (backends/hf_cache.py), with room for
        `room` positions. None where the cache cannot be laid out so (a one-token prompt, cache layers
        other than transformers' dynamic and sliding-window ones): generate() then prefills."""
        if min(len(ids) for _, ids in prompts) < 2:
            return None
        cache, layers = None, []
        for b, (_, ids) in enumerate(prompts):
            row = self.model.base_model(input_ids=torch.tensor([ids[:-1]], device=self.model.device),
                                        use_cache=True).past_key_values
            if cache is None:
                if not dynamic_layers(row):
                    return None
                cache = row
                for layer in row.layers:  # a window keeps its last window - 1 positions
                    kept = width - 1 if not layer.is_sliding else min(width - 1, layer.sliding_window - 1)
                    layers.append(in_place(layer, len(prompts), kept, room, cumulative_length=width - 1))
            for layer, batch in zip(row.layers, layers):
                length = layer.keys.shape[2]
                batch.keys[b, :, batch.keys.shape[2] - length :] = layer.keys[0]
                batch.values[b, :, batch.values.shape[2] - length :] = layer.values[0]
        cache.layers[:] = layers
        return cache

    def _generate_prefixed(self, work: GeneratePrefixed) -> Iterator[list[tuple[int, Generation]]]:
        """Batches of [prefix, padding, own tokens] continuing from copies of the prefix's KV cache;
        positions come from the attention mask (as with left padding)."""
        length = work.length
        _, cache = self._prefix_cache(work.batches[0][0][1][:length])
        for batch in work.batches:
            width = len(batch[0][1])
            input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            input_ids[:, :length] = torch.tensor(batch[0][1][:length])
            mask[:, :length] = 1
            for b, (_, ids) in enumerate(batch):
                input_ids[b, width - len(ids) + length :] = torch.tensor(ids[length:])
                mask[b, width - len(ids) + length :] = 1
            output = self._run_generate(input_ids, mask, work.max_new, work.stop, do_sample=False,
                                        past_key_values=self._expanded(cache, len(batch)))
            yield [(index, self._to_generation([output[b, width:].tolist()], len(ids), work.stop))
                   for b, (index, ids) in enumerate(batch)]

    def _sample(self, work: Sample) -> Iterator[list[tuple[int, Generation]]]:
        settings = work.settings
        torch.manual_seed(settings.seed if settings.seed is not None else 0)
        input_ids = torch.tensor([work.ids])
        output = self._run_generate(
            input_ids, torch.ones_like(input_ids), work.max_new, settings.stop, do_sample=True,
            num_return_sequences=settings.n, temperature=settings.temperature,
            # None leaves top_p / top_k to the model's generation config.
            **{k: v for k, v in (("top_p", settings.top_p), ("top_k", settings.top_k)) if v is not None},
        )
        yield [(work.index, self._to_generation([row[len(work.ids):].tolist() for row in output], len(work.ids),
                                                settings.stop))]

    def _run_generate(self, input_ids, mask, max_new, stop, **sampling):
        if max_new == 0:
            return input_ids.repeat(sampling.get("num_return_sequences", 1), 1)
        # One new token ends generation whatever it is: no stop string to scan the vocabulary for.
        screen, criteria = None, self._stop_criteria(tuple(stop) if max_new > 1 else ())
        if not sampling.get("do_sample"):
            sampling.update(GREEDY)
            screen = self._greedy_screen()
        if screen is not None:  # the screen learns which rows generate() has finished
            screen.finished = FinishedRows(criteria, self.eos_ids)
            criteria = StoppingCriteriaList([screen.finished])
        with head_replaced(self.model, screen):
            return self.model.generate(
                input_ids=input_ids.to(self.model.device),
                attention_mask=mask.to(self.model.device),
                max_new_tokens=max_new,
                stopping_criteria=criteria,
                pad_token_id=self.pad_id,
                eos_token_id=sorted(self.eos_ids),
                **sampling,
            ).cpu()

    def _greedy_screen(self) -> ScreenedHead | None:
        """The execute() call's screen, built at its first greedy work item, before that item's prefill:
        building it releases the fp32 head's mapped pages (backends/hf_head.py)."""
        if self.head_screening and self._screen is None:
            self._screen = ScreenedHead(self.model.get_output_embeddings())
        return self._screen

    def _stop_criteria(self, stop: tuple[str, ...]):
        """Built once per stop list and backend: StopStringCriteria scans the whole vocabulary (~18 s for
        Gemma's 262k tokens and 8 stop strings), which `generate(stop_strings=...)` redoes per call."""
        from transformers import StopStringCriteria

        if stop not in self._stop_lists:
            self._stop_lists[stop] = StoppingCriteriaList([StopStringCriteria(self.tokenizer, list(stop))] if stop else [])
        return self._stop_lists[stop]
