"""Malformed benchmark files of the llm-jp-eval tasks end in one error naming the file and the row."""

import json
import shutil

import pytest

from swallow_eval.errors import UserError
from swallow_eval.pipeline import prepare
from swallow_eval.task import BuildContext, load_registry


def build(task: str, data_dir):
    return prepare(load_registry()[task], data_dir, None, BuildContext()).items


def test_jemhopqa_bad_rows(tmp_path, shared_data):
    folder = tmp_path / "jemhopqa"
    shutil.copytree(shared_data / "jemhopqa", folder)
    (folder / "dev.json").write_text(json.dumps([{"question": "q", "answer": "a"}, {"question": "q"}]))
    with pytest.raises(UserError, match=r"dev\.json:item 1: malformed row \(KeyError: 'answer'\)"):
        build("jemhopqa", tmp_path)
    (folder / "dev.json").write_text(json.dumps([{"question": "q", "answer": 3}]))
    with pytest.raises(UserError, match=r"dev\.json:item 0: malformed row \(TypeError: question and answer must be text"):
        build("jemhopqa", tmp_path)
    (folder / "dev.json").write_text(json.dumps({"question": "q", "answer": "a"}))
    with pytest.raises(UserError, match=r"dev\.json: expected a JSON array"):
        build("jemhopqa", tmp_path)


def test_niilc_bad_xml(tmp_path, shared_data):
    folder = tmp_path / "niilc"
    shutil.copytree(shared_data / "niilc", folder)
    test_file = folder / "NIILC-ECQA2015_test.xml"
    test_file.write_text("<questions>\n<question id='x'><text>q</text></question>\n</questions>\n")
    with pytest.raises(UserError, match=r"test\.xml:question x: malformed row \(AttributeError"):
        build("niilc", tmp_path)
    test_file.write_text("<questions>\n<question>\n</questions>\n")
    with pytest.raises(UserError, match=r"test\.xml:3: not valid XML"):
        build("niilc", tmp_path)


def test_jmmlu_short_row(tmp_path, shared_data):
    folder = tmp_path / "jmmlu" / "JMMLU"
    shutil.copytree(shared_data / "jmmlu" / "JMMLU", folder)
    (folder / "anatomy.csv").write_text('"q","a","b","c","d","A"\n"q","a","b","c","A"\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"anatomy\.csv:2: malformed row \(ValueError"):
        build("jmmlu", tmp_path)


def test_jsquad_without_data(tmp_path, shared_data):
    folder = tmp_path / "jsquad"
    folder.mkdir()
    (folder / "train-v1.1.json").write_text('{"version": "1"}\n')
    (folder / "valid-v1.1.json").write_bytes((shared_data / "jsquad" / "valid-v1.1.json").read_bytes())
    with pytest.raises(UserError, match=r"train-v1\.1\.json:data: malformed row \(KeyError: 'data'\)"):
        build("jsquad", tmp_path)
