"""OpenBookQA (main), 4-shot, acc — lm-eval tasks/openbookqa/openbookqa.yaml (en-tasks.md §2.1).

HF `openbookqa` (main) is the official Data/Main jsonl files read line by line, so its row order is
the files' order; the test split (500) is evaluated, shots are drawn from train (4,957).
"""

from swallow_eval.data import DataFile, DataRoot, read_jsonl, row_errors
from swallow_eval.families import lmeval
from swallow_eval.task import Column

# The official release is a zip on AI2's S3; these are byte copies of its Data/Main files (SOURCE.md).
URL = "https://raw.githubusercontent.com/raybears/cot-transparency/f6874394ba80a439237e4d7581dddc30d40c1830/data/openbook_qa"
TRAIN = DataFile("openbookqa/train.jsonl", f"{URL}/train.jsonl",
                 "388ce25926fa33b573ba6556d7245a6185f612dedf919871b6acb9340c8497a5")
TEST = DataFile("openbookqa/test.jsonl", f"{URL}/test.jsonl",
                "feb2bd9bfa6161dca4c44ce90e51e8cdada83eb5061407fcdc5005e44aaf2313")


def rows(data: DataRoot, file: DataFile) -> list[dict]:
    """The HF schema (openbookqa.py `_generate_examples`): question_stem, choices{text,label}, answerKey."""
    path = data.path(file)
    result = []
    for line, row in read_jsonl(path):
        with row_errors(path, line):
            choices = row["question"]["choices"]
            labels = [c["label"] for c in choices]
            labels.index(row["answerKey"].lstrip())  # an unknown answer key fails here, naming its line
            result.append({
                "id": row["id"],
                "question_stem": row["question"]["stem"],
                "choices": {"text": [c["text"] for c in choices], "label": labels},
                "answerKey": row["answerKey"],
            })
    return result


def docs(data: DataRoot) -> list[lmeval.Docs]:
    return [lmeval.Docs(evaluated=rows(data, TEST), pool=rows(data, TRAIN))]


# doc_to_text `question_stem` names a feature (raw, no Jinja); `{{choices.text}}` renders a list
# that lm-eval reads back with ast.literal_eval, i.e. the list itself.
SPEC = lmeval.MultipleChoice(
    doc_to_text=lambda doc: doc["question_stem"],
    doc_to_choice=lambda doc: doc["choices"]["text"],
    doc_to_target=lambda doc: doc["choices"]["label"].index(doc["answerKey"].lstrip()),
)

TASK = lmeval.multiple_choice_task(
    name="openbookqa",
    files=(TRAIN, TEST),
    docs=docs,
    spec=SPEC,
    shots=4,
    column=Column("openbookqa", "OpenBookQA", "acc", "Acc"),
    description="OpenBookQA main test (500 questions), four choices scored as \" \" + choice after the stem.",
)
