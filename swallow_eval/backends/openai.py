"""OpenAI-compatible server backend (vllm serve, SGLang, llama.cpp servers, hosted APIs).

Two prompt formats. `tokens` (default): prompts are tokenized here with the evaluated model's
tokenizer (`--model`) by the hf backend's rules and sent to /v1/completions as token ids, so the
BOS policy and the context/continuation boundary are exact (vllm serve, SGLang and llama.cpp's C++
server accept token ids). `text`: the prompt string is sent and the server tokenizes it with its
own BOS default (llama-cpp-python's server takes only text); the continuation is the tokens the
echo places at or after the end of the context (`text_offset`; lm-eval's rule moves the context's
trailing whitespace into the continuation first).

Chat requests (a conversation in `messages`) go to /v1/chat/completions: the server renders its
model's chat template. Log-likelihoods come from `echo` + `logprobs` (the log-probabilities of the
prompt's own tokens); a server that does not return them gets a clear error. n samples are n
requests with seeds seed, seed+1, ... (servers differ in whether they honour `n`). top_p / top_k of
None are left out: the server's defaults for the model apply. A served model without a local
checkpoint (the MT-Bench judge) answers chat requests only, with FastChat's bare payload.
"""

from __future__ import annotations

import os
import sys
from typing import Iterator, Sequence

from swallow_eval.backends.base import (ModelInfo, TokenizingBackend, generation_config, load_tokenizer,
                                        truncate_prompt)
from swallow_eval.errors import UserError
from swallow_eval.openai_client import OpenAIClient
from swallow_eval.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest, cut_at_stop

GREEDY_TOLERANCE = 1e-5  # a continuation token is greedy when its log-prob equals the top one
# Sent with every generation: servers have their own sampling defaults that would change the
# outputs (llama.cpp: repeat_penalty 1.1, min_p 0.05, top_k 40). Names of vLLM/SGLang and llama.cpp;
# a server ignores the ones it does not know.
NEUTRAL_SAMPLING = {"presence_penalty": 0.0, "frequency_penalty": 0.0, "repetition_penalty": 1.0,
                    "repeat_penalty": 1.0, "min_p": 0.0}


