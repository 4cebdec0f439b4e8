"""Data parallelism: the requests of one call served by N replicas of a backend, as one backend.

A `ReplicatedBackend` has the Backend interface, so the pipeline neither knows nor cares how
many engines answer. Replicas are local processes (hf, vllm), Ray actors anywhere in a cluster
(hf, vllm) or threads, one per OpenAI-compatible server; `swallow_eval.replicas` and
`swallow_eval.ray_replicas` build them, this module decides what each one serves.

A backend with a planner (hf) has its batching planned here, in the driver, as work items that
are each computed alone (backends/hf_plan.py): a response is then byte-identical whichever
replica or chunk computes it, and to the single-process run. For the others (vLLM, servers) the
requests are the units: sorted by their text so requests sharing a few-shot prefix are
neighbours (prefix caching pays off), log-likelihood requests with the same context together
(backends score a shared context once). Units are cut into chunks of decreasing estimated cost
(guided self-scheduling), handed out in order as replicas free up, so the tail of the run is
small chunks and no replica idles while another still has a large share. The log-likelihood and
generation calls of a run share one queue (`serve_calls`), so no replica waits at the end of one
call for another to finish its last large chunk.

Faults: a replica that dies has the requests of its chunk that it had not streamed back
partitioned again and handed to the survivors; the run goes on and `stats()` says what happened.
With no replica left, a one-line error: everything that finished is already in the cache.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Sequence

from swallow_eval.backends.base import ModelInfo
from swallow_eval.errors import UserError
from swallow_eval.requests import GenerateRequest, LoglikelihoodRequest, Request, Response

# Guided self-scheduling: each chunk is at most 1/(2 x replicas) of what is left, and at least
# 1/(replicas x MIN_CHUNK_DIVISOR) of the whole call, so the last chunks are small but not tiny.
MIN_CHUNK_DIVISOR = 16


class ReplicaLost(Exception):
    """The replica is gone (process killed, actor or node died, server unreachable)."""


def wait_all_ready(replicas: list, option: str) -> list:
    """Every replica loaded, or none left running: one that fails to start is an error of `option`."""
    try:
        for replica in replicas:
            replica.wait_ready()
    except (UserError, ReplicaLost) as exc:
        for replica in replicas:
            replica.close()
        raise UserError(f"{option}: a replica did not start ({exc})") from None
    return replicas


class Replica(Protocol):
    where: str  # where it runs, for the log and stats (pid and cores, Ray node, server URL)
    identity: dict  # the backend's identity() on that replica

    def serve(self, kind: str, requests: Sequence[Request]) -> Iterator[list[tuple[int, Response]]]:
        """The backend's `kind` method on the replica; raises ReplicaLost if the replica dies."""

    def close(self) -> None: ...


def _unit_text(request: Request) -> str:
    if isinstance(request, LoglikelihoodRequest):
        return request.context.rstrip()  # the context as backends encode it (encode_pair)
    return request.prompt or json.dumps(request.messages, ensure_ascii=False)


def units(requests: Sequence[Request]) -> list[list[int]]:
    """Positions grouped into what must stay together (one generation, or every log-likelihood
    request of one context), sorted by text so that shared few-shot prefixes are neighbours."""
    grouped: dict[tuple, list[int]] = {}
    for position, request in enumerate(requests):
        key = (("ll", request.add_bos, _unit_text(request)) if isinstance(request, LoglikelihoodRequest)
               else ("gen", position))
        grouped.setdefault(key, []).append(position)
    return sorted(grouped.values(), key=lambda members: (_unit_text(requests[members[0]]), members[0]))


def unit_cost(requests: Sequence[Request], members: list[int], count_tokens: Callable[[str], int]) -> int:
    """Estimated cost: prompt tokens plus the tokens it may generate (max_new_tokens x n), the only
    estimate known before running; a shared context counts once."""
    first = requests[members[0]]
    if isinstance(first, GenerateRequest):
        return count_tokens(_unit_text(first)) + first.settings.max_new_tokens * first.settings.n
    return count_tokens(_unit_text(first)) + sum(count_tokens(requests[m].continuation) for m in members)


