"""Results folders and the published card rows -> one row of card values per model -> table rows."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

from swallow_eval.errors import UserError
from swallow_eval.report.layout import TABLES, Column, Table, reference_dir
from swallow_eval.schema import load_results
from swallow_eval.task import Task

VIEW_FILE = "view.html"  # `swallow-eval view` writes it beside results.json


@dataclass(frozen=True)
class PartialRun:
    """Why a card value is not comparable with full runs: fewer items or shorter generations."""

    n: int
    reasons: tuple[str, ...]  # "embedded sample", "--limit 10", "--max-new-tokens 32 < 256"

    @property
    def short(self) -> str:
        return f"n={self.n}"

    def describe(self) -> str:
        return f"n={self.n}: {', '.join(self.reasons)}"


def partial_run(entry: dict, config: dict, task: Task | None) -> PartialRun | None:
    """A task of a run on the embedded sample, with --limit, or with --max-new-tokens below the reference's."""
    reasons = []
    if (entry.get("data") or {}).get("source") == "embedded-sample":
        reasons.append("embedded sample")
    if config.get("limit") is not None:
        reasons.append(f"--limit {config['limit']}")
    cap = config.get("max_new_tokens_cap")
    if cap is not None:
        if task is None:
            reasons.append(f"--max-new-tokens {cap} (task not registered: its reference limit is unknown)")
        elif task.generation is not None and cap < task.generation.max_new_tokens:
            reasons.append(f"--max-new-tokens {cap} < {task.generation.max_new_tokens}")
    return PartialRun(int(entry.get("n") or 0), tuple(reasons)) if reasons else None


@dataclass
class ModelScores:
    """Everything the tables need about one model, on the card's 0-1 scale."""

    name: str
    reference: bool = False
    values: dict[str, float] = field(default_factory=dict)  # card column key -> value
    groups: dict[str, dict[str, float]] = field(default_factory=dict)  # card column key -> group -> value
    labels: dict[str, str] = field(default_factory=dict)  # card column key -> label in results.json
    partial: dict[str, PartialRun] = field(default_factory=dict)  # card column key -> why it is partial
    views: dict[str, str] = field(default_factory=dict)  # card column key -> "<view.html>#<task>"

    def value(self, column: Column) -> float | None:
        if column.group_of is not None:
            return self.groups.get(column.group_of, {}).get(column.key)
        return self.values.get(column.key)

    def partial_of(self, column: Column) -> PartialRun | None:
        return self.partial.get(column.group_of or column.key)

    def view_of(self, column: Column) -> str | None:
        return self.views.get(column.group_of or column.key)


@dataclass
class Row:
    model: str
    reference: bool
    values: list[float | None]
    average: float | None
    average_partial: bool = False
    # Positions (columns, then the average last) holding values of partial runs, and whether they take
    # part in averages and bold-best (--include-partial-runs).
    partial: dict[int, PartialRun] = field(default_factory=dict)
    partial_included: bool = False
    links: dict[int, str] = field(default_factory=dict)  # position -> viewer page of the run behind it


# ---- loading -----------------------------------------------------------------------------------


def find_results(paths: list[Path]) -> list[Path]:
    """results.json files named directly, in a run folder, or anywhere below a folder."""
    found = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif (path / "results.json").is_file():
            found.append(path / "results.json")
        elif path.is_dir():
            below = sorted(path.rglob("results.json"))
            if not below:
                raise UserError(f"{path}: no results.json in this folder or below it")
            found.extend(below)
        else:
            raise UserError(f"{path}: no such file or folder")
    return list(dict.fromkeys(p.resolve() for p in found))


def display_name(model: dict) -> str:
    """The hub id or proxy spec as given; a checkpoint folder by its name, not its full path."""
    spec = model.get("spec") or model.get("name") or "?"
    return model.get("name", spec) if spec.startswith(("/", ".", "~")) else spec


def task_scores(path: Path, task: str, entry: dict) -> tuple[str, float | None, dict[str, float], str | None]:
    """(card column, card value, groups on the card scale, label) of one task of a results.json."""
    try:
        card = entry["card"]
        metric = card["metric"]
        scale = entry.get("metrics", {}).get(metric, {}).get("scale", 1.0)
        groups = {name: by_metric[metric] / scale for name, by_metric in (entry.get("groups") or {}).items()
                  if by_metric.get(metric) is not None}
        value = card["value"]
        return card["column"], None if value is None else float(value), groups, card.get("label")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise UserError(f"{path}: task {task}: malformed card entry ({type(exc).__name__}: {exc})") from exc


