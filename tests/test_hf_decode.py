"""The hf backend's greedy loop (backends/hf_decode.py) gives transformers' generate() tokens exactly.

On the proxy model (fp32), real task prompts (GSM8K, MGSM, JEMHopQA items with their stop strings)
decode to the same ids, token for token, at batch sizes 1 and 3 (left padding); rows end by stop
string and by max length (finished rows continue with padding). The backend's JEMHopQA texts are those
of the generate() path with prefix sharing on and off (with it, decoding continues the cache of the
shared few-shot prefix).
"""

from dataclasses import replace

import pytest
import torch

from swallow_eval.backends import hf_decode
from swallow_eval.pipeline import item_requests, prepare
from swallow_eval.task import BuildContext, bos_policy, load_registry

TASKS = ("gsm8k", "mgsm_ja", "jemhopqa")
ITEMS = 3
MAX_NEW = 40  # tokens per answer: enough for stop strings and EOS to end some rows before the limit


@pytest.fixture(scope="module")
def task_requests(jsquad_data, hf_backend):
    """The first items' greedy requests of each task, their answers shortened to MAX_NEW tokens."""
    registry, info = load_registry([]), hf_backend.info
    requests = {}
    for name in TASKS:
        task = registry[name]
        prepared = prepare(task, jsquad_data, ITEMS, BuildContext(tokenizer=info.tokenizer))
        add_bos = bos_policy(task.reference, info.path, info.model_type, info.tokenizer_adds_bos)
        requests[name] = [
            replace(r, settings=replace(r.settings, max_new_tokens=min(MAX_NEW, r.settings.max_new_tokens)))
            for item in prepared.items for r in item_requests(task, item, add_bos) if r.kind == "generate"
        ]
        assert len(requests[name]) == ITEMS and all(r.greedy and r.settings.stop for r in requests[name])
    return requests


def left_padded(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        ids[b, width - len(row):] = torch.tensor(row)
        mask[b, width - len(row):] = 1
    return ids, mask


def test_the_proxy_decodes_without_logits_processors(hf_backend):
    eos = sorted(hf_backend.eos_ids)
    assert hf_decode.plain_greedy(hf_backend.model, hf_backend.pad_id, eos)
    saved = hf_backend.model.generation_config.repetition_penalty
    hf_backend.model.generation_config.repetition_penalty = 1.2  # generate() would add a processor
    try:
        assert not hf_decode.plain_greedy(hf_backend.model, hf_backend.pad_id, eos)
    finally:
        hf_backend.model.generation_config.repetition_penalty = saved


@pytest.mark.parametrize("size", [1, 3])
def test_greedy_ids_equal_generate(hf_backend, task_requests, size):
    backend, ends = hf_backend, set()
    eos = sorted(backend.eos_ids)
    for name, requests in task_requests.items():
        for start in range(0, ITEMS, size):
            batch = requests[start:start + size]
            prompts = [backend._prompt_ids(r, backend.max_length) for r in batch]
            max_new = prompts[0][1]
            ids, mask = left_padded([p for p, _ in prompts], backend.pad_id)
            stopping = backend._stop_criteria(tuple(batch[0].settings.stop))
            args = (backend.model, ids, mask, max_new, stopping, backend.pad_id, eos)
            with torch.inference_mode():
                new = hf_decode.greedy(*args)
                old = hf_decode.hf_generate(*args, do_sample=False)
            assert torch.equal(new, old), (name, start, new[:, ids.shape[1]:], old[:, ids.shape[1]:])
            for row in new[:, ids.shape[1]:].tolist():
                text = backend.tokenizer.decode(row)
                ends.add("eos" if set(row) & set(eos) else
                         "stop" if any(s in text for s in batch[0].settings.stop) else "length")
            if size > 1:
                assert (mask == 0).any()
    assert {"stop", "length"} <= ends, ends


def test_backend_texts_equal_the_generate_path(hf_backend, task_requests, monkeypatch):
    requests = task_requests["jemhopqa"]

    def texts():
        return dict(pair for batch in hf_backend.generate(requests) for pair in batch)

    answers, before = {}, hf_backend.prefix_sharing
    for sharing in (True, False):
        hf_backend.prefix_sharing = sharing
        spent = dict(hf_backend.stats()["prompt_tokens"]["generate"])
        try:
            answers[sharing, "greedy"] = texts()
            after = hf_backend.stats()["prompt_tokens"]["generate"]
            spent = {key: after[key] - spent[key] for key in spent}
            with monkeypatch.context() as patch:
                patch.setattr(hf_decode, "plain_greedy", lambda *args: False)
                answers[sharing, "generate"] = texts()
        finally:
            hf_backend.prefix_sharing = before
        assert answers[sharing, "greedy"] == answers[sharing, "generate"], sharing
        # with sharing, the few-shot prefix is computed once and decoding continues its cache
        assert (spent["computed"] < spent["requested"]) == sharing, spent
