"""lm-evaluation-harness v0.4.2 as swallow-evaluation v202411 runs it (en-tasks.md §1, Appendix A).

prompt = description + Σ(shot_text + " " + shot_target + "\\n\\n") + doc_text. Few-shots come from
one `random.Random(1234)` per task that draws `rng.sample(pool, n)` for each evaluated doc in
dataset order (a shot equal to the doc itself is dropped), or from the first n pool docs
(`first_n`). Multiple choice scores `" " + choice` after the context; generation stops at the
task's `until` strings (and EOS) and is capped at 256 new tokens unless the task says otherwise;
its output then goes through the task's filters (regex, remove_whitespace) before the metric.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from swallow_eval.data import DataFile, DataRoot
from swallow_eval.errors import UserError
from swallow_eval.task import LM_EVAL, BuildContext, Column, GenerationSettings, Item, Task

TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"
SEED = 1234


def jinja(text: str) -> str:
    """lm-eval renders templates without keep_trailing_newline: one trailing "\\n" is lost (§1.2)."""
    return text[:-1] if text.endswith("\n") else text


class RandomSampler:
    """`api/samplers.py` default sampler: one generator per task, advanced doc by doc.

    lm-eval draws n + 1 docs when the task config's `fewshot_split == test_split`, and that holds
    when neither is set (TriviaQA, SQuAD2, HellaSwag: `draw_extra`); the extra draw shifts the
    generator for every later doc. XWINO sets test_split only, so it draws n from its own test set
    and loses a shot when it draws itself.
    """

    def __init__(self, pool: Sequence, n: int, draw_extra: bool = False):
        self.pool, self.n = list(pool), n
        self.draws = n + 1 if draw_extra else n
        self.rng = random.Random(SEED)

    def shots(self, doc) -> list:
        drawn = self.rng.sample(self.pool, self.draws)
        return [shot for shot in drawn if shot != doc][: self.n]


class FirstNSampler:
    """`first_n` sampler: the first n pool docs, the same for every doc (get_context drops the doc itself)."""

    def __init__(self, pool: Sequence, n: int):
        self.first = list(pool)[:n]

    def shots(self, doc) -> list:
        return [shot for shot in self.first if shot != doc]


def fewshot_block(shots: list[tuple[str, str]]) -> str:
    """Rendered shots, each `text + " " + target + "\\n\\n"` (api/samplers.py get_context)."""
    return "".join(text + TARGET_DELIMITER + target + FEWSHOT_DELIMITER for text, target in shots)


# ---- multiple choice (output_type: multiple_choice, api/task.py L1109-1131) ---------------------


@dataclass(frozen=True)
class MultipleChoice:
    """A task yaml's doc_to_text / doc_to_choice / doc_to_target, applied to one HF-schema doc.

    doc_to_text returning an int is lm-eval's "multiple input" form (XWINO): the choices end the
    contexts and the target is the one continuation scored after each.
    """

    doc_to_text: Callable[[dict], str | int]
    doc_to_choice: Callable[[dict], list[str]]
    doc_to_target: Callable[[dict], int | str]

    def shot(self, doc: dict) -> tuple[str, str]:
        """(text, target) of a few-shot doc: an int text or target names a choice (samplers.py L44-63)."""
        text, target = self.doc_to_text(doc), self.doc_to_target(doc)
        if isinstance(text, int):
            text = self.doc_to_choice(doc)[text]
        if not isinstance(target, str):
            target = str(self.doc_to_choice(doc)[target])
        return text, target

    def requests(self, doc: dict, prefix: str) -> list[tuple[str, str]]:
        """One (context, continuation) per choice; the continuation starts with the target delimiter."""
        text, choices = self.doc_to_text(doc), self.doc_to_choice(doc)
        if isinstance(text, int):
            continuation = TARGET_DELIMITER + self.doc_to_target(doc)
            return [(prefix + choice, continuation) for choice in choices]
        context = prefix + text
        return [(context, TARGET_DELIMITER + choice) for choice in choices]

    def gold(self, doc: dict) -> int:
        text = self.doc_to_text(doc)
        return text if isinstance(text, int) else self.doc_to_target(doc)


@dataclass
class Docs:
    """One lm-eval task's documents (a whole benchmark, or one MMLU subject), in HF row order."""

    evaluated: list[dict]
    pool: list[dict]  # the few-shot split; the sampler draws from it in this order
    description: str = ""  # already rendered (see `jinja`)
    subtask: str | None = None


