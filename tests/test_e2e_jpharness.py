"""The JP harness tasks end to end on the proxy model (fp32), and the backend's prompt-token cap.

One `run` serves the four tasks. --limit 1 (not 5): the proxy's 256-token lines cost minutes of CPU
per item on two shared cores; the first item of each task stops early (9-41 new tokens).
"""

import json
import os
import shutil

import pytest

from conftest import FIXTURES, run_api
from swallow_eval.requests import GenerateRequest, GenerationSettings

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def jp_run(shared_data, tmp_path_factory):
    """Real MGSM and WMT20 files, the XL-Sum fixture (the real one is not in shared/data)."""
    root = tmp_path_factory.mktemp("jp")
    data = root / "data"
    data.mkdir()
    for benchmark in ("mgsm", "wmt20"):
        os.symlink(shared_data / benchmark, data / benchmark)
    shutil.copytree(FIXTURES / "xlsum_ja", data / "xlsum_ja", ignore=shutil.ignore_patterns("README.md"))
    out = root / "results"
    run_api(out, tasks="mgsm_ja,wmt20_en_ja,wmt20_ja_en,xlsum_ja", data_dir=data, limit=1)
    (results,) = out.glob("gemma3-270m/*/results.json")
    samples = {path.stem: [json.loads(line) for line in path.read_text().splitlines()]
               for path in (results.parent / "samples").glob("*.jsonl")}
    return json.loads(results.read_text()), samples


def test_outputs_are_the_first_line_unstripped(jp_run):
    _, samples = jp_run
    outputs = {task: [row["outputs"] for row in rows] for task, rows in samples.items()}
    assert outputs == {
        "mgsm_ja": [["$20のコストがかかります。"]],
        "wmt20_en_ja": [[" 多くの資金集会が開催されている中での集会。"]],
        "wmt20_ja_en": [[" After the half-way, the following year will be the winner of the half-way, "
                         "the following year will be the winner of the half-way."]],
        "xlsum_ja": [["第67の段落では、地域の商店街が週末に開いた催しについて、参加した住民201人の声を紹介している。"]],
    }
    assert samples["mgsm_ja"][0]["prediction"] == 20 and samples["mgsm_ja"][0]["target"] == 20


def test_scores_card_and_provenance(jp_run):
    import sacrebleu

    from swallow_eval.metrics.bleu import nagisa_words

    results, samples = jp_run
    tasks = results["tasks"]
    en_ja, ja_en = samples["wmt20_en_ja"][0], samples["wmt20_ja_en"][0]
    bleu_ja = sacrebleu.corpus_bleu([nagisa_words(en_ja["outputs"][0])], [[nagisa_words(en_ja["target"])]]).score
    bleu_en = sacrebleu.corpus_bleu(ja_en["outputs"], [[ja_en["target"]]]).score
    assert results["card"] == {"mgsm": 1.0, "wmt20_en_ja": bleu_ja / 100, "wmt20_ja_en": bleu_en / 100,
                               "xlsum": pytest.approx(0.14634146341463417)}
    assert tasks["wmt20_en_ja"]["metrics"]["bleu_ja"]["value"] == pytest.approx(22.469412046932064)
    assert tasks["wmt20_ja_en"]["metrics"]["bleu_en"]["value"] == pytest.approx(0.608392110476954)
    assert tasks["xlsum_ja"]["metrics"]["rouge2_ja"]["value"] == pytest.approx(14.634146341463417)
    for name, metric in (("wmt20_en_ja", "bleu_ja"), ("wmt20_ja_en", "bleu_en"), ("xlsum_ja", "rouge2_ja")):
        assert tasks[name]["metrics"][metric]["scale"] == 100.0
    details = tasks["wmt20_en_ja"]["metrics"]["bleu_ja"]["details"]
    assert details["signature"] == f"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    assert details["segmentation"] == f"nagisa {results['versions']['nagisa']}"
    assert all(task["add_bos"] is False for task in tasks.values())  # the JP harness adds no BOS (not gemma-2)
    assert list(tasks["wmt20_ja_en"]["data"]["files"]) == [  # read from the OPUS copies of test.tgz
        "wmt20/newstest2020/ja-en/newstest2020.ja", "wmt20/newstest2020/ja-en/newstest2020.en"]
    assert tasks["xlsum_ja"]["tokens"] == {"prompt": 2141, "generated": 32}  # the cut 1-shot context


def test_prompt_token_cap_keeps_the_last_tokens(hf_backend):
    """max_prompt_tokens: the JP harness's `input_ids[:, -(4096 - 256):]`, here with a cap of 12."""
    story = "\nThe river flows past the old mill, where children play every summer afternoon."
    requests = [GenerateRequest(head + story, GenerationSettings(3, max_prompt_tokens=12))
                for head in ("Chapter one.", "A completely different and much longer opening line.")]
    responses = dict(pair for batch in hf_backend.generate(requests) for pair in batch)
    first, second = responses[0], responses[1]
    assert first.prompt_tokens == second.prompt_tokens == 12
    assert first.texts == second.texts
