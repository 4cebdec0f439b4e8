"""GSM8K, 4-shot chain of thought, strict-match EM — lm-evaluation-harness tasks/gsm8k/gsm8k.yaml.

The reference loads HF `gsm8k` (config main), whose rows are the lines of openai/grade-school-math's
test.jsonl and train.jsonl in file order; shots are drawn from train with Random(1234). The yaml's
5 shots are overridden by the run script's --num_fewshot 4.
"""

from swallow_eval.data import DataFile, DataRoot, read_jsonl, row_errors
from swallow_eval.families import lmeval
from swallow_eval.task import LM_EVAL, BuildContext, Column, Task

URL = "https://raw.githubusercontent.com/openai/grade-school-math/3101c7d5072418e28b9008a6636bde82a006892c/grade_school_math/data"
TRAIN = DataFile("gsm8k/train.jsonl", f"{URL}/train.jsonl",
                 "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465")
TEST = DataFile("gsm8k/test.jsonl", f"{URL}/test.jsonl",
                "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14")


def problems(data: DataRoot, file: DataFile) -> list[dict]:
    path = data.path(file)
    rows = []
    for line, row in read_jsonl(path):
        with row_errors(path, line):
            rows.append({"question": row["question"], "answer": row["answer"]})
    return rows


def build(data: DataRoot, context: BuildContext):
    return lmeval.generation_items(
        problems(data, TEST),
        text=lambda doc: f"Question: {doc['question']}\nAnswer:",
        gold=lambda doc: doc["answer"],
        shots=4,
        pool=problems(data, TRAIN),
        shot_target=lambda doc: doc["answer"],
    )


TASK = Task(
    name="gsm8k",
    suite="en",
    reference=LM_EVAL,
    shots=4,
    files=(TRAIN, TEST),
    build=build,
    metrics=("gsm8k_strict",),
    column=Column("gsm8k", "GSM8K", "gsm8k_strict", "EM acc"),
    generation=lmeval.generate_until("Question:", "</s>", "<|im_end|>"),
    description="GSM8K test (1,319 problems); the gold is the full rationale ending in \"#### N\".",
)
