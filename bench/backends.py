"""P1: swallow-eval against lm-evaluation-harness on the same items, prompts, model and machine.

Usage (from the repository root; `make bench-backends` builds lm-eval's venv and runs the default):
  python bench/backends.py --data-dir ../shared/data --lmeval-python .venv-lmeval/bin/python \
      [--vllm-python .venv-vllm/bin/python] [--mmlu-per-subject 4 --jcqa 100 --gsm8k 30 --xwino 0] [--rounds 2]

The default is the P1 workload: the first 4 MMLU test items of each of the 57 subjects (5-shot,
first_n dev; 912 log-likelihood requests), the first 100 JCommonsenseQA items (swallow-eval's
llm-jp-eval prompts, 1 new token) and the first 30 GSM8K items (4-shot, Random(1234) over train,
up to 256 new tokens), optionally XWINO; prompts follow en-tasks.md §2.5-2.7. They are written as a
swallow-eval --tasks-dir and an lm-eval --include_path that read the same JSONL (so the prompt bytes
are identical). Three command lines run alternately, each in a fresh process: lm-eval's hf model,
swallow-eval's hf backend as it was before prefix sharing and head screening
(--no-prefix-sharing --no-head-screening) and as it is by default. Printed: wall time and peak RSS of the whole process tree (vLLM's engine processes
included), ratios, prompt tokens requested vs computed, whether every per-item decision (argmax
choice, generated text) is identical, swallow-eval's requests/s and tokens/s, the share of the wall
time its own code takes; then bench/decode_bound.py: greedy decode tokens/s beside the bound of the
model's matrix products measured on this machine in the same run.

The XWINO items are rebuilt from the original TSV here for timing only (the task file of the
xwinograd_en task is the reference for its exact prompts).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
MODEL = "proxy:gemma3-270m"
GSM8K_STOP = ["Question:", "</s>", "<|im_end|>"]
BEFORE = "swallow-eval hf (no sharing/screen)"  # --no-prefix-sharing --no-head-screening: the path before them


# ---- prompt sets (en-tasks.md §2.5-2.7) ----------------------------------------------------------


def xwino_docs(data: Path) -> list[dict]:
    """sentence with "_" for the pronoun, the two candidates, the 1-based answer (HF xwinograd `en`)."""
    docs = []
    for row in csv.reader(open(data / "xwinograd/dataset.tsv", encoding="utf-8"), delimiter="\t"):
        if row[0] != "en":
            continue
        sentence, tokens = row[3], json.loads(row[4])
        pronoun, (start, _), _ = json.loads(row[5])
        candidates = json.loads(row[6])
        occurrence = sum(1 for t in tokens[:start] if t.lower() == pronoun.lower())
        matches = list(re.finditer(rf"\b{re.escape(pronoun)}\b", sentence, flags=re.IGNORECASE))
        if len(candidates) != 2 or occurrence >= len(matches):
            continue
        at = matches[occurrence]
        docs.append({"sentence": sentence[: at.start()] + "_" + sentence[at.end():],
                     "option1": candidates[0][0], "option2": candidates[1][0],
                     "answer": 1 if candidates[0][3] else 2})
    return docs


def xwino_items(data: Path, count: int) -> list[dict]:
    docs = xwino_docs(data)
    rng = random.Random(1234)

    def parts(doc):
        i = doc["sentence"].index("_")
        return [doc["sentence"][:i] + doc["option1"], doc["sentence"][:i] + doc["option2"]], \
            doc["sentence"][i + 1:].strip()

    items = []
    for doc in docs[:count]:
        shots = [docs[k] for k in rng.sample(range(len(docs)), 4) if docs[k] != doc][:4]
        block = "".join(parts(s)[0][s["answer"] - 1] + " " + parts(s)[1] + "\n\n" for s in shots)
        options, target = parts(doc)
        items.append({"contexts": [block + o for o in options], "continuation": " " + target,
                      "gold": doc["answer"] - 1})
    return items


def mmlu_items(data: Path, per_subject: int, subjects: int | None = None) -> list[dict]:
    """The first `per_subject` test items of every subject (of the first `subjects` subjects)."""
    subjects = sorted(p.name.removesuffix("_test.csv") for p in (data / "mmlu/test").glob("*_test.csv"))[:subjects]
    rows = {s: list(csv.reader(open(data / f"mmlu/test/{s}_test.csv", encoding="utf-8"))) for s in subjects}

    def render(r):
        return f"{r[0].strip()}\nA. {r[1]}\nB. {r[2]}\nC. {r[3]}\nD. {r[4]}\nAnswer:"

    items = []
    for subject in subjects:
        dev = list(csv.reader(open(data / f"mmlu/dev/{subject}_dev.csv", encoding="utf-8")))[:5]
        head = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n"
        block = "".join(f"{render(r)} {r[5]}\n\n" for r in dev)
        for row in rows[subject][:per_subject]:
            items.append({"contexts": [head + block + render(row)] * 4, "continuations": [" A", " B", " C", " D"],
                          "gold": "ABCD".index(row[5])})
    return items


def gsm8k_items(data: Path, count: int) -> list[dict]:

    def read(name):
        return [json.loads(line) for line in open(data / f"gsm8k/{name}.jsonl", encoding="utf-8")]

    train, test = read("train"), read("test")
    rng = random.Random(1234)
    items = []
    for doc in test[:count]:
        shots = [train[k] for k in rng.sample(range(len(train)), 4)]
        block = "".join(f"Question: {s['question']}\nAnswer: {s['answer']}\n\n" for s in shots)
        items.append({"prompt": block + f"Question: {doc['question']}\nAnswer:", "answer": doc["answer"]})
    return items


def jcqa_items(data: Path, count: int) -> list[dict]:
    """swallow-eval's own llm-jp-eval prompts (4 shots from train, the same for every item)."""
    from swallow_eval.pipeline import prepare
    from swallow_eval.task import BuildContext, load_registry

    prepared = prepare(load_registry()["jcommonsenseqa"], data, count, BuildContext())
    return [{"prompt": item.prompt, "answer": str(item.target)} for item in prepared.items]


