"""bigcode-evaluation-harness's HumanEval tasks as swallow-evaluation v202411 runs them
(ja-tasks.md §8, en-tasks.md §2.10): the "unstripped" prompt, 0-shot, 10 samples at T=0.2,
programs executed against the problem's tests, pass@k.

The prompt is the problem's `prompt` unchanged (trailing newline kept); the completion is cut at
the earliest stop string and the program is `prompt + completion`; the test program appends
`"\\n" + test + "\\n" + "check(<entry_point>)"` (tasks/humaneval.py `get_reference`,
custom_metrics/code_eval.py). Programs run in swallow_eval.execution's sandbox.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from swallow_eval import execution
from swallow_eval.data import DataFile, DataRoot, read_jsonl, row_errors
from swallow_eval.errors import UserError
from swallow_eval.requests import cut_at_stop
from swallow_eval.task import BIGCODE, BuildContext, Column, GenerationSettings, Item, Task

if TYPE_CHECKING:
    from swallow_eval.pipeline import ItemResponses

# GeneralHumanEval.__init__; the tokenizer's EOS is added by the backend (generation.py).
STOP = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")
# --n_samples 10 --max_length_generation 1024 (prompt + completion), temperature 0.2, top_p 0.95,
# top_k 0, set_seed(0) (bigcode_eval/arguments.py, main.py).
GENERATION = GenerationSettings(max_new_tokens=1024, stop=STOP, n=10, temperature=0.2, top_p=0.95, seed=0,
                                max_total_tokens=1024)
METRICS = ("pass@1", "pass@10", "answer@10")


def problems(data: DataRoot, file: DataFile) -> list[Item]:
    path = data.path(file)
    items = []
    for line, row in read_jsonl(path):
        with row_errors(path, line):
            items.append(Item(
                index=len(items),
                prompt=row["prompt"],
                target="\n" + row["test"] + "\n" + f"check({row['entry_point']})",
                meta={"task_id": row["task_id"]},
            ))
    return items


def programs(item: Item, responses: ItemResponses) -> list[str]:
    """`prompt + completion cut at the stop strings` (postprocess_generation); cutting again is a
    no-op for a backend's output and needed for completions scored from a file."""
    return [item.prompt + cut_at_stop(text, STOP) for text in responses.texts]


def execution_settings() -> tuple[execution.Limits, int | None]:
    """The reference's 3.0 s per program, and one worker per core, unless the environment says otherwise."""
    try:
        timeout = float(os.environ.get("SWALLOW_EVAL_EXEC_TIMEOUT", "3.0"))
        workers = int(os.environ["SWALLOW_EVAL_EXEC_WORKERS"]) if os.environ.get("SWALLOW_EVAL_EXEC_WORKERS") else None
    except ValueError as exc:
        raise UserError(f"SWALLOW_EVAL_EXEC_TIMEOUT / SWALLOW_EVAL_EXEC_WORKERS: not a number ({exc})") from exc
    if timeout <= 0 or (workers is not None and workers < 1):
        raise UserError("SWALLOW_EVAL_EXEC_TIMEOUT must be > 0 and SWALLOW_EVAL_EXEC_WORKERS >= 1")
    return execution.Limits(timeout=timeout), workers


def run_tests(items: list[Item], predictions: list[list[str]]) -> list[dict]:
    """Execute every program with its problem's tests; per problem the programs, each one's
    result string and the pass count."""
    limits, workers = execution_settings()
    jobs = [program + "\n" + item.target for item, group in zip(items, predictions) for program in group]
    started = time.perf_counter()
    try:
        with execution.Sandbox(limits, workers) as sandbox:
            print(f"executing {len(jobs)} programs on {sandbox.workers} workers; sandbox: "
                  + "; ".join(f"{k}: {v}" for k, v in sandbox.isolation.items() if k != "limits"), file=sys.stderr)
            outcomes = iter(sandbox.run(jobs))
    except execution.SandboxError as exc:
        raise UserError(f"code execution: {exc}") from exc
    print(f"executed {len(jobs)} programs in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    judged = []
    for group in predictions:
        results = [next(outcomes).result for _ in group]
        judged.append({"programs": group, "results": results, "passed": results.count("passed")})
    return judged


def task(*, name: str, suite: str, file: DataFile, column: Column, description: str) -> Task:
    def build(data: DataRoot, context: BuildContext) -> list[Item]:
        return problems(data, file)

    return Task(
        name=name,
        suite=suite,
        reference=BIGCODE,
        shots=0,
        files=(file,),
        build=build,
        metrics=METRICS,
        column=column,
        generation=GENERATION,
        predict=programs,
        execute=run_tests,
        description=description,
        # The data is MIT-licensed and small; the sample run is what does not fit.
        no_sample_reason="10 samples of up to 1,024 tokens per problem take minutes per problem on a CPU; "
                         "`swallow-eval data download --tasks " + name + "` fetches the 164 problems",
    )
