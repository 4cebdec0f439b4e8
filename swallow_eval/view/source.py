"""The one place the viewer reads run files: a run's results.json and its samples/<task>.jsonl.

It goes through `compare.load_run` (the typed loader `schema.load_results`: unknown schema versions
are refused), so the viewer accepts what `compare` accepts and pairs items by the same key
((subtask, index) in `row["_key"]`). A change of how runs are read changes this module only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from swallow_eval.compare import Run, load_run
from swallow_eval.errors import UserError


@dataclass
class RunFiles:
    """A run folder: its results.json payload and, per task, its samples rows in evaluation order."""

    run: Run
    samples: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.run.folder

    @property
    def results(self) -> dict:
        return self.run.results


def read_run(path: Path) -> RunFiles:
    """Read a run folder (or its results.json) and every task's samples file; bad input -> UserError."""
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_dir() and not (path / "results.json").is_file():
        raise UserError(f"{path / 'results.json'}: missing (not a run folder)")
    run: Run = load_run(path)
    files = RunFiles(run)
    for task in run.results["tasks"]:
        samples = run.folder / "samples" / f"{task}.jsonl"
        if not samples.is_file():
            raise UserError(f"{samples}: missing (results.json lists task {task})")
        files.samples[task] = run.samples(task)
    return files
