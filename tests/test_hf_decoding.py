"""Attention and decoding's memory traffic on CPU: grouped KV heads handed to the kernel as they are, caches
that grow in place, and the fp32 head's mapped pages released while the screen decodes give the numbers of
the path they replace bit for bit; the prefix-sharing path's attention over visible keys and oneDNN's linear
layers, to the last bits."""

import mmap
import types

import pytest
import torch
from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

from swallow_eval.backends.hf_attention import NAME, QUERY_BLOCK, VISIBLE_NAME, use_variant
from swallow_eval.backends.hf_cache import WINDOW_ROOM, InPlaceLayer, InPlaceWindowLayer
from swallow_eval.backends.hf_head import release_mapped_pages
from swallow_eval.backends.hf_linear import use_onednn


def states(generator, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    return tuple(torch.randn((3, 2, length, 4), generator=generator) for _ in range(2))


@pytest.mark.parametrize("window", [None, 9])
def test_in_place_layers_return_what_transformers_layers_return(window):
    generator = torch.Generator().manual_seed(0)
    keys, values = states(generator, 6)
    if window is None:
        reference, layer = DynamicLayer(), InPlaceLayer(keys, batch=3, length=6, room=5)
    else:
        reference = DynamicSlidingWindowLayer(window)
        layer = InPlaceWindowLayer(keys, batch=3, length=6, sliding_window=window, cumulative_length=6)
    layer.keys.copy_(keys)  # filled through its views, as a batch's rows are
    layer.values.copy_(values)
    reference.update(keys, values)
    # single steps past the room (a full layer grows, a window's kept positions move back) and a long update
    for new in [1] * (WINDOW_ROOM + 10) + [17, 1, 1]:
        step = states(generator, new)
        for got, want in zip(layer.update(*step), reference.update(*step)):
            assert torch.equal(got, want)
        assert torch.equal(layer.keys, reference.keys) and torch.equal(layer.values, reference.values)
        assert layer.get_seq_length() == reference.get_seq_length()
        assert layer.get_mask_sizes(1) == reference.get_mask_sizes(1)


def attention_outputs(backend, ids, mask, implementations) -> dict:
    """Per attention implementation: the hidden states, and six greedy tokens with their scores."""
    model, outputs = backend.model, {}
    with torch.inference_mode():
        for implementation in implementations:
            model.set_attn_implementation(implementation)
            try:
                hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
                generated = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, do_sample=False,
                                           pad_token_id=backend.pad_id, output_scores=True,
                                           return_dict_in_generate=True)
            finally:
                use_variant(model, visible_keys=backend.prefix_sharing)
            outputs[implementation] = (hidden, generated.sequences, torch.stack(generated.scores))
    return outputs


def test_grouped_kv_attention_is_the_default_on_cpu_and_equals_sdpa(hf_backend):
    model = hf_backend.model
    assert hf_backend.grouped_kv and model.config._attn_implementation in (NAME, VISIBLE_NAME)
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # Gemma 3: grouped heads
    ids = torch.tensor([[hf_backend.pad_id] * 5 + list(range(1000, 1020)), list(range(2000, 2025))])
    mask = torch.ones_like(ids)
    mask[0, :5] = 0
    outputs = attention_outputs(hf_backend, ids, mask, ("sdpa", NAME))
    for got, want in zip(outputs[NAME], outputs["sdpa"]):
        assert torch.equal(got, want)


