"""Greedy decoding in the hf backend against the machine's bound for the model's shapes.

    python bench/decode_bound.py [--model proxy:gemma3-270m] [--batch-size 8] [--new-tokens 64] [--profile]

The bound: one decode step is at least the matrix products of every linear layer and the output
head for `batch` rows (the weights' shapes, timed here with torch's own kernels on this machine, now);
its bytes (weights read once per step) and FLOPs per token are printed beside it. The backend's
decode rate: (generation of N tokens - generation of 1 token) / (N - 1) steps, on GSM8K-like prompts
batched as the backend batches them, so prefill is left out. --profile prints where a step's time goes
(torch profiler, top operators).
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


def matmul_bound(model, batch: int) -> tuple[float, int, int]:
    """Seconds of one step's linear layers + output head at `batch` rows, weight bytes, FLOPs per token."""
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    inputs = [torch.randn(batch, w.shape[1], dtype=w.dtype) for w in weights]

    def step():
        for x, w in zip(inputs, weights):
            torch.nn.functional.linear(x, w)

    step()
    seconds = best_of(5, step)
    return seconds, sum(w.numel() * w.element_size() for w in weights), sum(2 * w.numel() for w in weights)


def decode_rate(backend: HFBackend, batch: int, new_tokens: int) -> float:
    """Tokens/s of the decode steps alone (prefill subtracted) for `batch` greedy prompts."""
    prompts = [f"{PROMPT} {'Let us think.' * k}" for k in range(batch)]

    def run(n):
        requests = [GenerateRequest(p, GenerationSettings(n), add_bos=True) for p in prompts]
        return lambda: [pair for chunk in backend.generate(requests) for pair in chunk]

    one, full = best_of(2, run(1)), best_of(2, run(new_tokens))
    return batch * (new_tokens - 1) / (full - one)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="proxy:gemma3-270m")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    backend = HFBackend(models.resolve(args.model), batch_size=args.batch_size)
    with torch.inference_mode():
        bound_s, weight_bytes, flops = matmul_bound(backend.model, args.batch_size)
    rate = decode_rate(backend, args.batch_size, args.new_tokens)
    bound = args.batch_size / bound_s
    print(f"batch {args.batch_size}, torch threads {torch.get_num_threads()}: weights {weight_bytes / 2**20:.0f} MiB "
          f"read per step, {flops / 1e9:.2f} GFLOP per token ({flops * args.batch_size / bound_s / 1e9:.1f} GFLOP/s "
          f"in the bound's products)")
    print(f"bound (linear layers + head, timed): {bound_s * 1e3:.1f} ms/step = {bound:.1f} tokens/s")
    print(f"hf backend greedy decode: {rate:.1f} tokens/s = {bound / rate:.2f}x the bound's time")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        requests = [GenerateRequest(PROMPT, GenerationSettings(16, stop=("Question:",)), add_bos=True)
                    for _ in range(args.batch_size)]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            list(backend.generate(requests))
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
