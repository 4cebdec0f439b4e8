"""The CLI contract of `tasks`, `prompts`, `score`, `metric` and `data download`."""

import functools
import http.server
import json
import threading

import pytest

from conftest import cli, jsonl


def test_tasks_lists_columns():
    rows = jsonl(cli("tasks", "--json").stdout)
    jcom = next(r for r in rows if r["name"] == "jcommonsenseqa")
    assert jcom == {"name": "jcommonsenseqa", "suite": "ja", "shots": 4, "metrics": ["exact_match"],
                    "column": "JCom.", "request_type": "generate", "reference": "llm-jp-eval v1.3.0"}


def test_user_task_dir_adds_a_task(tmp_path, shared_data):
    (tmp_path / "my_jcom.py").write_text(
        "import dataclasses\n"
        "from swallow_eval.task import load_registry\n"
        "TASK = dataclasses.replace(load_registry()['jcommonsenseqa'], name='my_jcom', shots=0)\n"
    )
    names = [r["name"] for r in jsonl(cli("tasks", "--json", "--tasks-dir", str(tmp_path)).stdout)]
    assert "my_jcom" in names and "jcommonsenseqa" in names


def test_score_rescoring_without_model(tmp_path, shared_data):
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"index": i, "output": out}) + "\n"
                                   for i, out in enumerate(["2", " 2\n\nmore", "1"])))
    out = json.loads(cli("score", "jcommonsenseqa", "--predictions", str(predictions), "--data-dir",
                         str(shared_data)).stdout)
    # gold of items 0-2 is 2, 2, 0; the llm-jp-eval clean-up keeps " 2" before the blank line, stripped
    assert out == {"task": "jcommonsenseqa", "n": 3, "metrics": {"exact_match": pytest.approx(2 / 3)}}


def test_metric_command(tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(c) + "\n" for c in [
        {"prediction": "2", "reference": "2"}, {"prediction": "２", "reference": "2"}, {"prediction": "", "reference": "2"},
    ]))
    out = json.loads(cli("metric", "exact_match", "--input", str(cases)).stdout)
    assert out == {"metric": "exact_match", "per_item": [1.0, 0.0, 0.0], "score": pytest.approx(1 / 3)}


def test_embedded_sample_is_used_without_data_dir(tmp_path):
    rows = jsonl(cli("prompts", "jcommonsenseqa", env={"SWALLOW_EVAL_CACHE_DIR": str(tmp_path),
                                                       "SWALLOW_EVAL_DATA_DIR": ""}).stdout)
    assert len(rows) == 10


def test_download_from_local_mirror(tmp_path, shared_data):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shared_data))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        mirror = f"http://127.0.0.1:{server.server_port}"
        cache = tmp_path / "cache"
        env = {"SWALLOW_EVAL_CACHE_DIR": str(cache), "SWALLOW_EVAL_DATA_DIR": ""}
        cli("data", "download", "--tasks", "jcommonsenseqa", "--mirror", mirror, env=env)
        for name in ("train-v1.1.json", "valid-v1.1.json"):
            got = (cache / "data" / "jcommonsenseqa" / name).read_bytes()
            assert got == (shared_data / "jcommonsenseqa" / name).read_bytes()
        # the full set is now used instead of the embedded sample
        assert len(jsonl(cli("prompts", "jcommonsenseqa", env=env).stdout)) == 1119
        # a file whose checksum does not match the published one is refused and not kept
        tampered = tmp_path / "tampered" / "jcommonsenseqa"
        tampered.mkdir(parents=True)
        (tampered / "train-v1.1.json").write_text("{}\n")
        (tampered / "valid-v1.1.json").write_text("{}\n")
        server.RequestHandlerClass = functools.partial(http.server.SimpleHTTPRequestHandler,
                                                       directory=str(tmp_path / "tampered"))
        result = cli("data", "download", "--tasks", "jcommonsenseqa", "--mirror", mirror, "--dest",
                     str(tmp_path / "dest"), env=env, check=False)
        assert result.returncode == 2 and "does not match the published" in result.stderr
        assert not (tmp_path / "dest" / "jcommonsenseqa" / "train-v1.1.json").exists()
        # an unreachable server is one line, too
        result = cli("data", "download", "--tasks", "jcommonsenseqa", "--mirror", "http://127.0.0.1:9",
                     "--dest", str(tmp_path / "dest"), env=env, check=False)
        assert result.returncode == 2 and "download of http://127.0.0.1:9/jcommonsenseqa/" in result.stderr
    finally:
        server.shutdown()
