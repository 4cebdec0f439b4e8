"""The command line's tables (run's summary, plan, tasks), kept apart from its command parsing."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def print_summary(task_results: dict) -> None:
    """run's results, on stderr: stdout stays free for what scripts read."""
    table = Table(title="swallow-eval results")
    for header in ("task", "n", "metric", "value", "card column", "card value"):
        table.add_column(header)
    for name, result in task_results.items():
        for metric, entry in result["metrics"].items():
            card = result["card"]
            is_card = metric == card["metric"]
            value = entry["value"]
            table.add_row(name, str(result["n"]), metric, "-" if value is None else f"{value:.4f}",
                          card["label"] if is_card else "",
                          f"{card['value']:.4f}" if is_card and card["value"] is not None else "")
    console.print(table)


def print_wide(rendered) -> None:
    """As wide as the whole table needs, whatever the terminal: task names and figures are never cut."""
    needed = Console(width=100_000).measure(rendered).maximum
    Console(width=max(Console().width, needed)).print(rendered)


def print_tasks(registry: dict) -> None:
    """The `tasks` listing: a table on a terminal, plain aligned columns when piped."""
    headers = ("task", "suite", "shots", "metric", "column", "request", "reference")
    rows = [(task.name, task.suite, str(task.shots), task.column.metric_label, task.column.label,
             task.request_type, task.reference) for task in registry.values()]
    if not sys.stdout.isatty():  # piped: plain aligned columns, never cut (the names are what users copy)
        widths = [max(len(r[i]) for r in (headers, *rows)) for i in range(len(headers))]
        for r in (headers, *rows):
            sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
        return
    table = Table()
    # Task names are never cut or folded, whatever the terminal width; the other columns fold.
    table.add_column(headers[0], no_wrap=True, min_width=max(len(r[0]) for r in rows))
    for header in headers[1:]:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
