"""Which requests of a call share a token prefix worth computing once.

Few-shot prompts repeat long prefixes: every item of an llm-jp-eval task carries the same shots, every
MMLU item of a subject the same five dev questions. Sorting the sequences puts those that share a
prefix next to each other; the longest common prefix (LCP) of neighbours then describes the prefix
tree, and a group's shared prefix is the smallest LCP inside it. Each group costs one pass over its
prefix and saves (members - 1) x prefix tokens; a group splits into the subtrees under it where
those save more. Prefixes shorter than `min_prefix` are not worth a pass of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class PrefixGroup:
    """Sequences (by index) that share their first `length` tokens; every member is longer than that."""

    length: int
    members: tuple[int, ...]


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    limit = min(len(a), len(b))
    for k in range(limit):
        if a[k] != b[k]:
            return k
    return limit


def prefix_groups(sequences: Sequence[Sequence[int]], min_prefix: int) -> tuple[list[PrefixGroup], list[int]]:
    """Groups of sequences sharing a prefix of at least `min_prefix` tokens (longest prefix first),
    and the indices of the sequences left alone.

    Each member keeps at least one token of its own after the prefix (the pass that scores or
    continues it needs an input)."""
    order = sorted(range(len(sequences)), key=lambda i: tuple(sequences[i]))
    # lcp[k]: the prefix rows order[k] and order[k + 1] can share.
    lcp = [min(_common_length(sequences[a], sequences[b]), len(sequences[a]) - 1, len(sequences[b]) - 1)
           for a, b in zip(order, order[1:])]
    # Post-order walk of the LCP's Cartesian tree without recursion: a segment's best plan is either one
    # group over the segment's smallest LCP or its children's plans (cut at every position of that minimum).
    # A plan: (tokens saved, [(prefix length, first row, last row) in sorted order]).
    plans: dict[tuple[int, int], tuple[int, list[tuple[int, int, int]]]] = {}
    stack: list[tuple[int, int, bool]] = [(0, len(order) - 1, False)] if order else []
    while stack:
        lo, hi, expanded = stack.pop()
        if lo == hi:
            plans[(lo, hi)] = (0, [])
            continue
        low = min(lcp[lo:hi])
        cuts = [k for k in range(lo, hi) if lcp[k] == low]
        children = list(zip([lo] + [k + 1 for k in cuts], cuts + [hi]))
        if not expanded:
            stack.append((lo, hi, True))
            stack.extend((a, b, False) for a, b in children)
            continue
        parts = [plans.pop(child) for child in children]
        saved = sum(saving for saving, _ in parts)
        whole = (hi - lo) * low if low >= min_prefix else 0
        if whole > 0 and whole >= saved:
            plans[(lo, hi)] = (whole, [(low, lo, hi)])
        else:
            plans[(lo, hi)] = (saved, [group for _, groups in parts for group in groups])
    chosen = plans[(0, len(order) - 1)][1] if order else []
    groups = [PrefixGroup(length, tuple(order[lo : hi + 1])) for length, lo, hi in chosen]
    grouped = {i for group in groups for i in group.members}
    groups.sort(key=lambda g: -g.length)
    return groups, [i for i in range(len(sequences)) if i not in grouped]