# ---- the two harnesses' task definitions over the same JSONL ---------------------------------------

SWALLOW_MC_TASK = '''
import json
from swallow_eval.task import LM_EVAL, Column, Item, Task

def build(data, context):
    rows = [json.loads(line) for line in open({path!r}, encoding="utf-8")]
    return [Item(index=i, target=r["gold"],
                 choices=list(zip(r["contexts"], r.get("continuations") or [r["continuation"]] * len(r["contexts"]))))
            for i, r in enumerate(rows)]

TASK = Task(name={name!r}, suite="en", reference=LM_EVAL, shots=0, files=(), build=build, metrics=("acc",),
            column=Column({name!r}, {name!r}, "acc", "acc"))
'''

SWALLOW_GEN_TASK = '''
import json
from swallow_eval.task import LM_EVAL, Column, GenerationSettings, Item, Task

def build(data, context):
    rows = [json.loads(line) for line in open({path!r}, encoding="utf-8")]
    return [Item(index=i, target=r["answer"], prompt=r["prompt"]) for i, r in enumerate(rows)]

TASK = Task(name={name!r}, suite="en", reference=LM_EVAL, shots=0, files=(), build=build, metrics=("exact_match",),
            column=Column({name!r}, {name!r}, "exact_match", "EM"),
            generation=GenerationSettings(max_new_tokens={max_new}, stop={stop!r}))
'''

LMEVAL_UTILS = '''
def mc_text(doc):
    return doc["contexts"][0] if "continuations" in doc else doc["gold"]

def mc_choices(doc):
    return [c[1:] for c in doc["continuations"]] if "continuations" in doc else doc["contexts"]

def mc_target(doc):
    return doc["gold"] if "continuations" in doc else doc["continuation"][1:]
'''

