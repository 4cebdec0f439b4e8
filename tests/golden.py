"""Golden prompts: the first and last items written out in full, and a hash over all of them."""

import hashlib
import json

from swallow_eval.pipeline import prepare
from swallow_eval.task import BuildContext, load_registry


def prompt_rows(task_name: str, data_dir, tokenizer=None) -> list[dict]:
    """Rows exactly as `swallow-eval prompts` prints them."""
    items = prepare(load_registry()[task_name], data_dir, None, BuildContext(tokenizer=tokenizer)).items
    return [item.prompt_row() for item in items]


def digest(rows: list[dict]) -> str:
    blob = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
