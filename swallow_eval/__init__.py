"""swallow-eval: the Swallow model card's benchmarks in one harness.

The Python API (what `swallow-eval` runs underneath)::

    import swallow_eval as se

    result = se.evaluate(se.RunConfig(model="proxy:gemma3-270m", tasks="jcommonsenseqa", limit=10))
    result.tasks["jcommonsenseqa"].card_value, result.tasks["jcommonsenseqa"].stderr
    for task, sample in result.samples(): ...

- `evaluate(RunConfig) -> RunResult`: one run, writing results/<model>/<run-id>/ like `swallow-eval run`.
- `RunResult.load(folder)`: a run written earlier.
- `score_predictions_file`, `apply_metric`: `swallow-eval score` and `metric` without a model.
- `build_report`, `compare_runs`: `swallow-eval report` and `compare`.
- `load_results`, `SCHEMA_VERSION`, `ResultsFile`, `SampleRecord`: the results contract.
- `UserError`: what bad input raises (the CLI prints it as `error: ...`, exit code 2).

Names are imported on first use, so `import swallow_eval` stays cheap.
"""

from __future__ import annotations

import importlib

import os

# MKL's strict reproducibility mode: fp32 matrix products give the same bits whatever the number of
# threads (without it, an hf replica on 1 of 2 cores differs from a 2-thread run in the 6th digit).
# Read by MKL at its first call, so setting it here, before any model runs, is enough.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

__version__ = "0.1.0"

_EXPORTS = {
    "evaluate": "swallow_eval.runner",
    "RunConfig": "swallow_eval.runner",
    "BackendOptions": "swallow_eval.runner",
    "RunResult": "swallow_eval.run_result",
    "TaskOutcome": "swallow_eval.run_result",
    "RequestStats": "swallow_eval.run_result",
    "score_predictions_file": "swallow_eval.rescore",
    "apply_metric": "swallow_eval.rescore",
    "build_report": "swallow_eval.report",
    "compare_runs": "swallow_eval.compare",
    "load_results": "swallow_eval.schema",
    "SCHEMA_VERSION": "swallow_eval.schema",
    "ResultsFile": "swallow_eval.schema",
    "SampleRecord": "swallow_eval.schema",
    "UserError": "swallow_eval.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'swallow_eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
