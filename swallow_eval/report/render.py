"""Tables -> Markdown (as on the card), CSV (as results/reference/*.csv), LaTeX, JSON, or one HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
import os
from pathlib import Path

from swallow_eval.errors import UserError, closest
from swallow_eval.report.layout import Table
from swallow_eval.report.leaderboard import Row, best_marks

FORMATS = ("md", "csv", "html", "latex", "json")
PARTIAL_NOTE = "average over the available columns only (--partial-average)"
PARTIAL_RUN_SIGN = "‡"
PARTIAL_RUN_NOTE = ("partial run (embedded sample, --limit, or --max-new-tokens below the reference's): "
                    "n = items evaluated; not comparable with full runs")

Section = tuple[Table, list[Row]]


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: unknown format{closest(fmt, FORMATS)}; choose from {', '.join(FORMATS)}")


def render(sections: list[Section], fmt: str, link_base: Path | None = None) -> str:
    """`link_base`: the folder the HTML page is written to (its links to viewer pages are relative to it)."""
    check_format(fmt)
    if fmt == "html":
        return html_page(sections, link_base)
    return {"md": markdown, "csv": csv_text, "latex": latex, "json": json_text}[fmt](sections)


def _cells(row: Row) -> list[float | None]:
    return [*row.values, row.average]


def _cell_texts(row: Row, best: set[int], missing: str, bold, dagger: str, partial_run) -> list[str]:
    """The values of a row as printed: three decimals, the best in `bold`, a partial average daggered,
    a partial run's value marked by `partial_run(text, PartialRun)`."""
    texts = []
    for i, value in enumerate(_cells(row)):
        text = _number(value) or missing
        text = bold(text) if i in best else text
        if i in row.partial:
            text = partial_run(text, row.partial[i])
        texts.append(text + (dagger if row.average_partial and i == len(row.values) else ""))
    return texts


def _partial_runs(sections: list[Section]) -> bool:
    return any(row.partial for _, rows in sections for row in rows)


def partial_run_legend(sections: list[Section]) -> list[str]:
    """The legend of the partial-run sign: what it means, then per model and reason the columns it marks."""
    if not _partial_runs(sections):
        return []
    included = any(row.partial_included for _, rows in sections for row in rows)
    rule = ("included in bold-best and averages (--include-partial-runs)" if included
            else "never bold-best, not averaged with full runs (--include-partial-runs to include them)")
    columns: dict[tuple[str, str], list[str]] = {}
    for table, rows in sections:
        labels = [c.label for c in table.columns] + [table.average.label]
        for row in rows:
            for i, run in sorted(row.partial.items()):
                columns.setdefault((row.model, run.describe()), []).append(labels[i])
    lines = [f"{PARTIAL_RUN_SIGN} {PARTIAL_RUN_NOTE}; {rule}."]
    lines += [f"{PARTIAL_RUN_SIGN} {model}, {describe}: {', '.join(dict.fromkeys(cols))}"
              for (model, describe), cols in columns.items()]
    return lines


def _number(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f}"


def _partial(sections: list[Section]) -> bool:
    return any(row.average_partial for _, rows in sections for row in rows)


# ---- Markdown ----------------------------------------------------------------------------------


def markdown(sections: list[Section]) -> str:
    def line(cells) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = []
    for table, rows in sections:
        out += [f"### {table.title}", "", line(["Model", *(c.label for c in table.columns), table.average.label]),
                line(["---"] * (len(table.columns) + 2))]
        if table.header_rows:
            out.append(line(["", *(c.shots for c in table.columns), ""]))
            out.append(line(["", *(c.metric for c in table.columns), ""]))
        for row, best in zip(rows, best_marks(rows)):
            out.append(line([row.model, *_cell_texts(row, best, "–", lambda t: f"**{t}**", "†", _md_partial)]))
        out.append("")
    if _partial(sections):
        out += [f"† {PARTIAL_NOTE}", ""]
    if _partial_runs(sections):
        out += [*(f"{legend}  " for legend in partial_run_legend(sections)), ""]
    return "\n".join(out)


def _md_partial(text: str, run) -> str:
    return f"{text}{PARTIAL_RUN_SIGN} {run.short}"


# ---- CSV ---------------------------------------------------------------------------------------


