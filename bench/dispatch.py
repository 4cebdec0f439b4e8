"""Data-parallel dispatch: chunked work queue vs the old fixed shards, and 1 vs N replicas.

The P1-style workload (MMLU 4 per subject, 100 JCommonsenseQA, 30 GSM8K with the reference's
256 new tokens; --small for a reduced one) is served by local hf replicas (fp32, the cores split
between them), four ways in one run:
  - N replicas, the old split: one contiguous shard per replica and call, cut up front by estimated
    tokens (max new tokens standing in for the unknown output length), as vllm.py's `_shards` did;
  - N replicas, the dispatcher with a queue per call: chunks of decreasing size handed out as
    replicas free up, the generation call after the log-likelihood call;
  - N replicas, the dispatcher as `run` uses it: both calls from one queue (`serve_calls`);
  - 1 replica on all the cores.
It prints each replica's busy time per call (a call served alone ends when its slowest replica
does) and over the run, the imbalance max/mean busy time (target <= 1.10), wall times, and checks
that all runs gave identical responses.

    python bench/dispatch.py --data-dir ../shared/data [--small] [--replicas 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from swallow_eval import backends, models
from swallow_eval.dispatch import ReplicatedBackend, chunk_units
from swallow_eval.pipeline import item_requests, prepare
from swallow_eval.replicas import start_local
from swallow_eval.requests import GenerateRequest, LoglikelihoodRequest
from swallow_eval.task import BuildContext, load_registry


def fixed_shards(costs: list[int], parts: int) -> list[list[int]]:
    """The old split, on the planner's work items: cut into `parts` contiguous shards of about
    equal estimated cost (prompt tokens + max new tokens x n), one per replica."""
    total, shards, done = sum(costs), [[] for _ in range(parts)], 0
    for index, cost in enumerate(costs):
        shards[min(parts - 1, done * parts // max(total, 1))].append(index)
        done += cost
    return [shard for shard in shards if shard]


def workload(data_dir: Path, sizes: dict, tokenizer, max_new_tokens: int | None):
    registry = load_registry()
    requests = []
    for name, limit in sizes.items():
        task = registry[name]
        items = prepare(task, data_dir, limit, BuildContext(tokenizer=tokenizer)).items
        requests += [r for item in items for r in item_requests(task, item, True, cap=max_new_tokens)]
    requests = list(dict.fromkeys(requests))
    return ([r for r in requests if isinstance(r, LoglikelihoodRequest)],
            [r for r in requests if isinstance(r, GenerateRequest)], sizes)


def serve(backend, calls, one_queue: bool = False) -> tuple[dict, list[dict]]:
    """Answers and, per call (or for all calls when they share one queue), the wall time and each
    replica's busy time."""
    answers, per_call = {}, []
    for group in ([calls] if one_queue else [[call] for call in calls]):
        before = [s.busy_s for s in backend.slots]
        started = time.perf_counter()
        for kind, batch in backend.serve_calls(group):
            answers.update({(kind, p): r for p, r in batch})
        busy = [s.busy_s - b for s, b in zip(backend.slots, before)]
        label = " + ".join(kind for kind, _ in group)
        per_call.append({"kind": label, "wall_s": time.perf_counter() - started, "busy_s": busy})
    return answers, per_call


def imbalance(busy: list[float]) -> float:
    return max(busy) / statistics.mean(busy) if len(busy) > 1 and statistics.mean(busy) else 1.0


def report(label: str, per_call: list[dict], chunks: int) -> None:
    print(f"\n{label} ({chunks} chunks)")
    for call in per_call:
        busy = call["busy_s"]
        print(f"  {call['kind']:27s} wall {call['wall_s']:7.1f} s   busy " +
              " ".join(f"{b:7.1f}" for b in busy) + f"   imbalance max/mean {imbalance(busy):.3f}")
    run_busy = [sum(column) for column in zip(*(c["busy_s"] for c in per_call))]
    print(f"  {'whole run':27s} wall {sum(c['wall_s'] for c in per_call):7.1f} s   busy " +
          " ".join(f"{b:7.1f}" for b in run_busy) + f"   imbalance max/mean {imbalance(run_busy):.3f}", flush=True)


