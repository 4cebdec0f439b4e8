"""TriviaQA (rc.nocontext), 4-shot, EM over the answer aliases — lm-evaluation-harness tasks/triviaqa/default.yaml.

The reference loads HF `trivia_qa` (config rc.nocontext); with no test_split it evaluates the
validation split (17,944 questions) and draws shots from train (138,384) with Random(1234). Neither
fewshot_split nor test_split is set, so lm-eval's `fewshot_split == test_split` holds and it draws
5 docs per question, keeping the first 4. The files read here are that dataset's Parquet files
(the original release is a 2.5 GB tarball), so rows and their order are the reference's.
Questions end in "?" already and the template adds another; a shot shows the first alias.
"""

from swallow_eval.data import DataFile, DataRoot, read_parquet, row_errors
from swallow_eval.families import lmeval
from swallow_eval.task import LM_EVAL, BuildContext, Column, Task

# The dataset's Parquet conversion (its loading script was removed in the same commit).
URL = "https://huggingface.co/datasets/mandarjoshi/trivia_qa/resolve/0f7faf33a3908546c6fd5b73a660e0f8ff173c2f/rc.nocontext"
TRAIN = DataFile("triviaqa/rc.nocontext/train-00000-of-00001.parquet", f"{URL}/train-00000-of-00001.parquet")
VALIDATION = DataFile("triviaqa/rc.nocontext/validation-00000-of-00001.parquet",
                      f"{URL}/validation-00000-of-00001.parquet")


def questions(data: DataRoot, file: DataFile) -> list[dict]:
    path = data.path(file)
    docs = []
    for row_number, row in read_parquet(path, ["question_id", "question", "answer"]):
        with row_errors(path, row_number):
            docs.append({"question_id": row["question_id"], "question": row["question"],
                         "aliases": list(row["answer"]["aliases"])})
    return docs


def build(data: DataRoot, context: BuildContext):
    return lmeval.generation_items(
        questions(data, VALIDATION),
        text=lambda doc: f"Question: {doc['question']}?\nAnswer:",
        gold=lambda doc: doc["aliases"],
        shots=4,
        pool=questions(data, TRAIN),
        shot_target=lambda doc: doc["aliases"][0],
        draw_extra=True,
    )


TASK = Task(
    name="triviaqa",
    suite="en",
    reference=LM_EVAL,
    shots=4,
    files=(TRAIN, VALIDATION),
    build=build,
    metrics=("triviaqa_em",),
    column=Column("triviaqa", "TriviaQA", "triviaqa_em", "EM acc"),
    # Stopping at "." and "," cuts answers such as "St. Louis" or "Washington, D.C.", as in the reference.
    generation=lmeval.generate_until("\n", ".", ","),
    description="TriviaQA rc.nocontext validation (17,944 questions), gold = all answer aliases.",
    no_sample_reason="no TriviaQA file is available to embed (the release is a 2.5 GB tarball); "
                     "run `swallow-eval data download --tasks triviaqa`",
)
