"""LLM-as-judge, as FastChat llm_judge grades Japanese MT-Bench in swallow-evaluation (en-tasks.md §3.3).

Single-answer grading: each turn of each answer is judged on its own, with the reference's four
prompts (with a reference answer for math, reasoning and coding; the turn-2 prompts show the whole
conversation), at temperature 0; the rating is the first `[[n]]` (else `[n]`) in the judgment,
-1 when there is none (excluded from the averages).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from swallow_eval.errors import UserError

if TYPE_CHECKING:
    from swallow_eval.pipeline import ItemResponses
    from swallow_eval.task import Item

PROMPT_VERSION = "swallow-evaluation@57c4ecd data/judge_prompts.jsonl"
NEED_REF_CATEGORIES = ("math", "reasoning", "coding")  # common.py NEED_REF_CATS
JUDGE_MAX_TOKENS = 2048  # common.py chat_completion_openai(max_tokens=2048)


@dataclass(frozen=True)
class JudgePrompt:
    system: str
    template: str


JUDGE_PROMPTS = {
    "single-v1": JudgePrompt(
        system="You are a helpful assistant.",
        template="[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your evaluation by providing a short explanation. Be as objective as possible. The expected language is Japanese. Responses in languages other than Japanese will incur score deductions unless specifically required. Failure to use Japanese at all will result in the lowest evaluation. However, using Japanese is not mandatory when providing only Python scripts or calculation results, where Japanese is not essential. Additionally, your explanation of judgement should be in Japanese. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]",
    ),
    "single-math-v1": JudgePrompt(
        system="You are a helpful assistant.",
        template="[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user question displayed below. Your evaluation should consider correctness and helpfulness. You will be given a reference answer and the assistant's answer. Begin your evaluation by comparing the assistant's answer with the reference answer. Identify and correct any mistakes. Be as objective as possible. The expected language is Japanese. Responses in languages other than Japanese will incur score deductions unless specifically required. Failure to use Japanese at all will result in the lowest evaluation. However, using Japanese is not mandatory when providing only Python scripts or calculation results, where Japanese is not essential. Additionally, your explanation of judgement should be in Japanese. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n[Question]\n{question}\n\n[The Start of Reference Answer]\n{ref_answer_1}\n[The End of Reference Answer]\n\n[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]",
    ),
    "single-v1-multi-turn": JudgePrompt(
        system="Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. You evaluation should focus on the assistant's answer to the second user question. Begin your evaluation by providing a short explanation. Be as objective as possible. The expected language is Japanese. Responses in languages other than Japanese will incur score deductions unless specifically required. Failure to use Japanese at all will result in the lowest evaluation. However, using Japanese is not mandatory when providing only Python scripts or calculation results, where Japanese is not essential. Additionally, your explanation of judgement should be in Japanese. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n",
        template="<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n{answer_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_2}\n\n<|The End of Assistant A's Conversation with User|>",
    ),
    "single-math-v1-multi-turn": JudgePrompt(
        system="Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user question. Your evaluation should consider correctness and helpfulness. You will be given a reference answer and the assistant's answer. You evaluation should focus on the assistant's answer to the second question. Begin your evaluation by comparing the assistant's answer with the reference answer. Identify and correct any mistakes. Be as objective as possible. The expected language is Japanese. Responses in languages other than Japanese will incur score deductions unless specifically required. Failure to use Japanese at all will result in the lowest evaluation. However, using Japanese is not mandatory when providing only Python scripts or calculation results, where Japanese is not essential. Additionally, your explanation of judgement should be in Japanese. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n",
        template="<|The Start of Reference Answer|>\n\n### User:\n{question_1}\n\n### Reference answer:\n{ref_answer_1}\n\n### User:\n{question_2}\n\n### Reference answer:\n{ref_answer_2}\n\n<|The End of Reference Answer|>\n\n\n<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n{answer_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_2}\n\n<|The End of Assistant A's Conversation with User|>",
    ),
}


def conversations(category: str, questions: list[str], answers: list[str],
                  references: list[str] | None) -> list[tuple[tuple[str, str], ...]]:
    """The judge's (system, user) messages for turn 1 and turn 2 of one answer (make_judge_single)."""
    with_reference = category in NEED_REF_CATEGORIES
    single = JUDGE_PROMPTS["single-math-v1" if with_reference else "single-v1"]
    multi = JUDGE_PROMPTS["single-math-v1-multi-turn" if with_reference else "single-v1-multi-turn"]
    fields = {"question": questions[0], "answer": answers[0], "question_1": questions[0],
              "question_2": questions[1], "answer_1": answers[0], "answer_2": answers[1]}
    if with_reference:
        fields.update(ref_answer_1=references[0], ref_answer_2=references[1])
    return [
        (("system", prompt.system), ("user", prompt.template.format(**fields)))
        for prompt in (single, multi)
    ]


def rating(judgment: str) -> float:
    """common.py: first `[[n]]`, else first `[n]`, via ast.literal_eval; -1 when absent."""
    match = re.search(r"\[\[(\d+\.?\d*)\]\]", judgment) or re.search(r"\[(\d+\.?\d*)\]", judgment)
    return float(ast.literal_eval(match.groups()[0])) if match else -1.0


def prediction(item: Item, responses: ItemResponses) -> dict:
    """A judged task's prediction (its `predict` hook): the answers, the judgments and their ratings."""
    if responses.judgments is None:
        raise UserError(f"item {item.index}: no judgments; a judged task is scored by `swallow-eval run "
                        "--judge-model ...`")
    return {"answers": responses.texts, "judgments": responses.judgments,
            "ratings": [rating(j) for j in responses.judgments]}