class OpenAIBackend(TokenizingBackend):
    name = "openai"

    def __init__(self, model, base_url: str | None = None, model_name: str | None = None, concurrency: int = 8,
                 request_timeout: float = 600.0, max_retries: int = 8, api_key_env: str | None = "OPENAI_API_KEY",
                 prompt_format: str = "tokens", trust_remote_code: bool = False):
        served = model.identity.startswith("served:")  # a judge named on a server: no local tokenizer
        base_url = base_url or (os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1") if served else None)
        if not base_url:
            raise UserError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        if prompt_format not in ("tokens", "text"):
            raise UserError(f"--prompt-format {prompt_format}: choose tokens or text")
        self.prompt_format = prompt_format
        self.client = OpenAIClient(base_url, api_key_env, concurrency, request_timeout, max_retries,
                                   log=lambda message: print(message, file=sys.stderr, flush=True))
        self.dtype = None  # the server's business; recorded as None in results
        self.served = served
        if served:  # chat requests only: the server renders and tokenizes
            self.tokenizer, self.bos_id, self.eos_id = None, None, None
            self.model_name = model_name or model.path
            self.info = ModelInfo(path=model.path, model_type="served", tokenizer_adds_bos=False, tokenizer=None)
            return
        tokenizer, config = load_tokenizer(model, trust_remote_code)
        self._set_tokenizer(model, tokenizer, config, generation_config(model.path, config))
        self.model_name = model_name or self._served_model()

    def _served_model(self) -> str:
        """The one model the server lists, when --model-name is not given."""
        names = [entry.get("id") for entry in self.client.get("models").get("data", [])]
        if len(names) != 1:
            raise UserError(f"{self.client.base_url} serves {len(names)} models ({', '.join(map(str, names))}); "
                            "choose one with --model-name")
        return names[0]

    def identity(self) -> dict:
        # The server's URL is part of it: two servers may serve different weights under one name.
        return {"backend": self.name, "base_url": self.client.base_url, "model_name": self.model_name,
                "prompt_format": self.prompt_format}

    def close(self) -> None:
        pass  # the worker threads end with each batch; connections close with them

    def _encode(self, text: str) -> list[int]:
        if self.tokenizer is None:
            raise UserError(f"--backend openai with the served model {self.model_name!r} answers chat requests "
                            "only; raw prompts and log-likelihoods need --model naming its checkpoint (tokenizer)")
        return super()._encode(text)

    # ---- log-likelihood --------------------------------------------------------------------

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> Iterator[list[tuple[int, Loglikelihood]]]:
        if self.prompt_format == "tokens":
            pairs = [self._loglikelihood_ids(request) for request in requests]
            prompts = [list(context + continuation) for context, continuation in pairs]
        else:
            prompts = [request.context + request.continuation for request in requests]
        payloads = [{"model": self.model_name, "prompt": prompt, "max_tokens": 1, "temperature": 0.0,
                     "echo": True, "logprobs": 1} for prompt in prompts]
        for batch in self.client.post_many("completions", payloads):
            out = []
            for index, response in batch:
                if self.prompt_format == "tokens":
                    context, continuation = pairs[index]
                    span = range(len(context), len(context) + len(continuation))
                else:
                    span = self._continuation_span(response, requests[index])
                out.append((index, self._prompt_loglikelihood(response, span)))
            yield out

    def _echo(self, response: dict) -> dict:
        try:
            logprobs = response["choices"][0]["logprobs"]
            if logprobs and logprobs.get("token_logprobs"):
                return logprobs
        except (KeyError, IndexError, TypeError):
            pass
        raise UserError(
            f"{self.client.base_url}: the server returned no log-probabilities for the prompt's tokens "
            "(/v1/completions with echo and logprobs); log-likelihood tasks need a server that does "
            "(vllm serve; llama.cpp servers started with --logits_all true)"
        )

    def _continuation_span(self, response: dict, request: LoglikelihoodRequest) -> range:
        """Text prompts: the echoed tokens from the end of the (whitespace-stripped) context to the
        end of the prompt; the generated token after it is left out."""
        offsets = self._echo(response).get("text_offset") or []
        start, end = len(request.context.rstrip()), len(request.context) + len(request.continuation)
        inside = [k for k, offset in enumerate(offsets) if start <= offset < end]
        return range(inside[0], inside[-1] + 1) if inside else range(0)

    def _prompt_loglikelihood(self, response: dict, span: range) -> Loglikelihood:
        logprobs = self._echo(response)
        values = logprobs["token_logprobs"][span.start : span.stop]
        tops = (logprobs.get("top_logprobs") or [])[span.start : span.stop]
        if not span or len(values) != len(span) or any(v is None for v in values) or len(tops) != len(span):
            raise UserError(f"{self.client.base_url}: the echoed log-probabilities do not cover the "
                            f"continuation (tokens {span.start}-{span.stop - 1})")
        greedy = all(top and v >= max(top.values()) - GREEDY_TOLERANCE for v, top in zip(values, tops))
        return Loglikelihood(sum(values), greedy, len(values))

    # ---- generation ------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[list[tuple[int, Generation]]]:
        payloads, owners, empty, prompt_tokens = [], [], [], {}
        for index, request in enumerate(requests):
            body, prompt_tokens[index], max_new = self._prompt(request)
            settings = request.settings
            if max_new == 0:  # max_tokens 0 means "no limit" to some servers (llama.cpp)
                empty.append((index, Generation(("",) * settings.n, prompt_tokens[index] or 0, 0)))
                continue
            if self.served:  # FastChat's judge payload: nothing a hosted API would reject as unknown
                sampling = {"n": 1, "temperature": settings.temperature, "max_tokens": max_new}
            else:
                sampling = {**NEUTRAL_SAMPLING, "max_tokens": max_new, "temperature": settings.temperature}
            sampling.update({k: v for k, v in (("top_p", settings.top_p), ("top_k", settings.top_k)) if v is not None})
            if settings.stop:
                sampling["stop"] = list(settings.stop)
            for sample in range(settings.n):
                seeded = settings.seed is not None or not self.served
                seed = {"seed": (settings.seed or 0) + sample} if seeded else {}
                payloads.append({"model": self.model_name, **body, **sampling, **seed})
                owners.append((index, sample))
        if empty:
            yield empty
        samples: dict[int, dict[int, tuple[str, int]]] = {}
        for batch in self._post(payloads):
            finished = []
            for k, response in batch:
                index, sample = owners[k]
                settings = requests[index].settings
                try:
                    choice = response["choices"][0]
                    text = choice["message"]["content"] if "message" in choice else choice["text"]
                    tokens = response.get("usage", {}).get("completion_tokens", 0)
                except (KeyError, IndexError, TypeError) as exc:
                    raise UserError(f"{self.client.base_url}: unexpected completion response ({exc!r})") from exc
                if prompt_tokens[index] is None:
                    prompt_tokens[index] = response.get("usage", {}).get("prompt_tokens", 0)
                samples.setdefault(index, {})[sample] = (cut_at_stop(text, settings.stop), tokens)
                if len(samples[index]) == settings.n:  # texts in seed order, whatever order they came in
                    texts, counts = zip(*(samples[index][s] for s in range(settings.n)))
                    del samples[index]
                    finished.append((index, Generation(tuple(texts), prompt_tokens[index], sum(counts))))
            if finished:
                yield finished

    def _prompt(self, request: GenerateRequest) -> tuple[dict, int | None, int]:
        """The prompt part of a payload, its length in tokens (by the local tokenizer), and the
        number of tokens to generate within the request's cap."""
        if request.messages:  # rendered and counted by the server (its usage.prompt_tokens)
            messages = [{"role": role, "content": content} for role, content in request.messages]
            return {"messages": messages}, None, request.settings.max_new_tokens
        ids = self._encode_prompt(request)
        kept, max_new = truncate_prompt(ids, request.settings, None)
        if self.prompt_format == "tokens":
            return {"prompt": kept}, len(kept), max_new
        # A cut prompt goes back to text without special tokens: the server adds its own BOS.
        text = request.prompt if kept == ids else self.tokenizer.decode(kept, skip_special_tokens=True)
        return {"prompt": text}, len(kept), max_new

    def _post(self, payloads: list[dict]) -> Iterator[list[tuple[int, dict]]]:
        """Completions and chat completions, each to its endpoint, in one stream of results."""
        chat = [k for k, p in enumerate(payloads) if "messages" in p]
        plain = [k for k, p in enumerate(payloads) if "messages" not in p]
        for path, members in (("completions", plain), ("chat/completions", chat)):
            if members:
                for batch in self.client.post_many(path, [payloads[k] for k in members]):
                    yield [(members[k], response) for k, response in batch]
