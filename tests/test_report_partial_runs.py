"""Leaderboards that do not mislead: runs on the embedded sample, with --limit or a --max-new-tokens cap
are marked in every format and are never bold-best nor averaged with full runs unless asked."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import cli
from test_report import published, task_entry, write_run
from viewer_runs import write_canned_run

from swallow_eval import report
from swallow_eval.report.leaderboard import partial_run
from swallow_eval.report.render import render
from swallow_eval.task import load_registry

JA_COLUMNS = [k for k in published("ja")[0] if k not in ("model", "ja_avg")]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """A run of two tasks on their embedded samples with --limit 10; canned gold answers (accuracy 1.0)."""
    root = tmp_path_factory.mktemp("sample")
    return write_canned_run(root / "run", None, {}, tasks=("jcommonsenseqa", "niilc"), limit=10, model="canned:sample")


def test_sample_run_next_to_the_published_rows(sample_run):
    results = json.loads((sample_run / "results.json").read_text(encoding="utf-8"))
    assert {t["data"]["source"] for t in results["tasks"].values()} == {"embedded-sample"}
    assert results["tasks"]["jcommonsenseqa"]["card"]["value"] == 1.0  # above every published JCom.
    sections = report.build([sample_run], load_registry(), reference=True, tables="ja").sections
    _, rows = sections[0]
    ours = next(r for r in rows if r.model == "canned:sample")
    jcom, niilc = JA_COLUMNS.index("jcommonsenseqa"), JA_COLUMNS.index("niilc")
    assert set(ours.partial) == {jcom, niilc} and ours.partial[jcom].n == 10
    assert ours.partial[jcom].reasons == ("embedded sample", "--limit 10")

    md = render(sections, "md")
    line = next(ln for ln in md.splitlines() if ln.startswith("| canned:sample |"))
    assert "| 1.000‡ n=10 |" in line and "**" not in line
    best_jcom = max(float(r["jcommonsenseqa"]) for r in published("ja"))
    assert f"**{best_jcom:.3f}**" in md  # the published best stays bold
    assert "‡ partial run" in md and "never bold-best" in md
    n_niilc = results["tasks"]["niilc"]["n"]  # the embedded NIILC sample is smaller than --limit
    assert "‡ canned:sample, n=10: embedded sample, --limit 10: JCom." in md
    assert f"‡ canned:sample, n={n_niilc}: embedded sample, --limit 10: NIILC" in md

    rows_csv = list(csv.reader(io.StringIO(render(sections, "csv"))))
    assert rows_csv[0][-1] == "partial_runs"
    ours_csv = next(r for r in rows_csv if r[0] == "canned:sample")
    assert ours_csv[1 + jcom] == "1.000‡" and "jcommonsenseqa n=10: embedded sample, --limit 10" in ours_csv[-1]

    tex = render(sections, "latex")
    assert "1.000$^\\ddagger${\\scriptsize n=10}" in tex and "\\textbf{1.000}" not in tex

    data = json.loads(render(sections, "json"))
    ours_json = next(r for r in data["tables"][0]["rows"] if r["model"] == "canned:sample")
    assert ours_json["best"] == [] and ours_json["partial_runs"]["jcommonsenseqa"] == {
        "n": 10, "reasons": ["embedded sample", "--limit 10"]}
    assert ours_json["partial_runs_included"] is False and data["partial_run_legend"][0].startswith("‡ partial run")

    html = render(sections, "html")
    assert 'class="partial-run" title="n=10: embedded sample, --limit 10"' in html

    included = report.build([sample_run], load_registry(), reference=True, tables="ja", include_partial_runs=True)
    md = render(included.sections, "md")
    assert "| **1.000**‡ n=10 |" in md and "included in bold-best and averages" in md


def test_partial_runs_are_not_averaged_with_full_runs(tmp_path):
    """A model with every Ja column, one of them from a --limit run: no Ja Avg unless asked."""
    tasks = {key: task_entry(key, 0.5) for key in JA_COLUMNS}
    write_run(tmp_path / "full", "org/m", tasks)
    sample = {"jcommonsenseqa": {**task_entry("jcommonsenseqa", 0.9), "data": {"source": "embedded-sample"}}}
    write_run(tmp_path / "later", "org/m", sample, created="2026-02-01T00:00:00+0000")
    registry = load_registry()
    (table, rows), = report.build([tmp_path], registry, tables="ja").sections
    assert rows[0].average is None
    line = next(ln for ln in render([(table, rows)], "md").splitlines() if ln.startswith("| org/m |"))
    assert line.endswith("| – |") and "| 0.900‡ n=10 |" in line
    (_, rows), = report.build([tmp_path], registry, tables="ja", partial_average=True).sections
    assert rows[0].average == pytest.approx(0.5) and rows[0].average_partial  # the nine full columns only
    (_, rows), = report.build([tmp_path], registry, tables="ja", include_partial_runs=True).sections
    assert rows[0].average == pytest.approx((0.5 * 9 + 0.9) / 10) and len(JA_COLUMNS) in rows[0].partial
    # the CLI option
    out = cli("report", str(tmp_path), "--table", "ja", "--include-partial-runs").stdout
    assert f"| {(0.5 * 9 + 0.9) / 10:.3f}‡ n=10 |" in out


def test_which_runs_are_partial():
    registry = load_registry()
    full = {"n": 1119, "data": {"source": "data-dir"}}
    assert partial_run(full, {"limit": None, "max_new_tokens_cap": None}, registry["jcommonsenseqa"]) is None
    capped = partial_run(full, {"max_new_tokens_cap": 8}, registry["gsm8k"])
    assert capped.reasons == ("--max-new-tokens 8 < 256",) and capped.describe() == "n=1119: --max-new-tokens 8 < 256"
    # a cap at or above the reference's limit changes nothing (JCommonsenseQA generates 1 token);
    # log-likelihood tasks generate nothing
    assert partial_run(full, {"max_new_tokens_cap": 8}, registry["jcommonsenseqa"]) is None
    assert partial_run(full, {"max_new_tokens_cap": 8}, registry["mmlu"]) is None
    assert partial_run(full, {"max_new_tokens_cap": 8}, None).reasons[0].startswith("--max-new-tokens 8 (task not registered")
