"""`swallow-eval report`: results folders (and the published card rows) -> the card's tables.

layout.py declares the tables, leaderboard.py turns results.json files into rows, render.py writes
them as Markdown/CSV/LaTeX/JSON/HTML and plot.py draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from swallow_eval.errors import UserError
from swallow_eval.report import layout
from swallow_eval.report.leaderboard import (ModelScores, Row, breakdown_tables, models_from_results,
                                             reference_models, table_rows)
from swallow_eval.task import Task


@dataclass
class Report:
    sections: list[tuple[layout.Table, list[Row]]]  # the card's tables, then per-category breakdowns
    notes: list[str] = field(default_factory=list)

    @property
    def card_sections(self) -> list[tuple[layout.Table, list[Row]]]:
        return [(table, rows) for table, rows in self.sections if table.name in {t.name for t in layout.TABLES}]


def build(result_paths: list[Path], registry: dict[str, Task], *, reference: bool = False,
          tables: str | None = None, partial_average: bool = False,
          include_partial_runs: bool = False) -> Report:
    if not result_paths and not reference:
        raise UserError("give RESULT_DIR… and/or --reference")
    notes: list[str] = []
    models: list[ModelScores] = ((reference_models() if reference else [])
                                 + models_from_results(result_paths, notes, registry))
    seen_labels = {key: label for m in models for key, label in m.labels.items()}
    card = layout.card_tables(registry, seen_labels)
    chosen = layout.select(card, tables)
    fed = {task.column.key for task in registry.values()}
    unfed = [c.key for t in chosen for c in t.columns if c.group_of is None and c.key not in fed]
    if unfed:
        notes.append(f"no registered task feeds {', '.join(unfed)}: those headers show the key, no shots or metric")
    labels = {c.key: c.label for t in card for c in (*t.columns, t.average)}
    sections = [(t, table_rows(t, models, partial_average, include_partial_runs)) for t in chosen]
    # Breakdowns belong to the chosen tables' columns (JMMLU with ja, MMLU with en, turns with MT-Bench).
    chosen_keys = {c.key for t in chosen for c in (*t.columns, t.average)}
    for table in breakdown_tables(card, models, labels):
        if table.average.key in chosen_keys:
            sections.append((table, table_rows(table, models, partial_average, include_partial_runs)))
    sections = [(t, rows) for t, rows in sections if rows or (tables and t in chosen)]
    return Report(sections, notes)


def build_report(result_paths: list[Path], *, reference: bool = False, tables: str | None = None,
                 partial_average: bool = False, include_partial_runs: bool = False, tasks_dirs=()) -> Report:
    """The card's tables (and breakdowns) for the runs below `result_paths`, with the built-in tasks
    and those of `tasks_dirs`; render them with `report.render.render(report.sections, fmt)`."""
    from swallow_eval.task import load_registry

    return build(result_paths, load_registry(tasks_dirs), reference=reference, tables=tables,
                 partial_average=partial_average, include_partial_runs=include_partial_runs)
