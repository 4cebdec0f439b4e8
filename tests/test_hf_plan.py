"""The hf backend's work items: a response depends only on its item, so data-parallel replicas
that compute the items a driver planned answer byte for byte what one process answers.

On the proxy model (fp32) and real requests: the driver's planner (tokenizer and config, no
weights) plans what the backend itself plans; items computed one at a time, in reverse order and
on one thread (a replica has fewer cores) give byte-identical responses to the whole call.
"""

import pytest
import torch

from swallow_eval import backends
from swallow_eval.pipeline import item_requests, prepare
from swallow_eval.requests import GenerateRequest
from swallow_eval.task import BuildContext, load_registry

pytestmark = pytest.mark.model

SETS = {"openbookqa": 4, "xwinograd_en": 4, "mmlu": 1, "jcommonsenseqa": 8, "gsm8k": 3}
MMLU_SUBJECTS = 6  # of the 57 (one item each): single-token choices, one row per item


@pytest.fixture(scope="module")
def calls(shared_data, proxy_tokenizer):
    registry = load_registry()
    requests = []
    for name, limit in SETS.items():
        task = registry[name]
        items = prepare(task, shared_data, limit, BuildContext(tokenizer=proxy_tokenizer)).items
        items = items[:MMLU_SUBJECTS] if name == "mmlu" else items
        requests += [r for item in items for r in item_requests(task, item, True, cap=16)]
    requests = list(dict.fromkeys(requests))
    generate = [r for r in requests if isinstance(r, GenerateRequest)]
    return [("loglikelihood", [r for r in requests if not isinstance(r, GenerateRequest)]), ("generate", generate)]


def answers(batches) -> dict:
    seen = {}
    for batch in batches:
        for position, response in batch:
            assert position not in seen
            seen[position] = response
    return seen


@pytest.mark.parametrize("sharing", [False, True], ids=["plain", "prefix-sharing"])
def test_items_computed_alone_answer_as_the_whole_call(sharing, calls, hf_backend, proxy_model):
    planner = backends.planner("hf", proxy_model, batch_size=hf_backend.batch_size, prefix_sharing=sharing)
    threads = torch.get_num_threads()
    for kind, requests in calls:
        works = planner.plan(kind, requests)
        if sharing == hf_backend.prefix_sharing:  # the backend's own plan
            assert hf_backend.plan(kind, requests) == works
        assert sorted(p for work in works for p in work.positions()) == list(range(len(requests)))
        assert len(works) >= 2
        whole = answers(hf_backend.execute(works))
        torch.set_num_threads(1)
        try:
            alone = answers(batch for work in reversed(works) for batch in hf_backend.execute([work]))
        finally:
            torch.set_num_threads(threads)
        assert alone == whole  # byte-identical: dataclass equality compares the floats exactly
        assert [repr(alone[p]) for p in range(len(requests))] == [repr(whole[p]) for p in range(len(requests))]


def test_max_batch_tokens_widens_generation_batches(shared_data, proxy_tokenizer, proxy_model):
    """GSM8K prompts with the reference's 256 new tokens outgrow the default 8,192 tokens before 8 rows
    where generate() prefills the padded batch; --max-batch-tokens lets --batch-size decode them in one
    batch (decoding reads every weight per step). Prefilled a prompt at a time (prefix sharing on), a
    batch holds only its KV cache, where Gemma 3's 15 sliding-window layers of 18 hold at most 512 tokens."""
    task = load_registry()["gsm8k"]
    items = prepare(task, shared_data, 8, BuildContext(tokenizer=proxy_tokenizer)).items
    requests = [r for item in items for r in item_requests(task, item, True)]
    padded = dict(batch_size=8, prefix_sharing=False)
    narrow = backends.planner("hf", proxy_model, **padded).plan("generate", requests)
    wide = backends.planner("hf", proxy_model, **padded, max_batch_tokens=65536).plan("generate", requests)
    assert all(len(work.prompts) < 8 for work in narrow)
    assert [len(work.prompts) for work in wide] == [8]
    longest = max(len(ids) for work in narrow for _, ids in work.prompts) + 256
    assert (3 * longest + 15 * 512) / 18 * 8 < 8192
    assert [len(work.prompts) for work in backends.planner("hf", proxy_model, batch_size=8).plan("generate", requests)] == [8]


def test_rows_prefilled_alone_count_their_cache_share_of_a_padded_token(shared_data, proxy_tokenizer, proxy_model):
    """A padded prefill holds per token its KV cache and one layer's activations; a row prefilled alone holds
    its cache only. Gemma 3 270M caches 18 layers x 2 x 1 KV head x 256 = 9,216 values per token against
    640 + 2 x 4 x 256 + 2 x 256 + 3 x 2,048 = 9,344 of a layer's activations, so the 8,192 tokens that decode
    7 padded GSM8K rows (4 shots, 256 new tokens) decode 30 prefilled alone in two batches, not three."""
    planner = backends.planner("hf", proxy_model)
    assert planner.cache_share == 9216 / (9216 + 9344)
    assert planner._cached_tokens(1093) == pytest.approx((3 * 1093 + 15 * 512) / 18 * planner.cache_share)
    task = load_registry()["gsm8k"]
    items = prepare(task, shared_data, 30, BuildContext(tokenizer=proxy_tokenizer)).items
    requests = [r for item in items for r in item_requests(task, item, True)]
    assert [len(work.prompts) for work in planner.plan("generate", requests)] == [16, 14]
    padded = backends.planner("hf", proxy_model, prefix_sharing=False).plan("generate", requests)
    assert max(len(work.prompts) for work in padded) <= 7

