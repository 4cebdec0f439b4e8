"""`swallow-eval report`: the card's tables from results.json files and the published rows."""

import csv
import io
import json
from statistics import fmean

import pytest

from conftest import REPO, cli
from swallow_eval import report
from swallow_eval.report.render import render
from swallow_eval.task import load_registry

REFERENCE = REPO / "results" / "reference"
CARD_FILES = {"ja": ("ja_tasks.csv", "ja_avg"), "en": ("en_tasks.csv", "en_avg"), "mt_bench": ("mt_bench_ja.csv", "jmt_avg")}
MT_CATEGORIES = ["coding", "extraction", "humanities", "math", "reasoning", "roleplay", "stem", "writing"]

# The header rows as the card prints them (tokyotech-llm/Llama-3.3-Swallow-70B-Instruct-v0.4).
CARD_HEADERS = {
    "ja": (["JCom.", "JEMHopQA", "NIILC", "JSQuAD", "XL-Sum", "MGSM", "WMT20-en-ja", "WMT20-ja-en", "JMMLU", "JHumanEval"],
           ["4-shot"] * 4 + ["1-shot"] + ["4-shot"] * 3 + ["5-shot", "0-shot"],
           ["EM acc", "Char-F1", "Char-F1", "Char-F1", "ROUGE-2", "EM acc", "BLEU", "BLEU", "EM acc", "pass@1"]),
    "en": (["OpenBookQA", "TriviaQA", "HellaSWAG", "SQuAD2.0", "XWINO", "MMLU", "GSM8K", "MATH", "BBH", "HumanEval"],
           ["4-shot"] * 5 + ["5-shot", "4-shot", "4-shot", "3-shot", "0-shot"],
           ["Acc", "EM acc", "Acc", "EM acc", "Acc", "Acc", "EM acc", "CoT EM Acc", "CoT EM Acc", "pass@1"]),
}


