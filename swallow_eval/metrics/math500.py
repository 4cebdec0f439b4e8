"""MATH-500 as Swallow scores it (swallow-evaluation lm-evaluation-harness-en/lm_eval/tasks/math_500/utils.py).

The answer is the content of the output's last \\boxed (the llama-recipes rule), or else what
follows "Final Answer: The final answer is" (the Minerva prompt's closing line); it is normalised
as in Minerva's appendix D and counts when it equals the gold or sympy finds the difference zero
(LaTeX parsed with antlr4-python3-runtime 4.11, 5 s alarm per comparison).
"""

from __future__ import annotations

import re
import signal
import threading
from contextlib import contextmanager

from swallow_eval.metrics import item_metric

SUBSTITUTIONS = [
    ("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), (r"\ ", ""), (" ", ""), ("mbox", "text"),
    (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}"),
]
REMOVED_EXPRESSIONS = [
    "square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units", "\\ldots", "sue",
    "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters", "meals", "edges",
    "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}", "\\text{}^2",
    "\\text{}^3", "\\text{\n}", "\\text{}", r"\mathrm{th}", r"^\circ", r"^{\circ}", r"\;", r",\!", "{,}", '"',
    "\\dots",
]
FINAL_ANSWER = re.compile(r"Final Answer: The final answer is(.*?). I hope it is correct.")
EQUIVALENCE_SECONDS = 5


def last_boxed_only_string(text: str) -> str | None:
    """The last `\\boxed{...}` (brace-matched from the last "\\boxed"), or `\\boxed ...` up to the
    next "$" when the text has that space form anywhere, else the last `\\fbox{...}`; None if none."""
    if "\\boxed " in text:
        return "\\boxed " + text.split("\\boxed ")[-1].split("$")[0]
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for end in range(start, len(text)):
        if text[end] == "{":
            depth += 1
        elif text[end] == "}":
            depth -= 1
            if depth == 0:
                return text[start : end + 1]
    return None


def remove_boxed(boxed: str) -> str | None:
    """The content of a `\\boxed ...` or `\\boxed{...}` string; None for any other shape (`\\fbox{`,
    `\\boxed` not followed by a brace), where the reference's assertion fails."""
    if "\\boxed " in boxed:
        return boxed[len("\\boxed "):] if boxed.startswith("\\boxed ") else None
    if boxed.startswith("\\boxed{") and boxed.endswith("}"):
        return boxed[len("\\boxed{"):-1]
    return None


def normalize_final_answer(answer: str) -> str:
    """Minerva's normalisation (Lewkowycz et al. 2022, appendix D)."""
    answer = answer.split("=")[-1]
    for before, after in SUBSTITUTIONS:
        answer = answer.replace(before, after)
    for expression in REMOVED_EXPRESSIONS:
        answer = answer.replace(expression, "")
    answer = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", answer)
    answer = re.sub(r"(\\text\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\textbf\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\overline\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", answer)
    answer = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", answer)
    answer = re.sub(r"(sqrt)([^{])", "sqrt{\\2}", answer)
    answer = answer.replace("$", "")
    if answer.replace(",", "").isdigit():
        answer = answer.replace(",", "")
    return answer


def gold_answer(solution: str) -> str:
    """The gold the reference recomputes from the solution's last box (process_docs)."""
    return normalize_final_answer(remove_boxed(last_boxed_only_string(solution)))


def extract_answer(output: str) -> str | None:
    """The normalised answer of a generation, or None when it has none (process_results)."""
    boxed = last_boxed_only_string(output)
    if boxed:
        answer = remove_boxed(boxed)
    else:
        match = FINAL_ANSWER.search(output + "I hope it is correct.")
        answer = match.group(1).strip() if match else None
    return None if answer is None else normalize_final_answer(answer)


@contextmanager
def _alarm(seconds: int):
    """SIGALRM after `seconds`, raised as TimeoutError, like the reference's `timeout` class."""

    def expire(signum, frame):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def is_equiv(a: str, b: str) -> bool:
    """sympy: parse both as LaTeX and simplify the difference to 0; any failure or timeout is False."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("math_equiv uses SIGALRM and must run in the main thread")
    import sympy
    from sympy.parsing.latex import parse_latex

    try:
        with _alarm(EQUIVALENCE_SECONDS):
            difference = parse_latex(a) - parse_latex(b)
            return sympy.simplify(difference) == 0
    except ImportError:
        raise  # parse_latex needs antlr4-python3-runtime: a broken install, not a wrong answer
    except Exception:  # parse errors, TypeError, ValueError, TimeoutError: not equivalent
        return False


@item_metric("math_equiv")
def math_equiv(output: str, gold: str) -> float:
    """MATH-500: the output's answer (last box, else "The final answer is") equals or is sympy-equal to the gold."""
    answer = extract_answer(output)
    if answer is None:
        return 0.0
    return float(answer.strip() == gold.strip() or is_equiv(answer, gold))
