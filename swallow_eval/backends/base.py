"""The interface every backend implements, and what the backends that tokenize locally share."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence

from swallow_eval.errors import UserError
from swallow_eval.requests import (GenerateRequest, Generation, GenerationSettings, Loglikelihood, LoglikelihoodRequest,
                                   cut_at_stop)

ENCODE_CACHE_SIZE = 200_000  # distinct texts per backend (contexts, continuations, prompts)


@dataclass(frozen=True)
class ModelInfo:
    """What tasks and the BOS policy need to know about the loaded model."""

    path: str
    model_type: str
    tokenizer_adds_bos: bool
    tokenizer: Any  # a Hugging Face tokenizer (XL-Sum truncation, ROUGE tokenization)


class Backend(Protocol):
    """A model that serves requests; one instance serves a whole run (every task, then close()).

    Optionally a backend has `stats() -> dict`: what happened while serving (replicas,
    reassignments, busy times, prompt tokens computed), which the runner writes to results.json
    under "serving" when it is not empty. It never takes part in cache keys.
    """

    name: str
    info: ModelInfo

    def identity(self) -> dict:
        """Settings that change responses (dtype, engine, chat template): the backend's part of the
        response-cache key, and nothing else (no paths, counters or timings)."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> Iterator[list[tuple[int, Loglikelihood]]]:
        """Yield batches of (position in `requests`, response) as they finish."""

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[list[tuple[int, Generation]]]:
        """Yield batches of (position in `requests`, response) as they finish."""

    def close(self) -> None:
        """Release the model (engines, worker processes); the backend serves nothing afterwards."""


