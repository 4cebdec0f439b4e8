"""NIILC-ECQA2015, 4-shot, char_f1 — llm-jp-eval datasets/niilc.py.

The reference reads the XML with xmltodict; `_text` reproduces what that gives for these files
(text stripped of surrounding whitespace, empty text as None): both files parse to the same samples
as with xmltodict 1.0.4, and the golden prompts pin the result.
"""

import xml.etree.ElementTree as ET

from swallow_eval.data import DataFile, DataRoot, row_errors
from swallow_eval.errors import UserError
from swallow_eval.families import llmjp
from swallow_eval.task import Column

# The reference fetched `master`; this is its commit (2015-11-20), the last change to the data.
URL = "https://raw.githubusercontent.com/mynlp/niilc-qa/b6d47968b2e301a5e953fb1922a08ed56099646b/data"
DEV = DataFile("niilc/NIILC-ECQA2015_dev.xml", f"{URL}/NIILC-ECQA2015_dev.xml",
               "983dcaeb9ef38ca45d1114e8b420fdd4b358e827c235b1bfb4fc5e50ca70caf3")
TEST = DataFile("niilc/NIILC-ECQA2015_test.xml", f"{URL}/NIILC-ECQA2015_test.xml",
                "4a787463961db87e56e496c49cb40ca59f26d220e3ccc48588ad65b0dd4ce0d2")


def _text(element) -> str | None:
    return (element.text or "").strip() or None


def samples(data: DataRoot, file: DataFile) -> list[llmjp.Sample]:
    """Questions in file order; several answers are comma-joined, answer "-" is dropped."""
    path = data.path(file)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise UserError(f"{path}:{exc.position[0]}: not valid XML ({exc})") from exc
    result = []
    for question in root.iter("question"):
        with row_errors(path, f"question {question.get('id')}"):
            answers = [_text(a) for a in question.find("answers").findall("answer")]
            answer = ",".join(a for a in answers if a) if len(answers) > 1 else answers[0]
            if answer == "-":
                continue
            result.append(llmjp.Sample(f"質問：{_text(question.find('text'))}", answer))
    return result


TASK = llmjp.task(
    name="niilc",
    files=(DEV, TEST),
    splits=llmjp.file_splits(samples, DEV, TEST),
    instruction="質問に対する答えを出力してください。回答の他には何も含めないことを厳守してください。答えが複数の場合、コンマ（,）で繋げてください。",
    output_length=180,
    metric="char_f1",
    column=Column("niilc", "NIILC", "char_f1", "Char-F1", round_digits=4),
    description="NIILC-ECQA2015 test (198 of 200 questions: answer \"-\" dropped), gold = comma-joined answers.",
)
