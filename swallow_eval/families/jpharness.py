"""The JP LM Evaluation Harness (Stability-AI fork) as swallow-evaluation v202411 runs it (ja-tasks.md §4).

One `random.Random(42)` per task first shuffles the test documents, then draws each document's
few-shots in that order: `rnd.sample(train, k)`, or, for tasks without training documents (WMT20),
`rnd.sample(test, k + 1)` minus the document itself (lm_eval/base.py `fewshot_context`, evaluator.py).
context = DESCRIPTION + FEWSHOT_SEP.join(doc_to_text + doc_to_target per shot) + FEWSHOT_SEP +
doc_to_text(doc). The model wrapper (`hf-causal-experimental`) adds no BOS (task.bos_policy), keeps
the last 4096 - 256 prompt tokens, generates greedily up to 256 new tokens whatever the task asks
for, and keeps the text before the first stop string, unstripped.

Not reproduced (models/huggingface.py): with batch_size 2, a batch whose longer context exceeds 3,840
tokens loses its first (length - 3,840) generated tokens (the continuation is sliced at the untruncated
padded length) and keeps generating until both sequences stop; and the wrapper also cuts at the
literal EOS string, which only matters if a model spells it out in plain tokens.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import tarfile
from dataclasses import dataclass
from typing import Any, Callable

from swallow_eval.data import DataFile, DataRoot
from swallow_eval.errors import UserError
from swallow_eval.task import JP_HARNESS, BuildContext, Column, GenerationSettings, Item, Task

SEED = 42
MAX_LENGTH = 4096  # models/huggingface.py caps max_position_embeddings at 4096 (every card model has >= 4096)
MAX_GEN_TOKS = 256
# greedy_until ignores the per-request token limit and stops at the task's strings or EOS.
GENERATION = GenerationSettings(max_new_tokens=MAX_GEN_TOKS, stop=("\n",), max_prompt_tokens=MAX_LENGTH - MAX_GEN_TOKS)

Doc = dict  # documents are compared with `==` when the pool is the test set itself, as in the reference


@dataclass(frozen=True)
class Template:
    """A task's prompt attributes: doc_to_text, doc_to_target, DESCRIPTION, SEP, FEWSHOT_SEP."""

    doc_to_text: Callable[[Doc], str]
    doc_to_target: Callable[[Doc], str]
    description: str = ""
    sep: str | None = None
    fewshot_sep: str | None = None

    @property
    def separator(self) -> str:
        """FEWSHOT_SEP if the task sets it, else SEP + SEP if it sets SEP, else "\\n\\n"."""
        if self.fewshot_sep is not None:
            return self.fewshot_sep
        return self.sep + self.sep if self.sep is not None else "\n\n"

    def context(self, doc: Doc, shots: list[Doc], k: int) -> str:
        if k == 0:
            return self.description + self.doc_to_text(doc)
        labeled = self.separator.join(self.doc_to_text(s) + self.doc_to_target(s) for s in shots)
        return self.description + labeled + self.separator + self.doc_to_text(doc)


class Sampler:
    """The task's one generator: it shuffles the test documents, then draws few-shots doc by doc."""

    def __init__(self, test: list[Doc], train: list[Doc] | None = None):
        self.test, self.train = list(test), None if train is None else list(train)
        self.rnd = random.Random(SEED)
        self.order = list(range(len(self.test)))  # shuffling indices permutes exactly as shuffling the docs
        self.rnd.shuffle(self.order)

    def shots(self, doc: Doc, k: int) -> list[Doc]:
        if k == 0:
            return []
        if self.train is not None:
            return self.rnd.sample(self.train, k)
        drawn = self.rnd.sample(self.test, k + 1)  # the unshuffled test set is the pool
        return [shot for shot in drawn if shot != doc][:k]


def items(sampler: Sampler, prompt: Callable[[Doc], str], target: Callable[[Doc], Any]) -> list[Item]:
    """Items in evaluation order; `prompt` draws each document's few-shots from `sampler` as it goes."""
    return [
        Item(index=position, prompt=prompt(sampler.test[row]), target=target(sampler.test[row]), meta={"row": row})
        for position, row in enumerate(sampler.order)
    ]


def encode(tokenizer, text: str) -> list[int]:
    """Task-side token counts: `tokenizer.encode(text, add_special_tokens=False)` (tasks/ja/*.py `_tokenize`)."""
    return tokenizer.encode(text, add_special_tokens=False)


