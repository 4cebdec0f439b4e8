"""Replicas as Ray actors: each holds one backend instance, placed anywhere in a Ray cluster.

Every replica gets a placement group reserving what it needs on the cluster before any model is
loaded: hf one bundle (its CPUs, and a GPU on GPU clusters); vLLM one GPU bundle per tensor x
pipeline rank, packed on one node unless pipeline parallelism spans nodes (vLLM's Ray executor
then runs its workers in those bundles). A request that no node can ever satisfy is an error at
once; one the cluster cannot satisfy within PLACEMENT_TIMEOUT_S (busy, or too small for all the
replicas together) is an error after it, never a hang. Batches stream back from the actor's
generator method as they finish (Ray streaming generators).
"""

from __future__ import annotations

import logging
import os
from typing import Iterator, Sequence

from swallow_eval.dispatch import ReplicaLost, wait_all_ready
from swallow_eval.errors import UserError
from swallow_eval.requests import Request, Response

PLACEMENT_TIMEOUT_S = float(os.environ.get("SWALLOW_EVAL_RAY_PLACEMENT_TIMEOUT", "120"))
CLOSE_TIMEOUT_S = 60


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, UserError) else f"{type(exc).__name__}: {text}"


class ReplicaHost:
    """The actor's class: one backend instance on the node Ray placed it."""

    def __init__(self, backend_name: str, model, options: dict, threads: int | None):
        self.backend, self.error = None, None
        try:
            if threads:
                import torch

                torch.set_num_threads(threads)
            from swallow_eval import backends

            self.backend = backends.create(backend_name, model, **options)
        except BaseException as exc:  # reported by ready(): the driver raises it as one line
            self.error = _one_line(exc)

    def ready(self) -> tuple:
        import ray

        if self.error is not None:
            return "error", self.error, None
        node = ray.get_runtime_context().get_node_id()
        return "ready", self.backend.identity(), f"node {node[:12]} ({ray.util.get_node_ip_address()}), pid {os.getpid()}"

    def serve(self, kind: str, requests: list[Request]):
        yield from getattr(self.backend, kind)(requests)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


class RayReplica:
    def __init__(self, actor, group, rank: int):
        self.actor, self.group, self.rank = actor, group, rank
        self.where, self.identity = f"ray replica {rank}", {}

    def wait_ready(self) -> None:
        import ray

        try:
            kind, payload, where = ray.get(self.actor.ready.remote())
        except ray.exceptions.RayError as exc:
            raise ReplicaLost(_first_line(exc)) from None
        if kind == "error":
            raise UserError(payload)
        self.identity, self.where = payload, f"ray replica {self.rank} ({where})"

    def serve(self, kind: str, requests: Sequence[Request]) -> Iterator[list[tuple[int, Response]]]:
        import ray

        try:
            for ref in self.actor.serve.remote(kind, list(requests)):
                yield ray.get(ref)
        except ray.exceptions.RayActorError as exc:  # killed; a lost node: ActorUnavailableError within seconds
            raise ReplicaLost(_first_line(exc)) from None
        except ray.exceptions.RayTaskError as exc:  # the backend raised: the same on every replica
            cause = exc.cause if exc.cause is not None else exc
            raise UserError(f"{self.where}: {_one_line(cause)}") from None
        except ray.exceptions.RayError as exc:  # node died, object lost, ...
            raise ReplicaLost(_first_line(exc)) from None

    def close(self) -> None:
        import ray
        from ray.util.placement_group import remove_placement_group

        try:
            ray.get(self.actor.close.remote(), timeout=CLOSE_TIMEOUT_S)
        except ray.exceptions.RayError:
            pass  # dead or stuck: killed below
        ray.kill(self.actor)
        remove_placement_group(self.group)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def connect(address: str) -> None:
    try:
        import ray
    except ImportError as exc:
        raise UserError(f"--ray-address needs Ray: pip install 'swallow-eval[ray]' ({exc})") from exc
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UserError(f"--ray-address {address}: cannot connect ({_first_line(exc)})") from exc


