"""SQuAD 2.0, 4-shot, `exact` — lm-evaluation-harness tasks/squadv2/task.py (class SQuAD2).

The reference loads HF `squad_v2`, whose rows are the questions of the official train-v2.0.json and
dev-v2.0.json read here, in file order (article, paragraph, question), with texts as they are. It
evaluates dev (11,873) and draws shots from train (130,319) with Random(1234); its config sets no
split names, so `fewshot_split == test_split` (both unset) holds and it draws 5 docs per question,
keeping the first 4. Each question asks for a generation up to "\\n" and for the log-likelihood of
" unanswerable" (its exp is the no-answer probability, which only `best_exact` uses).
"""

from math import exp

from swallow_eval.data import DataFile, DataRoot, read_json, row_errors
from swallow_eval.errors import UserError
from swallow_eval.families import lmeval
from swallow_eval.pipeline import ItemResponses
from swallow_eval.task import LM_EVAL, BuildContext, Column, Item, Task

URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset"
TRAIN = DataFile("squad_v2/train-v2.0.json", f"{URL}/train-v2.0.json")
DEV = DataFile("squad_v2/dev-v2.0.json", f"{URL}/dev-v2.0.json")
UNANSWERABLE = " unanswerable"


def questions(data: DataRoot, file: DataFile) -> list[dict]:
    """One doc per question, as the HF loading script yields them."""
    path = data.path(file)
    with row_errors(path, 1):
        articles = read_json(path)["data"]
    docs = []
    for position, article in enumerate(articles, 1):
        with row_errors(path, f"article {position}"):
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    docs.append({"id": qa["id"], "title": article.get("title", ""), "context": paragraph["context"],
                                 "question": qa["question"], "answers": [a["text"] for a in qa["answers"]]})
    return docs


def text(doc: dict) -> str:
    return f"Title: {doc['title']}\n\nBackground: {doc['context']}\n\nQuestion: {doc['question']}\n\nAnswer:"


def shot_target(doc: dict) -> str:
    """doc_to_target starts with a space, and the sampler adds the target delimiter: two spaces."""
    return " " + (doc["answers"][0] if doc["answers"] else "unanswerable")


def build(data: DataRoot, context: BuildContext):
    return lmeval.generation_items(
        questions(data, DEV),
        text=text,
        gold=lambda doc: doc["answers"],
        shots=4,
        pool=questions(data, TRAIN),
        shot_target=shot_target,
        draw_extra=True,
        continuations=(UNANSWERABLE,),
    )


def predict(item: Item, responses: ItemResponses) -> dict:
    """The raw continuation (leading space kept) and exp(log p(" unanswerable" | prompt))."""
    texts, loglikelihoods = responses.texts, responses.loglikelihoods
    if not texts or not loglikelihoods:
        raise UserError(f"squad2 item {item.index}: needs both the generated output and the log-likelihood "
                        "of \" unanswerable\"")
    return {"prediction_text": texts[0], "no_answer_probability": exp(loglikelihoods[0])}


TASK = Task(
    name="squad2",
    suite="en",
    reference=LM_EVAL,
    shots=4,
    files=(TRAIN, DEV),
    build=build,
    metrics=("squad2_exact", "squad2_best_exact"),
    # The reference reports percentages; column-path-key.csv divides `exact` by 100.
    column=Column("squad2", "SQuAD2.0", "squad2_exact", "EM acc", divisor=100.0),
    generation=lmeval.generate_until("\n"),
    predict=predict,
    description="SQuAD 2.0 dev (11,873 questions, about half unanswerable); gold = the answer texts.",
    no_sample_reason="no SQuAD 2.0 file is available to embed here (dev-v2.0.json is 4.4 MB, train 40 MB); "
                     "run `swallow-eval data download --tasks squad2`",
)
