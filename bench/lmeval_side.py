"""The lm-evaluation-harness half of bench/lmeval_crosscheck.py; runs inside /work/venv-lmeval.

    python lmeval_side.py prompts TASK_DIR OUT.json NAME=SHOTS...   every request, built without a model
    python lmeval_side.py evaluate LM_EVAL_ARGS...                   the `lm_eval` command line

Never imported by swallow_eval: lm-eval pins its own stack.
"""

import json
import sys
from collections import defaultdict


def work_offline() -> None:
    """lm-eval 0.4.2 loads HF evaluate's `exact_match` from the Hub at import (api/metrics.py L168),
    which fails offline. Multiple-choice tasks never call it; the stand-in refuses any use."""
    import evaluate

    class Unavailable:
        def __init__(self, name):
            self.name = name

        def compute(self, *args, **kwargs):
            raise RuntimeError(f"HF evaluate metric {self.name!r} is not available offline")

    evaluate.load = lambda name, *args, **kwargs: Unavailable(name)


def leaf_tasks(task_dict: dict):
    for name, value in task_dict.items():
        if isinstance(value, dict):
            yield from leaf_tasks(value)
        elif isinstance(value, tuple):  # (group, task) pairs in some 0.4.x versions
            yield from leaf_tasks({name: value[1]})
        elif value is not None:
            yield name, value


def dump_prompts(task_dir: str, out: str, specs: list[str]) -> None:
    from lm_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=task_dir)
    dumped = {}
    for spec in specs:
        name, shots = spec.split("=")
        for task_name, task in leaf_tasks(get_task_dict([name], manager)):
            task.set_config(key="num_fewshot", value=int(shots))
            task.build_all_requests(rank=0, world_size=1)
            by_doc = defaultdict(list)
            for instance in task.instances:
                by_doc[instance.doc_id].append((instance.idx, list(instance.args)))
            docs = list(task.eval_docs)
            dumped[task_name] = [
                {
                    "doc_id": doc_id,
                    "requests": [args for _, args in sorted(requests)],
                    "gold": task.doc_to_text(docs[doc_id]) if task.multiple_input else task.doc_to_target(docs[doc_id]),
                }
                for doc_id, requests in sorted(by_doc.items())
            ]
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(dumped, handle, ensure_ascii=False)


def main() -> None:
    work_offline()
    command, *args = sys.argv[1:]
    if command == "prompts":
        dump_prompts(args[0], args[1], args[2:])
    elif command == "evaluate":
        from lm_eval.__main__ import cli_evaluate

        sys.argv = ["lm_eval", *args]
        cli_evaluate()
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