def csv_text(sections: list[Section]) -> str:
    """The layout of results/reference/*.csv; several tables are separated by an empty line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for position, (table, rows) in enumerate(sections):
        if position:
            buffer.write("\n")
        # A partial run's value gets the sign, and the table a last column saying why, per row.
        partial = any(row.partial for row in rows)
        keys = [c.key for c in table.columns] + [table.average.key]
        writer.writerow(["model", *keys, *(["partial_runs"] if partial else [])])
        for row in rows:
            cells = [(_number(v) or "") + (PARTIAL_RUN_SIGN if i in row.partial and v is not None else "")
                     for i, v in enumerate(_cells(row))]
            cells[-1] += "*" if row.average_partial else ""
            why = "; ".join(f"{keys[i]} {run.describe()}" for i, run in sorted(row.partial.items()))
            writer.writerow([row.model, *cells, *([why] if partial else [])])
    return buffer.getvalue()


# ---- LaTeX -------------------------------------------------------------------------------------

_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex(sections: list[Section]) -> str:
    out = ["% booktabs tables: \\usepackage{booktabs}"]
    for table, rows in sections:
        width = len(table.columns) + 1
        out += ["\\begin{table}[t]", "\\centering", f"\\caption{{{_tex(table.title)}}}",
                f"\\begin{{tabular}}{{l*{{{width}}}{{r}}}}", "\\toprule",
                " & ".join(["Model", *(_tex(c.label) for c in table.columns), _tex(table.average.label)]) + " \\\\"]
        if table.header_rows:
            out.append(" & ".join(["", *(_tex(c.shots) for c in table.columns), ""]) + " \\\\")
            out.append(" & ".join(["", *(_tex(c.metric) for c in table.columns), ""]) + " \\\\")
        out.append("\\midrule")
        for row, best in zip(rows, best_marks(rows)):
            cells = _cell_texts(row, best, "--", lambda t: f"\\textbf{{{t}}}", "$^\\dagger$",
                                lambda t, run: f"{t}$^\\ddagger${{\\scriptsize {run.short}}}")
            out.append(" & ".join([_tex(row.model), *cells]) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}"]
        if any(row.average_partial for row in rows):
            out.append(f"\\par\\smallskip{{\\footnotesize $^\\dagger$ {_tex(PARTIAL_NOTE)}}}")
        for legend in partial_run_legend([(table, rows)]):
            out.append(f"\\par{{\\footnotesize $^\\ddagger$ {_tex(legend[2:])}}}")
        out += ["\\end{table}", ""]
    return "\n".join(out)


# ---- JSON --------------------------------------------------------------------------------------


def json_text(sections: list[Section]) -> str:
    """Unrounded values, for other tools."""
    tables = []
    for table, rows in sections:
        keys = [c.key for c in table.columns] + [table.average.key]
        tables.append({
            "name": table.name,
            "title": table.title,
            "columns": [{"key": c.key, "label": c.label, "shots": c.shots, "metric": c.metric, "group_of": c.group_of}
                        for c in table.columns],
            "average": {"key": table.average.key, "label": table.average.label, "computed": table.average_computed},
            "rows": [{"model": row.model, "reference": row.reference,
                      "values": dict(zip(keys[:-1], row.values)), "average": row.average,
                      "average_partial": row.average_partial, "best": [keys[i] for i in sorted(best)],
                      **({"partial_runs": {keys[i]: {"n": run.n, "reasons": list(run.reasons)}
                                           for i, run in sorted(row.partial.items())},
                          "partial_runs_included": row.partial_included} if row.partial else {})}
                     for row, best in zip(rows, best_marks(rows))],
        })
    legend = {"partial_run_legend": partial_run_legend(sections)} if _partial_runs(sections) else {}
    return json.dumps({"tables": tables, **legend}, ensure_ascii=False, indent=2) + "\n"


# ---- HTML --------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; font-size: 14px; }
caption { text-align: left; font-weight: 600; font-size: 1.15em; padding: 0.3em 0; }
th, td { padding: 0.3em 0.6em; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead tr.labels th { cursor: pointer; user-select: none; border-bottom: 2px solid #888; }
thead tr.labels th:hover { background: #eef; }
thead tr.labels th[aria-sort="descending"]::after { content: " \\25BE"; }
thead tr.labels th[aria-sort="ascending"]::after { content: " \\25B4"; }
thead tr.sub th { font-weight: normal; color: #666; font-size: 0.9em; }
tbody tr.reference td:first-child { color: #555; }
tbody tr.evaluated { background: #fff8dc; }
tbody tr:hover { background: #f3f3f3; }
td.best { font-weight: 700; }
td.partial-run { color: #7a3d00; background: #fff1e0; }
td.partial-run small { color: #7a3d00; }
td a { color: inherit; }
p.note { color: #555; font-size: 0.9em; }
"""

