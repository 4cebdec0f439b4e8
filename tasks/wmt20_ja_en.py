"""WMT20 news Japanese→English, 4-shot, BLEU — JP harness tasks/translation.py (ja-tasks.md §7)."""

from swallow_eval.families import jpharness
from swallow_eval.task import Column

TASK = jpharness.translation_task(
    name="wmt20_ja_en",
    source="ja",
    target="en",
    file=jpharness.wmt20_file("ja", "en", {
        "ja": "7d9015cc4f44b05af0ecc84379fcf7ceda0b37696cc28baae1e169e800858b4c",
        "en": "eaee29be127dfab3582d1dc2f059a5373a8f925210d912f67638c9ed97839295",
    }),
    metric="bleu_en",
    column=Column("wmt20_ja_en", "WMT20-ja-en", "bleu_en", "BLEU", divisor=100),
    description="newstest2020 ja-en (993 segments), 4 shots drawn from the test set, first line of the output.",
)
