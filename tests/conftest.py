"""Shared fixtures: the real benchmark files (../shared/data) and the real proxy model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The real benchmark files: $SWALLOW_EVAL_TEST_DATA, else the shared folder beside the checkout.
_CANDIDATES = [os.environ.get("SWALLOW_EVAL_TEST_DATA"), REPO.parent / "shared" / "data", "/work/shared/data"]
SHARED_DATA = next((Path(c) for c in _CANDIDATES if c and (Path(c) / "README.md").is_file()), Path(str(_CANDIDATES[1])))
FIXTURES = Path(__file__).parent / "fixtures"


_validated: set[tuple[str, float]] = set()


@pytest.fixture(autouse=True)
def _results_match_the_schema(tmp_path_factory):
    """Every results.json (and its samples files) a test writes is checked against the shipped JSON Schemas.

    Hand-written first-release files (no `schema_version`) and refusal tests (another version) are left out.
    """
    yield
    import jsonschema

    from swallow_eval.schema import SCHEMA_VERSION, json_schema

    for folder, _, names in os.walk(tmp_path_factory.getbasetemp()):
        if "results.json" not in names:
            continue
        path = Path(folder) / "results.json"
        key = (str(path), path.stat().st_mtime)
        if key in _validated:
            continue
        _validated.add(key)
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("schema_version") != SCHEMA_VERSION:
            continue
        jsonschema.validate(payload, json_schema("results"), cls=jsonschema.Draft202012Validator)
        sample_schema = json_schema("sample")
        for samples in sorted((path.parent / "samples").glob("*.jsonl")):
            for line in samples.read_text(encoding="utf-8").splitlines():
                jsonschema.validate(json.loads(line), sample_schema, cls=jsonschema.Draft202012Validator)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").is_file():
        pytest.fail(f"the real benchmark files are needed at {SHARED_DATA} (set SWALLOW_EVAL_TEST_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def proxy_model():
    """The converted Gemma 3 270M checkpoint (converted once into the user cache)."""
    from swallow_eval import models

    return models.resolve("proxy:gemma3-270m")


@pytest.fixture(scope="session")
def proxy_tokenizer(proxy_model):
    """The proxy model's tokenizer alone (tasks and metrics that count or compare its tokens)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(proxy_model.path)


@pytest.fixture(scope="session")
def hf_backend(proxy_model):
    from swallow_eval.backends.hf import HFBackend

    backend = HFBackend(proxy_model, batch_size=4)
    yield backend
    backend.close()


def cli(*args: str, env: dict | None = None, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `swallow-eval ARGS` in a subprocess, as a user would."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    result = subprocess.run([sys.executable, "-m", "swallow_eval", *args], capture_output=True, text=True,
                            env=full_env, cwd=cwd or REPO)
    if check and result.returncode != 0:
        raise AssertionError(f"swallow-eval {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def run_api(output_dir: Path, **options):
    """`swallow-eval run --model proxy:gemma3-270m --no-cache --no-progress` in-process, through
    `swallow_eval.evaluate` (for tests that need the pipeline, not the command line's contract)."""
    from swallow_eval import RunConfig, evaluate

    options = {"model": "proxy:gemma3-270m", "no_cache": True, "progress": False, **options}
    return evaluate(RunConfig(output_dir=output_dir, **options))


def best_choice(answers: dict, start: int, count: int) -> int:
    """The position of the highest log-likelihood among `count` answer options from `start` (first maximum)."""
    return max(range(start, start + count), key=lambda i: answers[i].logprob)


def wait_for_cached(cache: Path, process: subprocess.Popen, count: int, timeout: float, interval: float = 0.5) -> int:
    """Responses in the cache file of a running `process`, polled until there are `count` (answers are
    arriving: time to interrupt or kill it), the process ends or `timeout` seconds pass."""
    import sqlite3
    import time

    done, deadline = 0, time.time() + timeout
    while done < count and process.poll() is None and time.time() < deadline:
        time.sleep(interval)
        if cache.exists():
            with sqlite3.connect(cache) as db:
                try:
                    done = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
                except sqlite3.OperationalError:  # the schema is not written yet
                    pass
    return done


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def jsquad_data(shared_data, tmp_path_factory) -> Path:
    """A data dir: shared/data plus JSQuAD's train file, which only exists as a hand-written fixture."""
    root = tmp_path_factory.mktemp("data")
    for entry in shared_data.iterdir():
        if entry.name != "jsquad":
            (root / entry.name).symlink_to(entry)
    (root / "jsquad").mkdir()
    (root / "jsquad" / "valid-v1.1.json").symlink_to(shared_data / "jsquad" / "valid-v1.1.json")
    (root / "jsquad" / "train-v1.1.json").symlink_to(FIXTURES / "jsquad" / "train-v1.1.json")
    return root


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ray_node_args() -> dict:
    """One Ray test node: one CPU and one `eval_slot`, its files in the module's Ray session folder."""
    return {"num_cpus": 1, "resources": {"eval_slot": 1}, "include_dashboard": False,
            "temp_dir": f"{os.environ['RAY_TMPDIR']}/ray"}


@pytest.fixture(scope="module")
def ray_cluster():
    """Ray's own multi-node test cluster on this machine: a head and one worker node (one raylet
    each), started for the module on free ports, its session files under a fresh /tmp folder; each
    replica asking for one `eval_slot` lands on its own node. The test process is a driver of it."""
    import shutil
    import tempfile

    import ray
    from ray.cluster_utils import Cluster

    session = tempfile.mkdtemp(prefix="se-ray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    os.environ["RAY_TMPDIR"] = session  # Ray's files (and its current-cluster note) stay out of /tmp/ray
    cluster = Cluster(initialize_head=True, head_node_args={**ray_node_args(), "gcs_server_port": _free_port()})
    cluster.add_node(**ray_node_args())
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()
    del os.environ["RAY_TMPDIR"]
    shutil.rmtree(session, ignore_errors=True)