def chunk_units(costs: Sequence[int], parts: int) -> list[list[int]]:
    """Units (by index, in the given order) cut into contiguous chunks of decreasing estimated cost,
    in the order they are handed out. A chunk closes before a unit that would take it past its
    target, so a few large units (one planned batch each) still go to different replicas."""
    remaining = sum(costs)
    smallest = remaining / (max(parts, 1) * MIN_CHUNK_DIVISOR)
    chunks, chunk, chunk_cost, target = [], [], 0, 0.0
    for index, cost in enumerate(costs):
        if chunk and chunk_cost + cost > target:
            chunks.append(chunk)
            chunk, chunk_cost = [], 0
        if not chunk:
            target = max(remaining / (2 * max(parts, 1)), smallest)
        chunk.append(index)
        chunk_cost += cost
        remaining -= cost
    if chunk:
        chunks.append(chunk)
    return chunks


def partition(requests: Sequence[Request], parts: int, count_tokens: Callable[[str], int]) -> list[list[int]]:
    """Chunks of positions in `requests`, in the order they are handed out (backends without a
    planner): the units cut into contiguous chunks of decreasing estimated cost."""
    ordered = units(requests)
    costs = [unit_cost(requests, members, count_tokens) for members in ordered]
    return [[p for k in chunk for p in ordered[k]] for chunk in chunk_units(costs, parts)]


@dataclass
class _Chunk:
    """What one replica serves at a time for the call of `kind`: `payload` is requests, or the work
    items a planner made; `positions` maps the payload's request indices to the call's (None: work
    items carry the call's positions)."""

    kind: str
    payload: list
    positions: list[int] | None

    @property
    def method(self) -> str:
        """The backend method the replica runs: `execute` for planned work items, else the kind's."""
        return "execute" if self.positions is None else self.kind

    def covers(self) -> list[int]:
        if self.positions is not None:
            return self.positions
        return [p for work in self.payload for p in work.positions()]


class _Slot:
    """A replica as the dispatcher tracks it."""

    def __init__(self, replica: Replica):
        self.replica = replica
        self.lock = threading.Lock()  # one chunk at a time, even across abandoned calls
        self.lost: str | None = None
        self.busy_s, self.chunks, self.served = 0.0, 0, 0


