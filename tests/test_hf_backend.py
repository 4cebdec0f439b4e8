"""The transformers backend on the real proxy model: its shortcuts give the plain computation's numbers."""

import pytest
import torch

from swallow_eval.backends.base import encode_pair
from swallow_eval.backends.hf import HFBackend
from swallow_eval.requests import GenerateRequest, GenerationSettings, LoglikelihoodRequest

pytestmark = pytest.mark.model

CONTEXT = "The following are multiple choice questions (with answers) about anatomy.\nWhat is the largest organ?\nA. skin\nB. liver\nC. heart\nD. brain\nAnswer:"
STORY = "Mary went to the market to buy some apples. On the way back she met"


def naive_loglikelihood(backend: HFBackend, request: LoglikelihoodRequest) -> float:
    """Full-sequence logits and log-softmax at every position, as lm-evaluation-harness computes it."""
    context, continuation = encode_pair(backend._encode, request.context, request.continuation)
    if request.add_bos:
        context = [backend.bos_id] + context
    ids = torch.tensor([context + continuation[:-1]])
    with torch.inference_mode():
        logprobs = backend.model(input_ids=ids).logits[0].float().log_softmax(-1)
    return sum(logprobs[len(context) - 1 + j, t].item() for j, t in enumerate(continuation))


def collect(batches):
    return dict(pair for batch in batches for pair in batch)


def test_loglikelihood_paths_match_full_computation(hf_backend):
    requests = [
        # shared context, single-token continuations: one forward pass
        *(LoglikelihoodRequest(CONTEXT, f" {letter}", add_bos=True) for letter in "ABCD"),
        # shared context, multi-token continuations: KV-cache reuse
        LoglikelihoodRequest(STORY, " her old friend John.", add_bos=True),
        LoglikelihoodRequest(STORY, " a dog", add_bos=True),
        LoglikelihoodRequest(STORY, " nobody at all, which made her sad.", add_bos=True),
        # lone multi-token continuations, trailing space moved into the continuation, no BOS
        LoglikelihoodRequest("The capital of France is ", "Paris.", add_bos=False),
        LoglikelihoodRequest("1 + 1 =", " 2", add_bos=False),
    ]
    got = collect(hf_backend.loglikelihood(requests))
    assert sorted(got) == list(range(len(requests)))
    for index, request in enumerate(requests):
        assert got[index].logprob == pytest.approx(naive_loglikelihood(hf_backend, request), abs=1e-4), request


def test_shared_context_longer_than_sliding_window(hf_backend):
    """Gemma 3 layers attend over 512 tokens; the KV-cache path must respect the window too."""
    long_context = " ".join(f"word{i}" for i in range(400)) + " and finally"
    requests = [LoglikelihoodRequest(long_context, c, add_bos=True) for c in (" the end.", " more words here", " x")]
    assert len(hf_backend._encode(long_context)) > 512
    got = collect(hf_backend.loglikelihood(requests))
    for index, request in enumerate(requests):
        assert got[index].logprob == pytest.approx(naive_loglikelihood(hf_backend, request), abs=1e-4)


def test_is_greedy_flag(hf_backend):
    context = "One, two, three, four,"
    probe = collect(hf_backend.generate([GenerateRequest(context, GenerationSettings(2), add_bos=True)]))[0].texts[0]
    first_word = probe.split(",")[0]
    got = collect(hf_backend.loglikelihood([
        LoglikelihoodRequest(context, first_word, add_bos=True),
        LoglikelihoodRequest(context, " banana", add_bos=True),
    ]))
    assert got[0].is_greedy and not got[1].is_greedy


def test_greedy_generation_is_batch_invariant_and_stops(hf_backend, proxy_model):
    prompts = [STORY, "Question: What is 2 + 3?\nAnswer:", "def add(a, b):\n", "日本の首都は"]
    requests = [GenerateRequest(p, GenerationSettings(24, stop=("\n",)), add_bos=True) for p in prompts]
    batched = collect(hf_backend.generate(requests))
    single = HFBackend(proxy_model, batch_size=1)
    one_by_one = collect(single.generate(requests))
    for i in range(len(prompts)):
        assert batched[i].texts == one_by_one[i].texts
        assert "\n" not in batched[i].texts[0]
        assert 0 < batched[i].generated_tokens <= 24


def test_sampling_is_seeded_and_respects_total_length(hf_backend):
    request = GenerateRequest("def fib(n):\n", GenerationSettings(1024, n=3, temperature=0.8, top_p=0.95, seed=0,
                                                                  max_total_tokens=12), add_bos=True)
    first = collect(hf_backend.generate([request]))[0]
    again = collect(hf_backend.generate([request]))[0]
    assert first == again
    assert len(first.texts) == 3
    assert first.generated_tokens <= 3 * (12 - first.prompt_tokens)
