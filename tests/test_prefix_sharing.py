"""Prefix sharing in the hf backend gives the numbers of the path without it.

The grouping is checked on token sequences; on the proxy model (fp32) both paths answer the requests
of the end-to-end test sets whose prompts share few-shot prefixes (the same tasks, data and --limit
as tests/test_e2e_*.py): every log-likelihood within 1e-4 relative, every decision and greedy flag,
every greedy text and token count equal. The end-to-end tests themselves run with sharing on and
keep their exact expected outputs, recorded without it.

Log-likelihood rows sharing a prefix go through packed into one sequence; their hidden states equal a
right-padded batch's. Greedy decoding's screened output head (backends/hf_head.py) gives the full head's
argmax: checked on the proxy's hidden states, and as equal greedy texts with and without it.
"""

from dataclasses import replace

import pytest
import torch

from conftest import FIXTURES, REPO
from swallow_eval.backends.prefix import PrefixGroup, prefix_groups
from swallow_eval.pipeline import item_requests, prepare
from swallow_eval.task import BuildContext, bos_policy, load_registry
from test_e2e_en_generation import DERIVED_TASKS
from test_e2e_en_mc import data_folder


def test_groups_take_the_prefix_that_saves_most():
    shots = tuple(range(100, 140))
    sequences = [shots + (1, 2), shots + (1, 3), shots + (4,), (7,) * 50, shots[:10] + (9, 9)]
    groups, alone = prefix_groups(sequences, min_prefix=32)
    assert groups == [PrefixGroup(40, (0, 1, 2))]
    assert alone == [3, 4]


def test_nested_prefixes_split_where_that_saves_more():
    head, a, b = tuple(range(40)), tuple(range(200, 300)), tuple(range(400, 500))
    sequences = [head + a + (1,), head + a + (2,), head + b + (3,), head + b + (4,)]
    groups, alone = prefix_groups(sequences, min_prefix=32)
    assert sorted(groups, key=lambda g: g.members) == [PrefixGroup(140, (0, 1)), PrefixGroup(140, (2, 3))]
    assert alone == []


def test_every_member_keeps_a_token_of_its_own():
    shots = tuple(range(64))
    groups, alone = prefix_groups([shots, shots + (5,), shots, shots + (5, 6)], min_prefix=32)
    assert groups == [PrefixGroup(63, (0, 2, 1, 3))]
    assert not alone


def test_short_prefixes_and_singletons_stay_alone():
    assert prefix_groups([(1, 2, 3), (1, 2, 4)], min_prefix=32) == ([], [0, 1])
    assert prefix_groups([(1,) * 40 + (2,)], min_prefix=32) == ([], [0])
    assert prefix_groups([], min_prefix=32) == ([], [])


# ---- the proxy model on the end-to-end test sets -------------------------------------------------------

LOGLIKELIHOOD_SETS = ("openbookqa", "hellaswag", "xwinograd_en", "mmlu", "squad2")
GENERATION_SETS = ("jcommonsenseqa", "jemhopqa", "niilc", "jsquad", "jmmlu", "triviaqa", "math500_short", "bbh_pair")


@pytest.fixture(scope="module")
def e2e_requests(shared_data, jsquad_data, hf_backend, tmp_path_factory):
    """Each item's requests, by task, for the e2e tests' tasks with their data folders and --limit 5."""
    root = tmp_path_factory.mktemp("prefix")
    data, tasks = root / "data", root / "tasks"
    data_folder(data, shared_data)
    for name in ("jemhopqa", "niilc", "jsquad"):
        (data / name).symlink_to(jsquad_data / name)
    for name in ("jcommonsenseqa", "gsm8k", "math500", "bbh"):
        (data / name).symlink_to(shared_data / name)
    (data / "jmmlu").symlink_to(REPO / "swallow_eval" / "sample_data" / "jmmlu")
    for name in ("triviaqa", "squad_v2"):
        (data / name).symlink_to(FIXTURES / name)
    tasks.mkdir()
    for name, text in DERIVED_TASKS.items():
        (tasks / name).write_text(text)
    registry, info = load_registry([tasks]), hf_backend.info
    requests = {}
    for name in dict.fromkeys(LOGLIKELIHOOD_SETS + GENERATION_SETS + ("gsm8k",)):
        task = registry[name]
        prepared = prepare(task, data, 5, BuildContext(tokenizer=info.tokenizer))
        add_bos = bos_policy(task.reference, info.path, info.model_type, info.tokenizer_adds_bos)
        requests[name] = [item_requests(task, item, add_bos) for item in prepared.items]
    return requests


