"""The English log-likelihood tasks end to end on the real proxy model (fp32): one run, four tasks.

OpenBookQA and XWINO read the real files, HellaSwag its fixtures. MMLU reads the real dev files and
the real test files of two subjects (abstract_algebra: stem, world_religions: humanities); the other
55 test files are empty in this data folder, because 5 items of every subject would cost the
test budget about ten CPU minutes. bench/lmeval_crosscheck.py compares such log-likelihoods with
lm-evaluation-harness itself.
"""

import json

import pytest

from conftest import FIXTURES, run_api

pytestmark = pytest.mark.model

MMLU_SUBJECTS = ("abstract_algebra", "world_religions")

# (index, log-likelihood of each choice, chosen index): recorded with fp32 on CPU.
EXPECTED = {
    "openbookqa": [
        (0, [-13.66345, -21.79236, -33.37825, -13.26778], 3),
        (1, [-14.03868, -15.15798, -14.52357, -11.58133], 3),
        (2, [-11.25639, -4.99393, -11.01241, -6.44175], 1),
        (3, [-22.70040, -21.63508, -29.77884, -23.73790], 1),
        (4, [-4.92036, -10.30588, -11.46223, -6.16142], 0),
    ],
    "hellaswag": [
        (0, [-17.76046, -17.04868, -24.78446, -19.49805], 1),
        (1, [-16.39074, -29.78725, -66.98778, -12.74021], 3),
        (2, [-17.28019, -16.19042, -24.79029, -17.05652], 1),
    ],
    "xwinograd_en": [
        (0, [-11.08772, -12.91125], 0),
        (1, [-19.18015, -17.23119], 1),
        (2, [-5.77290, -5.57001], 1),
        (3, [-5.31932, -5.53982], 0),
        (4, [-13.22839, -14.83349], 0),
    ],
    "mmlu": [
        (0, [-1.36452, -1.13029, -1.50746, -1.70211], 1),
        (1, [-1.45671, -1.18875, -1.50121, -1.49152], 1),
        (2, [-1.34368, -1.17646, -1.56353, -1.60855], 1),
        (3, [-1.50908, -1.10259, -1.28352, -1.90128], 1),
        (4, [-1.54716, -1.16196, -1.46349, -1.47576], 1),
        (100, [-1.25163, -1.68163, -1.13044, -1.69797], 2),
        (101, [-1.26017, -1.65884, -1.28012, -1.49518], 0),
        (102, [-1.26596, -1.64884, -1.25794, -1.51776], 2),
        (103, [-1.22649, -1.43071, -1.42644, -1.59770], 0),
        (104, [-1.20846, -1.64275, -1.30633, -1.55590], 0),
    ],
}
TARGETS = {
    "openbookqa": [1, 0, 2, 2, 2],
    "hellaswag": [3, 2, 0],
    "xwinograd_en": [0, 1, 0, 1, 0],
    "mmlu": [1, 2, 3, 1, 1, 3, 1, 3, 0, 3],
}
CARD = {"openbookqa": ("OpenBookQA", 0.0), "hellaswag": ("HellaSWAG", 0.0), "xwinograd_en": ("XWINO", 0.6),
        "mmlu": ("MMLU", 0.4)}
COLUMN = {"openbookqa": "openbookqa", "hellaswag": "hellaswag", "xwinograd_en": "xwino", "mmlu": "mmlu"}


def data_folder(root, shared_data):
    (root / "mmlu" / "test").mkdir(parents=True)
    for name in ("openbookqa", "xwinograd"):
        (root / name).symlink_to(shared_data / name)
    (root / "hellaswag").symlink_to(FIXTURES / "hellaswag")
    (root / "mmlu" / "dev").symlink_to(shared_data / "mmlu" / "dev")
    for source in (shared_data / "mmlu" / "test").glob("*_test.csv"):
        target = root / "mmlu" / "test" / source.name
        if source.name.removesuffix("_test.csv") in MMLU_SUBJECTS:
            target.symlink_to(source)
        else:
            target.write_text("")
    return root


def test_four_tasks_five_items_each(shared_data, tmp_path):
    data = data_folder(tmp_path / "data", shared_data)
    out = tmp_path / "results"
    run_api(out, tasks="openbookqa,hellaswag,xwinograd_en,mmlu", data_dir=data, limit=5)
    (run,) = out.glob("gemma3-270m/*/results.json")
    results = json.loads(run.read_text())
    assert results["requests"] == {"total": 82, "distinct": 82, "cached": 0, "computed": 82}
    for task, expected in EXPECTED.items():
        rows = [json.loads(line) for line in (run.parent / "samples" / f"{task}.jsonl").read_text().splitlines()]
        assert [r["index"] for r in rows] == [index for index, _, _ in expected]
        for row, (_, loglikelihoods, chosen) in zip(rows, expected):
            assert row["loglikelihoods"] == pytest.approx(loglikelihoods, abs=1e-4)
            assert row["prediction"] == chosen
        assert [r["target"] for r in rows] == TARGETS[task]
        summary = results["tasks"][task]
        label, value = CARD[task]
        assert summary["card"] == {"column": COLUMN[task], "label": label, "metric": "acc", "value": value}
        assert summary["n"] == len(expected)
        assert summary["add_bos"] is True  # lm-eval adds BOS only for gemma model types: the proxy is one
    assert [r["subtask"] for r in map(json.loads, (run.parent / "samples" / "mmlu.jsonl").read_text().splitlines())] \
        == ["abstract_algebra"] * 5 + ["world_religions"] * 5
    mmlu = results["tasks"]["mmlu"]
    assert mmlu["subtasks"] == {"abstract_algebra": {"acc": 0.6}, "world_religions": {"acc": 0.2}}
    assert mmlu["groups"] == {"mmlu_humanities": {"acc": 0.2}, "mmlu_stem": {"acc": 0.6}}