LMEVAL_MC_YAML = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
test_split: test
output_type: multiple_choice
doc_to_text: !function utils.mc_text
doc_to_choice: !function utils.mc_choices
doc_to_target: !function utils.mc_target
metric_list:
  - metric: acc
"""

LMEVAL_GEN_YAML = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
test_split: test
output_type: generate_until
doc_to_text: prompt
doc_to_target: answer
generation_kwargs:
  until: {stop}
  do_sample: false
  max_gen_toks: {max_new}
metric_list:
  - metric: exact_match
"""


# lm-eval 0.4.2 loads the `exact_match` metric script from the hub at import time; offline, `evaluate`
# looks for ./exact_match/exact_match.py in the working directory. The same definition, local.
EXACT_MATCH_SCRIPT = '''
import re
import string

import datasets
import evaluate
import numpy as np

class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="exact match", citation="", inputs_description="",
                                   features=datasets.Features({"predictions": datasets.Value("string"),
                                                               "references": datasets.Value("string")}))

    def _compute(self, predictions, references, regexes_to_ignore=None, ignore_case=False,
                 ignore_punctuation=False, ignore_numbers=False):
        predictions, references = np.asarray(predictions), np.asarray(references)
        for pattern in regexes_to_ignore or []:
            predictions = np.array([re.sub(pattern, "", x) for x in predictions])
            references = np.array([re.sub(pattern, "", x) for x in references])
        if ignore_case:
            predictions, references = np.char.lower(predictions), np.char.lower(references)
        for chars, flag in ((string.punctuation, ignore_punctuation), (string.digits, ignore_numbers)):
            if flag:
                table = str.maketrans("", "", chars)
                predictions, references = np.char.translate(predictions, table), np.char.translate(references, table)
        return {"exact_match": float(np.mean(predictions == references))}
'''


GENERATION = {"p1_gsm8k": (256, GSM8K_STOP), "p1_jcqa": (1, ["\n\n"])}  # max new tokens (gsm8k: --max-new-tokens), stop


def write_tasks(work: Path, sets: dict[str, list[dict]], max_new: int) -> None:
    (work / "swallow").mkdir(parents=True)
    (work / "lmeval").mkdir()
    (work / "lmeval/utils.py").write_text(LMEVAL_UTILS)
    (work / "exact_match").mkdir()
    (work / "exact_match/exact_match.py").write_text(EXACT_MATCH_SCRIPT)
    for name, items in sets.items():
        path = work / f"{name}.jsonl"
        path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items))
        generate = name in GENERATION
        tokens, stop = GENERATION.get(name, (0, []))
        tokens = max_new if name == "p1_gsm8k" else tokens
        template = SWALLOW_GEN_TASK if generate else SWALLOW_MC_TASK
        (work / "swallow" / f"{name}.py").write_text(
            template.format(path=str(path), name=name, max_new=tokens, stop=tuple(stop)))
        yaml = LMEVAL_GEN_YAML if generate else LMEVAL_MC_YAML
        (work / "lmeval" / f"{name}.yaml").write_text(
            yaml.format(path=path, name=name, max_new=tokens, stop=json.dumps(stop, ensure_ascii=False)))


# ---- measuring one run -----------------------------------------------------------------------------


