"""JSQuAD (JGLUE v1.1), 4-shot, char_f1 against the first gold answer — llm-jp-eval datasets/jsquad.py."""

from swallow_eval.data import DataFile, DataRoot, read_json, row_errors
from swallow_eval.families import llmjp
from swallow_eval.task import Column

URL = "https://raw.githubusercontent.com/yahoojapan/JGLUE/v1.1.0/datasets/jsquad-v1.1"
# Published checksum unknown here (the file is not in shared/data); its git blob id is 20ce716ee531e3e23088f5840a3b0751ae803424.
TRAIN = DataFile("jsquad/train-v1.1.json", f"{URL}/train-v1.1.json")
VALID = DataFile("jsquad/valid-v1.1.json", f"{URL}/valid-v1.1.json",
                 "fb0a57a35281ff03bbe7f0e878cff5b577985fbe6fcb242e7e8ddb63d1c0ab11")


def samples(data: DataRoot, file: DataFile) -> list[llmjp.Sample]:
    """One sample per question, in data -> paragraphs -> qas order; the context keeps its "title [SEP] "."""
    path = data.path(file)
    result = []
    with row_errors(path, "data"):
        for article in read_json(path)["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    with row_errors(path, f"question {qa.get('id')}"):
                        result.append(llmjp.Sample(f"文章：{paragraph['context']}\n質問：{qa['question']}",
                                                   qa["answers"][0]["text"]))
    return result


TASK = llmjp.task(
    name="jsquad",
    files=(TRAIN, VALID),
    splits=llmjp.file_splits(samples, TRAIN, VALID),
    instruction="質問に対する回答を文章から一言で抽出してください。回答は名詞で答えてください。 それ以外には何も含めないことを厳守してください。",
    output_length=25,
    metric="char_f1",
    column=Column("jsquad", "JSQuAD", "char_f1", "Char-F1", round_digits=4),
    description="JGLUE v1.1 valid (4,442 questions), answer = a span of the paragraph.",
    no_sample_reason="JGLUE's jsquad train-v1.1.json (the few-shot pool, > 4 MiB) is not shipped; "
                     "run `swallow-eval data download --tasks jsquad`",
)
