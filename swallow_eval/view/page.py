"""The viewer's one self-contained HTML file: inline style and script, the data as JSON blobs.

The run header and task cards are one small blob parsed at load; each task's items are a blob of
their own, parsed when the task is first opened, so the first page shows without parsing 100k items.
"""

from __future__ import annotations

import html
import json
from importlib import resources


def _blob(element_id: str, payload) -> str:
    # "<" only occurs inside JSON strings, where \u003c is the same character: no "</script>" can end the blob.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def render(header: dict, tasks: list[dict], against: dict | None) -> str:
    assets = resources.files("swallow_eval.view")
    style = assets.joinpath("viewer.css").read_text(encoding="utf-8")
    script = assets.joinpath("viewer.js").read_text(encoding="utf-8")
    bulky = ("items", "prefixes", "metricNames")
    summary = {"header": header, "tasks": [{k: v for k, v in t.items() if k not in bulky} for t in tasks],
               "against": None if against is None else {**against, "tasks": {
                   name: {k: v for k, v in entry.items() if k != "flips"} | {"changed": len(entry["flips"])}
                   for name, entry in against["tasks"].items()}}}
    blobs = [_blob("index", summary)]
    for position, task in enumerate(tasks):
        part = {k: task[k] for k in bulky}
        if against is not None and task["name"] in against["tasks"]:
            part["against"] = against["tasks"][task["name"]]
        blobs.append(_blob(f"task-{position}", part))
    model = header.get("model", {})
    title = html.escape(f"swallow-eval view: {model.get('spec') or model.get('name') or 'run'}")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{title}</title>",
        f"<style>{style}</style>", "</head>", "<body>",
        '<header><h1 id="title"></h1><div class="sub" id="subtitle"></div>',
        ('<details id="settings-box"><summary>run settings, versions, data sources, timings</summary>'
         '<div id="settings"></div></details><div id="against"></div></header>'),
        '<main><div id="cards"></div><section id="task-view"><h2 id="task-title"></h2><div class="notes" id="task-note"></div>',
        '<div class="controls">',
        '<label id="wrong-label"><input type="checkbox" id="wrong"> wrong only</label>',
        '<label id="changed-label"><input type="checkbox" id="changed"> changed vs baseline only</label>',
        '<select id="subtask" aria-label="subtask"></select>',
        '<input type="search" id="search" placeholder="search prompt, output, prediction, gold" aria-label="search">',
        ('<label>sort <select id="sort"><option value="order">evaluation order</option>'
         '<option value="score-asc">score, lowest first</option><option value="score-desc">score, highest first</option>'
         '<option value="length-desc">longest output first</option></select></label>'),
        "</div>", '<div id="count"></div><div id="items"></div>',
        ('<div id="pager"><button id="prev">&larr; previous</button><span id="page"></span>'
         '<button id="next">next &rarr;</button></div></section></main>'),
        # The first task's data comes before the script, the others after it: the first page shows
        # while the browser still reads the rest of the file.
        *blobs[:2], f"<script>{script}</script>", *blobs[2:], "</body>", "</html>", "",
    ])
