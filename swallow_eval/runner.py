"""One evaluation run as a library call: `evaluate(RunConfig) -> RunResult`.

select tasks -> decide skips -> load the backend -> prepare items (BOS policy) -> execute (cache)
-> judge -> score -> write results/<model>/<run-id>/. `swallow-eval run` parses its options into a
RunConfig and calls `evaluate`; notebooks, benchmarks and tests call it directly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from swallow_eval.errors import UserError
from swallow_eval.run_result import RunResult
from swallow_eval.selection import Skips, lacks_chat_template, with_data

Log = Callable[[str], None]
_logger = logging.getLogger("swallow_eval")


@dataclass
class BackendOptions:
    """Options of the model's backend; None leaves the backend's default (see `swallow-eval run --help`)."""

    batch_size: int | None = None  # hf
    max_batch_tokens: int | None = None  # hf
    prefix_sharing: bool | None = None  # hf
    head_screening: bool | None = None  # hf
    dtype: str | None = None  # hf, vllm
    device: str | None = None  # hf, vllm
    tensor_parallel_size: int | None = None  # vllm
    pipeline_parallel_size: int | None = None
    data_parallel_size: int | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    enable_prefix_caching: bool | None = None
    distributed_executor_backend: str | None = None
    enforce_eager: bool | None = None
    max_num_batched_tokens: int | None = None
    base_url: str | list[str] | None = None  # openai; several: one replica per server
    model_name: str | None = None
    concurrency: int | None = None
    request_timeout: float | None = None
    max_retries: int | None = None
    api_key_env: str | None = None
    prompt_format: str | None = None
    ray_address: str | None = None  # replicas as Ray actors (hf, vllm)
    ray_num_cpus: int | None = None
    ray_resources: dict | None = None


@dataclass
class RunConfig:
    """Everything one run needs: the options of `swallow-eval run`, one object from start to end.

    Give exactly one of `tasks` (names, or one comma-separated string) and `suite` ("ja", "en", "all").
    Tasks named in `tasks` must run (a missing data file is an error); a suite skips what cannot run.
    """

    model: str
    tasks: str | list[str] | tuple[str, ...] | None = None
    suite: str | None = None
    backend: str = "hf"
    backend_options: BackendOptions = field(default_factory=BackendOptions)
    limit: int | None = None  # first N items per task (per subtask)
    data_dir: Path | None = None
    output_dir: Path = Path("results")
    cache: Path | None = None  # response cache file (default: in the user cache)
    no_cache: bool = False
    tasks_dirs: tuple[Path, ...] = ()
    progress: bool = True
    chat_template: Path | None = None  # Jinja template overriding the model's (chat tasks)
    num_answers: int | None = None  # MT-Bench answers per question (reference: 5)
    judge_model: str | None = None
    judge_backend: str = "openai"
    judge_base_url: str | None = None
    judge_max_tokens: int = 2048
    max_new_tokens: int | None = None  # cap on every generation (smoke runs); recorded in results

    def __post_init__(self) -> None:  # paths may come as strings from a notebook
        self.output_dir = Path(self.output_dir)
        self.data_dir, self.cache, self.chat_template = (None if p is None else Path(p) for p in
                                                         (self.data_dir, self.cache, self.chat_template))
        self.tasks_dirs = tuple(Path(p) for p in self.tasks_dirs)

    @property
    def task_names(self) -> str | None:
        """`tasks` as the comma-separated string task selection takes."""
        if self.tasks is None or isinstance(self.tasks, str):
            return self.tasks
        return ",".join(self.tasks)


def evaluate(config: RunConfig, log: Log | None = None) -> RunResult:
    """Run `config` and write its folder; bad input raises `swallow_eval.UserError`."""
    from swallow_eval import models
    from swallow_eval.task import load_registry, select_tasks

    log = log or _logger.info
    started = time.perf_counter()
    selected = select_tasks(load_registry(config.tasks_dirs), config.suite, config.task_names)
    _check_options(config)
    skips = Skips(bool(config.tasks), log)  # tasks named in `tasks` must run
    skipped = skips.reasons
    runnable = _runnable(config, selected, skips)
    model_ref = models.resolve(config.model)
    log(f"loading {model_ref.spec} with the {config.backend} backend")
    load_started = time.perf_counter()
    template = config.chat_template.read_text(encoding="utf-8") if config.chat_template else None
    engine = _create_backend(config, model_ref, template)
    load_seconds = time.perf_counter() - load_started
    try:
        prepared = _prepare(config, runnable, engine.info, template, skips)
        answers, stats = _execute(config, prepared, engine, model_ref, log)
        _log_prompt_tokens(_serving(engine) or {}, stats.task_prompt_tokens, log)
    finally:
        engine.close()
    judge_record = _judge(config, prepared, answers, stats, log)
    run = _Run(config, model_ref, engine, prepared, answers, stats, skipped, judge_record)
    return _write(run, load_seconds, started)


def _check_options(config: RunConfig) -> None:
    from swallow_eval import backends
    from swallow_eval.results import check_writable

    backends.check(config.backend)
    if config.judge_model:
        backends.check(config.judge_backend)
    check_writable(config.output_dir)


def _runnable(config: RunConfig, selected: list, skips: Skips) -> list:
    """The selected tasks that have data and, when judged, a judge."""
    runnable = []
    for task in with_data(selected, config.data_dir, skips):
        if task.judge is not None and config.judge_model is None:
            skips.skip(task, "it is graded by a judge: pass --judge-model (and --judge-backend)")
            continue
        runnable.append(task)
    if not runnable:
        raise UserError("no selected task has data; pass --data-dir or run `swallow-eval data download`")
    return runnable


def _create_backend(config: RunConfig, model_ref, template: str | None):
    from swallow_eval import dispatch

    return dispatch.create(config.backend, model_ref, chat_template=template, **asdict(config.backend_options))


def _prepare(config: RunConfig, runnable: list, info, template: str | None, skips: Skips) -> list:
    """Items of each task with the reference's BOS decision for this model; chat tasks need a template."""
    from swallow_eval.pipeline import prepare
    from swallow_eval.task import BuildContext, bos_policy

    prepared = []
    for task in runnable:
        p = prepare(task, config.data_dir, config.limit,
                    BuildContext(tokenizer=info.tokenizer, num_answers=config.num_answers))
        if lacks_chat_template(p.items, info.tokenizer, template):
            skips.skip(task, f"--model {config.model} has no chat template; pass --chat-template FILE")
            continue
        p.add_bos = bos_policy(task.reference, info.path, info.model_type, info.tokenizer_adds_bos)
        p.max_new_tokens_cap = config.max_new_tokens
        prepared.append(p)
    if not prepared:
        raise UserError("no selected task can run with this model")
    return prepared