def published(table: str) -> list[dict[str, str]]:
    with open(REFERENCE / CARD_FILES[table][0], encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def task_entry(column: str, value, metric: str = "acc", scale: float = 1.0, groups=None, label=None) -> dict:
    """One task of results.json as swallow_eval/results.py writes it (the fields the report reads)."""
    return {"version": "1", "n": 10, "metrics": {metric: {"value": value, "scale": scale}},
            "subtasks": {}, "groups": groups or {},
            "card": {"column": column, "label": label or column, "metric": metric, "value": value}}


def write_run(folder, model: str, tasks: dict, created: str = "2026-01-01T00:00:00+0000"):
    folder.mkdir(parents=True)
    payload = {"swallow_eval_results": 1, "run_id": folder.name, "created": created,
               "model": {"spec": model, "name": model.replace("/", "__")}, "tasks": tasks,
               "card": {t["card"]["column"]: t["card"]["value"] for t in tasks.values()}}
    (folder / "results.json").write_text(json.dumps(payload), encoding="utf-8")
    return folder


def runs_from_published(root, models: int | None = None):
    """One run per published model (the first `models`), its card values fed back in as task results."""
    tasks_of: dict[str, dict] = {}
    for table in ("ja", "en"):
        avg = CARD_FILES[table][1]
        for row in published(table):
            for key, text in row.items():
                if key not in ("model", avg):
                    tasks_of.setdefault(row["model"], {})[key] = task_entry(key, float(text))
    for row in published("mt_bench"):
        # judge scores 1-10 on a metric of scale 10, as FastChat reports them
        groups = {c: {"judge_score": float(row[c]) * 10} for c in MT_CATEGORIES}
        tasks_of[row["model"]]["mt_bench_ja"] = task_entry("jmt_avg", float(row["jmt_avg"]), "judge_score", 10.0, groups)
    for i, (model, tasks) in enumerate(list(tasks_of.items())[:models]):
        write_run(root / f"run{i:02d}", model, tasks, created=f"2026-01-01T00:00:{i:02d}+0000")
    return list(tasks_of)[:models]


def parse_csv_tables(text: str) -> dict[str, list[dict[str, str]]]:
    tables = {}
    for block in text.strip().split("\n\n"):
        rows = list(csv.DictReader(io.StringIO(block)))
        key = next(name for name, (_, avg) in CARD_FILES.items() if avg in rows[0])
        tables[key] = rows
    return tables


def assert_reproduces_card(sections):
    """Task columns as printed, character for character; averages (unrounded) within 0.001 of the card's."""
    tables = parse_csv_tables(render(sections, "csv"))
    averages = {t["name"]: [r["average"] for r in t["rows"]] for t in json.loads(render(sections, "json"))["tables"]}
    for table, (_, avg) in CARD_FILES.items():
        expected, got = published(table), tables[table]
        assert [r["model"] for r in got] == [r["model"] for r in expected]
        for want, have, average in zip(expected, got, averages[table]):
            assert {k: v for k, v in have.items() if k != avg} == {k: v for k, v in want.items() if k != avg}
            assert abs(average - float(want[avg])) <= 0.001, (want["model"], average, want[avg])


def test_published_values_fed_back_reproduce_the_three_tables(tmp_path):
    runs_from_published(tmp_path)
    built = report.build([tmp_path], load_registry())
    assert_reproduces_card(built.sections[:3])


def test_reference_rows_reproduce_the_three_tables():
    built = report.build([], load_registry(), reference=True)
    assert [t.name for t, _ in built.sections] == ["ja", "en", "mt_bench"]
    assert_reproduces_card(built.sections)


def test_en_avg_is_the_mean_of_all_ten_columns_math_included():
    """en-tasks.md §4 infers it, unverified: the published table confirms it, and rules out 9 columns."""
    rows = published("en")
    columns = [k for k in rows[0] if k not in ("model", "en_avg")]
    assert len(columns) == 10 and "math" in columns
    assert all(abs(fmean(float(r[c]) for c in columns) - float(r["en_avg"])) <= 0.0005 for r in rows)
    without_math = [abs(fmean(float(r[c]) for c in columns if c != "math") - float(r["en_avg"])) for r in rows]
    assert max(without_math) > 0.03


def test_markdown_has_card_headers_and_marks_the_best(tmp_path):
    text = render(report.build([], load_registry(), reference=True).sections, "md")
    lines = text.splitlines()
    ja = lines.index("### Japanese tasks")
    assert lines[ja + 2].startswith("| Model | JCom. |") and lines[ja + 2].endswith("| Ja Avg |")
    assert lines[ja + 4].startswith("|  | 4-shot |") and lines[ja + 5].startswith("|  | EM acc |")
    gpt4o = next(line for line in lines[ja:] if line.startswith("| GPT-4o (gpt-4o-2024-08-06)"))
    # best JCom. 0.982, Ja Avg 0.646; JSQuAD 0.889 is not the best (0.924)
    assert "| **0.982** |" in gpt4o and gpt4o.endswith("| **0.646** |") and "| 0.889 |" in gpt4o
    mt = lines.index("### Japanese MT-Bench")
    assert lines[mt + 2] == "| Model | " + " | ".join(MT_CATEGORIES) + " | JMT Avg |"
    assert lines[mt + 4].startswith("| Llama 3 70B Instruct | 0.588 |")  # no shot or metric rows
    # Ties on the page are all marked: OpenBookQA 0.454 appears three times.
    en = lines.index("### English tasks")
    assert sum("| **0.454** |" in line for line in lines[en:mt]) == 3


def test_headers_come_from_the_task_registry():
    registry = load_registry()
    tables = {t.name: t for t in report.layout.card_tables(registry)}
    fed = {task.column.key for task in registry.values()}
    unregistered = []
    for name, (labels, shots, metrics) in CARD_HEADERS.items():
        for column, label, shot, metric in zip(tables[name].columns, labels, shots, metrics):
            if column.key in fed:
                assert (column.label, column.shots, column.metric) == (label, shot, metric), column.key
            else:
                unregistered.append(column.key)
    assert [c.label for c in tables["mt_bench"].columns] == MT_CATEGORIES
    assert tables["mt_bench"].average.label == "JMT Avg" and not tables["mt_bench"].header_rows
    if unregistered:
        pytest.skip(f"tasks not in the registry yet: {', '.join(unregistered)}")


def test_missing_columns_have_no_average_unless_partial(tmp_path):
    write_run(tmp_path / "a", "org/model-a", {"jcommonsenseqa": task_entry("jcommonsenseqa", 0.5),
                                               "niilc": task_entry("niilc", 0.25)})
    section = report.build([tmp_path], load_registry(), tables="ja").sections[0]
    row = section[1][0]
    assert row.model == "org/model-a" and row.average is None
    assert render([section], "md").splitlines()[-1] == "| org/model-a | 0.500 | – | 0.250 | – | – | – | – | – | – | – | – |"
    section = report.build([tmp_path], load_registry(), tables="ja", partial_average=True).sections[0]
    assert section[1][0].average == pytest.approx(0.375) and section[1][0].average_partial
    assert render([section], "md").splitlines()[-3].endswith("| 0.375† |")
    assert render([section], "csv").splitlines()[1] == "org/model-a,0.500,,0.250,,,,,,,,0.375*"


def test_runs_of_one_model_merge_and_the_latest_wins(tmp_path):
    write_run(tmp_path / "m" / "r1", "org/m", {"jcommonsenseqa": task_entry("jcommonsenseqa", 0.5)},
              created="2026-01-01T00:00:00+0000")
    write_run(tmp_path / "m" / "r2", "org/m", {"jcommonsenseqa": task_entry("jcommonsenseqa", 0.75),
                                                "openbookqa": task_entry("openbookqa", 0.25)},
              created="2026-01-02T00:00:00+0000")
    built = report.build([tmp_path], load_registry())
    (ja, ja_rows), (en, en_rows) = built.sections
    assert [r.model for r in ja_rows] == ["org/m"] and ja_rows[0].values[0] == 0.75 and en_rows[0].values[0] == 0.25
    assert any("jcommonsenseqa from" in note and "r2 replaces" in note for note in built.notes)


def test_breakdowns_of_categories_and_turns(tmp_path):
    jmmlu = task_entry("jmmlu", 0.6, groups={"stem": {"acc": 0.5}, "humanities": {"acc": 0.7}})
    mt = task_entry("jmt_avg", 0.62, "judge_score", 10.0,
                    groups={**{c: {"judge_score": 6.0} for c in MT_CATEGORIES},
                            "first_turn": {"judge_score": 6.5}, "second_turn": {"judge_score": 5.9}})
    write_run(tmp_path / "r", "org/m", {"jmmlu": jmmlu, "mt_bench_ja": mt})
    built = report.build([tmp_path], load_registry())
    titles = [t.title for t, _ in built.sections]
    assert titles == ["Japanese tasks", "Japanese MT-Bench", "jmmlu breakdown", "JMT Avg breakdown"] or \
        titles == ["Japanese tasks", "Japanese MT-Bench", "JMMLU breakdown", "JMT Avg breakdown"]
    mt_table, mt_rows = built.sections[1]
    assert mt_rows[0].values == [pytest.approx(0.6)] * 8 and mt_rows[0].average == 0.62  # JMT Avg is the card value
    (stem_table, stem_rows), (turns, turn_rows) = built.sections[2:]
    assert [c.key for c in stem_table.columns] == ["humanities", "stem"] and stem_rows[0].values == [0.7, 0.5]
    assert stem_rows[0].average == 0.6
    assert [c.key for c in turns.columns] == ["first_turn", "second_turn"]
    assert turn_rows[0].values == [pytest.approx(0.65), pytest.approx(0.59)]


def test_html_is_one_self_contained_sortable_page():
    built = report.build([], load_registry(), reference=True)
    page = render(built.sections, "html")
    assert page.startswith("<!DOCTYPE html>") and page.count('<table class="leaderboard">') == 3
    assert "src=" not in page and "href=" not in page and "@import" not in page and "url(" not in page
    assert "<script>" in page and "addEventListener(\"click\"" in page and 'tr class="labels"' in page
    assert '<td class="best" data-value="0.982">0.982</td>' in page


def test_latex_and_json(tmp_path):
    write_run(tmp_path / "r", "org/m_1 & co", {"jcommonsenseqa": task_entry("jcommonsenseqa", 0.5)})
    sections = report.build([tmp_path], load_registry(), reference=True, tables="ja").sections
    tex = render(sections, "latex")
    assert "org/m\\_1 \\& co & 0.500 & -- &" in tex and "\\textbf{0.982}" in tex and "\\toprule" in tex
    data = json.loads(render(sections, "json"))
    rows = data["tables"][0]["rows"]
    assert rows[-1] == {"model": "org/m_1 & co", "reference": False, "values": {**{k: None for k in rows[0]["values"]},
                        "jcommonsenseqa": 0.5}, "average": None, "average_partial": False, "best": []}
    assert rows[0]["average"] == pytest.approx(fmean([0.940, 0.615, 0.557, 0.913, 0.191, 0.716, 0.269, 0.234, 0.680, 0.662]))


def test_cli_writes_report_and_plot(tmp_path):
    from PIL import Image

    runs_from_published(tmp_path / "results", models=3)
    out, png = tmp_path / "card.md", tmp_path / "card.png"
    cli("report", str(tmp_path / "results"), "--output", str(out), "--plot", str(png))
    assert out.read_text().startswith("### Japanese tasks")
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width >= 1200 and image.height >= 1500


def test_bad_input_is_one_line(tmp_path):
    from test_cli_errors import one_line_error

    assert "no results.json" in one_line_error(cli("report", str(tmp_path), check=False))
    assert "give RESULT_DIR" in one_line_error(cli("report", check=False))
    bad = tmp_path / "r" / "results.json"
    bad.parent.mkdir()
    bad.write_text("{}")
    assert f"{bad}: not a swallow-eval results.json" in one_line_error(cli("report", str(bad.parent), check=False))
    assert "did you mean 'html'" in one_line_error(cli("report", "--reference", "--format", "htm", check=False))
    assert "--table jp: unknown table" in one_line_error(cli("report", "--reference", "--table", "jp", check=False))
