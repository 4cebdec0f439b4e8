"""Greedy decoding in the hf backend against the machine's bound for the model's shapes.

    python bench/decode_bound.py [--model proxy:gemma3-270m] [--batch-size 8] [--new-tokens 64] [--rounds 2] [--profile]

The bound: one decode step is at least the matrix products of every linear layer and the output
head for `batch` rows (the weights' shapes, timed here with torch's own kernels on this machine, now);
its bytes (weights read once per step) and FLOPs per token are printed beside it. Decode rates:
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


def matmul_bound(model, batch: int) -> float:
    """Seconds of one step's linear layers + output head at `batch` rows (best of 5)."""
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    inputs = [torch.randn(batch, w.shape[1], dtype=w.dtype) for w in weights]

    def step():
        for x, w in zip(inputs, weights):
            torch.nn.functional.linear(x, w)

    step()
    return best_of(5, step)


def decode_rates(backend: HFBackend, batch: int, new_tokens: int, rounds: int) -> tuple[float, float]:
    """The bound's seconds per step, and tokens/s of the backend's decode steps alone (prefill
    subtracted) on left-padded GSM8K-like prompts. Bound and decoding are measured in turns, `rounds`
    times, best of each kept, so a neighbour's load on the shared cores falls on both alike."""
    prompts = [f"{PROMPT} {'Let us think.' * k}" for k in range(batch)]
    rows = [backend._prompt_ids(GenerateRequest(p, GenerationSettings(new_tokens), add_bos=True), None)[0]
            for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[backend.pad_id] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    times = {1: [], new_tokens: []}
    bound, steps = [], new_tokens - 1
    for _ in range(rounds):
        with torch.inference_mode():
            bound.append(matmul_bound(backend.model, batch))
            for n in times:
                started = time.perf_counter()
                output = backend._run_generate(ids, mask, n, (), do_sample=False)
                times[n].append(time.perf_counter() - started)
                steps = output.shape[1] - width - 1  # EOS in every row ends it early
    return min(bound), batch * steps / (min(times[new_tokens]) - min(times[1]))


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
    bound_s, rate = decode_rates(backend, args.batch_size, args.new_tokens, args.rounds)
    bound = args.batch_size / bound_s
    print(f"batch {args.batch_size}, torch threads {torch.get_num_threads()}, {args.new_tokens} new tokens, "
          f"best of {args.rounds} rounds: weights {weight_bytes / 2**20:.0f} MiB read per step, "
          f"{flops / 1e9:.2f} GFLOP per token ({flops * args.batch_size / bound_s / 1e9:.1f} GFLOP/s in the bound's products)")
    print(f"bound (linear layers + head, timed): {bound_s * 1e3:.1f} ms/step = {bound:.1f} tokens/s")
    print(f"hf backend greedy decode (transformers generate()): {rate:.1f} tokens/s = {bound / rate:.2f}x the bound's time")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        requests = [GenerateRequest(PROMPT, GenerationSettings(16, stop=("Question:",)), add_bos=True)
                    for _ in range(args.batch_size)]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            list(backend.generate(requests))
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
