"""HellaSwag, 4-shot, acc (not acc_norm) — lm-eval tasks/hellaswag (en-tasks.md §2.3).

HF `hellaswag` is the official jsonl files read line by line (label as a string), so its row order
is the files'. The validation split (10,042) is evaluated; shots are drawn from the processed train
split (39,905). `process_docs` builds the query and cleans the WikiHow bracket artifacts.
"""

import re

from swallow_eval.data import DataFile, DataRoot, read_jsonl, row_errors
from swallow_eval.families import lmeval
from swallow_eval.task import Column

# sha256 as recorded in HF datasets' hellaswag/dataset_infos.json (download_checksums).
URL = "https://raw.githubusercontent.com/rowanz/hellaswag/a29ff8e9a04bba4bd6588223785ce105328adc57/data"
TRAIN = DataFile("hellaswag/hellaswag_train.jsonl", f"{URL}/hellaswag_train.jsonl",
                 "dae5e69249868cb9fe4e23ff925c60b66169564cfb7072d793cd7356a2b69f8d")
VALIDATION = DataFile("hellaswag/hellaswag_val.jsonl", f"{URL}/hellaswag_val.jsonl",
                      "0aa3b88843990f3f10a97b9575c94d7b71fb2205240ba04ae4884d9e9c992588")


def preprocess(text: str) -> str:
    """tasks/hellaswag/utils.py `preprocess`."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def rows(data: DataRoot, file: DataFile) -> list[dict]:
    """Docs after utils.py `process_docs`: query, choices and the label (HF stores it as a string)."""
    path = data.path(file)
    result = []
    for line, row in read_jsonl(path):
        with row_errors(path, line):
            context = row["ctx_a"] + " " + row["ctx_b"].capitalize()
            endings, label = row["endings"], str(row["label"])
            if not label.isdigit() or int(label) >= len(endings):
                raise ValueError(f"label {label!r} is not the index of one of the {len(endings)} endings")
            result.append({
                "query": preprocess(row["activity_label"] + ": " + context),
                "choices": [preprocess(ending) for ending in endings],
                "label": label,
            })
    return result


def docs(data: DataRoot) -> list[lmeval.Docs]:
    return [lmeval.Docs(evaluated=rows(data, VALIDATION), pool=rows(data, TRAIN))]


# hellaswag.yaml: doc_to_text "{{query}}" (Jinja), doc_to_choice `choices` (a feature, raw),
# doc_to_target "{{label}}", a digit string that lm-eval turns into the gold index.
SPEC = lmeval.MultipleChoice(
    doc_to_text=lambda doc: lmeval.jinja(doc["query"]),
    doc_to_choice=lambda doc: doc["choices"],
    doc_to_target=lambda doc: int(doc["label"]),
)

TASK = lmeval.multiple_choice_task(
    name="hellaswag",
    files=(TRAIN, VALIDATION),
    docs=docs,
    spec=SPEC,
    shots=4,
    # hellaswag.yaml sets neither fewshot_split nor test_split: None == None draws one shot extra.
    sampler=lambda pool, n: lmeval.RandomSampler(pool, n, draw_extra=True),
    column=Column("hellaswag", "HellaSWAG", "acc", "Acc"),
    description="HellaSwag validation (10,042 contexts), four endings scored as \" \" + ending; acc, as the card reads.",
    no_sample_reason="the HellaSwag files (MIT) are larger than the package may carry; "
                     "`swallow-eval data download --tasks hellaswag` fetches them",
)
