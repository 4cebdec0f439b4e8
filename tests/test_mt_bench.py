"""Japanese MT-Bench: judge prompts, rating parsing and score averaging as FastChat does them."""

import json
import re

import pytest

from golden import digest, prompt_rows
from swallow_eval import judge, metrics
from swallow_eval.metrics import MetricContext


def spec_prompts(shared_data) -> dict:
    text = (shared_data.parent / "spec" / "en-tasks.md").read_text(encoding="utf-8")
    section = text[text.index("**Verbatim judge prompts**"):text.index("### 3.4")]
    found = re.findall(r'\* `(single[-\w]*)`\n    \* system: `(".*?")`\n    \* prompt_template: `(".*?")`', section, re.S)
    return {name: (json.loads(system), json.loads(template)) for name, system, template in found}


def test_judge_prompts_are_the_references_verbatim(shared_data):
    expected = spec_prompts(shared_data)
    assert set(expected) == set(judge.JUDGE_PROMPTS) == {
        "single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"}
    for name, (system, template) in expected.items():
        assert judge.JUDGE_PROMPTS[name] == judge.JudgePrompt(system, template)


def test_judge_conversations_pick_the_prompt_by_category_and_turn():
    plain = judge.conversations("writing", ["Q1", "Q2"], ["A1", "A2"], None)
    assert plain[0][0] == ("system", "You are a helpful assistant.")
    assert plain[0][1][1].endswith("[Question]\nQ1\n\n[The Start of Assistant's Answer]\nA1\n[The End of Assistant's Answer]")
    assert plain[1][0][1].startswith("Please act as an impartial judge")
    assert "### User:\nQ2\n\n### Assistant A:\nA2\n\n<|The End of Assistant A's Conversation with User|>" in plain[1][1][1]
    math = judge.conversations("math", ["Q1", "Q2"], ["A1", "A2"], ["R1", "R2"])
    assert "[The Start of Reference Answer]\nR1\n[The End of Reference Answer]" in math[0][1][1]
    assert "### Reference answer:\nR2" in math[1][1][1]


@pytest.mark.parametrize("text, rating", [
    ("理由…\n\nRating: [[7]]", 7.0),
    ("評価: [[8.5]]", 8.5),
    ("[9] を付けますが、最終的に [[3]]", 3.0),  # [[n]] anywhere wins over [n]
    ("Rating: [6]", 6.0),
    ("[[10]] then [[2]]", 10.0),  # the first match
    ("no rating here", -1.0),
    ("Rating: [[七]]", -1.0),
    ("", -1.0),
])
def test_rating_parsing(text, rating):
    assert judge.rating(text) == rating


def test_score_averages_per_answer_choice_and_excludes_unparsed():
    references = [{"question_id": q, "category": c, "choice": k}
                  for q, c in ((1, "coding"), (11, "extraction")) for k in (0, 1)]
    predictions = [{"answers": ["a", "b"], "ratings": r} for r in ([8, 6], [-1, 4], [10, 10], [2, -1])]

    def compute(name):
        return metrics.get(name).compute(predictions, references, MetricContext())

    # choice 0 rows: 8, 6, 10, 10 -> 8.5; choice 1 rows: 4, 2 (two -1 excluded) -> 3.0
    score = compute("mt_bench_score")
    assert score.score == pytest.approx((8.5 + 3.0) / 2)
    assert score.breakdown == {
        "coding": pytest.approx((7 + 4) / 2), "extraction": pytest.approx((10 + 2) / 2),
        "first_turn": pytest.approx((9 + 2) / 2), "second_turn": pytest.approx((8 + 4) / 2)}
    assert score.per_item == [7.0, 4.0, 10.0, 2.0]
    unparsed = compute("mt_bench_unparsed")
    assert unparsed.score == 2 and unparsed.breakdown == {"coding": 1, "extraction": 1}


def test_japanese_character_ratio_ignores_markdown():
    predictions = [{"answers": ["**こんにちは**", "# 見出し\n`code`"]}]
    result = metrics.get("ja_char_ratio").compute(predictions, [{"category": "writing"}], MetricContext())
    # plain text "こんにちは" (5) + "見出し\ncode" (8): 8 Japanese characters of 13
    assert result.score == pytest.approx(8 / 13)
    assert result.breakdown == {"writing": pytest.approx(8 / 13)}