def _placement(backend_name: str, device: str, options: dict, cpus: int, resources: dict):
    """(bundles, strategy, actor options, torch threads) of one replica."""
    gpus = (options.get("tensor_parallel_size") or 1) * (options.get("pipeline_parallel_size") or 1)
    first = {"CPU": cpus, **resources}
    if device == "cpu":
        return [first], "STRICT_PACK", {"num_cpus": cpus}, cpus if backend_name == "hf" else None
    if backend_name == "hf" or gpus == 1:
        return [{**first, "GPU": 1}], "STRICT_PACK", {"num_cpus": cpus, "num_gpus": 1}, None
    # vLLM over several GPUs: the actor drives, vLLM's Ray workers take the GPUs of the bundles.
    bundles = [{**first, "GPU": 1}] + [{"GPU": 1}] * (gpus - 1)
    strategy = "STRICT_PACK" if (options.get("pipeline_parallel_size") or 1) == 1 else "PACK"
    return bundles, strategy, {"num_cpus": cpus}, None


def _fits(replicas: list[tuple[list[dict], str]], nodes: list[dict]) -> str | None:
    """First fit of every replica's bundles on the nodes' total resources: None, or what does not fit."""
    free = [dict(node) for node in nodes]

    def take(need: dict) -> bool:
        for node in free:
            if all(node.get(k, 0) >= v for k, v in need.items()):
                for k, v in need.items():
                    node[k] -= v
                return True
        return False

    for rank, (bundles, strategy) in enumerate(replicas):
        needs = [{k: sum(b.get(k, 0) for b in bundles) for b in bundles for k in b}] if strategy == "STRICT_PACK" \
            else bundles
        if not all(take(need) for need in needs):
            return f"replica {rank + 1} of {len(replicas)} needs {needs} on one node each"
    return None


def start_ray(backend_name: str, model, options: dict, size: int, device: str | None, cpus: int,
              resources: dict) -> list[RayReplica]:
    """`size` actors, each in its own placement group; an error before loading if they cannot be placed."""
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    device = device or ("cuda" if ray.cluster_resources().get("GPU", 0) else "cpu")
    options = {**options, "device": device} if backend_name == "hf" else dict(options)
    gpus = (options.get("tensor_parallel_size") or 1) * (options.get("pipeline_parallel_size") or 1)
    if backend_name == "vllm" and device == "cuda" and gpus > 1:
        options.setdefault("distributed_executor_backend", "ray")
    bundles, strategy, actor_options, threads = _placement(backend_name, device, options, cpus, resources)
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    problem = _fits([(bundles, strategy)] * size, nodes)
    if problem:
        raise UserError(f"the Ray cluster cannot place {size} replica(s): {problem}; its nodes have "
                        f"{[{k: v for k, v in n.items() if not k.startswith('node:')} for n in nodes]}")
    groups = [placement_group(bundles, strategy=strategy) for _ in range(size)]
    ready, _ = ray.wait([g.ready() for g in groups], num_returns=size, timeout=PLACEMENT_TIMEOUT_S)
    if len(ready) < size:
        for group in groups:
            remove_placement_group(group)
        raise UserError(f"the Ray cluster placed {len(ready)} of {size} replica(s) within {PLACEMENT_TIMEOUT_S:.0f} s "
                        f"(each needs {bundles}, {strategy}); free now: {ray.available_resources()}")
    host = ray.remote(ReplicaHost)
    replicas = []
    for rank, group in enumerate(groups):
        strategy_options = PlacementGroupSchedulingStrategy(placement_group=group, placement_group_bundle_index=0,
                                                            placement_group_capture_child_tasks=True)
        actor = host.options(**actor_options, resources=resources, scheduling_strategy=strategy_options,
                             max_restarts=0).remote(backend_name, model, options, threads)
        replicas.append(RayReplica(actor, group, rank))
    return wait_all_ready(replicas, "--ray-address")