def multiple_choice_items(spec: MultipleChoice, parts: list[Docs], shots: int, sampler=RandomSampler) -> list[Item]:
    """`build_all_requests`: one sampler per lm-eval task (part), advanced over its docs in order."""
    items: list[Item] = []
    for part in parts:
        if len(part.pool) < shots:
            where = f" ({part.subtask})" if part.subtask else ""
            raise UserError(f"the few-shot pool{where} has {len(part.pool)} documents, {shots} shots are drawn")
        fewshots = sampler(part.pool, shots)
        for doc in part.evaluated:
            # num_fewshot 0 prepends only the description and never touches the sampler (L946-950).
            block = fewshot_block([spec.shot(s) for s in fewshots.shots(doc)]) if shots else ""
            items.append(Item(index=len(items), target=spec.gold(doc),
                              choices=spec.requests(doc, part.description + block), subtask=part.subtask))
    return items


def multiple_choice_task(
    *,
    name: str,
    files: tuple[DataFile, ...],
    docs: Callable[[DataRoot], list[Docs]],
    spec: MultipleChoice,
    shots: int,
    column: Column,
    sampler=RandomSampler,
    groups: dict[str, tuple[str, ...]] | None = None,
    description: str = "",
    no_sample_reason: str | None = None,
) -> Task:
    """An English-suite log-likelihood task scored by `acc` (argmax of summed log-probabilities)."""

    def build(data: DataRoot, context: BuildContext) -> list[Item]:
        return multiple_choice_items(spec, docs(data), shots, sampler)

    return Task(
        name=name, suite="en", reference=LM_EVAL, shots=shots, files=files, build=build, metrics=("acc",),
        column=column, groups=groups or {}, description=description, no_sample_reason=no_sample_reason,
    )


# ---- generate_until tasks ----------------------------------------------------------------------


def generation_items(
    docs: Sequence,
    text: Callable[[Any], str],
    gold: Callable[[Any], Any],
    *,
    shots: int = 0,
    pool: Sequence = (),
    shot_target: Callable[[Any], str] | None = None,
    draw_extra: bool = False,
    description: str = "",
    continuations: tuple[str, ...] = (),
    subtask: str | None = None,
    first_index: int = 0,
) -> list[Item]:
    """Items of a generate_until task, one per doc in dataset order (api/task.py fewshot_context).

    `text(doc)` and `shot_target(doc)` are the rendered doc_to_text and the answer a shot shows
    after the target delimiter; `gold(doc)` is what the metric compares with. Each continuation
    adds a log-likelihood request after the same prompt (SQuAD2 scores " unanswerable").
    """
    sampler = RandomSampler(pool, shots, draw_extra) if shots else None
    items = []
    for offset, doc in enumerate(docs):
        block = fewshot_block([(text(s), shot_target(s)) for s in sampler.shots(doc)]) if sampler else ""
        prompt = description + block + text(doc)
        items.append(Item(first_index + offset, gold(doc), prompt=prompt,
                          choices=[(prompt, c) for c in continuations] or None, subtask=subtask))
    return items


def generate_until(*until: str, max_gen_toks: int = 256) -> GenerationSettings:
    """Greedy generation cut at the `until` strings; the backend also stops at EOS, which lm-eval
    adds to `until` (models/huggingface.py generate_until)."""
    return GenerationSettings(max_new_tokens=max_gen_toks, stop=until)


INVALID = "[invalid]"
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def regex_filter(text: str, pattern: str) -> str:
    """`regex` filter with a one-group pattern: the first re.findall match, stripped, else "[invalid]"."""
    matches = re.findall(pattern, text)
    return matches[0].strip() if matches else INVALID


def remove_whitespace(text: str) -> str:
    """`remove_whitespace` filter: one leading space goes, nothing else."""
    return text[1:] if text.startswith(" ") else text


def exact_match(prediction: str, references: Sequence[str], regexes_to_ignore: Sequence[str] = (),
                ignore_case: bool = False, ignore_punctuation: bool = False) -> float:
    """1.0 if the prediction equals any reference under HF evaluate's `exact_match` (api/metrics.py).

    Each regex is deleted from both sides in turn, then lower-casing and deleting ASCII punctuation
    if asked; there is no whitespace normalisation. The library compares numpy unicode arrays,
    which drop trailing NUL characters, so this does too.
    """
    if not references:
        return 0.0
    predictions, golds = [prediction] * len(references), list(references)
    for pattern in regexes_to_ignore:
        predictions = np.asarray([re.sub(pattern, "", x) for x in predictions])
        golds = np.asarray([re.sub(pattern, "", x) for x in golds])
    predictions, golds = np.asarray(predictions), np.asarray(golds)
    if ignore_case:
        predictions, golds = np.char.lower(predictions), np.char.lower(golds)
    if ignore_punctuation:
        predictions, golds = np.char.translate(predictions, _PUNCTUATION), np.char.translate(golds, _PUNCTUATION)
    return float(bool((predictions == golds).any()))
