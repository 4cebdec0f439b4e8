"""WMT20 news English→Japanese, 4-shot, BLEU on nagisa words — JP harness tasks/translation.py (ja-tasks.md §7)."""

from swallow_eval.families import jpharness
from swallow_eval.task import Column

TASK = jpharness.translation_task(
    name="wmt20_en_ja",
    source="en",
    target="ja",
    file=jpharness.wmt20_file("en", "ja", {
        "en": "cd85e8890543677a61da20cea5e1dc526e31539f80cb2285991bdb9240c4913d",
        "ja": "d1f941d110cf8be7358cca41426ee8d3c1ff7ad517f4ef36b6c1dfb9893327b9",
    }),
    metric="bleu_ja",
    column=Column("wmt20_en_ja", "WMT20-en-ja", "bleu_ja", "BLEU", divisor=100),
    description="newstest2020 en-ja (1,000 segments), 4 shots drawn from the test set, first line of the output.",
)
