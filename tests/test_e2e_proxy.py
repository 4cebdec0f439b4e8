"""End to end on the real proxy model (fp32): exact outputs, and a SIGKILL mid-run that resumes."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, cli, run_api

pytestmark = pytest.mark.model


def run_dir(output: Path) -> Path:
    (found,) = list(output.glob("gemma3-270m/*/results.json"))
    return found.parent


def samples(output: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (run_dir(output) / "samples" / f"{task}.jsonl").read_text().splitlines()]


def test_jcommonsenseqa_first_five_items(shared_data, tmp_path):
    out = tmp_path / "results"
    run_api(out, tasks="jcommonsenseqa", data_dir=shared_data, limit=5)
    rows = samples(out, "jcommonsenseqa")
    assert [r["outputs"] for r in rows] == [["1"], ["2"], ["1"], ["2"], ["2"]]
    assert [r["target"] for r in rows] == ["2", "2", "0", "0", "0"]
    results = json.loads((run_dir(out) / "results.json").read_text())
    task = results["tasks"]["jcommonsenseqa"]
    assert task["metrics"]["exact_match"]["value"] == pytest.approx(0.2)
    assert task["card"] == {"column": "jcommonsenseqa", "label": "JCom.", "metric": "exact_match", "value": 0.2}
    assert task["add_bos"] is True  # llm-jp-eval with transformers >= 4.43: the tokenizer's default
    assert task["data"]["source"] == "data-dir"
    assert results["requests"] == {"total": 5, "distinct": 5, "cached": 0, "computed": 5}


def test_sigkill_mid_run_resumes_from_cache(shared_data, tmp_path):
    cache = tmp_path / "responses.sqlite"
    args = ["run", "--tasks", "jcommonsenseqa", "--model", "proxy:gemma3-270m", "--data-dir", str(shared_data),
            "--limit", "16", "--batch-size", "4", "--no-progress", "--cache", str(cache)]
    victim = subprocess.Popen([sys.executable, "-m", "swallow_eval", *args, "--output-dir", str(tmp_path / "killed")],
                              env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and victim.poll() is None:
        if cache.exists():
            with sqlite3.connect(cache) as db:
                try:
                    done = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
                except sqlite3.OperationalError:
                    done = 0
            if done >= 4:
                break
        time.sleep(0.2)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert 4 <= done < 16

    resumed = cli(*args, "--output-dir", str(tmp_path / "resumed"))
    with sqlite3.connect(cache) as db:
        finished_before_kill = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert f"{16} distinct, " in resumed.stderr
    served = int(resumed.stderr.split(" served from the cache")[0].rsplit(", ", 1)[1])
    assert served >= done  # every request finished before the kill came from the cache
    assert finished_before_kill == 16

    cli(*args[:-2], "--no-cache", "--output-dir", str(tmp_path / "uninterrupted"))
    assert samples(tmp_path / "resumed", "jcommonsenseqa") == samples(tmp_path / "uninterrupted", "jcommonsenseqa")


@pytest.fixture(scope="module")
def llmjp_run(jsquad_data, tmp_path_factory) -> Path:
    """One run of the four other llm-jp-eval tasks: real JEMHopQA and NIILC, real JSQuAD valid with the
    train fixture, and JMMLU's embedded sample (5 items; --limit is per subject: 265 items on the full split)."""
    data = tmp_path_factory.mktemp("llmjp-data")
    for name in ("jemhopqa", "niilc", "jsquad"):
        (data / name).symlink_to(jsquad_data / name)
    (data / "jmmlu").symlink_to(REPO / "swallow_eval" / "sample_data" / "jmmlu")
    out = tmp_path_factory.mktemp("llmjp-results")
    run_api(out, tasks="jemhopqa,niilc,jsquad,jmmlu", data_dir=data, limit=5)
    return out


@pytest.mark.parametrize("task, outputs, targets, per_item, score", [
    ("jemhopqa",
     ["『ファイナルファンタジーXIII』", "NO", "本社", "東條英機", "『ワイルド・スピード/スーパーコンボ』"],
     ["ファイナルファンタジーXIII", "YES", "カリフォルニア州クパチーノ", "第二次世界大戦", "クリス・モーガン"],
     [1.0, 0.0, 0.0, 0.0, 0.32], 0.264),
    ("niilc",
     ["IBM", "GSM", "18歳", "1951年", "試験"],
     ["東芝", "TACS,HiCAP,PDC,cdmaOne,CDMA2001,W-CDMA,LTE,モバイルWiMAX,AXGP,LTE-Advanced,WiMAX 2.1,LTE-?x",
      "20歳", "1964年", "司法試験"],
     [0.0, 0.07, 0.33, 0.6, 0.67], 0.334),
    ("jsquad",
     ["北海道", "5月から7月", "北海道", "5月から7月", "入梅"],
     ["小笠原諸島", "雨季", "東アジアの広範囲", "5月から7月にかけて", "田植えの時期の目安"],
     [0.0, 0.0, 0.0, 0.75, 0.0], 0.15),
    ("jmmlu", ["A"] * 5, ["B", "A", "D", "D", "D"], [0.0, 1.0, 0.0, 0.0, 0.0], 0.2),
])
def test_llmjp_tasks_first_five_items(llmjp_run, task, outputs, targets, per_item, score):
    rows = samples(llmjp_run, task)
    assert [r["outputs"] for r in rows] == [[o] for o in outputs]  # the family stops at "\n\n"
    assert [r["target"] for r in rows] == targets
    metric = "exact_match" if task == "jmmlu" else "char_f1"
    assert [r["metrics"][metric] for r in rows] == per_item
    result = json.loads((run_dir(llmjp_run) / "results.json").read_text())["tasks"][task]
    assert result["metrics"][metric]["value"] == score
    assert result["card"]["column"] == task and result["card"]["value"] == score
    assert result["n"] == 5 and result["add_bos"] is True


def test_jmmlu_reports_subjects_and_categories(llmjp_run):
    rows = samples(llmjp_run, "jmmlu")
    assert [r["subtask"] for r in rows] == [
        "japanese_history", "prehistory", "college_medicine", "high_school_psychology", "high_school_geography"]
    result = json.loads((run_dir(llmjp_run) / "results.json").read_text())["tasks"]["jmmlu"]
    assert result["subtasks"]["prehistory"] == {"exact_match": 1.0}
    assert result["groups"] == {"humanities": {"exact_match": 0.5}, "other": {"exact_match": 0.0},
                                "social_sciences": {"exact_match": 0.0}}
