"""`swallow-eval view` without a browser: the page's data and bad input; `swallow-eval tasks` widths."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

import pytest
from conftest import REPO, cli
from test_cli_errors import one_line_error
from viewer_runs import write_canned_run

from swallow_eval.task import load_registry
from swallow_eval.view.payload import shot_prefix


@pytest.fixture(scope="module")
def run(tmp_path_factory, shared_data):
    return write_canned_run(tmp_path_factory.mktemp("view") / "run", shared_data, {"jcommonsenseqa": {2}},
                            tasks=("jcommonsenseqa", "mmlu"), limit=3)


def blobs(page: str) -> dict[str, object]:
    found = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', page, re.DOTALL)
    return {name: json.loads(text) for name, text in found}


def test_page_is_self_contained_and_stores_the_shared_prefix_once(run, tmp_path):
    out = tmp_path / "v.html"
    cli("view", str(run), "--output", str(out))
    page = out.read_text(encoding="utf-8")
    assert "<script src" not in page and "http://" not in page.split("<script")[0] and "@import" not in page
    data = blobs(page)
    mmlu = data["task-1"]
    rows = [json.loads(line) for line in (run / "samples" / "mmlu.jsonl").read_text(encoding="utf-8").splitlines()]
    # one prefix per subject (its 5 dev shots), and every context rebuilt exactly from prefix + rest
    assert len(mmlu["prefixes"]) == len({r["subtask"] for r in rows})
    for row, item in zip(rows, mmlu["items"]):
        prefix_id, rest = item["x"]  # the choices' one context, stored once
        for (context, continuation), (cont,) in zip(row["requests"], item["c"]):
            assert prefix_id >= 0 and mmlu["prefixes"][prefix_id] + rest == context and cont == continuation
    assert len(page.encode()) < sum(len(json.dumps(r, ensure_ascii=False).encode()) for r in rows)


def test_data_cannot_end_the_script_and_incomparable_runs_are_said(run, tmp_path, shared_data):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
    samples = copy / "samples" / "jcommonsenseqa.jsonl"
    rows = [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines()]
    rows[0]["outputs"] = ["</script><script>document.title = 'owned'</script><!--"]
    samples.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    other = write_canned_run(tmp_path / "other", shared_data, {}, tasks=("jcommonsenseqa", "mmlu"), limit=2)
    cli("view", str(copy), "--against", str(other))
    page = (copy / "view.html").read_text(encoding="utf-8")
    data = blobs(page)
    assert data["task-0"]["items"][0]["o"] == rows[0]["outputs"]
    problems = data["index"]["against"]["problems"]
    assert [p.split(":")[0] for p in problems] == ["jcommonsenseqa", "mmlu"] and "item sets differ" in problems[0]


def test_shot_prefix_ends_at_a_separator():
    assert shot_prefix(["Q: a\nA: 1\n\nQ: b\nA: 2\n\nQ: c\nA:", "Q: a\nA: 1\n\nQ: b\nA: 2\n\nQ: d\nA:"]) \
        == "Q: a\nA: 1\n\nQ: b\nA: 2\n\n"
    assert shot_prefix(["Q: same", "Q: same"]) == ""  # one distinct prompt: nothing shared to fold
    assert shot_prefix(["abc", "abd"]) == ""


def test_bad_input_is_one_line_naming_the_file(run, tmp_path):
    assert f"{tmp_path / 'nope'}: no such file or folder" in one_line_error(cli("view", str(tmp_path / "nope"), check=False))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert f"{empty / 'results.json'}: missing (not a run folder)" in one_line_error(cli("view", str(empty), check=False))
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(run), str(broken)], check=True)
    samples = broken / "samples" / "mmlu.jsonl"
    lines = samples.read_text(encoding="utf-8").splitlines()
    samples.write_text("\n".join([lines[0], lines[1][:-5], *lines[2:]]) + "\n", encoding="utf-8")
    assert f"{samples}:2: not valid JSON" in one_line_error(cli("view", str(broken), check=False))
    samples.write_text("\n".join([lines[0], '{"no_index": 1}', *lines[2:]]) + "\n", encoding="utf-8")
    assert f"{samples}:2: malformed row (KeyError" in one_line_error(cli("view", str(broken), check=False))
    samples.unlink()
    assert f"{samples}: missing (results.json lists task mmlu)" in one_line_error(cli("view", str(broken), check=False))
    (broken / "results.json").write_text('{"model": {}}', encoding="utf-8")
    assert f"{broken / 'results.json'}: not a swallow-eval results.json" in one_line_error(
        cli("view", str(broken), check=False))


def test_tasks_shows_whole_names_through_a_pipe_and_at_80_columns():
    names = list(load_registry())
    piped = cli("tasks", env={"COLUMNS": "80"}).stdout.splitlines()
    assert piped[0].split()[0] == "task" and [line.split()[0] for line in piped[1:]] == names
    # a real terminal of 80 columns: rich's table, the names whole on one line each
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80", "LINES": "50", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "swallow_eval", "tasks"], stdout=follower, stderr=follower,
                            env=env, cwd=REPO)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    assert proc.wait() == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode())
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80 and "…" not in text
    for name in names:
        assert any(re.search(rf"[│┃|]\s*{re.escape(name)}\s*[│┃|]", line) for line in lines), name
