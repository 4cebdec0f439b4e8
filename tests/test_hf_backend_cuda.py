"""The hf backend on a CUDA GPU (skipped where there is none: CI has none; run on a GPU machine with
`pytest tests/test_hf_backend_cuda.py`). No weights need to travel: a small random-initialised model of
SmolLM2's architecture, with SmolLM2's real tokenizer, is built on the spot. A wide initialisation
makes its next-token distributions peaked, so that float noise between devices cannot flip a
decision. Checked: the GPU path (accelerate placement, padded batches, the shared-context fast
path, stop strings) gives the CPU's fp32 results, and bf16 ("auto" on GPU) runs."""

import os

import pytest
import torch

from conftest import best_choice

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

PROMPTS = ["The capital of France is", "One, two, three,", "Question: What is 2 + 3?\nAnswer:", "def add(a, b):\n"]
CHOICES = [" Paris", " a banana", " blue", " four five six", "\n"]


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from swallow_eval.models import ModelRef

    # SWALLOW_EVAL_TOKENIZER_DIR: a folder with SmolLM2's config.json and tokenizer files, where the
    # proxy is not converted (a GPU machine without the proxy package).
    source = os.environ.get("SWALLOW_EVAL_TOKENIZER_DIR")
    if source is None:
        from swallow_eval import models

        source = models.resolve("proxy:smollm2-135m-instruct").path
    config = AutoConfig.from_pretrained(source)
    config.num_hidden_layers, config.initializer_range = 4, 0.3
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    folder = tmp_path_factory.mktemp("random-smollm2")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return ModelRef("random-smollm2", "random-smollm2", str(folder), "random-smollm2:seed0")


def collect(batches) -> dict:
    return dict(pair for batch in batches for pair in batch)


def test_gpu_fp32_gives_the_cpu_results(random_model):
    from swallow_eval.backends.hf import HFBackend
    from swallow_eval.requests import GenerateRequest, GenerationSettings, LoglikelihoodRequest

    gpu = HFBackend(random_model, device="cuda", dtype="float32", batch_size=3)
    cpu = HFBackend(random_model, device="cpu", dtype="float32", batch_size=3)
    assert gpu.identity()["device"] == "cuda" and next(gpu.model.parameters()).device.type == "cuda"

    scored = [LoglikelihoodRequest(p, c, add_bos=True) for p in PROMPTS for c in CHOICES]
    on_gpu, on_cpu = collect(gpu.loglikelihood(scored)), collect(cpu.loglikelihood(scored))
    for i in range(len(scored)):
        assert on_gpu[i].tokens == on_cpu[i].tokens
        assert on_gpu[i].logprob == pytest.approx(on_cpu[i].logprob, rel=1e-4, abs=1e-3)
        assert on_gpu[i].is_greedy == on_cpu[i].is_greedy
    for start in range(0, len(scored), len(CHOICES)):
        assert best_choice(on_gpu, start, len(CHOICES)) == best_choice(on_cpu, start, len(CHOICES))

    generated = [GenerateRequest(p, GenerationSettings(12, stop=("\n\n",)), add_bos=True) for p in PROMPTS]

    def texts(backend):
        return {i: g.texts for i, g in collect(backend.generate(generated)).items()}

    assert texts(gpu) == texts(cpu)
    gpu.close()
    cpu.close()


def test_gpu_default_dtype_runs(random_model):
    from swallow_eval.backends.hf import HFBackend
    from swallow_eval.requests import GenerateRequest, GenerationSettings, LoglikelihoodRequest

    backend = HFBackend(random_model, batch_size=4)  # cuda, dtype "auto": the checkpoint's (fp32 here)
    assert backend.identity()["device"] == "cuda" and backend.dtype == "auto"
    bf16 = HFBackend(random_model, dtype="bfloat16", batch_size=4)
    scored = collect(bf16.loglikelihood([LoglikelihoodRequest(p, " Paris", add_bos=True) for p in PROMPTS]))
    assert all(torch.isfinite(torch.tensor(s.logprob)) and s.logprob < 0 for s in scored.values())
    settings = GenerationSettings(5, n=2, temperature=0.7, seed=1)
    outputs = collect(bf16.generate([GenerateRequest(p, settings, add_bos=True) for p in PROMPTS]))
    assert all(len(g.texts) == 2 for g in outputs.values())
    backend.close()
    bf16.close()
