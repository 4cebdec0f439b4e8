"""The `swallow-eval` command line: run, plan, tasks, prompts, score, metric, report, view, compare, data.

The commands, their options and their JSON outputs are a contract other tools rely on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from swallow_eval import cli_errors
from swallow_eval.cli_output import print_summary, print_tasks, print_wide
from swallow_eval.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Evaluate LLMs on the Swallow model card's Japanese and English benchmarks.")
data_app = typer.Typer(no_args_is_help=True, help="Benchmark data: download the original files.")
app.add_typer(data_app, name="data")

_debug = False

HF, LOCAL, VLLM, OPENAI = "hf backend", "hf and vllm backends", "vllm backend", "openai backend"
REPLICAS = "data parallelism (hf and vllm backends; README: Clusters)"
TasksDir = typer.Option([], "--tasks-dir", help="Extra folder of task files (repeatable).")
DataDir = typer.Option(None, "--data-dir", help="Folder with the original files, laid out <benchmark>/<file>.",
                       envvar="SWALLOW_EVAL_DATA_DIR", show_envvar=True)


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.")) -> None:
    global _debug
    _debug = debug


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _emit(payload) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")


@app.command()
def run(
    model: str = typer.Option(..., "--model", help="proxy:gemma3-270m, a checkpoint folder or a hub id."),
    suite: Optional[str] = typer.Option(None, "--suite", help="ja, en or all."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated task names."),
    backend: str = typer.Option("hf", "--backend", help="hf, vllm or openai."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="First N items per task (per subtask)."),
    data_dir: Optional[Path] = DataDir,
    output_dir: Path = typer.Option(Path("results"), "--output-dir"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="hf backend: rows per batch (default 16).",
                                             rich_help_panel=HF),
    max_batch_tokens: Optional[int] = typer.Option(
        None, "--max-batch-tokens", min=1, rich_help_panel=HF,
        help="Bound on a batch's rows x tokens, generated tokens included (default 8192; greedy decoding from "
             "prompts prefilled one at a time counts what its KV cache holds: a sliding window at most its length)."),
    prefix_sharing: Optional[bool] = typer.Option(
        None, "--prefix-sharing/--no-prefix-sharing", rich_help_panel=HF,
        help="Compute each shared prompt prefix once (default on; off: every prompt in full)."),
    head_screening: Optional[bool] = typer.Option(
        None, "--head-screening/--no-head-screening", rich_help_panel=HF,
        help="Greedy decoding reads the fp32 output head through an exact bf16 screen (default on where it applies)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32 (CPU default), bfloat16, auto.",
                                        rich_help_panel=LOCAL),
    device: Optional[str] = typer.Option(None, "--device", help="cpu or cuda (default: cuda if available).",
                                         rich_help_panel=LOCAL),
    tensor_parallel_size: Optional[int] = typer.Option(None, "--tensor-parallel-size", min=1, rich_help_panel=VLLM),
    pipeline_parallel_size: Optional[int] = typer.Option(None, "--pipeline-parallel-size", min=1,
                                                         rich_help_panel=VLLM),
    data_parallel_size: Optional[int] = typer.Option(
        None, "--data-parallel-size", min=1, rich_help_panel=REPLICAS,
        help="Replicas of the model, each on its own cores or tensor x pipeline GPU group, sharing the requests."),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", rich_help_panel=REPLICAS,
        help="Run the replicas as Ray actors on this cluster (auto or HOST:PORT); needs swallow-eval[ray]."),
    ray_num_cpus: Optional[int] = typer.Option(None, "--ray-num-cpus", min=1, rich_help_panel=REPLICAS,
                                               help="CPUs reserved per Ray replica (default 1; hf: its threads)."),
    ray_resources: Optional[str] = typer.Option(
        None, "--ray-resources", rich_help_panel=REPLICAS,
        help='Custom Ray resources reserved per replica, as JSON (e.g. \'{"eval_slot": 1}\').'),
    max_model_len: Optional[int] = typer.Option(None, "--max-model-len", min=2, rich_help_panel=VLLM),
    gpu_memory_utilization: Optional[float] = typer.Option(None, "--gpu-memory-utilization", min=0.05, max=1.0,
                                                           rich_help_panel=VLLM),
    enable_prefix_caching: Optional[bool] = typer.Option(
        None, "--enable-prefix-caching/--no-enable-prefix-caching", rich_help_panel=VLLM,
        help="Share the KV cache of common prompt prefixes (few-shot examples); on by default."),
    distributed_executor_backend: Optional[str] = typer.Option(
        None, "--distributed-executor-backend", rich_help_panel=VLLM,
        help="mp (one node) or ray (several nodes: see README)."),
    enforce_eager: Optional[bool] = typer.Option(
        None, "--enforce-eager", rich_help_panel=VLLM,
        help="No torch.compile / CUDA graphs: faster start, slower run (CPU builds start minutes faster)."),
    max_num_batched_tokens: Optional[int] = typer.Option(
        None, "--max-num-batched-tokens", min=1, rich_help_panel=VLLM,
        help="Tokens per engine step; bounds the memory of prompt log-probs (positions x vocabulary)."),
    base_url: Optional[list[str]] = typer.Option(
        None, "--base-url", rich_help_panel=OPENAI,
        help="e.g. http://127.0.0.1:8000/v1; repeat it for several servers of the same model (requests are spread)."),
    model_name: Optional[str] = typer.Option(
        None, "--model-name", rich_help_panel=OPENAI,
        help="The served model's name (default: the only one GET /models lists). --model names its tokenizer."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, rich_help_panel=OPENAI,
                                              help="Requests in flight at once (default 8)."),
    request_timeout: Optional[float] = typer.Option(None, "--request-timeout", min=0.1, rich_help_panel=OPENAI,
                                                    help="Seconds per attempt (default 600)."),
    max_retries: Optional[int] = typer.Option(None, "--max-retries", min=0, rich_help_panel=OPENAI,
                                              help="Retries on 429, 5xx and connection errors (default 8)."),
    prompt_format: Optional[str] = typer.Option(
        None, "--prompt-format", rich_help_panel=OPENAI,
        help="tokens (default: token ids, exact BOS and boundaries) or text (servers that take only text, "
             "e.g. llama-cpp-python; the server applies its own BOS default)."),
    api_key_env: Optional[str] = typer.Option(
        None, "--api-key-env", rich_help_panel=OPENAI,
        help="Environment variable holding the API key (default OPENAI_API_KEY); the key is never written."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Response cache file (default: in the user cache)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the response cache."),
    tasks_dir: list[Path] = TasksDir,
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    chat_template: Optional[Path] = typer.Option(None, "--chat-template", exists=True, dir_okay=False,
                                                 help="Jinja chat template overriding the model's (chat tasks)."),
    num_answers: Optional[int] = typer.Option(None, "--num-answers", min=1,
                                              help="Answers per question for MT-Bench (reference: 5)."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Judge for judged tasks (MT-Bench)."),
    judge_backend: str = typer.Option("openai", "--judge-backend", help="Backend serving the judge."),
    judge_base_url: Optional[str] = typer.Option(
        None, "--judge-base-url", help="OpenAI-compatible server of the judge (default: OPENAI_BASE_URL, else OpenAI)."),
    judge_max_tokens: int = typer.Option(2048, "--judge-max-tokens", min=1, help="Reference: 2048."),
    max_new_tokens: Optional[int] = typer.Option(
        None, "--max-new-tokens", min=1,
        help="Cap every generation (smoke/CI runs on small models); departs from the reference, recorded."),
) -> None:
    """Evaluate a model on tasks and write results/<model>/<run-id>/."""
    from swallow_eval.runner import BackendOptions, RunConfig, evaluate

    options = BackendOptions(
        batch_size=batch_size, max_batch_tokens=max_batch_tokens, prefix_sharing=prefix_sharing, head_screening=head_screening,
        dtype=dtype, device=device,
        tensor_parallel_size=tensor_parallel_size,
        pipeline_parallel_size=pipeline_parallel_size, data_parallel_size=data_parallel_size,
        max_model_len=max_model_len, gpu_memory_utilization=gpu_memory_utilization,
        enable_prefix_caching=enable_prefix_caching, distributed_executor_backend=distributed_executor_backend,
        enforce_eager=enforce_eager, max_num_batched_tokens=max_num_batched_tokens, base_url=base_url,
        model_name=model_name, concurrency=concurrency, request_timeout=request_timeout, max_retries=max_retries,
        api_key_env=api_key_env, prompt_format=prompt_format, ray_address=ray_address, ray_num_cpus=ray_num_cpus,
        ray_resources=_json_option("--ray-resources", ray_resources),
    )
    config = RunConfig(
        model=model, tasks=tasks, suite=suite, backend=backend, backend_options=options, limit=limit,
        data_dir=data_dir, output_dir=output_dir, cache=cache, no_cache=no_cache, tasks_dirs=tuple(tasks_dir),
        progress=progress, chat_template=chat_template, num_answers=num_answers, judge_model=judge_model,
        judge_backend=judge_backend, judge_base_url=judge_base_url, judge_max_tokens=judge_max_tokens,
        max_new_tokens=max_new_tokens,
    )
    result = evaluate(config, log=_log)
    print_summary(result.results["tasks"])
    _log(f"results: {result.results_path}")


def _json_option(option: str, value: Optional[str]):
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise UserError(f"{option} {value}: not JSON ({exc})") from exc


@app.command()
def plan(
    model: str = typer.Option(..., "--model", help="Whose tokenizer and context length count the tokens."),
    suite: Optional[str] = typer.Option(None, "--suite", help="ja, en or all."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated task names."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="First N items per task (per subtask)."),
    data_dir: Optional[Path] = DataDir,
    tokens_per_second: Optional[float] = typer.Option(
        None, "--tokens-per-second", help="Throughput for the time column: (distinct prompt + max new tokens) / X."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", min=1, help="As for run."),
    num_answers: Optional[int] = typer.Option(None, "--num-answers", min=1, help="As for run (MT-Bench)."),
    chat_template: Optional[Path] = typer.Option(None, "--chat-template", exists=True, dir_okay=False,
                                                 help="As for run (chat tasks)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: per task and total."),
    tasks_dir: list[Path] = TasksDir,
) -> None:
    """Count the items, requests and tokens a run would send, without loading the model's weights."""
    from swallow_eval.plan import make_plan, table

    counted = make_plan(model, suite, tasks, data_dir, limit, tasks_dir, max_new_tokens, num_answers,
                        chat_template.read_text(encoding="utf-8") if chat_template else None,
                        tokens_per_second, _log)
    if as_json:
        _emit(counted.to_json())
        return
    print_wide(table(counted))


