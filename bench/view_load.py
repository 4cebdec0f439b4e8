"""Load time of `swallow-eval view` on a full-size run, in headless Chromium.

Usage: python bench/view_load.py --data-dir ../shared/data [--out /tmp/view-bench] [--tasks a,b]

Builds a run folder of every task whose data is in --data-dir, without a limit (copies of the tasks
bring it to --target-items, 100k by default, the size of a full Ja+En run): the real prompts, DUMMY
outputs (bench/overhead.py's: the gold answer for generation tasks, a fixed ranking for multiple choice,
a fixed judgment for judged tasks), scored and written by the real scoring and writer. Then writes its
viewer page and measures in Debian's chromium (Playwright): the time from navigation to the first
rendered page of items, opening the largest task, a text search and the wrong-only filter there.
Prints the figures, the page's size and its ratio to the samples files it was built from.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import dummy_response  # noqa: E402  (the shared dummy outputs of the overhead bench)

from swallow_eval import view  # noqa: E402
from swallow_eval.errors import UserError  # noqa: E402
from swallow_eval.metrics import MetricContext  # noqa: E402
from swallow_eval.pipeline import prepare  # noqa: E402
from swallow_eval.results import config_hash, package_versions, task_result, write_results, write_samples  # noqa: E402
from swallow_eval.scoring import score_task  # noqa: E402
from swallow_eval.task import BuildContext, load_registry  # noqa: E402


def build_run(folder: Path, data_dir: Path, names: list[str] | None, tokenizer) -> int:
    registry = load_registry()
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    results = {}
    for name in names or list(registry):
        task = registry[name]
        try:
            prepared = prepare(task, data_dir, None, BuildContext(tokenizer=tokenizer))
        except UserError as exc:  # its data is not in --data-dir
            print(f"  {name}: skipped ({exc})")
            continue
        responses = [dummy_response(task, item) for item in prepared.items]
        score = score_task(task, prepared.items, responses, MetricContext(tokenizer=tokenizer))
        write_samples(folder / "samples" / f"{name}.jsonl", prepared, score, responses)
        results[name] = task_result(prepared, score, responses)
        print(f"  {name}: {len(prepared.items)} items")
    config = {"tasks": list(results), "model": "dummy", "backend": "dummy", "limit": None, "max_new_tokens_cap": None}
    write_results(folder, {"swallow_eval_results": 1, "run_id": folder.name, "model": {"spec": "dummy:outputs", "name": "dummy"},
                           "config": {**config, "config_hash": config_hash(config)}, "versions": package_versions(),
                           "tasks": results})
    return sum(r["n"] for r in results.values())


def replicate(folder: Path, target: int) -> None:
    """Copies of the tasks (`<task>~2`, ...) until the run has `target` items: shared/data lacks some
    benchmarks' files, and the page's cost depends on the size of the data, not on which task it is."""
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    for name in [n for n in results["tasks"] if "~" in n]:  # from an earlier call
        del results["tasks"][name]
        (folder / "samples" / f"{name}.jsonl").unlink(missing_ok=True)
    originals = dict(results["tasks"])
    total, copy = sum(e["n"] for e in originals.values()), 2
    while total < target:
        for name, entry in originals.items():
            if total >= target:
                break
            source = folder / "samples" / f"{name}.jsonl"
            (folder / "samples" / f"{name}~{copy}.jsonl").write_bytes(source.read_bytes())
            results["tasks"][f"{name}~{copy}"] = entry
            total += entry["n"]
        copy += 1
    write_results(folder, results)


def measure(page_path: Path, largest: str, query: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        started = time.perf_counter()
        page.goto(page_path.as_uri(), timeout=300_000, wait_until="commit")
        page.wait_for_function("window.viewerTimings && window.viewerTimings.firstFrameMs > 0", timeout=300_000)
        figures = {"first page of items in the DOM (since navigation start), ms": page.evaluate("viewerTimings.firstPageMs"),
                   "first page of items painted (the frame after), ms": page.evaluate("viewerTimings.firstFrameMs")}
        page.wait_for_load_state("load")
        figures["whole file read (load event), ms"] = page.evaluate(
            "performance.getEntriesByType('navigation')[0].loadEventStart")
        figures["wall time goto -> loaded, ms"] = (time.perf_counter() - started) * 1000
        page.evaluate(f"location.hash = {json.dumps('#' + largest)}")
        page.wait_for_function(f"document.querySelector('.card.selected .name').textContent === {json.dumps(largest)}")
        figures[f"open {largest} (parse its data + first page), ms"] = page.evaluate("viewerTimings.lastOpenMs")
        before = page.locator("#count").inner_text()
        page.locator("#search").fill(query)
        page.wait_for_function(f"document.getElementById('count').textContent !== {json.dumps(before)}")
        figures[f"search {query!r} in {largest} (first search builds the index), ms"] = page.evaluate("viewerTimings.lastApplyMs")
        page.locator("#search").fill(query[:-1])
        page.wait_for_function("document.getElementById('count').textContent.length > 0")
        page.wait_for_timeout(400)
        figures[f"search again {query[:-1]!r}, ms"] = page.evaluate("viewerTimings.lastApplyMs")
        page.locator("#search").fill("")
        page.wait_for_timeout(400)
        page.locator("#wrong").check()
        figures["wrong-only filter, ms"] = page.evaluate("viewerTimings.lastApplyMs")
        page.locator("#sort").select_option("score-asc")
        figures["sort by score, ms"] = page.evaluate("viewerTimings.lastApplyMs")
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("/tmp/view-bench"))
    parser.add_argument("--tasks", default=None)
    parser.add_argument("--query", default="the")
    parser.add_argument("--target-items", type=int, default=100_000,
                        help="copy the tasks until the run has this many items (a full Ja+En run: ~100k)")
    parser.add_argument("--tokenizer", default="proxy:gemma3-270m", help="model whose tokenizer tasks/metrics need")
    args = parser.parse_args()
    run = args.out / "run"
    started = time.perf_counter()
    if not (run / "results.json").is_file():
        print(f"building the run in {run} (real prompts, dummy outputs)")
        from transformers import AutoTokenizer

        from swallow_eval import models

        tokenizer = AutoTokenizer.from_pretrained(models.resolve(args.tokenizer).path)
        build_run(run, args.data_dir, args.tasks.split(",") if args.tasks else None, tokenizer)
    replicate(run, args.target_items)
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    items = {name: entry["n"] for name, entry in results["tasks"].items()}
    print(f"real items: {sum(n for name, n in items.items() if '~' not in name)}; with copies of the tasks:")
    print(f"run: {sum(items.values())} items in {len(items)} tasks ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    page = view.build(run)
    build_s = time.perf_counter() - started
    samples_mb = sum(p.stat().st_size for p in (run / "samples").glob("*.jsonl")) / 2**20
    page_mb = page.stat().st_size / 2**20
    print(f"view.html: {page_mb:.1f} MB, built in {build_s:.1f} s; samples files {samples_mb:.1f} MB "
          f"(page / samples = {page_mb / samples_mb:.2f})")
    largest = max(items, key=items.get)
    for name, value in measure(page, largest, args.query).items():
        print(f"{name}: {value:.0f}")


if __name__ == "__main__":
    main()
