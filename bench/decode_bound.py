"""Greedy decoding in the hf backend against the machine's bound for the model's shapes.

    python bench/decode_bound.py [--model proxy:gemma3-270m] [--batch-size 8] [--new-tokens 64] [--rounds 2] [--profile]

The bound: one decode step is at least the matrix products of every linear layer and the output
head for `batch` rows (the weights' shapes, timed here with the kernels the backend uses on this machine, now);
its bytes (weights read once per step) and FLOPs per token are printed beside it. With the head
screened (the default, backends/hf_head.py) the head's product is the bf16 one, so its bound is that;
both ways of decoding are measured against their own bound. Decode rates:
(generation of N tokens - generation of 1 token) / (N - 1) steps, on GSM8K-like prompts left-padded as
the backend batches them, so prefill is left out. Bound and decoding are measured in turns, so a
neighbour's load on the shared cores hits both.
--profile prints where a step's time goes in the backend (torch profiler, top operators).
"""

from __future__ import annotations

import argparse
import time

import torch

from swallow_eval import models
from swallow_eval.backends.hf import HFBackend
from swallow_eval.requests import GenerateRequest, GenerationSettings

PROMPT = ("Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
          "How many clips did Natalia sell altogether in April and May?\nAnswer:")


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def matmul_bound(model, batch: int, screened: bool) -> float:
    """Seconds of one step's linear layers + output head at `batch` rows (best of 5): the body's layers
    through the kernels the backend installed (oneDNN's with prefix sharing), the head's product in fp32,
    or bf16 where screened."""
    head = model.get_output_embeddings()
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head]
    head_weight = head.weight.to(torch.bfloat16) if screened else head.weight
    inputs = [torch.randn(batch, m.weight.shape[1], dtype=m.weight.dtype) for m in layers]
    head_input = torch.randn(batch, head_weight.shape[1], dtype=head_weight.dtype)

    def step():
        for x, layer in zip(inputs, layers):
            layer(x)
        torch.nn.functional.linear(head_input, head_weight)

    step()
    return best_of(5, step)


def decode_rates(backend: HFBackend, batch: int, new_tokens: int, rounds: int) -> dict[bool, tuple[float, float]]:
    """The bound's seconds per step, and tokens/s of the backend's decode steps alone (prefill
    subtracted) on left-padded GSM8K-like prompts. Bound and decoding are measured in turns, `rounds`
    times, best of each kept, so a neighbour's load on the shared cores falls on both alike."""
    prompts = [f"{PROMPT} {'Let us think.' * k}" for k in range(batch)]
    rows = [backend._prompt_ids(GenerateRequest(p, GenerationSettings(new_tokens), add_bos=True), None)[0]
            for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[backend.pad_id] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    modes = [True, False] if backend.head_screening else [False]
    times = {(mode, n): [] for mode in modes for n in (1, new_tokens)}
    bound = {mode: [] for mode in modes}
    steps = new_tokens - 1
    for _ in range(rounds):
        with torch.inference_mode():
            for mode in modes:
                backend.head_screening = mode
                bound[mode].append(matmul_bound(backend.model, batch, mode))
                for n in (1, new_tokens):
                    started = time.perf_counter()
                    output = backend._run_generate(ids, mask, n, (), do_sample=False)
                    times[(mode, n)].append(time.perf_counter() - started)
                    steps = output.shape[1] - width - 1  # EOS in every row ends it early
    backend.head_screening = modes[0]
    return {mode: (min(bound[mode]), batch * steps / (min(times[(mode, new_tokens)]) - min(times[(mode, 1)])))
            for mode in modes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="proxy:gemma3-270m")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    backend = HFBackend(models.resolve(args.model), batch_size=args.batch_size)
    weights = [m.weight for m in backend.model.modules() if isinstance(m, torch.nn.Linear)]
    weight_bytes = sum(w.numel() * w.element_size() for w in weights)
    flops = sum(2 * w.numel() for w in weights)
    rates = decode_rates(backend, args.batch_size, args.new_tokens, args.rounds)
    print(f"batch {args.batch_size}, torch threads {torch.get_num_threads()}, {args.new_tokens} new tokens, "
          f"best of {args.rounds} rounds: fp32 weights {weight_bytes / 2**20:.0f} MiB read per step, "
          f"{flops / 1e9:.2f} GFLOP per token")
    for screened, (bound_s, rate) in rates.items():
        bound, head = args.batch_size / bound_s, "bf16 screen" if screened else "full fp32 head"
        print(f"{head}: bound (linear layers + head, timed) {bound_s * 1e3:.1f} ms/step = {bound:.1f} tokens/s; "
              f"hf backend greedy decode (transformers generate()) {rate:.1f} tokens/s = {bound / rate:.2f}x the bound's time")
    if len(rates) == 2:
        print(f"screened decode: {rates[True][1] / rates[False][1]:.2f}x the full head's tokens/s")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        requests = [GenerateRequest(PROMPT, GenerationSettings(16, stop=("Question:",)), add_bos=True)
                    for _ in range(args.batch_size)]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            list(backend.generate(requests))
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
