"""Bad input ends in one line naming what is wrong, a non-zero exit and no traceback."""

import json


from conftest import cli


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_unknown_task_suggests_closest():
    line = one_line_error(cli("prompts", "jcommonsenseq", check=False))
    assert "unknown task 'jcommonsenseq'" in line and "did you mean 'jcommonsenseqa'" in line


def test_missing_data_file_is_named(tmp_path):
    (tmp_path / "jcommonsenseqa").mkdir()
    line = one_line_error(cli("prompts", "jcommonsenseqa", "--data-dir", str(tmp_path), check=False))
    assert "missing data file" in line and "jcommonsenseqa/train-v1.1.json" in line


def test_malformed_row_names_file_and_line(tmp_path, shared_data):
    folder = tmp_path / "jcommonsenseqa"
    folder.mkdir()
    (folder / "train-v1.1.json").write_bytes((shared_data / "jcommonsenseqa" / "train-v1.1.json").read_bytes())
    good = (shared_data / "jcommonsenseqa" / "valid-v1.1.json").read_text().splitlines()[:3]
    (folder / "valid-v1.1.json").write_text("\n".join([good[0], good[1], '{"q_id": 3, "question": "x"}']) + "\n")
    line = one_line_error(cli("prompts", "jcommonsenseqa", "--data-dir", str(tmp_path), check=False))
    assert "valid-v1.1.json:3: malformed row" in line and "choice0" in line
    (folder / "valid-v1.1.json").write_text(good[0] + "\n{not json\n")
    line = one_line_error(cli("prompts", "jcommonsenseqa", "--data-dir", str(tmp_path), check=False))
    assert "valid-v1.1.json:2: not valid JSON" in line


def test_unknown_backend_and_model(tmp_path):
    line = one_line_error(cli("run", "--tasks", "jcommonsenseqa", "--model", "proxy:gemma3-270m", "--backend", "hff",
                              "--output-dir", str(tmp_path), check=False))
    assert "unknown backend 'hff'" in line and "did you mean 'hf'" in line
    line = one_line_error(cli("run", "--tasks", "jcommonsenseqa", "--model", "./no/such/model",
                              "--output-dir", str(tmp_path), check=False))
    assert "--model ./no/such/model" in line
    line = one_line_error(cli("run", "--tasks", "jcommonsenseqa", "--model", "proxy:gemma9", "--output-dir",
                              str(tmp_path), check=False))
    assert "unknown proxy model 'gemma9'" in line


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = one_line_error(cli("run", "--tasks", "jcommonsenseqa", "--model", "proxy:gemma3-270m",
                              "--output-dir", str(blocker / "results"), check=False))
    assert "--output-dir" in line and "not writable" in line


def test_suite_and_tasks_are_exclusive(tmp_path):
    line = one_line_error(cli("run", "--suite", "ja", "--tasks", "jcommonsenseqa", "--model", "proxy:gemma3-270m",
                              "--output-dir", str(tmp_path), check=False))
    assert "exactly one of --suite or --tasks" in line


def test_bad_predictions_row(tmp_path, shared_data):
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(json.dumps({"index": 0, "output": "2"}) + "\n" + json.dumps({"index": 99999, "output": "1"}) + "\n")
    line = one_line_error(cli("score", "jcommonsenseqa", "--predictions", str(predictions), "--data-dir",
                              str(shared_data), check=False))
    assert "p.jsonl:2" in line and "99999" in line


def test_broken_task_plugin_is_named(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('oops')\n")
    line = one_line_error(cli("tasks", "--tasks-dir", str(tmp_path), check=False))
    assert "broken.py failed to load" in line and "oops" in line


def test_debug_shows_traceback():
    result = cli("--debug", "prompts", "nope", check=False)
    assert result.returncode != 0 and "Traceback" in result.stderr
