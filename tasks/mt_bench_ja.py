"""Japanese MT-Bench: 80 two-turn questions answered with the model's chat template, graded by a judge.

FastChat llm_judge as swallow-evaluation v202411 runs it (en-tasks.md §3): 5 answers per question,
per-category temperatures, 1,024 new tokens per turn, turn 2 continues the model's own turn-1
answer; single-answer grading of each turn (swallow_eval/judge.py); card value = score / 10.
"""

from swallow_eval import judge
from swallow_eval.data import DataFile, DataRoot, read_jsonl, row_errors
from swallow_eval.task import FASTCHAT, BuildContext, Column, GenerationSettings, Item, Task

BASE = ("https://raw.githubusercontent.com/swallow-llm/swallow-evaluation/57c4ecdf989f708a54e84235621a6afdbcc28ddb/"
        "fastchat/fastchat/llm_judge/data/japanese_mt_bench")
QUESTIONS = DataFile("ja_mt_bench/question.jsonl", f"{BASE}/question.jsonl",
                     "8f56c8bd5ff93d2120409bc8f77f0020e673c74548c9637f2aace12a323834e5")
REFERENCES = DataFile("ja_mt_bench/reference_answer/gpt-4o-2024-08-06.jsonl",
                      f"{BASE}/reference_answer/gpt-4o-2024-08-06.jsonl",
                      "237ce7a7eb6de8493b21a708a5dcaf5bce99155a038d898b5454e14c4f4a654c")

# The fixed system prompt of FastChat's llama-3 and swallow templates (conversation.py), which the
# card's Swallow models were answered with; the model's own chat template renders it.
SYSTEM = "あなたは誠実で優秀な日本人のアシスタントです。"
# common.py temperature_config; any other category 0.7; below 1e-4 generation is greedy.
TEMPERATURE = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
               "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}
NUM_ANSWERS = 5  # scripts/evaluate_ja_mt_bench.sh --num-choices 5
MAX_NEW_TOKENS = 1024  # gen_model_answer.py default


def build(data: DataRoot, context: BuildContext) -> list[Item]:
    references = {}
    path = data.path(REFERENCES)
    for line, row in read_jsonl(path):
        with row_errors(path, line):
            references[row["question_id"]] = row["choices"][0]["turns"]
    items = []
    path = data.path(QUESTIONS)
    for line, row in read_jsonl(path):
        with row_errors(path, line):
            question_id, category, turns = row["question_id"], row["category"], row["turns"]
            if len(turns) != 2:
                raise ValueError(f"expected 2 turns, got {len(turns)}")
        temperature = TEMPERATURE.get(category, 0.7)
        sampled = temperature >= 1e-4
        for choice in range(context.num_answers or NUM_ANSWERS):
            items.append(Item(
                index=len(items),
                target={"question_id": question_id, "category": category, "choice": choice},
                messages=(("system", SYSTEM), ("user", turns[0])),
                unit=question_id,
                # gen_model_answer.py: torch.manual_seed(choice); top_p/top_k from the model's config.
                generation=GenerationSettings(max_new_tokens=MAX_NEW_TOKENS,
                                              temperature=temperature if sampled else 0.0,
                                              top_p=None, top_k=None, seed=choice if sampled else None),
                meta={"turns": turns, "reference": references.get(question_id)},
            ))
    return items


def answer(text: str) -> str:
    """gen_model_answer.py post-processing: special tokens are already gone; strip."""
    return text.strip()


def next_turn(item: Item, answers: list[str]):
    """Turn 2 continues the conversation with the model's own (post-processed) turn-1 answer."""
    if len(answers) != 1:
        return None
    return item.messages + (("assistant", answer(answers[0])), ("user", item.meta["turns"][1]))


def judge_conversations(item: Item, answers: list[str]):
    return judge.conversations(item.target["category"], item.meta["turns"], [answer(a) for a in answers],
                               item.meta["reference"])


TASK = Task(
    name="mt_bench_ja",
    suite="ja",
    reference=FASTCHAT,
    shots=0,
    files=(QUESTIONS, REFERENCES),
    build=build,
    metrics=("mt_bench_score", "mt_bench_unparsed", "ja_char_ratio"),
    column=Column("jmt_avg", "JMT Avg", "mt_bench_score", "judge score / 10", divisor=10),
    generation=GenerationSettings(max_new_tokens=MAX_NEW_TOKENS),
    next_turn=next_turn,
    judge=judge_conversations,
    predict=judge.prediction,
    description="80 two-turn questions, 8 categories, judged 1-10 per turn (swallow-evaluation's Japanese MT-Bench).",
)