# Click a column header to sort by it (best first), again to reverse; missing values stay last.
_SCRIPT = """
document.querySelectorAll("table.leaderboard").forEach(function (table) {
  var headers = table.querySelectorAll("thead tr.labels th");
  headers.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var descending = col === 0 ? th.getAttribute("aria-sort") === "ascending"
                                 : th.getAttribute("aria-sort") !== "descending";
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var body = table.tBodies[0];
      var key = function (tr) {
        var cell = tr.children[col];
        if (col === 0) return cell.textContent;
        return cell.dataset.value === "" ? null : parseFloat(cell.dataset.value);
      };
      Array.from(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null) return y === null ? 0 : 1;
        if (y === null) return -1;
        var order = typeof x === "string" ? x.localeCompare(y) : x - y;
        return descending ? -order : order;
      }).forEach(function (tr) { body.appendChild(tr); });
    });
  });
});
"""


def _href(view: str, base: Path | None) -> str:
    """A viewer page "<path>#<task>": relative to the report's folder, else a file:// URI."""
    path, _, task = view.partition("#")
    target = os.path.relpath(path, base) if base is not None else Path(path).resolve().as_uri()
    return f"{target}#{task}"


def html_page(sections: list[Section], link_base: Path | None = None) -> str:
    """One self-contained page: inline style and script, nothing fetched from the network; our runs'
    cells link to their viewer pages where `swallow-eval view` wrote one."""
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             "<title>swallow-eval leaderboard</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
             "<h1>swallow-eval leaderboard</h1>",
             '<p class="note">Scores on the 0&ndash;1 scale; the best value of each column is bold. '
             "Click a column header to sort.</p>"]
    for table, rows in sections:
        parts.append('<table class="leaderboard">')
        parts.append(f"<caption>{esc(table.title)}</caption>")
        parts.append("<thead>")
        labels = ["Model", *(c.label for c in table.columns), table.average.label]
        parts.append('<tr class="labels">' + "".join(f'<th scope="col">{esc(label)}</th>' for label in labels) + "</tr>")
        if table.header_rows:
            for sub in ([c.shots for c in table.columns], [c.metric for c in table.columns]):
                parts.append('<tr class="sub"><th></th>' + "".join(f"<th>{esc(s)}</th>" for s in sub) + "<th></th></tr>")
        parts.append("</thead>")
        parts.append("<tbody>")
        for row, best in zip(rows, best_marks(rows)):
            cells = [f'<td>{esc(row.model)}</td>']
            texts = _cell_texts(row, best, "&ndash;", lambda t: t, "&dagger;",
                                lambda t, run: f"{t}{PARTIAL_RUN_SIGN} <small>{esc(run.short)}</small>")
            for i, (value, text) in enumerate(zip(_cells(row), texts)):
                classes = [name for name, on in (("best", i in best), ("partial-run", i in row.partial)) if on]
                css = f' class="{" ".join(classes)}"' if classes else ""
                title = f' title="{esc(row.partial[i].describe())}"' if i in row.partial else ""
                data = "" if value is None else repr(float(value))
                if i in row.links:
                    text = f'<a href="{esc(_href(row.links[i], link_base))}">{text}</a>'
                cells.append(f'<td{css}{title} data-value="{data}">{text}</td>')
            kind = "reference" if row.reference else "evaluated"
            parts.append(f'<tr class="{kind}">' + "".join(cells) + "</tr>")
        parts.append("</tbody>")
        parts.append("</table>")
    if _partial(sections):
        parts.append(f'<p class="note">&dagger; {esc(PARTIAL_NOTE)}</p>')
    parts += [f'<p class="note partial-run-legend">{esc(line)}</p>' for line in partial_run_legend(sections)]
    parts += [f"<script>{_SCRIPT}</script>", "</body>", "</html>", ""]
    return "\n".join(parts)
