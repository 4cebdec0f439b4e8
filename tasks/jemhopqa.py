"""JEMHopQA (`corpus/`, the 2023 release), 4-shot, char_f1 — llm-jp-eval datasets/jemhopqa.py."""

from swallow_eval.data import DataFile, DataRoot, read_json, row_errors
from swallow_eval.errors import UserError
from swallow_eval.families import llmjp
from swallow_eval.task import Column

# The reference fetched `main`; `corpus/` is unchanged since 2023-08-02, so this commit serves the same bytes.
URL = "https://raw.githubusercontent.com/aiishii/JEMHopQA/fed5024f4f39f02727e699cb7ccb67935a779a5a/corpus"
TRAIN = DataFile("jemhopqa/train.json", f"{URL}/train.json",
                 "c64392b4087299bcfaa02fe2584128b5dc50fe5ea83e1bd600cadfc984669e65")
DEV = DataFile("jemhopqa/dev.json", f"{URL}/dev.json",
               "2f3b8a518ca3051fc002f343ba3c26f6f3be902464061b43c30c5a1d37a9269a")


def samples(data: DataRoot, file: DataFile) -> list[llmjp.Sample]:
    path = data.path(file)
    rows = read_json(path)
    if not isinstance(rows, list):
        raise UserError(f"{path}: expected a JSON array of questions")
    result = []
    for position, row in enumerate(rows):
        with row_errors(path, f"item {position}"):
            result.append(llmjp.Sample(f"質問：{row['question']}", row["answer"]))
    return result


TASK = llmjp.task(
    name="jemhopqa",
    files=(TRAIN, DEV),
    splits=llmjp.file_splits(samples, TRAIN, DEV),
    instruction="質問を入力とし、回答を出力してください。回答の他には何も含めないことを厳守してください。回答が'はい'と'いいえ'で答えることができる場合、'YES'と'NO'で答えてください。",
    output_length=15,
    metric="char_f1",
    column=Column("jemhopqa", "JEMHopQA", "char_f1", "Char-F1", round_digits=4),
    description="corpus/dev.json (120 multi-hop questions), answer = short text or YES/NO.",
)