def test_prompts_and_limit_counts_questions(shared_data):
    rows = prompt_rows("mt_bench_ja", shared_data)
    assert len(rows) == 400  # 80 questions x 5 answers
    assert rows[0] == {
        "index": 0,
        "messages": [["system", "あなたは誠実で優秀な日本人のアシスタントです。"],
                     ["user", "ディレクトリ内の全てのテキストファイルを読み込み、出現回数が最も多い上位5単語を返すPythonプログラムを開発してください。"]],
        "target": {"question_id": 1, "category": "coding", "choice": 0},
    }
    assert rows[-1] == {
        "index": 399,
        "messages": [["system", "あなたは誠実で優秀な日本人のアシスタントです。"],
                     ["user", "以下の段落にある文法的な誤りを訂正してください：\n\n「昨日、私と友人たちは祭りへ行く。"
                              "祭りに、たくさん食べ物があります。たこ焼き、焼き鳥、お好み焼きなど。私たちはすべて美味しかった。」"]],
        "target": {"question_id": 80, "category": "writing", "choice": 4},
    }
    assert digest(rows) == DIGEST

    from swallow_eval.pipeline import prepare
    from swallow_eval.task import BuildContext, load_registry

    limited = prepare(load_registry()["mt_bench_ja"], shared_data, 2, BuildContext(num_answers=3)).items
    assert [(i.target["question_id"], i.target["choice"]) for i in limited] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    sampled = {i.target["category"]: i.generation for i in prepare(load_registry()["mt_bench_ja"], shared_data, None, BuildContext()).items}
    assert sampled["writing"].temperature == 0.7 and sampled["stem"].temperature == 0.1
    assert sampled["math"].temperature == 0.0 and sampled["math"].seed is None  # greedy: 5 identical requests, sent once


DIGEST = "f17ec84e335635c88b9fb748764755de039a7f194ea2067cf07c7121a0ebc22a"


@pytest.mark.model
def test_real_chat_model_and_real_judge_end_to_end(shared_data, tmp_path):
    """SmolLM2-135M-Instruct answers (ChatML template) and judges; a rerun makes no model or judge call."""
    from conftest import cli

    args = ["run", "--tasks", "mt_bench_ja", "--model", "proxy:smollm2-135m-instruct", "--data-dir", str(shared_data),
            "--limit", "1", "--num-answers", "2", "--max-new-tokens", "16", "--judge-model",
            "proxy:smollm2-135m-instruct", "--judge-backend", "hf", "--judge-max-tokens", "16", "--no-progress",
            "--cache", str(tmp_path / "cache.sqlite")]
    first = cli(*args, "--output-dir", str(tmp_path / "first"))
    # coding is greedy: the 2 answers are one request per turn; their 2 judgments one request each
    assert first.stderr.count("2 total, 1 distinct, 0 served from the cache, 1 to compute") == 2
    assert "judging with proxy:smollm2-135m-instruct" in first.stderr
    assert "4 total, 2 distinct, 0 served from the cache, 2 to compute" in first.stderr
    again = cli(*args, "--output-dir", str(tmp_path / "again"))
    assert again.stderr.count("served from the cache, 0 to compute") == 3
    rows = [json.loads(line) for line in next((tmp_path / "again").glob("*/*/samples/mt_bench_ja.jsonl")).read_text().splitlines()]
    assert [r["target"]["choice"] for r in rows] == [0, 1]
    for row in rows:
        assert row["messages"][0] == ["system", "あなたは誠実で優秀な日本人のアシスタントです。"]
        assert len(row["outputs"]) == 2 and len(row["prediction"]["judgments"]) == 2
        assert row["prediction"]["ratings"] == [judge.rating(j) for j in row["prediction"]["judgments"]]
    results = json.loads(next((tmp_path / "again").glob("*/*/results.json")).read_text())
    assert results["config"]["max_new_tokens_cap"] == 16 and results["config"]["judge_max_tokens"] == 16
    task = results["tasks"]["mt_bench_ja"]
    assert task["card"]["column"] == "jmt_avg" and set(task["groups"]) == {"coding", "first_turn", "second_turn"}
    assert task["metrics"]["mt_bench_unparsed"]["value"] == sum(r["prediction"]["ratings"].count(-1.0) for r in rows)