def differences(label: str, ll: list, base: dict, other: dict) -> None:
    """How two runs' answers differ: byte-identical responses, the largest relative log-likelihood
    difference, choices decided differently (the best continuation of each context) and greedy texts."""
    same = sum(base[key] == other[key] for key in base)
    rel = max((abs(base[k].logprob - other[k].logprob) / max(abs(base[k].logprob), 1e-12)
               for k in base if k[0] == "loglikelihood"), default=0.0)
    best: dict = {}
    for position, request in enumerate(ll):
        key = ("loglikelihood", position)
        for run, answers in (("base", base), ("other", other)):
            current = best.get((run, request.context))
            if current is None or answers[key].logprob > current[1]:
                best[(run, request.context)] = (request.continuation, answers[key].logprob)
    contexts = {request.context for request in ll}
    decisions = sum(best[("base", c)][0] != best[("other", c)][0] for c in contexts)
    texts = sum(base[k].texts != other[k].texts for k in base if k[0] == "generate")
    print(f"{label}: {same}/{len(base)} responses byte-identical, largest relative log-likelihood difference "
          f"{rel:.2e}, {decisions}/{len(contexts)} contexts decided differently, {texts} greedy texts differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--model", default="proxy:gemma3-270m")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--small", action="store_true", help="MMLU 1 per subject, 20 JCommonsenseQA, 6 GSM8K")
    parser.add_argument("--sizes", help="items per task instead, e.g. mmlu=1,jcommonsenseqa=10,gsm8k=4")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="cap generations (default: the reference's)")
    args = parser.parse_args()
    model = models.resolve(args.model)
    options = {"batch_size": args.batch_size}
    planner = backends.planner("hf", model, **options)  # the driver's plan: work items, as `run` makes them
    info = planner.info
    sizes = {"mmlu": 1, "jcommonsenseqa": 20, "gsm8k": 6} if args.small else {"mmlu": 4, "jcommonsenseqa": 100, "gsm8k": 30}
    if args.sizes:
        sizes = {name: int(n) for name, n in (part.split("=") for part in args.sizes.split(","))}
    ll, gen, sizes = workload(args.data_dir, sizes, info.tokenizer, args.max_new_tokens)
    calls = [("loglikelihood", ll), ("generate", gen)]
    print(f"workload: {sizes} -> {len(ll)} log-likelihood and {len(gen)} generation requests; "
          f"hf fp32, batch {args.batch_size}, max new tokens {args.max_new_tokens or 'reference'}")

    replicas = start_local("hf", model, options, args.replicas, None)
    backend = ReplicatedBackend("hf", info, replicas, replicas[0].identity, planner=planner,
                                chunker=fixed_shards)
    try:
        fixed, fixed_calls = serve(backend, calls)
        report(f"{args.replicas} replicas, fixed shards (the old split)", fixed_calls, backend.chunks)
        backend.chunker, backend.chunks = chunk_units, 0
        per_call, per_call_calls = serve(backend, calls)
        report(f"{args.replicas} replicas, dispatcher, a queue per call", per_call_calls, backend.chunks)
        backend.chunks = 0
        chunked, chunked_calls = serve(backend, calls, one_queue=True)
        report(f"{args.replicas} replicas, dispatcher, one queue for both calls (run's path)", chunked_calls,
               backend.chunks)
    finally:
        backend.close()
    one = start_local("hf", model, options, 1, None)
    backend = ReplicatedBackend("hf", info, one, one[0].identity, planner=planner)
    try:
        single, single_calls = serve(backend, calls)
    finally:
        backend.close()
    report("1 replica on all cores", single_calls, 1)
    walls = {name: sum(c["wall_s"] for c in calls_) for name, calls_ in
             (("fixed", fixed_calls), ("per call", per_call_calls), ("chunked", chunked_calls),
              ("single", single_calls))}
    print(f"\nwall time: dispatcher (one queue) / fixed shards = {walls['chunked'] / walls['fixed']:.3f}, "
          f"/ a queue per call = {walls['chunked'] / walls['per call']:.3f}; "
          f"1 replica / {args.replicas} replicas (one queue) = {walls['single'] / walls['chunked']:.3f}")
    print(f"identical responses in all four runs: {fixed == per_call == chunked == single}")
    differences("one queue vs 1 replica", ll, single, chunked)
    differences("a queue per call vs 1 replica", ll, single, per_call)
    differences("fixed shards vs 1 replica", ll, single, fixed)


if __name__ == "__main__":
    main()
