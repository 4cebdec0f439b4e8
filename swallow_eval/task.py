"""Task definitions and the registry that loads them from task files.

A task file (one per benchmark, in the top-level `tasks/` folder or a user's `--tasks-dir`) is a
Python module that defines `TASK = Task(...)`: where the data comes from, how each evaluated item
becomes requests, how a response becomes a prediction, which metrics score it and which model-card
column it feeds. Shared behaviour of a reference framework lives in `swallow_eval.families`.

The lifecycle of a task in one run (swallow_eval/runner.py), and where each hook is called:

1. `build(data, context)` -> items; `--limit` keeps the first N (per subtask) (pipeline.prepare).
2. Each item becomes requests: one generation for `prompt`/`messages` (with `generation`, or the
   item's own), one log-likelihood per `choices` pair (pipeline.item_requests). Requests of all
   tasks are deduplicated, answered from the cache or the backend, batch by batch (pipeline.execute).
3. `next_turn(item, answers)` (multi-turn tasks): after each round, the next turn's conversation,
   or None when the item is done; its answers join the item's texts (pipeline.execute).
4. `judge(item, answers)` (judged tasks): the judge model's conversations; its replies become the
   item's `judgments` (pipeline.judge).
5. Per item, the prediction: `predict(item, responses)` when given (it sees texts, log-likelihoods
   and judgments together), else each text through `extract` (or the raw text), else the index of
   the best-scoring choice (scoring.predict).
6. `execute(items, predictions)` (code tasks): one batch step over all predictions (scoring.score_task).
7. `metrics` score the predictions against each item's `target`; items with a `subtask` are also
   micro-averaged per subtask and per `groups` entry, beside any breakdown a metric defines
   (scoring.score_predictions). The `column` metric, through `Column.value`, is the card value.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from swallow_eval.data import DataFile, DataRoot
from swallow_eval.errors import UserError, closest
from swallow_eval.requests import GenerationSettings

if TYPE_CHECKING:
    from swallow_eval.pipeline import ItemResponses

# Reference frameworks (swallow-evaluation v202411); each decides BOS differently (see bos_policy).
LLM_JP_EVAL = "llm-jp-eval v1.3.0"
JP_HARNESS = "JP LM Evaluation Harness (Stability-AI fork)"
LM_EVAL = "lm-evaluation-harness v0.4.2"
BIGCODE = "bigcode-evaluation-harness"
FASTCHAT = "FastChat llm_judge"

SUITES = ("ja", "en")


@dataclass(frozen=True)
class Column:
    """The model-card column a task feeds: `value = round(metric / divisor)` as the card shows it."""

    key: str  # column id, as in results/reference/*.csv
    label: str  # header as printed on the card
    metric: str  # which of the task's metrics feeds the column
    metric_label: str  # e.g. "EM acc", "Char-F1"
    divisor: float = 1.0
    round_digits: int | None = None  # llm-jp-eval writes scores as "%.4f" strings

    def value(self, score: float) -> float:
        if self.round_digits is not None:
            score = float(f"{score:.{self.round_digits}f}")
        return score / self.divisor


@dataclass
class Item:
    """One evaluated item, exactly as the model sees it.

    Generation items carry `prompt` (raw text) or `messages` (a chat conversation); log-likelihood
    items carry `choices`, one (context, continuation) pair per answer option, and `target` is the
    gold index. `generation` overrides the task's settings for this item (MT-Bench's per-category
    temperature).
    """

    index: int
    target: Any
    prompt: str | None = None
    choices: list[tuple[str, str]] | None = None
    subtask: str | None = None
    meta: dict = field(default_factory=dict)
    messages: tuple[tuple[str, str], ...] | None = None
    generation: GenerationSettings | None = None
    # Items sharing a unit count once for --limit (MT-Bench: the answers to one question).
    unit: Any = None

    def prompt_row(self) -> dict:
        """The `swallow-eval prompts` line of this item (a stable contract)."""
        row: dict = {"index": self.index}
        if self.subtask is not None:
            row["subtask"] = self.subtask
        if self.prompt is not None:
            row.update(prompt=self.prompt, target=self.target)
        if self.messages is not None:
            row.update(messages=[list(m) for m in self.messages], target=self.target)
        if self.choices is not None:
            row.update(requests=[list(pair) for pair in self.choices], gold=self.target)
        return row

    def prompt_hash(self) -> str:
        fields = {"prompt": self.prompt, "choices": self.choices}
        if self.messages is not None:
            fields["messages"] = self.messages
        payload = json.dumps(fields, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass
class BuildContext:
    """What building items may need beyond the data: the evaluated model's tokenizer, if any."""

    tokenizer: Any = None
    num_answers: int | None = None  # answers per question for tasks that sample several (MT-Bench)


