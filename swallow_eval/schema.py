"""The results contract: the shape of results.json and of a samples line, read and written by everyone.

The writer (results.py), `report`, `compare` and the Python API go through these types and through
`load_results`, which refuses a version it does not know. JSON Schemas of both files ship beside this
module (schemas/*.schema.json) for other tools. Files of the first release carry
`"swallow_eval_results": 1` instead of `schema_version`: they are version 1.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict

from swallow_eval.errors import UserError

SCHEMA_VERSION = 1


class MetricEntry(TypedDict, total=False):
    value: float | None  # null: a score over no valid items
    scale: float  # 100 for percentages; the card divides by it
    details: dict[str, Any]


class CardEntry(TypedDict):
    column: str
    label: str
    metric: str
    value: float | None


class DataEntry(TypedDict):
    source: str
    root: str
    files: dict[str, str]  # path -> sha256


class _TaskFields(TypedDict):
    version: str
    reference: str
    shots: int
    n: int
    data: DataEntry
    add_bos: bool
    prompt_hash: str
    metrics: dict[str, MetricEntry]
    subtasks: dict[str, dict[str, float | None]]
    groups: dict[str, dict[str, float | None]]
    card: CardEntry
    tokens: dict[str, int]


class TaskEntry(_TaskFields, total=False):
    prompt_tokens: dict[str, int]  # hf: {"requested", "computed"} (prefix sharing)


class ModelEntry(TypedDict):
    spec: str
    name: str
    identity: str
    model_type: str
    tokenizer_adds_bos: bool


class RequestCounts(TypedDict):
    total: int
    distinct: int
    cached: int
    computed: int


class ResultsFile(TypedDict, total=False):
    schema_version: int
    run_id: str
    created: str
    model: ModelEntry
    backend: dict[str, Any]  # the backend's identity (cache-key settings)
    config: dict[str, Any]
    versions: dict[str, str]
    tasks: dict[str, TaskEntry]
    skipped: dict[str, str]  # task -> why it did not run
    card: dict[str, float | None]
    requests: RequestCounts
    tokens: dict[str, int]
    timings: dict[str, float]
    serving: dict[str, Any]  # what the backend reports about serving (replicas, ...), when it reports


class SampleRecord(TypedDict, total=False):
    """One line of samples/<task>.jsonl: an evaluated item, its responses and its scores."""

    index: int
    subtask: str
    prompt_hash: str
    prompt: str
    messages: list[list[str]]
    requests: list[list[str]]  # (context, continuation) per answer option
    target: Any
    outputs: list[str]
    loglikelihoods: list[float]
    greedy: list[bool]
    prediction: Any
    metrics: dict[str, float | None]


def schema_version(payload: dict) -> Any:
    """The contract version a results payload declares (first-release files: 1)."""
    return payload.get("schema_version", payload.get("swallow_eval_results", 1))


def load_results(path: Path) -> ResultsFile:
    """A results.json of a version this release reads; anything else is a UserError naming the file."""
    from swallow_eval.data import read_json

    payload = read_json(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("tasks"), dict) or "model" not in payload:
        raise UserError(f"{path}: not a swallow-eval results.json (needs 'model' and 'tasks')")
    version = schema_version(payload)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(f"{path}: unknown schema_version {json.dumps(version)}")
    if version > SCHEMA_VERSION:
        raise UserError(f"{path}: schema_version {version} is newer than this swallow-eval reads "
                        f"({SCHEMA_VERSION}); upgrade swallow-eval")
    return payload


def json_schema(name: str) -> dict:
    """The shipped JSON Schema "results" (results.json) or "sample" (one samples line)."""
    text = resources.files("swallow_eval").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
