"""JCommonsenseQA (JGLUE v1.1), 4-shot, exact match — llm-jp-eval datasets/jcommonsenseqa.py."""

from swallow_eval.data import DataFile, DataRoot, read_jsonl, row_errors
from swallow_eval.families import llmjp
from swallow_eval.task import Column

URL = "https://raw.githubusercontent.com/yahoojapan/JGLUE/v1.1.0/datasets/jcommonsenseqa-v1.1"
TRAIN = DataFile("jcommonsenseqa/train-v1.1.json", f"{URL}/train-v1.1.json",
                 "9b55fae5ecb3aedd6f8ce5bc09196c3b629864668ec6c18eee4d65c0aa48229e")
VALID = DataFile("jcommonsenseqa/valid-v1.1.json", f"{URL}/valid-v1.1.json",
                 "0d8d76f3bfa0d174866939882faccdd01fbc2bcd5a76c43748ba0c40a7b3b8d4")


def samples(data: DataRoot, file: DataFile) -> list[llmjp.Sample]:
    path = data.path(file)
    result = []
    for line, row in read_jsonl(path):
        with row_errors(path, line):
            choices = ",".join(f"{i}.{row[f'choice{i}']}" for i in range(5))
            result.append(llmjp.Sample(f"質問：{row['question']}\n選択肢：{choices}", str(row["label"])))
    return result


TASK = llmjp.task(
    name="jcommonsenseqa",
    files=(TRAIN, VALID),
    splits=llmjp.file_splits(samples, TRAIN, VALID),
    instruction="質問と回答の選択肢を入力として受け取り、選択肢から回答を選択してください。なお、回答は選択肢の番号（例：0）でするものとします。 回答となる数値をint型で返し、他には何も含めないことを厳守してください。",
    output_length=1,
    metric="exact_match",
    column=Column("jcommonsenseqa", "JCom.", "exact_match", "EM acc", round_digits=4),
    description="JGLUE v1.1 valid (1,119 questions), five choices, answer = choice number.",
)