@app.command("tasks")
def list_tasks(
    tasks_dir: list[Path] = TasksDir,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per task."),
) -> None:
    """List the tasks with suite, shots, metric and model-card column."""
    from swallow_eval.task import load_registry

    registry = load_registry(tasks_dir)
    if as_json:
        for task in registry.values():
            _emit({"name": task.name, "suite": task.suite, "shots": task.shots, "metrics": list(task.metrics),
                   "column": task.column.label, "request_type": task.request_type, "reference": task.reference})
        return
    print_tasks(registry)


TokenizerOption = typer.Option(None, "--tokenizer", help="Model whose tokenizer the task or metric needs.")


@app.command()
def prompts(
    task: str = typer.Argument(..., help="Task name."),
    data_dir: Optional[Path] = DataDir,
    limit: Optional[int] = typer.Option(None, "--limit", min=1),
    tokenizer: Optional[str] = TokenizerOption,
    tasks_dir: list[Path] = TasksDir,
) -> None:
    """Print every evaluated item's exact prompt and target as JSONL, in evaluation order."""
    from swallow_eval.rescore import prepare_task

    prepared = prepare_task(task, data_dir, tokenizer, limit, tasks_dir)
    for item in prepared.items:
        _emit(item.prompt_row())


@app.command()
def score(
    task: str = typer.Argument(..., help="Task name."),
    predictions: Path = typer.Option(..., "--predictions", exists=True, dir_okay=False,
                                     help='JSONL: {"index": i, "output": "..."} or {"index": i, "loglikelihoods": [...]}'),
    data_dir: Optional[Path] = DataDir,
    tokenizer: Optional[str] = TokenizerOption,
    tasks_dir: list[Path] = TasksDir,
) -> None:
    """Re-score saved outputs without a model."""
    from swallow_eval.rescore import score_predictions_file

    _emit(score_predictions_file(task, predictions, data_dir, tokenizer, tasks_dir).to_json())


