"""KV cache layers that decode in place: a step writes its token's keys and values into room kept free
after the cache, where transformers' dynamic layers concatenate, copying the whole cache every step.

A wide batch's cache is hundreds of MB; its copy was a third of a 30-row decoding step on CPU. The
attention sees the same keys and values in the same order, so the numbers do not change.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

WINDOW_ROOM = 64  # positions of room after a sliding window: its kept part moves back once per this many steps


def _with_room(states: torch.Tensor, room: int) -> torch.Tensor:
    """A buffer holding `states` along the sequence axis with `room` free positions after them."""
    batch, heads, length, dim = states.shape
    buffer = states.new_empty((batch, heads, length + room, dim))
    buffer[:, :, :length] = states
    return buffer


def dynamic_layers(cache) -> bool:
    """Whether every layer of a cache is transformers' dynamic or sliding-window kind, the kinds whose
    layout this backend rebuilds (in place) or masks (packed rows)."""
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) in (DynamicLayer, DynamicSlidingWindowLayer) for layer in layers)


def _zeroed(layer, like: torch.Tensor, batch: int, length: int, room: int) -> None:
    """Give `layer` zeroed buffers for `batch` rows of `length` positions plus `room` (heads, width and
    type as `like`), with `keys` and `values` viewing the first `length`."""
    layer.dtype, layer.device, layer.is_initialized = like.dtype, like.device, True
    shape = (batch, like.shape[1], length + room, like.shape[3])
    layer._keys, layer._values = like.new_zeros(shape), like.new_zeros(shape)
    layer.keys, layer.values = layer._keys[:, :, :length], layer._values[:, :, :length]


class InPlaceLayer(DynamicLayer):
    """A full-attention layer's cache: `length` zeroed positions for `batch` rows (heads, width and type as
    `like`, a layer's keys), filled through `keys` and `values`, with room for `room` more positions (grown
    by that much again when full)."""

    def __init__(self, like: torch.Tensor, batch: int, length: int, room: int):
        super().__init__()
        self.room, self.end = max(room, 1), length
        _zeroed(self, like, batch, length, self.room)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        end = self.end + key_states.shape[2]
        if end > self._keys.shape[2]:
            self._keys = _with_room(self._keys[:, :, : self.end], key_states.shape[2] + self.room)
            self._values = _with_room(self._values[:, :, : self.end], key_states.shape[2] + self.room)
        self._keys[:, :, self.end : end] = key_states
        self._values[:, :, self.end : end] = value_states
        self.end = end
        self.keys, self.values = self._keys[:, :, :end], self._values[:, :, :end]
        return self.keys, self.values


class InPlaceWindowLayer(DynamicSlidingWindowLayer):
    """A sliding-window layer's cache, made as InPlaceLayer's: its kept positions (at most the last
    window - 1) and room after them; when the room runs out the kept positions move to a new buffer's start."""

    def __init__(self, like: torch.Tensor, batch: int, length: int, sliding_window: int, cumulative_length: int):
        super().__init__(sliding_window)
        self.cumulative_length, self.start, self.end = cumulative_length, 0, length
        _zeroed(self, like, batch, length, WINDOW_ROOM)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        new, kept = key_states.shape[2], self.end - self.start
        if self.end + new > self._keys.shape[2]:
            self._keys = _with_room(self._keys[:, :, self.start : self.end], new + WINDOW_ROOM)
            self._values = _with_room(self._values[:, :, self.start : self.end], new + WINDOW_ROOM)
            self.start, self.end = 0, kept
        self._keys[:, :, self.end : self.end + new] = key_states
        self._values[:, :, self.end : self.end + new] = value_states
        full = slice(self.start, self.end + new)
        self.cumulative_length += new
        self.end += new
        self.start = max(self.start, self.end - (self.sliding_window - 1))
        self.keys, self.values = self._keys[:, :, self.start : self.end], self._values[:, :, self.start : self.end]
        return self._keys[:, :, full], self._values[:, :, full]


def in_place(layer, batch: int, length: int, room: int, cumulative_length: int):
    """The in-place counterpart of a transformers dynamic layer (shaped as its keys) for `batch` rows of
    `length` cached positions, `cumulative_length` seen (a window keeps only its last positions)."""
    if layer.is_sliding:
        return InPlaceWindowLayer(layer.keys, batch, length, layer.sliding_window, cumulative_length)
    return InPlaceLayer(layer.keys, batch, length, room)
