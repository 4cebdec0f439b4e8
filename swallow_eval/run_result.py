"""What `evaluate` returns: the run's scores, paths and statistics, typed, and its per-item samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from swallow_eval.schema import ResultsFile, SampleRecord, TaskEntry, load_results
from swallow_eval.uncertainty import card_stderr


def read_samples(path: Path) -> Iterator[SampleRecord]:
    """The records of one samples/<task>.jsonl, in evaluation order."""
    from swallow_eval.data import read_jsonl

    for _, row in read_jsonl(path):
        yield row


@dataclass
class TaskOutcome:
    """One task's scores: every metric as results.json has it, and the card value with its SE."""

    name: str
    n: int  # evaluated items
    metrics: dict[str, float | None]  # on each metric's own scale (percentages stay 0-100)
    card_column: str
    card_value: float | None  # on the card's 0-1 scale
    stderr: float | None  # of card_value, from the per-item scores (None: corpus metric or n < 2)
    subtasks: dict[str, dict[str, float | None]]
    groups: dict[str, dict[str, float | None]]
    samples_path: Path
    entry: TaskEntry  # the task's full results.json entry

    @classmethod
    def from_entry(cls, name: str, entry: TaskEntry, samples_path: Path) -> TaskOutcome:
        rows = list(read_samples(samples_path)) if samples_path.is_file() else []
        return cls(name, entry["n"], {m: e["value"] for m, e in entry["metrics"].items()}, entry["card"]["column"],
                   entry["card"]["value"], card_stderr(entry, rows) if rows else None, entry["subtasks"],
                   entry["groups"], samples_path, entry)


@dataclass
class RequestStats:
    total: int  # requests the items needed
    distinct: int  # after deduplication across tasks
    cached: int  # served from the response cache
    computed: int  # sent to the backend
    prompt_tokens: int
    generated_tokens: int


@dataclass
class RunResult:
    """A finished run; `results` is its results.json as written."""

    run_id: str
    run_dir: Path
    results_path: Path
    tasks: dict[str, TaskOutcome]
    card: dict[str, float | None]  # card column -> value
    skipped: dict[str, str]  # task -> why it did not run
    requests: RequestStats
    timings: dict[str, float]  # seconds per stage
    results: ResultsFile
    serving: dict = field(default_factory=dict)  # what the backend reported about serving, if anything

    @property
    def samples_paths(self) -> dict[str, Path]:
        return {name: task.samples_path for name, task in self.tasks.items()}

    def samples(self, task: str | None = None) -> Iterator[tuple[str, SampleRecord]]:
        """(task, record) for every evaluated item, of one task or of all in run order."""
        names = [task] if task is not None else list(self.tasks)
        for name in names:
            for record in read_samples(self.tasks[name].samples_path):
                yield name, record

    @classmethod
    def from_payload(cls, payload: ResultsFile, run_dir: Path, results_path: Path,
                     samples_paths: dict[str, Path] | None = None) -> RunResult:
        samples_paths = samples_paths or {}
        tasks = {name: TaskOutcome.from_entry(name, entry,
                                              samples_paths.get(name, run_dir / "samples" / f"{name}.jsonl"))
                 for name, entry in payload["tasks"].items()}
        req, tokens = payload.get("requests", {}), payload.get("tokens", {})
        stats = RequestStats(req.get("total", 0), req.get("distinct", 0), req.get("cached", 0), req.get("computed", 0),
                             tokens.get("prompt", 0), tokens.get("generated", 0))
        return cls(payload.get("run_id", run_dir.name), run_dir, results_path, tasks, payload.get("card", {}),
                   payload.get("skipped", {}), stats, payload.get("timings", {}), payload, payload.get("serving", {}))

    @classmethod
    def load(cls, path: Path) -> RunResult:
        """A run written earlier: its folder or its results.json."""
        path = Path(path)
        results_path = path if path.is_file() else path / "results.json"
        return cls.from_payload(load_results(results_path), results_path.parent, results_path)
