"""`swallow-eval view`: one self-contained HTML page to read every item of a run (and what changed).

source.py reads the run files, payload.py turns them into compact per-task data, page.py writes the
page around viewer.js and viewer.css.
"""

from __future__ import annotations

from pathlib import Path

from swallow_eval.errors import UserError
from swallow_eval.task import load_registry
from swallow_eval.view import page, payload
from swallow_eval.view.source import read_run


def build(run_dir: Path, against: Path | None = None, output: Path | None = None) -> Path:
    """Write the viewer page of `run_dir` (default RUN_DIR/view.html) and return its path."""
    run = read_run(run_dir)
    other = read_run(against) if against is not None else None
    tasks = [payload.task_view(name, entry, run.samples[name]) for name, entry in run.results["tasks"].items()]
    registry = load_registry()
    for task in tasks:
        task["partial"] = payload.partial_note(run.results, task["name"], registry)
    comparison = payload.against_view(run, other) if other is not None else None
    text = page.render(payload.header(run), tasks, comparison)
    path = output or run.folder / "view.html"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--output {path}: cannot write ({exc.strerror or exc})") from exc
    return path
