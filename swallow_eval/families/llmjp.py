"""llm-jp-eval v1.3.0 as swallow-evaluation v202411 runs it (ja-tasks.md §2).

Few-shots are the first N samples of a seed-42-shuffled 90 % train split, the same for every item;
the prompt is the Alpaca-style header with `### 指示:` / `### 入力:` / `### 応答:` blocks; greedy
generation of `output_length` new tokens; the answer is the text before the first blank line,
stripped and NFKC-normalised.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from typing import Callable

from swallow_eval.data import DataFile, DataRoot
from swallow_eval.task import LLM_JP_EVAL, BuildContext, Column, GenerationSettings, Item, Task

HEADER = "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。"


@dataclass(frozen=True)
class Sample:
    input: str
    output: str
    subtask: str | None = None  # e.g. the JMMLU subject, for per-subject and per-category scores

    def __post_init__(self):
        # Raised inside the loaders' row_errors, so a malformed row is named, not a traceback.
        if not isinstance(self.input, str) or not isinstance(self.output, str):
            raise TypeError("question and answer must be text, got "
                            f"{type(self.input).__name__} and {type(self.output).__name__}")


def train_split(samples: list[Sample]) -> list[Sample]:
    """`random.seed(42); random.shuffle(samples)`, then the first 90 % (datasets/<name>.py)."""
    samples = list(samples)
    random.Random(42).shuffle(samples)
    return samples[: int(len(samples) * 0.9)]


def file_splits(parse: Callable[[DataRoot, DataFile], list[Sample]], train_file: DataFile, test_file: DataFile):
    """`splits` of a task with separate few-shot and evaluated files: the train split of one, all of the other."""
    return lambda data: (train_split(parse(data, train_file)), parse(data, test_file))


def prompt_prefix(instruction: str, shots: list[Sample]) -> str:
    """Everything before the test input (utils.py::get_evaluation_prompt)."""
    text = f"{HEADER}\n\n### 指示:\n{instruction}"
    for shot in shots:
        text += f"\n\n### 入力:\n{shot.input}\n\n### 応答:\n{shot.output}"
    return text


def answer(text: str) -> str:
    """`NFKC(text.split("\\n\\n")[0].strip())` (utils.py::get_evaluation_result, Swallow's strip)."""
    return unicodedata.normalize("NFKC", text.split("\n\n")[0].strip())


def task(
    *,
    name: str,
    files: tuple[DataFile, ...],
    splits: Callable[[DataRoot], tuple[list[Sample], list[Sample]]],
    instruction: str,
    output_length: int,
    metric: str,
    column: Column,
    shots: int = 4,
    groups: dict[str, tuple[str, ...]] | None = None,
    description: str = "",
    no_sample_reason: str | None = None,
) -> Task:
    """A Task from llm-jp-eval's settings; `splits` returns (train split, evaluated samples)."""

    def build(data: DataRoot, context: BuildContext) -> list[Item]:
        train, test = splits(data)
        prefix = prompt_prefix(instruction, train[:shots])
        return [
            Item(
                index=i,
                prompt=f"{prefix}\n\n### 入力:\n{sample.input}\n\n### 応答:\n",
                # The reference compares against NFKC(gold).
                target=unicodedata.normalize("NFKC", sample.output),
                subtask=sample.subtask,
            )
            for i, sample in enumerate(test)
        ]

    return Task(
        name=name,
        suite="ja",
        reference=LLM_JP_EVAL,
        shots=shots,
        files=files,
        build=build,
        metrics=(metric,),
        column=column,
        # No stop sequence in the reference; stopping at "\n\n" cannot change the extracted answer.
        generation=GenerationSettings(max_new_tokens=output_length, stop=("\n\n",)),
        extract=answer,
        groups=groups or {},
        description=description,
        no_sample_reason=no_sample_reason,
    )