def _cache_path(config: RunConfig) -> Path:
    from swallow_eval.data import cache_home

    return config.cache or cache_home() / "responses.sqlite"


def _execute(config: RunConfig, prepared: list, engine, model_ref, log: Log):
    from swallow_eval.cache import ResponseCache
    from swallow_eval.pipeline import execute

    response_cache = None
    if not config.no_cache:
        response_cache = ResponseCache(_cache_path(config), {"model": model_ref.identity, **engine.identity()})
    return execute(prepared, engine, response_cache, show_progress=config.progress, log=log)


def _judge(config: RunConfig, prepared: list, answers: dict, stats, log: Log) -> dict | None:
    """Grade the judged tasks' answers (fills their judgments); the judge's part of the run config."""
    if not any(p.task.judge is not None for p in prepared):
        return None
    from swallow_eval import backends, models
    from swallow_eval import judge as judge_prompts
    from swallow_eval.cache import ResponseCache
    from swallow_eval.pipeline import judge

    judge_ref = models.resolve_judge(config.judge_model, config.judge_backend)
    log(f"judging with {judge_ref.spec} ({config.judge_backend} backend)")
    # The model's dtype/device/batch bounds carry over where the judge's backend has them.
    options = config.backend_options
    shared = backends.accepted(config.judge_backend, dtype=options.dtype, device=options.device,
                               batch_size=options.batch_size, max_batch_tokens=options.max_batch_tokens)
    grader = backends.create(config.judge_backend, judge_ref, base_url=config.judge_base_url, **shared)
    try:
        judge_cache = None
        if not config.no_cache:
            judge_cache = ResponseCache(_cache_path(config), {"judge": judge_ref.identity, **grader.identity(),
                                                              "prompts": judge_prompts.PROMPT_VERSION})
        judge_stats = judge(prepared, answers, grader, judge_cache, config.judge_max_tokens,
                            show_progress=config.progress, log=log)
    finally:
        grader.close()
    stats.seconds["judge"] = sum(judge_stats.seconds.values())
    return {"judge": judge_ref.spec, "judge_backend": config.judge_backend,
            "judge_max_tokens": config.judge_max_tokens, "num_answers": config.num_answers}


