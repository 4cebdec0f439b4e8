"""HumanEval (openai/human-eval), bigcode "unstripped", pass@1 of 10 samples."""

from swallow_eval.data import DataFile
from swallow_eval.families import bigcode
from swallow_eval.task import Column

TASK = bigcode.task(
    name="humaneval",
    suite="en",
    file=DataFile("humaneval/HumanEval.jsonl.gz",
                  "https://raw.githubusercontent.com/openai/human-eval/"
                  "6d43fb980f9fee3c892a914eda09951f772ad10d/data/HumanEval.jsonl.gz",
                  "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef"),
    column=Column("humaneval", "HumanEval", "pass@1", "pass@1"),
    description="164 hand-written Python problems; the problem's tests executed in the sandbox.",
)
