"""The results contract: its JSON Schemas accept what the writer writes and reject what it must not,
first-release files keep loading, and `report`/`compare` refuse a version they do not know."""

import copy
import json

import jsonschema
import pytest

from conftest import cli
from swallow_eval import SCHEMA_VERSION, load_results
from swallow_eval.errors import UserError
from swallow_eval.pipeline import prepare
from swallow_eval.schema import json_schema
from swallow_eval.task import BuildContext, load_registry
from test_cli_errors import one_line_error
from test_compare import answers, write_run


@pytest.fixture(scope="module")
def jcom(shared_data):
    """The first 20 JCommonsenseQA items (test_compare writes runs of them with chosen outputs)."""
    return prepare(load_registry()["jcommonsenseqa"], shared_data, 20, BuildContext())


def _schema_payload(run_dir) -> dict:
    return json.loads((run_dir / "results.json").read_text(encoding="utf-8"))


def _set_version(run_dir, version) -> None:
    payload = _schema_payload(run_dir)
    payload.pop("swallow_eval_results", None)
    payload["schema_version"] = version
    (run_dir / "results.json").write_text(json.dumps(payload), encoding="utf-8")


def test_first_release_files_are_version_1(tmp_path, jcom):
    run = write_run(tmp_path / "old", (jcom, answers(jcom)))
    assert _schema_payload(run)["swallow_eval_results"] == 1
    assert load_results(run / "results.json")["tasks"]["jcommonsenseqa"]["n"] == 20


@pytest.mark.parametrize("version", [999, SCHEMA_VERSION + 1, "1", 0])
def test_unknown_or_newer_versions_are_refused(tmp_path, jcom, version):
    run = write_run(tmp_path / "run", (jcom, answers(jcom)))
    _set_version(run, version)
    with pytest.raises(UserError, match="schema_version"):
        load_results(run / "results.json")


def test_report_and_compare_refuse_schema_version_999(tmp_path, jcom):
    base = write_run(tmp_path / "base", (jcom, answers(jcom)))
    newer = write_run(tmp_path / "newer", (jcom, answers(jcom)))
    _set_version(newer, 999)
    expected = f"{newer / 'results.json'}: schema_version 999 is newer than this swallow-eval reads"
    report = cli("report", str(newer), check=False)
    assert report.returncode == 2 and expected in one_line_error(report)
    for args in ((str(base), str(newer)), (str(newer), str(base))):
        compared = cli("compare", *args, check=False)
        assert compared.returncode == 2 and expected in one_line_error(compared)


def test_schemas_are_valid_and_reject_a_broken_file():
    results, sample = json_schema("results"), json_schema("sample")
    jsonschema.Draft202012Validator.check_schema(results)
    jsonschema.Draft202012Validator.check_schema(sample)
    line = {"index": 0, "prompt_hash": "0123456789abcdef", "prompt": "Q", "target": "A", "outputs": ["A"],
            "prediction": "A", "metrics": {"exact_match": 1.0}}
    jsonschema.validate(line, sample)
    for broken in ({k: v for k, v in line.items() if k != "prediction"}, {**line, "extra": 1},
                   {**line, "metrics": {"exact_match": "1"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, sample)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": SCHEMA_VERSION, "tasks": {}}, results)


def test_the_writers_task_entries_and_samples_validate(tmp_path, jcom):
    """results.task_result and write_samples output (whole run files are checked by the conftest hook)."""
    run = write_run(tmp_path / "run", (jcom, answers(jcom, wrong=[0], invalid=[1])))
    task_schema = copy.deepcopy(json_schema("results"))
    task_schema.update(task_schema["$defs"]["task"])
    jsonschema.validate(_schema_payload(run)["tasks"]["jcommonsenseqa"], task_schema)
    rows = (run / "samples" / "jcommonsenseqa.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 20
    for row in rows:
        jsonschema.validate(json.loads(row), json_schema("sample"))
