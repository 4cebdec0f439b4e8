"""The embedded samples of JEMHopQA, NIILC and JMMLU: original bytes, and the prompts they give."""

import json

import pytest

from golden import prompt_rows
from swallow_eval.data import SAMPLE_ROOT
from swallow_eval.task import load_registry

JMMLU_FILES = [f.path for f in load_registry()["jmmlu"].files]  # in the reference's subject order


@pytest.fixture
def embedded(monkeypatch, tmp_path):
    """Neither --data-dir nor a download cache: runs read the embedded sample."""
    monkeypatch.delenv("SWALLOW_EVAL_DATA_DIR", raising=False)
    monkeypatch.setenv("SWALLOW_EVAL_CACHE_DIR", str(tmp_path))


def test_sample_files_are_the_original_bytes(shared_data):
    for name in ("jemhopqa/train.json", "niilc/NIILC-ECQA2015_dev.xml"):  # few-shot pools, whole
        assert (SAMPLE_ROOT / name).read_bytes() == (shared_data / name).read_bytes()
    # dev.json is one JSON line as json.dumps(..., ensure_ascii=False) writes it: the first 10 questions
    original = (shared_data / "jemhopqa" / "dev.json").read_text(encoding="utf-8")
    assert json.dumps(json.loads(original), ensure_ascii=False) == original
    sample = (SAMPLE_ROOT / "jemhopqa" / "dev.json").read_text(encoding="utf-8")
    assert sample == json.dumps(json.loads(original)[:10], ensure_ascii=False)
    # the test XML: the original up to its 10th question, then the closing tag
    original = (shared_data / "niilc" / "NIILC-ECQA2015_test.xml").read_bytes()
    sample = (SAMPLE_ROOT / "niilc" / "NIILC-ECQA2015_test.xml").read_bytes()
    head = sample.removesuffix(b"</questions>\n")
    assert original.startswith(head) and head.count(b"<question ") == 10
    # JMMLU: the first 2 rows of the first 21 subjects in the reference's order, the other files empty
    for position, name in enumerate(JMMLU_FILES):
        sample = (SAMPLE_ROOT / name).read_bytes()
        assert (shared_data / name).read_bytes().startswith(sample)
        assert (sample != b"") == (position < 21)


def test_samples_give_the_real_prompts_of_their_items(embedded, shared_data):
    for task, count in (("jemhopqa", 10), ("niilc", 9)):  # one of NIILC's first 10 questions is "-"
        rows = prompt_rows(task, None)
        assert rows == prompt_rows(task, shared_data)[:count]


def test_jmmlu_sample_goes_through_the_reference_split(embedded):
    """21 subjects x 2 rows: 21 dev + 21 test, 16 of each to train, 5 evaluated with dev few-shots."""
    rows = prompt_rows("jmmlu", None)
    assert [(r["subtask"], r["target"]) for r in rows] == [
        ("japanese_history", "B"), ("prehistory", "A"), ("college_medicine", "D"),
        ("high_school_psychology", "D"), ("high_school_geography", "D")]
    assert all(r["prompt"].count("### 入力:") == 6 for r in rows)


def test_jsquad_has_no_sample(embedded):
    from swallow_eval.errors import UserError

    task = load_registry()["jsquad"]
    assert task.no_sample_reason
    with pytest.raises(UserError, match="no data found"):
        prompt_rows("jsquad", None)
