"""The three tables of the Swallow model card: which columns, in which order, under which headers.

Each fact is declared once. The column keys and their order are the header of the shipped reference
CSVs (results/reference/*.csv, the card's tables); a column's label, shot count and metric name are
its task's `Column` and `shots` in the task registry. Declared here is only what no task knows: the
table titles, the average columns, and that the MT-Bench category columns are groups of the MT-Bench
task (whose own card column is JMT Avg) rather than tasks of their own.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from swallow_eval.errors import UserError
from swallow_eval.task import Task


def reference_dir() -> Path:
    """results/reference/ ships as `swallow_eval/reference`; in a source checkout it is the folder itself."""
    installed = Path(__file__).resolve().parent.parent / "reference"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "results" / "reference"


@dataclass(frozen=True)
class TableSpec:
    name: str  # --table name
    title: str
    reference_file: str  # its header is the card's column order
    average_key: str
    average_label: str
    # True: the plain mean of the row's columns (Ja Avg, En Avg: the card's averages are not computed
    # by swallow-evaluation, en-tasks.md §4). False: a column of its own, read like any other.
    average_computed: bool = True
    # The columns are groups of the task feeding this card column (MT-Bench categories).
    groups_of: str | None = None
    header_rows: bool = True  # shot and metric rows under the header, as the card prints them


TABLES = (
    TableSpec("ja", "Japanese tasks", "ja_tasks.csv", "ja_avg", "Ja Avg"),
    TableSpec("en", "English tasks", "en_tasks.csv", "en_avg", "En Avg"),
    # JMT Avg = FastChat's overall average / 10 (`MT-Bench (ALL)`, scripts/column-path-key.csv of
    # swallow-evaluation): the MT-Bench task's card value, not recomputed from the categories.
    TableSpec("mt_bench", "Japanese MT-Bench", "mt_bench_ja.csv", "jmt_avg", "JMT Avg",
              average_computed=False, groups_of="jmt_avg", header_rows=False),
)


@dataclass(frozen=True)
class Column:
    """One column of a rendered table; its value is a card value, or a group of another card column."""

    key: str
    label: str
    shots: str = ""  # "4-shot"
    metric: str = ""  # "EM acc"
    group_of: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[Column, ...]
    average: Column
    average_computed: bool
    header_rows: bool


def reference_header(spec: TableSpec) -> list[str]:
    """The card-column keys of a table, in the card's order (the reference CSV's header)."""
    path = reference_dir() / spec.reference_file
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle))
    except (OSError, StopIteration) as exc:
        raise UserError(f"{path}: cannot read the reference table ({exc})") from exc
    if header[0] != "model" or spec.average_key not in header:
        raise UserError(f"{path}:1: header must be model,<column keys>,{spec.average_key}")
    return [key for key in header[1:] if key != spec.average_key]


def card_tables(registry: dict[str, Task], seen_labels: dict[str, str] | None = None) -> list[Table]:
    """The card's tables with headers from the registry (else a label seen in results.json, else the key)."""
    by_column = {task.column.key: task for task in registry.values()}
    seen_labels = seen_labels or {}

    def column(key: str) -> Column:
        task = by_column.get(key)
        if task is None:
            return Column(key, seen_labels.get(key, key))
        return Column(key, task.column.label, f"{task.shots}-shot", task.column.metric_label)

    tables = []
    for spec in TABLES:
        keys = reference_header(spec)
        if spec.groups_of:
            columns = tuple(Column(key, key, group_of=spec.groups_of) for key in keys)
        else:
            columns = tuple(column(key) for key in keys)
        tables.append(Table(spec.name, spec.title, columns, Column(spec.average_key, spec.average_label),
                            spec.average_computed, spec.header_rows))
    return tables


def select(tables: list[Table], names: str | None) -> list[Table]:
    if not names:
        return tables
    known = {t.name: t for t in tables}
    chosen = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in known:
            raise UserError(f"--table {name}: unknown table; choose from {', '.join(known)}")
        chosen.append(known[name])
    return chosen