def encode_pair(encode, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-eval 0.4.2 `_encode_pair` with the Swallow fork's fix (en-tasks.md §1.1).

    Trailing whitespace of the context moves to the continuation; the continuation's tokens are
    those of the joint encoding after the context's tokens, or its own encoding when the joint
    encoding is no longer than the context's.
    """
    spaces = len(context) - len(context.rstrip())
    if spaces:
        continuation = context[-spaces:] + continuation
        context = context[:-spaces]
    whole = encode(context + continuation)
    context_ids = encode(context)
    continuation_ids = whole[len(context_ids):]
    if len(whole) == len(context_ids):
        continuation_ids = encode(continuation)
    return context_ids, continuation_ids


def truncate_prompt(ids: list[int], settings: GenerationSettings, max_length: int | None) -> tuple[list[int], int]:
    """Prompt ids and the number of tokens to generate within the settings' and the model's limits.

    bigcode's max_length caps prompt + generation (prompt cut from the left, generation shortened);
    the model's context length keeps the last tokens of the prompt that leave room for generation;
    the JP harness keeps the last max_prompt_tokens.
    """
    if settings.max_prompt_tokens is not None:
        ids = ids[-settings.max_prompt_tokens :]
    max_new = settings.max_new_tokens
    if settings.max_total_tokens is not None:
        ids = ids[-settings.max_total_tokens :]
        max_new = max(0, min(max_new, settings.max_total_tokens - len(ids)))
    if max_length is not None and len(ids) + max_new > max_length:
        ids = ids[-(max_length - max_new) :]
    return ids, max_new


def tokenizer_adds_bos(tokenizer) -> bool:
    """Whether the tokenizer's default encoding starts with BOS (input to the per-task BOS policy)."""
    return tokenizer.bos_token_id is not None and tokenizer("a").input_ids[:1] == [tokenizer.bos_token_id]


def load_tokenizer(model, trust_remote_code: bool = False):
    """The checkpoint's tokenizer and config, without its weights."""
    from transformers import AutoConfig, AutoTokenizer

    try:
        return (AutoTokenizer.from_pretrained(model.path, trust_remote_code=trust_remote_code),
                AutoConfig.from_pretrained(model.path, trust_remote_code=trust_remote_code))
    except (OSError, ValueError) as exc:
        raise UserError(f"--model {model.spec}: cannot load its tokenizer ({str(exc).splitlines()[0]})") from exc


def model_info(path: str, tokenizer, config) -> ModelInfo:
    """ModelInfo from the tokenizer and config alone: a driver that only tokenizes and applies the
    BOS policy (data-parallel replicas hold the weights) needs no model."""
    return ModelInfo(path=path, model_type=config.model_type, tokenizer_adds_bos=tokenizer_adds_bos(tokenizer),
                     tokenizer=tokenizer)


def generation_config(path: str, config):
    """The checkpoint's generation_config.json, else the one transformers derives from its config."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(path)
    except OSError:
        return GenerationConfig.from_model_config(config)


def eos_token_ids(generation, tokenizer) -> set[int]:
    """The ids that end a generation: the generation config's, else the tokenizer's EOS (as hf's generate)."""
    eos = generation.eos_token_id if generation.eos_token_id is not None else tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [eos])


def _token_ids(tokenizer, text: str) -> tuple[int, ...]:
    return tuple(tokenizer(text, add_special_tokens=False).input_ids)


class TokenizingBackend:
    """What the backends that tokenize requests here share (hf, vllm, openai with a checkpoint), so
    that all of them score and prompt with the same token ids; they differ only in how they run the
    model. A subclass calls `_set_tokenizer` once while it is constructed."""

    name: str
    pads_finished = False  # whether the engine continues finished sequences with padding (after EOS)

    def _set_tokenizer(self, model, tokenizer, config, generation, chat_template: str | None = None) -> None:
        """`generation`: the generation config whose EOS ids end a generation (as hf's generate)."""
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.spec = model.spec
        self.eos_ids = eos_token_ids(generation, tokenizer)
        self.eos_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else min(self.eos_ids)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        self.bos_id = tokenizer.bos_token_id
        self.info = model_info(model.path, tokenizer, config)
        # Per instance, over the tokenizer alone: a cache on the method would be shared by every
        # instance and keep each of them (and its model) alive.
        self._encoded = functools.lru_cache(maxsize=ENCODE_CACHE_SIZE)(functools.partial(_token_ids, tokenizer))

    def _identity(self, **settings) -> dict:
        """The backend's cache-key part: its name, the settings that change responses, and the chat
        template when one replaces the model's."""
        identity = {"backend": self.name, **settings}
        if self.chat_template is not None:
            identity["chat_template"] = self.chat_template
        return identity

    def _encode(self, text: str) -> list[int]:
        """Token ids of `text` without special tokens (many requests share a context: cached)."""
        return list(self._encoded(text))

    def _loglikelihood_ids(self, request: LoglikelihoodRequest) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Context and continuation token ids of a request.

        BOS is prepended to the context when the request asks for it; an empty context becomes EOS
        (lm-eval's rule: the first continuation token needs something to be predicted from).
        """
        context, continuation = encode_pair(self._encode, request.context, request.continuation)
        if request.add_bos and self.bos_id is not None:
            context = [self.bos_id] + context
        return tuple(context or [self.eos_id]), tuple(continuation)

    def _encode_prompt(self, request: GenerateRequest) -> list[int]:
        """The whole prompt's ids: the conversation rendered by the chat template, or the raw prompt;
        BOS prepended when the request asks for it."""
        ids = self._encode(self._render_chat(request.messages) if request.messages else request.prompt)
        if request.add_bos and self.bos_id is not None:
            ids = [self.bos_id] + ids
        return ids

    def _prompt_ids(self, request: GenerateRequest, max_length: int | None) -> tuple[list[int], int]:
        """Prompt ids and the number of tokens to generate, within the request's and the model's
        context length `max_length` (see truncate_prompt)."""
        return truncate_prompt(self._encode_prompt(request), request.settings, max_length)

    def _render_chat(self, messages) -> str:
        """A conversation as the model's chat template renders it, ready for the assistant's turn."""
        template = self.chat_template or getattr(self.tokenizer, "chat_template", None)
        if not template:
            raise UserError(f"--model {self.spec} has no chat template; pass --chat-template FILE")
        return self.tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in messages],
                                                  chat_template=template, tokenize=False, add_generation_prompt=True)

    def _to_generation(self, sequences: list[list[int]], prompt_tokens: int, stop) -> Generation:
        """Generated token sequences decoded up to the first EOS (or padding), special tokens
        skipped, cut at the stop strings."""
        ends = self.eos_ids | {self.pad_id} if self.pads_finished else self.eos_ids
        texts, generated = [], 0
        for tokens in sequences:
            end = next((k for k, t in enumerate(tokens) if t in ends), len(tokens))
            generated += end
            texts.append(cut_at_stop(self.tokenizer.decode(tokens[:end], skip_special_tokens=True), stop))
        return Generation(tuple(texts), prompt_tokens, generated)
