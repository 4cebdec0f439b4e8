"""`swallow-eval compare`: did a candidate run get worse than a baseline, task by task, beyond noise?

Both runs must have evaluated the same items with the same prompts (else nothing can be said: exit 2).
Per task: the difference of the card values, its standard error from the paired per-item scores, a
significance test, and the items whose score (or, for corpus metrics, whose answer) changed.

- Per-item metrics (accuracy, char-F1, pass@1, ...): the task score is the mean of the per-item scores,
  so the paired differences d_i = candidate_i - baseline_i give SE = stdev(d) / sqrt(n). Scores that are
  all 0/1 are tested with the exact McNemar test (a binomial test on the items that flipped), which is
  valid for the handful of items of a CI run; other scores with a two-sided z-test on SE.
- Corpus metrics (BLEU, ROUGE-2 with bootstrap aggregation) have no per-item scores: a bootstrap would
  have to recompute the metric on each resample (ROUGE-2 with the evaluated model's tokenizer), so
  there is no SE and no test; the items whose prediction changed are listed, and a drop beyond the
  tolerance counts as a regression on its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist

from swallow_eval.data import read_jsonl, row_errors
from swallow_eval.errors import UserError
from swallow_eval.schema import ResultsFile, load_results
from swallow_eval.uncertainty import averages_to, card_item_scores, mean_stderr


@dataclass
class Run:
    path: Path  # results.json
    results: ResultsFile

    @property
    def folder(self) -> Path:
        return self.path.parent

    def samples(self, task: str) -> list[dict]:
        path = self.folder / "samples" / f"{task}.jsonl"
        if not path.is_file():
            raise UserError(f"{path}: missing (compare needs the per-item samples of every task)")
        rows = []
        for line, row in read_jsonl(path):
            with row_errors(path, line):
                row["_key"] = (row.get("subtask"), row["index"])
                rows.append(row)
        return rows


def load_run(path: Path) -> Run:
    """A run folder, its results.json, or a folder holding exactly one run."""
    if path.is_file():
        return Run(path, load_results(path))
    if (path / "results.json").is_file():
        return Run(path / "results.json", load_results(path / "results.json"))
    if not path.is_dir():
        raise UserError(f"{path}: no such file or folder")
    found = sorted(path.rglob("results.json"))
    if len(found) != 1:
        raise UserError(f"{path}: {len(found)} runs (results.json) below this folder; pass one run folder")
    return Run(found[0], load_results(found[0]))


@dataclass
class Flip:
    index: int
    subtask: str | None
    prompt_hash: str | None
    old: object  # prediction of the baseline
    new: object
    old_score: float | None = None  # per-item score on the card scale (None: corpus metric)
    new_score: float | None = None


@dataclass
class TaskComparison:
    task: str
    column: str
    n: int
    baseline: float | None
    candidate: float | None
    delta: float | None
    se: float | None = None
    p_value: float | None = None
    test: str | None = None  # "mcnemar-exact", "paired-z" or None (no per-item scores)
    significant: bool = False
    regression: bool = False
    improvement: bool = False
    per_item_scores: bool = True
    note: str = ""
    flips: list[Flip] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum(1 for f in self.flips if f.old_score is not None and f.new_score < f.old_score)

    @property
    def gained(self) -> int:
        return sum(1 for f in self.flips if f.old_score is not None and f.new_score > f.old_score)


@dataclass
class Comparison:
    baseline: str
    candidate: str
    tolerance: float
    alpha: float
    tasks: list[TaskComparison]

    @property
    def exit_code(self) -> int:
        return 1 if any(t.regression for t in self.tasks) else 0

    def summary(self) -> str:
        regressed = [t for t in self.tasks if t.regression]
        improved = [t for t in self.tasks if t.improvement]
        flips = sum(len(t.flips) for t in self.tasks)
        parts = [f"{len(self.tasks)} task{'' if len(self.tasks) == 1 else 's'} compared",
                 f"{len(regressed)} regressed beyond {self.tolerance:g}"
                 + (" (" + ", ".join(f"{t.task} {t.delta:+.4f}" for t in regressed) + ")" if regressed else ""),
                 f"{len(improved)} improved", f"{flips} items changed"]
        return ("FAIL: " if regressed else "OK: ") + "; ".join(parts)


def mcnemar_exact(lost: int, gained: int) -> float:
    """Two-sided exact McNemar p-value: under no change, each flip is a fair coin."""
    flips = lost + gained
    if flips == 0:
        return 1.0
    tail = sum(math.comb(flips, k) for k in range(min(lost, gained) + 1))
    return min(1.0, 2 * tail / 2**flips)


def comparability_problems(base: Run, cand: Run, tasks: list[str], samples: dict) -> list[str]:
    problems = []
    for task in tasks:
        b, c = base.results["tasks"][task], cand.results["tasks"][task]
        if str(b.get("version")) != str(c.get("version")):
            problems.append(f"{task}: task versions differ ({b.get('version')} vs {c.get('version')})")
        if (b["card"]["column"], b["card"]["metric"]) != (c["card"]["column"], c["card"]["metric"]):
            problems.append(f"{task}: card columns differ ({b['card']['metric']} vs {c['card']['metric']})")
        b_rows, c_rows = samples[task]
        b_keys, c_keys = {r["_key"]: r for r in b_rows}, {r["_key"]: r for r in c_rows}
        only_b, only_c = [k for k in b_keys if k not in c_keys], [k for k in c_keys if k not in b_keys]
        if only_b or only_c:
            problems.append(f"{task}: item sets differ ({len(b_keys)} vs {len(c_keys)} items; "
                            f"only in baseline: {_items(only_b)}; only in candidate: {_items(only_c)})")
            continue
        changed = [k for k in b_keys if b_keys[k].get("prompt_hash") != c_keys[k].get("prompt_hash")]
        if changed or b.get("prompt_hash") != c.get("prompt_hash"):
            detail = f"items {_items(changed)}" if changed else "item order"
            problems.append(f"{task}: prompt hashes differ ({b.get('prompt_hash')} vs {c.get('prompt_hash')}; {detail})")
        targets = [k for k in b_keys if b_keys[k].get("target") != c_keys[k].get("target")]
        if targets:
            problems.append(f"{task}: gold answers differ for items {_items(targets)}")
    return problems


def _items(keys: list) -> str:
    if not keys:
        return "none"
    shown = ", ".join(str(i) if s is None else f"{s}/{i}" for s, i in keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def compare_task(task: str, b: dict, c: dict, b_rows: list[dict], c_rows: list[dict],
                 tolerance: float, alpha: float) -> TaskComparison:
    metric = b["card"]["metric"]
    base_value, cand_value = b["card"]["value"], c["card"]["value"]
    delta = None if base_value is None or cand_value is None else cand_value - base_value
    result = TaskComparison(task, b["card"]["column"], len(b_rows), base_value, cand_value, delta)
    by_key = {r["_key"]: r for r in c_rows}
    pairs = [(r, by_key[r["_key"]]) for r in b_rows]
    old, new = card_item_scores(b, metric, b_rows), card_item_scores(c, metric, c_rows)
    if old is None or new is None:
        result.per_item_scores = False
        result.note = "corpus metric: no per-item scores, no SE; changed predictions listed"
        result.flips = [_flip(rb, rc) for rb, rc in pairs if rb.get("prediction") != rc.get("prediction")]
    else:
        result.flips = [_flip(rb, rc, o, n) for (rb, rc), o, n in zip(pairs, old, new) if o != n]
        if any(v is not None and not averages_to(s, v) for s, v in ((old, base_value), (new, cand_value))):
            result.note = "per-item scores do not average to the card value: no SE"
        elif len(pairs) >= 2 and delta is not None:
            diffs = [n - o for o, n in zip(old, new)]
            result.se = mean_stderr(diffs)
            if all(v in (0.0, 1.0) for v in (*old, *new)):
                result.test = "mcnemar-exact"
                result.p_value = mcnemar_exact(sum(d < 0 for d in diffs), sum(d > 0 for d in diffs))
            else:
                result.test = "paired-z"
                result.p_value = (2 * (1 - NormalDist().cdf(abs(delta) / result.se)) if result.se > 0
                                  else float(delta == 0))
            result.significant = result.p_value < alpha
    if delta is not None:
        untested = result.test is None
        result.regression = delta < -tolerance and (result.significant or untested)
        result.improvement = delta > tolerance and (result.significant or untested)
    else:
        result.note = "no card value in one of the runs"
    return result


def _flip(rb: dict, rc: dict, old: float | None = None, new: float | None = None) -> Flip:
    return Flip(rb["index"], rb.get("subtask"), rb.get("prompt_hash"), rb.get("prediction"), rc.get("prediction"),
                old, new)


def compare_runs(baseline: Path, candidate: Path, tolerance: float = 0.01, alpha: float = 0.05,
                 tasks: str | None = None) -> Comparison:
    """Task-by-task comparison of two runs (folders or results.json); exit_code 1 on a regression."""
    base, cand = load_run(baseline), load_run(candidate)
    b_tasks, c_tasks = base.results["tasks"], cand.results["tasks"]
    if tasks:
        names = [n.strip() for n in tasks.split(",") if n.strip()]
        missing = [f"{n} (not in {'baseline' if n not in b_tasks else 'candidate'})"
                   for n in names if n not in b_tasks or n not in c_tasks]
        if missing:
            raise UserError(f"--tasks: {', '.join(missing)}")
    else:
        names = [n for n in b_tasks if n in c_tasks]
        only = [f"only in baseline: {', '.join(sorted(set(b_tasks) - set(c_tasks)))}" if set(b_tasks) - set(c_tasks) else "",
                f"only in candidate: {', '.join(sorted(set(c_tasks) - set(b_tasks)))}" if set(c_tasks) - set(b_tasks) else ""]
        if any(only):
            raise UserError("runs are not comparable: tasks differ (" + "; ".join(o for o in only if o)
                            + "); pass --tasks to compare the common ones")
    samples = {name: (base.samples(name), cand.samples(name)) for name in names}
    problems = comparability_problems(base, cand, names, samples)
    if problems:
        raise UserError("runs are not comparable: " + "; ".join(problems))
    results = [compare_task(name, b_tasks[name], c_tasks[name], *samples[name], tolerance, alpha) for name in names]
    return Comparison(str(base.folder), str(cand.folder), tolerance, alpha, results)


# ---- output ------------------------------------------------------------------------------------


def to_json(comparison: Comparison) -> str:
    payload = asdict(comparison)
    for task, entry in zip(comparison.tasks, payload["tasks"]):
        entry.update(lost=task.lost, gained=task.gained)
    payload.update(summary=comparison.summary(), exit_code=comparison.exit_code)
    return json.dumps(payload, ensure_ascii=False)


def to_text(comparison: Comparison, max_flips: int = 10) -> str:
    def num(value, digits=4, sign=False):
        return "-" if value is None else f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"

    width = max([len("task"), *(len(t.task) for t in comparison.tasks)])
    lines = [f"baseline:  {comparison.baseline}", f"candidate: {comparison.candidate}", "",
             f"{'task':<{width}}  {'n':>6}  {'baseline':>8}  {'candidate':>9}  {'delta':>8}  {'SE':>7}  "
             f"{'p':>7}  {'lost/gained':>11}  verdict"]
    for t in comparison.tasks:
        changes = f"{t.lost}/{t.gained}" if t.per_item_scores else f"{len(t.flips)} changed"
        verdict = "REGRESSION" if t.regression else "improved" if t.improvement else "ok"
        if t.test is None and t.delta is not None:
            verdict += " (untested)"
        lines.append(f"{t.task:<{width}}  {t.n:>6}  {num(t.baseline):>8}  {num(t.candidate):>9}  "
                     f"{num(t.delta, sign=True):>8}  {num(t.se):>7}  {num(t.p_value):>7}  {changes:>11}  {verdict}")
    for t in comparison.tasks:
        if not t.flips:
            continue
        lines += ["", f"{t.task}: {len(t.flips)} items changed" + (f" (first {max_flips})" if len(t.flips) > max_flips else "")
                  + (f"; {t.note}" if t.note else "")]
        for f in t.flips[:max_flips]:
            item = f.index if f.subtask is None else f"{f.subtask}/{f.index}"
            score = "" if f.old_score is None else f"  score {f.old_score:g} -> {f.new_score:g}"
            lines.append(f"  {item}  {f.prompt_hash}  {_short(f.old)} -> {_short(f.new)}{score}")
    lines += ["", comparison.summary()]
    return "\n".join(lines) + "\n"


def _short(answer, limit: int = 40) -> str:
    text = json.dumps(answer, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
