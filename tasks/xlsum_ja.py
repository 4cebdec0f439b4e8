"""XL-Sum (ja), 1-shot summarisation, ROUGE-2 — JP harness lm_eval/tasks/ja/xlsum_ja.py (ja-tasks.md §5).

Data: HF `mkshing/xlsum_ja` (the PaLM-2-filtered Japanese XL-Sum: train 4,215 / test 766), whose
published files are data/{train,test}.csv; the reference's `load_dataset` reads those same CSVs.
A context over 4096 - (gold summary tokens + 10) tokens of the evaluated model is cut to whole
sentences per article, so prompts need the model's tokenizer.
"""

from swallow_eval.data import DataFile, DataRoot, read_csv, row_errors
from swallow_eval.errors import UserError
from swallow_eval.families import jpharness
from swallow_eval.task import BuildContext, Column, Item

REVISION = "62c56e7d898c93e8d94390abc80660eed64ea39a"  # last change of data/ (2023-06-20), main since
URL = f"https://huggingface.co/datasets/mkshing/xlsum_ja/resolve/{REVISION}/data"
TRAIN = DataFile("xlsum_ja/train.csv", f"{URL}/train.csv")
TEST = DataFile("xlsum_ja/test.csv", f"{URL}/test.csv")
ARTICLE, SUMMARY, SEP = "ニュース記事:", "要約:", "\n"
TEMPLATE = jpharness.Template(
    doc_to_text=lambda doc: f"{ARTICLE}{doc['text']}\n{SUMMARY}",
    doc_to_target=lambda doc: doc["summary"],
    description="与えられたニュース記事を要約してください。\n\n",
    sep=SEP,
)


def read(data: DataRoot, file: DataFile) -> list[dict]:
    path = data.path(file)
    rows = read_csv(path)
    if not rows:
        raise UserError(f"{path}: empty file")
    header = rows[0][1]
    docs = []
    for line, row in rows[1:]:
        with row_errors(path, line):
            record = dict(zip(header, row, strict=True))
            docs.append({"text": record["text"], "summary": record["summary"]})
    return docs


def truncate(ctx: str, max_length: int, tokenizer) -> str:
    """`XLSumJa.preprocess_ctx`: over `max_length` tokens, each article keeps the sentences that fit
    in max_length // 2 tokens, the last kept one closed with "。\\n"."""
    encode = lambda text: jpharness.encode(tokenizer, text)  # noqa: E731
    if len(encode(ctx)) <= max_length:
        return ctx
    pieces = [ARTICLE + piece for piece in ctx.split(ARTICLE)]
    description = ""
    if SUMMARY not in pieces[0]:
        description, pieces = pieces[0].replace(ARTICLE, ""), pieces[1:]
    per_piece = max_length // len(pieces)
    result = description
    for piece in pieces:
        if piece.count(SUMMARY) != 1:  # the reference's `text, summary = c.split("要約:")` fails too
            raise UserError(f"xlsum_ja: an article or summary contains {SUMMARY!r}; the reference cannot cut it")
        text, summary = piece.split(SUMMARY)
        kept: list[str] = []
        for sentence in text.split("。"):
            if len(encode("。".join(kept + [sentence]))) > per_piece:
                if kept:
                    kept[-1] += "。" + SEP
                else:
                    kept.append(tokenizer.decode(encode(sentence)[:per_piece], skip_special_tokens=True) + SEP)
                break
            kept.append(sentence)
        result += "。".join(kept) + SUMMARY + summary
    return result


def build(data: DataRoot, context: BuildContext) -> list[Item]:
    tokenizer = context.tokenizer
    if tokenizer is None:
        raise UserError("xlsum_ja: prompts are cut to the evaluated model's context in its tokens; "
                        "pass --tokenizer MODEL")
    sampler = jpharness.Sampler(read(data, TEST), read(data, TRAIN))

    def prompt(doc: dict) -> str:
        # construct_requests: budget = max_length - (gold summary tokens + 10), DYNAMIC_MAX_LENGTH's default.
        budget = jpharness.MAX_LENGTH - (len(jpharness.encode(tokenizer, doc["summary"])) + 10)
        return truncate(TEMPLATE.context(doc, sampler.shots(doc, 1), 1), budget, tokenizer)

    return jpharness.items(sampler, prompt, target=lambda doc: doc["summary"])


TASK = jpharness.task(
    name="xlsum_ja",
    files=(TRAIN, TEST),
    build=build,
    shots=1,
    metric="rouge2_ja",
    column=Column("xlsum", "XL-Sum", "rouge2_ja", "ROUGE-2", divisor=100),
    description="mkshing/xlsum_ja test (766 articles), 1 train article per item, first line of the summary.",
    no_sample_reason="XL-Sum is CC BY-NC-SA 4.0 and not in the shared data; "
                     "`swallow-eval data download --tasks xlsum_ja` fetches it",
)
