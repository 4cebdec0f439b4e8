"""A run (and optionally the run it is compared against) -> the compact data the viewer page embeds.

Per task the items are stored once each with short keys; the prompt part shared by a task's items
(the few-shot examples, identical across a task or subtask) is stored once in `prefixes` and each
prompt keeps only its own rest; a multiple-choice context shared by the choices is stored once (`x`).
"""

from __future__ import annotations

import os
from collections import defaultdict

from swallow_eval.compare import comparability_problems, compare_task
from swallow_eval.report.leaderboard import partial_run
from swallow_eval.task import Task
from swallow_eval.uncertainty import card_stderr
from swallow_eval.view.source import RunFiles

# The shared prefix is cut back to the last shot separator it contains, so the fold ends between shots.
SHOT_SEPARATORS = ("\n\n", "\n")


def header(run: RunFiles) -> dict:
    """What identifies and describes the run (the page's header), straight from results.json."""
    r = run.results
    return {
        "folder": str(run.folder),
        "run_id": r.get("run_id"),
        "created": r.get("created"),
        "model": r.get("model", {}),
        "backend": r.get("backend", {}),
        "config": r.get("config", {}),
        "versions": r.get("versions", {}),
        "timings": r.get("timings", {}),
        "requests": r.get("requests", {}),
        "tokens": r.get("tokens", {}),
        "skipped": r.get("skipped", {}),
        "serving": r.get("serving", {}),
        "data": {name: entry.get("data", {}) for name, entry in r["tasks"].items()},
    }


def partial_note(results: dict, task: str, registry: dict[str, Task]) -> str | None:
    """Why this task's value is not comparable with full runs (the leaderboard's ‡), or None."""
    run = partial_run(results["tasks"][task], results.get("config") or {}, registry.get(task))
    return None if run is None else ", ".join(run.reasons)


def shot_prefix(texts: list[str]) -> str:
    """The part all `texts` share, ending at a shot separator; '' unless at least two texts differ."""
    if len(set(texts)) < 2:
        return ""
    common = os.path.commonprefix(texts)
    for separator in SHOT_SEPARATORS:
        cut = common.rfind(separator)
        if cut > 0:
            return common[: cut + len(separator)]
    return ""


def _prompt_texts(row: dict) -> list[str]:
    texts = [row["prompt"]] if isinstance(row.get("prompt"), str) else []
    return texts + [pair[0] for pair in row.get("requests") or () if isinstance(pair[0], str)]


def _split(text: str, prefixes: list[str], prefix_id: int) -> list:
    """[prefix id, rest]; id -1 when the text does not start with the prefix."""
    if prefix_id >= 0 and text.startswith(prefixes[prefix_id]):
        return [prefix_id, text[len(prefixes[prefix_id]):]]
    return [-1, text]


def task_view(name: str, entry: dict, rows: list[dict]) -> dict:
    card = entry.get("card", {})
    metric_names = list(dict.fromkeys(m for row in rows for m in row.get("metrics", {})))
    scale = entry.get("metrics", {}).get(card.get("metric"), {}).get("scale", 1.0)
    prefixes: list[str] = []
    prefix_of: dict = {}
    by_subtask = defaultdict(list)
    for row in rows:
        by_subtask[row.get("subtask")].extend(_prompt_texts(row))
    for subtask, texts in by_subtask.items():
        prefix = shot_prefix(texts)
        if prefix:
            prefix_of[subtask] = len(prefixes)
            prefixes.append(prefix)
    items = [_item(row, prefixes, prefix_of.get(row.get("subtask"), -1), metric_names, card.get("metric"), scale)
             for row in rows]
    return {
        "name": name,
        "label": card.get("label", name),
        "column": card.get("column"),
        "metric": card.get("metric"),
        "value": card.get("value"),
        "scale": scale,
        "n": entry.get("n", len(rows)),
        "se": card_stderr(entry, rows) if card.get("metric") else None,
        "source": entry.get("data", {}).get("source"),
        "shots": entry.get("shots"),
        "metrics": {m: v.get("value") for m, v in entry.get("metrics", {}).items()},
        "subtasks": entry.get("subtasks") or {},
        "groups": entry.get("groups") or {},
        "metricNames": metric_names,
        "prefixes": prefixes,
        "items": items,
    }