class ReplicatedBackend:
    """N replicas of one backend behind the Backend interface (see the module docstring)."""

    def __init__(self, name: str, info: ModelInfo, replicas: list[Replica], identity: dict,
                 planner=None, chunker=chunk_units, log: Callable[[str], None] | None = None):
        self.name, self.info, self._identity = name, info, identity
        self.slots = [_Slot(r) for r in replicas]
        self.planner, self.chunker = planner, chunker
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        self.chunks = self.reassigned = 0
        tokenizer = info.tokenizer
        self._count = ((lambda text: len(tokenizer(text, add_special_tokens=False).input_ids))
                       if tokenizer is not None else (lambda text: len(text) // 4 + 1))

    def identity(self) -> dict:
        return self._identity

    @property
    def request_prompt_tokens(self) -> dict | None:
        """The driver's planner's per-request prompt token counts (None: no planner)."""
        return None if self.planner is None else self.planner.request_prompt_tokens

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> Iterator[list[tuple[int, Response]]]:
        return (batch for _, batch in self.serve_calls([("loglikelihood", requests)]))

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[list[tuple[int, Response]]]:
        return (batch for _, batch in self.serve_calls([("generate", requests)]))

    def serve_calls(self, calls: Sequence[tuple[str, Sequence[Request]]]) -> Iterator[tuple[str, list[tuple[int, Response]]]]:
        """(kind, batch) of several calls served from one queue. Generation chunks go first: a
        batch's decoding is the longest indivisible work, and how long it runs is known only at its
        end; the log-likelihood chunks, shrinking towards the end, then fill in around them. With a
        queue per call, a call's last large chunk kept the other replicas idle (bench/dispatch.py, P1 on
        2 replicas: 352.0 s wall with a queue per call, 307.0 s with one)."""
        return self._dispatch(sorted(calls, key=lambda call: call[0] != "generate"))

    def stats(self) -> dict:
        """What happened while serving, for results.json "serving"."""
        return {
            **(self.planner.stats() if self.planner is not None else {}),
            "replicas": [{"where": s.replica.where, "busy_s": round(s.busy_s, 3), "chunks": s.chunks,
                          "requests": s.served, **({"lost": s.lost} if s.lost else {})} for s in self.slots],
            "chunks": self.chunks,
            "reassigned_requests": self.reassigned,
            "lost_replicas": [s.replica.where for s in self.slots if s.lost],
        }

    def close(self) -> None:
        for slot in self.slots:
            slot.replica.close()

    def _chunks(self, kind: str, requests: Sequence[Request], parts: int) -> list[_Chunk]:
        """The call's chunks: the planner's work items (each computed alone: byte-identical answers
        whichever replica serves them), else the requests' units."""
        if self.planner is not None:
            return self._work_chunks(kind, self.planner.plan(kind, requests), parts)
        return self._request_chunks(kind, requests, list(range(len(requests))), parts)

    def _work_chunks(self, kind: str, works: list, parts: int) -> list[_Chunk]:
        return [_Chunk(kind, [works[k] for k in chunk], None)
                for chunk in self.chunker([work.cost() for work in works], parts)]

    def _request_chunks(self, kind: str, requests: Sequence[Request], positions: list[int], parts: int) -> list[_Chunk]:
        ordered = units(requests)
        costs = [unit_cost(requests, members, self._count) for members in ordered]
        return [_Chunk(kind, [requests[i] for i in indices], [positions[i] for i in indices])
                for indices in ([i for k in chunk for i in ordered[k]] for chunk in self.chunker(costs, parts))]

    def _remainder(self, chunk: _Chunk, done: set[int], parts: int) -> list[_Chunk]:
        """A lost replica's chunk, less what it streamed back, as chunks for the survivors."""
        if chunk.positions is None:
            left = [w for w in chunk.payload if any(p not in done for p in w.positions())]
            return self._work_chunks(chunk.kind, left, parts)
        left = [(p, request) for p, request in zip(chunk.positions, chunk.payload) if p not in done]
        return self._request_chunks(chunk.kind, [r for _, r in left], [p for p, _ in left], parts)

    def _dispatch(self, calls: Sequence[tuple[str, Sequence[Request]]]) -> Iterator[tuple[str, list]]:
        alive = [s for s in self.slots if not s.lost]
        pending = deque(chunk for kind, requests in calls for chunk in self._chunks(kind, requests, len(alive)))
        self.chunks += len(pending)
        events: queue.SimpleQueue = queue.SimpleQueue()
        idle, busy = list(alive), {}  # slot -> chunk
        # positions streamed back, per call (a reassigned work item may repeat some)
        done: dict[str, set[int]] = {kind: set() for kind, _ in calls}

        def serve(slot: _Slot, chunk: _Chunk) -> None:
            with slot.lock:
                started = time.perf_counter()
                try:
                    for batch in slot.replica.serve(chunk.method, chunk.payload):
                        if chunk.positions is not None:
                            batch = [(chunk.positions[i], response) for i, response in batch]
                        events.put((slot, "batch", (chunk.kind, batch)))
                    events.put((slot, "done", time.perf_counter() - started))
                except ReplicaLost as exc:
                    events.put((slot, "lost", (str(exc), time.perf_counter() - started)))
                except UserError as exc:
                    events.put((slot, "error", str(exc)))
                except BaseException as exc:  # re-raised in the caller's thread
                    events.put((slot, "error", f"{slot.replica.where}: {type(exc).__name__}: {exc}"))

        def assign() -> None:
            while idle and pending:
                slot, chunk = idle.pop(0), pending.popleft()
                busy[slot] = chunk
                threading.Thread(target=serve, args=(slot, chunk), daemon=True,
                                 name=f"swallow-eval-replica-{self.slots.index(slot)}").start()

        assign()
        while busy:
            try:
                slot, event, payload = events.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                continue
            if event == "batch":
                kind, batch = payload
                fresh = [(p, r) for p, r in batch if p not in done[kind]]
                done[kind].update(p for p, _ in fresh)
                slot.served += len(fresh)
                yield kind, fresh
            elif event == "done":
                slot.busy_s += payload
                slot.chunks += 1
                del busy[slot]
                idle.append(slot)
                assign()
            elif event == "lost":
                reason, seconds = payload
                slot.busy_s += seconds
                slot.lost = reason
                chunk = busy.pop(slot)
                left = [p for p in chunk.covers() if p not in done[chunk.kind]]
                survivors = [s for s in self.slots if not s.lost]
                if not survivors:
                    raise UserError(f"every replica is gone (last: {slot.replica.where}: {reason}); finished "
                                    "requests are in the response cache: rerun the same command to resume")
                self.reassigned += len(left)
                again = self._remainder(chunk, done[chunk.kind], len(survivors))
                pending.extendleft(reversed(again))
                self.chunks += len(again)
                self.log(f"replica {slot.replica.where} lost ({reason}); {len(left)} unfinished requests "
                         f"reassigned to {len(survivors)} surviving replica(s)")
                assign()
            else:
                raise UserError(payload)


# ---- choosing and building the replicas ---------------------------------------------------------


def create(name: str, model, data_parallel_size: int | None = None, ray_address: str | None = None,
           ray_num_cpus: int | None = None, ray_resources: dict | None = None,
           base_url: str | Sequence[str] | None = None, **options):
    """The backend `name` for `model`: one instance, or a ReplicatedBackend when asked for several
    replicas (--data-parallel-size N, --ray-address, --base-url given more than once)."""
    from swallow_eval import backends

    backends.check(name)
    urls = [base_url] if isinstance(base_url, str) else list(base_url or [])
    size = data_parallel_size or 1
    if (ray_num_cpus is not None or ray_resources) and not ray_address:
        raise UserError("--ray-num-cpus and --ray-resources need --ray-address")
    if ray_resources is not None and not (isinstance(ray_resources, dict) and all(
            isinstance(v, (int, float)) and v > 0 for v in ray_resources.values())):
        raise UserError(f"--ray-resources {json.dumps(ray_resources)}: expected an object of positive amounts, "
                        'e.g. {"eval_slot": 1}')
    if name == "openai":
        if size > 1 or ray_address:
            raise UserError("--backend openai spreads the requests over servers: give --base-url once per server "
                            "(--data-parallel-size and --ray-address are for the hf and vllm backends)")
        if len(urls) <= 1:
            return backends.create(name, model, base_url=urls[0] if urls else None, **options)
        servers = [backends.create(name, model, base_url=url, **options) for url in urls]
        from swallow_eval.replicas import ServerReplica

        replicas = [ServerReplica(server) for server in servers]
        identity = {**replicas[0].identity, "base_url": [r.identity["base_url"] for r in replicas]}
        _same_identity(replicas, ignore="base_url")
        return ReplicatedBackend(name, servers[0].info, replicas, identity)
    if urls:
        raise UserError(f"--base-url is not an option of --backend {name}")
    if size == 1 and not ray_address:
        return backends.create(name, model, **options)
    given = {key: value for key, value in options.items() if value is not None}
    for key in given.keys() - backends.accepted(name, **given).keys():  # before any replica starts
        raise UserError(f"--{key.replace('_', '-')} is not an option of --backend {name}")
    device = given.pop("device", None)
    if ray_address:
        from swallow_eval.ray_replicas import connect, start_ray

        connect(ray_address)
        replicas = start_ray(name, model, given, size, device, ray_num_cpus or 1, dict(ray_resources or {}))
    else:
        from swallow_eval.replicas import start_local

        if device is not None:
            given["device"] = device
        replicas = start_local(name, model, given, size, device)
    try:
        _same_identity(replicas)
        planner = backends.planner(name, model, **given)  # tokenizer and config only
        info = planner.info if planner is not None else model_info(model, bool(given.get("trust_remote_code")))
    except UserError:
        for replica in replicas:
            replica.close()
        raise
    return ReplicatedBackend(name, info, replicas, replicas[0].identity, planner=planner)


def _same_identity(replicas: list[Replica], ignore: str | None = None) -> None:
    """Replicas must give the same answers: a mixed cluster (GPU and CPU nodes) would not."""
    seen = {json.dumps({k: v for k, v in r.identity.items() if k != ignore}, sort_keys=True) for r in replicas}
    if len(seen) > 1:
        raise UserError(f"the replicas differ in settings that change responses: {sorted(seen)}; "
                        "pass --device (and --dtype) so every replica runs the same way")


def model_info(model, trust_remote_code: bool) -> ModelInfo:
    """What tasks need from the model, from its tokenizer and config: the driver loads no weights."""
    from swallow_eval.backends import base

    tokenizer, config = base.load_tokenizer(model, trust_remote_code)
    return base.model_info(model.path, tokenizer, config)