@app.command()
def metric(
    name: str = typer.Argument(..., help="Metric name."),
    input: Path = typer.Option(..., "--input", exists=True, dir_okay=False,
                               help='JSONL: {"prediction": ..., "reference": ...}'),
    tokenizer: Optional[str] = TokenizerOption,
) -> None:
    """Apply one metric, with Swallow's exact definition, to prediction/reference pairs."""
    from swallow_eval import metrics
    from swallow_eval.rescore import apply_metric, read_pairs

    metrics.get(name)  # an unknown name fails before the input is read
    result = apply_metric(name, *read_pairs(input), tokenizer=tokenizer)
    _emit({"metric": name, "per_item": result.per_item, "score": result.score,
           **({"details": result.details} if result.details else {})})


@app.command()
def report(
    result_dirs: Optional[list[Path]] = typer.Argument(None, help="Run folders, results.json files, or folders holding runs."),
    reference: bool = typer.Option(False, "--reference", help="Add the published rows of the card (Llama 3.x, Qwen2/2.5, GPT-4o, ...)."),
    fmt: str = typer.Option("md", "--format", help="md, csv, html, latex or json."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write to FILE instead of stdout."),
    partial_average: bool = typer.Option(False, "--partial-average", help="Average rows with missing columns too (marked)."),
    include_partial_runs: bool = typer.Option(
        False, "--include-partial-runs",
        help="Let runs on the embedded sample, with --limit or a --max-new-tokens cap (marked ‡) count for "
             "bold-best and averages."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw FILE.png: bars per table, a radar per model."),
    table: Optional[str] = typer.Option(None, "--table", help="Only these tables: ja, en, mt_bench (comma-separated)."),
    tasks_dir: list[Path] = TasksDir,
) -> None:
    """Build the model card's Japanese, English and MT-Bench tables from results (a leaderboard)."""
    from swallow_eval.report import build_report
    from swallow_eval.report.render import check_format, render

    check_format(fmt)
    built = build_report(list(result_dirs or []), reference=reference, tables=table,
                         partial_average=partial_average, include_partial_runs=include_partial_runs,
                         tasks_dirs=tasks_dir)
    for note in built.notes:
        _log(f"note: {note}")
    text = render(built.sections, fmt, link_base=None if output is None else output.resolve().parent)
    if plot is not None:
        from swallow_eval.report.plot import plot as draw

        draw(built.card_sections, plot)
        _log(f"plot: {plot}")
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--output {output}: cannot write ({exc.strerror or exc})") from exc
    _log(f"report: {output}")


@app.command()
def view(
    run_dir: Path = typer.Argument(..., help="Run folder (or its results.json)."),
    against: Optional[Path] = typer.Option(None, "--against", help="Run folder to compare with (the baseline)."),
    output: Optional[Path] = typer.Option(None, "--output", help="HTML file to write (default: RUN_DIR/view.html)."),
) -> None:
    """Write one self-contained HTML page to read every item of a run (and what changed --against a run)."""
    from swallow_eval.view import build

    _log(f"view: {build(run_dir, against, output)}")


@app.command()
def compare(
    baseline: Path = typer.Argument(..., help="Run folder of the baseline."),
    candidate: Path = typer.Argument(..., help="Run folder of the candidate."),
    tolerance: float = typer.Option(0.01, "--tolerance", min=0, help="Largest drop (0-1 scale) that is not a regression."),
    alpha: float = typer.Option(0.05, "--alpha", min=0, max=1, help="Significance level of the per-task test."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Compare only these tasks (comma-separated)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object with every task and every changed item."),
    max_flips: int = typer.Option(10, "--max-flips", min=0, help="Changed items listed per task in the text output."),
) -> None:
    """CI regression check: exit 1 if a task dropped beyond --tolerance significantly, 2 if not comparable."""
    from swallow_eval.compare import compare_runs, to_json, to_text

    result = compare_runs(baseline, candidate, tolerance, alpha, tasks)
    sys.stdout.write(to_json(result) + "\n" if as_json else to_text(result, max_flips))
    raise typer.Exit(result.exit_code)


@data_app.command("download")
def data_download(
    suite: Optional[str] = typer.Option(None, "--suite", help="ja, en or all (default: all)."),
    tasks: Optional[str] = typer.Option(None, "--tasks"),
    mirror: Optional[str] = typer.Option(None, "--mirror", help="Base URL serving <benchmark>/<file> instead of the original URLs."),
    dest: Optional[Path] = typer.Option(None, "--dest", help="Target folder (default: the download cache)."),
    tasks_dir: list[Path] = TasksDir,
) -> None:
    """Download the original benchmark files (for air-gapped clusters: then copy the folder)."""
    from swallow_eval.data import download, download_root
    from swallow_eval.task import load_registry, select_tasks

    selected = select_tasks(load_registry(tasks_dir), suite if suite or tasks else "all", tasks)
    root = dest or download_root()
    files = {f.path: f for task in selected for f in task.files}
    for file in files.values():
        path = download(file, root, mirror)
        _log(f"ok {path}")
    _log(f"{len(files)} files in {root}")


INTERRUPTED = "interrupted: finished requests are in the response cache; rerun the same command to resume"


def main() -> None:
    try:
        # Without standalone mode click returns the code of a `typer.Exit(code)` instead of raising it,
        # and raises its usage errors here, where they become one `error:` line (cli_errors).
        exit_code = app(standalone_mode=False)
        if exit_code == 130:  # typer turns Ctrl-C (KeyboardInterrupt) into exit code 130
            _log(INTERRUPTED)
        if isinstance(exit_code, int) and exit_code:
            sys.exit(exit_code)
    except UserError as exc:
        if _debug:
            raise
        _log(f"error: {exc}")
        sys.exit(2)
    except (KeyboardInterrupt, *cli_errors.ABORTS):
        _log(INTERRUPTED)
        sys.exit(130)
    except cli_errors.EXITS as exc:
        sys.exit(exc.exit_code)
    except cli_errors.CLICK_ERRORS as exc:
        if cli_errors.is_help(exc):
            exc.show()
            sys.exit(exc.exit_code)
        _log(f"error: {cli_errors.one_line(exc)}")
        sys.exit(2)