@dataclass
class _Run:
    """What the stages produced, for the writer."""

    config: RunConfig
    model_ref: Any
    engine: Any
    prepared: list
    answers: dict
    stats: Any
    skipped: dict[str, str]
    judge_record: dict | None


def _write(run: _Run, load_seconds: float, started: float) -> RunResult:
    from swallow_eval.metrics import MetricContext
    from swallow_eval.results import (config_hash, prepare_run_dir, results_payload, task_result, write_results,
                                      write_samples)
    from swallow_eval.scoring import score_task

    config = run.config
    record = {"tasks": [p.task.name for p in run.prepared], "model": run.model_ref.spec, "backend": config.backend,
              "limit": config.limit, "max_new_tokens_cap": config.max_new_tokens,
              "backend_settings": run.engine.identity(),
              "task_versions": {p.task.name: p.task.version for p in run.prepared}}
    if run.judge_record is not None:
        record.update(run.judge_record)
    run_dir = prepare_run_dir(config.output_dir, run.model_ref.name, record)
    scoring_started = time.perf_counter()
    task_results, samples = {}, {}
    context = MetricContext(tokenizer=run.engine.info.tokenizer)
    for p in run.prepared:
        responses = [run.answers[(p.task.name, item.index)] for item in p.items]
        score = score_task(p.task, p.items, responses, context)
        samples[p.task.name] = run_dir / "samples" / f"{p.task.name}.jsonl"
        write_samples(samples[p.task.name], p, score, responses)
        task_results[p.task.name] = task_result(p, score, responses, run.stats.task_prompt_tokens.get(p.task.name))
    stats = run.stats
    timings = {"model_load_s": round(load_seconds, 3), **{f"{k}_s": round(v, 3) for k, v in stats.seconds.items()},
               "scoring_s": round(time.perf_counter() - scoring_started, 3),
               "total_s": round(time.perf_counter() - started, 3)}
    payload = results_payload(run_dir, run.model_ref, run.engine, {**record, "config_hash": config_hash(record)},
                              task_results, run.skipped, stats, timings, _serving(run.engine))
    path = write_results(run_dir, payload)
    return RunResult.from_payload(payload, run_dir, path, samples)


def _log_prompt_tokens(serving: dict, per_task: dict[str, dict[str, int]], log: Log) -> None:
    """Prompt tokens the backend was asked for vs computed (prefix sharing computes shared prefixes once),
    per request kind and per task."""
    counts = [*serving.get("prompt_tokens", {}).items(), *per_task.items()]
    for name, count in counts:
        if count["requested"]:
            log(f"{name} prompt tokens: {count['requested']} requested, {count['computed']} computed")


def _serving(engine) -> dict | None:
    """What a backend reports about its serving (replicas, reassignments, ...), if it reports anything."""
    stats = getattr(engine, "stats", None)
    served = stats() if callable(stats) else None
    return served or None
