"""Cross-check the English log-likelihood tasks against lm-evaluation-harness 0.4.2 itself.

    /work/venv/bin/python bench/lmeval_crosscheck.py [--data-dir ../shared/data] [--prompts] [--loglikelihoods]

Both sides read the same documents: the shared benchmark files converted to the HF datasets the
reference loads, by re-implementations of those datasets' own loading scripts (below), so that the
loaders of the task files are checked too. lm-eval then runs its own task yamls (included by path,
only the dataset location overridden) from /work/venv-lmeval through bench/lmeval_side.py.

--prompts          every request (context, continuation) and gold index of openbookqa, xwinograd_en,
                   mmlu (real data) and hellaswag (test fixtures), built by both, compared exactly.
--loglikelihoods   the proxy model in fp32 on the first --xwino XWINO items and the first --mmlu
                   items of each MMLU subject: per-request log-likelihoods and per-item decisions.
lm-eval runs with batch size 1: with a 262k vocabulary it computes full logits (notes/cpu-stack.md).

The lm-eval side needs its own venv (lm-eval pins its own stack; the package never imports it):
    python3 -m venv /work/venv-lmeval
    /work/venv-lmeval/bin/pip install torch==2.13.0 transformers==5.19.0 lm-eval==0.4.2
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from swallow_eval import models  # noqa: E402
from swallow_eval.pipeline import prepare  # noqa: E402
from swallow_eval.task import BuildContext, load_registry  # noqa: E402

TASKS = {"openbookqa": 4, "hellaswag": 4, "xwinograd_en": 4, "mmlu": 5}


# ---- the HF datasets the reference loads, rebuilt from the original files -------------------------


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def openbookqa_rows(path: Path) -> list[dict]:
    """allenai/openbookqa `_generate_examples` (main): one row per line of Data/Main/<split>.jsonl."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        rows.append({
            "id": data["id"],
            "question_stem": data["question"]["stem"],
            "choices": {"text": [c["text"] for c in data["question"]["choices"]],
                        "label": [c["label"] for c in data["question"]["choices"]]},
            "answerKey": data["answerKey"],
        })
    return rows


def xwinograd_rows(path: Path) -> list[dict]:
    """Muennighoff/xwinograd raw_data/convert_tsv.py `winogrande_format` over the en rows.

    The script draws the correct option's slot with an unseeded random.choice([1, 2]); the slot
    here is the candidate's position in the row, as in tasks/xwinograd_en.py.
    """
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        for lang, _, _, sent, toks, pronoun, solution in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if lang != "en":
                continue
            position_idx = json.loads(pronoun)[1][0]
            rest, start_idx = sent, 0
            for i, tok in enumerate(json.loads(toks)):
                cur_start_idx = rest.find(tok)
                if i == position_idx:
                    break
                rest = rest[cur_start_idx + len(tok):]
                start_idx += cur_start_idx + len(tok)
            sentence = sent[:start_idx] + sent[start_idx:start_idx + len(tok) + 1].replace(tok, "_") + sent[start_idx + len(tok) + 1:]
            sol = json.loads(solution)
            cor_answer_idx = 1 if sol[0][-1] is True else 2
            rows.append({"sentence": sentence, "option1": sol[0][0], "option2": sol[1][0], "answer": str(cor_answer_idx)})
    return rows


def mmlu_rows(path: Path, subject: str) -> list[dict]:
    """cais/mmlu (hails/mmlu_no_train) `_generate_examples`: csv.reader over the file's lines."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [{"question": d[0], "subject": subject, "choices": d[1:5], "answer": "ABCD".index(d[5])}
                for d in csv.reader(handle)]


def hellaswag_rows(path: Path) -> list[dict]:
    """hellaswag `_generate_examples`: the label becomes a string."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        rows.append({key: data[key] for key in ("ind", "activity_label", "ctx_a", "ctx_b", "ctx")}
                    | {"endings": data["endings"], "source_id": data["source_id"], "split": data["split"],
                       "split_type": data["split_type"], "label": str(data["label"])})
    return rows


