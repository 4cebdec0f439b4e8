"""The two request types every backend serves, and their cache keys.

A request is fully resolved: the exact string, whether a BOS token is prepended, and every
generation setting. Two tasks asking the same thing produce equal requests, so the pipeline
sends it once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class GenerationSettings:
    """How to generate: a task's settings (or an item's override), carried unchanged by each of its
    requests into the backend and the cache key."""

    max_new_tokens: int
    stop: tuple[str, ...] = ()
    n: int = 1
    temperature: float = 0.0
    # None: the model's own generation config decides (FastChat passes only the temperature).
    top_p: float | None = 1.0
    top_k: int | None = 0  # 0 disables top-k
    seed: int | None = None
    # Cap on prompt + generated tokens (bigcode's max_length); None = no cap.
    max_total_tokens: int | None = None
    # Keep only the last N prompt tokens (the JP harness's left truncation); None = no cap.
    max_prompt_tokens: int | None = None


@dataclass(frozen=True)
class GenerateRequest:
    """Raw-text `prompt`, or a chat conversation in `messages` ((role, content) pairs) that the
    backend renders with the model's chat template (or sends to a chat endpoint)."""

    prompt: str
    settings: GenerationSettings
    messages: tuple[tuple[str, str], ...] = ()
    add_bos: bool = False

    kind = "generate"

    @property
    def greedy(self) -> bool:
        return self.settings.temperature == 0.0 and self.settings.n == 1

    def key(self) -> str:
        # The settings' fields sit beside the request's own, as when they were one flat record:
        # keys of existing response caches stay valid.
        fields = {"prompt": self.prompt, "messages": self.messages, "add_bos": self.add_bos}
        return _digest({"kind": self.kind, **fields, **asdict(self.settings)})


@dataclass(frozen=True)
class LoglikelihoodRequest:
    context: str
    continuation: str
    add_bos: bool = False

    kind = "loglikelihood"

    def key(self) -> str:
        return _digest({"kind": self.kind, **asdict(self)})


Request = GenerateRequest | LoglikelihoodRequest


@dataclass(frozen=True)
class Generation:
    """Response to a GenerateRequest: n texts, cut at the earliest stop string."""

    texts: tuple[str, ...]
    prompt_tokens: int
    generated_tokens: int


@dataclass(frozen=True)
class Loglikelihood:
    """Response to a LoglikelihoodRequest: sum of log p(continuation | context)."""

    logprob: float
    is_greedy: bool
    tokens: int


Response = Generation | Loglikelihood


def response_to_json(response: Response) -> dict:
    return {"type": type(response).__name__, **asdict(response)}


def response_from_json(data: dict) -> Response:
    data = dict(data)
    kind = data.pop("type")
    if kind == "Generation":
        data["texts"] = tuple(data["texts"])
        return Generation(**data)
    if kind == "Loglikelihood":
        return Loglikelihood(**data)
    raise ValueError(f"unknown response type {kind!r}")


def cut_at_stop(text: str, stops) -> str:
    """Text before the earliest occurrence of any stop string (all reference frameworks agree)."""
    end = len(text)
    for stop in stops:
        if stop:
            pos = text.find(stop)
            if pos != -1:
                end = min(end, pos)
    return text[:end]


def _digest(payload: dict) -> str:
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
