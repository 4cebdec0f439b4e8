"""Which selected tasks can run, and why the others are skipped (shared by `run` and `plan`).

A task chosen by a suite is skipped with its reason; a task asked for by name (`--tasks`) must run,
so the same reason becomes the user's error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from swallow_eval.data import choose_root
from swallow_eval.errors import UserError
from swallow_eval.task import Item, Task


class Skips:
    """The skipped tasks and their reasons, in selection order."""

    def __init__(self, by_name: bool, log: Callable[[str], None]):
        self.by_name, self.log = by_name, log
        self.reasons: dict[str, str] = {}

    def skip(self, task: Task, reason: str) -> None:
        if self.by_name:  # asked for by name: it must run
            raise UserError(f"task {task.name}: {reason}")
        self.reasons[task.name] = reason
        self.log(f"skipping {task.name}: {reason}")


def with_data(selected: list[Task], data_dir: Path | None, skips: Skips) -> list[Task]:
    """The selected tasks whose data files are all found; each other one is skipped (a --data-dir
    holding some benchmarks only, as shared/data, skips the others instead of failing the run)."""
    found = []
    for task in selected:
        try:
            root = choose_root(task.name, task.files, data_dir)
        except UserError as exc:
            skips.skip(task, task.no_sample_reason or str(exc))
            continue
        missing = next((file for file in task.files if not root.present(file)), None)
        if missing is not None:
            try:
                root.path(missing)
            except UserError as exc:  # its message names the file, its copies and where to get it
                skips.skip(task, str(exc))
                continue
        found.append(task)
    return found


def lacks_chat_template(items: list[Item], tokenizer, chat_template: str | None) -> bool:
    """Whether some item is a chat conversation and neither --chat-template nor the model has a template."""
    return chat_template is None and not getattr(tokenizer, "chat_template", None) and any(i.messages for i in items)
