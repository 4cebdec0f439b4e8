"""The interface every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence

from swallow_eval.errors import UserError
from swallow_eval.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest


@dataclass(frozen=True)
class ModelInfo:
    """What tasks and the BOS policy need to know about the loaded model."""

    path: str
    model_type: str
    tokenizer_adds_bos: bool
    tokenizer: Any  # a Hugging Face tokenizer (XL-Sum truncation, ROUGE tokenization)


class Backend(Protocol):
    name: str
    info: ModelInfo

    def identity(self) -> dict:
        """Settings that change responses (dtype, engine): part of the response-cache key."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> Iterator[list[tuple[int, Loglikelihood]]]:
        """Yield batches of (position in `requests`, response) as they finish."""

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[list[tuple[int, Generation]]]:
        """Yield batches of (position in `requests`, response) as they finish."""

    def close(self) -> None: ...


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


def loglikelihood_ids(encode, request: LoglikelihoodRequest, bos_id: int | None,
                      eos_id: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Context and continuation token ids of a request, the same for every local backend.

    BOS is prepended to the context when the request asks for it; an empty context becomes EOS
    (lm-eval's rule: the first continuation token needs something to be predicted from).
    """
    context, continuation = encode_pair(encode, request.context, request.continuation)
    if request.add_bos and bos_id is not None:
        context = [bos_id] + context
    return tuple(context or [eos_id]), tuple(continuation)


def truncate_prompt(ids: list[int], request: GenerateRequest, max_length: int | None) -> tuple[list[int], int]:
    """Prompt ids and the number of tokens to generate within the request's and the model's limits.

    bigcode's max_length caps prompt + generation (prompt cut from the left, generation shortened);
    the model's context length keeps the last tokens of the prompt that leave room for generation;
    the JP harness keeps the last max_prompt_tokens.
    """
    if request.max_prompt_tokens is not None:
        ids = ids[-request.max_prompt_tokens :]
    max_new = request.max_new_tokens
    if request.max_total_tokens is not None:
        ids = ids[-request.max_total_tokens :]
        max_new = max(0, min(max_new, request.max_total_tokens - len(ids)))
    if max_length is not None and len(ids) + max_new > max_length:
        ids = ids[-(max_length - max_new) :]
    return ids, max_new


def tokenizer_adds_bos(tokenizer) -> bool:
    """Whether the tokenizer's default encoding starts with BOS (input to the per-task BOS policy)."""
    return tokenizer.bos_token_id is not None and tokenizer("a").input_ids[:1] == [tokenizer.bos_token_id]


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


def render_chat(tokenizer, messages, chat_template: str | None, model_spec: str) -> str:
    """A conversation as the model's chat template renders it, ready for the assistant's turn."""
    template = chat_template or getattr(tokenizer, "chat_template", None)
    if not template:
        raise UserError(f"--model {model_spec} has no chat template; pass --chat-template FILE")
    return tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in messages], chat_template=template,
                                         tokenize=False, add_generation_prompt=True)
