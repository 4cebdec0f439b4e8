"""`swallow-eval view` and the HTML leaderboard in a real browser (headless Debian chromium, Playwright).

The runs are real run folders of six tasks written from canned outputs (tests/viewer_runs.py): real
prompts, real scoring, the real writer. What the page shows is checked against the samples files
read here line by line. Screenshots are saved under each test's tmp folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import cli

from swallow_eval.compare import compare_runs
from swallow_eval.uncertainty import card_stderr

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")

BASE_WRONG = {"jcommonsenseqa": {1, 4, 7}, "mmlu": {0, 5, 300}, "xwinograd_en": {2}, "mt_bench_ja": {0}}
NEW_WRONG = {"jcommonsenseqa": {4, 9}, "mmlu": {0, 6, 301}, "xwinograd_en": set(), "mt_bench_ja": {0, 3}}


def samples(run: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (run / "samples" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_data):
    from viewer_runs import write_canned_run

    root = tmp_path_factory.mktemp("runs")
    base = write_canned_run(root / "canned" / "base", shared_data, BASE_WRONG)
    new = write_canned_run(root / "canned" / "new", shared_data, NEW_WRONG)
    result = cli("view", str(new), "--against", str(base), "--output", str(root / "against.html"))
    assert f"view: {root / 'against.html'}" in result.stderr
    result = cli("view", str(new))
    assert f"view: {new / 'view.html'}" in result.stderr
    return {"base": base, "new": new, "against": root / "against.html"}


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium (.ci/run does)")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    requests = []
    opened.on("request", lambda r: requests.append(r.url))
    errors = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    context.close()
    assert not errors, errors
    assert all(url.startswith("file://") for url in requests), requests  # nothing from the network


def shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def count_text(page) -> str:
    return page.locator("#count").inner_text()


def open_item(page, position: int):
    page.locator(f"#item-{position} > .line").click()
    return page.locator(f"#item-{position} .detail")


def test_header_cards_and_generation_items(runs, page, tmp_path):
    run = runs["new"]
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    page.goto((run / "view.html").as_uri())
    assert page.locator("#title").inner_text().startswith("canned:gold-with-mistakes")
    assert results["config"]["config_hash"] in page.locator("#subtitle").inner_text()
    assert "--limit 12" in page.locator("#subtitle").inner_text()
    page.locator("#settings-box > summary").click()
    settings = page.locator("#settings").inner_text()
    assert results["versions"]["swallow-eval"] in settings and "torch" in settings
    assert "data source per task" in settings and f"data-dir {results['tasks']['mmlu']['data']['root']}" in settings
    cards = page.locator(".card")
    assert cards.count() == len(results["tasks"])
    for k, (name, entry) in enumerate(results["tasks"].items()):
        text = cards.nth(k).inner_text()
        assert name in text and f"{entry['card']['value']:.3f}" in text and f"n={entry['n']}" in text
        se = card_stderr(entry, samples(run, name))
        assert (f"SE ±{se:.3f}" if se is not None else "SE –") in text
        assert "--limit 12" in text
    assert "breakdown" in cards.nth(1).inner_text()  # MMLU's groups and subjects

    rows = samples(run, "jcommonsenseqa")
    assert count_text(page) == f"items 1–{len(rows)} of {len(rows)}"
    detail = open_item(page, 4)
    prompt = detail.locator("details.prompt")
    assert prompt.get_attribute("open") is None  # collapsed
    prompt.locator("> summary").click()
    shots = prompt.locator("details.shots")
    assert shots.get_attribute("open") is None and "shared by this task's items" in shots.inner_text()
    shots.locator("> summary").click()
    shared, rest = shots.locator("pre").inner_text(), prompt.locator("pre.rest").inner_text()
    assert shared + rest == rows[4]["prompt"] and shared.endswith("\n\n") and len(shared) > len(rest)
    text = detail.inner_text()
    assert rows[4]["outputs"][0] in text and str(rows[4]["target"]) in text
    assert page.locator("#item-4 .mark").inner_text() == "✗" and page.locator("#item-3 .mark").inner_text() == "✓"
    shot(page, tmp_path, "viewer-jcommonsenseqa-item")

    # GSM8K samples its shots per item: nothing is shared, each item's own shots fold
    row = samples(run, "gsm8k")[2]
    page.goto((run / "view.html").as_uri() + "#gsm8k/2")
    prompt = page.locator("#item-2 details.prompt")
    prompt.locator("> summary").click()
    prompt.locator("details.shots > summary").click()
    assert "this item's own shots" in prompt.locator("details.shots > summary").inner_text()
    own, rest = prompt.locator("details.shots pre").inner_text(), prompt.locator("pre.rest").inner_text()
    assert own + rest == row["prompt"] and rest.startswith("Question:") and own.count("Question:") >= 4


def test_filters_search_and_sorting(runs, page, tmp_path):
    run = runs["new"]
    page.goto((run / "view.html").as_uri() + "#mmlu")
    rows = samples(run, "mmlu")
    wrong = [k for k, r in enumerate(rows) if r["metrics"]["acc"] < 1]
    assert count_text(page).startswith(f"items 1–50 of {len(rows)}")
    page.locator("#wrong").check()
    assert count_text(page) == f"items 1–{len(wrong)} of {len(wrong)} (filtered from {len(rows)})"
    shown = [int(a) for a in page.locator("#items .item").evaluate_all("ns => ns.map(n => n.dataset.at)")]
    assert shown == wrong
    page.locator("#wrong").uncheck()
    subject = rows[300]["subtask"]
    page.locator("#subtask").select_option(subject)
    members = [k for k, r in enumerate(rows) if r["subtask"] == subject]
    assert count_text(page) == f"items 1–{len(members)} of {len(members)} (filtered from {len(rows)})"
    assert page.locator("#items .item .idx").all_inner_texts() == [f"{subject}/{rows[k]['index']}" for k in members]
    page.locator("#subtask").select_option("")
    # search: a phrase of one item's own question (after the shared few-shot part)
    question = rows[300]["requests"][0][0].rsplit("\n\n", 1)[-1].splitlines()[0][:40]
    page.locator("#search").fill(question)
    matching = [k for k, r in enumerate(rows) if question.lower() in r["requests"][0][0].rsplit("\n\n", 1)[-1].lower()]
    page.wait_for_function(f"document.getElementById('count').textContent.includes('of {len(matching)} (filtered')")
    assert 300 in [int(a) for a in page.locator("#items .item").evaluate_all("ns => ns.map(n => n.dataset.at)")]
    page.locator("#search").fill("")
    page.wait_for_function(f"document.getElementById('count').textContent.includes('of {len(rows)}')")
    page.locator("#sort").select_option("score-asc")
    marks = page.locator("#items .item .mark").all_inner_texts()
    assert marks[: len(wrong)] == ["✗"] * len(wrong) and set(marks[len(wrong):]) == {"✓"}
    page.locator("#next").click()
    assert page.locator("#page").inner_text() == f"page 2 / {math.ceil(len(rows) / 50)}"
    shot(page, tmp_path, "viewer-mmlu-sorted-page2")
    # corpus metric: no per-item scores, no "wrong only"
    page.goto((run / "view.html").as_uri() + "#wmt20_en_ja")
    assert page.locator("#wrong").is_disabled()


def test_loglikelihood_code_and_judged_items(runs, page, tmp_path):
    run = runs["new"]
    page.goto((run / "view.html").as_uri() + "#mmlu")
    row = samples(run, "mmlu")[6]  # wrong in the new run
    detail = open_item(page, 6)
    table = detail.locator("table.choices tr")
    assert table.count() == len(row["requests"]) + 1
    won = max(range(len(row["loglikelihoods"])), key=row["loglikelihoods"].__getitem__)
    assert row["prediction"] == won != row["target"]
    for k, (ll, (_, continuation)) in enumerate(zip(row["loglikelihoods"], row["requests"])):
        cells = table.nth(k + 1).inner_text()
        assert f"{ll:.4f}" in cells and continuation.strip() in cells
        assert ("chosen" in cells) == (k == won) and ("gold" in cells) == (k == row["target"])
    shot(page, tmp_path, "viewer-mmlu-choices")

    page.goto((run / "view.html").as_uri() + "#xwinograd_en")
    row = samples(run, "xwinograd_en")[0]
    detail = open_item(page, 0)
    assert detail.locator("table.choices th").all_inner_texts()[1] == "context"  # a context per choice
    assert detail.locator("table.choices details.prompt").count() == len(row["requests"])

    page.goto((run / "view.html").as_uri() + "#jhumaneval")
    for position, row in enumerate(samples(run, "jhumaneval")[:2]):
        detail = open_item(page, position)
        verdicts = [v.strip() for v in detail.locator(".verdict").all_inner_texts()]
        assert verdicts == [r.strip() for r in row["prediction"]["results"]]  # "failed: " + an empty message
        assert verdicts.count("passed") == row["prediction"]["passed"] == (10 if position == 0 else 4)
        assert row["prediction"]["programs"][0].strip()[:60] in detail.inner_text()
    assert page.locator("#item-1 .short").inner_text().startswith("pred 4/10 programs passed")
    shot(page, tmp_path, "viewer-jhumaneval")

    page.goto((run / "view.html").as_uri() + "#mt_bench_ja")
    row = samples(run, "mt_bench_ja")[3]
    detail = open_item(page, 3)
    text = detail.inner_text()
    assert row["messages"][1][1][:30] in text
    for turn, (answer, judgment, rating) in enumerate(zip(row["outputs"], row["prediction"]["judgments"],
                                                          row["prediction"]["ratings"]), 1):
        assert f"turn {turn} answer" in text and answer in text and judgment in text
        assert f"turn {turn} judge (rating {rating:g})" in text
    shot(page, tmp_path, "viewer-mt-bench")
    rows = samples(run, "mt_bench_ja")
    category = rows[-1]["target"]["category"]  # MT-Bench has categories, no subtasks
    page.locator("#subtask").select_option(category)
    members = sum(r["target"]["category"] == category for r in rows)
    assert count_text(page) == f"items 1–{members} of {members} (filtered from {len(rows)})"


def test_item_link_opens_the_item_on_its_page(runs, page, tmp_path):
    run = runs["new"]
    rows = samples(run, "mmlu")
    row = rows[301]
    page.goto((run / "view.html").as_uri() + f"#mmlu/{row['subtask']}/{row['index']}")
    item = page.locator("#item-301")
    assert item.get_attribute("class") == "item target" and item.locator(".detail").is_visible()
    assert page.locator("#page").inner_text() == f"page {301 // 50 + 1} / {math.ceil(len(rows) / 50)}"
    href = item.locator("a.permalink").get_attribute("href")
    assert href == f"#mmlu/{row['subtask']}/{row['index']}"
    # from another task, by following the link in the same page
    page.goto((run / "view.html").as_uri() + "#jcommonsenseqa/7")
    assert page.locator("#item-7 .detail").is_visible()
    page.evaluate(f"location.hash = {json.dumps(href)}")
    page.locator("#item-301.target").wait_for()
    assert page.locator(".card.selected .name").inner_text() == "mmlu"
    shot(page, tmp_path, "viewer-item-link")


def test_against_shows_changed_items_side_by_side(runs, page, tmp_path):
    comparison = {t.task: t for t in compare_runs(runs["base"], runs["new"]).tasks}
    page.goto(runs["against"].as_uri() + "#jcommonsenseqa")
    assert "Compared against" in page.locator("#against").inner_text()
    flips = comparison["jcommonsenseqa"].flips  # wrong {1, 4, 7} -> {4, 9}: 1 and 7 gained, 9 lost
    assert sorted(f.index for f in flips) == [1, 7, 9]
    card = page.locator('.card[data-task="jcommonsenseqa"]').inner_text()
    assert f"Δ {comparison['jcommonsenseqa'].delta:+.3f}" in card and "3 changed" in card
    page.locator("#changed").check()
    assert count_text(page) == "items 1–3 of 3 (filtered from 12)"
    base_rows, new_rows = samples(runs["base"], "jcommonsenseqa"), samples(runs["new"], "jcommonsenseqa")
    detail = open_item(page, 9)
    sides = detail.locator(".sides > div")
    old, new = sides.nth(0).inner_text(), sides.nth(1).inner_text()
    assert old.startswith("baseline — score 1") and new.startswith("this run — score 0")
    assert page.locator("#item-9 .was").inner_text() == "baseline score 1 → 0"
    assert base_rows[9]["outputs"][0] in old and new_rows[9]["outputs"][0] in new
    shot(page, tmp_path, "viewer-against")
    page.goto(runs["against"].as_uri() + "#mmlu")
    page.locator("#changed").check()
    assert count_text(page).startswith(f"items 1–{len(comparison['mmlu'].flips)} of {len(comparison['mmlu'].flips)}")


def test_leaderboard_marks_partial_runs_and_links_to_the_viewer(runs, page, tmp_path):
    out = tmp_path / "board.html"
    cli("report", str(runs["new"]), "--reference", "--format", "html", "--output", str(out))
    page.goto(out.as_uri())
    row = page.locator("tr.evaluated").first
    cell = row.locator("td.partial-run").first
    assert "‡" in cell.inner_text() and "n=12" in cell.inner_text()
    assert page.locator("tr.evaluated td.best").count() == 0  # canned gold answers beat the card, yet no bold
    assert "never bold-best" in page.locator("p.partial-run-legend").first.inner_text()
    page.locator("thead tr.labels th", has_text="JCom.").first.click()  # sort still works
    shot(page, tmp_path, "leaderboard")
    link = page.locator("tr.evaluated td a").first
    link.click()
    page.locator(".card.selected").wait_for()
    assert page.url.startswith((runs["new"] / "view.html").as_uri())
    assert page.locator(".card.selected .name").inner_text() == "jcommonsenseqa"
