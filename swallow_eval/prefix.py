"""Token positions left to compute once every shared prompt prefix is computed only once.

That number is the node count of a prefix tree (trie) over the token id sequences: sorted
lexicographically, each sequence adds its length minus its longest common prefix with the one
before it. Exact, O(n log n) comparisons, no tree in memory. `swallow-eval plan` reports it; the
hf backend, which shares one prefix of at least 32 tokens per group (backends/prefix.py), computes
a little more (P1: 50,409 log-likelihood and 29,757 generation prompt tokens against 49,475 and 29,650).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

# Big-endian fixed-width ids: byte order equals token order, so sorting the bytes sorts the sequences.
_ID = np.dtype(">u4")


def pack(ids: Sequence[int]) -> bytes:
    """A token id sequence as bytes that sort, compare and hash like the sequence."""
    return np.asarray(ids, dtype=_ID).tobytes()


def distinct_packed_tokens(packed: Iterable[bytes]) -> int:
    """`distinct_prefix_tokens` over sequences already `pack`ed (pack once, count many subsets)."""
    total, previous = 0, np.empty(0, dtype=_ID)
    for key in sorted(set(packed)):
        current = np.frombuffer(key, dtype=_ID)
        common = min(len(current), len(previous))
        differ = np.flatnonzero(current[:common] != previous[:common])
        total += len(current) - (int(differ[0]) if len(differ) else common)
        previous = current
    return total


def distinct_prefix_tokens(sequences: Iterable[Sequence[int]]) -> int:
    """Nodes of the prefix tree over `sequences`: the token positions no two sequences share."""
    return distinct_packed_tokens(pack(ids) for ids in sequences)
