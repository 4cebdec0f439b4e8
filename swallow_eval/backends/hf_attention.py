"""transformers' SDPA attention on CPU: grouped KV heads handed to torch's kernel as they are, and, with
prefix sharing, each block of queries computed against only the keys its mask lets it see.

Models with fewer KV heads than query heads (grouped-query attention: Gemma, Llama 3, Qwen) share
each KV head among several query heads. With an attention mask (left padding, a cache, a sliding
window), transformers' `sdpa` copies every KV head once per query head before calling the kernel,
because CUDA's kernels fall back to the slow path for grouped heads with a mask. On CPU torch's kernel
takes them as they are (`enable_gqa`) and gives the same numbers bit for bit, without copying the
whole KV cache per query head at every decoding step (28 of ~345 ms of a 30-row step here, 8.5 ms after).

With a mask, torch's CPU kernel computes every query against every key and masks afterwards: a
sliding-window layer (Gemma 3: 15 of 18 layers, window 512) over a 2,452-token prompt computes 5.3
times the scores its window holds, a causal layer twice. `sdpa_visible_keys` (the prefix-sharing path)
splits the queries into blocks of QUERY_BLOCK and gives each block the span of keys its mask rows can
see: the same terms, summed in other blocks, so equal to the last bits rather than bit for bit
(tests/test_prefix_sharing.py holds decisions and greedy texts equal to the path without sharing).
"""

from __future__ import annotations

import functools

import torch

NAME = "sdpa_grouped_kv"
VISIBLE_NAME = "sdpa_visible_keys"
QUERY_BLOCK = 256  # queries per kernel call: a block sees its window plus itself


def register_grouped_kv(model) -> bool:
    """Register both variants where the model runs transformers' `sdpa` on CPU (others are left alone);
    `use_variant` then picks one per call."""
    if model.device.type != "cpu" or model.config._attn_implementation != "sdpa":
        return False
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    for name, visible in ((NAME, False), (VISIBLE_NAME, True)):
        AttentionInterface.register(name, functools.partial(_sdpa_grouped_kv, visible_keys=visible))
        ALL_MASK_ATTENTION_FUNCTIONS.register(name, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    return True


def use_variant(model, visible_keys: bool) -> None:
    name = VISIBLE_NAME if visible_keys else NAME
    if model.config._attn_implementation != name:
        model.set_attn_implementation(name)


def _sdpa_grouped_kv(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None,
                     visible_keys=False, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    is_causal = query.shape[2] > 1 and attention_mask is None and (
        is_causal if is_causal is not None else getattr(module, "is_causal", True))
    groups = getattr(module, "num_key_value_groups", 1)
    special = (query.device.type != "cpu" or (is_causal and key.shape[2] != query.shape[2])
               or any(kwargs.get(name) is not None for name in ("position_bias", "cache"))
               or kwargs.get("output_attentions"))
    visible = visible_keys and attention_mask is not None and attention_mask.dtype == torch.bool and not dropout
    if special or (groups == 1 and not visible):  # transformers' own path: nothing to gain, or a case it handles
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    attend = functools.partial(torch.nn.functional.scaled_dot_product_attention, dropout_p=dropout, scale=scaling,
                               enable_gqa=groups > 1)
    if visible and query.shape[2] == 1:
        output = _decode_step(query, key, value, attention_mask, scaling)
    elif visible:
        output = torch.cat([_visible_block(attend, query, key, value, attention_mask, start)
                            for start in range(0, query.shape[2], QUERY_BLOCK)], dim=2)
    else:
        output = attend(query, key, value, attn_mask=attention_mask, is_causal=is_causal)
    return output.transpose(1, 2).contiguous(), None


def _visible_block(attend, query, key, value, mask, start: int) -> torch.Tensor:
    """One block of queries against the span of keys between the first and last any of its mask rows sees
    (all keys where it sees none: the kernel's own handling of rows with nothing to attend to)."""
    rows = mask[:, :, start : start + QUERY_BLOCK]
    seen = rows.any(dim=2).any(dim=1).any(dim=0).nonzero()
    first, last = (int(seen[0]), int(seen[-1]) + 1) if len(seen) else (0, key.shape[2])
    return attend(query[:, :, start : start + QUERY_BLOCK], key[:, :, first:last], value[:, :, first:last],
                  attn_mask=rows[..., first:last])


def _decode_step(query, key, value, mask, scaling) -> torch.Tensor:
    """One query per row: the group's query heads against their KV head in two matrix products, which
    read each row's keys and values once (torch's kernel reads them once per query head)."""
    batch, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, dim)
    scores = torch.matmul(grouped, key.transpose(2, 3)) * (dim**-0.5 if scaling is None else scaling)
    scores = scores.masked_fill(~mask.reshape(mask.shape[0], 1, 1, -1)[..., : key.shape[2]], float("-inf"))
    return torch.matmul(scores.softmax(dim=-1), value).reshape(batch, heads, 1, dim)
