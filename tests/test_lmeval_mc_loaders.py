"""The English log-likelihood loaders name the file and line of a malformed row."""

import json
import shutil

import pytest

from conftest import FIXTURES
from swallow_eval.errors import UserError
from swallow_eval.pipeline import prepare
from swallow_eval.task import BuildContext, load_registry


def build(task: str, data_dir):
    return prepare(load_registry()[task], data_dir, None, BuildContext()).items


def error(task: str, data_dir) -> str:
    with pytest.raises(UserError) as caught:
        build(task, data_dir)
    return str(caught.value)


def test_xwinograd_pronoun_outside_its_window(tmp_path, shared_data):
    lines = (shared_data / "xwinograd" / "dataset.tsv").read_text(encoding="utf-8").splitlines(keepends=True)[:3]
    fields = lines[2].split("\t")
    pronoun = json.loads(fields[5])
    pronoun[1] = [99, 100]  # past the last token: nothing is left to mask
    fields[5] = json.dumps(pronoun)
    (tmp_path / "xwinograd").mkdir()
    (tmp_path / "xwinograd" / "dataset.tsv").write_text("".join(lines[:2]) + "\t".join(fields), encoding="utf-8")
    assert "dataset.tsv:3: malformed row (ValueError: pronoun '.' not found" in error("xwinograd_en", tmp_path)


def test_few_shot_pool_smaller_than_the_shots(tmp_path, shared_data):
    lines = (shared_data / "xwinograd" / "dataset.tsv").read_text(encoding="utf-8").splitlines(keepends=True)[:3]
    (tmp_path / "xwinograd").mkdir()
    (tmp_path / "xwinograd" / "dataset.tsv").write_text("".join(lines), encoding="utf-8")
    assert "few-shot pool has 3 documents, 4 shots are drawn" in error("xwinograd_en", tmp_path)


def test_mmlu_unknown_answer_letter(tmp_path, shared_data):
    shutil.copytree(shared_data / "mmlu", tmp_path / "mmlu", ignore=shutil.ignore_patterns("val", "*.md"))
    anatomy = tmp_path / "mmlu" / "test" / "anatomy_test.csv"
    rows = anatomy.read_text(encoding="utf-8").splitlines(keepends=True)
    anatomy.write_text(rows[0] + rows[1][: rows[1].rstrip().rfind(",")] + ",E\n", encoding="utf-8")
    message = error("mmlu", tmp_path)
    assert "anatomy_test.csv:2: malformed row (KeyError: 'E')" in message


def test_openbookqa_unknown_answer_key(tmp_path, shared_data):
    (tmp_path / "openbookqa").mkdir()
    shutil.copy(shared_data / "openbookqa" / "train.jsonl", tmp_path / "openbookqa")
    first = json.loads((shared_data / "openbookqa" / "test.jsonl").read_text().splitlines()[0])
    (tmp_path / "openbookqa" / "test.jsonl").write_text(json.dumps(first) + "\n" + json.dumps(first | {"answerKey": "E"}) + "\n")
    assert "test.jsonl:2: malformed row (ValueError" in error("openbookqa", tmp_path)


def test_hellaswag_label_outside_the_endings(tmp_path):
    shutil.copytree(FIXTURES / "hellaswag", tmp_path / "hellaswag")
    val = tmp_path / "hellaswag" / "hellaswag_val.jsonl"
    rows = [json.loads(line) for line in val.read_text().splitlines()]
    rows[1]["label"] = 4
    val.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert "hellaswag_val.jsonl:2: malformed row (ValueError: label '4' is not the index of one of the 4 endings)" \
        in error("hellaswag", tmp_path)