def measure(command: list[str], env: dict, log: Path, cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of the whole process tree of `command`."""
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        root = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"failed ({process.returncode}): {' '.join(command)}\n{log.read_text()[-3000:]}")
    return wall, peak / 2**20


def swallow_command(python: str, work: Path, out: Path, backend: str, names: list[str], args,
                    sharing: bool = True) -> list[str]:
    command = [python, "-m", "swallow_eval", "run", "--model", MODEL, "--backend", backend, "--tasks",
               ",".join(names), "--tasks-dir", str(work / "swallow"), "--data-dir", str(work),
               "--output-dir", str(out), "--no-cache", "--no-progress"]
    if backend == "hf":
        command += ["--batch-size", str(args.batch_size)] if args.batch_size else []
        command += ["--prefix-sharing", "--head-screening"] if sharing else ["--no-prefix-sharing", "--no-head-screening"]
    else:
        command += ["--max-model-len", "4096", "--enforce-eager"]
    return command


def lmeval_command(python: str, work: Path, out: Path, model_path: str, names: list[str], args) -> list[str]:
    # add_bos_token: the Swallow fork adds BOS for Gemma (model_type contains "gemma"); stock 0.4.2
    # tests == "gemma", which misses gemma3_text, so it is asked for explicitly (en-tasks.md §1.1).
    return [python, "-m", "lm_eval", "--model", "hf", "--model_args",
            f"pretrained={model_path},dtype=float32,add_bos_token=True", "--tasks", ",".join(names),
            "--include_path", str(work / "lmeval"), "--device", "cpu", "--batch_size", str(args.lmeval_batch_size),
            "--output_path", str(out), "--log_samples"]


# ---- per-item decisions -------------------------------------------------------------------------------


def swallow_decisions(out: Path, name: str) -> list:
    (path,) = out.glob(f"*/*/samples/{name}.jsonl")
    rows = sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda r: r["index"])
    return [r["outputs"][0] if "outputs" in r else r["prediction"] for r in rows]


def lmeval_decisions(out: Path, name: str) -> list:
    (path,) = out.glob(f"**/*{name}.json*")
    text = path.read_text()
    rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(line) for line in text.splitlines() if line]
    rows.sort(key=lambda r: r["doc_id"])
    if name in GENERATION:
        return [r["resps"][0][0] for r in rows]
    return [max(range(len(r["resps"])), key=lambda k: r["resps"][k][0][0]) for r in rows]


def swallow_figures(out: Path, wall: float) -> str:
    """Prompt tokens, throughput and the harness's own share of the wall time, from results.json."""
    results = json.loads(next(out.glob("*/*/results.json")).read_text())
    timing, requests, tokens = results["timings"], results["requests"], results["tokens"]
    compute = timing.get("loglikelihood_s", 0) + timing.get("generate_s", 0)
    generate_s = max(timing.get("generate_s", 0), 1e-9)
    prompt = results.get("serving", {}).get("prompt_tokens", {})
    counted = ", ".join(f"{kind} prompt tokens {c['requested']} requested / {c['computed']} computed"
                        for kind, c in prompt.items())
    harness = wall - compute - timing["model_load_s"]
    return (f"{counted}; {requests['computed'] / compute:.1f} requests/s, {tokens['generated'] / generate_s:.1f} "
            f"generated tokens/s in generation ({timing.get('generate_s', 0):.1f} s); model load "
            f"{timing['model_load_s']:.1f} s, compute {compute:.1f} s, harness {harness:.1f} s = {harness / wall:.1%} "
            f"of the wall time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--lmeval-python", required=True, help="python of a venv with lm-eval 0.4.2")
    parser.add_argument("--vllm-python", help="python of a venv with vLLM (adds swallow-eval's vllm backend)")
    parser.add_argument("--mmlu-per-subject", type=int, default=4)
    parser.add_argument("--mmlu-subjects", type=int, help="only the first N subjects (a quick check of the bench)")
    parser.add_argument("--jcqa", type=int, default=100)
    parser.add_argument("--gsm8k", type=int, default=30)
    parser.add_argument("--xwino", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=int, default=256, help="GSM8K's")
    parser.add_argument("--batch-size", type=int, help="swallow-eval's hf arms (default: its own, 16)")
    parser.add_argument("--lmeval-batch-size", type=int, default=2,
                        help="lm-eval's hf model: 2 is the largest that fits in 24 GB on P1 (notes/cpu-stack.md)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-lmeval", action="store_true", help="only swallow-eval's runs (and the decode bound)")
    parser.add_argument("--work", type=Path, help="keep the generated tasks and outputs here")
    args = parser.parse_args()
    # The runs start in the work folder: interpreter paths relative to here must not change meaning.
    args.lmeval_python = os.path.abspath(args.lmeval_python)
    args.vllm_python = args.vllm_python and os.path.abspath(args.vllm_python)

    from swallow_eval import models

    model_path = models.resolve(MODEL).path
    work = args.work or Path(tempfile.mkdtemp(prefix="p1-"))
    sets = {"p1_xwino": xwino_items(args.data_dir, args.xwino),
            "p1_mmlu": mmlu_items(args.data_dir, args.mmlu_per_subject, args.mmlu_subjects),
            "p1_jcqa": jcqa_items(args.data_dir, args.jcqa), "p1_gsm8k": gsm8k_items(args.data_dir, args.gsm8k)}
    sets = {k: v for k, v in sets.items() if v}
    write_tasks(work, sets, args.max_new_tokens)
    names = list(sets)
    print(f"items: {', '.join(f'{k} {len(v)}' for k, v in sets.items())}; work folder {work}")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "VLLM_LOGGING_LEVEL": "WARNING"}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    python = sys.executable
    runs = {BEFORE: lambda out: swallow_command(python, work, out, "hf", names, args, sharing=False),
            "swallow-eval hf": lambda out: swallow_command(python, work, out, "hf", names, args)}
    if not args.no_lmeval:
        runs["lm-eval hf"] = lambda out: lmeval_command(args.lmeval_python, work, out, model_path, names, args)
    if args.vllm_python:
        runs["swallow-eval vllm"] = lambda out: swallow_command(args.vllm_python, work, out, "vllm", names, args)
    figures: dict[str, list[tuple[float, float]]] = {}
    folder = {label: re.sub(r"\W+", "_", label).strip("_") for label in runs}
    for round_ in range(args.rounds):
        for label, command in runs.items():  # alternating: load drift hits every harness alike
            out = work / f"out-{folder[label]}-{round_}"
            wall, peak = measure(command(out), env, work / f"{folder[label]}-{round_}.log", work)
            figures.setdefault(label, []).append((wall, peak))
            print(f"round {round_ + 1}: {label:<36} {wall:8.1f} s  peak RSS {peak:7.0f} MB", flush=True)

    best = {label: (min(w for w, _ in values), max(r for _, r in values)) for label, values in figures.items()}
    print(f"\n{'run':<36} {'wall s (best)':>13} {'peak RSS MB':>12}   ratios")
    for label, (wall, rss) in best.items():
        ratios = [f"{wall / best[base][0]:.2f}x wall {rss / best[base][1]:.2f}x RSS vs {base}"
                  for base in ("lm-eval hf", BEFORE) if base in best and base != label]
        print(f"{label:<36} {wall:>13.1f} {rss:>12.0f}   {'; '.join(ratios)}")

    def decisions(label: str, name: str) -> list:
        out = work / f"out-{folder[label]}-0"
        return lmeval_decisions(out, name) if label.startswith("lm-eval") else swallow_decisions(out, name)

    reference = "lm-eval hf" if "lm-eval hf" in runs else BEFORE
    for label in runs:
        if label == reference:
            continue
        for name in names:
            mine, theirs = decisions(label, name), decisions(reference, name)
            same = sum(a == b for a, b in zip(mine, theirs))
            print(f"decisions {label} vs {reference}, {name}: {same}/{len(mine)} identical")
    for label in runs:
        if label.startswith("swallow-eval"):
            print(f"{label}: {swallow_figures(work / f'out-{folder[label]}-0', figures[label][0][0])}")
    print("\ndecode against the bound (bench/decode_bound.py, same machine, now):", flush=True)
    subprocess.run([python, str(REPO / "bench" / "decode_bound.py"), "--batch-size", str(args.batch_size or 8)],
                   env=env, check=True)


if __name__ == "__main__":
    main()
