"""JHumanEval (KuramitsuLab/jhuman-eval, = kogi-jwu/jhumaneval), bigcode "unstripped", pass@1 of 10 samples."""

from swallow_eval.data import DataFile
from swallow_eval.families import bigcode
from swallow_eval.task import Column

TASK = bigcode.task(
    name="jhumaneval",
    suite="ja",
    file=DataFile("jhumaneval/jhuman-eval.jsonl.gz",
                  "https://raw.githubusercontent.com/KuramitsuLab/jhuman-eval/"
                  "def32e75b363aa663d19c0f6d83ef300feeeea0e/data/jhuman-eval.jsonl.gz",
                  "e025987ea1df0678cbcb4c4a7a9b5f123a4ea7f8e5dbdca0aa635b92dfaa7498"),
    column=Column("jhumaneval", "JHumanEval", "pass@1", "pass@1"),
    description="164 HumanEval problems with Japanese docstrings; HumanEval's tests, executed in the sandbox.",
)