@dataclass(frozen=True)
class Task:
    name: str
    suite: str
    reference: str
    shots: int
    files: tuple[DataFile, ...]
    build: Callable[[DataRoot, BuildContext], list[Item]]
    metrics: tuple[str, ...]
    column: Column
    generation: GenerationSettings | None = None
    # Output clean-up applied to every generated text (None: the raw text is the prediction).
    extract: Callable[[str], Any] | None = None
    # Full override: (item, its responses) -> prediction, for tasks that need more than the texts
    # (texts and log-likelihoods together, judgments).
    predict: Callable[[Item, ItemResponses], Any] | None = None
    # Batch step over all predictions before the metrics (code execution): (items, predictions) -> predictions.
    execute: Callable[[list[Item], list[Any]], list[Any]] | None = None
    # Named groups of subtasks reported as micro-averages (MMLU/JMMLU categories).
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Multi-turn tasks: the conversation for the next turn given the answers so far, or None when done.
    next_turn: Callable[[Item, list[str]], tuple[tuple[str, str], ...] | None] | None = None
    # Judged tasks: the judge's conversations (one per turn) for an item's answers.
    judge: Callable[[Item, list[str]], list[tuple[tuple[str, str], ...]]] | None = None
    version: str = "1"
    description: str = ""
    # Why no sample ships (license, missing data); None when one does.
    no_sample_reason: str | None = None

    @property
    def request_type(self) -> str:
        return "generate" if self.generation is not None else "loglikelihood"


def bos_policy(reference: str, model_path: str, model_type: str, tokenizer_adds_bos: bool) -> bool:
    """Whether the reference framework prepends BOS for this model (ja-tasks §10.5, en-tasks §1.1)."""
    if reference == JP_HARNESS:
        # add_special_tokens=False unless the model path contains "gemma-2" (evaluate_ja_*.sh).
        return tokenizer_adds_bos and "gemma-2" in model_path
    if reference == LM_EVAL:
        # add_bos_token defaults to False; the Swallow fork forces it when model_type contains "gemma".
        return tokenizer_adds_bos and "gemma" in model_type
    # llm-jp-eval with transformers >= 4.43 (what its unpinned install resolved to in Nov 2024),
    # bigcode and FastChat all tokenize with the tokenizer's default special tokens.
    return tokenizer_adds_bos


# ---- registry ----------------------------------------------------------------------------------


def builtin_tasks_dir() -> Path:
    """`tasks/` ships as the package `swallow_eval.tasks`; in a source checkout it is the top-level folder."""
    installed = Path(__file__).parent / "tasks"
    return installed if installed.is_dir() else Path(__file__).parent.parent / "tasks"


def _load_task_file(path: Path) -> Task:
    spec = importlib.util.spec_from_file_location(f"swallow_eval_task_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken plugin must name itself
        raise UserError(f"task file {path} failed to load: {type(exc).__name__}: {exc}") from exc
    task = getattr(module, "TASK", None)
    if not isinstance(task, Task):
        raise UserError(f"task file {path} does not define TASK = Task(...)")
    return task


def load_registry(extra_dirs=()) -> dict[str, Task]:
    """All tasks: built-in ones, then those of each --tasks-dir (which may override a built-in)."""
    tasks: dict[str, Task] = {}
    for folder in (builtin_tasks_dir(), *map(Path, extra_dirs)):
        if not folder.is_dir():
            raise UserError(f"--tasks-dir {folder} is not a directory")
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            task = _load_task_file(path)
            tasks[task.name] = task
    return tasks


def select_tasks(registry: dict[str, Task], suite: str | None, names: str | None) -> list[Task]:
    """Tasks chosen by --suite ja|en|all or --tasks a,b (registry order: ja suite first)."""
    if bool(suite) == bool(names):
        raise UserError("give exactly one of --suite or --tasks")
    if suite:
        if suite not in (*SUITES, "all"):
            raise UserError(f"unknown suite {suite!r}: choose ja, en or all")
        chosen = [t for t in registry.values() if suite in ("all", t.suite)]
        return sorted(chosen, key=lambda t: SUITES.index(t.suite))
    selected = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in registry:
            raise UserError(f"unknown task {name!r}{closest(name, registry)}; `swallow-eval tasks` lists them")
        selected.append(registry[name])
    return selected