def write_tasks(data_dir: Path, hellaswag_dir: Path, work: Path, lmeval_tasks: Path) -> Path:
    """Local task yamls: the reference yaml included by path, with the data files swapped in."""
    docs, tasks = work / "hf", work / "tasks"
    tasks.mkdir(parents=True, exist_ok=True)

    def task(name: str, include: str, data_files: dict, **extra) -> None:
        config = {"include": str(lmeval_tasks / include), "task": name, "dataset_path": "json",
                  "dataset_name": None, "dataset_kwargs": {"data_files": data_files}, **extra}
        (tasks / f"{name}.yaml").write_text(json.dumps(config, indent=1), encoding="utf-8")

    task("xcheck_openbookqa", "openbookqa/openbookqa.yaml", {
        split: write_jsonl(docs / f"openbookqa_{split}.jsonl", openbookqa_rows(data_dir / "openbookqa" / f"{split}.jsonl"))
        for split in ("train", "test")}, validation_split=None)
    task("xcheck_hellaswag", "hellaswag/hellaswag.yaml", {
        split: write_jsonl(docs / f"hellaswag_{split}.jsonl", hellaswag_rows(hellaswag_dir / f"hellaswag_{short}.jsonl"))
        for split, short in (("train", "train"), ("validation", "val"))})
    task("xcheck_xwinograd_en", "xwinograd/xwinograd_common_yaml", {
        "test": write_jsonl(docs / "xwinograd_en.jsonl", xwinograd_rows(data_dir / "xwinograd" / "dataset.tsv"))})
    for subject in mmlu_subjects():
        task(f"xcheck_mmlu_{subject}", f"mmlu/default/mmlu_{subject}.yaml", {
            split: write_jsonl(docs / f"mmlu_{subject}_{split}.jsonl",
                               mmlu_rows(data_dir / "mmlu" / split / f"{subject}_{split}.csv", subject))
            for split in ("dev", "test")}, group="xcheck_mmlu")
    return tasks


def mmlu_subjects() -> list[str]:
    return sorted(s for members in load_registry()["mmlu"].groups.values() for s in members)


# ---- the two sides --------------------------------------------------------------------------------


def lmeval_tasks_dir(python: str) -> Path:
    """Where lm_eval's task yamls are, found without importing lm_eval (that needs the Hub)."""
    code = "import importlib.util; print(importlib.util.find_spec('lm_eval').submodule_search_locations[0])"
    return Path(subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.strip()) / "tasks"