@pytest.mark.parametrize("padding", [5, QUERY_BLOCK + 44])
def test_visible_keys_attention_equals_sdpa_to_the_last_bits(hf_backend, padding):
    """Longer than Gemma 3's 512-token window and than a query block; with more left padding than a block,
    the first block's queries of the padded row see nothing (a single row: nothing at all in the block)."""
    length = 700
    rows = [[hf_backend.pad_id] * padding + list(range(1000, 1000 + length - padding)), list(range(3000, 3000 + length))]
    ids = torch.tensor(rows[:1] if padding > QUERY_BLOCK else rows)
    mask = (ids != hf_backend.pad_id).long()
    outputs = attention_outputs(hf_backend, ids, mask, ("sdpa", VISIBLE_NAME))
    (hidden, sequences, scores), (want_hidden, want_sequences, want_scores) = outputs[VISIBLE_NAME], outputs["sdpa"]
    real = mask.bool()
    assert torch.allclose(hidden[real], want_hidden[real], rtol=1e-4, atol=1e-4 * float(want_hidden[real].abs().max()))
    assert torch.equal(sequences, want_sequences)
    assert torch.allclose(scores, want_scores, rtol=1e-4, atol=1e-4 * float(want_scores.abs().max()))


def body_linears(model) -> list[torch.nn.Linear]:
    return [module for module in model.base_model.modules() if isinstance(module, torch.nn.Linear)]


def test_onednn_linear_layers_follow_prefix_sharing_and_equal_torchs_to_the_last_bits(hf_backend):
    """oneDNN's products on the prefix-sharing path only, within 1e-4 of torch's own, and the same bits with one
    thread or two (data-parallel replicas on fewer cores answer as the single process)."""
    model, threads = hf_backend.model, torch.get_num_threads()
    assert hf_backend.onednn and hf_backend.prefix_sharing
    ids = torch.tensor([list(range(1000, 1600))])
    hidden = {}
    try:
        with torch.inference_mode():
            for onednn, count in ((True, 1), (True, threads), (False, threads)):
                use_onednn(model, on=onednn)
                torch.set_num_threads(count)
                hidden[onednn, count] = model.base_model(input_ids=ids).last_hidden_state
        hf_backend.prefix_sharing = False
        list(hf_backend.execute([]))
        assert not any("forward" in vars(module) for module in body_linears(model))
    finally:
        torch.set_num_threads(threads)
        hf_backend.prefix_sharing = True
        list(hf_backend.execute([]))
    assert all("forward" in vars(module) for module in body_linears(model))
    assert "forward" not in vars(model.get_output_embeddings())  # the head stays torch's (the screen's contract)
    assert torch.equal(hidden[True, 1], hidden[True, threads])
    want = hidden[False, threads]
    assert torch.allclose(hidden[True, threads], want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))


def test_onednn_leaves_a_forward_something_else_installed():
    """An accelerate hook replaces a layer's forward on the instance; switching kernels must not drop or wrap it."""
    ours, hooked = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    hook = hooked.forward = lambda hidden: hidden
    model = types.SimpleNamespace(base_model=torch.nn.Sequential(ours, hooked))
    use_onednn(model, on=True)
    assert "forward" in vars(ours) and vars(hooked)["forward"] is hook
    use_onednn(model, on=False)
    assert "forward" not in vars(ours) and vars(hooked)["forward"] is hook


def mapped_floats(path, count: int) -> tuple[mmap.mmap, torch.Tensor]:
    """A private writable mapping of a file of floats, as safetensors maps a checkpoint."""
    path.write_bytes(torch.arange(count, dtype=torch.float32).numpy().tobytes())
    with open(path, "r+b") as file:
        mapping = mmap.mmap(file.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    return mapping, torch.frombuffer(mapping, dtype=torch.float32)


def test_only_clean_file_pages_are_released(tmp_path):
    count = 8 * mmap.PAGESIZE  # 32 pages of floats
    mapping, clean = mapped_floats(tmp_path / "clean", count)
    assert float(clean.sum()) == count * (count - 1) / 2  # every page read in
    assert release_mapped_pages(clean)
    assert torch.equal(clean, torch.arange(count, dtype=torch.float32))  # faulted back from the file

    mapping, written = mapped_floats(tmp_path / "written", count)
    written[3 * mmap.PAGESIZE] = -1.0  # one page copied on write: releasing it would lose the write
    assert not release_mapped_pages(written)
    assert float(written[3 * mmap.PAGESIZE]) == -1.0

    assert not release_mapped_pages(torch.arange(count, dtype=torch.float32))  # anonymous memory
    del clean, written
