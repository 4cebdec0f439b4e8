"""lm-evaluation-harness v0.4.2 as swallow-evaluation v202411 runs it (en-tasks.md §1, Appendix A).

prompt = description + Σ(shot_text + " " + shot_target + "\\n\\n") + doc_text. Few-shots come from
one `random.Random(1234)` per task that draws `rng.sample(pool, n)` for each evaluated doc in
dataset order (a shot equal to the doc itself is dropped), or from the first n pool docs
(`first_n`). Multiple choice scores `" " + choice` after the context; generation stops at the
task's `until` strings (and EOS) and is capped at 256 new tokens unless the task says otherwise.
"""

from __future__ import annotations

import random
from typing import Sequence

TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"
SEED = 1234


def jinja(text: str) -> str:
    """lm-eval renders templates without keep_trailing_newline: one trailing "\\n" is lost (§1.2)."""
    return text[:-1] if text.endswith("\n") else text


class RandomSampler:
    """`api/samplers.py` default sampler: one generator per task, advanced doc by doc."""

    def __init__(self, pool: Sequence, n: int):
        self.pool, self.n = list(pool), n
        self.rng = random.Random(SEED)

    def shots(self, doc) -> list:
        # lm-eval draws n + 1 only when fewshot_split == test_split, which no task here declares;
        # XWINO's pool is its test set by fallback, so it draws n and loses a shot when it draws itself.
        drawn = self.rng.sample(self.pool, self.n)
        return [shot for shot in drawn if shot != doc][: self.n]


class FirstNSampler:
    """`first_n` sampler: the first n pool docs, the same for every doc."""

    def __init__(self, pool: Sequence, n: int):
        self.first = list(pool)[:n]

    def shots(self, doc) -> list:
        return self.first


def fewshot_block(shots: list[tuple[str, str]]) -> str:
    """Rendered shots, each `text + " " + target + "\\n\\n"` (api/samplers.py get_context)."""
    return "".join(text + TARGET_DELIMITER + target + FEWSHOT_DELIMITER for text, target in shots)
