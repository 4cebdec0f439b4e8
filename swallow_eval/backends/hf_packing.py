"""Rows that share a prefix, packed one after another into a single sequence against the prefix's KV cache.

A right-padded batch of rows runs its padding through the model: on the P1 MMLU groups (rows of a subject
after its five dev questions) 29,113 tokens for 20,652 of the rows' own. Packed, only the rows' own tokens
go through, and masks keep the rows apart: each token sees what the cache holds of the prefix and its own
row's earlier tokens, within the window of a sliding-window layer; its position continues the prefix, as
in a row of the padded batch. transformers takes such masks ready-made, one per layer type (as generate()
prepares them), for dynamic and sliding-window cache layers.
"""

from __future__ import annotations

from typing import Sequence

import torch

from swallow_eval.backends.hf_cache import dynamic_layers

MASKED_KINDS = {"full_attention": False, "sliding_attention": True}  # layer type -> has a window


def packable(cache, config) -> bool:
    """Whether the masks below describe every layer: dynamic or sliding-window cache layers, and layer
    types (where the config names them) that are full or sliding-window attention."""
    if not dynamic_layers(cache):
        return False
    layers = cache.layers
    kinds = getattr(config, "layer_types", None)
    if kinds is None:
        return not any(layer.is_sliding for layer in layers) and getattr(config, "attention_chunk_size", None) is None
    return len(kinds) == len(layers) and all(
        MASKED_KINDS.get(kind) == layer.is_sliding for kind, layer in zip(kinds, layers))


def packed_inputs(cache, config, length: int, rows: Sequence[Sequence[int]]):
    """input_ids, position_ids and attention masks (per layer type where the config names them) of `rows`
    packed after a prefix of `length` tokens whose KV cache is `cache`."""
    sizes = torch.tensor([len(row) for row in rows])
    offsets = torch.cat([torch.arange(int(size)) for size in sizes])
    owner = torch.repeat_interleave(torch.arange(len(rows)), sizes)
    own = (owner[:, None] == owner[None, :]) & (offsets[None, :] <= offsets[:, None])
    positions = length + offsets

    def mask(layer) -> torch.Tensor:
        held = layer.keys.shape[2]  # the cache holds the prefix's last `held` positions
        seen = torch.cat([torch.ones((len(offsets), held), dtype=torch.bool), own], dim=1)
        if layer.is_sliding:
            keys = torch.cat([torch.arange(length - held, length), positions])
            seen &= positions[:, None] - keys[None, :] < layer.sliding_window
        return seen[None, None]

    kinds = getattr(config, "layer_types", None)
    masks = mask(cache.layers[0]) if kinds is None else {kind: mask(cache.layers[kinds.index(kind)]) for kind in set(kinds)}
    ids = torch.tensor([[token for row in rows for token in row]])
    return ids, positions[None], masks
