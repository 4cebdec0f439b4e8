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


def render_chat(tokenizer, messages, chat_template: str | None, model_spec: str) -> str:
    """A conversation as the model's chat template renders it, ready for the assistant's turn."""
    template = chat_template or getattr(tokenizer, "chat_template", None)
    if not template:
        raise UserError(f"--model {model_spec} has no chat template; pass --chat-template FILE")
    return tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in messages], chat_template=template,
                                         tokenize=False, add_generation_prompt=True)