def _item(row: dict, prefixes: list[str], prefix_id: int, metric_names: list[str], card_metric, scale) -> dict:
    item: dict = {"i": row["index"]}
    if row.get("subtask") is not None:
        item["u"] = row["subtask"]
    if isinstance(row.get("prompt"), str):
        item["p"] = _split(row["prompt"], prefixes, prefix_id)
    if row.get("messages") is not None:
        item["m"] = row["messages"]
    if row.get("requests") is not None:
        contexts = {context for context, _ in row["requests"]}
        if len(contexts) == 1:  # the usual case: one context, stored once, and the continuations
            item["x"] = _split(contexts.pop(), prefixes, prefix_id)
            item["c"] = [[continuation] for _, continuation in row["requests"]]
        else:  # a context per choice (XWinograd), continuations alike
            item["c"] = [[*_split(context, prefixes, prefix_id), continuation] for context, continuation in row["requests"]]
    for key, short in (("loglikelihoods", "l"), ("greedy", "g"), ("outputs", "o")):
        if row.get(key) is not None:
            item[short] = row[key]
    item["t"] = row.get("target")
    if row.get("subtask") is None and isinstance(row.get("target"), dict) and "category" in row["target"]:
        item["k"] = row["target"]["category"]  # MT-Bench: filter by category like by subtask
    item["y"] = row.get("prediction")
    values = row.get("metrics", {})
    item["v"] = [values.get(m) for m in metric_names]
    score = values.get(card_metric)
    item["s"] = score / scale if isinstance(score, (int, float)) and not isinstance(score, bool) else None
    return item


def against_view(run: RunFiles, other: RunFiles) -> dict:
    """Per common task, the items whose score (or, for corpus metrics, answer) changed from `other` to `run`.

    Items are paired and tested exactly as `swallow-eval compare OTHER RUN` does (other = baseline).
    """
    tasks, problems = {}, []
    names = [n for n in run.results["tasks"] if n in other.results["tasks"]]
    only = sorted(set(run.results["tasks"]) ^ set(other.results["tasks"]))
    if only:
        problems.append(f"tasks in one run only (not compared): {', '.join(only)}")
    samples = {n: (other.samples[n], run.samples[n]) for n in names}
    for name in names:
        found = comparability_problems(other.run, run.run, [name], samples)
        if found:
            problems.extend(found)
            continue
        old_rows, new_rows = samples[name]
        result = compare_task(name, other.results["tasks"][name], run.results["tasks"][name],
                              old_rows, new_rows, 0.0, 0.05)
        position = {row["_key"]: at for at, row in enumerate(new_rows)}
        old_by_key = {row["_key"]: row for row in old_rows}
        metric_names = list(dict.fromkeys(m for row in new_rows for m in row.get("metrics", {})))
        flips = []
        for flip in result.flips:
            old = old_by_key[(flip.subtask, flip.index)]
            flips.append({"at": position[(flip.subtask, flip.index)], "o": old.get("outputs"), "y": old.get("prediction"),
                          "v": [old.get("metrics", {}).get(m) for m in metric_names],
                          "os": flip.old_score, "ns": flip.new_score})
        tasks[name] = {"baseline": result.baseline, "delta": result.delta, "se": result.se, "p": result.p_value,
                       "test": result.test, "note": result.note, "lost": result.lost, "gained": result.gained,
                       "flips": flips}
    return {"folder": str(other.folder), "run_id": other.results.get("run_id"),
            "model": other.results.get("model", {}), "problems": problems, "tasks": tasks}