def run_lmeval(python: str, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([python, str(REPO / "bench" / "lmeval_side.py"), *args], check=True)
    return time.perf_counter() - started


def lmeval_name(task: str, subtask: str | None) -> str:
    return f"xcheck_{task}" if subtask is None else f"xcheck_{task}_{subtask}"


def lmeval_keyed(task: str, entries: list, item_of=lambda entry: entry) -> dict[tuple[str, int], object]:
    """Entries (in evaluation order) keyed like lm-eval's samples: (lm-eval task name, doc_id in it)."""
    keyed, seen = {}, {}
    for entry in entries:
        name = lmeval_name(task, item_of(entry).subtask)
        keyed[(name, seen.get(name, 0))] = entry
        seen[name] = seen.get(name, 0) + 1
    return keyed


def swallow_items(task: str, data_dir: Path) -> dict[tuple[str, int], object]:
    return lmeval_keyed(task, prepare(load_registry()[task], data_dir, None, BuildContext()).items)


def check_prompts(python: str, data_dir: Path, hellaswag_dir: Path, work: Path, tasks_dir: Path,
                  tasks: list[str]) -> None:
    out = work / "lmeval_prompts.json"
    seconds = run_lmeval(python, "prompts", str(tasks_dir), str(out), *(f"xcheck_{t}={TASKS[t]}" for t in tasks))
    theirs = json.loads(out.read_text(encoding="utf-8"))
    print(f"lm-eval built the requests of {sum(map(len, theirs.values()))} items in {seconds:.0f} s")
    for task in tasks:
        ours = swallow_items(task, hellaswag_dir.parent if task == "hellaswag" else data_dir)
        compared = same_requests = same_gold = 0
        first_difference = None
        for name, rows in theirs.items():
            if not (name == f"xcheck_{task}" or name.startswith(f"xcheck_{task}_")):
                continue
            for row in rows:
                item = ours[(name, row["doc_id"])]
                compared += 1
                requests_equal = [list(pair) for pair in item.choices] == row["requests"]
                same_requests += requests_equal
                same_gold += item.target == row["gold"]
                if first_difference is None and not (requests_equal and item.target == row["gold"]):
                    first_difference = (name, row["doc_id"], row, item.prompt_row())
        print(f"{task:13s} items {compared:6d} of {len(ours):6d}  identical requests {same_requests:6d}  "
              f"identical gold {same_gold:6d}")
        if first_difference:
            print("  first difference:", json.dumps(first_difference, ensure_ascii=False)[:2000])


def swallow_run(task: str, data_dir: Path, limit: int, subtasks: set[str] | None):
    """The items and responses of swallow-eval's own pipeline and hf backend (fp32 on CPU)."""
    from swallow_eval.backends.hf import HFBackend
    from swallow_eval.pipeline import execute
    from swallow_eval.scoring import predict
    from swallow_eval.task import bos_policy

    prepared = prepare(load_registry()[task], data_dir, limit, BuildContext())
    prepared.items = [item for item in prepared.items if subtasks is None or item.subtask in subtasks]
    backend = HFBackend(models.resolve("proxy:gemma3-270m"))
    info = backend.info
    prepared.add_bos = bos_policy(prepared.task.reference, info.path, info.model_type, info.tokenizer_adds_bos)
    responses, _ = execute([prepared], backend, None, show_progress=False, log=lambda message: None)
    backend.close()
    return {item.index: (item, responses[(task, item.index)].loglikelihoods,
                         predict(prepared.task, item, responses[(task, item.index)])) for item in prepared.items}


def check_loglikelihoods(python: str, data_dir: Path, work: Path, tasks_dir: Path, xwino: int, mmlu: int,
                         mmlu_subjects: list[str]) -> None:
    model_dir = models.resolve("proxy:gemma3-270m").path
    for task, limit in (("xwinograd_en", xwino), ("mmlu", mmlu)):
        if not limit:
            continue
        names = [f"xcheck_mmlu_{s}" for s in mmlu_subjects] if task == "mmlu" else [f"xcheck_{task}"]
        out = work / f"lmeval_{task}"
        seconds = run_lmeval(
            python, "evaluate", "--model", "hf", "--device", "cpu", "--batch_size", "1",
            # The Swallow fork forces BOS for model types containing "gemma"; upstream 0.4.2 only
            # for "gemma" itself, and the proxy is "gemma3_text".
            "--model_args", f"pretrained={model_dir},dtype=float32,add_bos_token=True",
            "--tasks", ",".join(names), "--num_fewshot", str(TASKS[task]), "--limit", str(limit),
            "--include_path", str(tasks_dir), "--log_samples", "--output_path", str(out),
        )
        lmeval_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        started = time.perf_counter()
        ours = swallow_run(task, data_dir, limit, set(mmlu_subjects) if task == "mmlu" else None)
        ours_seconds = time.perf_counter() - started
        by_lmeval_key = lmeval_keyed(task, [ours[index] for index in sorted(ours)], lambda entry: entry[0])
        diffs, same_decision, n_items, their_correct, our_correct, same_args = [], 0, 0, 0, 0, 0
        for path in sorted(out.rglob("*.jsonl")):  # <model_args>_<task>.jsonl (lm_eval/__main__.py)
            lm_task = "xcheck_" + path.stem.split("_xcheck_")[-1]
            for row in json.loads(path.read_text(encoding="utf-8")):
                item, mine, my_pick = by_lmeval_key[(lm_task, row["doc_id"])]
                theirs = [resp[0][0] for resp in row["resps"]]
                diffs += [abs(a - b) for a, b in zip(theirs, mine, strict=True)]
                their_pick = max(range(len(theirs)), key=theirs.__getitem__)
                same_decision += their_pick == my_pick
                their_correct += their_pick == item.target
                our_correct += my_pick == item.target
                same_args += [list(a) for a in row["arguments"]] == [list(pair) for pair in item.choices]
                n_items += 1
        print(f"{task:13s} items {n_items:4d}  requests {len(diffs):4d}  identical requests {same_args}/{n_items}  "
              f"max |Δ loglik| {max(diffs):.2e}  mean {sum(diffs) / len(diffs):.2e}  identical decisions "
              f"{same_decision}/{n_items}  acc lm-eval {their_correct / n_items:.4f} swallow-eval "
              f"{our_correct / n_items:.4f}  time lm-eval {seconds:.0f} s (peak RSS {lmeval_rss:.1f} GiB) "
              f"swallow-eval {ours_seconds:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--hellaswag-dir", type=Path, default=REPO / "tests" / "fixtures" / "hellaswag")
    parser.add_argument("--lmeval-python", default="/work/venv-lmeval/bin/python")
    parser.add_argument("--tasks", default=",".join(TASKS), help="tasks for --prompts")
    parser.add_argument("--prompts", action="store_true")
    parser.add_argument("--loglikelihoods", action="store_true")
    parser.add_argument("--xwino", type=int, default=100, help="XWINO items for --loglikelihoods (0: skip)")
    parser.add_argument("--mmlu", type=int, default=2, help="items per MMLU subject for --loglikelihoods (0: skip)")
    parser.add_argument("--mmlu-subjects", default="", help="comma-separated subjects (default: all 57)")
    parser.add_argument("--workdir", type=Path, help="keep the converted data, yamls and outputs here")
    args = parser.parse_args()
    if not (args.prompts or args.loglikelihoods):
        args.prompts = args.loglikelihoods = True
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        tasks_dir = write_tasks(args.data_dir, args.hellaswag_dir, work, lmeval_tasks_dir(args.lmeval_python))
        if args.prompts:
            check_prompts(args.lmeval_python, args.data_dir, args.hellaswag_dir, work, tasks_dir,
                          args.tasks.split(","))
        if args.loglikelihoods:
            subjects = args.mmlu_subjects.split(",") if args.mmlu_subjects else mmlu_subjects()
            check_loglikelihoods(args.lmeval_python, args.data_dir, work, tasks_dir, args.xwino, args.mmlu, subjects)


if __name__ == "__main__":
    main()