def distinct(e2e_requests, names, kind: str) -> list:
    return list(dict.fromkeys(r for name in names for item in e2e_requests[name] for r in item if r.kind == kind))


def decision(answers: dict, choices: list) -> int:
    return max(range(len(choices)), key=lambda k: answers[choices[k]].logprob)


def both_paths(backend, method: str, requests: list):
    """Responses and stats with and without sharing, by request."""
    answers = {}
    for sharing in (True, False):
        backend.prefix_sharing = sharing
        before = backend.stats()["prompt_tokens"]
        try:
            got = dict(pair for batch in getattr(backend, method)(requests) for pair in batch)
        finally:
            backend.prefix_sharing = True
        after = backend.stats()["prompt_tokens"]
        kind = "generate" if method == "generate" else "loglikelihood"
        spent = {key: after[kind][key] - before[kind][key] for key in ("requested", "computed")}
        answers[sharing] = ({requests[i]: response for i, response in got.items()}, spent)
    return answers[True], answers[False]


def test_loglikelihoods_and_decisions_equal_the_unshared_path(hf_backend, e2e_requests):
    requests = distinct(e2e_requests, LOGLIKELIHOOD_SETS, "loglikelihood")
    (shared, shared_tokens), (plain, plain_tokens) = both_paths(hf_backend, "loglikelihood", requests)
    assert len(shared) == len(plain) == len(requests)
    for request in requests:
        assert shared[request].logprob == pytest.approx(plain[request].logprob, rel=1e-4), request
        assert shared[request].is_greedy == plain[request].is_greedy, request
        assert shared[request].tokens == plain[request].tokens
    for name in LOGLIKELIHOOD_SETS:  # per item: the argmax over its choices
        for item in e2e_requests[name]:
            choices = [r for r in item if r.kind == "loglikelihood"]
            assert decision(shared, choices) == decision(plain, choices), (name, choices[0].context[-80:])
    assert shared_tokens["requested"] == plain_tokens["requested"]
    assert shared_tokens["computed"] < 0.7 * plain_tokens["computed"], (shared_tokens, plain_tokens)


def test_greedy_texts_equal_the_unshared_path(hf_backend, e2e_requests):
    requests = distinct(e2e_requests, GENERATION_SETS, "generate")
    assert requests and all(r.greedy for r in requests)
    (shared, shared_tokens), (plain, plain_tokens) = both_paths(hf_backend, "generate", requests)
    for request in requests:
        assert shared[request] == plain[request], request.prompt[-200:]
    assert shared_tokens["requested"] == plain_tokens["requested"] == plain_tokens["computed"]
    assert shared_tokens["computed"] < plain_tokens["computed"] / 2, (shared_tokens, plain_tokens)


def test_per_request_shares_add_up_to_the_computed_tokens(hf_backend, e2e_requests):
    requests = distinct(e2e_requests, ("mmlu", "xwinograd_en"), "loglikelihood")
    works = hf_backend.plan("loglikelihood", requests)
    counts = hf_backend.request_prompt_tokens
    assert sum(counts[r][1] for r in requests) == pytest.approx(sum(work.tokens() for work in works))
    assert all(counts[r][0] > counts[r][1] > 0 for r in requests if r.context.count("\n\n") >= 4)  # shots shared


