"""One PNG: a grouped bar chart per table (models x columns) and a radar chart per model."""

from __future__ import annotations

import math
from pathlib import Path

from swallow_eval.errors import UserError
from swallow_eval.report.layout import Table
from swallow_eval.report.leaderboard import Row

RADARS_PER_LINE = 4


def plot(sections: list[tuple[Table, list[Row]]], path: Path) -> None:
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    sections = [(table, rows) for table, rows in sections if rows]
    if not sections:
        raise UserError("--plot: no table has any value to draw")
    models = list(dict.fromkeys(row.model for _, rows in sections for row in rows))
    # tab20 pairs a dark and a light shade: all dark ones first, so neighbours in a group differ.
    palette = [colormaps["tab20"](i) for i in (*range(0, 20, 2), *range(1, 20, 2))]
    color = {model: palette[i % len(palette)] for i, model in enumerate(models)}
    table_color = [colormaps["Dark2"](i) for i in range(len(sections))]
    radar_lines = math.ceil(len(models) / RADARS_PER_LINE)
    # Fixed sizes in inches (constrained layout would double the drawing time): title, bar charts
    # with their legends on the right, then the radars over the full width.
    title, bar, radar = 1.2, 5.5, 5.0
    height = title + bar * len(sections) + 0.8 + radar * radar_lines
    fig = Figure(figsize=(18, height))
    bars_bottom = 1 - (title + bar * len(sections)) / height
    bars = fig.add_gridspec(len(sections), 1, left=0.05, right=0.80, top=1 - title / height,
                            bottom=bars_bottom + 0.5 / height, hspace=0.35)
    radars = fig.add_gridspec(radar_lines, RADARS_PER_LINE, left=0.04, right=0.96, top=bars_bottom - 0.8 / height,
                              bottom=0.3 / height, hspace=0.45, wspace=0.45)

    for position, (table, rows) in enumerate(sections):
        ax = fig.add_subplot(bars[position, 0])
        labels = [c.label for c in table.columns] + [table.average.label]
        width = 0.84 / len(rows)
        for i, row in enumerate(rows):
            values = [math.nan if v is None else v for v in (*row.values, row.average)]
            xs = [x - 0.42 + width * (i + 0.5) for x in range(len(labels))]
            ax.bar(xs, values, width, label=row.model, color=color[row.model],
                   edgecolor="black" if not row.reference else "none", linewidth=0.8)
        ax.set_xticks(range(len(labels)), labels)
        ax.axvline(len(labels) - 1.5, color="grey", linewidth=0.8, linestyle=":")
        ax.set_ylim(0, 1)
        ax.set_ylabel("score (0–1)")
        # Title colour = colour of this table's spoke labels on the radars.
        ax.set_title(table.title, fontsize=14, fontweight="bold", color=table_color[position])
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False, title="model")

    # Radar spokes: every column the model has a value for, labels coloured by table.
    spokes: dict[str, list[tuple[str, float, int]]] = {model: [] for model in models}
    for position, (table, rows) in enumerate(sections):
        for row in rows:
            spokes[row.model] += [(c.label, v, position) for c, v in zip(table.columns, row.values) if v is not None]
    for i, model in enumerate(models):
        ax = fig.add_subplot(radars[i // RADARS_PER_LINE, i % RADARS_PER_LINE], projection="polar")
        ax.set_theta_offset(math.pi / 2)
        ax.set_theta_direction(-1)
        if len(spokes[model]) >= 3:
            labels, values, tables = zip(*spokes[model])
            angles = [2 * math.pi * k / len(labels) for k in range(len(labels))]
            ax.plot([*angles, angles[0]], [*values, values[0]], color=color[model], linewidth=1.8)
            ax.fill([*angles, angles[0]], [*values, values[0]], color=color[model], alpha=0.3)
            ax.set_xticks(angles, labels, fontsize=7)
            for tick, table in zip(ax.get_xticklabels(), tables):
                tick.set_color(table_color[table])
        else:
            ax.set_xticks([])
            ax.text(0, 0, "fewer than 3 columns", ha="center", va="center", fontsize=9, color="grey")
        ax.set_ylim(0, 1)
        ax.set_yticks([0.25, 0.5, 0.75], ["0.25", "0.5", "0.75"], fontsize=6, color="grey")
        ax.set_title(model, fontsize=10, fontweight="bold", pad=16)
    fig.suptitle("swallow-eval: model-card scores (0–1); radar labels coloured like the table titles",
                 fontsize=15, y=1 - 0.3 / height, va="top")
    try:
        fig.savefig(path, dpi=90)
    except OSError as exc:
        raise UserError(f"--plot {path}: cannot write ({exc.strerror or exc})") from exc
