"""XWINO (XWinograd en), 4-shot partial scoring, acc — lm-eval tasks/xwinograd (en-tasks.md §2.5).

The reference loads HF `Muennighoff/xwinograd` (config en), which is `raw_data/convert_tsv.py` applied
to the 2,325 `en` rows of Tikhonov & Ryabinin's dataset.tsv in file order. It has only a test split,
so the few-shots come from the evaluated set itself and a doc that draws itself gets 3 shots.
"""

import csv
import json

from swallow_eval.data import DataFile, DataRoot, read_tsv, row_errors
from swallow_eval.families import lmeval
from swallow_eval.task import Column

DATASET = DataFile(
    "xwinograd/dataset.tsv",
    "https://raw.githubusercontent.com/yandex-research/crosslingual_winograd/"
    "d2cfbbf7dc8f4ec66381e9651f9f5633c2df848d/dataset.tsv",
    "2c4cdad50f7a35523ce16f4437b7d5c814ebf7a49ad10f618468eeb32f08a873",
)


def hf_row(sentence: str, tokens: list[str], pronoun_index: int, candidates: list) -> dict:
    """One row as Muennighoff/xwinograd stores it (convert_tsv.py `winogrande_format`).

    The pronoun becomes "_": the tokens are found one after another in the sentence, and the
    pronoun is replaced inside a window one character longer than itself that starts where the
    previous token ended. The converter put the correct candidate at `random.choice([1, 2])`
    without a seed, an order nothing can recover; here option1 is the first candidate of the row.
    The order moves the gold index but changes no prompt, shot or acc.
    """
    rest, start = sentence, 0
    for i, token in enumerate(tokens):
        found = rest.find(token)
        if i == pronoun_index:
            break
        rest = rest[found + len(token):]
        start += found + len(token)
    window = sentence[start:start + len(token) + 1].replace(token, "_")
    masked = sentence[:start] + window + sentence[start + len(token) + 1:]
    if "_" not in masked:
        raise ValueError(f"pronoun {token!r} not found where its token index says")
    (first, *_, first_correct), (second, *_) = candidates
    return {"sentence": masked, "option1": first, "option2": second, "answer": "1" if first_correct else "2"}


def docs(data: DataRoot) -> list[lmeval.Docs]:
    path = data.path(DATASET)
    rows = []
    for line, row in read_tsv(path, quoting=csv.QUOTE_NONE):
        with row_errors(path, line):
            language, _origin, _source, sentence, tokens, pronoun, candidates = row
            if language == "en":
                rows.append(hf_row(sentence, json.loads(tokens), json.loads(pronoun)[1][0], json.loads(candidates)))
    return [lmeval.Docs(evaluated=rows, pool=rows)]


def _blank(doc: dict) -> int:
    return doc["sentence"].index("_")


# tasks/xwinograd/utils.py: doc_to_text is the gold index, so each choice ends its own context.
SPEC = lmeval.MultipleChoice(
    doc_to_text=lambda doc: {"1": 0, "2": 1}[doc["answer"]],
    doc_to_choice=lambda doc: [doc["sentence"][: _blank(doc)] + doc[key] for key in ("option1", "option2")],
    doc_to_target=lambda doc: doc["sentence"][_blank(doc) + 1:].strip(),
)

TASK = lmeval.multiple_choice_task(
    name="xwinograd_en",
    files=(DATASET,),
    docs=docs,
    spec=SPEC,
    shots=4,
    column=Column("xwino", "XWINO", "acc", "Acc"),
    description="XWinograd en (2,325 schemas), partial scoring: the sentence up to the blank with each "
                "candidate is the context, the rest of the sentence the scored continuation.",
)