def test_screened_head_gives_the_full_heads_argmax(hf_backend, e2e_requests):
    from transformers import StoppingCriteriaList

    from swallow_eval.backends.hf_head import FinishedRows, ScreenedHead, screenable

    if not hf_backend.head_screening:
        pytest.skip("no fast bf16 product on this CPU: greedy decoding reads the full head")
    model, head = hf_backend.model, hf_backend.model.get_output_embeddings()
    prompts = [r.prompt for r in distinct(e2e_requests, ("jcommonsenseqa", "math500_short"), "generate")][:4]
    with torch.inference_mode():
        hidden = torch.cat([model.base_model(input_ids=hf_backend.tokenizer(p, return_tensors="pt").input_ids)
                            .last_hidden_state[0] for p in prompts])
        full, screened = head(hidden), ScreenedHead(head)(hidden)
    kept = torch.isfinite(screened)
    assert torch.equal(screened.argmax(dim=1), full.argmax(dim=1))
    assert torch.equal(screened[kept], full[kept])  # the candidates' logits are the full head's, bit for bit
    assert kept.sum(dim=1).float().mean() < full.shape[1] / 100  # a few hundred candidates per row at most
    # Rows generate() has finished (padded whatever their logits) get one candidate, the others are unchanged.
    screen = ScreenedHead(head)
    screen.finished = FinishedRows(StoppingCriteriaList(), hf_backend.eos_ids)
    screen.finished.rows = torch.arange(len(hidden)) % 2 == 0
    with torch.inference_mode():
        partly = screen(hidden)
    counts = torch.isfinite(partly[::2]).sum(dim=1)  # the approximate maximum's tokens (ties are rare)
    assert (counts >= 1).all() and counts.float().mean() < 1.1 < kept[::2].sum(dim=1).float().mean()
    assert torch.equal(partly[1::2], screened[1::2])
    # A logits processor that can reorder scores turns the screen off.
    model.generation_config.repetition_penalty = 1.3
    try:
        assert not screenable(model, {"do_sample": False})
    finally:
        model.generation_config.repetition_penalty = None
    assert screenable(model, {"do_sample": False})


def test_greedy_texts_equal_with_the_full_head(hf_backend, e2e_requests):
    if not hf_backend.head_screening:
        pytest.skip("no fast bf16 product on this CPU: greedy decoding reads the full head")
    requests = distinct(e2e_requests, GENERATION_SETS, "generate")
    answers = {}
    for screening in (True, False):
        hf_backend.head_screening = screening
        try:
            answers[screening] = dict(pair for batch in hf_backend.generate(requests) for pair in batch)
        finally:
            hf_backend.head_screening = True
    assert answers[True] == answers[False]


def test_greedy_prompts_prefilled_alone_give_the_batched_texts(hf_backend, e2e_requests):
    """Prompts that share no prefix (GSM8K's random shots) have their caches computed a prompt at a time and
    laid out as the left-padded batch holds them; a prompt shorter than Gemma 3's 512-token window pads the
    window's slots too. Texts equal generate()'s own prefill of the padded batch (the unshared path)."""
    from swallow_eval.backends.hf_plan import GenerateGreedy
    from swallow_eval.requests import GenerateRequest

    gsm8k = distinct(e2e_requests, ("gsm8k",), "generate")[:3]
    settings = replace(gsm8k[0].settings, max_new_tokens=80)  # past a window's room
    requests = [replace(r, settings=settings) for r in gsm8k]
    requests.append(GenerateRequest("Question: What is 12 plus 30?\nAnswer:", settings, add_bos=gsm8k[0].add_bos))
    works = hf_backend.plan("generate", requests)
    assert [type(w) for w in works] == [GenerateGreedy] and len(works[0].prompts) == 4
    lengths = sorted(len(ids) for _, ids in works[0].prompts)
    assert lengths[0] < hf_backend.sliding_window < lengths[-1]
    assert hf_backend._row_caches(works[0].prompts, lengths[-1], works[0].max_new) is not None
    (shared, _), (plain, _) = both_paths(hf_backend, "generate", requests)
    for request in requests:
        assert shared[request] == plain[request], request.prompt[-200:]


def test_packed_rows_give_the_padded_batchs_hidden_states(hf_backend):
    """Rows packed into one sequence after a prefix longer than Gemma 3's 512-token window (so a window's
    layers hold only part of it), one row longer than a query block: each row's hidden states equal the
    right-padded batch's under transformers' own masks (the path for caches the packed masks cannot describe)."""
    from swallow_eval.backends.hf_attention import use_variant
    from swallow_eval.backends.hf_packing import packable
    from swallow_eval.backends.hf_plan import Row

    length = 600
    prefix = list(range(1000, 1000 + length))
    rows = [Row(tuple(prefix + list(range(5000, 5000 + own))), []) for own in (300, 120, 7)]
    use_variant(hf_backend.model, visible_keys=True)
    with torch.inference_mode():
        _, cache = hf_backend._prefix_cache(prefix)
        assert packable(cache, hf_backend.model.config)
        packed = hf_backend._packed(cache, length, rows)
        padded = hf_backend._padded(cache, length, rows)
    for row, got, want in zip(rows, packed, padded):
        want = want[: len(row.ids) - length]
        assert got.shape == want.shape
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
