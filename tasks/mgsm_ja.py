"""MGSM (ja), 4-shot chain of thought, accuracy — JP harness lm_eval/tasks/ja/mgsm.py (ja-tasks.md §6).

The reference loads HF `juletxara/mgsm` (config ja): its test split is url-nlp's mgsm_ja.tsv and its
train split (the few-shot pool) the 8 Japanese exemplars of url-nlp's exemplars.py, read here from
those original files.
"""

import ast
import csv

from swallow_eval.data import DataFile, DataRoot, read_tsv, row_errors
from swallow_eval.errors import UserError
from swallow_eval.families import jpharness
from swallow_eval.metrics.mgsm import extract_answer
from swallow_eval.task import BuildContext, Column, Item

URL = "https://raw.githubusercontent.com/google-research/url-nlp/452a21ad3dae5668c06ceeac21ff073e1e40f9be/mgsm"
TEST = DataFile("mgsm/mgsm_ja.tsv", f"{URL}/mgsm_ja.tsv",
                "59a2b50debe77981fd784cb3b2bef1505e3abf2a37116dc9d7a366ab029b4637")
EXEMPLARS = DataFile("mgsm/exemplars.py", f"{URL}/exemplars.py",
                     "239dda1557bb2ba76b71e5ef744ddd0b454da0b453e5f8b909498ceff690a919")
SHOTS = 4
TEMPLATE = jpharness.Template(
    doc_to_text=lambda doc: f"問題：{doc['question'].replace('問題：', '')}\nステップごとの答え：",
    doc_to_target=lambda doc: doc["answer"].replace("ステップごとの答え：", ""),
    sep="\n",
)


def test_docs(data: DataRoot) -> list[dict]:
    path = data.path(TEST)
    docs = []
    for line, row in read_tsv(path, quoting=csv.QUOTE_NONE):
        with row_errors(path, line):
            question, answer = row
            docs.append({"question": question, "answer_number": int(answer.replace(",", ""))})
    return docs


def exemplars(data: DataRoot) -> list[dict]:
    """MGSM_EXEMPLARS["ja"] in key order, read as a literal (the file is data, never executed)."""
    path = data.path(EXEMPLARS)
    try:
        module = ast.parse(path.read_text(encoding="utf-8"))
        literal = next(node.value for node in module.body if isinstance(node, ast.Assign)
                       and any(getattr(t, "id", None) == "MGSM_EXEMPLARS" for t in node.targets))
        return [{"question": e["q"], "answer": e["a"]} for e in ast.literal_eval(literal)["ja"].values()]
    except (SyntaxError, StopIteration, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: no readable MGSM_EXEMPLARS['ja'] ({type(exc).__name__}: {exc})") from exc


def build(data: DataRoot, context: BuildContext) -> list[Item]:
    sampler = jpharness.Sampler(test_docs(data), exemplars(data))
    budget = jpharness.MAX_LENGTH - jpharness.MAX_GEN_TOKS

    def prompt(doc: dict) -> str:
        """MGSM.fewshot_context: one shot fewer, drawn afresh, while the context exceeds the budget."""
        for k in range(SHOTS, -1, -1):
            text = TEMPLATE.context(doc, sampler.shots(doc, k), k)
            # Without the model's tokenizer (`prompts`) 4 shots fit: no context is near 3,840 tokens.
            if context.tokenizer is None or len(jpharness.encode(context.tokenizer, text)) <= budget:
                return text
        raise UserError(f"mgsm_ja: even the 0-shot prompt exceeds {budget} tokens")

    return jpharness.items(sampler, prompt, target=lambda doc: doc["answer_number"])


TASK = jpharness.task(
    name="mgsm_ja",
    files=(TEST, EXEMPLARS),
    build=build,
    shots=SHOTS,
    metric="mgsm_accuracy",
    column=Column("mgsm", "MGSM", "mgsm_accuracy", "EM acc"),
    extract=extract_answer,
    description="MGSM ja test (250 problems), 4 of the 8 native exemplars drawn per problem, last number of the first line.",
)