def models_from_results(paths: list[Path], notes: list[str], registry: dict[str, Task] | None = None) -> list[ModelScores]:
    """One row per model; a task evaluated in several runs of the same model keeps its latest run."""
    runs = [(path, load_results(path)) for path in find_results(paths)]
    runs.sort(key=lambda run: (str(run[1].get("created", "")), str(run[1].get("run_id", ""))))
    models: dict[str, ModelScores] = {}
    taken_from: dict[tuple[str, str], Path] = {}
    for path, payload in runs:
        name = display_name(payload["model"])
        scores = models.setdefault(name, ModelScores(name))
        for task, entry in payload["tasks"].items():
            column, value, groups, label = task_scores(path, task, entry)
            if (name, column) in taken_from:
                notes.append(f"{name}: {column} from {path.parent} replaces {taken_from[name, column].parent}")
            taken_from[name, column] = path
            partial = partial_run(entry, payload.get("config") or {}, (registry or {}).get(task))
            scores.partial.pop(column, None)
            scores.views.pop(column, None)
            if partial is not None:
                scores.partial[column] = partial
            if (path.parent / VIEW_FILE).is_file():
                scores.views[column] = f"{path.parent / VIEW_FILE}#{task}"
            if value is not None:
                scores.values[column] = value
            if groups:
                scores.groups[column] = groups
            if label:
                scores.labels[column] = label
    return list(models.values())


def reference_models() -> list[ModelScores]:
    """The published rows of the card (results/reference/*.csv); computed averages are left out."""
    models: dict[str, ModelScores] = {}
    for spec in TABLES:
        path = reference_dir() / spec.reference_file
        with open(path, encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), 2):
                try:
                    scores = models.setdefault(row["model"], ModelScores(row["model"], reference=True))
                    for key, text in row.items():
                        if key == "model" or (key == spec.average_key and spec.average_computed) or not text:
                            continue
                        if spec.groups_of and key != spec.groups_of:
                            scores.groups.setdefault(spec.groups_of, {})[key] = float(text)
                        else:
                            scores.values[key] = float(text)
                except (KeyError, ValueError) as exc:
                    raise UserError(f"{path}:{line}: malformed row ({exc})") from exc
    return list(models.values())


# ---- rows --------------------------------------------------------------------------------------


def table_rows(table: Table, models: list[ModelScores], partial_average: bool,
               include_partial_runs: bool = False) -> list[Row]:
    """Rows of the models with any value in the table; averages from unrounded values.

    Values of partial runs count as missing for the average unless `include_partial_runs`.
    """
    rows = []
    for model in models:
        values = [model.value(c) for c in table.columns]
        runs = {i: p for i, c in enumerate(table.columns) if (p := model.partial_of(c)) is not None and values[i] is not None}
        links = {i: v for i, c in enumerate(table.columns) if (v := model.view_of(c)) is not None and values[i] is not None}
        average, partial = model.value(table.average), False
        if table.average_computed:
            counted = [None if i in runs and not include_partial_runs else v for i, v in enumerate(values)]
            present = [v for v in counted if v is not None]
            if present and len(present) == len(values):
                average = fmean(present)
            elif present and partial_average:
                average, partial = fmean(present), True
            else:
                average = None
            if average is not None and include_partial_runs and runs:
                runs[len(values)] = PartialRun(min(p.n for p in runs.values()), ("averages partial runs",))
        elif average is not None:
            if (p := model.partial_of(table.average)) is not None:
                runs[len(values)] = p
            if (v := model.view_of(table.average)) is not None:
                links[len(values)] = v
        if average is not None or any(v is not None for v in values):
            rows.append(Row(model.name, model.reference, values, average, partial, runs, include_partial_runs, links))
    return rows


def best_marks(rows: list[Row]) -> list[set[int]]:
    """Per row, the positions (columns, then the average last) holding the column's best shown value.

    A column with fewer than two values has no best; values of partial runs are never best unless included.
    """
    width = len(rows[0].values) + 1 if rows else 0
    shown = [[None if i in row.partial and not row.partial_included else _shown(v)
              for i, v in enumerate((*row.values, row.average))] for row in rows]
    best = []
    for i in range(width):
        present = [r[i] for r in shown if r[i] is not None]
        best.append(max(present) if len(present) >= 2 else None)
    return [{i for i in range(width) if best[i] is not None and r[i] == best[i]} for r in shown]


def _shown(value: float | None) -> float | None:
    """The value as printed (three decimals), so ties on the page are all marked."""
    return None if value is None or math.isnan(value) else round(value, 3)


def breakdown_tables(tables: list[Table], models: list[ModelScores], labels: dict[str, str]) -> list[Table]:
    """Per card column with groups (JMMLU/MMLU categories, MT-Bench turns): the groups not already columns."""
    shown_groups = {(c.group_of, c.key) for t in tables for c in t.columns if c.group_of}
    result = []
    for key in dict.fromkeys(k for m in models for k in m.groups):
        names = sorted({g for m in models for g in m.groups.get(key, {}) if (key, g) not in shown_groups})
        if names:
            label = labels.get(key, key)
            result.append(Table(f"{key}_groups", f"{label} breakdown", tuple(Column(g, g, group_of=key) for g in names),
                                Column(key, label), average_computed=False, header_rows=False))
    return result
