"""The MT-Bench judge over HTTP, against a fake OpenAI-compatible server on 127.0.0.1: the payloads
are FastChat's (`common.py` chat_completion_openai), 429/500 are retried, judgments are cached and
a rerun sends nothing. The fake only records requests and answers canned judgments; the prompts come
from the task and are checked against the spec's verbatim templates and the data files."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from swallow_eval import judge
from swallow_eval.metrics import MetricContext

JUDGE = "gpt-4o-2024-08-06"
KEY_ENV = "SWALLOW_EVAL_TEST_JUDGE_KEY"
SECRET = "sk-judge-secret-0123456789"


class FakeJudge:
    """Records every POST (path, status, body) and answers `reply(payload)`; the first requests get
    the statuses of `failures` instead."""

    def __init__(self, reply, failures=()):
        self.posts, self.pending_failures, self.authorization = [], list(failures), set()
        lock, outer = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    outer.authorization.add(self.headers.get("Authorization"))
                    status = outer.pending_failures.pop(0) if outer.pending_failures else 200
                    outer.posts.append((self.path, status, body))
                if status == 200:
                    content = reply(json.loads(body))
                    data = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                         "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 100, "completion_tokens": 10}}
                else:
                    data = {"error": {"message": f"injected {status}"}}
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def answered(self) -> list[dict]:
        return [json.loads(body) for _, status, body in self.posts if status == 200]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def canned(payload: dict) -> str:
    """[[8]] for turn 1, the `[n]` fallback for turn 2, and no rating for coding question 2's turn 2."""
    user = payload["messages"][1]["content"]
    if "<|The Start of Assistant A's Conversation with User|>" not in user:
        return "良い回答です。Rating: [[8]]"
    if "フィボナッチ" in user:
        return "評価できません。"
    return "概ね正しい。評価：[6]"


def spec_template(shared_data, name: str) -> tuple[str, str]:
    from test_mt_bench import spec_prompts

    return spec_prompts(shared_data)[name]


def data_rows(shared_data, name: str) -> dict[int, dict]:
    lines = (shared_data / "ja_mt_bench" / name).read_text(encoding="utf-8").splitlines()
    return {row["question_id"]: row for row in map(json.loads, lines)}


def test_judge_payloads_retries_scores_and_cache(shared_data, tmp_path, monkeypatch):
    from swallow_eval.backends.openai import OpenAIBackend
    from swallow_eval.cache import ResponseCache
    from swallow_eval.models import resolve_judge
    from swallow_eval.pipeline import ItemResponses, judge as judge_phase, prepare
    from swallow_eval.scoring import score_task
    from swallow_eval.task import BuildContext, load_registry

    monkeypatch.setenv(KEY_ENV, SECRET)
    task = load_registry()["mt_bench_ja"]
    prepared = prepare(task, shared_data, 2, BuildContext(num_answers=1))  # coding questions 1 and 2
    answers = {(task.name, item.index): ItemResponses(texts=[f"  回答{item.index}の一\n", f"回答{item.index}の二"])
                for item in prepared.items}
    server = FakeJudge(canned, failures=(429, 500))
    try:
        grader = OpenAIBackend(resolve_judge(JUDGE, "openai"), base_url=server.url, api_key_env=KEY_ENV)
        cache_file = tmp_path / "cache.sqlite"
        identity = {"judge": JUDGE, **grader.identity(), "prompts": judge.PROMPT_VERSION}
        stats = judge_phase([prepared], answers, grader, ResponseCache(cache_file, identity), judge.JUDGE_MAX_TOKENS,
                            show_progress=False, log=lambda *_: None)
        assert [status for _, status, _ in server.posts] == [429, 500, 200, 200, 200, 200]
        assert {path for path, _, _ in server.posts} == {"/v1/chat/completions"}
        assert server.authorization == {f"Bearer {SECRET}"}

        payloads = server.answered()
        for payload in payloads:  # FastChat: create(model=, messages=, n=1, temperature=0, max_tokens=2048)
            assert list(payload) == ["model", "messages", "n", "temperature", "max_tokens"]
            assert (payload["model"], payload["n"], payload["temperature"], payload["max_tokens"]) == (JUDGE, 1, 0, 2048)
            assert [m["role"] for m in payload["messages"]] == ["system", "user"]

        # Question 1, turn 1 and turn 2, rebuilt from the spec's verbatim templates and the data files.
        question, reference = data_rows(shared_data, "question.jsonl")[1], data_rows(
            shared_data, "reference_answer/gpt-4o-2024-08-06.jsonl")[1]["choices"][0]["turns"]
        system, template = spec_template(shared_data, "single-math-v1")
        turn1 = {"role": "system", "content": system}, {"role": "user", "content": template.format(
            question=question["turns"][0], ref_answer_1=reference[0], answer="回答0の一")}
        system, template = spec_template(shared_data, "single-math-v1-multi-turn")
        turn2 = {"role": "system", "content": system}, {"role": "user", "content": template.format(
            question_1=question["turns"][0], question_2=question["turns"][1], ref_answer_1=reference[0],
            ref_answer_2=reference[1], answer_1="回答0の一", answer_2="回答0の二")}
        sent = [tuple(p["messages"]) for p in payloads]
        assert turn1 in sent and turn2 in sent and len(set(map(json.dumps, sent))) == 4

        predictions = score_task(task, prepared.items, [answers[(task.name, i.index)] for i in prepared.items],
                                 MetricContext())
        assert predictions.metrics["mt_bench_score"] == pytest.approx((8 + 6 + 8) / 3)
        assert predictions.metrics["mt_bench_unparsed"] == 1
        assert stats.seconds

        # The same judgments again: all from the cache, not one request.
        before = len(server.posts)
        for responses in answers.values():
            responses.judgments = None
        again = ResponseCache(cache_file, identity)
        judge_phase([prepared], answers, grader, again, judge.JUDGE_MAX_TOKENS, show_progress=False, log=lambda *_: None)
        assert len(server.posts) == before
        assert all(len(r.judgments) == 2 for r in answers.values())
        assert SECRET.encode() not in cache_file.read_bytes()
    finally:
        server.close()


@pytest.mark.model
def test_cli_judges_through_the_judge_base_url(shared_data, tmp_path):
    """`run` with a real chat model answering and the judge on --judge-base-url; a rerun makes no call."""
    from conftest import cli

    server = FakeJudge(canned)
    try:
        args = ["run", "--tasks", "mt_bench_ja", "--model", "proxy:smollm2-135m-instruct", "--data-dir",
                str(shared_data), "--limit", "1", "--num-answers", "1", "--max-new-tokens", "8", "--judge-model",
                JUDGE, "--judge-base-url", server.url, "--no-progress", "--cache", str(tmp_path / "cache.sqlite")]
        env = {KEY_ENV: SECRET, "OPENAI_API_KEY": SECRET}
        cli(*args, "--output-dir", str(tmp_path / "first"), env=env)
        assert len(server.posts) == 2  # question 1, turns 1 and 2
        cli(*args, "--output-dir", str(tmp_path / "again"), env=env)
        assert len(server.posts) == 2
    finally:
        server.close()
    results = json.loads(next((tmp_path / "again").glob("*/*/results.json")).read_text())
    task = results["tasks"]["mt_bench_ja"]
    assert task["metrics"]["mt_bench_score"]["value"] == 7.0  # [[8]] and [6]
    assert results["config"]["judge"] == JUDGE
    written = "".join(f.read_text() for f in tmp_path.rglob("*.json*"))
    assert SECRET not in written