def task(*, name: str, files: tuple[DataFile, ...], build: Callable[[DataRoot, BuildContext], list[Item]],
         shots: int, metric: str, column: Column, description: str, extract: Callable[[str], Any] | None = None,
         no_sample_reason: str | None = None) -> Task:
    return Task(name=name, suite="ja", reference=JP_HARNESS, shots=shots, files=files, build=build,
                metrics=(metric,), column=column, generation=GENERATION, extract=extract,
                description=description, no_sample_reason=no_sample_reason)


# ---- WMT20 (lm_eval/tasks/translation.py GeneralTranslationTask with sacrebleu 1.5.0's test sets) -----

WMT20_TGZ = "http://data.statmt.org/wmt20/translation-task/test.tgz"
WMT20_MD5 = "3b1f777cfd2fb15ccf66e9bfdb2b1699"  # sacrebleu 1.5.0 dataset.py
OPUS = "https://raw.githubusercontent.com/Helsinki-NLP/OPUS-MT-testsets/ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180/testsets"
LANGUAGES = {"en": "English", "ja": "Japanese"}  # pycountry.languages.get(alpha_2=code).name


def wmt20_file(source: str, target: str, opus_sha256: dict[str, str]) -> DataFile:
    """statmt's test.tgz, or the OPUS-MT-testsets plain-text copies of the pair's two files."""
    pair = f"{source}-{target}"
    copies = tuple(
        DataFile(f"wmt20/newstest2020/{pair}/newstest2020.{lang}", f"{OPUS}/{pair}/newstest2020.{lang}",
                 opus_sha256[lang])
        for lang in (source, target)
    )
    return DataFile("wmt20/test.tgz", WMT20_TGZ, copies=copies)


def _sacrebleu_clean(line: str) -> str:
    """sacrebleu 1.5.0 `process_to_text._clean`, then the task's `rstrip()`: U+3000 becomes a space too."""
    return re.sub(r"\s+", " ", line.strip()).rstrip()


def _sgm_segments(tar: tarfile.TarFile, path, member: str) -> list[str]:
    """`<seg>` lines of one SGML file, extracted as sacrebleu 1.5.0 does."""
    names = {name.removeprefix("./"): name for name in tar.getnames()}
    if member not in names:
        raise UserError(f"{path}: no {member} in the archive")
    with tar.extractfile(names[member]) as raw:
        lines = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        return [_sacrebleu_clean(re.sub(r"<seg.*?>(.*)</seg>.*?", r"\1", line))
                for line in lines if line.startswith("<seg ")]


def _sgm_sides(path, source: str, target: str) -> list[list[str]]:
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    if md5 != WMT20_MD5:
        raise UserError(f"{path}: md5 {md5} is not that of the WMT20 test.tgz sacrebleu uses ({WMT20_MD5})")
    with tarfile.open(path) as tar:
        return [_sgm_segments(tar, path, f"sgm/newstest2020-{source}{target}-{kind}.{lang}.sgm")
                for kind, lang in (("src", source), ("ref", target))]


def _plain_lines(path) -> list[str]:
    """One segment per line, split on LF only (sacrebleu opens its files with newline="\\n")."""
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    return [_sacrebleu_clean(line) for line in text.removesuffix("\n").split("\n")]


def wmt20_docs(data: DataRoot, file: DataFile, source: str, target: str) -> list[Doc]:
    """`{"src", "ref"}` documents in file order, from test.tgz or else from the plain-text copies."""
    found = data.present(file)
    if found == (file,):
        sides = _sgm_sides(data.path(file), source, target)
    else:
        sides = [_plain_lines(data.path(copy)) for copy in found or (file,)]  # data.path names what is missing
    if len(sides[0]) != len(sides[1]):
        raise UserError(f"WMT20 {source}-{target}: {len(sides[0])} source but {len(sides[1])} reference segments")
    return [{"src": src, "ref": ref} for src, ref in zip(*sides)]


def translation_task(*, name: str, source: str, target: str, file: DataFile, metric: str, column: Column,
                     description: str, shots: int = 4) -> Task:
    """WMT20 `source`-`target`: few-shots drawn from the test set itself, prompt "<Lang> phrase: ..."."""
    template = Template(
        doc_to_text=lambda doc: f"{LANGUAGES[source]} phrase: " + doc["src"] + f"\n{LANGUAGES[target]} phrase:",
        doc_to_target=lambda doc: " " + doc["ref"],
    )

    def build(data: DataRoot, context: BuildContext) -> list[Item]:
        sampler = Sampler(wmt20_docs(data, file, source, target))
        return items(sampler, lambda doc: template.context(doc, sampler.shots(doc, shots), shots), lambda d: d["ref"])

    return task(
        name=name, files=(file,), build=build, shots=shots, metric=metric, column=column, description=description,
        no_sample_reason="WMT20 test data: the WMT terms of use do not allow redistributing it",
    )
